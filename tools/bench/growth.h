#pragma once

// `ledger-bench growth`: one node filled step by step to `target` entries.
// Each step is timed as a whole (the sustained ingest rate, flushes and
// compactions included) and, separately, its first `probe_events` (the
// rate before the step's own background work builds up). After the step,
// once the node is idle again, proof latency, disk bytes per entry and the
// ratio of disk bytes to entry bytes are measured at the new size. Each
// step's workload is generated before it is timed. The rate target
// compares the last step's sustained rate with the first's.

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tools/bench/scenario.h"

namespace ledger::bench {

struct GrowthOptions {
  uint64_t target = 10'000'000;
  uint64_t step = 1'000'000;
  uint64_t probe_events = 100'000;
  uint32_t batch_size = 1000;
  int clients = 2;  // AppendStream streams
  uint32_t stream_messages = 50;
  uint64_t proof_requests = 2000;
  uint64_t warmup_events = 10000;  // first, unmeasured; <= step / 10
  double max_seconds = 6 * 3600;   // the whole run
};

// Calls `on_step` with the summary so far after every step (so a long run
// leaves results behind even if it is stopped).
absl::StatusOr<nlohmann::json> RunGrowth(
    const BenchEnv& env, const GrowthOptions& options,
    const std::function<void(const nlohmann::json&)>& on_step);

}  // namespace ledger::bench
