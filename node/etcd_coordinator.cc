#include "node/etcd_coordinator.h"

#include <utility>

#include "base/status_macros.h"
#include "base/strings.h"
#include "spdlog/spdlog.h"

namespace ledger::node {

namespace {

bool IsAmbiguous(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

EtcdCompare Compare(EtcdCompare::Target target, std::string key,
                    int64_t number) {
  EtcdCompare c;
  c.target = target;
  c.result = EtcdCompare::Result::kEqual;
  c.key = std::move(key);
  c.number = number;
  return c;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EtcdCoordinator>> EtcdCoordinator::Start(
    EtcdKv* etcd, EtcdCoordinatorOptions options) {
  if (options.origin.empty() || options.node_name.empty()) {
    return absl::InvalidArgumentError(
        "etcd coordinator: origin and node name must not be empty");
  }
  if (options.lease_ttl < absl::Seconds(1)) {
    return absl::InvalidArgumentError(StrCat(
        "etcd coordinator: lease TTL ", absl::FormatDuration(options.lease_ttl),
        " is below etcd's granularity of 1s"));
  }
  std::unique_ptr<EtcdCoordinator> c(
      new EtcdCoordinator(etcd, std::move(options)));
  LEDGER_ASSIGN_OR_RETURN(const int64_t head_read, c->ReadHead());
  LEDGER_ASSIGN_OR_RETURN(const int64_t leader_read, c->ReadLeader());
  EtcdCoordinator* self = c.get();
  // Watches start just after what the reads saw, so no change is missed;
  // a compaction in between makes them re-read.
  c->head_watch_ = etcd->Watch(
      c->head_key_, head_read + 1,
      {[self](const std::vector<EtcdEvent>& events) {
         for (const EtcdEvent& e : events) {
           self->ObserveHead(e.type == EtcdEvent::Type::kPut ? &e.kv : nullptr,
                             e.kv.mod_revision);
         }
       },
       [self](int64_t) {
         if (auto read = self->ReadHead(); !read.ok()) {
           spdlog::error("etcd coordinator: re-reading the head: {}",
                         read.status().ToString());
         }
       }});
  c->leader_watch_ = etcd->Watch(
      c->leader_key_, leader_read + 1,
      {[self](const std::vector<EtcdEvent>& events) {
         for (const EtcdEvent& e : events) {
           self->ObserveLeader(
               e.type == EtcdEvent::Type::kPut ? &e.kv : nullptr,
               e.kv.mod_revision);
         }
       },
       [self](int64_t) {
         if (auto read = self->ReadLeader(); !read.ok()) {
           spdlog::error("etcd coordinator: re-reading the leader: {}",
                         read.status().ToString());
         }
       }});
  return c;
}

EtcdCoordinator::EtcdCoordinator(EtcdKv* etcd, EtcdCoordinatorOptions options)
    : etcd_(etcd),
      options_(std::move(options)),
      leader_key_(EtcdLeaderKey(options_.origin)),
      head_key_(EtcdHeadKey(options_.origin)) {}

EtcdCoordinator::~EtcdCoordinator() {
  head_watch_.reset();
  leader_watch_.reset();
  MutexLock lock(&op_mu_);
  keep_alive_.reset();
}

absl::StatusOr<int64_t> EtcdCoordinator::ReadHead() {
  LEDGER_ASSIGN_OR_RETURN(EtcdGetResult got, etcd_->Get(head_key_));
  if (got.kv) {
    LEDGER_RETURN_IF_ERROR(
        Annotate(DecodeHeadRecord(got.kv->value).status(), head_key_));
    ObserveHead(&*got.kv, got.kv->mod_revision);
  }
  return got.revision;
}

absl::StatusOr<int64_t> EtcdCoordinator::ReadLeader() {
  LEDGER_ASSIGN_OR_RETURN(EtcdGetResult got, etcd_->Get(leader_key_));
  ObserveLeader(got.kv ? &*got.kv : nullptr, got.revision);
  return got.revision;
}

void EtcdCoordinator::ObserveHead(const EtcdKeyValue* kv,
                                  int64_t mod_revision) {
  if (kv == nullptr) {
    // Nobody deletes the head; if someone did, the next commit's compare
    // fails and the leader learns it there.
    spdlog::error("etcd coordinator: {} was deleted at revision {}", head_key_,
                  mod_revision);
    return;
  }
  absl::StatusOr<HeadRecord> record = DecodeHeadRecord(kv->value);
  if (!record.ok()) {
    spdlog::error("etcd coordinator: {} at revision {}: {}", head_key_,
                  mod_revision, record.status().ToString());
    return;
  }
  std::function<void(const HeadRecord&)> listener;
  {
    MutexLock lock(&mu_);
    if (mod_revision <= head_mod_revision_) return;  // seen already
    head_mod_revision_ = mod_revision;
    head_ = *record;
    listener = head_listener_;
  }
  if (listener) listener(*record);
}

void EtcdCoordinator::ObserveLeader(const EtcdKeyValue* kv, int64_t revision) {
  int64_t deposed_epoch = 0;
  absl::Status why;
  {
    MutexLock lock(&mu_);
    if (revision <= leader_revision_) return;
    leader_revision_ = revision;
    leader_ = kv ? LeaderInfo{kv->value, kv->create_revision} : LeaderInfo{};
    if (epoch_ != 0 && leader_.epoch != epoch_) {
      deposed_epoch = epoch_;
      why = Superseded(epoch_, leader_.epoch);
    }
  }
  if (deposed_epoch != 0) Depose(deposed_epoch, why);
}

absl::Status EtcdCoordinator::Superseded(int64_t epoch, int64_t by) const {
  if (by == 0) {
    return absl::FailedPreconditionError(
        StrCat("no longer leader: epoch ", epoch, " ended (the leader key ",
               leader_key_, " is gone: lease expired or revoked)"));
  }
  return absl::FailedPreconditionError(
      StrCat("no longer leader: epoch ", epoch, " superseded by ", by));
}

void EtcdCoordinator::Depose(int64_t epoch, const absl::Status& why) {
  std::function<void(const absl::Status&)> listener;
  {
    MutexLock lock(&mu_);
    if (epoch_ != epoch) return;  // already deposed, or a newer epoch
    epoch_ = 0;
    deposed_ = why;
    listener = deposed_listener_;
  }
  spdlog::warn("etcd coordinator {}: {}", options_.node_name, why.ToString());
  if (listener) listener(why);
}

absl::Status EtcdCoordinator::EnsureLease() {
  {
    MutexLock lock(&mu_);
    if (lease_.id != 0 && !lease_lost_) return absl::OkStatus();
  }
  keep_alive_.reset();  // a lost lease's task has ended; join it
  LEDGER_ASSIGN_OR_RETURN(EtcdLease lease,
                          etcd_->LeaseGrant(options_.lease_ttl));
  {
    MutexLock lock(&mu_);
    lease_ = lease;
    lease_lost_ = false;
  }
  keep_alive_ =
      etcd_->KeepAlive(lease, [this, id = lease.id](const absl::Status& why) {
        int64_t epoch = 0;
        {
          MutexLock lock(&mu_);
          if (lease_.id != id) return;
          lease_lost_ = true;
          epoch = epoch_;
        }
        if (epoch != 0) {
          Depose(epoch, absl::FailedPreconditionError(StrCat(
                            "no longer leader: epoch ", epoch,
                            " ended with its lease: ", ToStd(why.message()))));
        }
      });
  return absl::OkStatus();
}

absl::StatusOr<bool> EtcdCoordinator::Campaign() {
  MutexLock op(&op_mu_);
  if (is_leader()) return true;
  LEDGER_RETURN_IF_ERROR(EnsureLease());
  int64_t lease;
  {
    MutexLock lock(&mu_);
    lease = lease_.id;
  }
  EtcdTxn txn;
  txn.compares.push_back(Compare(EtcdCompare::Target::kCreate, leader_key_, 0));
  txn.success.push_back(EtcdOp::Put(leader_key_, options_.node_name, lease));
  txn.failure.push_back(EtcdOp::Get(leader_key_));
  absl::StatusOr<EtcdTxnResult> result = etcd_->Txn(txn);
  std::optional<EtcdKeyValue> holder;
  int64_t seen_at = 0;
  if (result.ok() && !result->succeeded) {
    holder = result->gets[0];
    seen_at = result->revision;
  } else if (!result.ok()) {
    if (!IsAmbiguous(result.status())) return result.status();
    // The election may have been applied: the key then carries our lease.
    LEDGER_ASSIGN_OR_RETURN(EtcdGetResult got, etcd_->Get(leader_key_));
    holder = got.kv;
    seen_at = got.revision;
  }
  int64_t epoch = 0;
  if (result.ok() && result->succeeded) {
    epoch = result->revision;
    seen_at = result->revision;
  } else if (holder && holder->lease == lease &&
             holder->value == options_.node_name) {
    epoch = holder->create_revision;
  }
  {
    MutexLock lock(&mu_);
    // Unless the watch has already seen something newer.
    if (seen_at >= leader_revision_) {
      if (epoch != 0) {
        leader_ = {options_.node_name, epoch};
      } else {
        leader_ = holder ? LeaderInfo{holder->value, holder->create_revision}
                         : LeaderInfo{};
      }
      leader_revision_ = seen_at;
    }
  }
  if (epoch == 0) return false;
  // A new leader builds on the head as it is now.
  LEDGER_RETURN_IF_ERROR(ReadHead().status());
  {
    MutexLock lock(&mu_);
    // The watch or the keep-alive may have seen the key go while we read
    // the head: then the epoch ended before it began here.
    if (leader_.epoch != epoch || lease_lost_) return false;
    epoch_ = epoch;
    deposed_ = absl::OkStatus();
  }
  spdlog::info("etcd coordinator {}: leader with epoch {}", options_.node_name,
               epoch);
  return true;
}

absl::Status EtcdCoordinator::Resign() {
  MutexLock op(&op_mu_);
  int64_t epoch;
  {
    MutexLock lock(&mu_);
    epoch = epoch_;
    epoch_ = 0;
  }
  if (epoch == 0) return absl::OkStatus();
  EtcdTxn txn;
  txn.compares.push_back(
      Compare(EtcdCompare::Target::kCreate, leader_key_, epoch));
  txn.success.push_back(EtcdOp::Delete(leader_key_));
  return etcd_->Txn(txn).status();
}

absl::Status EtcdCoordinator::Commit(const ledger::Head& head) {
  MutexLock op(&op_mu_);
  HeadRecord ours;
  int64_t base;
  {
    MutexLock lock(&mu_);
    if (epoch_ == 0) {
      return deposed_.ok()
                 ? absl::FailedPreconditionError(
                       StrCat("node ", options_.node_name,
                              " is not the leader (leader: ",
                              leader_.epoch ? leader_.node_name : "none", ")"))
                 : deposed_;
    }
    if (head.size < head_.head.size) {
      return absl::FailedPreconditionError(StrCat("commit of size ", head.size,
                                                  " would shrink the committed "
                                                  "head of size ",
                                                  head_.head.size));
    }
    ours = {epoch_, head, NewWriteId()};
    base = head_mod_revision_;
  }
  // The caller must have made the batch durable on a majority before this
  // point (today: on this node only; replication is the layer above).
  EtcdTxn txn;
  txn.compares.push_back(Compare(EtcdCompare::Target::kMod, head_key_, base));
  txn.compares.push_back(
      Compare(EtcdCompare::Target::kCreate, leader_key_, ours.epoch));
  txn.success.push_back(EtcdOp::Put(head_key_, EncodeHeadRecord(ours)));
  txn.failure.push_back(EtcdOp::Get(head_key_));
  txn.failure.push_back(EtcdOp::Get(leader_key_));

  const absl::Time deadline = absl::Now() + options_.commit_timeout;
  absl::Status last;
  while (absl::Now() < deadline) {
    absl::StatusOr<EtcdTxnResult> result = etcd_->Txn(txn);
    if (result.ok() && result->succeeded) {
      EtcdKeyValue kv;
      kv.value = EncodeHeadRecord(ours);
      ObserveHead(&kv, result->revision);
      return absl::OkStatus();
    }
    if (result.ok()) {
      last = Decide(ours, base, result->gets[0], result->gets[1]);
      if (!absl::IsUnavailable(last)) return last;
      continue;  // not applied, nothing moved: try again
    }
    if (!IsAmbiguous(result.status())) return result.status();
    // The transaction may have been applied: read back and decide by the
    // write id. Retrying it as it is stays safe: it applies at most once,
    // since it compares the head's mod revision.
    last = result.status();
    while (absl::Now() < deadline) {
      absl::StatusOr<EtcdGetResult> head_kv = etcd_->Get(head_key_);
      absl::StatusOr<EtcdGetResult> leader_kv =
          head_kv.ok() ? etcd_->Get(leader_key_) : head_kv;
      if (!head_kv.ok() || !leader_kv.ok()) {
        last = head_kv.ok() ? leader_kv.status() : head_kv.status();
        continue;  // each Get is bounded by the client's call timeout
      }
      last = Decide(ours, base, head_kv->kv, leader_kv->kv);
      if (!absl::IsUnavailable(last)) return last;
      break;  // not applied: send it again
    }
  }
  return absl::UnavailableError(StrCat(
      "commit of head size ", head.size, " at epoch ", ours.epoch,
      " not confirmed within ", absl::FormatDuration(options_.commit_timeout),
      "; last: ", ToStd(last.message())));
}

absl::Status EtcdCoordinator::Decide(
    const HeadRecord& ours, int64_t base_mod_revision,
    const std::optional<EtcdKeyValue>& head,
    const std::optional<EtcdKeyValue>& leader) {
  if (head) {
    absl::StatusOr<HeadRecord> record = DecodeHeadRecord(head->value);
    if (record.ok() && record->write_id == ours.write_id) {
      ObserveHead(&*head, head->mod_revision);
      return absl::OkStatus();  // our transaction was applied
    }
  }
  const int64_t leader_epoch = leader ? leader->create_revision : 0;
  if (leader_epoch != ours.epoch) {
    absl::Status why = Superseded(ours.epoch, leader_epoch);
    Depose(ours.epoch, why);
    if (head) ObserveHead(&*head, head->mod_revision);
    return why;
  }
  const int64_t head_mod = head ? head->mod_revision : 0;
  if (head_mod == base_mod_revision) {
    return absl::UnavailableError("not applied");  // safe to send again
  }
  // Still our epoch, yet the head moved under us: another writer holds
  // our epoch, which must never happen. Stop rather than overwrite.
  absl::Status why = absl::FailedPreconditionError(
      StrCat("no longer leader: the head ", head_key_,
             " moved from mod revision ", base_mod_revision, " to ", head_mod,
             " by another writer during epoch ", ours.epoch));
  Depose(ours.epoch, why);
  if (head) ObserveHead(&*head, head->mod_revision);
  return why;
}

ledger::Head EtcdCoordinator::Committed() const {
  MutexLock lock(&mu_);
  return head_.head;
}

HeadRecord EtcdCoordinator::committed_record() const {
  MutexLock lock(&mu_);
  return head_;
}

bool EtcdCoordinator::is_leader() const {
  MutexLock lock(&mu_);
  return epoch_ != 0;
}

int64_t EtcdCoordinator::epoch() const {
  MutexLock lock(&mu_);
  return epoch_;
}

LeaderInfo EtcdCoordinator::leader() const {
  MutexLock lock(&mu_);
  return leader_;
}

absl::Status EtcdCoordinator::deposed_status() const {
  MutexLock lock(&mu_);
  return deposed_;
}

int64_t EtcdCoordinator::lease_id() const {
  MutexLock lock(&mu_);
  return lease_lost_ ? 0 : lease_.id;
}

void EtcdCoordinator::SetHeadListener(
    std::function<void(const HeadRecord&)> listener) {
  MutexLock lock(&mu_);
  head_listener_ = std::move(listener);
}

void EtcdCoordinator::SetDeposedListener(
    std::function<void(const absl::Status&)> listener) {
  MutexLock lock(&mu_);
  deposed_listener_ = std::move(listener);
}

}  // namespace ledger::node
