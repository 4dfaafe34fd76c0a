#include "node/sequencer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "base/strings.h"
#include "base/sync.h"
#include "crypto/key_file.h"
#include "crypto/rfc6962.h"
#include "ledger/checkpoint.h"
#include "ledger/entry.h"
#include "ledger/key_registry.h"
#include "node/data_dir.h"
#include "node/ledger_events.h"
#include "node/node_testing.h"

namespace ledger::node {
namespace {

using ::testing::HasSubstr;
constexpr int64_t kSecond = 1'000'000'000;
constexpr absl::Duration kWait = absl::Seconds(30);
constexpr char kTenant[] = "acme-ai";

std::string Message(const absl::Status& s) {
  return std::string(ToStd(s.message()));
}

// Passes commits through to a LocalCoordinator; while blocked, Commit()
// waits, so the publisher stalls; the writer writes one more group and then
// waits too, and the sequencer's queue fills up behind them.
class TestCoordinator : public Coordinator {
 public:
  explicit TestCoordinator(const ledger::Head& head) : local_(head) {}

  absl::Status Commit(const ledger::Head& head) override {
    MutexLock lock(&mu_);
    ++commits_;
    mu_.Await([this]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !blocked_; });
    if (!fail_.ok()) return fail_;
    return local_.Commit(head);
  }
  ledger::Head Committed() const override { return local_.Committed(); }
  // As a cluster's coordinator whose followers cannot cosign: Unavailable
  // while refuse_cosign_ is set.
  absl::StatusOr<std::string> Cosign(std::string note,
                                     const ledger::Checkpoint&) override {
    MutexLock lock(&mu_);
    if (!refuse_cosign_.ok()) return refuse_cosign_;
    return note;
  }
  void RefuseCosign(absl::Status s) {
    MutexLock lock(&mu_);
    refuse_cosign_ = std::move(s);
  }

  void Block() {
    MutexLock lock(&mu_);
    blocked_ = true;
  }
  void Release() {
    MutexLock lock(&mu_);
    blocked_ = false;
  }
  void FailWith(absl::Status s) {
    MutexLock lock(&mu_);
    fail_ = std::move(s);
  }
  bool WaitForCommits(int n) {
    MutexLock lock(&mu_);
    auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return commits_ >= n;
    };
    return mu_.AwaitWithTimeout(reached, kWait);
  }

 private:
  LocalCoordinator local_;
  Mutex mu_;
  bool blocked_ ABSL_GUARDED_BY(mu_) = false;
  int commits_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status fail_ ABSL_GUARDED_BY(mu_);
  absl::Status refuse_cosign_ ABSL_GUARDED_BY(mu_);
};

// The transitions a state listener saw.
class StateRecorder {
 public:
  void Record(SequencerState state, const absl::Status& reason) {
    MutexLock lock(&mu_);
    seen_.emplace_back(state, reason);
  }
  std::vector<std::pair<SequencerState, absl::Status>> seen() const {
    MutexLock lock(&mu_);
    return seen_;
  }
  // Waits until `n` transitions were seen (or kWait passed); true then.
  bool WaitForTransitions(size_t n) {
    MutexLock lock(&mu_);
    auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return seen_.size() >= n;
    };
    return mu_.AwaitWithTimeout(seen, kWait);
  }
  std::vector<SequencerState> states() const {
    std::vector<SequencerState> states;
    for (const auto& [state, reason] : seen()) states.push_back(state);
    return states;
  }

 private:
  mutable Mutex mu_;
  std::vector<std::pair<SequencerState, absl::Status>> seen_
      ABSL_GUARDED_BY(mu_);
};

// Passes everything to the data directory's guard, and notes what the
// ledger's latest stored checkpoint was at each Record().
class RecordingGuard : public RollbackGuard {
 public:
  RecordingGuard(RollbackGuard* inner, const ledger::Ledger* ledger)
      : inner_(inner), ledger_(ledger) {}
  std::optional<ledger::Checkpoint> last() const override {
    return inner_->last();
  }
  absl::Status Record(std::string_view note,
                      const ledger::Checkpoint& checkpoint) override {
    std::optional<ledger::StoredCheckpoint> stored =
        ledger_->LatestCheckpoint();
    MutexLock lock(&mu_);
    recorded_.push_back(checkpoint.size);
    stored_then_.push_back(stored.has_value() ? stored->size : 0);
    if (!fail_.ok()) return fail_;
    return inner_->Record(note, checkpoint);
  }
  void FailWith(absl::Status s) {
    MutexLock lock(&mu_);
    fail_ = std::move(s);
  }
  std::vector<uint64_t> recorded() const {
    MutexLock lock(&mu_);
    return recorded_;
  }
  std::vector<uint64_t> stored_then() const {
    MutexLock lock(&mu_);
    return stored_then_;
  }

 private:
  RollbackGuard* const inner_;
  const ledger::Ledger* const ledger_;
  mutable Mutex mu_;
  std::vector<uint64_t> recorded_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> stored_then_ ABSL_GUARDED_BY(mu_);
  absl::Status fail_ ABSL_GUARDED_BY(mu_);
};

// A guard whose last checkpoint the test sets.
class SettableGuard : public RollbackGuard {
 public:
  std::optional<ledger::Checkpoint> last() const override {
    MutexLock lock(&mu_);
    return last_;
  }
  absl::Status Record(std::string_view,
                      const ledger::Checkpoint& checkpoint) override {
    MutexLock lock(&mu_);
    ++records_;
    last_ = checkpoint;
    return absl::OkStatus();
  }
  void Set(ledger::Checkpoint checkpoint) {
    MutexLock lock(&mu_);
    last_ = std::move(checkpoint);
  }
  int records() const {
    MutexLock lock(&mu_);
    return records_;
  }

 private:
  mutable Mutex mu_;
  std::optional<ledger::Checkpoint> last_ ABSL_GUARDED_BY(mu_);
  int records_ ABSL_GUARDED_BY(mu_) = 0;
};

class SequencerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<NodeIdentity> id =
        OpenDataDir(tmp_.path() + "/data", "ledger.test/seq", "node-1");
    ASSERT_TRUE(id.ok()) << id.status();
    identity_ = std::make_unique<NodeIdentity>(*std::move(id));
    absl::StatusOr<std::unique_ptr<FileRollbackGuard>> guard =
        FileRollbackGuard::Load(DataDirLayout(tmp_.path() + "/data").guard,
                                identity_->verifiers(), identity_->origin);
    ASSERT_TRUE(guard.ok()) << guard.status();
    guard_ = *std::move(guard);
    ledger::LedgerOptions options;
    options.origin = identity_->origin;
    options.checkpoint_verifiers = identity_->verifiers();
    absl::StatusOr<std::unique_ptr<ledger::Ledger>> ledger =
        ledger::Ledger::Open(tmp_.path() + "/data/db", options);
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    ledger_ = *std::move(ledger);
    ASSERT_TRUE(
        AppendGenesis(*ledger_, *identity_, "node-1", clock_.NowNs()).ok());
    RegisterEmitter();
    coordinator_ = std::make_unique<TestCoordinator>(ledger_->head());
  }

  void TearDown() override {
    if (coordinator_ != nullptr) coordinator_->Release();
    sequencer_.reset();
  }

  void RegisterEmitter() {
    KeyInfo info;
    info.public_key = emitter_.key.public_key();
    info.key_id = emitter_.key_id();
    info.name = emitter_.name;
    info.tenant = kTenant;
    info.valid_from_ns = clock_.NowNs();
    Event event = KeyRegisteredEvent(info);
    StampLedgerEvent(clock_.NowNs(), "test", "admin", &event);
    absl::StatusOr<VerifiedBatch> batch =
        SignWithNodeKey(std::move(event), *identity_, ledger_->limits());
    ASSERT_TRUE(batch.ok()) << batch.status();
    const VerifiedBatch* batches[] = {&*batch};
    GroupResult r = ledger_->Append(batches, clock_.NowNs());
    ASSERT_TRUE(r.status.ok()) << r.status;
    ASSERT_TRUE(r.batches[0].status.ok()) << r.batches[0].status;
  }

  static SequencerOptions Options(size_t max_group_events = 20000) {
    SequencerOptions options;
    options.max_group_events = max_group_events;
    options.checkpoint = CheckpointPolicy{1 * kSecond, 60 * kSecond};
    return options;
  }

  // A sequencer over the fixture's ledger, not started; `guard` null: the
  // data directory's rollback guard.
  void MakeSequencer(const SequencerOptions& options,
                     RollbackGuard* guard = nullptr,
                     std::function<void(SequencerState, const absl::Status&)>
                         listener = nullptr) {
    sequencer_ = std::make_unique<Sequencer>(
        ledger_.get(), coordinator_.get(), &clock_, identity_.get(),
        guard != nullptr ? guard : guard_.get(), options);
    if (listener) sequencer_->SetStateListener(std::move(listener));
  }

  // A listener that records into recorder_.
  std::function<void(SequencerState, const absl::Status&)> RecordStates() {
    return [this](SequencerState state, const absl::Status& reason) {
      recorder_.Record(state, reason);
    };
  }

  void StartSequencer(size_t max_group_events = 20000) {
    StartSequencerWith(Options(max_group_events));
  }
  void StartSequencerWith(const SequencerOptions& options) {
    MakeSequencer(options);
    absl::Status s = sequencer_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }

  // Events numbered first, first+1, ... signed as one batch.
  VerifiedBatch Batch(int first, int count, std::string tenant = kTenant) {
    std::vector<Event> events;
    std::vector<std::string> bytes;
    for (int i = 0; i < count; ++i) {
      events.push_back(testing::MakeEvent(tenant, first + i));
      bytes.push_back(EncodeEvent(events.back()));
    }
    absl::StatusOr<VerifiedBatch> batch = VerifyBatch(
        std::move(events), emitter_.key_id(), emitter_.key.public_key(),
        SignBatch(emitter_.key, bytes), ledger_->limits());
    EXPECT_TRUE(batch.ok()) << batch.status();
    return *std::move(batch);
  }

  // The refs point at entries holding exactly `bytes`, in order.
  void ExpectEntriesHold(const ledger::AppendResult& result,
                         const std::vector<std::string>& bytes) {
    ASSERT_TRUE(result.status.ok()) << result.status;
    ASSERT_EQ(result.entries.size(), bytes.size());
    for (size_t i = 0; i < bytes.size(); ++i) {
      const EntryRef& ref = result.entries[i];
      absl::StatusOr<std::string> stored = ledger_->GetEntry(ref.index);
      ASSERT_TRUE(stored.ok()) << stored.status();
      EXPECT_EQ(ref.leaf_hash, crypto::HashLeaf(*stored));
      absl::StatusOr<Entry> entry = DecodeEntry(*stored);
      ASSERT_TRUE(entry.ok());
      EXPECT_EQ(entry->event_bytes, bytes[i]) << "entry " << ref.index;
      EXPECT_FALSE(ref.duplicate);
    }
  }

  testing::TempDir tmp_;
  FakeClock clock_;
  testing::EmitterKeyPair emitter_{"labelstudio", 0x51};
  std::unique_ptr<NodeIdentity> identity_;
  std::unique_ptr<FileRollbackGuard> guard_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<TestCoordinator> coordinator_;
  // Given to sequencer_ by tests, and so declared before it: it may call
  // them until it is destroyed.
  StateRecorder recorder_;
  std::optional<RecordingGuard> recording_guard_;
  SettableGuard settable_guard_;
  std::unique_ptr<Sequencer> sequencer_;
};

TEST_F(SequencerTest, StartIssuesACheckpointWhenNoneCoversTheHead) {
  StartSequencer();
  EXPECT_EQ(sequencer_->checkpoints_issued(), 1u);
  std::optional<ledger::StoredCheckpoint> cp = ledger_->LatestCheckpoint();
  ASSERT_TRUE(cp.has_value());
  EXPECT_EQ(cp->size, 2u);  // genesis + key registration
  absl::StatusOr<ledger::VerifiedCheckpoint> opened = ledger::OpenCheckpoint(
      cp->note, identity_->verifiers(), identity_->origin);
  ASSERT_TRUE(opened.ok()) << opened.status();
  ASSERT_EQ(opened->signatures.size(), 2u);  // log key + cosigner
  EXPECT_EQ(opened->checkpoint.root, ledger_->head().root);
  bool timestamped = false;
  for (const crypto::VerifiedSignature& sig : opened->signatures) {
    if (sig.timestamp.has_value()) {
      EXPECT_EQ(*sig.timestamp,
                static_cast<uint64_t>(clock_.NowNs() / kSecond));
      timestamped = true;
    }
  }
  EXPECT_TRUE(timestamped);
}

// A cluster leader whose followers cannot cosign yet starts anyway, with no
// checkpoint, and issues one once they can; appends are accepted meanwhile.
TEST_F(SequencerTest, StartWithoutCosignaturesLeadsAndCheckpointsLater) {
  MakeSequencer(Options());
  coordinator_->RefuseCosign(
      absl::UnavailableError("1 of 3 nodes' signatures, 2 needed"));
  ASSERT_TRUE(sequencer_->Start().ok());
  EXPECT_EQ(sequencer_->checkpoints_issued(), 0u);
  EXPECT_FALSE(ledger_->LatestCheckpoint().has_value());
  ExpectEntriesHold(sequencer_->Append(Batch(1, 2)),
                    {EncodeEvent(testing::MakeEvent(kTenant, 1)),
                     EncodeEvent(testing::MakeEvent(kTenant, 2))});
  coordinator_->RefuseCosign(absl::OkStatus());
  clock_.Advance(2 * kSecond);
  sequencer_->Poke();
  ASSERT_TRUE(sequencer_->WaitForCheckpoint(ledger_->head().size, kWait));
  EXPECT_EQ(ledger_->LatestCheckpoint()->size, ledger_->head().size);
}

TEST_F(SequencerTest, StartDoesNotReissueACoveringCheckpoint) {
  StartSequencer();
  sequencer_->Shutdown();  // head covered: no final checkpoint either
  EXPECT_EQ(sequencer_->checkpoints_issued(), 1u);
  StartSequencer();
  EXPECT_EQ(sequencer_->checkpoints_issued(), 0u);
  EXPECT_EQ(ledger_->LatestCheckpoint()->sequence, 0u);
}

TEST_F(SequencerTest, AppendAcknowledgesEveryEventOfTheBatch) {
  StartSequencer();
  VerifiedBatch batch = Batch(1, 3);
  std::vector<std::string> bytes = batch.event_bytes();
  ledger::AppendResult result = sequencer_->Append(std::move(batch));
  ExpectEntriesHold(result, bytes);
  EXPECT_EQ(result.entries[0].index, 2u);
  EXPECT_EQ(result.entries[2].index, 4u);
  EXPECT_EQ(result.entries[0].received_at_ns, clock_.NowNs());
  EXPECT_EQ(coordinator_->Committed().size, 5u);
  EXPECT_EQ(sequencer_->append_calls(), 1u);
}

TEST_F(SequencerTest, QueuedBatchesFormOneGroup) {
  StartSequencer();
  coordinator_->Block();
  std::shared_ptr<PendingAppend> first = sequencer_->Submit(Batch(1, 1));
  ASSERT_TRUE(coordinator_->WaitForCommits(1));  // group 1 is being published
  // A group big enough to overlap with the sync is written at once and
  // waits for the publisher; then the writer stops.
  std::shared_ptr<PendingAppend> second = sequencer_->Submit(Batch(500, 300));
  ASSERT_TRUE(sequencer_->WaitForAppendCalls(2, kWait));
  // Written, not published: group 2 waits for group 1's commit.
  EXPECT_EQ(ledger_->written_head().size, 303u);
  EXPECT_EQ(ledger_->head().size, 3u);
  EXPECT_FALSE(second->done());

  constexpr int kThreads = 8, kPerThread = 10;
  std::vector<std::vector<std::shared_ptr<PendingAppend>>> pending(kThreads);
  std::vector<std::vector<std::string>> bytes(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        VerifiedBatch b = Batch(1000 + t * 100 + i * 2, 2);
        for (const std::string& e : b.event_bytes()) bytes[t].push_back(e);
        pending[t].push_back(sequencer_->Submit(std::move(b)));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  coordinator_->Release();

  EXPECT_TRUE(first->Wait().status.ok());
  EXPECT_TRUE(second->Wait().status.ok());
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      ExpectEntriesHold(pending[t][i]->Wait(),
                        {bytes[t][2 * i], bytes[t][2 * i + 1]});
    }
  }
  // One group each for the first two batches, one for all 80 (small)
  // batches queued behind them.
  EXPECT_EQ(sequencer_->append_calls(), 3u);
  EXPECT_EQ(ledger_->head().size, 2u + 1 + 300 + kThreads * kPerThread * 2);
  EXPECT_EQ(ledger_->head(), coordinator_->Committed());
}

TEST_F(SequencerTest, OnDoneRunsOnceWhenTheGroupIsDurable) {
  StartSequencer();
  coordinator_->Block();
  VerifiedBatch batch = Batch(1, 2);
  std::vector<std::string> bytes = batch.event_bytes();
  std::shared_ptr<PendingAppend> pending = sequencer_->Submit(std::move(batch));
  ASSERT_TRUE(coordinator_->WaitForCommits(1));  // written, being published
  Mutex mu;
  int calls = 0;
  ledger::AppendResult got;
  std::thread::id caller;
  pending->OnDone([&](ledger::AppendResult result) {
    MutexLock lock(&mu);
    ++calls;
    got = std::move(result);
    caller = std::this_thread::get_id();
  });
  {
    MutexLock lock(&mu);
    EXPECT_EQ(calls, 0);  // not durable yet: the commit is blocked
  }
  coordinator_->Release();
  {
    MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(
        [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return calls > 0; }, kWait));
    EXPECT_EQ(calls, 1);
    EXPECT_NE(caller, std::this_thread::get_id());  // the publisher
    ExpectEntriesHold(got, bytes);
  }
  EXPECT_EQ(ledger_->head().size, 4u);

  // Registered after completion: runs at once, on the caller's thread.
  std::shared_ptr<PendingAppend> late = sequencer_->Submit(Batch(10, 1));
  // Waiters complete in submission order: once a later one is done, so is
  // `late`.
  ASSERT_TRUE(sequencer_->Submit(Batch(11, 1))->Wait().status.ok());
  ASSERT_TRUE(late->done());
  bool ran_here = false;
  const std::thread::id test_thread = std::this_thread::get_id();
  late->OnDone([&](ledger::AppendResult result) {
    ran_here = std::this_thread::get_id() == test_thread && result.status.ok();
  });
  EXPECT_TRUE(ran_here);

  // A refused submission is complete at once too.
  sequencer_->StopAccepting();
  absl::Status refused;
  sequencer_->Submit(Batch(20, 1))->OnDone([&](ledger::AppendResult result) {
    refused = result.status;
  });
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
}

TEST_F(SequencerTest, GroupsHoldAtMostMaxGroupEvents) {
  StartSequencer(/*max_group_events=*/10);
  coordinator_->Block();
  std::shared_ptr<PendingAppend> first = sequencer_->Submit(Batch(1, 1));
  ASSERT_TRUE(coordinator_->WaitForCommits(1));
  std::vector<std::shared_ptr<PendingAppend>> pending;
  pending.push_back(sequencer_->Submit(Batch(100, 25)));  // alone: too big
  for (int i = 0; i < 6; ++i) {
    pending.push_back(sequencer_->Submit(Batch(200 + 3 * i, 3)));
  }
  coordinator_->Release();
  for (auto& p : pending) EXPECT_TRUE(p->Wait().status.ok());
  // [1] [25] [3 3 3] [3 3 3]
  EXPECT_EQ(sequencer_->append_calls(), 4u);
}

TEST_F(SequencerTest, ConcurrentAppendsEachGetTheirOwnEntries) {
  StartSequencer();
  constexpr int kThreads = 8, kPerThread = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        VerifiedBatch b = Batch(10000 + t * 1000 + i * 3, 1 + i % 3);
        std::vector<std::string> bytes = b.event_bytes();
        ExpectEntriesHold(sequencer_->Append(std::move(b)), bytes);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_LE(sequencer_->append_calls(), uint64_t{kThreads * kPerThread});
  EXPECT_EQ(ledger_->head(), coordinator_->Committed());
}

TEST_F(SequencerTest, RejectedBatchLeavesTheRestOfItsGroupAlone) {
  StartSequencer();
  ASSERT_TRUE(sequencer_->Append(Batch(1, 1)).status.ok());
  coordinator_->Block();
  std::shared_ptr<PendingAppend> blocker = sequencer_->Submit(Batch(2, 1));
  ASSERT_TRUE(coordinator_->WaitForCommits(2));
  // Small batches wait while a sync is in progress.
  VerifiedBatch good1 = Batch(10, 1);
  // Same event_id as event 1, other content.
  Event clash = testing::MakeEvent(kTenant, 1);
  clash.purpose = "changed";
  std::vector<std::string> clash_bytes = {EncodeEvent(clash)};
  absl::StatusOr<VerifiedBatch> bad =
      VerifyBatch({clash}, emitter_.key_id(), emitter_.key.public_key(),
                  SignBatch(emitter_.key, clash_bytes), ledger_->limits());
  ASSERT_TRUE(bad.ok());
  VerifiedBatch good2 = Batch(11, 1);
  auto p1 = sequencer_->Submit(std::move(good1));
  auto p2 = sequencer_->Submit(*std::move(bad));
  auto p3 = sequencer_->Submit(std::move(good2));
  coordinator_->Release();
  EXPECT_TRUE(p1->Wait().status.ok());
  EXPECT_EQ(p2->Wait().status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(p3->Wait().status.ok());
  EXPECT_EQ(sequencer_->append_calls(), 3u);  // p1..p3 were one group
  EXPECT_TRUE(sequencer_->Append(Batch(12, 1)).status.ok());
}

TEST_F(SequencerTest, CheckpointFollowsNewEntriesAfterTheInterval) {
  StartSequencer();
  ASSERT_TRUE(sequencer_->Append(Batch(1, 1)).status.ok());
  // The second append returns after the thread decided about a checkpoint
  // following the first: with the clock standing still, none was due.
  ASSERT_TRUE(sequencer_->Append(Batch(2, 1)).status.ok());
  EXPECT_EQ(sequencer_->checkpoints_issued(), 1u);
  EXPECT_FALSE(sequencer_->WaitForCheckpoint(4, absl::ZeroDuration()));

  clock_.Advance(kSecond);
  sequencer_->Poke();
  ASSERT_TRUE(sequencer_->WaitForCheckpoint(4, kWait));
  EXPECT_EQ(ledger_->LatestCheckpoint()->size, 4u);
  EXPECT_EQ(sequencer_->checkpoints_issued(), 2u);
}

TEST_F(SequencerTest, IdleLedgerGetsEmptyIntervalCheckpoints) {
  StartSequencer();
  clock_.Advance(60 * kSecond);
  sequencer_->Poke();
  ASSERT_TRUE(sequencer_->WaitForCheckpointsIssued(2, kWait));
  std::optional<ledger::StoredCheckpoint> cp = ledger_->LatestCheckpoint();
  EXPECT_EQ(cp->sequence, 1u);
  EXPECT_EQ(cp->size, 2u);  // nothing new, newly signed
}

TEST_F(SequencerTest, ShutdownDrainsTheQueueAndCoversTheHead) {
  StartSequencer();
  coordinator_->Block();
  auto a = sequencer_->Submit(Batch(1, 1));
  ASSERT_TRUE(coordinator_->WaitForCommits(1));
  auto b = sequencer_->Submit(Batch(2, 2));
  sequencer_->StopAccepting();
  auto refused = sequencer_->Submit(Batch(4, 1));
  ASSERT_TRUE(refused->done());
  ledger::AppendResult r = refused->Wait();
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Message(r.status), HasSubstr("node is shutting down"));

  std::thread stopper([&] { sequencer_->Shutdown(); });
  coordinator_->Release();
  stopper.join();
  EXPECT_TRUE(a->Wait().status.ok());
  EXPECT_TRUE(b->Wait().status.ok());
  EXPECT_EQ(ledger_->head().size, 5u);
  EXPECT_EQ(ledger_->LatestCheckpoint()->size, 5u);  // final checkpoint
}

TEST_F(SequencerTest, CommitFailureFailsWaitersAndStopsWrites) {
  StartSequencer();
  coordinator_->FailWith(absl::UnavailableError("etcd is unreachable"));
  ledger::AppendResult r = sequencer_->Append(Batch(1, 1));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Message(r.status), HasSubstr("etcd is unreachable"));
  ledger::AppendResult later = sequencer_->Append(Batch(2, 1));
  EXPECT_EQ(later.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Message(later.status), HasSubstr("stopped accepting writes"));
  EXPECT_THAT(Message(later.status), HasSubstr("see the node log"));
  // The coordinator refused, not the disk.
  EXPECT_THAT(Message(later.status),
              HasSubstr("its entries could not be committed"));
  EXPECT_THAT(Message(later.status),
              ::testing::Not(HasSubstr("storage failure")));
}

// ---- Pushback ----

// Waits for `cond` (evaluated under `mu`) until kWait has passed. A callback
// that deadlocked would leave a sequencer thread stuck, and the test could
// not even shut it down: end the process, saying what hung.
template <typename Cond>
void AwaitOrDie(Mutex& mu, Cond cond, const char* what)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
  if (!mu.AwaitWithTimeout(cond, kWait)) {
    std::fprintf(stderr, "FATAL: %s within %s\n", what,
                 absl::FormatDuration(kWait).c_str());
    std::abort();
  }
}

bool Stored(const ledger::Ledger& ledger, int n) {
  absl::StatusOr<std::optional<EntryRef>> found =
      ledger.FindEvent(kTenant, testing::MakeEvent(kTenant, n).event_id);
  EXPECT_TRUE(found.ok()) << found.status();
  return found.ok() && found->has_value();
}

TEST_F(SequencerTest, SubmitPastTheBoundIsRefusedAtOnceWithARetryHint) {
  SequencerOptions options = Options();
  options.max_queued_events = 4;
  StartSequencerWith(options);
  coordinator_->Block();
  std::shared_ptr<PendingAppend> first = sequencer_->Submit(Batch(1, 1));
  ASSERT_TRUE(coordinator_->WaitForCommits(1));  // admitted until durable
  std::shared_ptr<PendingAppend> second = sequencer_->Submit(Batch(10, 3));
  EXPECT_FALSE(second->done());
  EXPECT_EQ(sequencer_->admitted_events(), 4u);

  const absl::Status check = sequencer_->CheckAdmission(1, 100);
  EXPECT_EQ(check.code(), absl::StatusCode::kResourceExhausted) << check;
  std::shared_ptr<PendingAppend> refused = sequencer_->Submit(Batch(20, 1));
  ASSERT_TRUE(refused->done());  // at once, not when room frees
  const ledger::AppendResult r = refused->Wait();
  EXPECT_EQ(r.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(r.entries.empty());
  const int64_t retry_ms = sequencer_->RetryAfterMs();
  EXPECT_GE(retry_ms, 10);
  EXPECT_LE(retry_ms, 1000);
  EXPECT_THAT(Message(r.status),
              HasSubstr(StrCat("retry in ", retry_ms, " ms")));
  EXPECT_THAT(Message(r.status), HasSubstr("(4 events"));
  EXPECT_THAT(Message(r.status), HasSubstr("limits 4 events"));
  // CheckAdmission says what Submit does.
  EXPECT_EQ(Message(check), Message(r.status));
  EXPECT_TRUE(sequencer_->CheckAdmission(0, 0).ok());  // nothing to add

  // TrySubmit leaves a refused batch with the caller.
  VerifiedBatch kept = Batch(30, 2);
  std::shared_ptr<PendingAppend> pending;
  absl::Status s = sequencer_->TrySubmit(std::move(kept), &pending);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_EQ(pending, nullptr);
  EXPECT_EQ(kept.size(), 2u);

  coordinator_->Release();
  EXPECT_TRUE(first->Wait().status.ok());
  EXPECT_TRUE(second->Wait().status.ok());
  EXPECT_EQ(sequencer_->admitted_events(), 0u);
  EXPECT_FALSE(Stored(*ledger_, 20));  // refused: nothing stored
  // With room again the kept batch goes in.
  ASSERT_TRUE(sequencer_->TrySubmit(std::move(kept), &pending).ok());
  EXPECT_TRUE(pending->Wait().status.ok());
  EXPECT_TRUE(Stored(*ledger_, 30));
  EXPECT_EQ(ledger_->head().size, 2u + 1 + 3 + 2);
}

TEST_F(SequencerTest, ByteBoundRefusesToo) {
  const VerifiedBatch sample = Batch(1, 1);
  size_t one_batch = 0;
  for (const std::string& b : sample.event_bytes()) one_batch += b.size();

  SequencerOptions options = Options();
  options.max_queued_bytes = one_batch + one_batch / 2;
  StartSequencerWith(options);
  coordinator_->Block();
  std::shared_ptr<PendingAppend> first = sequencer_->Submit(Batch(1, 1));
  ASSERT_TRUE(coordinator_->WaitForCommits(1));
  EXPECT_EQ(sequencer_->CheckAdmission(1, one_batch).code(),
            absl::StatusCode::kResourceExhausted);
  ledger::AppendResult r = sequencer_->Submit(Batch(2, 1))->Wait();
  EXPECT_EQ(r.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(Message(r.status),
              HasSubstr(StrCat(one_batch, " bytes waiting")));
  coordinator_->Release();
  EXPECT_TRUE(first->Wait().status.ok());
  EXPECT_FALSE(Stored(*ledger_, 2));
}

TEST_F(SequencerTest, BatchLargerThanTheBoundIsAdmittedAlone) {
  SequencerOptions options = Options();
  options.max_queued_events = 4;
  StartSequencerWith(options);
  // Nothing admitted: a batch over the bound goes in (or it never could).
  EXPECT_TRUE(sequencer_->CheckAdmission(10, 1000).ok());
  coordinator_->Block();
  std::shared_ptr<PendingAppend> big = sequencer_->Submit(Batch(1, 10));
  ASSERT_TRUE(coordinator_->WaitForCommits(1));
  EXPECT_EQ(sequencer_->admitted_events(), 10u);
  // Then nothing more until it is done.
  EXPECT_EQ(sequencer_->Submit(Batch(100, 1))->Wait().status.code(),
            absl::StatusCode::kResourceExhausted);
  coordinator_->Release();
  ledger::AppendResult r = big->Wait();
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.entries.size(), 10u);
  EXPECT_TRUE(sequencer_->Submit(Batch(100, 1))->Wait().status.ok());
}

TEST_F(SequencerTest, WhenSpaceRunsOnceRoomFreesAndNotBefore) {
  SequencerOptions options = Options();
  options.max_queued_events = 4;
  StartSequencerWith(options);
  coordinator_->Block();
  std::shared_ptr<PendingAppend> first = sequencer_->Submit(Batch(1, 1));
  ASSERT_TRUE(coordinator_->WaitForCommits(1));
  std::shared_ptr<PendingAppend> second = sequencer_->Submit(Batch(10, 3));

  // A waiter that fits now runs at once, on this thread.
  bool ran_here = false;
  sequencer_->WhenSpace(0, 0, [&] { ran_here = true; });
  EXPECT_TRUE(ran_here);

  Mutex mu;
  int calls = 0;
  bool first_done = false;
  size_t admitted_then = 0;
  std::thread::id caller;
  sequencer_->WhenSpace(1, 100, [&] {
    // Not under the sequencer's lock: calling back in does not deadlock.
    const size_t admitted = sequencer_->admitted_events();
    MutexLock lock(&mu);
    ++calls;
    first_done = first->done();
    admitted_then = admitted;
    caller = std::this_thread::get_id();
  });
  EXPECT_EQ(sequencer_->space_waiters(), 1u);
  {
    // The commit is blocked: nothing can free room, and the callback has
    // not run.
    MutexLock lock(&mu);
    EXPECT_EQ(calls, 0);
  }
  EXPECT_FALSE(first->done());

  coordinator_->Release();
  {
    MutexLock lock(&mu);
    AwaitOrDie(
        mu, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return calls > 0; },
        "the WhenSpace callback did not run once room freed");
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(first_done);       // it ran once the first batch was done,
    EXPECT_EQ(admitted_then, 3u);  // which freed room for one event
    EXPECT_NE(caller, std::this_thread::get_id());  // the publisher
  }
  EXPECT_TRUE(second->Wait().status.ok());
  EXPECT_EQ(sequencer_->space_waiters(), 0u);
  {
    MutexLock lock(&mu);
    EXPECT_EQ(calls, 1);  // once
  }
}

TEST_F(SequencerTest, SpaceWaitersRunWhenTheSequencerStopsAccepting) {
  SequencerOptions options = Options();
  options.max_queued_events = 1;
  StartSequencerWith(options);
  coordinator_->Block();
  std::shared_ptr<PendingAppend> first = sequencer_->Submit(Batch(1, 1));
  ASSERT_TRUE(coordinator_->WaitForCommits(1));
  bool ran = false;
  absl::Status admission;
  sequencer_->WhenSpace(1, 100, [&] {
    ran = true;
    admission = sequencer_->CheckAdmission(1, 100);
  });
  EXPECT_FALSE(ran);
  // The waiter learns that nothing more is accepted (it would otherwise
  // wait forever); this thread made the transition, so it ran here.
  sequencer_->StopAccepting();
  EXPECT_TRUE(ran);
  EXPECT_EQ(admission.code(), absl::StatusCode::kUnavailable);
  coordinator_->Release();
  EXPECT_TRUE(first->Wait().status.ok());
}

// ---- The state listener ----

TEST_F(SequencerTest, StateListenerSeesStartAndShutdown) {
  MakeSequencer(Options(), nullptr,
                [this](SequencerState state, const absl::Status& reason) {
                  // Never under the sequencer's lock.
                  EXPECT_EQ(sequencer_->state(), state);
                  recorder_.Record(state, reason);
                });
  EXPECT_TRUE(recorder_.seen().empty());
  ASSERT_TRUE(sequencer_->Start().ok());
  ASSERT_EQ(recorder_.states(), std::vector{SequencerState::kRunning});
  EXPECT_TRUE(recorder_.seen()[0].second.ok());
  EXPECT_TRUE(sequencer_->Append(Batch(1, 1)).status.ok());
  sequencer_->Shutdown();
  const auto seen = recorder_.seen();
  ASSERT_EQ(recorder_.states(),
            (std::vector{SequencerState::kRunning, SequencerState::kDraining,
                         SequencerState::kStopped}));
  EXPECT_THAT(Message(seen[1].second), HasSubstr("node is shutting down"));
  EXPECT_EQ(seen[2].second.code(), absl::StatusCode::kUnavailable);
}

TEST_F(SequencerTest, StateListenerSeesACommitFailureWithItsCause) {
  MakeSequencer(Options(), nullptr, RecordStates());
  ASSERT_TRUE(sequencer_->Start().ok());
  coordinator_->FailWith(absl::UnavailableError("etcd is unreachable"));
  // The listener runs before the waiters are completed.
  EXPECT_FALSE(sequencer_->Append(Batch(1, 1)).status.ok());
  std::vector<std::pair<SequencerState, absl::Status>> seen = recorder_.seen();
  ASSERT_EQ(recorder_.states(),
            (std::vector{SequencerState::kRunning, SequencerState::kFailed}));
  EXPECT_THAT(Message(seen[1].second), HasSubstr("etcd is unreachable"));
  EXPECT_EQ(sequencer_->state(), SequencerState::kFailed);
  EXPECT_THAT(Message(sequencer_->write_status()),
              HasSubstr("etcd is unreachable"));
  // Failed is final: no draining, straight to stopped.
  sequencer_->Shutdown();
  EXPECT_EQ(recorder_.states(),
            (std::vector{SequencerState::kRunning, SequencerState::kFailed,
                         SequencerState::kStopped}));
}

// ---- Data loss ----

TEST_F(SequencerTest, ReportDataLossStopsCheckpointsAndWrites) {
  StartSequencer();
  ASSERT_TRUE(sequencer_->Append(Batch(1, 1)).status.ok());
  // Healthy: once the interval has passed, a poke brings a checkpoint.
  clock_.Advance(kSecond);
  ASSERT_TRUE(sequencer_->PokeAndWaitForIdleForTesting(kWait));
  ASSERT_EQ(sequencer_->checkpoints_issued(), 2u);
  const std::optional<ledger::StoredCheckpoint> before =
      ledger_->LatestCheckpoint();
  ASSERT_EQ(before->size, 3u);

  sequencer_->ReportDataLoss(absl::DataLossError("entries [1, 2) are corrupt"));
  EXPECT_EQ(sequencer_->state(), SequencerState::kFailed);
  // Clients are told the node is unavailable, and why (the damage is the
  // node's, not their request's: they may write elsewhere).
  EXPECT_EQ(sequencer_->write_status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Message(sequencer_->write_status()),
              HasSubstr("found corrupt data (see the node log): entries [1, "
                        "2) are corrupt"));
  std::shared_ptr<PendingAppend> refused = sequencer_->Submit(Batch(2, 1));
  ASSERT_TRUE(refused->done());
  const absl::Status status = refused->Wait().status;
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(Message(status), HasSubstr("entries [1, 2) are corrupt"));
  EXPECT_EQ(sequencer_->CheckAdmission(1, 100).code(),
            absl::StatusCode::kUnavailable);

  // Long past the empty interval: the thread wakes, signs nothing and
  // goes back to waiting (it does not spin on the checkpoint it may no
  // longer issue).
  clock_.Advance(120 * kSecond);
  EXPECT_TRUE(sequencer_->PokeAndWaitForIdleForTesting(kWait));
  EXPECT_EQ(sequencer_->checkpoints_issued(), 2u);
  sequencer_->Shutdown();  // and no final checkpoint either
  EXPECT_EQ(sequencer_->checkpoints_issued(), 2u);
  EXPECT_EQ(ledger_->LatestCheckpoint()->sequence, before->sequence);
  EXPECT_FALSE(Stored(*ledger_, 2));
}

// Completions run outside the sequencer's lock: a completion callback may
// call back into the sequencer (AppendStream's do).
TEST_F(SequencerTest, CompletionCallbacksMayCallBackIntoTheSequencer) {
  SequencerOptions options = Options();
  options.max_queued_events = 4;
  StartSequencerWith(options);
  coordinator_->Block();
  std::shared_ptr<PendingAppend> first = sequencer_->Submit(Batch(1, 1));
  ASSERT_TRUE(coordinator_->WaitForCommits(1));

  Mutex mu;
  bool done = false;
  SequencerState state_seen = SequencerState::kNew;
  absl::Status admission, result;
  int64_t retry_ms = 0;
  bool space_ran = false;
  std::shared_ptr<PendingAppend> resubmitted;
  first->OnDone([&, batch = Batch(2, 1)](ledger::AppendResult r) mutable {
    // On the publisher thread, which completes the batch.
    const SequencerState state = sequencer_->state();
    const absl::Status check = sequencer_->CheckAdmission(1, 100);
    const int64_t retry = sequencer_->RetryAfterMs();
    std::shared_ptr<PendingAppend> next = sequencer_->Submit(std::move(batch));
    bool ran = false;
    sequencer_->WhenSpace(1, 100, [&ran] { ran = true; });
    MutexLock lock(&mu);
    done = true;
    state_seen = state;
    admission = check;
    retry_ms = retry;
    result = r.status;
    space_ran = ran;
    resubmitted = std::move(next);
  });
  coordinator_->Release();
  std::shared_ptr<PendingAppend> next;
  {
    MutexLock lock(&mu);
    AwaitOrDie(
        mu, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return done; },
        "a completion callback calling into the sequencer did not return "
        "(deadlock?)");
    EXPECT_TRUE(result.ok()) << result;
    EXPECT_EQ(state_seen, SequencerState::kRunning);
    EXPECT_TRUE(admission.ok()) << admission;
    EXPECT_GE(retry_ms, 10);
    EXPECT_TRUE(space_ran);
    next = resubmitted;
  }
  ASSERT_NE(next, nullptr);
  EXPECT_TRUE(next->Wait().status.ok());
  EXPECT_TRUE(Stored(*ledger_, 2));
}

// ---- The rollback guard ----

TEST_F(SequencerTest, GuardIsRewrittenBeforeEachCheckpointIsStored) {
  const std::string guard_path = DataDirLayout(tmp_.path() + "/data").guard;
  RecordingGuard& guard = recording_guard_.emplace(guard_.get(), ledger_.get());
  MakeSequencer(Options(), &guard);
  ASSERT_TRUE(sequencer_->Start().ok());  // the start-up checkpoint: 2
  ASSERT_TRUE(sequencer_->Append(Batch(1, 3)).status.ok());
  clock_.Advance(kSecond);
  sequencer_->Poke();
  ASSERT_TRUE(sequencer_->WaitForCheckpoint(5, kWait));

  // Each was recorded while the ledger still held the one before.
  EXPECT_EQ(guard.recorded(), (std::vector<uint64_t>{2, 5}));
  EXPECT_EQ(guard.stored_then(), (std::vector<uint64_t>{0, 2}));
  // The file holds the stored checkpoint, durably: a new load reads it.
  std::optional<ledger::StoredCheckpoint> latest = ledger_->LatestCheckpoint();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(crypto::ReadFileToString(guard_path).value_or(""), latest->note);
  absl::StatusOr<std::unique_ptr<FileRollbackGuard>> reloaded =
      FileRollbackGuard::Load(guard_path, identity_->verifiers(),
                              identity_->origin);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ((*reloaded)->last()->size, latest->size);
  EXPECT_EQ((*reloaded)->last()->root, ledger_->head().root);
}

TEST_F(SequencerTest, CheckpointTheGuardCannotRecordIsNotStored) {
  RecordingGuard& guard = recording_guard_.emplace(guard_.get(), ledger_.get());
  guard.FailWith(absl::InternalError("cannot sync last-checkpoint.note"));
  MakeSequencer(Options(), &guard);
  absl::Status s = sequencer_->Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
  EXPECT_THAT(Message(s), HasSubstr("cannot sync last-checkpoint.note"));
  EXPECT_EQ(guard.recorded(), (std::vector<uint64_t>{2}));
  EXPECT_FALSE(ledger_->LatestCheckpoint().has_value());
  EXPECT_EQ(sequencer_->checkpoints_issued(), 0u);
}

TEST_F(SequencerTest, GuardAheadOfTheHeadIsDataLossAtStart) {
  SettableGuard& guard = settable_guard_;
  guard.Set(ledger::Checkpoint{
      identity_->origin, ledger_->head().size + 5, ledger_->head().root, {}});
  MakeSequencer(Options(), &guard, RecordStates());
  absl::Status s = sequencer_->Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(Message(s), HasSubstr("committed head (2 entries) is behind the "
                                    "last checkpoint this log signed (7 "
                                    "entries)"));
  EXPECT_EQ(sequencer_->state(), SequencerState::kFailed);
  EXPECT_EQ(sequencer_->write_status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Message(sequencer_->write_status()), HasSubstr("is behind"));
  ASSERT_EQ(recorder_.states(), std::vector{SequencerState::kFailed});
  // The listener learns that this is damage, not a storage failure.
  EXPECT_EQ(recorder_.seen()[0].second.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(guard.records(), 0);
  EXPECT_FALSE(ledger_->LatestCheckpoint().has_value());
  EXPECT_FALSE(sequencer_->Submit(Batch(1, 1))->Wait().status.ok());
}

TEST_F(SequencerTest, GuardContradictingTheLedgerStopsTheRunningSequencer) {
  SettableGuard& guard = settable_guard_;
  MakeSequencer(Options(), &guard, RecordStates());
  ASSERT_TRUE(sequencer_->Start().ok());
  ASSERT_EQ(guard.records(), 1);
  ASSERT_TRUE(sequencer_->Append(Batch(1, 1)).status.ok());
  // Another checkpoint of size 2 than the one signed (another root).
  ledger::Checkpoint other = *guard.last();
  other.root[0] ^= 1;
  guard.Set(other);
  clock_.Advance(kSecond);
  sequencer_->Poke();
  // The listener hears of it after the state changed.
  ASSERT_TRUE(recorder_.WaitForTransitions(2));
  EXPECT_EQ(sequencer_->state(), SequencerState::kFailed);
  EXPECT_EQ(sequencer_->write_status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Message(sequencer_->write_status()),
              HasSubstr("differs from the checkpoint of that size this log "
                        "signed"));
  EXPECT_EQ(guard.records(), 1);
  EXPECT_EQ(sequencer_->checkpoints_issued(), 1u);
  EXPECT_EQ(ledger_->LatestCheckpoint()->size, 2u);
  ASSERT_EQ(recorder_.states(),
            (std::vector{SequencerState::kRunning, SequencerState::kFailed}));
  EXPECT_EQ(recorder_.seen()[1].second.code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(sequencer_->Submit(Batch(2, 1))->Wait().status.ok());
}

}  // namespace
}  // namespace ledger::node
