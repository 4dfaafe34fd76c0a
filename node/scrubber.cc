#include "node/scrubber.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include "base/strings.h"

namespace ledger::node {

Scrubber::Scrubber(const ledger::Ledger* ledger, ScrubOptions options,
                   std::function<void(const absl::Status&)> on_data_loss,
                   std::function<void()> on_derived_verified)
    : ledger_(ledger),
      options_(options),
      on_data_loss_(std::move(on_data_loss)),
      on_derived_verified_(std::move(on_derived_verified)) {}

Scrubber::~Scrubber() { Stop(); }

void Scrubber::Start() {
  if (options_.rate == 0 && !options_.derived_first) return;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "scrub");
    Run();
  });
}

void Scrubber::Stop() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

uint64_t Scrubber::completed() const {
  MutexLock lock(&mu_);
  return completed_;
}

bool Scrubber::WaitForCompleted(uint64_t n, absl::Duration timeout) {
  MutexLock lock(&mu_);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return completed_ >= n;
  };
  return mu_.AwaitWithTimeout(done, timeout);
}

bool Scrubber::Pace(uint64_t done, absl::Time started) {
  const absl::Time due =
      started + absl::Seconds(static_cast<double>(done) / options_.rate);
  MutexLock lock(&mu_);
  auto stopped = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
  const absl::Duration wait = due - absl::Now();
  if (wait > absl::ZeroDuration()) mu_.AwaitWithTimeout(stopped, wait);
  return !stop_;
}

void Scrubber::Run() {
  if (options_.derived_first) {
    const absl::Time started = absl::Now();
    absl::Status s = ledger_->CheckDerivedDigests();
    if (!s.ok()) {
      spdlog::critical("index check: {}", ToStd(s.message()));
      if (on_data_loss_) on_data_loss_(s);
      return;
    }
    spdlog::info("index check: the derived families match their digests ({})",
                 absl::FormatDuration(absl::Now() - started));
    if (on_derived_verified_) on_derived_verified_();
  }
  if (options_.rate == 0) return;
  bool first = true;
  for (;;) {
    if (!(first && options_.scrub_soon)) {
      if (options_.interval == absl::ZeroDuration()) return;
      MutexLock lock(&mu_);
      auto stopped = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
      mu_.AwaitWithTimeout(stopped, options_.interval);
      if (stop_) return;
    }
    first = false;
    const absl::Time started = absl::Now();
    const uint64_t size = ledger_->head().size;
    spdlog::info(
        "scrub: verifying the {} entries of the ledger at {} "
        "entries/s",
        size, options_.rate);
    absl::Status s = ledger_->Scrub(
        [&](uint64_t done, uint64_t) { return Pace(done, started); });
    if (absl::IsCancelled(s)) return;
    if (absl::IsDataLoss(s)) {
      spdlog::critical("scrub: {}", ToStd(s.message()));
      if (on_data_loss_) on_data_loss_(s);
      return;
    }
    if (!s.ok()) {  // a read failed: not damage found; try again later
      spdlog::error("scrub: could not finish: {}", ToStd(s.message()));
      continue;
    }
    spdlog::info("scrub: all {} entries verified in {}", size,
                 absl::FormatDuration(absl::Now() - started));
    MutexLock lock(&mu_);
    ++completed_;
  }
}

}  // namespace ledger::node
