#pragma once

// Ed25519 (RFC 8032) through libsodium.

#include <array>
#include <string_view>

#include "absl/status/status.h"
#include "crypto/bytes.h"

namespace ledger::crypto {

inline constexpr size_t kEd25519PublicKeySize = 32;
inline constexpr size_t kEd25519SeedSize = 32;
inline constexpr size_t kEd25519SignatureSize = 64;

using Ed25519PublicKey = std::array<uint8_t, kEd25519PublicKeySize>;
using Ed25519Seed = std::array<uint8_t, kEd25519SeedSize>;
using Ed25519Signature = std::array<uint8_t, kEd25519SignatureSize>;

// Initialises libsodium once; every other function here calls it, so callers
// need it only to fail early (it fails only if the CPU lacks a usable RNG).
absl::Status InitCrypto();

// A private key. Copyable (it is 64 bytes); the destructor wipes it.
class Ed25519PrivateKey {
 public:
  // A fresh key from the operating system's RNG.
  static Ed25519PrivateKey Generate();
  // The key whose RFC 8032 seed is `seed`.
  static Ed25519PrivateKey FromSeed(const Ed25519Seed& seed);

  Ed25519PrivateKey(const Ed25519PrivateKey&) = default;
  Ed25519PrivateKey& operator=(const Ed25519PrivateKey&) = default;
  ~Ed25519PrivateKey();

  const Ed25519PublicKey& public_key() const { return public_key_; }
  Ed25519Seed seed() const;
  Ed25519Signature Sign(std::string_view message) const;

 private:
  Ed25519PrivateKey() = default;
  std::array<uint8_t, 64> secret_;  // libsodium layout: seed || public key
  Ed25519PublicKey public_key_;
};

// True iff `signature` is a valid signature of `message` under `key`.
// libsodium rejects non-canonical encodings and small-order keys.
bool Ed25519Verify(const Ed25519PublicKey& key, std::string_view message,
                   const Ed25519Signature& signature);

}  // namespace ledger::crypto
