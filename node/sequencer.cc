#include "node/sequencer.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "base/check.h"
#include "base/strings.h"
#include "base/sync.h"
#include "crypto/note.h"
#include "ledger/checkpoint.h"

namespace ledger::node {
namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;

// A deadline that never comes.
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

// Written groups that may wait for the publisher while it syncs: one. The
// writer then waits, batches keep queueing, and the next group is larger;
// one sync per group pair is all the overlap there is to win.
constexpr size_t kMaxWaitingGroups = 1;

// While the publisher is syncing, a group written now waits for the next
// sync anyway: writing it early only pays when it is big enough for the
// overlap to matter. Smaller groups wait for the sync to end, so one sync
// covers everyone who arrived during it (many clients with one event each
// would otherwise get a sync per handful of events).
constexpr size_t kMinOverlappedGroupEvents = 256;

std::string_view View(const absl::Status& s) { return ToStd(s.message()); }

size_t BatchBytes(const ledger::VerifiedBatch& batch) {
  size_t bytes = 0;
  for (const std::string& b : batch.event_bytes()) bytes += b.size();
  return bytes;
}

}  // namespace

std::string_view SequencerStateName(SequencerState state) {
  switch (state) {
    case SequencerState::kNew:
      return "new";
    case SequencerState::kVerifying:
      return "verifying";
    case SequencerState::kRunning:
      return "running";
    case SequencerState::kStorageFull:
      return "storage full";
    case SequencerState::kDraining:
      return "draining";
    case SequencerState::kFailed:
      return "failed";
    case SequencerState::kStopped:
      return "stopped";
  }
  return "unknown";
}

PendingAppend::PendingAppend(ledger::AppendResult result)
    : done_(true), result_(std::move(result)) {}

ledger::AppendResult PendingAppend::Wait() {
  MutexLock lock(&mu_);
  mu_.Await([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done_; });
  return std::move(result_);
}

bool PendingAppend::done() const {
  MutexLock lock(&mu_);
  return done_;
}

void PendingAppend::OnDone(
    absl::AnyInvocable<void(ledger::AppendResult) &&> callback) {
  ledger::AppendResult result;
  {
    MutexLock lock(&mu_);
    if (!done_) {
      on_done_ = std::move(callback);
      return;
    }
    result = std::move(result_);
  }
  std::move(callback)(std::move(result));
}

void PendingAppend::Complete(ledger::AppendResult result) {
  absl::AnyInvocable<void(ledger::AppendResult) &&> callback;
  {
    MutexLock lock(&mu_);
    LEDGER_CHECK(!done_, "an append was completed twice");
    done_ = true;
    if (on_done_ == nullptr) {
      result_ = std::move(result);
      return;
    }
    callback = std::move(on_done_);
  }
  std::move(callback)(std::move(result));
}

Sequencer::Sequencer(ledger::Ledger* ledger, Coordinator* coordinator,
                     const Clock* clock, const NodeIdentity* identity,
                     RollbackGuard* guard, SequencerOptions options)
    : ledger_(ledger),
      coordinator_(coordinator),
      clock_(clock),
      identity_(identity),
      guard_(guard),
      options_(options) {}

Sequencer::~Sequencer() { Shutdown(); }

void Sequencer::SetStateListener(
    std::function<void(SequencerState, const absl::Status&)> listener) {
  listener_ = std::move(listener);
}

absl::Status Sequencer::Start() {
  const uint64_t committed = coordinator_->Committed().size;
  std::optional<ledger::StoredCheckpoint> latest = ledger_->LatestCheckpoint();
  {
    MutexLock lock(&mu_);
    committed_size_ = committed;
    if (latest.has_value()) {
      checkpoint_size_ = latest->size;
      have_checkpoint_ = true;
    }
  }
  if (latest.has_value() && latest->size == committed) {
    last_checkpoint_ = LastCheckpoint{latest->size, IssuedAt(*latest)};
    if (options_.metrics != nullptr) {
      options_.metrics->SetCheckpointIssued(last_checkpoint_->issued_at_ns);
    }
  } else {
    bool not_cosigned = false;
    if (absl::Status s = IssueCheckpoint(&not_cosigned); !s.ok()) {
      // A cluster leader whose followers cannot cosign yet (catching up,
      // or down) leads anyway; the next checkpoint is tried a second
      // later, and readers keep the last one. Anything else (signing, the
      // guard, the store) stops the start.
      if (!not_cosigned) return s;
      spdlog::warn("no start-up checkpoint yet (retrying in {} ms): {}",
                   options_.checkpoint.checkpoint_interval_ns / 1'000'000,
                   View(s));
    }
  }
  Deferred deferred;
  {
    MutexLock lock(&mu_);
    if (options_.hold_writes && !released_before_start_) {
      TransitionLocked(
          SequencerState::kVerifying,
          absl::UnavailableError(
              "the node is verifying its indexes after a start; appends are "
              "accepted once that is done (seconds per ten million entries); "
              "retry shortly"),
          deferred);
    } else {
      TransitionLocked(SequencerState::kRunning, absl::OkStatus(), deferred);
    }
  }
  RunDeferred(deferred);
  MutexLock lock(&join_mu_);
  publisher_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "publisher");
    RunPublisher();
  });
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sequencer");
    Run();
  });
  return absl::OkStatus();
}

bool Sequencer::FitsLocked(size_t events, size_t bytes) const {
  // A batch larger than the bounds still goes in alone, or never could.
  if (admitted_events_ == 0) return true;
  return admitted_events_ + events <= options_.max_queued_events &&
         admitted_bytes_ + bytes <= options_.max_queued_bytes;
}

int64_t Sequencer::RetryAfterMs() const {
  MutexLock lock(&mu_);
  // About the time to drain what is admitted at tens of thousands of events
  // a second, kept within [10 ms, 1 s].
  return std::clamp<int64_t>(static_cast<int64_t>(admitted_events_ / 50), 10,
                             1000);
}

absl::Status Sequencer::AdmissionLocked(size_t events, size_t bytes) const {
  if (state_ != SequencerState::kRunning) {
    if (!reason_.ok()) return reason_;
    return absl::UnavailableError("the node is not accepting appends yet");
  }
  if (FitsLocked(events, bytes)) return absl::OkStatus();
  if (options_.metrics != nullptr) options_.metrics->RecordPushback();
  const int64_t retry_ms = std::clamp<int64_t>(
      static_cast<int64_t>(admitted_events_ / 50), 10, 1000);
  return absl::ResourceExhaustedError(
      StrCat("the node's append queue is full (", admitted_events_, " events, ",
             admitted_bytes_, " bytes waiting; limits ",
             options_.max_queued_events, " events, ", options_.max_queued_bytes,
             " bytes); retry in ", retry_ms, " ms"));
}

absl::Status Sequencer::CheckAdmission(size_t events, size_t bytes) const {
  MutexLock lock(&mu_);
  return AdmissionLocked(events, bytes);
}

absl::Status Sequencer::TrySubmit(ledger::VerifiedBatch&& batch,
                                  std::shared_ptr<PendingAppend>* pending) {
  const size_t events = batch.size();
  const size_t bytes = BatchBytes(batch);
  MutexLock lock(&mu_);
  if (absl::Status s = AdmissionLocked(events, bytes); !s.ok()) return s;
  *pending = std::make_shared<PendingAppend>();
  queued_events_ += events;
  admitted_events_ += events;
  admitted_bytes_ += bytes;
  queue_.push_back(Item{std::move(batch), *pending, bytes,
                        std::chrono::steady_clock::now()});
  return absl::OkStatus();
}

std::shared_ptr<PendingAppend> Sequencer::Submit(ledger::VerifiedBatch batch) {
  std::shared_ptr<PendingAppend> pending;
  if (absl::Status s = TrySubmit(std::move(batch), &pending); !s.ok()) {
    return std::make_shared<PendingAppend>(ledger::AppendResult{s, {}});
  }
  return pending;
}

ledger::AppendResult Sequencer::Append(ledger::VerifiedBatch batch) {
  return Submit(std::move(batch))->Wait();
}

void Sequencer::WhenSpace(size_t events, size_t bytes,
                          absl::AnyInvocable<void() &&> callback) {
  {
    MutexLock lock(&mu_);
    if (state_ == SequencerState::kRunning && !FitsLocked(events, bytes)) {
      space_waiters_.push_back(SpaceWaiter{events, bytes, std::move(callback)});
      return;
    }
  }
  std::move(callback)();
}

void Sequencer::WakeSpaceWaitersLocked(Deferred& deferred) {
  // Reserve as we go, so the waiters woken fit together.
  size_t events = admitted_events_, bytes = admitted_bytes_;
  while (!space_waiters_.empty()) {
    SpaceWaiter& w = space_waiters_.front();
    if (state_ == SequencerState::kRunning && events != 0 &&
        (events + w.events > options_.max_queued_events ||
         bytes + w.bytes > options_.max_queued_bytes)) {
      break;
    }
    events += w.events;
    bytes += w.bytes;
    deferred.callbacks.push_back(std::move(w.callback));
    space_waiters_.pop_front();
  }
}

absl::Status Sequencer::write_status() const {
  MutexLock lock(&mu_);
  if (state_ == SequencerState::kRunning) return absl::OkStatus();
  if (!reason_.ok()) return reason_;
  return absl::UnavailableError(
      StrCat("the sequencer is ", SequencerStateName(state_)));
}

SequencerState Sequencer::state() const {
  MutexLock lock(&mu_);
  return state_;
}

void Sequencer::CompleteLocked(Item& item, ledger::AppendResult result,
                               Deferred& deferred) {
  LEDGER_CHECK(
      admitted_events_ >= item.batch.size() && admitted_bytes_ >= item.bytes,
      "admission underflow");
  admitted_events_ -= item.batch.size();
  admitted_bytes_ -= item.bytes;
  if (options_.metrics != nullptr) {
    const auto waited = std::chrono::steady_clock::now() - item.admitted;
    options_.metrics->commit_latency_us.Observe(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(waited).count()));
  }
  deferred.completions.emplace_back(std::move(item.pending), std::move(result));
}

void Sequencer::TransitionLocked(SequencerState state,
                                 const absl::Status& reason,
                                 Deferred& deferred) {
  state_ = state;
  reason_ = reason;
  deferred.transition = std::make_pair(state, reason);
  if (state == SequencerState::kStorageFull ||
      state == SequencerState::kFailed || state == SequencerState::kStopped) {
    for (Item& item : queue_) {
      CompleteLocked(item, ledger::AppendResult{reason_, {}}, deferred);
    }
    queue_.clear();
    queued_events_ = 0;
  }
  WakeSpaceWaitersLocked(deferred);
}

void Sequencer::FailLocked(const absl::Status& cause, Deferred& deferred,
                           bool commit_failed) {
  if (state_ == SequencerState::kFailed &&
      (!data_loss_.ok() || !absl::IsDataLoss(cause))) {
    return;  // keep the first cause, unless this one is corruption
  }
  // A failed commit is the coordinator's refusal (in a cluster: this node
  // no longer leads, or no majority answered), not the disk's.
  const std::string what =
      absl::IsDataLoss(cause) ? "the node found corrupt data"
      : commit_failed         ? "its entries could not be committed"
                              : "a storage failure";
  spdlog::error("this node stops accepting writes after {}: {}", what,
                View(cause));
  TransitionLocked(SequencerState::kFailed,
                   absl::UnavailableError(
                       StrCat("node stopped accepting writes after ", what,
                              " (see the node log): ", View(cause))),
                   deferred);
  if (absl::IsDataLoss(cause)) {
    data_loss_ = cause;                   // checkpoints stop too
    deferred.transition->second = cause;  // and the listener knows why
  }
}

void Sequencer::RunDeferred(Deferred& deferred) {
  if (deferred.transition.has_value() && listener_) {
    listener_(deferred.transition->first, deferred.transition->second);
  }
  for (auto& [pending, result] : deferred.completions) {
    pending->Complete(std::move(result));
  }
  for (auto& callback : deferred.callbacks) std::move(callback)();
  deferred = Deferred{};
}

void Sequencer::ReportDataLoss(const absl::Status& cause) {
  Deferred deferred;
  {
    MutexLock lock(&mu_);
    if (state_ == SequencerState::kStopped) return;
    FailLocked(cause, deferred);
  }
  RunDeferred(deferred);
}

void Sequencer::ReleaseWrites() {
  Deferred deferred;
  {
    MutexLock lock(&mu_);
    if (state_ == SequencerState::kNew) released_before_start_ = true;
    if (state_ != SequencerState::kVerifying) return;
    TransitionLocked(SequencerState::kRunning, absl::OkStatus(), deferred);
  }
  RunDeferred(deferred);
}

void Sequencer::SetNotStartedReason(const absl::Status& reason) {
  MutexLock lock(&mu_);
  if (state_ == SequencerState::kNew) reason_ = reason;
}

void Sequencer::StopAccepting() {
  Deferred deferred;
  {
    MutexLock lock(&mu_);
    if (state_ == SequencerState::kRunning ||
        state_ == SequencerState::kVerifying ||
        state_ == SequencerState::kStorageFull) {
      TransitionLocked(SequencerState::kDraining,
                       absl::UnavailableError(
                           "node is shutting down; retry on another node or "
                           "after it restarts"),
                       deferred);
    }
  }
  RunDeferred(deferred);
}

void Sequencer::Shutdown() {
  StopAccepting();
  {
    MutexLock lock(&mu_);
    stop_requested_ = true;
    hold_commits_for_testing_ = false;
  }
  {
    MutexLock join_lock(&join_mu_);
    if (thread_.joinable()) thread_.join();  // it also ends the publisher
    if (publisher_.joinable()) publisher_.join();
  }
  Deferred deferred;
  {
    MutexLock lock(&mu_);
    if (state_ != SequencerState::kStopped) {
      // Without threads (never started) nothing drained the queue.
      TransitionLocked(SequencerState::kStopped,
                       !data_loss_.ok()
                           ? reason_
                           : absl::UnavailableError("node is shutting down"),
                       deferred);
    }
  }
  RunDeferred(deferred);
}

void Sequencer::Poke() {
  MutexLock lock(&mu_);
  poked_ = true;
}

bool Sequencer::WaitForCheckpoint(uint64_t min_size, absl::Duration timeout) {
  MutexLock lock(&mu_);
  auto covered = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return have_checkpoint_ && checkpoint_size_ >= min_size;
  };
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return covered() || state_ == SequencerState::kStopped;
  };
  mu_.AwaitWithTimeout(done, timeout);
  return covered();
}

void Sequencer::CheckpointStored(uint64_t size) {
  MutexLock lock(&mu_);
  if (!have_checkpoint_ || size > checkpoint_size_) checkpoint_size_ = size;
  have_checkpoint_ = true;
}

bool Sequencer::WaitForCheckpointsIssued(uint64_t n, absl::Duration timeout) {
  MutexLock lock(&mu_);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return checkpoints_issued_ >= n;
  };
  return mu_.AwaitWithTimeout(done, timeout);
}

bool Sequencer::WaitForAppendCalls(uint64_t n, absl::Duration timeout) {
  MutexLock lock(&mu_);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return append_calls_ >= n;
  };
  return mu_.AwaitWithTimeout(done, timeout);
}

bool Sequencer::WaitForState(SequencerState state, absl::Duration timeout) {
  MutexLock lock(&mu_);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return state_ == state;
  };
  return mu_.AwaitWithTimeout(done, timeout);
}

bool Sequencer::WaitForCommitted(uint64_t size, absl::Duration timeout) {
  MutexLock lock(&mu_);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return committed_size_ >= size;
  };
  return mu_.AwaitWithTimeout(done, timeout);
}

bool Sequencer::WaitForAdmittedEvents(size_t n, absl::Duration timeout) {
  MutexLock lock(&mu_);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return admitted_events_ == n;
  };
  return mu_.AwaitWithTimeout(done, timeout);
}

size_t Sequencer::space_waiters() const {
  MutexLock lock(&mu_);
  return space_waiters_.size();
}

bool Sequencer::WaitForSpaceWaiters(size_t n, absl::Duration timeout) {
  MutexLock lock(&mu_);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return space_waiters_.size() == n;
  };
  return mu_.AwaitWithTimeout(done, timeout);
}

bool Sequencer::PokeAndWaitForIdleForTesting(absl::Duration timeout) {
  MutexLock lock(&mu_);
  poked_ = true;
  // The thread clears poked_ when it takes the poke, and waits for work
  // again only after finishing that pass.
  auto idle = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !poked_ && waiting_for_work_;
  };
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return idle() || writer_exited_;
  };
  mu_.AwaitWithTimeout(done, timeout);
  return idle();
}

void Sequencer::HoldCommitsForTesting() {
  MutexLock lock(&mu_);
  hold_commits_for_testing_ = true;
}

void Sequencer::ReleaseCommitsForTesting() {
  MutexLock lock(&mu_);
  hold_commits_for_testing_ = false;
}

void Sequencer::FailCommitsForTesting(absl::Status status) {
  MutexLock lock(&mu_);
  commit_failure_for_testing_ = std::move(status);
}

uint64_t Sequencer::append_calls() const {
  MutexLock lock(&mu_);
  return append_calls_;
}

uint64_t Sequencer::checkpoints_issued() const {
  MutexLock lock(&mu_);
  return checkpoints_issued_;
}

size_t Sequencer::admitted_events() const {
  MutexLock lock(&mu_);
  return admitted_events_;
}

void Sequencer::Run() {
  for (;;) {
    bool exit = false;
    std::vector<Item> group = NextGroup(&exit);
    if (!group.empty()) WriteGroup(group);
    bool due = false, resume = false, signing = true;
    {
      MutexLock lock(&mu_);
      const int64_t now = clock_->NowNs();
      due = now >= CheckpointDue();
      resume = state_ == SequencerState::kStorageFull && now >= resume_at_ns_;
      signing = data_loss_.ok();
    }
    if (resume) TryResume();
    if (exit) break;
    if (due && signing) {
      if (absl::Status s = IssueCheckpoint(); !s.ok()) {
        spdlog::error("cannot issue a checkpoint (retrying in {} ms): {}",
                      options_.checkpoint.checkpoint_interval_ns / 1'000'000,
                      View(s));
      }
    }
  }
  // Let the publisher finish every written group, then cover the head.
  uint64_t committed = 0;
  bool signing = true;
  {
    MutexLock lock(&mu_);
    writer_exited_ = true;
    mu_.Await([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return publisher_exited_;
    });
    committed = committed_size_;
    signing = data_loss_.ok();
  }
  if (signing &&
      (!last_checkpoint_.has_value() || last_checkpoint_->size != committed)) {
    if (absl::Status s = IssueCheckpoint(); !s.ok()) {
      spdlog::error("cannot issue the final checkpoint: {}", View(s));
    }
  }
}

std::vector<Sequencer::Item> Sequencer::NextGroup(bool* exit) {
  MutexLock lock(&mu_);
  auto can_write = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return written_.size() < kMaxWaitingGroups &&
           (!syncing_ || stop_requested_ ||
            queued_events_ >= kMinOverlappedGroupEvents);
  };
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return (can_write() && (!queue_.empty() || stop_requested_)) || poked_;
  };
  while (!ready()) {
    int64_t deadline = CheckpointDue();
    if (state_ == SequencerState::kStorageFull) {
      deadline = std::min(deadline, resume_at_ns_);
    }
    const int64_t now = clock_->NowNs();
    if (deadline <= now) break;
    waiting_for_work_ = true;
    if (deadline == kNever) {
      mu_.Await(ready);
    } else {
      mu_.AwaitWithTimeout(ready, absl::Nanoseconds(deadline - now));
    }
    waiting_for_work_ = false;
  }
  poked_ = false;
  std::vector<Item> group;
  size_t events = 0;
  // At least one batch, however large; then whole batches while they fit.
  while (can_write() && !queue_.empty()) {
    size_t n = queue_.front().batch.size();
    if (!group.empty() && events + n > options_.max_group_events) break;
    events += n;
    queued_events_ -= n;
    group.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  *exit = stop_requested_ && queue_.empty();
  return group;
}

void Sequencer::WriteGroup(std::vector<Item>& group) {
  std::vector<const ledger::VerifiedBatch*> batches;
  batches.reserve(group.size());
  size_t events = 0;
  for (const Item& item : group) {
    batches.push_back(&item.batch);
    events += item.batch.size();
  }
  if (options_.metrics != nullptr)
    options_.metrics->group_events.Observe(events);
  ledger::GroupResult result = ledger_->AppendNoSync(batches, clock_->NowNs());
  if (result.status.ok() && result.batches.size() != group.size()) {
    result.status =
        absl::InternalError(StrCat("ledger returned ", result.batches.size(),
                                   " results for ", group.size(), " batches"));
  }
  Deferred deferred;
  {
    MutexLock lock(&mu_);
    ++append_calls_;
    if (!result.status.ok()) {
      if (absl::IsResourceExhausted(result.status) &&
          state_ == SequencerState::kRunning) {
        // Nothing of the group was written: the node can resume as it is.
        spdlog::error("the disk is full; writes stop until {} MiB are free: {}",
                      ledger_->SpaceNeededToResume() >> 20,
                      View(result.status));
        resume_at_ns_ = clock_->NowNs() + options_.resume_interval_ns;
        TransitionLocked(SequencerState::kStorageFull,
                         absl::UnavailableError(StrCat(
                             "the node's disk is full; writes resume once ",
                             ledger_->SpaceNeededToResume() >> 20,
                             " MiB are free: ", View(result.status))),
                         deferred);
      } else if (!absl::IsResourceExhausted(result.status)) {
        FailLocked(result.status, deferred);
      }
      // What the clients hear: the state's reason, or (draining, or the
      // disk filled up again) the cause itself.
      const absl::Status client =
          state_ == SequencerState::kFailed ||
                  state_ == SequencerState::kStorageFull
              ? reason_
              : absl::UnavailableError(
                    StrCat("appending failed: ", View(result.status)));
      for (Item& item : group) {
        CompleteLocked(item, ledger::AppendResult{client, {}}, deferred);
      }
    } else if (state_ == SequencerState::kFailed ||
               state_ == SequencerState::kStorageFull) {
      // A sync failed meanwhile: this group builds on what failed, so it
      // is not acknowledged (its own rejections still are what they are).
      for (size_t i = 0; i < group.size(); ++i) {
        const absl::Status& own = result.batches[i].status;
        CompleteLocked(group[i],
                       ledger::AppendResult{own.ok() ? reason_ : own, {}},
                       deferred);
      }
    } else {
      written_.push_back(WrittenGroup{std::move(group),
                                      std::move(result.batches),
                                      ledger_->written_head()});
    }
  }
  RunDeferred(deferred);
}

void Sequencer::TryResume() {
  absl::Status s = ledger_->ResumeAfterNoSpace();
  Deferred deferred;
  {
    MutexLock lock(&mu_);
    if (state_ != SequencerState::kStorageFull) return;
    if (s.ok()) {
      spdlog::info("disk space is back; the node accepts writes again");
      TransitionLocked(SequencerState::kRunning, absl::OkStatus(), deferred);
    } else {
      resume_at_ns_ = clock_->NowNs() + options_.resume_interval_ns;
      reason_ =
          absl::UnavailableError(StrCat("the node's disk is full; ", View(s)));
    }
  }
  RunDeferred(deferred);
}

void Sequencer::RunPublisher() {
  for (;;) {
    std::vector<WrittenGroup> groups;
    {
      MutexLock lock(&mu_);
      mu_.Await([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !written_.empty() || writer_exited_;
      });
      if (written_.empty()) {  // and the writer exited
        publisher_exited_ = true;
        return;
      }
      syncing_ = true;
      while (!written_.empty()) {
        groups.push_back(std::move(written_.front()));
        written_.pop_front();
      }
    }
    PublishGroups(groups);
  }
}

void Sequencer::PublishGroups(std::vector<WrittenGroup>& groups) {
  const ledger::Head head = groups.back().head;
  absl::Status failure;
  bool commit_failed = false;
  absl::Status commit_failure;  // test hook
  uint64_t committed = 0;
  {
    MutexLock lock(&mu_);
    mu_.Await([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !hold_commits_for_testing_;
    });
    // Later groups build on what failed: fail them too.
    if (state_ == SequencerState::kFailed) failure = reason_;
    committed = committed_size_;
    commit_failure = commit_failure_for_testing_;
  }
  if (failure.ok()) {
    if (absl::Status s = ledger_->Publish(head); !s.ok()) {
      failure = Annotate(
          s, StrCat("making entries up to size ", head.size, " durable"));
    } else if (head.size != committed) {
      if (absl::Status c =
              commit_failure.ok() ? coordinator_->Commit(head) : commit_failure;
          !c.ok()) {
        commit_failed = true;
        failure = absl::UnavailableError(
            StrCat("entries up to size ", head.size,
                   " could not be committed: ", View(c)));
      }
    }
    // Recorded once committed (and before any append is acknowledged): on
    // a cluster node a head written but not committed may still be
    // discarded by the next leader, and a record of it would make this
    // node refuse its own, correct, log at the next start.
    if (failure.ok() && options_.acked_head != nullptr) {
      if (absl::Status s = options_.acked_head->Record(head); !s.ok()) {
        failure = Annotate(
            s, StrCat("recording the acknowledged head at size ", head.size));
      }
    }
  }
  Deferred deferred;
  {
    MutexLock lock(&mu_);
    if (!failure.ok()) FailLocked(failure, deferred, commit_failed);
    for (WrittenGroup& g : groups) {
      for (size_t i = 0; i < g.items.size(); ++i) {
        ledger::AppendResult& r = g.results[i];
        if (!failure.ok() && r.status.ok()) r = {reason_, {}};
        CompleteLocked(g.items[i], std::move(r), deferred);
      }
    }
    if (failure.ok()) committed_size_ = head.size;
    syncing_ = false;
    poked_ = true;  // the checkpoint deadline, and small groups, wait on this
    WakeSpaceWaitersLocked(deferred);
  }
  RunDeferred(deferred);
}

int64_t Sequencer::CheckpointDue() const {
  // After DataLoss nothing more is signed: no checkpoint is ever due (were
  // one due, the thread would wake for it at once, again and again).
  if (!data_loss_.ok()) return kNever;
  // last_checkpoint_ and checkpoint_retry_at_ns_ belong to the sequencer
  // thread, the only caller.
  return std::max(
      CheckpointDueAt(options_.checkpoint, committed_size_, last_checkpoint_),
      checkpoint_retry_at_ns_);
}

absl::Status Sequencer::IssueCheckpoint(bool* not_cosigned) {
  const ledger::Head head = coordinator_->Committed();
  const int64_t now = clock_->NowNs();
  checkpoint_retry_at_ns_ = now + options_.checkpoint.checkpoint_interval_ns;
  // Never sign a checkpoint smaller than, or inconsistent with, the last
  // one this log signed.
  if (std::optional<ledger::Checkpoint> last = guard_->last()) {
    absl::Status wrong;
    if (head.size < last->size) {
      wrong = absl::DataLossError(
          StrCat("the committed head (", head.size,
                 " entries) is behind the last checkpoint this log signed (",
                 last->size, " entries)"));
    } else if (last->size > 0) {
      absl::StatusOr<Hash> root = ledger_->RootAt(last->size);
      if (!root.ok()) return Annotate(root.status(), "checking the guard");
      if (*root != last->root) {
        wrong = absl::DataLossError(StrCat(
            "the ledger's root at size ", last->size,
            " differs from the checkpoint of that size this log signed"));
      }
    }
    if (!wrong.ok()) {
      ReportDataLoss(wrong);
      return wrong;
    }
  }
  const ledger::Checkpoint checkpoint{
      ledger_->origin(), head.size, head.root, {}};
  const crypto::NoteSigner* signers[] = {&identity_->log_signer,
                                         &identity_->cosigner};
  absl::StatusOr<std::string> note = coordinator_->Cosign(
      crypto::SignNote(
          ledger::FormatCheckpointBody(checkpoint), signers,
          static_cast<uint64_t>(std::max<int64_t>(now, 0)) / kNanosPerSecond),
      checkpoint);
  if (!note.ok()) {
    if (not_cosigned != nullptr) *not_cosigned = true;
    return Annotate(note.status(),
                    StrCat("cosigning the checkpoint of size ", head.size));
  }
  // Durable in the guard before anyone can read it.
  if (absl::Status s = guard_->Record(*note, checkpoint); !s.ok()) {
    return Annotate(s, StrCat("signing the checkpoint of size ", head.size));
  }
  absl::StatusOr<uint64_t> sequence = ledger_->StoreCheckpoint(*note);
  if (!sequence.ok()) {
    return Annotate(sequence.status(),
                    StrCat("storing the checkpoint of size ", head.size));
  }
  checkpoint_retry_at_ns_ = 0;
  last_checkpoint_ = LastCheckpoint{head.size, now};
  if (options_.metrics != nullptr) options_.metrics->SetCheckpointIssued(now);
  spdlog::debug("checkpoint {} issued: size {}", *sequence, head.size);
  MutexLock lock(&mu_);
  checkpoint_size_ = head.size;
  have_checkpoint_ = true;
  ++checkpoints_issued_;
  return absl::OkStatus();
}

int64_t Sequencer::IssuedAt(const ledger::StoredCheckpoint& checkpoint) const {
  absl::StatusOr<ledger::VerifiedCheckpoint> opened = ledger::OpenCheckpoint(
      checkpoint.note, identity_->verifiers(), ledger_->origin());
  int64_t issued = 0;
  if (opened.ok()) {
    for (const crypto::VerifiedSignature& sig : opened->signatures) {
      if (sig.timestamp.has_value()) {
        issued = std::max(
            issued, static_cast<int64_t>(*sig.timestamp) * kNanosPerSecond);
      }
    }
  }
  // A checkpoint without a timestamp we trust counts as issued now.
  return issued != 0 ? issued : clock_->NowNs();
}

}  // namespace ledger::node
