#pragma once

// Verifies appends on threads of the node's own, not gRPC's, with a bound
// on the requests waiting for them.
//
// A unary append's handler only admits the call (TrySchedule) and returns,
// so gRPC's threads go back to reading requests at once. Without this the
// handlers verified signatures themselves: a flood with more calls in flight
// than those threads could verify left received requests piling up in
// gRPC's buffers until its memory quota was full, and gRPC then stopped
// reading from every connection, health checks included. Now the requests
// waiting here are bounded (max_pending_bytes of serialized requests) and
// past that a call is refused at once (RESOURCE_EXHAUSTED, as for a full
// sequencer queue).

#include <cstddef>
#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "base/sync.h"

namespace ledger::node {

class VerifyPool {
 public:
  // `threads` 0: one per core.
  VerifyPool(size_t threads, size_t max_pending_bytes);
  // Runs every task already scheduled, then joins the threads.
  ~VerifyPool();
  VerifyPool(const VerifyPool&) = delete;
  VerifyPool& operator=(const VerifyPool&) = delete;

  // Runs `task` on a pool thread unless the requests scheduled and not yet
  // finished would then exceed max_pending_bytes (a single request larger
  // than the bound is admitted when nothing else is pending). False, and
  // `task` is dropped, if refused. `bytes` counts until `task` returns.
  bool TrySchedule(size_t bytes, absl::AnyInvocable<void() &&> task);

  size_t pending_bytes() const;

 private:
  struct Task {
    size_t bytes;
    absl::AnyInvocable<void() &&> run;
  };
  void Run();

  const size_t max_pending_bytes_;
  mutable Mutex mu_;
  std::deque<Task> tasks_ ABSL_GUARDED_BY(mu_);
  size_t pending_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace ledger::node
