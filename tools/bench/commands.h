#pragma once

// The single-purpose subcommands of ledger-bench; each returns the JSON
// summary it prints and writes.

#include <cstdint>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tools/bench/flood.h"
#include "tools/bench/scenario.h"
#include "tools/bench/suite.h"

namespace ledger::bench {

// One ingest run on a fresh node and, unless `peers` is false, the raw
// RocksDB and Ed25519 peers on the same records, with ratios:
// vs_raw_rocksdb = ours / raw RocksDB events per second;
// vs_ed25519_ceiling = ours / (verifications per second x batch size).
absl::StatusOr<nlohmann::json> IngestCommand(const BenchEnv& env,
                                             const IngestSpec& spec,
                                             bool peers);

// Proof latency on a node filled to `size` events; or, when `connect` is
// not empty, on the node already running there, at its latest checkpoint
// (nothing is started or written). `warmup` untimed requests of each kind
// per client come first.
absl::StatusOr<nlohmann::json> ProofsCommand(const BenchEnv& env, uint64_t size,
                                             uint64_t requests, uint64_t warmup,
                                             int clients,
                                             const std::string& connect);

// Offline verification rate over the entries of a node filled with
// `entries` events.
absl::StatusOr<nlohmann::json> VerifyOfflineCommand(const BenchEnv& env,
                                                    uint64_t entries);

// The in-process peers for `spec`'s records, and the PostgreSQL sweep.
absl::StatusOr<nlohmann::json> PeersCommand(const BenchEnv& env,
                                            const IngestSpec& spec,
                                            const PgSweepOptions& postgres);

// The node under a flood and under thousands of open streams (flood.h):
// its memory, threads and health answers.
absl::StatusOr<nlohmann::json> FloodCommand(const BenchEnv& env,
                                            const FloodOptions& options);

}  // namespace ledger::bench
