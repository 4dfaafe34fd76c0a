#include "node/sequencer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

#include "base/strings.h"
#include "base/sync.h"
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

  void StartSequencer(size_t max_group_events = 20000) {
    SequencerOptions options;
    options.max_group_events = max_group_events;
    options.checkpoint = CheckpointPolicy{1 * kSecond, 60 * kSecond};
    sequencer_ =
        std::make_unique<Sequencer>(ledger_.get(), coordinator_.get(), &clock_,
                                    identity_.get(), guard_.get(), options);
    ASSERT_TRUE(sequencer_->Start().ok());
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
}

}  // namespace
}  // namespace ledger::node
