#include "tools/gateway/mapping.h"

#include "base/strings.h"
#include "crypto/aead.h"
#include "crypto/bytes.h"
#include "crypto/sha256.h"

namespace ledger::gateway {
namespace {

// The namespace of the gateway's name-based UUIDs (a random UUID, fixed
// for good: changing it would change every event_id and so break
// idempotency across versions).
constexpr Uuid kGatewayNamespace = {0x9b, 0xa8, 0x17, 0x74, 0x01, 0x1e,
                                    0x47, 0x47, 0xbb, 0x3a, 0x43, 0x70,
                                    0x28, 0xee, 0xba, 0xf6};

constexpr std::string_view kSignaturePrefix = "sha256=";

}  // namespace

std::string_view SourceName(Source source) {
  switch (source) {
    case Source::kOpenLineage:
      return "openlineage";
    case Source::kLabelStudio:
      return "label-studio";
    case Source::kCvat:
      return "cvat";
  }
  return "unknown";
}

Uuid NameBasedUuid(std::string_view name) {
  crypto::Sha256 h;
  h.Update(
      std::string_view(reinterpret_cast<const char*>(kGatewayNamespace.data()),
                       kGatewayNamespace.size()));
  h.Update(name);
  const crypto::Hash digest = h.Finish();
  Uuid id;
  std::copy(digest.begin(), digest.begin() + id.size(), id.begin());
  id[6] = static_cast<uint8_t>((id[6] & 0x0F) | 0x80);  // version 8
  id[8] = static_cast<uint8_t>((id[8] & 0x3F) | 0x80);  // variant 10
  return id;
}

Uuid DeliveryEventId(Source source, std::string_view identity,
                     std::string_view body, size_t index) {
  return NameBasedUuid(StrCat(SourceName(source), "\n", identity, "\n",
                              crypto::HexEncode(crypto::Sha256Digest(body)),
                              "\n", index));
}

absl::Status VerifyCvatSignature(std::string_view body, std::string_view header,
                                 std::string_view secret) {
  if (header.empty()) {
    return absl::UnauthenticatedError(
        "X-Signature-256: missing; CVAT signs every delivery of a webhook "
        "that has a secret (set the same secret in CVAT and the gateway)");
  }
  if (header.substr(0, kSignaturePrefix.size()) != kSignaturePrefix) {
    return absl::UnauthenticatedError(
        "X-Signature-256: must be \"sha256=\" followed by 64 hex digits");
  }
  absl::StatusOr<std::string> got =
      crypto::HexDecode(header.substr(kSignaturePrefix.size()));
  if (!got.ok() || got->size() != 32) {
    return absl::UnauthenticatedError(
        "X-Signature-256: must be \"sha256=\" followed by 64 hex digits");
  }
  const crypto::Hash want = crypto::HmacSha256(secret, body);
  if (!crypto::ConstantTimeEqual(*got, crypto::AsView(want))) {
    return absl::PermissionDeniedError(
        "X-Signature-256: does not match the HMAC-SHA256 of the body under "
        "the configured CVAT secret");
  }
  return absl::OkStatus();
}

absl::StatusOr<Mapped> Map(Source source, std::string_view body,
                           const MappingOptions& options, int64_t now_ns) {
  switch (source) {
    case Source::kOpenLineage:
      return MapOpenLineage(body, options, now_ns);
    case Source::kLabelStudio:
      return MapLabelStudio(body, options, now_ns);
    case Source::kCvat:
      return MapCvat(body, options, now_ns);
  }
  return absl::InternalError("unknown source");
}

}  // namespace ledger::gateway
