#include "ledger/payload.h"

#include <algorithm>

#include "base/strings.h"

namespace ledger {
namespace {

constexpr std::string_view kKeyId = "key.id";
constexpr std::string_view kReason = "key.reason";

}  // namespace

absl::StatusOr<Envelope> ParseEnvelope(std::string_view payload) {
  if (payload.size() < kEnvelopeMinSize) {
    return absl::InvalidArgumentError(StrCat(
        "payload: ", payload.size(),
        " bytes cannot be an encrypted payload (an envelope has at least ",
        kEnvelopeMinSize,
        " bytes: version, key id, nonce and tag); encrypt it under the key "
        "of GetPayloadKey (`ledgerctl append` does with payload_plaintext)"));
  }
  if (static_cast<uint8_t>(payload[0]) != kEnvelopeVersion) {
    return absl::InvalidArgumentError(
        StrCat("payload: envelope version ",
               static_cast<int>(static_cast<uint8_t>(payload[0])),
               " is unknown (expected 1)"));
  }
  Envelope envelope;
  std::copy_n(payload.begin() + 1, kPayloadKeyIdSize, envelope.key_id.begin());
  std::copy_n(payload.begin() + 1 + kPayloadKeyIdSize, crypto::kAeadNonceSize,
              envelope.nonce.begin());
  envelope.sealed = payload.substr(kEnvelopeHeaderSize);
  return envelope;
}

std::string PayloadAad(std::string_view tenant, const Uuid& event_id) {
  std::string aad(kPayloadAadLabel);
  aad.push_back('\0');
  aad.append(tenant);
  aad.push_back('\0');
  aad.append(crypto::AsView(event_id));
  return aad;
}

std::string SealPayload(const PayloadKeyId& key_id, const crypto::AeadKey& key,
                        const crypto::AeadNonce& nonce, std::string_view tenant,
                        const Uuid& event_id, std::string_view plaintext) {
  std::string out(1, static_cast<char>(kEnvelopeVersion));
  out.append(crypto::AsView(key_id));
  out.append(crypto::AsView(nonce));
  out.append(
      crypto::AeadSeal(key, nonce, PayloadAad(tenant, event_id), plaintext));
  return out;
}

absl::StatusOr<std::string> OpenPayload(const Envelope& envelope,
                                        const crypto::AeadKey& key,
                                        std::string_view tenant,
                                        const Uuid& event_id) {
  return crypto::AeadOpen(key, envelope.nonce, PayloadAad(tenant, event_id),
                          envelope.sealed);
}

std::string PayloadKeyIdHex(const PayloadKeyId& key_id) {
  return crypto::HexEncode(key_id);
}

absl::StatusOr<PayloadKeyId> ParsePayloadKeyIdHex(std::string_view hex,
                                                  std::string_view what) {
  absl::StatusOr<std::string> raw = crypto::HexDecode(hex);
  if (!raw.ok() || raw->size() != kPayloadKeyIdSize ||
      crypto::HexEncode(*raw) != hex) {
    return absl::InvalidArgumentError(
        StrCat(what, ": must be 32 lowercase hex digits (a payload key id)"));
  }
  return crypto::ToArray<kPayloadKeyIdSize>(*raw, what);
}

Event KeyErasedEvent(std::string_view tenant, const PayloadKeyId& key_id,
                     std::string_view reason) {
  Event event;
  event.type = "key.erased";
  event.tenant = std::string(tenant);
  event.attributes = {{std::string(kKeyId), PayloadKeyIdHex(key_id)},
                      {std::string(kReason), std::string(reason)}};
  return event;  // "key.id" < "key.reason": sorted
}

absl::StatusOr<PayloadKeyId> ErasedKeyIdOf(const Event& event) {
  if (event.type != "key.erased") {
    return absl::InvalidArgumentError(
        StrCat("type: expected key.erased, got ", event.type));
  }
  const std::string* id = FindAttribute(event, kKeyId);
  if (id == nullptr) {
    return absl::InvalidArgumentError(
        "attributes[\"key.id\"]: required for key.erased");
  }
  const std::string* reason = FindAttribute(event, kReason);
  if (reason == nullptr || reason->empty()) {
    return absl::InvalidArgumentError(
        "attributes[\"key.reason\"]: required (non-empty) for key.erased");
  }
  return ParsePayloadKeyIdHex(*id, "attributes[\"key.id\"]");
}

}  // namespace ledger
