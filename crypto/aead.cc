#include "crypto/aead.h"

#include <sodium.h>

#include "base/check.h"
#include "crypto/ed25519.h"

namespace ledger::crypto {
namespace {

static_assert(kAeadKeySize == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kAeadNonceSize == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kAeadTagSize == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(kHashSize == crypto_auth_hmacsha256_BYTES);

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

void Init() {
  absl::Status s = InitCrypto();
  LEDGER_CHECK(s.ok(), "libsodium: ", s.message());
}

}  // namespace

std::string AeadSeal(const AeadKey& key, const AeadNonce& nonce,
                     std::string_view aad, std::string_view plaintext) {
  Init();
  std::string out(plaintext.size() + kAeadTagSize, '\0');
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      reinterpret_cast<unsigned char*>(out.data()), &written, Bytes(plaintext),
      plaintext.size(), Bytes(aad), aad.size(), nullptr, nonce.data(),
      key.data());
  out.resize(written);
  return out;
}

absl::StatusOr<std::string> AeadOpen(const AeadKey& key, const AeadNonce& nonce,
                                     std::string_view aad,
                                     std::string_view sealed) {
  Init();
  if (sealed.size() < kAeadTagSize) {
    return absl::DataLossError(StrCat("ciphertext of ", sealed.size(),
                                      " bytes is shorter than its ",
                                      kAeadTagSize, "-byte tag"));
  }
  std::string out(sealed.size() - kAeadTagSize, '\0');
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(out.data()), &written, nullptr,
          Bytes(sealed), sealed.size(), Bytes(aad), aad.size(), nonce.data(),
          key.data()) != 0) {
    return absl::DataLossError(
        "the ciphertext does not open: wrong key, nonce or associated data, "
        "or altered bytes");
  }
  out.resize(written);
  return out;
}

Hash HmacSha256(std::string_view key, std::string_view message) {
  Init();
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, Bytes(key), key.size());
  crypto_auth_hmacsha256_update(&state, Bytes(message), message.size());
  Hash out;
  crypto_auth_hmacsha256_final(&state, out.data());
  sodium_memzero(&state, sizeof(state));
  return out;
}

std::string SecureRandomBytes(size_t n) {
  Init();
  std::string out(n, '\0');
  randombytes_buf(out.data(), n);
  return out;
}

AeadKey NewAeadKey() {
  Init();
  AeadKey key;
  crypto_aead_xchacha20poly1305_ietf_keygen(key.data());
  return key;
}

AeadNonce NewAeadNonce() {
  Init();
  AeadNonce nonce;
  randombytes_buf(nonce.data(), nonce.size());
  return nonce;
}

void WipeMemory(void* data, size_t size) { sodium_memzero(data, size); }

void Wipe(std::string& bytes) { WipeMemory(bytes.data(), bytes.size()); }

}  // namespace ledger::crypto
