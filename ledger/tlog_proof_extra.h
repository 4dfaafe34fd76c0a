#pragma once

// The `extra` data of the ledger's receipts (ledger/FORMAT.md sections 10.1
// and 10.5): the entry's bytes alone, or, for a receipt with key evidence,
// a container holding the entry's bytes and the key entries of its signing
// key, each with its inclusion proof in the receipt's checkpoint.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/bytes.h"

namespace ledger {

// The container's magic and version: "RK", 1.
inline constexpr std::string_view kReceiptExtraMagic = "RK\x01";
// At most this many key entries (a registration and up to 1022 rotations
// and an end).
inline constexpr uint32_t kMaxKeyEntries = 1024;
// An inclusion proof in a tree of at most 2^64 leaves has at most 64 hashes.
inline constexpr uint32_t kMaxKeyEntryProofHashes = 64;

// One entry of the ledger with its inclusion proof in a tree whose size
// the context gives (the receipt's checkpoint).
struct ProvenEntry {
  uint64_t index = 0;
  std::string entry;  // the entry's bytes
  std::vector<crypto::Hash> proof;
  friend bool operator==(const ProvenEntry&, const ProvenEntry&) = default;
};

struct ReceiptExtra {
  std::string entry;  // the bytes of the entry the receipt proves
  // In index order; empty for a receipt without key evidence.
  std::vector<ProvenEntry> key_entries;
  friend bool operator==(const ReceiptExtra&, const ReceiptExtra&) = default;
};

// Without key entries, the entry's bytes themselves; otherwise the
// container of FORMAT.md section 10.5.
std::string EncodeReceiptExtra(const ReceiptExtra& extra);

// Either form: bytes starting with kReceiptExtraMagic are the container,
// decoded strictly (no truncation or trailing bytes, 1 to kMaxKeyEntries
// key entries, at most kMaxKeyEntryProofHashes hashes each; InvalidArgument
// naming the field otherwise); any other bytes are an entry's (not decoded
// here).
absl::StatusOr<ReceiptExtra> DecodeReceiptExtra(std::string_view extra);

}  // namespace ledger
