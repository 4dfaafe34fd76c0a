#define OPENSSL_SUPPRESS_DEPRECATED
#include "crypto/rfc6962.h"

#include <openssl/sha.h>

#include <cstring>

#include "crypto/sha256.h"

namespace ledger::crypto {

Hash HashLeaf(std::string_view leaf) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, &kLeafPrefix, 1);
  SHA256_Update(&ctx, leaf.data(), leaf.size());
  Hash out;
  SHA256_Final(out.data(), &ctx);
  return out;
}

Hash HashChildren(const Hash& left, const Hash& right) {
  uint8_t buf[1 + 2 * kHashSize];
  buf[0] = kNodePrefix;
  std::memcpy(buf + 1, left.data(), kHashSize);
  std::memcpy(buf + 1 + kHashSize, right.data(), kHashSize);
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, buf, sizeof(buf));
  Hash out;
  SHA256_Final(out.data(), &ctx);
  return out;
}

const Hash& EmptyRoot() {
  static const Hash kEmpty = Sha256().Finish();
  return kEmpty;
}

}  // namespace ledger::crypto
