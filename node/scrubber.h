#pragma once

// The background scrub: re-verifies the whole ledger (Ledger::Scrub, against
// a snapshot, while appends go on) at a bounded rate, once soon after start
// when Open checked only the tail, then every `interval`. After such an
// open it first checks the derived families against their digests, which
// the node waits for before it accepts appends. A mismatch is
// reported to `on_data_loss` (the node stops serving); nothing else stops
// it but Stop().

#include <cstdint>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "base/sync.h"
#include "ledger/ledger.h"

namespace ledger::node {

struct ScrubOptions {
  // Entries per second; 0 turns the scrub off.
  uint64_t rate = 500'000;
  // Between the end of one scrub and the start of the next; zero: only the
  // first.
  absl::Duration interval = absl::Hours(24);
  // Scrub right after start (the node checked only the tail on open).
  bool scrub_soon = false;
  // First of all, compare the derived families with their digests
  // (Ledger::CheckDerivedDigests, unpaced) and call `on_derived_verified`.
  bool derived_first = false;
};

class Scrubber {
 public:
  // Borrows `ledger`, which must outlive the scrubber.
  Scrubber(const ledger::Ledger* ledger, ScrubOptions options,
           std::function<void(const absl::Status&)> on_data_loss,
           std::function<void()> on_derived_verified = nullptr);
  ~Scrubber();  // Stop()

  void Start();
  // Stops a scrub in progress (it ends Cancelled) and joins. Idempotent.
  void Stop();

  // For tests and health: completed scrubs, and whether one found damage.
  uint64_t completed() const;
  bool WaitForCompleted(uint64_t n, absl::Duration timeout);

 private:
  void Run();
  // Paces the scrub: blocks until `done` entries are due at the rate.
  bool Pace(uint64_t done, absl::Time started);

  const ledger::Ledger* const ledger_;
  const ScrubOptions options_;
  const std::function<void(const absl::Status&)> on_data_loss_;
  const std::function<void()> on_derived_verified_;

  mutable Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t completed_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace ledger::node
