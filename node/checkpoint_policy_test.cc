#include "node/checkpoint_policy.h"

#include <gtest/gtest.h>

#include <limits>

namespace ledger::node {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr CheckpointPolicy kPolicy{1 * kSecond, 60 * kSecond};
constexpr int64_t kT0 = 1'700'000'000 * kSecond;

TEST(CheckpointPolicyTest, DueAtOnceWhenNoCheckpointCoversTheHead) {
  EXPECT_TRUE(IsCheckpointDue(kPolicy, 0, std::nullopt, 0));
  EXPECT_TRUE(IsCheckpointDue(kPolicy, 5, std::nullopt, kT0));
  EXPECT_TRUE(IsCheckpointDue(kPolicy, 5, std::nullopt,
                              std::numeric_limits<int64_t>::min()));
}

TEST(CheckpointPolicyTest, NewEntriesWaitForTheCheckpointInterval) {
  LastCheckpoint last{10, kT0};
  EXPECT_EQ(CheckpointDueAt(kPolicy, 11, last), kT0 + kSecond);
  EXPECT_FALSE(IsCheckpointDue(kPolicy, 11, last, kT0));
  EXPECT_FALSE(IsCheckpointDue(kPolicy, 11, last, kT0 + kSecond - 1));
  EXPECT_TRUE(IsCheckpointDue(kPolicy, 11, last, kT0 + kSecond));
  EXPECT_TRUE(IsCheckpointDue(kPolicy, 11, last, kT0 + 5 * kSecond));
}

TEST(CheckpointPolicyTest, IdleAfterTheIntervalIsDueImmediately) {
  // Appends after a quiet minute get a checkpoint without further delay.
  LastCheckpoint last{10, kT0};
  EXPECT_TRUE(IsCheckpointDue(kPolicy, 12, last, kT0 + 60 * kSecond));
}

TEST(CheckpointPolicyTest, UnchangedHeadWaitsForTheEmptyInterval) {
  LastCheckpoint last{10, kT0};
  EXPECT_EQ(CheckpointDueAt(kPolicy, 10, last), kT0 + 60 * kSecond);
  EXPECT_FALSE(IsCheckpointDue(kPolicy, 10, last, kT0 + kSecond));
  EXPECT_FALSE(IsCheckpointDue(kPolicy, 10, last, kT0 + 60 * kSecond - 1));
  EXPECT_TRUE(IsCheckpointDue(kPolicy, 10, last, kT0 + 60 * kSecond));
}

TEST(CheckpointPolicyTest, EmptyLedgerGetsEmptyIntervalCheckpoints) {
  LastCheckpoint last{0, kT0};
  EXPECT_FALSE(IsCheckpointDue(kPolicy, 0, last, kT0 + 59 * kSecond));
  EXPECT_TRUE(IsCheckpointDue(kPolicy, 0, last, kT0 + 60 * kSecond));
}

TEST(CheckpointPolicyTest, FarFutureDoesNotOverflow) {
  LastCheckpoint last{1, std::numeric_limits<int64_t>::max() - 5};
  EXPECT_EQ(CheckpointDueAt(kPolicy, 1, last),
            std::numeric_limits<int64_t>::max());
  EXPECT_FALSE(IsCheckpointDue(kPolicy, 1, last, 0));
}

TEST(CheckpointPolicyTest, ClockBeforeTheLastCheckpointIsNotDue) {
  // A clock that stepped back does not cause a burst of checkpoints.
  LastCheckpoint last{10, kT0};
  EXPECT_FALSE(IsCheckpointDue(kPolicy, 11, last, kT0 - 100 * kSecond));
}

}  // namespace
}  // namespace ledger::node
