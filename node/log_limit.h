#pragma once

// Bounded logging: what a client can trigger at will (a refused request, a
// failed TLS handshake) must not become one log line per attempt, or a
// flood of bad requests fills the disk and buries everything else.

#include <cstdint>
#include <functional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/sync.h"

namespace ledger::node {

// Lets at most `lines` lines through per `period` (fixed windows of the
// clock `now`, real time by default) and counts the rest.
class LogLimiter {
 public:
  LogLimiter(
      uint32_t lines, absl::Duration period,
      std::function<absl::Time()> now = [] { return absl::Now(); })
      : lines_(lines), period_(period), now_(std::move(now)) {}

  // Whether a line may be written now. When it may, `*suppressed` is the
  // number of lines dropped since the last one let through (worth saying
  // in the line); otherwise it is left alone. Thread-safe.
  bool Allow(uint64_t* suppressed);

  // Lines let through, and dropped, so far.
  uint64_t allowed() const;
  uint64_t suppressed() const;

  // Starts afresh, as if nothing had been logged (tests).
  void ResetForTesting();

 private:
  const uint32_t lines_;
  const absl::Duration period_;
  const std::function<absl::Time()> now_;
  mutable Mutex mu_;
  absl::Time window_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  uint32_t in_window_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t pending_suppressed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t allowed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t suppressed_ ABSL_GUARDED_BY(mu_) = 0;
};

// Routes gRPC's own log lines (gpr_log: "Handshake failed ..." for every
// refused TLS connection, for example) to spdlog, at most 20 lines per 10
// seconds, with the number of lines dropped in between. Idempotent.
void InstallGrpcLogLimiter();
// The limiter InstallGrpcLogLimiter uses (tests read its counters).
const LogLimiter& GrpcLogLimiter();

}  // namespace ledger::node
