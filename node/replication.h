#pragma once

// Replication between the ledger nodes of a cluster (docs/cluster.md): the
// logic, free of gRPC and threads, so that the deterministic tests and the
// node run the same code.
//
// The leader sequences groups as a single node does and makes them durable
// locally; a ReplicationLeader then tells, for each follower, which entries
// to send next (ReplicateRequest) and learns from the answers which prefix
// each follower holds durably. A head is committed in etcd only once a
// majority of the nodes (the leader included) hold it.
//
// A follower's Replica re-makes every entry it is sent (Ledger::ApplyEntries:
// signatures, leaf, chain and Merkle hashes, risk grades, all recomputed;
// any difference is DataLoss and nothing of that group is written or
// acknowledged) and answers with the prefix it holds. A follower whose log
// diverges from the leader's (entries of a deposed leader that were never
// committed) discards its own uncommitted tail (Ledger::DiscardAfter) back
// to the last head it knows to be committed, and takes the leader's entries
// from there.
//
// Each node knows a *verified committed* size: the largest committed head
// (seen in etcd, or in a leader's request) whose root it holds itself. It
// serves reads and proofs only up to that head, so a follower never shows an
// entry that the cluster has not committed, nor one that differs from the
// committed log.
//
// A new leader first completes its log to the committed head (CatchUp):
// entries it lacks are fetched from any peer that holds that head, re-made
// and checked against the committed root; an uncommitted tail of its own is
// discarded.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "base/sync.h"
#include "crypto/note.h"
#include "ledger/ledger.h"

namespace ledger::node {

// Leader -> follower: entries [base_size, base_size + entries.size()) of the
// leader's log, or none (a probe, which also carries the committed head).
struct ReplicateRequest {
  // Numbers the leader's requests to one follower; a late answer to an
  // earlier one is ignored (ReplicationLeader::OnResponse).
  uint64_t id = 0;
  int64_t epoch = 0;   // the leader's epoch (etcd's leader key revision)
  std::string leader;  // its node name
  uint64_t base_size = 0;
  ledger::Hash base_root{};  // the leader's root at base_size
  std::vector<std::string> entries;
  // The entries end at a group boundary (a head the leader published).
  // Otherwise the follower leaves out the last run of one received_at
  // (Ledger::ApplyEntries) and says how far it got.
  bool complete = true;
  ledger::Head committed;  // the leader's committed head
  // The leader's latest stored checkpoint (a signed note) while the
  // follower has not stored it; empty otherwise. The follower stores it once
  // it holds that size as committed (Replica::HandleReplicate).
  std::string checkpoint;
};

// Follower -> leader.
struct ReplicateResponse {
  // true: the follower holds entries [0, size) durably, identical to the
  // leader's [0, size). false: it took nothing; send from `size` (it holds
  // fewer entries than base_size, or discarded a tail that diverged from
  // the leader's log down to `size`).
  bool accepted = false;
  uint64_t size = 0;
  // The follower's cosigner verifier key (empty if it has none).
  std::string cosigner_key;
};

// Leader -> follower: cosign the checkpoint of a committed head.
struct CosignRequest {
  int64_t epoch = 0;
  std::string leader;
  ledger::Head committed;  // the leader's committed head
  std::string checkpoint;  // the checkpoint body (note text), unsigned
};

struct CosignResponse {
  std::string note;          // the body signed by the follower's cosigner
  std::string cosigner_key;  // its verifier key
};

// A node completing its log (a new leader) -> a peer.
struct FetchRequest {
  uint64_t from = 0;
  uint32_t max_entries = 0;
  uint64_t committed_size = 0;  // the committed head the caller completes to
};

struct FetchResponse {
  uint64_t size = 0;  // the peer's log size (published)
  // Its entries [from, from + entries.size()); none if from >= size.
  std::vector<std::string> entries;
  std::optional<ledger::Hash> root_at_from;       // if from <= size
  std::optional<ledger::Hash> root_at_committed;  // if committed_size <= size
};

// Fetch from one named peer (the transport's; tests: a fake).
using FetchFn = std::function<absl::StatusOr<FetchResponse>(
    const std::string& peer, const FetchRequest& request)>;

struct ReplicaOptions {
  // Entries per fetch when completing the log; doubled while a fetch
  // yields no whole group.
  uint32_t fetch_entries = 2048;
  // This node's checkpoint cosigner (c2sp.org/tlog-cosignature, timestamped;
  // not owned). nullptr: it cosigns nothing.
  const crypto::NoteSigner* cosigner = nullptr;
  // POSIX seconds for cosignature timestamps. Empty: absl::Now().
  std::function<uint64_t()> unix_seconds;
  // Stores a checkpoint note a leader sent, after the Replica checked that
  // it covers only committed entries this node holds. Empty:
  // Ledger::StoreCheckpoint (which checks the log signature and the root).
  // A node also records it in its rollback guard.
  std::function<absl::Status(std::string_view note)> store_checkpoint;
};

// One node's side of replication: answers leaders and peers, completes
// its log, and knows what it may serve. Thread-safe: its methods that write
// the ledger are serialized, and must not run while this node's sequencer
// writes (a node leads, then SetLeading, or follows, never both).
class Replica {
 public:
  // Borrows `ledger`. The verified committed size starts at the last
  // stored checkpoint (checkpoints cover only committed heads) or 0.
  Replica(ledger::Ledger* ledger, std::string node_name,
          ReplicaOptions options = {});

  // Follower: takes a leader's entries. FailedPrecondition if the request's
  // epoch is older than one already seen, or this node leads. DataLoss if an
  // entry could not be re-made identically, or the leader's log contradicts
  // a prefix this node knows to be committed (never acknowledged).
  absl::StatusOr<ReplicateResponse> HandleReplicate(
      const ReplicateRequest& request);
  // Any node: serves entries of its log.
  absl::StatusOr<FetchResponse> HandleFetch(const FetchRequest& request) const;
  // Follower: cosigns a leader's checkpoint of a committed head if this node
  // holds its entries, they are committed (within its verified committed
  // head or the head the leader says it committed), and its own root there
  // is the checkpoint's. Refused like
  // HandleReplicate for a stale leader or while leading; FailedPrecondition
  // if this node does not hold the size as committed yet, or has no
  // cosigner; InvalidArgument for a malformed body or another origin;
  // DataLoss if its root at that size differs.
  absl::StatusOr<CosignResponse> HandleCosign(const CosignRequest& request);

  // A committed head seen (etcd's head watch, or a leader's request): if
  // this node holds it (same root) the verified committed size moves up to
  // it.
  void ObserveCommitted(const ledger::Head& committed);

  // New leader of `epoch`: completes the log to `committed` (fetching from
  // `peers` through `fetch`) and discards anything after it. From the start
  // it refuses requests of older epochs (a deposed leader's entries must
  // not slip in between the catch-up and SetLeading). OK: this node's log
  // is exactly the committed head. Unavailable if no peer holding the head
  // answered; DataLoss if this node's committed prefix contradicts it.
  absl::Status CatchUp(const ledger::Head& committed, int64_t epoch,
                       const std::vector<std::string>& peers,
                       const FetchFn& fetch);

  // This node now leads with `epoch` (refuses replication until
  // SetFollowing) / follows again.
  void SetLeading(int64_t epoch);
  void SetFollowing();

  // The largest committed head this node holds (reads stop there).
  ledger::Head verified_committed() const;
  // Waits until verified_committed().size >= size or `timeout` passes; true
  // in the first case.
  bool WaitForCommitted(uint64_t size, absl::Duration timeout) const;
  // The highest leader epoch seen.
  int64_t epoch_seen() const;

 private:
  // Refuses a leader's request of an older epoch than seen, or any while
  // this node leads; otherwise remembers the epoch.
  absl::Status AdmitLeaderLocked(int64_t epoch, const std::string& leader)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether entries [0, size) are committed: within the verified committed
  // head, or within the head an admitted leader says it committed (a
  // leader claims only heads etcd took; the caller checks the root).
  bool CommittedLocked(uint64_t size,
                       const ledger::Head& leader_committed) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores a leader's checkpoint note if it is newer than this node's and
  // covers only committed entries this node holds; a larger one is left
  // for a later request.
  absl::Status StoreCheckpointLocked(const std::string& note,
                                     const ledger::Head& leader_committed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Discards the uncommitted tail after the verified committed size.
  absl::Status DiscardToVerified() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ObserveLocked(const ledger::Head& committed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // This node's log holds `head` (has its size and its root there).
  absl::StatusOr<bool> HoldsLocked(const ledger::Head& head) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ApplyFrom(uint64_t base, absl::Span<const std::string> entries,
                         bool complete, uint64_t* applied)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ledger::Ledger* const ledger_;
  const std::string node_name_;
  const ReplicaOptions options_;

  mutable Mutex mu_;
  ledger::Head verified_ ABSL_GUARDED_BY(mu_);
  int64_t epoch_seen_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t leading_epoch_ ABSL_GUARDED_BY(mu_) = 0;  // 0: following
};

struct ReplicationLeaderOptions {
  // At most this many entries per request; doubled for a follower while a
  // request yields no whole group (a group larger than this).
  uint32_t max_entries = 4096;
};

// The leader's bookkeeping of what each follower holds, and what to send
// it next. Thread-safe. One in-flight request per follower.
class ReplicationLeader {
 public:
  // `peers`: the other nodes' names. The cluster has peers.size() + 1
  // nodes; a head needs a majority of them.
  ReplicationLeader(const ledger::Ledger* ledger, std::string node_name,
                    int64_t epoch, std::vector<std::string> peers,
                    ReplicationLeaderOptions options = {});

  // The leader's durable (published) head, a group boundary; and its
  // committed head. Both only grow.
  void SetDurable(const ledger::Head& head);
  void SetCommitted(const ledger::Head& head);

  // What to send to `peer` now: nullopt if a request to it is in flight,
  // or it holds everything durable and knows the committed head (unless
  // `probe`: then an empty request is made anyway, as a heartbeat).
  absl::StatusOr<std::optional<ReplicateRequest>> NextRequest(
      const std::string& peer, bool probe = false);
  // The answer to request `id` to `peer` (an error: lost or refused; the
  // next request starts where the last accepted one ended). Ignored unless
  // that request is the one in flight.
  void OnResponse(const std::string& peer, uint64_t id,
                  const absl::StatusOr<ReplicateResponse>& response);

  // Nodes holding at least `size` entries durably, the leader included.
  size_t Holding(uint64_t size) const;
  bool HasQuorum(uint64_t size) const;
  size_t quorum() const { return (peers_.size() + 1) / 2 + 1; }
  // What `peer` is known to hold (0: nothing confirmed yet).
  uint64_t matched(const std::string& peer) const;
  const std::vector<std::string>& peers() const { return peers_; }
  int64_t epoch() const { return epoch_; }

 private:
  struct Peer {
    uint64_t next = 0;            // where the next request starts
    uint64_t matched = 0;         // confirmed identical and durable
    uint64_t told_committed = 0;  // committed size last sent
    // The size of the leader's checkpoint the follower stored, and of the
    // one the request in flight carries.
    std::optional<uint64_t> told_checkpoint;
    std::optional<uint64_t> in_flight_checkpoint;
    bool in_flight = false;
    uint64_t in_flight_id = 0;
    uint64_t in_flight_end = 0;
    bool in_flight_complete = true;
    uint32_t chunk = 0;
  };

  const ledger::Ledger* const ledger_;
  const std::string node_name_;
  const int64_t epoch_;
  const std::vector<std::string> peers_;
  const ReplicationLeaderOptions options_;

  mutable Mutex mu_;
  ledger::Head durable_ ABSL_GUARDED_BY(mu_);
  ledger::Head committed_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Peer> state_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ledger::node
