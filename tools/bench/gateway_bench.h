#pragma once

// `ledger-bench gateway`: OpenLineage events over HTTP keep-alive through
// ledger-gateway against the same kind of events sent by `ledgerctl
// append`'s code over gRPC, on one node in one run (issue 17's target: the
// gateway at 50% or more of the gRPC rate).
//
// Each side gets its own `events` OpenLineage COMPLETE RunEvents (distinct
// runs, so neither side's events are the other's duplicates), all mapped
// by the gateway's mapping to one ledger event each:
//
//   gateway  an in-process gateway (its Appender and HTTP server) in front
//            of the node; `connections` keep-alive HTTP clients each post
//            their share, one RunEvent per request, waiting for each
//            answer. Timed from the first request to the last answer.
//   grpc     the mapped events as JSON lines (ledgerctl append's input),
//            prepared and sent by ledgerctl append's PrepareRequests and
//            SendRequests: batches of batch_size, in_flight requests.
//            Timed from reading the lines to the last acknowledgement.
//
// Rounds alternate the order (gateway first in even rounds). The ratio is
// the median over rounds of gateway / grpc events per second. Both sides
// sign with one key registered for producer ledger-gateway.

#include <cstdint>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tools/bench/node_process.h"
#include "tools/bench/scenario.h"

namespace ledger::bench {

struct GatewayBenchOptions {
  int rounds = 3;
  uint64_t events = 20000;     // per side and round
  int connections = 64;        // HTTP keep-alive clients
  int senders = 2;             // the gateway's AppendBatch calls in flight
                               // (ledger-gateway's default)
  uint32_t batch_size = 1000;  // the gRPC side's events per request
  uint32_t in_flight = 4;      // the gRPC side's requests in flight
};

inline constexpr double kGatewayTarget = 0.5;

absl::StatusOr<nlohmann::json> RunGatewayBench(
    const BenchEnv& env, const GatewayBenchOptions& options);

}  // namespace ledger::bench
