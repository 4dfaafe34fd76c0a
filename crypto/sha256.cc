// The low-level SHA256_* functions are deprecated in OpenSSL 3 in favour of
// EVP, but they are the fastest route to the same assembly; see sha256.h.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "crypto/sha256.h"

namespace ledger::crypto {

Sha256::Sha256() { SHA256_Init(&ctx_); }

Sha256& Sha256::Update(std::string_view data) {
  SHA256_Update(&ctx_, data.data(), data.size());
  return *this;
}

Sha256& Sha256::Update(uint8_t byte) {
  SHA256_Update(&ctx_, &byte, 1);
  return *this;
}

Hash Sha256::Finish() {
  Hash out;
  SHA256_Final(out.data(), &ctx_);
  SHA256_Init(&ctx_);
  return out;
}

Hash Sha256Digest(std::string_view data) {
  // Not the one-shot SHA256(): in OpenSSL 3 it fetches the algorithm anew on
  // every call.
  return Sha256().Update(data).Finish();
}

}  // namespace ledger::crypto
