#pragma once

// Test fixtures for encrypted payloads and key.erased: the example values of
// ledger/FORMAT.md sections 11.10 and 11.11. Header-only; for tests only.

#include <array>
#include <cstdint>
#include <string>

#include "crypto/aead.h"
#include "ledger/event.h"
#include "ledger/event_testing.h"
#include "ledger/payload.h"

namespace ledger::format_testing {

// N bytes first, first + 1, ...
template <size_t N>
std::array<uint8_t, N> BytesFrom(uint8_t first) {
  std::array<uint8_t, N> out;
  for (size_t i = 0; i < N; ++i) out[i] = static_cast<uint8_t>(first + i);
  return out;
}

// Key 0x80..0x9f, key ID 0xa0..0xaf, nonce 0xb0..0xc7.
inline crypto::AeadKey ExamplePayloadKey() {
  return BytesFrom<crypto::kAeadKeySize>(0x80);
}
inline PayloadKeyId ExamplePayloadKeyId() {
  return BytesFrom<kPayloadKeyIdSize>(0xa0);
}
inline crypto::AeadNonce ExamplePayloadNonce() {
  return BytesFrom<crypto::kAeadNonceSize>(0xb0);
}
inline constexpr char kExamplePlaintext[] = "Jane Doe <jane.doe@example.org>";

// The example payload, sealed for FullEvent()'s tenant and event_id.
inline std::string ExamplePayload() {
  const Event full = FullEvent();
  return SealPayload(ExamplePayloadKeyId(), ExamplePayloadKey(),
                     ExamplePayloadNonce(), full.tenant, full.event_id,
                     kExamplePlaintext);
}

// The key.erased event that crypto-shreds the example payload key.
inline Event ErasedEvent() {
  Event e = KeyErasedEvent("acme-ai", ExamplePayloadKeyId(),
                           "erasure request DSR-17");
  e.event_id = UuidOf("00000000-0000-4000-8000-000000000020");
  e.occurred_at_ns = kNewYear2026Ns + 86'400'000000000;
  e.producer = "annotation-ledger/0.1.0";
  e.actor = {ActorKind::kService, "admin", "admin"};
  return e;
}

}  // namespace ledger::format_testing
