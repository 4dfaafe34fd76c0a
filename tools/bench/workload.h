#pragma once

// Benchmark workload: realistic ~1 KiB annotation events (every field of
// ledger/FORMAT.md section 3, a mix of its types: annotation.created/updated/
// submitted, review.accepted/rejected, item.viewed, prelabel.applied,
// data.cleaned, qa.metrics_recorded, dataset.exported), encoded, signed
// and serialized as gRPC requests before any timing starts.
//
// Event n of a seed is a pure function of (seed, n), so a long run can be
// generated in chunks (first_event) and workers can build batches in
// parallel; event IDs are unique per (seed, n).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/aead.h"
#include "crypto/ed25519.h"
#include "ledger/event.h"
#include "ledger/payload.h"

namespace ledger::bench {

// A payload key of the node (Ingest.GetPayloadKey): a node refuses payloads
// that are not envelopes of its keys (ledger/FORMAT.md section 3.4).
struct PayloadSeal {
  PayloadKeyId key_id{};
  crypto::AeadKey key{};
};

struct WorkloadOptions {
  std::string tenant = "bench";
  uint64_t seed = 1;
  uint64_t first_event = 0;  // number of the first event
  uint64_t events = 0;       // total events (the last batch may be short)
  // Events per signed batch. `single` requires 1.
  uint32_t batch_size = 1;
  // Serialize v1::AppendRequest (one event, Append) instead of
  // v1::AppendBatchRequest (AppendBatch and AppendStream messages).
  bool single = false;
  // Canonical event size to pad to with a payload (events that are larger
  // stay as they are). 0: no padding.
  uint32_t event_bytes = 1024;
  // The padding is personal data sealed under this key (an envelope, at
  // least 57 bytes: a smaller gap is left unpadded). Without it, opaque
  // bytes: only for the in-process peers, which bypass the node.
  std::optional<PayloadSeal> payload_seal;
  // Keep each event's canonical bytes in SignedBatch::event_bytes (the
  // in-process peers need them; load runs do not).
  bool keep_event_bytes = false;
  unsigned threads = 0;  // 0: one per core
};

// One signed batch, ready to send.
struct SignedBatch {
  uint32_t events = 0;
  std::string request;  // serialized AppendRequest or AppendBatchRequest
  std::vector<std::string> event_bytes;  // when keep_event_bytes
  crypto::Ed25519Signature signature{};
};

// The event numbered `n`.
Event MakeEvent(const std::string& tenant, uint64_t seed, uint64_t n,
                uint32_t event_bytes, const PayloadSeal* seal = nullptr);

// Builds options.events events in batches of options.batch_size, signs
// each batch with `key` (ledger::SignBatch) and serializes the requests.
// InvalidArgument for bad options.
absl::StatusOr<std::vector<SignedBatch>> BuildWorkload(
    const WorkloadOptions& options, const crypto::Ed25519PrivateKey& key);

// Sum of SignedBatch::events.
uint64_t CountEvents(const std::vector<SignedBatch>& batches);

}  // namespace ledger::bench
