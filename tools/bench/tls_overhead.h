#pragma once

// What mutual TLS with authorization costs (`ledger-bench tls`): the same
// two ingest scenarios over plaintext (--insecure-plaintext) and over mTLS
// with the access policy enforced, alternating in one run so that a drift
// of the machine's speed hits both alike, each run on a fresh node:
//
//   batch-signed AppendBatch, batch_size events per request, batch_clients
//   per-event-signed Append, one event per request, single_clients
//
// Round r runs plaintext then mTLS for even r, mTLS then plaintext for odd
// r. The ratio of a scenario is the median over rounds of (mTLS events/s /
// plaintext events/s of the same round), compared with the issue's
// targets: batch-signed >= 0.85, per-event >= 0.70.

#include <cstdint>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tools/bench/scenario.h"

namespace ledger::bench {

struct TlsOverheadOptions {
  int rounds = 3;
  uint64_t events = 50000;  // per run
  double max_seconds = 30;  // per run
  uint32_t batch_size = 1000;
  int batch_clients = 4;
  int single_clients = 32;
  uint64_t warmup_events = 2000;
};

inline constexpr double kTlsBatchTarget = 0.85;
inline constexpr double kTlsSingleTarget = 0.70;

// Every run fails the command if a request failed (a refused mTLS request
// would otherwise pass for a slow one). Uses env.tls, or certificates made
// with env.dev_ca_script when it is null.
absl::StatusOr<nlohmann::json> RunTlsOverhead(
    const BenchEnv& env, const TlsOverheadOptions& options);

// The median over rounds of the paired ratios mTLS / plaintext of runs
// holding "round", "transport" and "events_per_second"; nullopt without a
// complete pair.
std::optional<double> PairedRatio(const nlohmann::json& runs);

}  // namespace ledger::bench
