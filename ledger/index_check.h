#pragma once

// The derived families (by_event_id, subject_heads, keys, by_subject,
// by_type, by_run, lineage; ledger/schema.h)
// against their digests and against the entries they derive from (internal
// to ledger/).

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ledger/key_registry.h"
#include "ledger/schema.h"
#include "rocksdb/snapshot.h"

namespace ledger {

class Store;

// The digests of the derived families as stored: one scan of each.
absl::StatusOr<IndexDigests> DigestDerivedFamilies(
    const Store& store, const rocksdb::Snapshot* snapshot = nullptr);

// The families of `digests` that differ from `expected`, as a phrase
// ("by_event_id (1000 records, expected 1001), keys"); empty if none.
std::string DifferingFamilies(const IndexDigests& digests,
                              const IndexDigests& expected);

// Builds the index families (by_subject, by_type, by_run, lineage) from
// the entries [0, size), which must already have been verified: deletes
// whatever they hold, writes every record, and returns their digests (the
// other families' digests left empty). Reports progress through
// `progress` (may be empty). Used when a database of format 1 to 3 is
// upgraded.
absl::StatusOr<IndexDigests> BuildIndexFamilies(
    Store& store, uint64_t size,
    const std::function<void(std::string_view)>& progress);

struct DerivedCheck {
  // One line per wrong, missing or extra record, naming it (at most
  // kMaxReported; `wrong` counts them all).
  std::vector<std::string> problems;
  uint64_t wrong = 0;
  static constexpr size_t kMaxReported = 20;
};

// Compares the derived families record by record with what the entries
// [0, size) define (`keys` is the key registry the entries define). With
// `repair`, writes the correct records, deletes the extra ones and stores
// the new digests (synced) before it returns. The entries themselves must
// already have been verified.
// With `check_keys` false the keys family is left alone (a storage upgrade
// checks and rewrites it itself).
absl::StatusOr<DerivedCheck> CheckDerivedFamilies(
    Store& store, uint64_t size, const std::vector<KeyInfo>& keys, bool repair,
    bool check_keys = true);

}  // namespace ledger
