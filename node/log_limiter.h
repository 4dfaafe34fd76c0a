#pragma once

// A bound on how often one kind of log line is written, so that a client
// sending bad requests in a loop cannot flood the node's log.

#include <cstdint>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/sync.h"

namespace ledger::node {

// Lets at most `burst` lines through per `interval` (fixed windows) and
// counts the rest. Thread-safe.
class LogBurstLimiter {
 public:
  LogBurstLimiter(
      uint64_t burst, absl::Duration interval,
      std::function<absl::Time()> now = [] { return absl::Now(); });

  // True if a line may be written now; then *suppressed is the number of
  // lines refused since the last one let through (for the line to say).
  bool Allow(uint64_t* suppressed);

  // Starts afresh, as if nothing had been logged (tests).
  void ResetForTesting();

 private:
  const uint64_t burst_;
  const absl::Duration interval_;
  const std::function<absl::Time()> now_;
  Mutex mu_;
  absl::Time window_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  uint64_t in_window_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t suppressed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ledger::node
