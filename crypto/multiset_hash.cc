#include "crypto/multiset_hash.h"

#include <sodium.h>

#include <cstring>

namespace ledger::crypto {
namespace {

// A fixed key: the digest must be the same in every process that reads it.
constexpr unsigned char kKey[crypto_shorthash_siphashx24_KEYBYTES] = {
    'l', 'e', 'd', 'g', 'e', 'r', '-', 'i',
    'n', 'd', 'e', 'x', '-', 'v', '1', 0};

struct Lanes {
  uint64_t lo;
  uint64_t hi;
};

// SipHash-128 of u32be(len(key)) || key || value: the length makes the split
// between key and value unambiguous.
Lanes RecordHash(std::string_view key, std::string_view value) {
  std::string buf;
  buf.reserve(4 + key.size() + value.size());
  const uint32_t n = static_cast<uint32_t>(key.size());
  buf.push_back(static_cast<char>(n >> 24));
  buf.push_back(static_cast<char>(n >> 16));
  buf.push_back(static_cast<char>(n >> 8));
  buf.push_back(static_cast<char>(n));
  buf.append(key);
  buf.append(value);
  unsigned char out[crypto_shorthash_siphashx24_BYTES];
  crypto_shorthash_siphashx24(
      out, reinterpret_cast<const unsigned char*>(buf.data()), buf.size(),
      kKey);
  Lanes lanes;
  std::memcpy(&lanes.lo, out, 8);
  std::memcpy(&lanes.hi, out + 8, 8);
  return lanes;
}

void PutBe64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t GetBe64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

}  // namespace

void MultisetHash::Add(std::string_view key, std::string_view value) {
  const Lanes h = RecordHash(key, value);
  const uint64_t lo = lo_ + h.lo;
  hi_ += h.hi + (lo < lo_ ? 1 : 0);
  lo_ = lo;
  ++count_;
}

void MultisetHash::Remove(std::string_view key, std::string_view value) {
  const Lanes h = RecordHash(key, value);
  const uint64_t lo = lo_ - h.lo;
  hi_ -= h.hi + (lo > lo_ ? 1 : 0);
  lo_ = lo;
  --count_;
}

std::string MultisetHash::Encode() const {
  std::string out;
  out.reserve(kEncodedSize);
  PutBe64(out, lo_);
  PutBe64(out, hi_);
  PutBe64(out, count_);
  return out;
}

absl::StatusOr<MultisetHash> MultisetHash::Decode(std::string_view bytes) {
  if (bytes.size() != kEncodedSize) {
    return absl::DataLossError("an index digest has the wrong length");
  }
  MultisetHash h;
  h.lo_ = GetBe64(bytes);
  h.hi_ = GetBe64(bytes.substr(8));
  h.count_ = GetBe64(bytes.substr(16));
  return h;
}

}  // namespace ledger::crypto
