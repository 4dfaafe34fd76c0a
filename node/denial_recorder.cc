#include "node/denial_recorder.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "base/strings.h"
#include "node/ledger_events.h"

namespace ledger::node {
namespace {

constexpr size_t kMaxAttributeBytes = 512;

// Request-derived text (a tenant name from a request can be anything)
// made fit for an attribute: printable ASCII, bounded.
std::string Printable(std::string_view s) {
  std::string out(s.substr(0, kMaxAttributeBytes));
  for (char& c : out) {
    if (c < 0x20 || c >= 0x7F) c = '?';
  }
  return out;
}

}  // namespace

Event AccessDeniedEvent(const Caller& caller, std::string_view method,
                        std::string_view reason, uint64_t count) {
  Event event;
  event.type = "access.denied";
  event.tenant = std::string(caller.RecordTenant());
  // Sorted by key, as every event's attributes.
  event.attributes = {
      {"count", StrCat(count)},
      {"method", Printable(method)},
      {"reason", Printable(reason)},
  };
  event.outcome = Outcome{OutcomeStatus::kFailure, "permission_denied"};
  return event;
}

DenialRecorder::DenialRecorder(const Clock* clock,
                               DenialRecorderOptions options, Append append)
    : clock_(clock), options_(options), append_(std::move(append)) {}

DenialRecorder::~DenialRecorder() { Stop(); }

void DenialRecorder::Start() {
  MutexLock lock(&mu_);
  if (started_) return;
  started_ = true;
  running_ = true;
  window_start_ns_ = clock_->NowNs();
  thread_ = std::thread([this] { Run(); });
}

void DenialRecorder::Stop() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void DenialRecorder::Record(const Caller& caller, std::string_view method,
                            std::string_view reason) {
  MutexLock lock(&mu_);
  ++denials_;
  auto [it, added] = pending_.try_emplace(caller.identity);
  Pending& p = it->second;
  if (added) p.caller = caller;
  p.method = Printable(method);
  p.reason = Printable(reason);
  ++p.count;
  const int64_t interval = absl::ToInt64Nanoseconds(options_.interval);
  if (!p.ever_written || clock_->NowNs() - p.last_written_ns >= interval) {
    wake_ = true;
  }
}

std::vector<DenialRecorder::Due> DenialRecorder::TakeDueLocked(bool final) {
  std::vector<Due> due;
  const int64_t now = clock_->NowNs();
  const int64_t interval = absl::ToInt64Nanoseconds(options_.interval);
  if (now - window_start_ns_ >= interval) {
    window_start_ns_ = now;
    window_entries_ = 0;
  }
  for (auto& [identity, p] : pending_) {
    if (p.count == 0) continue;
    if (!final) {
      if (p.ever_written && now - p.last_written_ns < interval) continue;
      if (window_entries_ >= options_.max_entries_per_interval) break;
    }
    Event event = AccessDeniedEvent(p.caller, p.method, p.reason, p.count);
    StampLedgerEvent(now, p.caller.identity, RoleSetName(p.caller.roles),
                     &event);
    due.push_back(Due{std::move(event), p.count});
    p.count = 0;
    p.last_written_ns = now;
    p.ever_written = true;
    ++window_entries_;
  }
  return due;
}

void DenialRecorder::Run() {
  for (;;) {
    std::vector<Due> due;
    bool final = false;
    uint64_t serving = 0;
    {
      MutexLock lock(&mu_);
      mu_.AwaitWithTimeout([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                               mu_) { return stop_ || wake_; },
                           options_.poll);
      wake_ = false;
      final = stop_;
      serving = flush_requested_;
      due = TakeDueLocked(final);
    }
    for (Due& d : due) {
      const std::string identity = d.event.actor.id;
      absl::Status s = append_(std::move(d.event));
      MutexLock lock(&mu_);
      if (s.ok()) {
        ++entries_written_;
        denials_written_ += d.count;
      } else {
        // At most one line per identity and interval, as the entries.
        spdlog::warn("could not record {} denied request(s) of {}: {}", d.count,
                     identity, ToStd(s.message()));
      }
    }
    MutexLock lock(&mu_);
    flush_served_ = serving;
    if (final) {
      running_ = false;
      return;
    }
  }
}

uint64_t DenialRecorder::denials() const {
  MutexLock lock(&mu_);
  return denials_;
}

uint64_t DenialRecorder::entries_written() const {
  MutexLock lock(&mu_);
  return entries_written_;
}

uint64_t DenialRecorder::denials_written() const {
  MutexLock lock(&mu_);
  return denials_written_;
}

bool DenialRecorder::WaitForEntriesWritten(uint64_t n, absl::Duration timeout) {
  MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                                  mu_) { return entries_written_ >= n; },
                              timeout);
}

bool DenialRecorder::Flush(absl::Duration timeout) {
  MutexLock lock(&mu_);
  if (!running_) return false;
  const uint64_t request = ++flush_requested_;
  wake_ = true;
  return mu_.AwaitWithTimeout(
             [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
               return flush_served_ >= request || !running_;
             },
             timeout) &&
         flush_served_ >= request;
}

}  // namespace ledger::node
