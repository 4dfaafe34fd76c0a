#pragma once

// `ledger-bench risk` (issue 13, "Performance"), in process, without gRPC:
//
// - ingest: the generated lineage workflow (ledgerctl gen-events) signed in
//   batches of batch_size and appended (one synced Append each) to fresh
//   ledgers that hold the given risk policy, with risk evaluation on (every
//   rule of the policy; the grade.propagated entries it writes) and off
//   (LedgerOptions::risk_evaluation false), alternating, `ingest_rounds`
//   pairs; the ratio of the mean rates;
// - replay: a ledger of `verify_entries` generated events under the policy
//   is exported to an entry export file (ledger/FORMAT.md section 16) and
//   `ledger-verify grades`' code (tools/verify/grades.h) replays it on one
//   thread, `verify_rounds` times; entries per second of wall and of the
//   thread's CPU time.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tools/bench/scenario.h"

namespace ledger::bench {

struct RiskBenchOptions {
  std::string policy_file;  // empty: the default policy of this source tree
  uint64_t ingest_events = 200'000;
  uint32_t ingest_rounds = 3;
  uint32_t batch_size = 1000;
  uint64_t verify_entries = 1'000'000;
  uint32_t verify_rounds = 3;
};

absl::StatusOr<nlohmann::json> RunRiskBench(const BenchEnv& env,
                                            const RiskBenchOptions& options);

}  // namespace ledger::bench
