#pragma once

// The node's source of time: entry timestamps (received_at) and checkpoint
// scheduling read it. Tests substitute a FakeClock and move time by hand.

#include <atomic>
#include <cstdint>

#include "absl/time/clock.h"

namespace ledger::node {

class Clock {
 public:
  virtual ~Clock() = default;
  // UTC nanoseconds since the Unix epoch. Thread-safe.
  virtual int64_t NowNs() const = 0;
};

// The operating system's wall clock.
class SystemClock : public Clock {
 public:
  int64_t NowNs() const override { return absl::GetCurrentTimeNanos(); }
  // A process-wide instance; never destroyed.
  static SystemClock* Default() {
    static SystemClock* clock = new SystemClock;
    return clock;
  }
};

// A clock that moves only when told. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_ns = 1'700'000'000'000'000'000)
      : now_ns_(start_ns) {}
  int64_t NowNs() const override { return now_ns_.load(); }
  void Set(int64_t ns) { now_ns_.store(ns); }
  void Advance(int64_t ns) { now_ns_.fetch_add(ns); }

 private:
  std::atomic<int64_t> now_ns_;
};

}  // namespace ledger::node
