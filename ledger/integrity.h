#pragma once

// Start-up verification of a stored ledger (internal to ledger/). Everything
// the Ledger keeps in memory is rebuilt from the entries themselves, and
// compared with what storage says.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ledger/ledger.h"
#include "ledger/tile_tree.h"

namespace ledger {

class Store;

struct RecoveredState {
  Head head;
  TileTree tree;
  std::vector<KeyInfo> keys;
  int64_t last_received_at_ns = 0;
  std::optional<StoredCheckpoint> latest_checkpoint;
};

// The meta "head" record: BE64(size) || root || chain || BE64(received_at).
std::string EncodeHeadRecord(const Head& head, int64_t last_received_at_ns);

// Re-hashes every entry, recomputes chain and tree, compares them with the
// stored tree tiles, the head record, the key records and the last stored
// checkpoint (whose signature is verified). DataLoss naming the corrupt
// index range (entries or tree tiles) on any mismatch.
absl::StatusOr<RecoveredState> VerifyStoredLedger(const Store& store,
                                                  const LedgerOptions& options);

// Applies a key event to `keys` (by key id), as both the start-up verifier
// and the writer do. `entry_index` and `received_at_ns` are the entry's.
absl::Status ApplyKeyEvent(const Event& event, uint64_t entry_index,
                           int64_t received_at_ns, std::vector<KeyInfo>* keys);

// The type of canonical event bytes without decoding the rest.
absl::StatusOr<std::string_view> PeekEventType(std::string_view event_bytes);

}  // namespace ledger
