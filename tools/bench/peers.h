#pragma once

// In-process peers that bound what the node can do with the same records:
//
// - Raw RocksDB: the entries the ledger would write for the workload (real
//   ledger::EncodeEntry bytes with emitter signatures, chain hashes and
//   back-links) and their by_event_id keys, written through ledger::Store
//   (the node's own column-family options) in synced WriteBatches of
//   `group_events` events: the storage ceiling.
// - Ed25519: libsodium verifications per second on one thread, over
//   signatures of batch messages of the workload's batch size: the
//   signature-verification ceiling.
//
// Preparation (building entries, signing) happens before timing starts.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/ed25519.h"
#include "tools/bench/histogram.h"
#include "tools/bench/workload.h"

namespace ledger::bench {

struct RawRocksOptions {
  std::string dir;  // must not hold a database yet
  uint32_t group_events = 1000;
  double max_seconds = 60;
};

struct RawRocksResult {
  uint64_t events = 0;
  uint64_t groups = 0;
  double seconds = 0;
  uint64_t entry_bytes = 0;  // sum of the entries written
  uint64_t disk_bytes = 0;   // the directory afterwards
  Histogram group_latency;   // ns per synced write
  double events_per_second() const {
    return seconds > 0 ? static_cast<double>(events) / seconds : 0;
  }
};

// `batches` must have been built with keep_event_bytes and signed by the
// key whose public half is `emitter`.
absl::StatusOr<RawRocksResult> RunRawRocks(
    const std::vector<SignedBatch>& batches,
    const crypto::Ed25519PublicKey& emitter, const RawRocksOptions& options);

struct Ed25519Options {
  uint32_t batch_size = 1;  // events per signed message
  uint64_t signatures = 20000;
  double max_seconds = 10;
};

struct Ed25519Result {
  uint64_t verifications = 0;
  double seconds = 0;
  double verifications_per_second() const {
    return seconds > 0 ? static_cast<double>(verifications) / seconds : 0;
  }
};

// Verifies `signatures` distinct pre-signed batch messages
// (BatchSignatureMessage of `batch_size`) with crypto_sign_verify_detached,
// round-robin until the count or time bound. Internal if one fails.
absl::StatusOr<Ed25519Result> RunEd25519Ceiling(const Ed25519Options& options);

}  // namespace ledger::bench
