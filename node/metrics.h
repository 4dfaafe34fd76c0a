#pragma once

// The node's metrics, for the Prometheus text format on the HTTP port
// (node/http_server.h, GET /metrics). What the hot paths record (appends,
// batch and group sizes, commit latency, pushback) are relaxed atomics:
// no lock, no allocation, a few increments per batch. Everything else
// (queue depth, checkpoint age, RocksDB's figures) is read when scraped.

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace ledger {
class Ledger;
}  // namespace ledger

namespace ledger::node {

class Authorizer;
class Sequencer;
class Coordinator;
class Clock;

// A histogram of non-negative integer observations with fixed upper bounds
// (ascending; one more bucket counts what is above the last). Observe() is
// thread-safe and lock-free.
template <size_t N>
class Histogram {
 public:
  explicit constexpr Histogram(const std::array<uint64_t, N>& bounds)
      : bounds_(bounds) {}

  void Observe(uint64_t value) {
    size_t b = 0;
    while (b < N && value > bounds_[b]) ++b;
    buckets_[b].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
  }

  const std::array<uint64_t, N>& bounds() const { return bounds_; }
  // Observations in bucket `b` (b == N: above the last bound).
  uint64_t bucket(size_t b) const {
    return buckets_[b].load(std::memory_order_relaxed);
  }
  uint64_t sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::array<uint64_t, N> bounds_;
  std::array<std::atomic<uint64_t>, N + 1> buckets_{};
  std::atomic<uint64_t> sum_{0};
};

// The three append RPCs.
enum class AppendRpc : uint8_t { kAppend, kAppendBatch, kAppendStream };
inline constexpr size_t kAppendRpcs = 3;
std::string_view AppendRpcName(AppendRpc rpc);

// What the HTTP port answered, by resource.
enum class HttpResource : uint8_t {
  kCheckpoint,
  kHashTile,
  kEntryBundle,
  kMetrics,
  kOther,
};
inline constexpr size_t kHttpResources = 5;

// Start-up verification, as Ledger::Open reports it (LedgerOptions::
// open_progress).
struct OpenProgress {
  std::atomic<uint64_t> checked{0};  // entries verified so far
  std::atomic<uint64_t> total{0};    // entries to verify
  std::atomic<bool> done{false};     // the ledger is open and verified
};

class NodeMetrics {
 public:
  NodeMetrics() = default;
  NodeMetrics(const NodeMetrics&) = delete;
  NodeMetrics& operator=(const NodeMetrics&) = delete;

  // One batch's outcome (an Append is a batch of one; a stream's messages
  // are batches each): its RPC, its status and its events.
  void RecordAppend(AppendRpc rpc, absl::StatusCode code, size_t events) {
    const size_t c = static_cast<size_t>(code) < kCodes
                         ? static_cast<size_t>(code)
                         : static_cast<size_t>(absl::StatusCode::kUnknown);
    auto& slot = appends_[static_cast<size_t>(rpc)][c];
    slot.batches.fetch_add(1, std::memory_order_relaxed);
    slot.events.fetch_add(events, std::memory_order_relaxed);
    if (code == absl::StatusCode::kOk) batch_events.Observe(events);
  }
  // A batch found the append queue full (refused, or held for room).
  void RecordPushback() { pushbacks_.fetch_add(1, std::memory_order_relaxed); }
  // The time the latest checkpoint was signed.
  void SetCheckpointIssued(int64_t unix_ns) {
    checkpoint_issued_ns_.store(unix_ns, std::memory_order_relaxed);
  }
  void RecordHttp(HttpResource resource, int status) {
    const size_t s = status >= 500   ? 3
                     : status >= 400 ? (status == 404 ? 2 : 1)
                                     : 0;
    http_[static_cast<size_t>(resource)][s].fetch_add(
        1, std::memory_order_relaxed);
  }

  // Events per accepted batch.
  Histogram<9> batch_events{{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536}};
  // Events per sequencer group (one RocksDB write).
  Histogram<9> group_events{{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536}};
  // From a batch's admission to its acknowledgement (durable and
  // committed, or refused), in microseconds.
  Histogram<12> commit_latency_us{{100, 250, 500, 1000, 2500, 5000, 10000,
                                   25000, 50000, 100000, 250000, 1000000}};
  OpenProgress open_progress;

  // Where the figures read at scrape time come from. Set once the node has
  // them (before, /metrics says only what it has: start-up progress).
  struct Sources {
    const ledger::Ledger* ledger = nullptr;
    const Sequencer* sequencer = nullptr;
    const Coordinator* coordinator = nullptr;
    const Authorizer* authorizer = nullptr;
    const Clock* clock = nullptr;
    size_t max_queued_events = 0;
  };

  // The Prometheus text exposition (version 0.0.4) of every metric.
  std::string Render(const Sources* sources) const;

 private:
  static constexpr size_t kCodes = 17;
  struct AppendSlot {
    std::atomic<uint64_t> batches{0};
    std::atomic<uint64_t> events{0};
  };
  std::array<std::array<AppendSlot, kCodes>, kAppendRpcs> appends_{};
  std::atomic<uint64_t> pushbacks_{0};
  std::atomic<int64_t> checkpoint_issued_ns_{0};
  // By resource: 2xx/3xx, 4xx other than 404, 404, 5xx.
  std::array<std::array<std::atomic<uint64_t>, 4>, kHttpResources> http_{};
};

}  // namespace ledger::node
