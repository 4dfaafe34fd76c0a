#include "crypto/ed25519.h"

#include <sodium.h>

#include <cstdlib>
#include <cstring>

#include "base/check.h"

namespace ledger::crypto {

absl::Status InitCrypto() {
  static const int result = sodium_init();
  if (result < 0) return absl::InternalError("libsodium failed to initialise");
  return absl::OkStatus();
}

namespace {
void MustInit() {
  // sodium_init fails only without a working RNG; nothing can run then.
  LEDGER_CHECK(InitCrypto().ok(), "libsodium failed to initialise");
}
}  // namespace

Ed25519PrivateKey Ed25519PrivateKey::Generate() {
  MustInit();
  Ed25519Seed seed;
  randombytes_buf(seed.data(), seed.size());
  Ed25519PrivateKey key = FromSeed(seed);
  sodium_memzero(seed.data(), seed.size());
  return key;
}

Ed25519PrivateKey Ed25519PrivateKey::FromSeed(const Ed25519Seed& seed) {
  MustInit();
  Ed25519PrivateKey key;
  crypto_sign_seed_keypair(key.public_key_.data(), key.secret_.data(),
                           seed.data());
  return key;
}

Ed25519PrivateKey::~Ed25519PrivateKey() {
  sodium_memzero(secret_.data(), secret_.size());
}

Ed25519Seed Ed25519PrivateKey::seed() const {
  Ed25519Seed seed;
  std::memcpy(seed.data(), secret_.data(), seed.size());
  return seed;
}

Ed25519Signature Ed25519PrivateKey::Sign(std::string_view message) const {
  Ed25519Signature sig;
  crypto_sign_detached(sig.data(), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), secret_.data());
  return sig;
}

bool Ed25519Verify(const Ed25519PublicKey& key, std::string_view message,
                   const Ed25519Signature& signature) {
  MustInit();
  return crypto_sign_verify_detached(
             signature.data(),
             reinterpret_cast<const unsigned char*>(message.data()),
             message.size(), key.data()) == 0;
}

}  // namespace ledger::crypto
