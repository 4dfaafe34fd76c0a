#pragma once

// SHA-256 through OpenSSL's direct (SHA-NI capable) implementation. The
// one-shot EVP path re-fetches the algorithm on each call and costs about 4x
// more for the 65-byte messages of Merkle interior nodes.

#include <openssl/sha.h>

#include <string_view>

#include "crypto/bytes.h"

namespace ledger::crypto {

// Incremental hasher. Not thread-safe; cheap to construct and reusable:
// Finish() resets it for the next message.
class Sha256 {
 public:
  Sha256();
  Sha256& Update(std::string_view data);
  Sha256& Update(const Hash& h) { return Update(AsView(h)); }
  Sha256& Update(uint8_t byte);
  Hash Finish();

 private:
  SHA256_CTX ctx_;
};

// SHA-256 of `data`.
Hash Sha256Digest(std::string_view data);

}  // namespace ledger::crypto
