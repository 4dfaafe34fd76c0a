#include "node/fake_etcd_testing.h"

#include <utility>

#include "base/strings.h"

namespace ledger::node {

struct FakeEtcd::Watcher {
  std::string key;
  EtcdWatchCallbacks callbacks;
  int64_t next_revision = 0;
  bool active = true;
};

struct FakeEtcd::Keeper {
  int64_t lease = 0;
  std::function<void(const absl::Status&)> on_lost;
  bool active = true;
};

class FakeEtcd::WatchHandle : public EtcdTask {
 public:
  WatchHandle(FakeEtcd* etcd, std::shared_ptr<Watcher> w)
      : etcd_(etcd), w_(std::move(w)) {}
  ~WatchHandle() override {
    // After this no callback starts, and none is running (deliveries hold
    // deliver_mu_).
    std::lock_guard<std::recursive_mutex> deliver(etcd_->deliver_mu_);
    MutexLock lock(&etcd_->mu_);
    w_->active = false;
  }

 private:
  FakeEtcd* etcd_;
  std::shared_ptr<Watcher> w_;
};

class FakeEtcd::KeepHandle : public EtcdTask {
 public:
  KeepHandle(FakeEtcd* etcd, std::shared_ptr<Keeper> k)
      : etcd_(etcd), k_(std::move(k)) {}
  ~KeepHandle() override {
    MutexLock lock(&etcd_->mu_);
    k_->active = false;
  }

 private:
  FakeEtcd* etcd_;
  std::shared_ptr<Keeper> k_;
};

FakeEtcd::~FakeEtcd() = default;

absl::StatusOr<EtcdGetResult> FakeEtcd::Get(const std::string& key) {
  MutexLock lock(&mu_);
  if (get_faults_ > 0) {
    --get_faults_;
    return get_fault_;
  }
  EtcdGetResult result;
  result.revision = revision_;
  if (auto it = kvs_.find(key); it != kvs_.end()) result.kv = it->second;
  return result;
}

absl::StatusOr<int64_t> FakeEtcd::Put(const std::string& key,
                                      const std::string& value, int64_t lease) {
  EtcdTxn txn;
  txn.success.push_back(EtcdOp::Put(key, value, lease));
  absl::StatusOr<EtcdTxnResult> result;
  {
    MutexLock lock(&mu_);
    result = ApplyTxnLocked(txn);
  }
  Deliver();
  if (!result.ok()) return result.status();
  return result->revision;
}

absl::StatusOr<EtcdTxnResult> FakeEtcd::Txn(const EtcdTxn& txn) {
  absl::StatusOr<EtcdTxnResult> result;
  {
    MutexLock lock(&mu_);
    ++txns_;
    if (!txn_faults_.empty()) {
      auto [status, applied] = txn_faults_.front();
      txn_faults_.pop_front();
      if (applied) (void)ApplyTxnLocked(txn);
      result = status;
    } else {
      result = ApplyTxnLocked(txn);
    }
  }
  Deliver();
  return result;
}

absl::StatusOr<EtcdTxnResult> FakeEtcd::ApplyTxnLocked(const EtcdTxn& txn) {
  bool holds = true;
  for (const EtcdCompare& c : txn.compares) holds = holds && HoldsLocked(c);
  const std::vector<EtcdOp>& ops = holds ? txn.success : txn.failure;
  bool writes = false;
  for (const EtcdOp& op : ops) {
    if (op.kind == EtcdOp::Kind::kPut && op.lease != 0 &&
        !leases_.contains(op.lease)) {
      return absl::NotFoundError("etcdserver: requested lease not found");
    }
    writes = writes || op.kind != EtcdOp::Kind::kGet;
  }
  // etcd: one revision per write transaction, shared by its writes.
  if (writes) ++revision_;
  EtcdTxnResult result;
  result.succeeded = holds;
  for (const EtcdOp& op : ops) {
    switch (op.kind) {
      case EtcdOp::Kind::kGet:
        if (auto it = kvs_.find(op.key); it != kvs_.end()) {
          result.gets.push_back(it->second);
        } else {
          result.gets.push_back(std::nullopt);
        }
        break;
      case EtcdOp::Kind::kPut:
        PutLocked(op.key, op.value, op.lease);
        break;
      case EtcdOp::Kind::kDelete:
        DeleteLocked(op.key);
        break;
    }
  }
  result.revision = revision_;
  return result;
}

bool FakeEtcd::HoldsLocked(const EtcdCompare& c) const {
  EtcdKeyValue kv;  // a missing key: every number 0, empty value
  if (auto it = kvs_.find(c.key); it != kvs_.end()) kv = it->second;
  int cmp = 0;
  auto three_way = [](auto a, auto b) { return a < b ? -1 : (a > b ? 1 : 0); };
  switch (c.target) {
    case EtcdCompare::Target::kVersion:
      cmp = three_way(kv.version, c.number);
      break;
    case EtcdCompare::Target::kCreate:
      cmp = three_way(kv.create_revision, c.number);
      break;
    case EtcdCompare::Target::kMod:
      cmp = three_way(kv.mod_revision, c.number);
      break;
    case EtcdCompare::Target::kLease:
      cmp = three_way(kv.lease, c.number);
      break;
    case EtcdCompare::Target::kValue:
      cmp = three_way(kv.value, c.value);
      break;
  }
  switch (c.result) {
    case EtcdCompare::Result::kEqual:
      return cmp == 0;
    case EtcdCompare::Result::kGreater:
      return cmp > 0;
    case EtcdCompare::Result::kLess:
      return cmp < 0;
    case EtcdCompare::Result::kNotEqual:
      return cmp != 0;
  }
  return false;
}

void FakeEtcd::PutLocked(const std::string& key, const std::string& value,
                         int64_t lease) {
  EtcdKeyValue& kv = kvs_[key];
  if (kv.create_revision == 0) {
    kv.key = key;
    kv.create_revision = revision_;
  }
  kv.mod_revision = revision_;
  ++kv.version;
  kv.value = value;
  kv.lease = lease;
  history_.push_back({EtcdEvent::Type::kPut, kv});
}

void FakeEtcd::DeleteLocked(const std::string& key) {
  if (kvs_.erase(key) == 0) return;
  EtcdEvent event;
  event.type = EtcdEvent::Type::kDelete;
  event.kv.key = key;
  event.kv.mod_revision = revision_;
  history_.push_back(event);
}

absl::StatusOr<EtcdLease> FakeEtcd::LeaseGrant(absl::Duration ttl) {
  MutexLock lock(&mu_);
  EtcdLease lease{next_lease_++, std::max(ttl, absl::Seconds(2)), absl::Now()};
  leases_[lease.id] = lease;
  return lease;
}

absl::Status FakeEtcd::LeaseRevoke(int64_t lease) {
  {
    MutexLock lock(&mu_);
    if (!leases_.contains(lease)) {
      return absl::NotFoundError("etcdserver: requested lease not found");
    }
  }
  // A revoked lease answers TTL 0 to its keep-alive.
  ExpireLease(lease, /*notify=*/true);
  return absl::OkStatus();
}

void FakeEtcd::ExpireLease(int64_t lease, bool notify) {
  std::vector<std::function<void(const absl::Status&)>> lost;
  {
    MutexLock lock(&mu_);
    if (leases_.erase(lease) == 0) return;
    std::vector<std::string> keys;
    for (const auto& [key, kv] : kvs_) {
      if (kv.lease == lease) keys.push_back(key);
    }
    if (!keys.empty()) {
      ++revision_;
      for (const std::string& key : keys) DeleteLocked(key);
    }
    for (auto& k : keepers_) {
      if (k->lease == lease && k->active && notify) {
        k->active = false;
        lost.push_back(k->on_lost);
      }
    }
  }
  Deliver();
  for (auto& on_lost : lost) {
    on_lost(absl::NotFoundError(
        StrCat("lease ", lease, " expired or was revoked (TTL 0)")));
  }
}

std::unique_ptr<EtcdTask> FakeEtcd::KeepAlive(
    const EtcdLease& lease, std::function<void(const absl::Status&)> on_lost) {
  auto keeper = std::make_shared<Keeper>();
  keeper->lease = lease.id;
  keeper->on_lost = std::move(on_lost);
  bool gone;
  {
    MutexLock lock(&mu_);
    gone = !leases_.contains(lease.id);
    if (!gone) keepers_.push_back(keeper);
  }
  if (gone) keeper->on_lost(absl::NotFoundError("lease not found (TTL 0)"));
  return std::make_unique<KeepHandle>(this, keeper);
}

std::unique_ptr<EtcdTask> FakeEtcd::Watch(const std::string& key,
                                          int64_t start_revision,
                                          EtcdWatchCallbacks callbacks) {
  auto watcher = std::make_shared<Watcher>();
  watcher->key = key;
  watcher->callbacks = std::move(callbacks);
  {
    MutexLock lock(&mu_);
    watcher->next_revision =
        start_revision == 0 ? revision_ + 1 : start_revision;
    watchers_.push_back(watcher);
  }
  Deliver();
  return std::make_unique<WatchHandle>(this, watcher);
}

void FakeEtcd::Deliver() {
  std::lock_guard<std::recursive_mutex> deliver(deliver_mu_);
  while (true) {
    std::shared_ptr<Watcher> target;
    std::vector<EtcdEvent> events;
    int64_t compacted = 0;
    {
      MutexLock lock(&mu_);
      if (hold_) return;
      for (auto& w : watchers_) {
        if (!w->active) continue;
        if (w->next_revision < compacted_) {
          w->next_revision = compacted_;
          target = w;
          compacted = compacted_;
          break;
        }
        for (const EtcdEvent& e : history_) {
          if (e.kv.key == w->key && e.kv.mod_revision >= w->next_revision) {
            events.push_back(e);
          }
        }
        if (!events.empty()) {
          w->next_revision = events.back().kv.mod_revision + 1;
          target = w;
          break;
        }
      }
    }
    if (target == nullptr) return;
    if (compacted != 0) {
      if (target->callbacks.on_compacted) {
        target->callbacks.on_compacted(compacted);
      }
    } else if (target->callbacks.on_events) {
      target->callbacks.on_events(events);
    }
  }
}

void FakeEtcd::FailNextTxn(absl::Status status, bool applied) {
  MutexLock lock(&mu_);
  txn_faults_.emplace_back(std::move(status), applied);
}

void FakeEtcd::FailNextGets(int n, absl::Status status) {
  MutexLock lock(&mu_);
  get_faults_ = n;
  get_fault_ = std::move(status);
}

void FakeEtcd::Compact(int64_t revision) {
  {
    MutexLock lock(&mu_);
    compacted_ = std::max(compacted_, revision);
    std::erase_if(history_,
                  [this](const EtcdEvent& e) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                    return e.kv.mod_revision < compacted_;
                  });
  }
  Deliver();
}

void FakeEtcd::HoldWatches() {
  MutexLock lock(&mu_);
  hold_ = true;
}

void FakeEtcd::ReleaseWatches() {
  {
    MutexLock lock(&mu_);
    hold_ = false;
  }
  Deliver();
}

int64_t FakeEtcd::revision() const {
  MutexLock lock(&mu_);
  return revision_;
}

std::optional<EtcdKeyValue> FakeEtcd::Peek(const std::string& key) const {
  MutexLock lock(&mu_);
  if (auto it = kvs_.find(key); it != kvs_.end()) return it->second;
  return std::nullopt;
}

int FakeEtcd::txn_count() const {
  MutexLock lock(&mu_);
  return txns_;
}

}  // namespace ledger::node
