#pragma once

// Emitter batches: signing (emitter side) and verification (ledger side).
// One Ed25519 signature covers the RFC 6962 root over the leaf hashes of a
// batch's canonical events, so a batch of 1,000 costs one verification and
// every entry still carries its own audit path.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "crypto/ed25519.h"
#include "ledger/entry.h"
#include "ledger/event.h"
#include "ledger/merkle.h"

namespace ledger {

inline constexpr uint32_t kMaxBatchSize = 100'000;

// Emitter side: the signature over the batch of canonical events (1 to
// kMaxBatchSize of them, in batch order).
crypto::Ed25519Signature SignBatch(const crypto::Ed25519PrivateKey& key,
                                   absl::Span<const std::string> event_bytes);

// A batch whose events are valid and whose signature verified. Only
// VerifyBatch makes one, so holding one is proof of both.
class VerifiedBatch {
 public:
  VerifiedBatch(VerifiedBatch&&) = default;
  VerifiedBatch& operator=(VerifiedBatch&&) = default;

  size_t size() const { return events_.size(); }
  const std::vector<Event>& events() const { return events_; }
  const std::vector<std::string>& event_bytes() const { return event_bytes_; }
  const std::vector<Hash>& event_hashes() const { return event_hashes_; }
  const Hash& key_id() const { return key_id_; }
  const Hash& root() const { return root_; }
  const crypto::Ed25519Signature& signature() const { return signature_; }

  // The emitter-signature block for event i (audit path included). The
  // audit paths are computed by VerifyBatch, on the verifying thread, so
  // the sequencer only copies them.
  EmitterSignature SignatureFor(uint32_t i) const;

 private:
  friend absl::StatusOr<VerifiedBatch> VerifyBatch(
      std::vector<Event>, const Hash&, const crypto::Ed25519PublicKey&,
      const crypto::Ed25519Signature&, const EventLimits&);
  friend absl::StatusOr<VerifiedBatch> VerifyStoredBatch(
      absl::Span<const Entry* const>, std::vector<Event>,
      const crypto::Ed25519PublicKey&, const EventLimits&);
  VerifiedBatch() = default;

  std::vector<Event> events_;
  std::vector<std::string> event_bytes_;
  std::vector<Hash> event_hashes_;
  Hash key_id_{};
  Hash root_{};
  crypto::Ed25519Signature signature_{};
  std::vector<std::vector<Hash>> audit_paths_;
  // VerifyStoredBatch: the size of the batch the emitter signed, and each
  // event's position in it (the events are a subset of that batch).
  uint32_t signed_size_ = 0;
  std::vector<uint32_t> signed_indexes_;
};

// Validates every event (ValidateEvent with `limits`), encodes it, builds
// the batch tree and checks `signature` over BatchSignatureMessage(size,
// root) under `key`; key_id must be KeyIdOf(key).
// InvalidArgument for an empty/oversized batch, a key_id that is not
// KeyIdOf(key) (both checked first) or a bad event, naming it
// ("events[3].type: ..."); Unauthenticated if the signature does not
// verify.
absl::StatusOr<VerifiedBatch> VerifyBatch(
    std::vector<Event> events, const Hash& key_id,
    const crypto::Ed25519PublicKey& key,
    const crypto::Ed25519Signature& signature, const EventLimits& limits);

// Events that another ledger stored from one emitter batch: consecutive
// entries whose emitter blocks name the same key, batch size, root and
// signature, with `events` their decoded events (a subset of the signed
// batch, in batch order: the events the other ledger did not store, as
// duplicates, are missing). Checks what VerifyBatch checks of each event
// (ValidateEvent), each entry's audit path from its event's leaf to the
// root, and the signature under `key` once. SignatureFor(i) then gives the
// entry's own emitter block, so re-sequencing the events makes the same
// entries. DataLoss naming the entry's index and the field
// (`entry 12: emitter.audit_path: ...`), InvalidArgument for an event that
// does not validate, Unauthenticated for the signature.
absl::StatusOr<VerifiedBatch> VerifyStoredBatch(
    absl::Span<const Entry* const> entries, std::vector<Event> events,
    const crypto::Ed25519PublicKey& key, const EventLimits& limits);

}  // namespace ledger
