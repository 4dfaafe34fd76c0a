#pragma once

// Threads of the node's own that verify appends, so that gRPC's threads
// do not.
//
// gRPC 1.51 runs every callback of the process (each server's handlers
// and reactors, its health service's too) on a small process-wide set of
// threads (two on two cores). When the Ingest handlers verified signatures
// there, a flood with thousands of appends in flight queued every other
// callback, health checks included, behind them (docs/decisions.md, "A
// health endpoint of its own"). Now a handler only admits the call and
// hands it here; the pool converts, verifies and submits it to the
// sequencer.
//
// Its threads run at a lower scheduling priority (nice kVerifyNice) than
// the rest of the node: when verification has more work than the cores
// can do, gRPC's threads, which read every connection and answer health
// checks, still run at once, and the requests wait here (and, once
// gRPC's quota is full, in the clients) instead of the health checks.
// Measured (BENCHMARKS.md, "Overload"): under a flood of 4,096 calls in
// flight on two cores, all but one of about 470 health checks a minute
// answered, p50 2 ms, against about two thirds within 2 s when
// verification ran on gRPC's threads.
//
// The queue has no bound of its own, on purpose: what waits here is the
// requests gRPC has already received and handed to a handler, which
// gRPC's memory quota (grpc_memory_bytes) bounds (a verified batch that
// then waits for room in the sequencer holds a copy of its events beside
// its request, so at most about twice that); when it is full, gRPC
// stops reading, which costs nothing per call. A bound here would have to
// refuse calls that were already received and parsed, and clients that
// resend at once turn such refusals into a storm (BENCHMARKS.md,
// "Overload": tried, goodput halved).

#include <cstddef>
#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "base/sync.h"

namespace ledger::node {

// The nice value of the pool's threads (or the process's own, if higher).
inline constexpr int kVerifyNice = 10;

// The calling thread's nice value.
int ThreadNice();

class VerifyPool {
 public:
  // `threads` 0: one per core.
  explicit VerifyPool(size_t threads = 0, int nice = kVerifyNice);
  // Stop(), then joins the threads.
  ~VerifyPool();
  VerifyPool(const VerifyPool&) = delete;
  VerifyPool& operator=(const VerifyPool&) = delete;

  // Runs `task` on a pool thread, in the order scheduled (several run at
  // once, one per thread). After Stop() it runs `task` on the calling
  // thread instead, so nothing scheduled is ever dropped.
  void Schedule(absl::AnyInvocable<void() &&> task);

  // Tasks run first, then the threads end; later Schedule calls run inline.
  // One caller at a time (a second one, concurrent, may return before the
  // threads are joined).
  void Stop();

  // Tasks waiting for a thread (not those running).
  size_t queued() const;
  size_t threads() const { return threads_.size(); }

 private:
  void Run();

  mutable Mutex mu_;
  std::deque<absl::AnyInvocable<void() &&>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace ledger::node
