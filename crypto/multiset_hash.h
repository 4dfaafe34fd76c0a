#pragma once

// An order-independent digest of a set of (key, value) records: the sum,
// modulo 2^128, of a 128-bit hash of each record, plus the record count.
// Adding a record and removing it again restores the digest, and the digest
// of a set does not depend on the order its records were added in, so a
// writer can keep the digest of a RocksDB column family up to date record by
// record while a reader recomputes it with one scan in key order.
//
// It detects accidental and storage damage (a record lost, added, altered or
// moved), not a forger who can also rewrite the stored digest: the record
// hash is SipHash-2-4 (libsodium's crypto_shorthash_siphashx24) under a fixed,
// public key, which is fast (tens of ns per record) but not collision
// resistant against an adversary. What proves entries is the Merkle tree;
// this guards the indexes derived from them.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ledger::crypto {

class MultisetHash {
 public:
  void Add(std::string_view key, std::string_view value);
  void Remove(std::string_view key, std::string_view value);

  uint64_t count() const { return count_; }
  friend bool operator==(const MultisetHash&, const MultisetHash&) = default;

  // 24 bytes: BE64(low lane) || BE64(high lane) || BE64(count).
  static constexpr size_t kEncodedSize = 24;
  std::string Encode() const;
  static absl::StatusOr<MultisetHash> Decode(std::string_view bytes);

 private:
  uint64_t lo_ = 0;
  uint64_t hi_ = 0;
  uint64_t count_ = 0;  // additions minus removals
};

}  // namespace ledger::crypto
