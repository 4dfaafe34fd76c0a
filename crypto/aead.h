#pragma once

// Symmetric primitives for payload encryption, through libsodium:
// XChaCha20-Poly1305 (the IETF construction, 24-byte nonces), HMAC-SHA-256
// and random bytes from the operating system's RNG.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "crypto/bytes.h"

namespace ledger::crypto {

inline constexpr size_t kAeadKeySize = 32;
inline constexpr size_t kAeadNonceSize = 24;
inline constexpr size_t kAeadTagSize = 16;

using AeadKey = std::array<uint8_t, kAeadKeySize>;
using AeadNonce = std::array<uint8_t, kAeadNonceSize>;

// XChaCha20-Poly1305-IETF encryption of `plaintext` with associated data
// `aad`: the ciphertext followed by the 16-byte tag.
std::string AeadSeal(const AeadKey& key, const AeadNonce& nonce,
                     std::string_view aad, std::string_view plaintext);

// The inverse: the plaintext, or DataLoss if the tag does not verify (wrong
// key, nonce or associated data, or altered bytes) or `sealed` is shorter
// than a tag.
absl::StatusOr<std::string> AeadOpen(const AeadKey& key, const AeadNonce& nonce,
                                     std::string_view aad,
                                     std::string_view sealed);

// HMAC-SHA-256 (RFC 2104) of `message` under `key`.
Hash HmacSha256(std::string_view key, std::string_view message);

// `n` random bytes from the operating system's RNG (for keys and nonces).
std::string SecureRandomBytes(size_t n);
AeadKey NewAeadKey();
AeadNonce NewAeadNonce();

// Overwrites `bytes` with zeros in a way the compiler does not remove.
void Wipe(std::string& bytes);
template <size_t N>
void Wipe(std::array<uint8_t, N>& bytes);

}  // namespace ledger::crypto

// ---- template definitions ----

namespace ledger::crypto {
void WipeMemory(void* data, size_t size);
template <size_t N>
void Wipe(std::array<uint8_t, N>& bytes) {
  WipeMemory(bytes.data(), N);
}
}  // namespace ledger::crypto
