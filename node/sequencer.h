#pragma once

// Group commit, pipelined. gRPC handlers Submit() verified batches; the
// sequencer thread takes everything queued (up to max_group_events events)
// and writes it with one Ledger::AppendNoSync (one unsynced RocksDB write),
// then hands the group to the publisher thread and goes on with the next
// group. The publisher makes everything written so far durable with one WAL
// sync (Ledger::Publish), commits the new head through the Coordinator
// (the publisher is the only caller of Coordinator::Commit), and completes
// the waiters, in group order. So group k+1 is checked, hashed and written
// while group k's fsync is in progress, and one fsync covers every group
// written meanwhile. No timer sits on the append path: an idle ledger
// appends at once, and under load the queue that builds during a write
// becomes the next group.
//
// The sequencer thread also issues checkpoints (the Ledger's writer methods
// are single-threaded) when CheckpointDueAt() says so. Checkpoints only
// ever cover committed heads, and each is recorded in the rollback guard
// before it is stored, so a served checkpoint is never lost.
//
// Admission is bounded (pushback): batches admitted and not yet completed
// hold at most max_queued_events events and max_queued_bytes bytes.
// Past that Submit completes at once with ResourceExhausted and a retry
// hint, and streams wait for space (WhenSpace) instead of reading more.
//
// Completions (PendingAppend callbacks, space callbacks, the state
// listener) never run while the sequencer's mutex is held.
//
// Lifecycle (SequencerState), all transitions:
//   kNew         -> kRunning       Start()
//   kNew         -> kVerifying     Start() with hold_writes: appends are
//                                  refused until the node has verified its
//                                  indexes
//   kVerifying   -> kRunning       ReleaseWrites()
//   kVerifying   -> kFailed        ReportDataLoss()
//   kVerifying   -> kDraining      StopAccepting() or Shutdown()
//   kRunning     -> kStorageFull   a group's write failed for lack of space
//                                  (nothing of it was written)
//   kStorageFull -> kRunning       the sequencer retried and the store
//                                  resumed (every resume_interval)
//   kRunning     -> kFailed        any other storage or commit failure, a
//   kStorageFull -> kFailed        failed sync, or ReportDataLoss()
//   kRunning     -> kDraining      StopAccepting() or Shutdown()
//   kStorageFull -> kDraining      StopAccepting() or Shutdown()
//   kDraining    -> kStopped       Shutdown(): the queue was appended, the
//   kFailed      -> kStopped       threads joined
// Only kRunning accepts batches. kFailed is final until the process
// restarts; it keeps serving reads and checkpoints of the committed head,
// except after DataLoss, when it signs nothing more.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
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
#include "node/metrics.h"
#include "node/rollback_guard.h"

namespace ledger::node {

struct SequencerOptions {
  size_t max_group_events = 20000;
  // Admitted and not yet completed (queued, being written or synced).
  size_t max_queued_events = 200000;
  size_t max_queued_bytes = size_t{256} << 20;  // canonical event bytes
  CheckpointPolicy checkpoint;
  // How often a sequencer whose disk was full tries to resume.
  int64_t resume_interval_ns = 1'000'000'000;
  // Start() holds appends (kVerifying) until ReleaseWrites().
  bool hold_writes = false;
  // Each committed head is recorded here, synced, before its group is
  // acknowledged (after Coordinator::Commit: a cluster may still discard
  // a head that is written but not committed). Not owned; nullptr: not
  // recorded.
  AckedHeadRecord* acked_head = nullptr;
  // Group sizes, commit latency, pushback and the checkpoint time are
  // recorded here (not owned; nullptr: not recorded).
  NodeMetrics* metrics = nullptr;
};

enum class SequencerState {
  kNew,
  kVerifying,
  kRunning,
  kStorageFull,
  kDraining,
  kFailed,
  kStopped,
};
std::string_view SequencerStateName(SequencerState state);

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
            RollbackGuard* guard, SequencerOptions options);
  ~Sequencer();  // Shutdown()
  Sequencer(const Sequencer&) = delete;
  Sequencer& operator=(const Sequencer&) = delete;

  // Called with the new state and its reason on every transition, on the
  // thread that made it, never under the sequencer's lock: for kFailed
  // after DataLoss (ReportDataLoss, or a ledger that contradicts the
  // rollback guard) the reason is that DataLoss. Set before Start().
  void SetStateListener(
      std::function<void(SequencerState, const absl::Status&)> listener);

  // Issues a checkpoint now if none covers the committed head (an error
  // here is returned and nothing starts), then starts the threads.
  absl::Status Start();

  // Queues a batch. Never blocks. Unless the sequencer is kRunning the
  // returned handle is already complete with Unavailable (saying why); past
  // the admission bounds, with ResourceExhausted and a retry hint
  // (RetryAfterMs).
  std::shared_ptr<PendingAppend> Submit(ledger::VerifiedBatch batch);
  // As Submit, but a refused batch is left to the caller (to submit again
  // later): returns the refusal, or OK and sets `*pending`.
  absl::Status TrySubmit(ledger::VerifiedBatch&& batch,
                         std::shared_ptr<PendingAppend>* pending);
  // Submit(batch)->Wait().
  ledger::AppendResult Append(ledger::VerifiedBatch batch);

  // What Submit would say now about a batch of this size, before it is
  // verified (so a full node does not spend CPU on batches it will refuse):
  // OK, Unavailable or ResourceExhausted.
  absl::Status CheckAdmission(size_t events, size_t bytes) const;
  // Calls `callback` once a batch of this size would be admitted, or the
  // sequencer no longer accepts batches: at once if so now, else later on
  // the thread that frees the space. Never under the lock.
  void WhenSpace(size_t events, size_t bytes,
                 absl::AnyInvocable<void() &&> callback);
  // The client's suggested wait after ResourceExhausted, in milliseconds.
  int64_t RetryAfterMs() const;

  // OK while batches are accepted; otherwise why not.
  absl::Status write_status() const;
  SequencerState state() const;

  // Enters kFailed with `cause` (DataLoss found by a scrub): no more
  // writes and no more checkpoints.
  void ReportDataLoss(const absl::Status& cause);
  // kVerifying -> kRunning: the node's indexes are verified. Before
  // Start() (a cluster node that does not lead yet): Start() then goes to
  // kRunning even with hold_writes.
  void ReleaseWrites();
  // Before Start(): the status Submit and CheckAdmission answer with (a
  // cluster follower names the leader). Ignored once started.
  void SetNotStartedReason(const absl::Status& reason);

  // New submissions fail with Unavailable "node is shutting down"; queued
  // batches still complete. Idempotent.
  void StopAccepting();
  // StopAccepting(), append everything queued, issue a final checkpoint if
  // the last one does not cover the head, join the threads. Idempotent.
  void Shutdown();

  // Waits until a checkpoint covering `min_size` entries is stored, the
  // sequencer stops, or `timeout` passes; true in the first case.
  bool WaitForCheckpoint(uint64_t min_size, absl::Duration timeout);
  // A cluster follower stored a checkpoint of `size` entries that its
  // leader issued: wakes WaitForCheckpoint's callers.
  void CheckpointStored(uint64_t size);

  // Makes the thread re-read the clock now (tests move a FakeClock).
  void Poke();

  // For tests and metrics: groups written (Ledger::AppendNoSync calls) and
  // checkpoints issued by this sequencer, and events admitted now.
  uint64_t append_calls() const;
  uint64_t checkpoints_issued() const;
  size_t admitted_events() const;
  // Waits until checkpoints_issued() >= n or `timeout`; true in the first
  // case.
  bool WaitForCheckpointsIssued(uint64_t n, absl::Duration timeout);
  // Waits until append_calls() >= n or `timeout`; true in the first case.
  bool WaitForAppendCalls(uint64_t n, absl::Duration timeout);
  // Waits until state() == `state` or `timeout`; true in the first case.
  bool WaitForState(SequencerState state, absl::Duration timeout);
  // Waits until a head of at least `size` entries is committed, or
  // `timeout`; true in the first case.
  bool WaitForCommitted(uint64_t size, absl::Duration timeout);
  // Waits until admitted_events() == `n`, or `timeout`; true in the first
  // case.
  bool WaitForAdmittedEvents(size_t n, absl::Duration timeout);
  // WhenSpace callbacks waiting for room now.
  size_t space_waiters() const;
  // Waits until space_waiters() == `n`, or `timeout`; true in the first
  // case.
  bool WaitForSpaceWaiters(size_t n, absl::Duration timeout);

  // Test hooks.
  //
  // Poke(), then waits until the sequencer thread has taken the poke (it
  // re-read the clock and decided about a checkpoint) and waits for work
  // again; false if it does not wait within `timeout` (it keeps finding
  // something to do, or it stopped).
  bool PokeAndWaitForIdleForTesting(absl::Duration timeout);
  // While commits are held the publisher takes written groups but makes
  // none durable, as if its sync or commit hung: admitted batches stay
  // admitted and the queue fills up behind them. For tests that run a whole
  // node and cannot reach its coordinator. Shutdown() releases the hold.
  void HoldCommitsForTesting();
  void ReleaseCommitsForTesting();
  // Every later commit fails with `status` instead of reaching the
  // coordinator, as if the coordinator refused it.
  void FailCommitsForTesting(absl::Status status);

 private:
  struct Item {
    ledger::VerifiedBatch batch;
    std::shared_ptr<PendingAppend> pending;
    size_t bytes = 0;
    // When it was admitted (steady clock), for the commit latency metric.
    std::chrono::steady_clock::time_point admitted;
  };
  // A group written but not yet durable.
  struct WrittenGroup {
    std::vector<Item> items;
    std::vector<ledger::AppendResult> results;
    ledger::Head head;  // the written head after this group
  };
  struct SpaceWaiter {
    size_t events;
    size_t bytes;
    absl::AnyInvocable<void() &&> callback;
  };
  // What to run once the lock is released.
  struct Deferred {
    std::vector<std::pair<std::shared_ptr<PendingAppend>, ledger::AppendResult>>
        completions;
    std::vector<absl::AnyInvocable<void() &&>> callbacks;
    std::optional<std::pair<SequencerState, absl::Status>> transition;
  };

  void Run();
  void RunPublisher();
  // Waits for queued work, a stop request, a poke, the checkpoint deadline
  // or the next resume attempt; then takes the next group.
  std::vector<Item> NextGroup(bool* exit) ABSL_LOCKS_EXCLUDED(mu_);
  void WriteGroup(std::vector<Item>& group) ABSL_LOCKS_EXCLUDED(mu_);
  void PublishGroups(std::vector<WrittenGroup>& groups)
      ABSL_LOCKS_EXCLUDED(mu_);
  void TryResume() ABSL_LOCKS_EXCLUDED(mu_);
  // Runs what was deferred. Lock not held.
  void RunDeferred(Deferred& deferred) ABSL_LOCKS_EXCLUDED(mu_);

  // Completes `item` with `result` (deferred) and releases its admission.
  void CompleteLocked(Item& item, ledger::AppendResult result,
                      Deferred& deferred) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves to `state` (recording the transition); fails everything queued
  // unless the new state still accepts it.
  void TransitionLocked(SequencerState state, const absl::Status& reason,
                        Deferred& deferred) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Enters kFailed (keeps the first cause). `commit_failed`: the cause is
  // the coordinator's refusal of a commit, which the message says.
  void FailLocked(const absl::Status& cause, Deferred& deferred,
                  bool commit_failed = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a batch of this size fits now (kRunning aside).
  bool FitsLocked(size_t events, size_t bytes) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AdmissionLocked(size_t events, size_t bytes) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Space waiters that fit now (or all of them if not kRunning).
  void WakeSpaceWaitersLocked(Deferred& deferred)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // When the next checkpoint is due (UTC ns).
  int64_t CheckpointDue() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Signs, guards and stores a checkpoint of the committed head.
  // `not_cosigned` (if given) is set when the coordinator could not gather
  // the cosignatures (Coordinator::Cosign).
  absl::Status IssueCheckpoint(bool* not_cosigned = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The time a stored checkpoint was signed (its cosignature timestamp).
  int64_t IssuedAt(const ledger::StoredCheckpoint& checkpoint) const;

  ledger::Ledger* const ledger_;
  Coordinator* const coordinator_;
  const Clock* const clock_;
  const NodeIdentity* const identity_;
  RollbackGuard* const guard_;
  const SequencerOptions options_;
  std::function<void(SequencerState, const absl::Status&)> listener_;

  // Sequencer thread only (and Start(), before the thread exists).
  std::optional<LastCheckpoint> last_checkpoint_;
  int64_t checkpoint_retry_at_ns_ = 0;

  mutable Mutex mu_;
  SequencerState state_ ABSL_GUARDED_BY(mu_) = SequencerState::kNew;
  absl::Status reason_ ABSL_GUARDED_BY(mu_);  // why not kRunning
  // The damage reported (kFailed): nothing more is signed.
  absl::Status data_loss_ ABSL_GUARDED_BY(mu_);
  bool stop_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool released_before_start_ ABSL_GUARDED_BY(mu_) = false;
  int64_t resume_at_ns_ ABSL_GUARDED_BY(mu_) = 0;  // kStorageFull
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_events_ ABSL_GUARDED_BY(mu_) = 0;  // events in queue_
  size_t admitted_events_ ABSL_GUARDED_BY(mu_) = 0;
  size_t admitted_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<SpaceWaiter> space_waiters_ ABSL_GUARDED_BY(mu_);
  // Pipeline between the threads: written groups waiting for the
  // publisher, in order; whether it is syncing; whether the writer exited.
  std::deque<WrittenGroup> written_ ABSL_GUARDED_BY(mu_);
  bool syncing_ ABSL_GUARDED_BY(mu_) = false;
  bool writer_exited_ ABSL_GUARDED_BY(mu_) = false;
  bool publisher_exited_ ABSL_GUARDED_BY(mu_) = false;
  bool poked_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t committed_size_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t checkpoint_size_ ABSL_GUARDED_BY(mu_) = 0;
  bool have_checkpoint_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t append_calls_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t checkpoints_issued_ ABSL_GUARDED_BY(mu_) = 0;
  // Test hooks: the sequencer thread waits in NextGroup; commits are held;
  // commits fail with this.
  bool waiting_for_work_ ABSL_GUARDED_BY(mu_) = false;
  bool hold_commits_for_testing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status commit_failure_for_testing_ ABSL_GUARDED_BY(mu_);

  Mutex join_mu_;
  std::thread thread_ ABSL_GUARDED_BY(join_mu_);
  std::thread publisher_ ABSL_GUARDED_BY(join_mu_);
};

}  // namespace ledger::node
