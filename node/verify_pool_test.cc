#include "node/verify_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "base/sync.h"

namespace ledger::node {
namespace {

// Tasks wait here until the test opens it, so it decides when they end.
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

TEST(VerifyPoolTest, RunsOnItsOwnThreadsSeveralAtOnce) {
  Gate gate;
  std::atomic<int> ran{0};
  VerifyPool pool(2);
  EXPECT_EQ(pool.threads(), 2u);
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<bool> on_caller{false};
  for (int i = 0; i < 3; ++i) {
    pool.Schedule([&] {
      if (std::this_thread::get_id() == caller) on_caller = true;
      gate.Pass();
      ++ran;
    });
  }
  // Two run at once (one per thread), the third waits for a thread.
  ASSERT_TRUE(gate.WaitForWaiting(2));
  EXPECT_EQ(pool.queued(), 1u);
  gate.Open();
  pool.Stop();
  EXPECT_EQ(ran.load(), 3);
  EXPECT_FALSE(on_caller.load());
}

TEST(VerifyPoolTest, OneThreadRunsTasksInTheOrderScheduled) {
  std::vector<int> order;
  {
    VerifyPool pool(1);
    for (int i = 0; i < 100; ++i) {
      pool.Schedule([&order, i] { order.push_back(i); });
    }
  }  // the destructor runs what is queued
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
}

TEST(VerifyPoolTest, AfterStopTasksRunOnTheCallingThread) {
  VerifyPool pool(1);
  pool.Stop();
  pool.Stop();  // a second Stop is harmless
  std::thread::id ran_on;
  pool.Schedule([&] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST(VerifyPoolTest, ItsThreadsRunAtALowerPriority) {
  const int own = ThreadNice();
  int seen = -100;
  {
    VerifyPool pool(1, kVerifyNice);
    pool.Schedule([&] { seen = ThreadNice(); });
  }
  EXPECT_EQ(seen, std::max(own, kVerifyNice));
  EXPECT_EQ(ThreadNice(), own);  // the caller's is left alone
}

TEST(VerifyPoolTest, ZeroThreadsMeansOnePerCore) {
  VerifyPool pool(0);
  EXPECT_EQ(pool.threads(),
            std::max<size_t>(1, std::thread::hardware_concurrency()));
}

}  // namespace
}  // namespace ledger::node
