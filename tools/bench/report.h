#pragma once

// Results as JSON (the summary file) and as text tables (stderr and the
// markdown written next to the JSON). Latencies are reported in
// microseconds.

#include <string>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "tools/bench/histogram.h"

namespace ledger::bench {

// {"count", "mean_us", "p50_us", "p90_us", "p99_us", "p999_us", "max_us"}.
nlohmann::json HistogramJson(const Histogram& h);

// CPU model, cores, memory, kernel, and the disk under `work_dir` (df and
// lsblk), for the summary.
nlohmann::json MachineInfo(const std::string& work_dir);

// The current UTC time, RFC 3339.
std::string NowUtc();

// Writes `value` pretty-printed (InternalError naming the path on failure).
absl::Status WriteJsonFile(const std::string& path,
                           const nlohmann::json& value);
absl::Status WriteTextFile(const std::string& path, const std::string& text);

// A markdown report of a summary: one table of throughput rows (every
// element of summary["runs"]), the peers, the ratios and the targets.
// Missing parts are skipped.
std::string MarkdownReport(const nlohmann::json& summary);

// One aligned line per run: name, events/s, p50/p99/p99.9 (us), node CPU
// seconds per 1k events.
std::string TextTable(const nlohmann::json& runs);

}  // namespace ledger::bench
