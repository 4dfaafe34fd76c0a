#pragma once

// The cluster's Coordinator for one ledger node, on etcd (docs/cluster.md):
// leader election with a lease, the committed head under one key, fenced
// commits, and the follower's view of the head through a watch.
//
// Keys (node/etcd_head.h): "/annotation-ledger/<origin>/leader" holds the
// leader's node name, attached to the leader's lease; its create revision
// is the leader's epoch. "/annotation-ledger/<origin>/head" holds the head
// record (FORMAT.md section 17).
//
// Commit moves the etcd head with one transaction:
//   if MOD(head) == the mod revision this node last saw
//      and CREATE(leader) == our epoch
//   then put head = {epoch, size, root, chain hash, write id}
// so a deposed leader (its lease expired, or it resigned and another was
// elected) can never move the head, and two commits of one leader can
// never both apply on the same base.
//
// What Commit does NOT do yet: replicate. The caller (the replication layer,
// to come) must have made the batch durable on a majority of ledger nodes
// before calling Commit; today the only caller would be the sequencer, which
// makes it durable on this node alone. The seam is the Coordinator
// interface: a ReplicatingCoordinator will replicate, then call this one.
//
// Leadership, all transitions:
//   follower -> leader     Campaign() won the election transaction
//   leader   -> follower   Resign()
//   leader   -> deposed    the lease was lost (etcd answered TTL 0, or it
//                          could not be renewed before it expired), the
//                          leader key was seen deleted or re-created by
//                          another, or a Commit was fenced out
//   deposed  -> leader     Campaign() won again (with a new lease and a new,
//                          higher epoch)
// A deposed node refuses every Commit with FailedPrecondition naming its
// epoch and, when known, the epoch that superseded it; its caller must stop
// sequencing (the sequencer enters kFailed).
//
// Thread-safe. Listeners run on the etcd client's watch or keep-alive
// threads, never under the coordinator's lock, and must not destroy it.

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/sync.h"
#include "node/coordinator.h"
#include "node/etcd_head.h"
#include "node/etcd_kv.h"

namespace ledger::node {

struct EtcdCoordinatorOptions {
  // The ledger's origin (FORMAT.md 9.1): names the keys.
  std::string origin;
  // This node's name: the leader key's value while it leads.
  std::string node_name;
  // TTL of the leader's lease. A dead leader is replaced after about this.
  absl::Duration lease_ttl = absl::Seconds(5);
  // How long Commit keeps trying to learn the outcome of a transaction
  // that failed ambiguously (Unavailable, DeadlineExceeded).
  absl::Duration commit_timeout = absl::Seconds(10);
};

// The leader as observed in etcd. epoch 0: nobody leads.
struct LeaderInfo {
  std::string node_name;
  int64_t epoch = 0;
  friend bool operator==(const LeaderInfo&, const LeaderInfo&) = default;
};

class EtcdCoordinator : public Coordinator {
 public:
  // Reads the leader and head keys and starts watching both. `etcd` must
  // outlive the coordinator. A head value that does not decode is DataLoss.
  static absl::StatusOr<std::unique_ptr<EtcdCoordinator>> Start(
      EtcdKv* etcd, EtcdCoordinatorOptions options);
  // Stops the watches and the keep-alive; does not resign (the lease then
  // expires on its own: call Resign() first for a quick handover).
  ~EtcdCoordinator() override;
  EtcdCoordinator(const EtcdCoordinator&) = delete;
  EtcdCoordinator& operator=(const EtcdCoordinator&) = delete;

  // One election transaction: if nobody holds the leader key, take it with
  // our lease (granted here if we hold none). True: this node leads, with
  // epoch() = the key's create revision, and its view of the head is
  // current. False: another node leads (leader() names it). Already
  // leading: true at once.
  absl::StatusOr<bool> Campaign();
  // Deletes the leader key if it is still ours; this node becomes a
  // follower either way (OK also when it was not leading).
  absl::Status Resign();

  // Commit (see above). FailedPrecondition when this node does not lead or
  // was fenced out ("no longer leader: epoch E superseded by F"): the
  // head is then unchanged and this node is deposed. Unavailable when the
  // outcome could not be learned within commit_timeout.
  absl::Status Commit(const ledger::Head& head) override;
  ledger::Head Committed() const override;
  // The committed head with its epoch and write id.
  HeadRecord committed_record() const;

  bool is_leader() const;
  // This node's epoch while it leads; 0 otherwise.
  int64_t epoch() const;
  // The leader as last seen through the watch (or by Campaign).
  LeaderInfo leader() const;
  // Why this node was deposed; OK if it never was or leads again.
  absl::Status deposed_status() const;

  // Called with each newer head record seen in etcd (a follower applies
  // batches up to it; the replication layer's input).
  void SetHeadListener(std::function<void(const HeadRecord&)> listener);
  // Called once each time this node stops leading without Resign(), with
  // the reason (FailedPrecondition).
  void SetDeposedListener(std::function<void(const absl::Status&)> listener);

  // Tests: the lease in use (0: none).
  int64_t lease_id() const;

 private:
  EtcdCoordinator(EtcdKv* etcd, EtcdCoordinatorOptions options);

  // Applies an observed head or leader value if newer than what we know.
  void ObserveHead(const EtcdKeyValue* kv, int64_t mod_revision);
  void ObserveLeader(const EtcdKeyValue* kv, int64_t revision);
  // Read the key and observe it: the store revision of the read.
  absl::StatusOr<int64_t> ReadHead();
  absl::StatusOr<int64_t> ReadLeader();
  // Leaves leadership with `why`; calls the deposed listener.
  void Depose(int64_t epoch, const absl::Status& why);
  absl::Status Superseded(int64_t epoch, int64_t by) const;
  // The outcome of our transaction, read back after it failed or its
  // outcome was unknown: OK (applied), FailedPrecondition (fenced or the
  // head moved under us), or Unavailable "retry" when it was not applied.
  absl::Status Decide(const HeadRecord& ours, int64_t base_mod_revision,
                      const std::optional<EtcdKeyValue>& head,
                      const std::optional<EtcdKeyValue>& leader);
  absl::Status EnsureLease() ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);

  EtcdKv* const etcd_;
  const EtcdCoordinatorOptions options_;
  const std::string leader_key_;
  const std::string head_key_;

  mutable Mutex mu_;
  HeadRecord head_ ABSL_GUARDED_BY(mu_);
  int64_t head_mod_revision_ ABSL_GUARDED_BY(mu_) = 0;
  LeaderInfo leader_ ABSL_GUARDED_BY(mu_);
  int64_t leader_revision_ ABSL_GUARDED_BY(mu_) = 0;  // of the last view
  int64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;            // ours; 0: not leading
  absl::Status deposed_ ABSL_GUARDED_BY(mu_);
  EtcdLease lease_ ABSL_GUARDED_BY(mu_);
  bool lease_lost_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void(const HeadRecord&)> head_listener_ ABSL_GUARDED_BY(mu_);
  std::function<void(const absl::Status&)> deposed_listener_
      ABSL_GUARDED_BY(mu_);

  // Serializes Campaign, Resign and Commit (the lease and the epoch change
  // only under it). Taken before mu_.
  Mutex op_mu_;
  std::unique_ptr<EtcdTask> keep_alive_ ABSL_GUARDED_BY(op_mu_);
  std::unique_ptr<EtcdTask> head_watch_;    // set in Start, then constant
  std::unique_ptr<EtcdTask> leader_watch_;  // likewise
};

}  // namespace ledger::node
