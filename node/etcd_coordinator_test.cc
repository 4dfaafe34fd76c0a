// EtcdCoordinator's decisions against an in-memory etcd (FakeEtcd):
// election, the head's watch, fencing, and commits whose outcome is lost.
// Deterministic: no threads but the test's, no clock.

#include "node/etcd_coordinator.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node/fake_etcd_testing.h"

namespace ledger::node {
namespace {

using ::testing::HasSubstr;

constexpr char kOrigin[] = "ledger.test/one";

ledger::Head HeadOfSize(uint64_t size) {
  ledger::Head h;
  h.size = size;
  h.root.fill(static_cast<uint8_t>(size));
  h.chain_hash.fill(static_cast<uint8_t>(size + 100));
  return h;
}

class EtcdCoordinatorTest : public ::testing::Test {
 protected:
  std::unique_ptr<EtcdCoordinator> Make(const std::string& name) {
    EtcdCoordinatorOptions options;
    options.origin = kOrigin;
    options.node_name = name;
    options.commit_timeout = absl::Seconds(5);
    absl::StatusOr<std::unique_ptr<EtcdCoordinator>> c =
        EtcdCoordinator::Start(&etcd_, options);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // The head record as stored in etcd.
  HeadRecord StoredHead() {
    std::optional<EtcdKeyValue> kv = etcd_.Peek(EtcdHeadKey(kOrigin));
    if (!kv) return {};
    absl::StatusOr<HeadRecord> r = DecodeHeadRecord(kv->value);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : HeadRecord{};
  }

  FakeEtcd etcd_;
};

TEST_F(EtcdCoordinatorTest, ExactlyOneWinsTheElection) {
  auto a = Make("a");
  auto b = Make("b");
  ASSERT_TRUE(a && b);
  ASSERT_EQ(a->Campaign().value_or(false), true);
  ASSERT_EQ(b->Campaign().value_or(true), false);
  EXPECT_TRUE(a->is_leader());
  EXPECT_FALSE(b->is_leader());
  // The epoch is the leader key's create revision.
  const std::optional<EtcdKeyValue> key = etcd_.Peek(EtcdLeaderKey(kOrigin));
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(a->epoch(), key->create_revision);
  EXPECT_EQ(key->value, "a");
  EXPECT_EQ(key->lease, a->lease_id());
  EXPECT_EQ(b->leader(), (LeaderInfo{"a", a->epoch()}));
  // Campaigning again while leading changes nothing.
  EXPECT_EQ(a->Campaign().value_or(false), true);
  EXPECT_EQ(etcd_.Peek(EtcdLeaderKey(kOrigin))->mod_revision,
            key->mod_revision);
}

TEST_F(EtcdCoordinatorTest, FollowerSeesCommitsThroughTheWatch) {
  auto a = Make("a");
  auto b = Make("b");
  ASSERT_TRUE(a && b);
  std::vector<uint64_t> seen;
  b->SetHeadListener([&](const HeadRecord& r) { seen.push_back(r.head.size); });
  ASSERT_TRUE(a->Campaign().value_or(false));
  for (uint64_t size : {1, 5, 9}) {
    ASSERT_TRUE(a->Commit(HeadOfSize(size)).ok());
  }
  EXPECT_EQ(a->Committed(), HeadOfSize(9));
  EXPECT_EQ(b->Committed(), HeadOfSize(9));
  EXPECT_EQ(b->committed_record().epoch, a->epoch());
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 5, 9}));
  EXPECT_EQ(StoredHead().head, HeadOfSize(9));
  // A coordinator started later reads the head at once.
  auto c = Make("c");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->Committed(), HeadOfSize(9));
}

TEST_F(EtcdCoordinatorTest, AfterResignTheOtherWinsWithAHigherEpoch) {
  auto a = Make("a");
  auto b = Make("b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Campaign().value_or(false));
  ASSERT_TRUE(a->Commit(HeadOfSize(4)).ok());
  const int64_t first = a->epoch();
  ASSERT_TRUE(a->Resign().ok());
  EXPECT_FALSE(a->is_leader());
  EXPECT_EQ(b->leader().epoch, 0);  // the watch saw the key deleted
  ASSERT_TRUE(b->Campaign().value_or(false));
  EXPECT_GT(b->epoch(), first);
  EXPECT_EQ(a->leader(), (LeaderInfo{"b", b->epoch()}));
  // The new leader builds on the committed head.
  EXPECT_EQ(b->Committed(), HeadOfSize(4));
  ASSERT_TRUE(b->Commit(HeadOfSize(6)).ok());
  EXPECT_EQ(StoredHead().epoch, b->epoch());
  // The old leader may not commit.
  absl::Status s = a->Commit(HeadOfSize(7));
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("not the leader"));
}

TEST_F(EtcdCoordinatorTest, LostLeaseDeposesTheLeader) {
  auto a = Make("a");
  ASSERT_TRUE(a);
  std::vector<std::string> deposed;
  a->SetDeposedListener(
      [&](const absl::Status& s) { deposed.emplace_back(s.message()); });
  ASSERT_TRUE(a->Campaign().value_or(false));
  const int64_t epoch = a->epoch();
  etcd_.ExpireLease(a->lease_id());
  EXPECT_FALSE(a->is_leader());
  ASSERT_EQ(deposed.size(), 1u);
  EXPECT_THAT(deposed[0],
              HasSubstr("no longer leader: epoch " + std::to_string(epoch)));
  absl::Status s = a->Commit(HeadOfSize(1));
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_FALSE(etcd_.Peek(EtcdHeadKey(kOrigin)).has_value());
  // It may campaign again, with a new lease and a new epoch.
  ASSERT_TRUE(a->Campaign().value_or(false));
  EXPECT_GT(a->epoch(), epoch);
  EXPECT_TRUE(a->deposed_status().ok());
}

// A leader that has not noticed (paused past its lease; its watches and
// keep-alive silent) is fenced by the transaction itself.
TEST_F(EtcdCoordinatorTest, ZombieLeaderIsFencedAndTheHeadIsUnchanged) {
  auto a = Make("a");
  auto b = Make("b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Campaign().value_or(false));
  ASSERT_TRUE(a->Commit(HeadOfSize(2)).ok());
  const int64_t old_epoch = a->epoch();
  etcd_.HoldWatches();
  etcd_.ExpireLease(a->lease_id(), /*notify=*/false);
  ASSERT_TRUE(b->Campaign().value_or(false));
  const int64_t new_epoch = b->epoch();
  EXPECT_TRUE(a->is_leader());  // it does not know yet
  const HeadRecord before = StoredHead();
  absl::Status s = a->Commit(HeadOfSize(3));
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_EQ(s.message(), "no longer leader: epoch " +
                             std::to_string(old_epoch) + " superseded by " +
                             std::to_string(new_epoch));
  EXPECT_EQ(StoredHead(), before);
  EXPECT_FALSE(a->is_leader());
  // And it stays deposed.
  EXPECT_TRUE(absl::IsFailedPrecondition(a->Commit(HeadOfSize(3))));
  etcd_.ReleaseWatches();
  EXPECT_EQ(a->leader(), (LeaderInfo{"b", new_epoch}));
}

TEST_F(EtcdCoordinatorTest, AmbiguousCommitThatWasAppliedSucceedsOnce) {
  auto a = Make("a");
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->Campaign().value_or(false));
  const int64_t before = etcd_.revision();
  etcd_.FailNextTxn(absl::UnavailableError("connection reset"),
                    /*applied=*/true);
  etcd_.FailNextGets(2, absl::UnavailableError("member down"));
  ASSERT_TRUE(a->Commit(HeadOfSize(5)).ok());
  EXPECT_EQ(etcd_.revision(), before + 1);  // one write, not two
  EXPECT_EQ(StoredHead().head, HeadOfSize(5));
  EXPECT_EQ(a->Committed(), HeadOfSize(5));
  // The next commit builds on it.
  ASSERT_TRUE(a->Commit(HeadOfSize(6)).ok());
  EXPECT_EQ(StoredHead().head, HeadOfSize(6));
}

TEST_F(EtcdCoordinatorTest, AmbiguousCommitThatWasNotAppliedIsSentAgain) {
  auto a = Make("a");
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->Campaign().value_or(false));
  const int64_t before = etcd_.revision();
  const int txns = etcd_.txn_count();
  etcd_.FailNextTxn(absl::DeadlineExceededError("deadline"), false);
  ASSERT_TRUE(a->Commit(HeadOfSize(5)).ok());
  EXPECT_EQ(etcd_.txn_count(), txns + 2);
  EXPECT_EQ(etcd_.revision(), before + 1);
  EXPECT_EQ(StoredHead().head, HeadOfSize(5));
}

TEST_F(EtcdCoordinatorTest, AmbiguousCommitNotAppliedWhileDeposedIsFenced) {
  auto a = Make("a");
  auto b = Make("b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Campaign().value_or(false));
  const int64_t old_epoch = a->epoch();
  etcd_.HoldWatches();
  etcd_.ExpireLease(a->lease_id(), /*notify=*/false);
  ASSERT_TRUE(b->Campaign().value_or(false));
  etcd_.FailNextTxn(absl::UnavailableError("connection reset"), false);
  absl::Status s = a->Commit(HeadOfSize(5));
  EXPECT_EQ(s.message(), "no longer leader: epoch " +
                             std::to_string(old_epoch) + " superseded by " +
                             std::to_string(b->epoch()));
  EXPECT_FALSE(etcd_.Peek(EtcdHeadKey(kOrigin)).has_value());
  etcd_.ReleaseWatches();
}

TEST_F(EtcdCoordinatorTest, UnresolvedCommitIsUnavailableAfterTheTimeout) {
  EtcdCoordinatorOptions options;
  options.origin = kOrigin;
  options.node_name = "a";
  options.commit_timeout = absl::Milliseconds(50);
  auto a = EtcdCoordinator::Start(&etcd_, options);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE((*a)->Campaign().value_or(false));
  etcd_.FailNextTxn(absl::UnavailableError("connection reset"), false);
  etcd_.FailNextGets(1 << 30, absl::UnavailableError("no member answers"));
  absl::Status s = (*a)->Commit(HeadOfSize(5));
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("no member answers"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("head size 5"));
  etcd_.FailNextGets(0, absl::OkStatus());
}

TEST_F(EtcdCoordinatorTest, HeadMovedByAnotherWriterStopsTheLeader) {
  auto a = Make("a");
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->Campaign().value_or(false));
  ASSERT_TRUE(a->Commit(HeadOfSize(1)).ok());
  etcd_.HoldWatches();
  HeadRecord foreign{a->epoch(), HeadOfSize(9), std::string(16, 'x')};
  ASSERT_TRUE(etcd_.Put(EtcdHeadKey(kOrigin), EncodeHeadRecord(foreign)).ok());
  absl::Status s = a->Commit(HeadOfSize(2));
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("another writer"));
  EXPECT_EQ(StoredHead(), foreign);
  etcd_.ReleaseWatches();
}

TEST_F(EtcdCoordinatorTest, CommitNeverShrinksTheHead) {
  auto a = Make("a");
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->Campaign().value_or(false));
  ASSERT_TRUE(a->Commit(HeadOfSize(4)).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(a->Commit(HeadOfSize(3))));
  EXPECT_EQ(StoredHead().head, HeadOfSize(4));
}

TEST_F(EtcdCoordinatorTest, CompactedWatchRereadsTheHead) {
  auto a = Make("a");
  auto b = Make("b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Campaign().value_or(false));
  etcd_.HoldWatches();
  ASSERT_TRUE(a->Commit(HeadOfSize(1)).ok());
  ASSERT_TRUE(a->Commit(HeadOfSize(2)).ok());
  ASSERT_TRUE(a->Commit(HeadOfSize(3)).ok());
  EXPECT_EQ(b->Committed(), ledger::Head{});
  etcd_.Compact(etcd_.revision());
  etcd_.ReleaseWatches();
  EXPECT_EQ(b->Committed(), HeadOfSize(3));
}

TEST_F(EtcdCoordinatorTest, MalformedHeadRefusesToStart) {
  ASSERT_TRUE(etcd_.Put(EtcdHeadKey(kOrigin), "garbage").ok());
  EtcdCoordinatorOptions options;
  options.origin = kOrigin;
  options.node_name = "a";
  auto c = EtcdCoordinator::Start(&etcd_, options);
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(absl::IsDataLoss(c.status())) << c.status();
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr(EtcdHeadKey(kOrigin)));
}

}  // namespace
}  // namespace ledger::node
