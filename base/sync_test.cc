#include "base/sync.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace ledger {
namespace {

TEST(MutexTest, AwaitWakesWhenAnotherThreadMakesTheConditionTrue) {
  Mutex mu;
  int stage = 0;
  std::thread producer([&] {
    for (int i = 1; i <= 3; ++i) {
      MutexLock lock(&mu);
      stage = i;
    }
  });
  {
    MutexLock lock(&mu);
    mu.Await([&] { return stage == 3; });
    EXPECT_EQ(stage, 3);
  }
  producer.join();
}

TEST(MutexTest, AwaitWithTimeoutGivesUpAndReportsTheCondition) {
  Mutex mu;
  bool never = false;
  MutexLock lock(&mu);
  const absl::Time start = absl::Now();
  EXPECT_FALSE(
      mu.AwaitWithTimeout([&] { return never; }, absl::Milliseconds(20)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(20));
  never = true;
  EXPECT_TRUE(mu.AwaitWithTimeout([&] { return never; }, absl::ZeroDuration()));
}

// A thread that changes state and then waits on its own condition releases
// the mutex inside the wait, not through Unlock: the other waiter must still
// see the change (it would otherwise sleep until its own timeout).
TEST(MutexTest, ChangingStateThenWaitingWakesOtherWaiters) {
  Mutex mu;
  bool request = false;
  bool reply = false;
  std::thread server([&] {
    MutexLock lock(&mu);
    mu.Await([&] { return request; });
    reply = true;
  });
  MutexLock lock(&mu);
  request = true;
  // A generous deadline: the wait must end by the reply, not by timing out.
  EXPECT_TRUE(mu.AwaitWithTimeout([&] { return reply; }, absl::Seconds(30)));
  mu.Unlock();
  server.join();
  mu.Lock();
}

TEST(MutexTest, ManyThreadsCountUnderTheLock) {
  Mutex mu;
  int count = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        MutexLock lock(&mu);
        ++count;
      }
    });
  }
  {
    MutexLock lock(&mu);
    mu.Await([&] { return count == 80000; });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(count, 80000);
}

}  // namespace
}  // namespace ledger
