#include "node/random.h"

#include <random>

namespace ledger::node {

std::string RandomBytes(size_t n) {
  // libstdc++'s random_device reads getrandom()/dev/urandom, never a PRNG.
  std::random_device rd("/dev/urandom");
  std::string out(n, '\0');
  for (size_t i = 0; i < n; i += 4) {
    unsigned int v = rd();
    for (size_t j = 0; j < 4 && i + j < n; ++j) {
      out[i + j] = static_cast<char>((v >> (8 * j)) & 0xff);
    }
  }
  return out;
}

Uuid NewUuidV4() {
  std::string bytes = RandomBytes(16);
  Uuid uuid;
  for (size_t i = 0; i < uuid.size(); ++i) {
    uuid[i] = static_cast<uint8_t>(bytes[i]);
  }
  uuid[6] = static_cast<uint8_t>((uuid[6] & 0x0f) | 0x40);  // version 4
  uuid[8] = static_cast<uint8_t>((uuid[8] & 0x3f) | 0x80);  // RFC variant
  return uuid;
}

}  // namespace ledger::node
