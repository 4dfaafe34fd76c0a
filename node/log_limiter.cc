#include "node/log_limiter.h"

#include <utility>

namespace ledger::node {

LogBurstLimiter::LogBurstLimiter(uint64_t burst, absl::Duration interval,
                                 std::function<absl::Time()> now)
    : burst_(burst), interval_(interval), now_(std::move(now)) {}

bool LogBurstLimiter::Allow(uint64_t* suppressed) {
  const absl::Time now = now_();
  MutexLock lock(&mu_);
  if (window_start_ == absl::InfinitePast() ||
      now - window_start_ >= interval_ || now < window_start_) {
    window_start_ = now;
    in_window_ = 0;
  }
  if (in_window_ >= burst_) {
    ++suppressed_;
    return false;
  }
  ++in_window_;
  *suppressed = suppressed_;
  suppressed_ = 0;
  return true;
}

void LogBurstLimiter::ResetForTesting() {
  MutexLock lock(&mu_);
  window_start_ = absl::InfinitePast();
  in_window_ = 0;
  suppressed_ = 0;
}

}  // namespace ledger::node
