#pragma once

// Proof latency over gRPC at a given ledger size: closed-loop
// GetInclusionProof (random index, against the latest checkpoint) and
// GetConsistencyProof (random old size, to the latest checkpoint) calls from
// `clients` channels. Each answer's hash count is checked against RFC 9162's
// proof length for (index, size).

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tools/bench/histogram.h"
#include "tools/common/client_tls.h"

namespace ledger::bench {

struct ProofOptions {
  uint64_t requests = 2000;  // of each kind
  // Untimed calls of each kind per client before the measured ones, at
  // other random positions: the first calls pay for connecting, the
  // node's thread pools and cold CPU caches, which the measured proofs of
  // a running node do not. At least one (it connects).
  uint64_t warmup = 200;
  int clients = 1;
  double max_seconds = 30;  // of each kind
  uint64_t seed = 1;
};

struct ProofKindResult {
  uint64_t requests = 0;
  uint64_t failed = 0;
  uint64_t warmup = 0;  // untimed calls, all clients
  double seconds = 0;   // wall time, warm-up included
  Histogram latency;    // ns
  std::string first_error;
};

struct ProofResult {
  uint64_t tree_size = 0;
  ProofKindResult inclusion;
  ProofKindResult consistency;
  // The RPC floor: GetInclusionProof for an index outside the tree, which
  // the node refuses (OUT_OF_RANGE) without computing anything; the same
  // round trip through the same gRPC path as a proof.
  ProofKindResult floor;
};

// `tree_size` must be the size of the node's latest checkpoint.
// {requests, failed, seconds, latency, first_error?} for the JSON summary.
nlohmann::json ProofKindJson(const ProofKindResult& k);
// {tree_size, inclusion, consistency, rpc_floor}, each kind as above.
nlohmann::json ProofResultJson(const ProofResult& p);
// "; the RPC refused at once: p99 N us" for the note of a proof target,
// from such a `proofs` object; "" if it has no RPC floor.
std::string RpcFloorNote(const nlohmann::json& proofs);

ProofResult RunProofs(const client_tls::Endpoint& endpoint, uint64_t tree_size,
                      const ProofOptions& options);

// The number of hashes in the RFC 9162 consistency proof between sizes
// (0 < old_size <= new_size).
size_t ConsistencyProofLength(uint64_t old_size, uint64_t new_size);

}  // namespace ledger::bench
