#include "node/sequencer.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <utility>

#include "base/strings.h"
#include "base/sync.h"
#include "crypto/note.h"
#include "ledger/checkpoint.h"

namespace ledger::node {
namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;

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

// Ledger::Append fails every batch of a group with one of these when the
// store itself is in trouble; other codes reject one batch.
bool IsStorageFailure(absl::StatusCode code) {
  return code == absl::StatusCode::kInternal ||
         code == absl::StatusCode::kUnavailable ||
         code == absl::StatusCode::kDataLoss ||
         code == absl::StatusCode::kUnknown;
}

std::string_view View(const absl::Status& s) { return ToStd(s.message()); }

}  // namespace

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
                     SequencerOptions options)
    : ledger_(ledger),
      coordinator_(coordinator),
      clock_(clock),
      identity_(identity),
      options_(options) {}

Sequencer::~Sequencer() { Shutdown(); }

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
  } else if (absl::Status s = IssueCheckpoint(); !s.ok()) {
    return s;
  }
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

std::shared_ptr<PendingAppend> Sequencer::Submit(ledger::VerifiedBatch batch) {
  MutexLock lock(&mu_);
  if (!failure_.ok()) {
    return std::make_shared<PendingAppend>(ledger::AppendResult{failure_, {}});
  }
  if (!accepting_) {
    return std::make_shared<PendingAppend>(ledger::AppendResult{
        absl::UnavailableError("node is shutting down; retry on another "
                               "node or after it restarts"),
        {}});
  }
  auto pending = std::make_shared<PendingAppend>();
  queued_events_ += batch.size();
  queue_.push_back(Item{std::move(batch), pending});
  return pending;
}

ledger::AppendResult Sequencer::Append(ledger::VerifiedBatch batch) {
  return Submit(std::move(batch))->Wait();
}

void Sequencer::StopAccepting() {
  MutexLock lock(&mu_);
  accepting_ = false;
}

void Sequencer::Shutdown() {
  {
    MutexLock lock(&mu_);
    accepting_ = false;
    stop_ = true;
  }
  MutexLock join_lock(&join_mu_);
  if (thread_.joinable()) thread_.join();  // it also ends the publisher
  if (publisher_.joinable()) publisher_.join();
  // Without a thread (never started) nothing will drain the queue.
  MutexLock lock(&mu_);
  stopped_ = true;
  for (Item& item : queue_) {
    item.pending->Complete(ledger::AppendResult{
        absl::UnavailableError("node is shutting down"), {}});
  }
  queue_.clear();
  queued_events_ = 0;
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
    return covered() || stopped_;
  };
  mu_.AwaitWithTimeout(done, timeout);
  return covered();
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

uint64_t Sequencer::append_calls() const {
  MutexLock lock(&mu_);
  return append_calls_;
}

uint64_t Sequencer::checkpoints_issued() const {
  MutexLock lock(&mu_);
  return checkpoints_issued_;
}

void Sequencer::Run() {
  for (;;) {
    bool exit = false;
    std::vector<Item> group = NextGroup(&exit);
    if (!group.empty()) WriteGroup(group);
    if (exit) break;
    bool due = false;
    {
      MutexLock lock(&mu_);
      due = clock_->NowNs() >= CheckpointDue();
    }
    if (due) {
      if (absl::Status s = IssueCheckpoint(); !s.ok()) {
        spdlog::error("cannot issue a checkpoint (retrying in {} ms): {}",
                      options_.checkpoint.checkpoint_interval_ns / 1'000'000,
                      View(s));
      }
    }
  }
  // Let the publisher finish every written group, then cover the head.
  uint64_t committed = 0;
  {
    MutexLock lock(&mu_);
    writer_done_ = true;
    mu_.Await([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return publisher_done_;
    });
    committed = committed_size_;
  }
  if (!last_checkpoint_.has_value() || last_checkpoint_->size != committed) {
    if (absl::Status s = IssueCheckpoint(); !s.ok()) {
      spdlog::error("cannot issue the final checkpoint: {}", View(s));
    }
  }
  MutexLock lock(&mu_);
  stopped_ = true;
}

std::vector<Sequencer::Item> Sequencer::NextGroup(bool* exit) {
  MutexLock lock(&mu_);
  auto can_write = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return written_.size() < kMaxWaitingGroups &&
           (!publishing_ || stop_ ||
            queued_events_ >= kMinOverlappedGroupEvents);
  };
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return (can_write() && (!queue_.empty() || stop_)) || poked_;
  };
  while (!ready()) {
    int64_t wait_ns = CheckpointDue() - clock_->NowNs();
    if (wait_ns <= 0) break;
    mu_.AwaitWithTimeout(ready, absl::Nanoseconds(wait_ns));
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
  *exit = stop_ && queue_.empty();
  return group;
}

void Sequencer::FailItems(std::vector<Item>& items,
                          const std::vector<ledger::AppendResult>& results,
                          const absl::Status& failure) {
  for (size_t i = 0; i < items.size(); ++i) {
    const absl::Status& own =
        i < results.size() ? results[i].status : absl::OkStatus();
    items[i].pending->Complete(ledger::AppendResult{
        own.ok() || IsStorageFailure(own.code()) ? failure : own, {}});
  }
}

void Sequencer::WriteGroup(std::vector<Item>& group) {
  std::vector<const ledger::VerifiedBatch*> batches;
  batches.reserve(group.size());
  for (const Item& item : group) batches.push_back(&item.batch);
  ledger::GroupResult group_result =
      ledger_->AppendNoSync(batches, clock_->NowNs());
  std::vector<ledger::AppendResult> results = std::move(group_result.batches);
  absl::Status failure = group_result.status;
  if (!failure.ok()) results.assign(group.size(), {failure, {}});
  if (failure.ok() && results.size() != group.size()) {
    failure =
        absl::InternalError(StrCat("ledger returned ", results.size(),
                                   " results for ", group.size(), " batches"));
    results.assign(group.size(), ledger::AppendResult{failure, {}});
  }
  for (const ledger::AppendResult& r : results) {
    if (IsStorageFailure(r.status.code())) failure = r.status;
  }
  MutexLock lock(&mu_);
  ++append_calls_;
  if (failure.ok() && failure_.ok()) {
    written_.push_back(WrittenGroup{std::move(group), std::move(results),
                                    ledger_->written_head()});
    return;
  }
  if (failure.ok()) failure = failure_;
  spdlog::error("append failed; this node stops accepting writes: {}",
                View(failure));
  FailItems(group, results, failure);
  EnterFailedStateLocked(failure);
}

void Sequencer::RunPublisher() {
  for (;;) {
    std::vector<WrittenGroup> groups;
    {
      MutexLock lock(&mu_);
      mu_.Await([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !written_.empty() || writer_done_;
      });
      if (written_.empty()) {  // and writer_done_
        publisher_done_ = true;
        return;
      }
      while (!written_.empty()) {
        publishing_ = true;
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
  uint64_t committed = 0;
  {
    MutexLock lock(&mu_);
    failure = failure_;  // later groups build on what failed: fail them too
    committed = committed_size_;
  }
  if (failure.ok()) {
    if (absl::Status s = ledger_->Publish(head); !s.ok()) {
      failure = Annotate(
          s, StrCat("making entries up to size ", head.size, " durable"));
    } else if (head.size != committed) {
      if (absl::Status c = coordinator_->Commit(head); !c.ok()) {
        failure = absl::UnavailableError(
            StrCat("entries up to size ", head.size,
                   " could not be committed: ", View(c)));
      }
    }
  }
  if (!failure.ok()) {
    spdlog::error("append failed; this node stops accepting writes: {}",
                  View(failure));
    for (WrittenGroup& g : groups) FailItems(g.items, g.results, failure);
    MutexLock lock(&mu_);
    publishing_ = false;
    EnterFailedStateLocked(failure);
    return;
  }
  for (WrittenGroup& g : groups) {
    for (size_t i = 0; i < g.items.size(); ++i) {
      g.items[i].pending->Complete(std::move(g.results[i]));
    }
  }
  MutexLock lock(&mu_);
  committed_size_ = head.size;
  publishing_ = false;
  poked_ = true;  // the checkpoint deadline, and small groups, wait on this
}

void Sequencer::EnterFailedStateLocked(const absl::Status& cause) {
  if (!failure_.ok()) return;
  failure_ = absl::UnavailableError(
      StrCat("node stopped accepting writes after a storage failure (see "
             "the node log): ",
             View(cause)));
  for (Item& item : queue_) {
    item.pending->Complete(ledger::AppendResult{failure_, {}});
  }
  queue_.clear();
  queued_events_ = 0;
}

int64_t Sequencer::CheckpointDue() const {
  // last_checkpoint_ and checkpoint_retry_at_ns_ belong to the sequencer
  // thread, the only caller.
  return std::max(
      CheckpointDueAt(options_.checkpoint, committed_size_, last_checkpoint_),
      checkpoint_retry_at_ns_);
}

absl::Status Sequencer::IssueCheckpoint() {
  ledger::Head head = coordinator_->Committed();
  int64_t now = clock_->NowNs();
  std::string body = ledger::FormatCheckpointBody(
      ledger::Checkpoint{ledger_->origin(), head.size, head.root, {}});
  const crypto::NoteSigner* signers[] = {&identity_->log_signer,
                                         &identity_->cosigner};
  std::string note = crypto::SignNote(
      body, signers,
      static_cast<uint64_t>(std::max<int64_t>(now, 0)) / kNanosPerSecond);
  absl::StatusOr<uint64_t> sequence = ledger_->StoreCheckpoint(note);
  if (!sequence.ok()) {
    checkpoint_retry_at_ns_ = now + options_.checkpoint.checkpoint_interval_ns;
    return Annotate(sequence.status(),
                    StrCat("storing the checkpoint of size ", head.size));
  }
  last_checkpoint_ = LastCheckpoint{head.size, now};
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
