#pragma once

// Offline verification throughput, as a regulator's verifier does it with
// nothing but public keys (ledger_format and crypto only: no gRPC, no
// RocksDB in the timed loop):
//
// - hash path: open the signed checkpoint, then for each entry decode it,
//   check its index and prev_chain_hash, recompute its leaf hash and the
//   chain, fold the leaf into the Merkle range, and finally compare the
//   range's root with the checkpoint's root;
// - with signatures: additionally, per entry, the event's leaf hash through
//   its audit path to the batch root, and the emitter's Ed25519 signature
//   over the batch message, verified once per (batch root, signature).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "crypto/bytes.h"
#include "crypto/ed25519.h"
#include "crypto/note.h"

namespace ledger::bench {

struct OfflineLedger {
  std::vector<std::string> entries;  // entry bytes of indexes 0, 1, ...
  std::string checkpoint_note;       // signed checkpoint of entries.size()
  std::vector<crypto::NoteVerifier> log_keys;
  // Every key an entry may be signed with, by KeyIdOf.
  absl::flat_hash_map<crypto::Hash, crypto::Ed25519PublicKey> keys;
};

struct OfflineResult {
  uint64_t entries = 0;
  double seconds = 0;
  uint64_t signature_verifications = 0;  // Ed25519 verifications done
  double entries_per_second() const {
    return seconds > 0 ? static_cast<double>(entries) / seconds : 0;
  }
};

// Verifies the whole range on the calling thread. DataLoss naming the
// first index that fails, InvalidArgument for a malformed input.
absl::StatusOr<OfflineResult> VerifyOffline(const OfflineLedger& ledger,
                                            bool signatures);

}  // namespace ledger::bench
