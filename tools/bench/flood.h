#pragma once

// The node under abuse: what its memory and threads do when clients never
// pause, and when thousands of streams stay open. Not a throughput figure:
// the question is whether pushback keeps everything bounded and the node
// answering.
//
// Flood: `clients` channels, each keeping `outstanding` AppendBatch calls
// in flight at all times for `seconds` (a refused call is replaced at
// once), cycling through a pool of signed batches (after the first pass
// they are duplicates, which cost the node a signature check each, as a
// flood of fresh events would). Streams: `streams` AppendStream calls on
// one connection, each sends one batch and stays open for `hold_seconds`,
// then all finish.
//
// Throughout, every 250 ms: the node's resident memory and thread count
// (/proc/PID/status); and, on each of two endpoints, the service port and
// the node's health-only port (health_listen), a grpc.health.v1 Check of
// "" and of "ledger.v1.Ingest" with a 2 s deadline (its latency and
// answer), each endpoint probed by a thread of its own, 250 ms after its
// previous answer.

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tools/bench/histogram.h"
#include "tools/bench/node_process.h"

namespace ledger::bench {

struct FloodOptions {
  int clients = 64;
  int outstanding = 64;  // calls in flight per client
  double seconds = 60;
  uint32_t batch_size = 100;
  uint64_t pool_events = 200'000;  // distinct events cycled through
  int streams = 2000;
  double hold_seconds = 10;
};

// Health checks of one endpoint during one phase.
struct HealthSamples {
  uint64_t checks = 0;
  uint64_t failures = 0;  // no answer within the deadline, or error
  Histogram latency;      // ns, of the answered checks
  std::map<std::string, uint64_t> ingest;  // answer -> count
};

// What the sampler saw during one phase.
struct NodeSamples {
  uint64_t max_rss_bytes = 0;
  uint64_t last_rss_bytes = 0;
  int max_threads = 0;
  int last_threads = 0;
  HealthSamples health;           // on the service port
  HealthSamples health_endpoint;  // on the health-only port, if any
};

struct FloodResult {
  // Flood phase.
  uint64_t calls = 0;
  uint64_t acknowledged_events = 0;
  std::map<std::string, uint64_t> outcomes;  // gRPC code name -> calls
  bool retry_hint_seen = false;  // grpc-retry-pushback-ms on a refusal
  NodeSamples flood;
  // Stream phase.
  int streams_opened = 0;
  int streams_ok = 0;
  std::string first_stream_error;
  NodeSamples streams;
  NodeSamples idle;           // before the flood
  std::string health_target;  // the health-only port probed, or ""
};

// Runs both phases against `node` (whose emitter key for the workload's
// tenant is registered by the caller, with `key`).
absl::StatusOr<FloodResult> RunFlood(NodeProcess& node,
                                     const crypto::Ed25519PrivateKey& key,
                                     const FloodOptions& options);

nlohmann::json FloodToJson(const FloodOptions& options,
                           const FloodResult& result);

}  // namespace ledger::bench
