#pragma once

// Encrypted event payloads (ledger/FORMAT.md section 3.4) and the key.erased
// event that crypto-shreds them (section 8.8). Personal data goes only into
// an event's payload, sealed by the emitter with XChaCha20-Poly1305 under a
// per-data-subject key that the ledger generates (ledger/shred_keys.h). The
// ledger and verifiers hash and sign the sealed bytes like any other
// payload; only reading the plaintext needs the key.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "crypto/aead.h"
#include "ledger/event.h"

namespace ledger {

inline constexpr size_t kPayloadKeyIdSize = 16;
using PayloadKeyId = std::array<uint8_t, kPayloadKeyIdSize>;

// Envelope: version (1) || key_id (16) || nonce (24) || ciphertext || tag
// (16).
inline constexpr uint8_t kEnvelopeVersion = 1;
inline constexpr size_t kEnvelopeHeaderSize =
    1 + kPayloadKeyIdSize + crypto::kAeadNonceSize;
inline constexpr size_t kEnvelopeMinSize =
    kEnvelopeHeaderSize + crypto::kAeadTagSize;
// The first bytes of the associated data; a 0x00, the tenant, a 0x00 and
// the 16 event_id bytes follow.
inline constexpr std::string_view kPayloadAadLabel =
    "annotation-ledger/payload/v1";

// An envelope's parts; `sealed` views the bytes it was parsed from.
struct Envelope {
  PayloadKeyId key_id{};
  crypto::AeadNonce nonce{};
  std::string_view sealed;  // ciphertext || tag
};

// Splits a payload into its envelope parts. InvalidArgument saying what is
// wrong if it is shorter than kEnvelopeMinSize or its version is not 1.
// (Whether the ciphertext opens is OpenPayload's question.)
absl::StatusOr<Envelope> ParseEnvelope(std::string_view payload);

// The associated data binding a payload to its event: kPayloadAadLabel,
// 0x00, tenant, 0x00, event_id.
std::string PayloadAad(std::string_view tenant, const Uuid& event_id);

// The payload bytes for `plaintext` sealed under `key` (whose ID is
// `key_id`) for the event (tenant, event_id). The nonce must be fresh for
// every payload (crypto::NewAeadNonce()); it is a parameter for test
// vectors.
std::string SealPayload(const PayloadKeyId& key_id, const crypto::AeadKey& key,
                        const crypto::AeadNonce& nonce, std::string_view tenant,
                        const Uuid& event_id, std::string_view plaintext);

// The plaintext of `envelope`, sealed for (tenant, event_id) under `key`.
// DataLoss if it does not open.
absl::StatusOr<std::string> OpenPayload(const Envelope& envelope,
                                        const crypto::AeadKey& key,
                                        std::string_view tenant,
                                        const Uuid& event_id);

// 32 lowercase hex digits: how entries and messages name a payload key.
std::string PayloadKeyIdHex(const PayloadKeyId& key_id);
// The inverse; InvalidArgument naming `what` unless exactly 32 lowercase hex
// digits.
absl::StatusOr<PayloadKeyId> ParsePayloadKeyIdHex(std::string_view hex,
                                                  std::string_view what);

// The key.erased event for the payload key `key_id` of `tenant`: type,
// tenant and the attributes key.id and key.reason; the caller fills
// event_id, occurred_at, producer and actor.
Event KeyErasedEvent(std::string_view tenant, const PayloadKeyId& key_id,
                     std::string_view reason);

// Parses a key.erased event (section 8.8): the ID of the erased key.
// InvalidArgument naming the attribute.
absl::StatusOr<PayloadKeyId> ErasedKeyIdOf(const Event& event);

}  // namespace ledger
