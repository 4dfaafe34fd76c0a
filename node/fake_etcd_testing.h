#pragma once

// An in-memory etcd for deterministic tests of the coordinator: one
// revision counter, keys with create/mod revisions and versions, leases
// that expire only when told, watches fed from the full history, and
// injected faults (a transaction that fails ambiguously, applied or not).
//
// Time plays no part: leases never expire by themselves (ExpireLease), and
// watch events are delivered on the thread that made the change, after the
// change, unless held (HoldWatches) until ReleaseWatches. Deliveries are
// serialized, so each watch sees its events once each, in revision order.

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "base/sync.h"
#include "node/etcd_kv.h"

namespace ledger::node {

class FakeEtcd : public EtcdKv {
 public:
  FakeEtcd() = default;
  ~FakeEtcd() override;

  absl::StatusOr<EtcdGetResult> Get(const std::string& key) override;
  absl::StatusOr<int64_t> Put(const std::string& key, const std::string& value,
                              int64_t lease = 0) override;
  absl::StatusOr<EtcdTxnResult> Txn(const EtcdTxn& txn) override;
  absl::StatusOr<EtcdLease> LeaseGrant(absl::Duration ttl) override;
  absl::Status LeaseRevoke(int64_t lease) override;
  std::unique_ptr<EtcdTask> KeepAlive(
      const EtcdLease& lease,
      std::function<void(const absl::Status&)> on_lost) override;
  std::unique_ptr<EtcdTask> Watch(const std::string& key,
                                  int64_t start_revision,
                                  EtcdWatchCallbacks callbacks) override;

  // Faults. The next Txn fails with `status`; it is applied first if
  // `applied` (a reply lost after the commit). Queued: one per call.
  void FailNextTxn(absl::Status status, bool applied);
  // The next `n` Gets fail with `status`.
  void FailNextGets(int n, absl::Status status);

  // The lease expires now: its keys are deleted, and its keep-alive is told
  // unless `notify` is false (a paused process that has not noticed).
  void ExpireLease(int64_t lease, bool notify = true);
  // Forgets history before `revision`: watches that have not yet been
  // given those events are told (on_compacted) and resume from it.
  void Compact(int64_t revision);
  // Holds watch deliveries until ReleaseWatches (a slow watch stream).
  void HoldWatches();
  void ReleaseWatches();

  int64_t revision() const;
  // The key as stored, without faults.
  std::optional<EtcdKeyValue> Peek(const std::string& key) const;
  int txn_count() const;

 private:
  struct Watcher;
  struct Keeper;
  class WatchHandle;
  class KeepHandle;

  // Applies one write at revision_ (already incremented by the caller).
  void PutLocked(const std::string& key, const std::string& value,
                 int64_t lease) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DeleteLocked(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool HoldsLocked(const EtcdCompare& c) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<EtcdTxnResult> ApplyTxnLocked(const EtcdTxn& txn)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Deliver();

  mutable Mutex mu_;
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 1;  // etcd starts at 1
  int64_t compacted_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, EtcdKeyValue> kvs_ ABSL_GUARDED_BY(mu_);
  std::vector<EtcdEvent> history_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, EtcdLease> leases_ ABSL_GUARDED_BY(mu_);
  int64_t next_lease_ ABSL_GUARDED_BY(mu_) = 0x1000;
  std::vector<std::shared_ptr<Watcher>> watchers_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Keeper>> keepers_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<absl::Status, bool>> txn_faults_ ABSL_GUARDED_BY(mu_);
  int get_faults_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status get_fault_ ABSL_GUARDED_BY(mu_);
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  int txns_ ABSL_GUARDED_BY(mu_) = 0;
  // Serializes deliveries (recursive: a callback may cause another).
  std::recursive_mutex deliver_mu_;
};

}  // namespace ledger::node
