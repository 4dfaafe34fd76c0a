#pragma once

// Group commit, pipelined. gRPC handler threads Submit() verified batches;
// the sequencer thread takes everything queued (up to max_group_events
// events) and writes it with one Ledger::AppendNoSync (one unsynced
// RocksDB write), then hands the group to the publisher thread and goes on
// with the next group. The publisher makes everything written so far
// durable with one WAL sync (Ledger::Publish), commits the new head through
// the Coordinator, and completes the waiters, in group order. So group k+1
// is checked, hashed and written while group k's fsync is in progress, and
// one fsync covers every group written meanwhile. No timer sits on the
// append path: an idle ledger appends at once, and under load the queue
// that builds during a write becomes the next group.
//
// The sequencer thread also issues checkpoints (the Ledger's writer methods
// are single-threaded) when CheckpointDueAt() says so, waiting on a
// condition variable with that deadline. Checkpoints only ever cover
// committed (published) heads.
//
// States: running -> (StopAccepting) draining -> (Shutdown) stopped.
//         running -> (storage or commit failure) failed: every later Submit
//         fails with Unavailable; reads and checkpoints continue.

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "base/sync.h"
#include "ledger/ledger.h"
#include "node/checkpoint_policy.h"
#include "node/clock.h"
#include "node/coordinator.h"
#include "node/data_dir.h"

namespace ledger::node {

struct SequencerOptions {
  size_t max_group_events = 20000;
  CheckpointPolicy checkpoint;
};

// The completion of one submitted batch.
class PendingAppend {
 public:
  PendingAppend() = default;
  explicit PendingAppend(ledger::AppendResult result);

  // Blocks until the batch is committed or rejected and returns the result.
  // Call once: the result is moved out.
  ledger::AppendResult Wait();
  // True once Wait() would not block.
  bool done() const;
  // Calls `callback` with the result once the batch is committed or
  // rejected: at once on this thread if it already is, otherwise on the
  // thread that completes it (the publisher), so the callback must not
  // block. Instead of Wait(), not with it; call once.
  void OnDone(absl::AnyInvocable<void(ledger::AppendResult) &&> callback);

 private:
  friend class Sequencer;
  void Complete(ledger::AppendResult result);

  mutable Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  ledger::AppendResult result_ ABSL_GUARDED_BY(mu_);
  absl::AnyInvocable<void(ledger::AppendResult) &&> on_done_
      ABSL_GUARDED_BY(mu_);
};

class Sequencer {
 public:
  // Borrows everything; all must outlive the sequencer.
  Sequencer(ledger::Ledger* ledger, Coordinator* coordinator,
            const Clock* clock, const NodeIdentity* identity,
            SequencerOptions options);
  ~Sequencer();  // Shutdown()
  Sequencer(const Sequencer&) = delete;
  Sequencer& operator=(const Sequencer&) = delete;

  // Issues a checkpoint now if none covers the committed head (an error
  // here is returned and nothing starts), then starts the thread.
  absl::Status Start();

  // Queues a batch. Never blocks on the ledger. After StopAccepting() or a
  // failure the returned handle is already complete with Unavailable.
  std::shared_ptr<PendingAppend> Submit(ledger::VerifiedBatch batch);
  // Submit(batch)->Wait().
  ledger::AppendResult Append(ledger::VerifiedBatch batch);

  // New submissions fail with Unavailable "node is shutting down"; queued
  // batches still complete. Idempotent.
  void StopAccepting();
  // StopAccepting(), append everything queued, issue a final checkpoint if
  // the last one does not cover the head, join the thread. Idempotent.
  void Shutdown();

  // Waits until a checkpoint covering `min_size` entries is stored, the
  // sequencer stops, or `timeout` passes; true in the first case.
  bool WaitForCheckpoint(uint64_t min_size, absl::Duration timeout);

  // Makes the thread re-read the clock now (tests move a FakeClock).
  void Poke();

  // For tests and metrics: groups written (Ledger::AppendNoSync calls) and
  // checkpoints issued by this sequencer.
  uint64_t append_calls() const;
  uint64_t checkpoints_issued() const;
  // Waits until checkpoints_issued() >= n or `timeout`; true in the first
  // case.
  bool WaitForCheckpointsIssued(uint64_t n, absl::Duration timeout);
  // Waits until append_calls() >= n or `timeout`; true in the first case.
  bool WaitForAppendCalls(uint64_t n, absl::Duration timeout);

 private:
  struct Item {
    ledger::VerifiedBatch batch;
    std::shared_ptr<PendingAppend> pending;
  };
  // A group written but not yet durable.
  struct WrittenGroup {
    std::vector<Item> items;
    std::vector<ledger::AppendResult> results;
    ledger::Head head;  // the written head after this group
  };

  void Run();
  void RunPublisher();
  // Waits for queued work, a stop request, a poke or the checkpoint
  // deadline; then takes the next group.
  std::vector<Item> NextGroup(bool* exit) ABSL_LOCKS_EXCLUDED(mu_);
  void WriteGroup(std::vector<Item>& group) ABSL_LOCKS_EXCLUDED(mu_);
  void PublishGroups(std::vector<WrittenGroup>& groups)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Completes `items` with `failure` (or their own rejection).
  static void FailItems(std::vector<Item>& items,
                        const std::vector<ledger::AppendResult>& results,
                        const absl::Status& failure);
  // Refuses later submissions and fails everything queued (keeps the first
  // cause).
  void EnterFailedStateLocked(const absl::Status& cause)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // When the next checkpoint is due (UTC ns).
  int64_t CheckpointDue() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Signs and stores a checkpoint of the committed head.
  absl::Status IssueCheckpoint() ABSL_LOCKS_EXCLUDED(mu_);
  // The time a stored checkpoint was signed (its cosignature timestamp).
  int64_t IssuedAt(const ledger::StoredCheckpoint& checkpoint) const;

  ledger::Ledger* const ledger_;
  Coordinator* const coordinator_;
  const Clock* const clock_;
  const NodeIdentity* const identity_;
  const SequencerOptions options_;

  // Sequencer thread only (and Start(), before the thread exists).
  std::optional<LastCheckpoint> last_checkpoint_;
  int64_t checkpoint_retry_at_ns_ = 0;

  mutable Mutex mu_;
  uint64_t committed_size_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  // Written groups waiting for the publisher, in order.
  std::deque<WrittenGroup> written_ ABSL_GUARDED_BY(mu_);
  bool writer_done_ ABSL_GUARDED_BY(mu_) = false;
  bool publishing_ ABSL_GUARDED_BY(mu_) = false;   // a sync is in progress
  size_t queued_events_ ABSL_GUARDED_BY(mu_) = 0;  // events in queue_
  bool publisher_done_ ABSL_GUARDED_BY(mu_) = false;
  bool accepting_ ABSL_GUARDED_BY(mu_) = true;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool poked_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  uint64_t checkpoint_size_ ABSL_GUARDED_BY(mu_) = 0;
  bool have_checkpoint_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t append_calls_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t checkpoints_issued_ ABSL_GUARDED_BY(mu_) = 0;

  Mutex join_mu_;
  std::thread thread_ ABSL_GUARDED_BY(join_mu_);
  std::thread publisher_ ABSL_GUARDED_BY(join_mu_);
};

}  // namespace ledger::node
