#pragma once

// The full comparison run (`ledger-bench suite`) and the PostgreSQL sweep
// (`ledger-bench peers`): ours in each mode, every peer on the same
// records, the ratios and the targets, all in one JSON summary.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tools/bench/scenario.h"

namespace ledger::bench {

struct PgSweepOptions {
  bool enabled = true;
  std::string bin_dir;  // empty: autodetect
  uint64_t rows = 20000;
  std::vector<uint32_t> rows_per_insert = {1, 100, 1000};
  std::vector<int> clients = {1, 4, 16};
  int many_clients = 32;  // the "one event per request" case
  double max_seconds = 15;
};

struct SuiteOptions {
  uint64_t events = 50000;  // per ingest run
  double max_seconds = 30;  // per run
  uint32_t batch_size = 1000;
  int clients = 4;
  uint32_t latency_batch_size = 100;
  int single_clients = 32;
  uint32_t stream_messages = 50;
  uint64_t warmup_events = 2000;
  uint64_t proof_requests = 2000;
  PgSweepOptions postgres;
};

absl::StatusOr<nlohmann::json> RunSuite(const BenchEnv& env,
                                        const SuiteOptions& options);

// Starts a PostgreSQL server, runs the chained table at every
// (rows_per_insert, clients) of the sweep and at (1, many_clients), the
// plain table at the chained best and at (1, many_clients), checks the
// chain of the last chained run, stops the server. Records: `rows` events
// of the workload of `seed`.
// Unimplemented if ledger-bench was built without the PostgreSQL peer.
absl::StatusOr<nlohmann::json> RunPgSweep(const BenchEnv& env,
                                          const PgSweepOptions& options);

// Whether ledger-bench was built with the PostgreSQL peer (libpq was found
// when the build was configured; tools/bench/CMakeLists.txt).
bool PostgresSupported();

// The message for a PostgreSQL run asked of a build without it.
inline constexpr char kNoPostgresMessage[] =
    "this ledger-bench was built without PostgreSQL support (libpq was not "
    "found when the build was configured): pass --no-postgres, or install "
    "libpq-dev (scripts/install-deps.sh) and rebuild";

// Ratios and targets of a summary holding "runs" and "peers".
void AddRatiosAndTargets(nlohmann::json& summary);

// Appends {name, goal, measured, met, note?} to `targets`: met when
// `measured` is at least (`at_least`) or at most `bound`; not met, with a
// note, when nothing was measured.
void AddTarget(nlohmann::json& targets, std::string name, std::string goal,
               std::optional<double> measured, bool at_least, double bound,
               std::string note = "");

// Runs `spec` on a fresh node started per `env` and returns the run with
// "role" set; `after` (may be null) runs before the node stops.
absl::StatusOr<nlohmann::json> RunOnFreshNode(
    const BenchEnv& env, const IngestSpec& spec, const std::string& role,
    const std::function<absl::Status(BenchNode&, nlohmann::json&)>& after =
        nullptr);

// The in-process ceilings (raw_rocksdb, ed25519_batch, ed25519_event) of
// two "peers" objects measured at different times: each keeps its faster
// sample, and both rates under "samples_per_second". The machine's speed
// drifts within a run; the faster sample is the ceiling the machine showed,
// so a slow moment during a ceiling's measurement cannot flatter ours.
nlohmann::json FasterCeilings(const nlohmann::json& first,
                              const nlohmann::json& second);

}  // namespace ledger::bench
