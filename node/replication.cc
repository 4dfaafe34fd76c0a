#include "node/replication.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "ledger/checkpoint.h"
#include "ledger/entry.h"

namespace ledger::node {
namespace {

using absl::StrCat;

constexpr uint32_t kMaxChunk = 1u << 20;

std::string HexPrefix(const ledger::Hash& hash) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(hash.data()), 8));
}

}  // namespace

Replica::Replica(ledger::Ledger* ledger, std::string node_name,
                 ReplicaOptions options)
    : ledger_(ledger), node_name_(std::move(node_name)), options_(options) {
  std::optional<ledger::StoredCheckpoint> checkpoint =
      ledger_->LatestCheckpoint();
  if (checkpoint.has_value()) {
    absl::StatusOr<ledger::Hash> root = ledger_->RootAt(checkpoint->size);
    if (root.ok()) {
      absl::StatusOr<std::string> last =
          checkpoint->size == 0 ? absl::StatusOr<std::string>("")
                                : ledger_->GetEntry(checkpoint->size - 1);
      ledger::Head head{checkpoint->size, *root, {}};
      if (last.ok() && checkpoint->size > 0) {
        absl::StatusOr<ledger::Entry> entry = ledger::DecodeEntry(*last);
        if (entry.ok()) {
          head.chain_hash = ledger::ChainHash(entry->prev_chain_hash,
                                              crypto::HashLeaf(*last));
        }
      }
      MutexLock lock(&mu_);
      verified_ = head;
    }
  }
}

void Replica::SetLeading(int64_t epoch) {
  MutexLock lock(&mu_);
  leading_epoch_ = epoch;
  epoch_seen_ = std::max(epoch_seen_, epoch);
}

void Replica::SetFollowing() {
  MutexLock lock(&mu_);
  leading_epoch_ = 0;
}

ledger::Head Replica::verified_committed() const {
  MutexLock lock(&mu_);
  return verified_;
}

bool Replica::WaitForCommitted(uint64_t size, absl::Duration timeout) const {
  MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                                  mu_) { return verified_.size >= size; },
                              timeout);
}

int64_t Replica::epoch_seen() const {
  MutexLock lock(&mu_);
  return epoch_seen_;
}

void Replica::ObserveCommitted(const ledger::Head& committed) {
  MutexLock lock(&mu_);
  ObserveLocked(committed);
}

void Replica::ObserveLocked(const ledger::Head& committed) {
  if (committed.size <= verified_.size) return;
  absl::StatusOr<bool> holds = HoldsLocked(committed);
  if (holds.ok() && *holds) verified_ = committed;
}

absl::StatusOr<bool> Replica::HoldsLocked(const ledger::Head& head) const {
  // The empty head (etcd's record before the first commit carries no
  // root) is everybody's prefix.
  if (head.size == 0) return true;
  if (head.size > ledger_->head().size) return false;
  LEDGER_ASSIGN_OR_RETURN(ledger::Hash root, ledger_->RootAt(head.size));
  return root == head.root;
}

absl::Status Replica::DiscardToVerified() {
  if (ledger_->head().size <= verified_.size) return absl::OkStatus();
  return ledger_->DiscardAfter(verified_.size);
}

absl::Status Replica::ApplyFrom(uint64_t base,
                                absl::Span<const std::string> entries,
                                bool complete, uint64_t* applied) {
  *applied = 0;
  if (entries.empty()) return absl::OkStatus();
  if (ledger_->head().size != base) {
    return absl::InternalError(StrCat("applying from ", base, " to a log of ",
                                      ledger_->head().size, " entries"));
  }
  LEDGER_ASSIGN_OR_RETURN(size_t n, ledger_->ApplyEntries(entries, complete,
                                                          /*sync=*/true));
  *applied = n;
  return absl::OkStatus();
}

absl::Status Replica::AdmitLeaderLocked(int64_t epoch,
                                        const std::string& leader) {
  if (leading_epoch_ != 0) {
    return absl::FailedPreconditionError(
        StrCat("node ", node_name_, " leads epoch ", leading_epoch_,
               "; it does not take requests from ", leader, " (epoch ", epoch,
               ") until it steps down"));
  }
  if (epoch < epoch_seen_) {
    return absl::FailedPreconditionError(
        StrCat("stale leader: ", leader, " sent epoch ", epoch, ", but node ",
               node_name_, " has seen epoch ", epoch_seen_));
  }
  epoch_seen_ = epoch;
  return absl::OkStatus();
}

bool Replica::CommittedLocked(uint64_t size,
                              const ledger::Head& leader_committed) const {
  return size <= verified_.size || size <= leader_committed.size;
}

absl::Status Replica::StoreCheckpointLocked(
    const std::string& note, const ledger::Head& leader_committed) {
  LEDGER_ASSIGN_OR_RETURN(crypto::Note parsed, crypto::ParseNote(note));
  LEDGER_ASSIGN_OR_RETURN(ledger::Checkpoint body,
                          ledger::ParseCheckpointBody(parsed.text));
  std::optional<ledger::StoredCheckpoint> latest = ledger_->LatestCheckpoint();
  if (latest.has_value() && latest->size >= body.size) {
    return absl::OkStatus();
  }
  // Only committed entries this node holds (the store checks the root): a
  // checkpoint signs entries for good, and an uncommitted tail may still
  // be discarded. A larger one comes again with a later request.
  if (body.size > ledger_->head().size ||
      !CommittedLocked(body.size, leader_committed)) {
    return absl::OkStatus();
  }
  absl::Status stored = options_.store_checkpoint
                            ? options_.store_checkpoint(note)
                            : ledger_->StoreCheckpoint(note).status();
  return Annotate(
      stored, StrCat("storing the leader's checkpoint of size ", body.size));
}

absl::StatusOr<CosignResponse> Replica::HandleCosign(
    const CosignRequest& request) {
  MutexLock lock(&mu_);
  LEDGER_RETURN_IF_ERROR(AdmitLeaderLocked(request.epoch, request.leader));
  if (options_.cosigner == nullptr) {
    return absl::FailedPreconditionError(
        StrCat("node ", node_name_, " has no cosigner key"));
  }
  LEDGER_ASSIGN_OR_RETURN(ledger::Checkpoint body,
                          ledger::ParseCheckpointBody(request.checkpoint));
  if (body.origin != ledger_->origin()) {
    return absl::InvalidArgumentError(
        StrCat("checkpoint of origin \"", body.origin, "\"; node ", node_name_,
               " keeps \"", ledger_->origin(), "\""));
  }
  if (!body.extensions.empty()) {
    return absl::InvalidArgumentError(
        "checkpoint with extension lines: this log signs none");
  }
  ObserveLocked(request.committed);
  if (body.size > ledger_->head().size ||
      !CommittedLocked(body.size, request.committed)) {
    return absl::FailedPreconditionError(StrCat(
        "node ", node_name_, " holds ", ledger_->head().size,
        " entries of which ", verified_.size, " are known to be committed (",
        request.leader, " says ", request.committed.size,
        "), not the checkpoint's ", body.size, "; retry once it has them"));
  }
  LEDGER_ASSIGN_OR_RETURN(ledger::Hash root, ledger_->RootAt(body.size));
  if (root != body.root) {
    return absl::DataLossError(
        StrCat("checkpoint from ", request.leader, " has root ",
               HexPrefix(body.root), "... at size ", body.size, ", node ",
               node_name_, " has ", HexPrefix(root), "... there"));
  }
  const uint64_t now =
      options_.unix_seconds
          ? options_.unix_seconds()
          : static_cast<uint64_t>(absl::ToUnixSeconds(absl::Now()));
  const crypto::NoteSigner* signers[] = {options_.cosigner};
  CosignResponse response;
  response.note = crypto::SignNote(request.checkpoint, signers, now);
  response.cosigner_key =
      crypto::FormatVerifierKey(options_.cosigner->verifier());
  return response;
}

absl::StatusOr<ReplicateResponse> Replica::HandleReplicate(
    const ReplicateRequest& request) {
  MutexLock lock(&mu_);
  LEDGER_RETURN_IF_ERROR(AdmitLeaderLocked(request.epoch, request.leader));
  const uint64_t size = ledger_->head().size;
  const uint64_t base = request.base_size;
  ReplicateResponse response;
  if (options_.cosigner != nullptr) {
    response.cosigner_key =
        crypto::FormatVerifierKey(options_.cosigner->verifier());
  }
  if (base > size) {
    ObserveLocked(request.committed);
    response.size = size;
    return response;
  }
  LEDGER_ASSIGN_OR_RETURN(ledger::Hash root, ledger_->RootAt(base));
  if (root != request.base_root) {
    if (base <= verified_.size) {
      return absl::DataLossError(
          StrCat("leader ", request.leader, " (epoch ", request.epoch,
                 ") has root ", HexPrefix(request.base_root), "... at size ",
                 base, ", node ", node_name_, " has ", HexPrefix(root),
                 "... there, inside the committed prefix of ", verified_.size,
                 " entries"));
    }
    LEDGER_RETURN_IF_ERROR(DiscardToVerified());
    ObserveLocked(request.committed);
    response.size = ledger_->head().size;
    return response;
  }
  // Entries this node already holds from base on must be the leader's
  // (a request sent again, or delivered twice); the first that is not
  // starts a tail of a deposed leader's, which goes.
  const uint64_t n = request.entries.size();
  size_t skip = 0;
  if (size > base && n > 0) {
    LEDGER_ASSIGN_OR_RETURN(
        std::vector<std::string> held,
        ledger_->GetEntries(base, std::min<uint64_t>(size, base + n), n));
    while (skip < held.size() && held[skip] == request.entries[skip]) ++skip;
    if (skip < held.size()) {
      if (base + skip < verified_.size) {
        return absl::DataLossError(
            StrCat("leader ", request.leader, " (epoch ", request.epoch,
                   ") sent an entry ", base + skip,
                   " that differs from the committed one node ", node_name_,
                   " holds (committed prefix ", verified_.size, " entries)"));
      }
      absl::Status discarded = ledger_->DiscardAfter(base);
      if (!discarded.ok()) {
        LEDGER_RETURN_IF_ERROR(DiscardToVerified());
        ObserveLocked(request.committed);
        response.size = ledger_->head().size;
        return response;
      }
      skip = 0;
    }
  }
  uint64_t applied = 0;
  if (skip < n) {
    LEDGER_RETURN_IF_ERROR(ApplyFrom(
        base + skip, absl::MakeConstSpan(request.entries).subspan(skip),
        request.complete, &applied));
  }
  ObserveLocked(request.committed);
  if (!request.checkpoint.empty()) {
    LEDGER_RETURN_IF_ERROR(
        StoreCheckpointLocked(request.checkpoint, request.committed));
  }
  response.accepted = true;
  response.size = base + skip + applied;
  return response;
}

absl::StatusOr<FetchResponse> Replica::HandleFetch(
    const FetchRequest& request) const {
  FetchResponse response;
  response.size = ledger_->head().size;
  if (request.from <= response.size) {
    LEDGER_ASSIGN_OR_RETURN(response.root_at_from,
                            ledger_->RootAt(request.from));
    const uint32_t max = std::max<uint32_t>(1, request.max_entries);
    LEDGER_ASSIGN_OR_RETURN(
        response.entries,
        ledger_->GetEntries(request.from, response.size, max));
  }
  if (request.committed_size <= response.size) {
    LEDGER_ASSIGN_OR_RETURN(response.root_at_committed,
                            ledger_->RootAt(request.committed_size));
  }
  return response;
}

absl::Status Replica::CatchUp(const ledger::Head& committed, int64_t epoch,
                              const std::vector<std::string>& peers,
                              const FetchFn& fetch) {
  MutexLock lock(&mu_);
  epoch_seen_ = std::max(epoch_seen_, epoch);
  uint32_t chunk = std::max<uint32_t>(1, options_.fetch_entries);
  while (true) {
    const uint64_t size = ledger_->head().size;
    if (size >= committed.size) {
      LEDGER_ASSIGN_OR_RETURN(bool holds, HoldsLocked(committed));
      if (holds) {
        if (size > committed.size) {
          LEDGER_RETURN_IF_ERROR(ledger_->DiscardAfter(committed.size));
        }
        verified_ = committed;
        return absl::OkStatus();
      }
      if (committed.size <= verified_.size) {
        return absl::DataLossError(StrCat(
            "node ", node_name_, " has another root at size ", committed.size,
            " than the committed head's ", HexPrefix(committed.root), "..."));
      }
      LEDGER_RETURN_IF_ERROR(DiscardToVerified());
      continue;
    }
    absl::Status last = absl::UnavailableError("no peers are configured");
    bool progressed = false;
    for (const std::string& peer : peers) {
      FetchRequest request{size, chunk, committed.size};
      absl::StatusOr<FetchResponse> response = fetch(peer, request);
      if (!response.ok()) {
        last = absl::Status(response.status().code(),
                            StrCat(peer, ": ", response.status().message()));
        continue;
      }
      if (!response->root_at_committed.has_value() ||
          (committed.size > 0 &&
           *response->root_at_committed != committed.root)) {
        last = absl::UnavailableError(
            StrCat(peer, " does not hold the committed head (it has ",
                   response->size, " entries)"));
        continue;
      }
      LEDGER_ASSIGN_OR_RETURN(ledger::Hash root, ledger_->RootAt(size));
      if (!response->root_at_from.has_value() ||
          *response->root_at_from != root) {
        // Our tail is not the committed log's.
        if (size <= verified_.size) {
          return absl::DataLossError(StrCat(
              "node ", node_name_, " and ", peer,
              " (which holds the committed head) differ at size ", size,
              ", inside the committed prefix of ", verified_.size, " entries"));
        }
        LEDGER_RETURN_IF_ERROR(DiscardToVerified());
        progressed = true;
        break;
      }
      std::vector<std::string> entries = std::move(response->entries);
      if (entries.size() > committed.size - size) {
        entries.resize(committed.size - size);
      }
      if (entries.empty()) {
        last = absl::UnavailableError(StrCat(peer, " sent no entries"));
        continue;
      }
      const bool complete = size + entries.size() == committed.size;
      uint64_t applied = 0;
      LEDGER_RETURN_IF_ERROR(ApplyFrom(size, entries, complete, &applied));
      if (applied == 0) chunk = std::min(chunk * 2, kMaxChunk);
      progressed = true;
      break;
    }
    if (!progressed) {
      return absl::UnavailableError(
          StrCat("node ", node_name_, " cannot complete its log (", size,
                 " entries) to the committed head of ", committed.size, ": ",
                 last.message()));
    }
  }
}

ReplicationLeader::ReplicationLeader(const ledger::Ledger* ledger,
                                     std::string node_name, int64_t epoch,
                                     std::vector<std::string> peers,
                                     ReplicationLeaderOptions options)
    : ledger_(ledger),
      node_name_(std::move(node_name)),
      epoch_(epoch),
      peers_(std::move(peers)),
      options_(options) {
  MutexLock lock(&mu_);
  durable_ = ledger_->head();
  for (const std::string& peer : peers_) {
    Peer& p = state_[peer];
    p.next = durable_.size;
    p.chunk = std::max<uint32_t>(1, options_.max_entries);
  }
}

void ReplicationLeader::SetDurable(const ledger::Head& head) {
  MutexLock lock(&mu_);
  if (head.size >= durable_.size) durable_ = head;
}

void ReplicationLeader::SetCommitted(const ledger::Head& head) {
  MutexLock lock(&mu_);
  if (head.size >= committed_.size) committed_ = head;
}

absl::StatusOr<std::optional<ReplicateRequest>> ReplicationLeader::NextRequest(
    const std::string& peer, bool probe) {
  ReplicateRequest request;
  uint64_t end = 0;
  std::optional<ledger::StoredCheckpoint> checkpoint =
      ledger_->LatestCheckpoint();
  {
    MutexLock lock(&mu_);
    auto it = state_.find(peer);
    if (it == state_.end()) {
      return absl::NotFoundError(StrCat("unknown peer ", peer));
    }
    Peer& p = it->second;
    if (p.in_flight) return std::nullopt;
    if (p.next > durable_.size) p.next = durable_.size;
    if (checkpoint.has_value() && p.told_checkpoint.has_value() &&
        *p.told_checkpoint >= checkpoint->size) {
      checkpoint.reset();
    }
    if (!probe && p.next >= durable_.size &&
        p.told_committed >= committed_.size && !checkpoint.has_value()) {
      return std::nullopt;
    }
    end = std::min<uint64_t>(durable_.size, p.next + p.chunk);
    request.epoch = epoch_;
    request.leader = node_name_;
    request.base_size = p.next;
    request.complete = end == durable_.size;
    request.committed = committed_;
    request.id = ++next_id_;
    p.in_flight = true;
    p.in_flight_id = request.id;
    p.in_flight_end = end;
    p.in_flight_complete = request.complete;
    p.told_committed = committed_.size;
    p.in_flight_checkpoint.reset();
    if (checkpoint.has_value()) {
      request.checkpoint = checkpoint->note;
      p.in_flight_checkpoint = checkpoint->size;
    }
  }
  absl::Status status;
  absl::StatusOr<ledger::Hash> root = ledger_->RootAt(request.base_size);
  if (root.ok()) {
    request.base_root = *root;
    absl::StatusOr<std::vector<std::string>> entries =
        ledger_->GetEntries(request.base_size, end, end - request.base_size);
    if (entries.ok()) {
      request.entries = *std::move(entries);
    } else {
      status = entries.status();
    }
  } else {
    status = root.status();
  }
  if (!status.ok()) {
    MutexLock lock(&mu_);
    Peer& p = state_[peer];
    p.in_flight = false;
    p.told_committed = 0;
    return status;
  }
  return request;
}

void ReplicationLeader::OnResponse(
    const std::string& peer, uint64_t id,
    const absl::StatusOr<ReplicateResponse>& response) {
  MutexLock lock(&mu_);
  auto it = state_.find(peer);
  if (it == state_.end()) return;
  Peer& p = it->second;
  if (!p.in_flight || p.in_flight_id != id) return;
  p.in_flight = false;
  if (!response.ok()) {
    p.told_committed = 0;
    return;
  }
  if (response->accepted) {
    const bool stalled = response->size == p.next && p.in_flight_end > p.next &&
                         !p.in_flight_complete;
    if (stalled) {
      p.chunk = std::min(p.chunk * 2, kMaxChunk);
    } else {
      p.chunk = std::max<uint32_t>(1, options_.max_entries);
    }
    p.matched = std::max(p.matched, response->size);
    p.next = response->size;
    // It holds the checkpoint's entries, which are committed: it stored it.
    if (p.in_flight_checkpoint.has_value() &&
        response->size >= *p.in_flight_checkpoint) {
      p.told_checkpoint = p.in_flight_checkpoint;
    }
  } else {
    p.matched = std::min(p.matched, response->size);
    p.next = response->size;
    p.told_committed = 0;
  }
}

size_t ReplicationLeader::Holding(uint64_t size) const {
  MutexLock lock(&mu_);
  size_t n = durable_.size >= size ? 1 : 0;
  for (const auto& [name, p] : state_) {
    if (p.matched >= size) ++n;
  }
  return n;
}

bool ReplicationLeader::HasQuorum(uint64_t size) const {
  return Holding(size) >= quorum();
}

uint64_t ReplicationLeader::matched(const std::string& peer) const {
  MutexLock lock(&mu_);
  auto it = state_.find(peer);
  return it == state_.end() ? 0 : it->second.matched;
}

}  // namespace ledger::node
