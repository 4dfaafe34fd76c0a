#pragma once

// Byte vocabulary shared by every folder: owned bytes are std::string, views
// are std::string_view, a SHA-256 digest is a Hash.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/strings.h"

namespace ledger::crypto {

inline constexpr size_t kHashSize = 32;
using Hash = std::array<uint8_t, kHashSize>;

// Views the bytes of a fixed-size array without copying.
template <size_t N>
std::string_view AsView(const std::array<uint8_t, N>& a) {
  return std::string_view(reinterpret_cast<const char*>(a.data()), N);
}

// Copies exactly N bytes from `s`; InvalidArgument if the size differs.
template <size_t N>
absl::StatusOr<std::array<uint8_t, N>> ToArray(std::string_view s,
                                               std::string_view what);

// Lowercase hexadecimal.
std::string HexEncode(std::string_view bytes);
template <size_t N>
std::string HexEncode(const std::array<uint8_t, N>& a) {
  return HexEncode(AsView(a));
}
// Accepts upper or lower case; InvalidArgument on odd length or bad digits.
absl::StatusOr<std::string> HexDecode(std::string_view hex);

// Standard base64 with padding (RFC 4648 section 4). Its time depends on the
// bytes: for public data (entries, hashes, public keys, signatures).
std::string Base64Encode(std::string_view bytes);
// The same text in constant time (libsodium), for secrets such as key seeds.
std::string Base64EncodeSecret(std::string_view bytes);
template <size_t N>
std::string Base64Encode(const std::array<uint8_t, N>& a) {
  return Base64Encode(AsView(a));
}
// Strict: rejects missing padding, whitespace and non-alphabet characters.
absl::StatusOr<std::string> Base64Decode(std::string_view text);

// Parses a base64 SHA-256 hash (44 characters).
absl::StatusOr<Hash> HashFromBase64(std::string_view text);

// Constant-time equality for secrets; plain == is fine for public hashes.
bool ConstantTimeEqual(std::string_view a, std::string_view b);

}  // namespace ledger::crypto

// ---- template definitions ----

namespace ledger::crypto {
template <size_t N>
absl::StatusOr<std::array<uint8_t, N>> ToArray(std::string_view s,
                                               std::string_view what) {
  if (s.size() != N) {
    return absl::InvalidArgumentError(
        StrCat(what, " must be ", N, " bytes, got ", s.size()));
  }
  std::array<uint8_t, N> out;
  for (size_t i = 0; i < N; ++i) out[i] = static_cast<uint8_t>(s[i]);
  return out;
}
}  // namespace ledger::crypto
