#pragma once

// Load drivers over the real gRPC Ingest API. Requests are serialized
// before the run (workload.h) and sent as raw bytes through a generic stub,
// so the client spends nothing on protobuf while timing.
//
// Closed loop: `clients` channels (one TCP connection each), each with one
// call (or stream) outstanding; a client sends the next request as soon as
// the previous one is acknowledged. Latency: request start to response.
//
// Open loop (unary only): requests are due at a fixed rate, request i at
// start + i / rate, whatever happened to earlier ones; latency is measured
// from the due time, so time spent queued behind a slow server (or behind
// the max_outstanding cap) is counted, not hidden.
//
// Streams (AppendStream, closed loop): each client opens a stream, writes
// `stream_messages` batches, half-closes and waits for the single
// response; latency is per stream.
//
// Every run is bounded by the number of requests and by `max_seconds`.

#include <cstdint>
#include <string>
#include <vector>

#include "grpcpp/support/byte_buffer.h"
#include "tools/bench/histogram.h"
#include "tools/bench/workload.h"
#include "tools/common/client_tls.h"

namespace ledger::bench {

enum class Rpc { kAppend, kAppendBatch, kAppendStream };

std::string_view RpcName(Rpc rpc);

// One request, ready to send.
struct Message {
  grpc::ByteBuffer buffer;
  uint32_t events = 0;
};

// Wraps the serialized requests; `batches` may be released afterwards.
std::vector<Message> ToMessages(const std::vector<SignedBatch>& batches);

struct LoadOptions {
  Rpc rpc = Rpc::kAppendBatch;
  int clients = 1;
  // Open loop: requests per second (unary only). 0: closed loop.
  double rate = 0;
  // Open loop: at most this many calls outstanding; further requests wait
  // (their latency still counts from their due time).
  int max_outstanding = 4096;
  double max_seconds = 60;
  uint32_t stream_messages = 100;  // batches per stream
  double call_timeout_seconds = 60;
  // Another unary method ("/package.Service/Method") whose requests are
  // `messages`, e.g. etcd's KV Put; "" for the ledger's, by `rpc`.
  std::string method;
};

struct LoadResult {
  uint64_t requests = 0;  // acknowledged requests (stream messages)
  uint64_t events = 0;    // events in acknowledged requests
  uint64_t failed_requests = 0;
  uint64_t streams = 0;
  double seconds = 0;  // first send to last acknowledgement
  Histogram latency;   // ns; per request, or per stream
  std::string first_error;
  double events_per_second() const {
    return seconds > 0 ? static_cast<double>(events) / seconds : 0;
  }
};

// Sends `messages` in order (each at most once) to `endpoint` (plaintext
// or mutual TLS). The clients' channels connect before the clock starts.
LoadResult RunLoad(const client_tls::Endpoint& endpoint,
                   const std::vector<Message>& messages,
                   const LoadOptions& options);
// The same over several servers: client c connects to
// endpoints[c % endpoints.size()] (open loop: request i goes through
// client i % clients). `endpoints` must not be empty.
LoadResult RunLoad(const std::vector<client_tls::Endpoint>& endpoints,
                   const std::vector<Message>& messages,
                   const LoadOptions& options);

}  // namespace ledger::bench
