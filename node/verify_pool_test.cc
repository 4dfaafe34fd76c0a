#include "node/verify_pool.h"

#include <gtest/gtest.h>

#include <atomic>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/sync.h"

namespace ledger::node {
namespace {

// A gate the pool's tasks wait on, so the test decides when they finish.
struct Gate {
  Mutex mu;
  bool open ABSL_GUARDED_BY(mu) = false;
  int waiting ABSL_GUARDED_BY(mu) = 0;

  void Pass() {
    MutexLock lock(&mu);
    ++waiting;
    mu.Await([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return open; });
    --waiting;
  }
  bool WaitForWaiting(int n) {
    MutexLock lock(&mu);
    return mu.AwaitWithTimeout(
        [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return waiting == n; },
        absl::Seconds(30));
  }
  void Open() {
    MutexLock lock(&mu);
    open = true;
  }
};

TEST(VerifyPoolTest, RefusesPastTheBoundUntilTasksFinish) {
  Gate gate;
  std::atomic<int> ran{0};
  {
    VerifyPool pool(2, 100);
    auto task = [&] {
      gate.Pass();
      ++ran;
    };
    EXPECT_TRUE(pool.TrySchedule(60, task));
    EXPECT_TRUE(pool.TrySchedule(40, task));
    EXPECT_EQ(pool.pending_bytes(), 100u);
    // Full: even one byte more is refused, and the task never runs.
    EXPECT_FALSE(pool.TrySchedule(1, [&] { ran += 100; }));
    ASSERT_TRUE(gate.WaitForWaiting(2));
    gate.Open();
    // Both finish, and their bytes are released (just after each returns).
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (pool.pending_bytes() != 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    EXPECT_EQ(pool.pending_bytes(), 0u);
    EXPECT_TRUE(pool.TrySchedule(100, task));
  }
  EXPECT_EQ(ran.load(), 3);
}

TEST(VerifyPoolTest, OneRequestLargerThanTheBoundIsAdmittedAlone) {
  VerifyPool pool(1, 10);
  Gate gate;
  EXPECT_TRUE(pool.TrySchedule(50, [&] { gate.Pass(); }));
  EXPECT_FALSE(pool.TrySchedule(1, [] {}));
  ASSERT_TRUE(gate.WaitForWaiting(1));
  gate.Open();
}

TEST(VerifyPoolTest, DestructionRunsWhatWasScheduled) {
  std::atomic<int> ran{0};
  {
    VerifyPool pool(1, 1000);
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(pool.TrySchedule(1, [&] { ++ran; }));
    }
  }
  EXPECT_EQ(ran.load(), 50);
}

}  // namespace
}  // namespace ledger::node
