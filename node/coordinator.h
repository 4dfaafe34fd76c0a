#pragma once

// The seam between the sequencer and whatever decides what is committed
// (docs/architecture.md, section 2). Single node: LocalCoordinator, where
// durable locally means committed. Cluster: an etcd-backed implementation whose
// Commit replicates to a majority and moves the etcd head with a fenced
// transaction.

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/sync.h"
#include "ledger/checkpoint.h"
#include "ledger/ledger.h"

namespace ledger::node {

class Coordinator {
 public:
  virtual ~Coordinator() = default;

  // Commits `head`, whose entries are already durable in the local ledger.
  // Called by the sequencer's publisher thread only, once for each set of
  // groups it made durable together, with heads of non-decreasing size that
  // extend one another.
  //
  // OK: `head` is committed. It will never be lost or reordered, whichever
  // process dies afterwards, and Committed() returns it or a later head.
  // The sequencer acknowledges the group's appends only after this.
  // Error: nothing about `head` is acknowledged; the sequencer fails the
  // group's waiters with this status and stops accepting writes (the entries
  // may still be committed later by a recovery the implementation owns).
  virtual absl::Status Commit(const ledger::Head& head) = 0;

  // The latest committed head: reads and proofs never go past it.
  // Thread-safe; cheap enough to call on every read.
  virtual ledger::Head Committed() const = 0;

  // Waits until Committed().size >= size or `timeout` passes; true in the
  // first case. Thread-safe. (Reads that ask for a minimum size: a
  // follower may be behind the leader that acknowledged a write.)
  virtual bool WaitForCommitted(uint64_t size, absl::Duration timeout) const {
    (void)timeout;
    return Committed().size >= size;
  }

  // Called by the sequencer with `note`, the checkpoint `checkpoint` of a
  // committed head that this node has signed, before it stores it. Returns
  // the note to store: the same note on a single node; on a cluster node
  // the note with the other nodes' cosignatures added, or Unavailable if
  // fewer than a majority of the nodes (this one included) signed (the
  // sequencer then tries again at its next checkpoint).
  virtual absl::StatusOr<std::string> Cosign(
      std::string note, const ledger::Checkpoint& checkpoint) {
    (void)checkpoint;
    return note;
  }
};

// One node, no replication: a head is committed as soon as the local ledger
// made it durable. Commit never fails.
class LocalCoordinator : public Coordinator {
 public:
  explicit LocalCoordinator(const ledger::Head& initial) : head_(initial) {}

  absl::Status Commit(const ledger::Head& head) override {
    MutexLock lock(&mu_);
    head_ = head;
    return absl::OkStatus();
  }

  ledger::Head Committed() const override {
    MutexLock lock(&mu_);
    return head_;
  }

  bool WaitForCommitted(uint64_t size, absl::Duration timeout) const override {
    MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(
        [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return head_.size >= size; },
        timeout);
  }

 private:
  mutable Mutex mu_;
  ledger::Head head_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ledger::node
