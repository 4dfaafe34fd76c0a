#pragma once

// Re-reading stored entries and comparing what they imply with what storage
// says (internal to ledger/). Ledger::Open checks the tail or everything
// with these, Ledger::Scrub everything, against a snapshot.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ledger/ledger.h"
#include "ledger/schema.h"
#include "ledger/tile_tree.h"
#include "rocksdb/snapshot.h"

namespace ledger {

class Store;

// Receives the tree's root at the sizes it asks for, as a scan reaches
// them (in increasing order), without holding them all in memory.
class RootVisitor {
 public:
  virtual ~RootVisitor() = default;
  // The next size whose root is wanted; UINT64_MAX for none. A size below
  // the scan's position is never reached: the visitor must notice that
  // itself when Visit is called for a later one.
  virtual uint64_t next_size() const = 0;
  // The root at `size` (== next_size(), or the scan's end when the visitor
  // is told it ended). Advances.
  virtual void Visit(uint64_t size, const Hash& root) = 0;
};

// What to scan: entries [begin, end) of `store` (as of `snapshot`, if set).
struct ScanSpec {
  const Store* store = nullptr;
  const rocksdb::Snapshot* snapshot = nullptr;
  uint64_t begin = 0;
  uint64_t end = 0;
  // The tree's right edge at `begin` (empty for 0).
  TileTree tree;
  // The chain hash of entry begin-1; for begin > 0 without it, entry
  // `begin`'s own prev_chain_hash is taken (the caller vouches for it).
  std::optional<Hash> chain_before;
  // From 0 only: re-apply key events (ledger/key_registry.h, the same
  // functions appends use) and compute the derived families' digests.
  bool derive = false;
  // Sizes at which to record the root (checkpoints', the guard's); any
  // order.
  std::vector<uint64_t> roots_at;
  // Also called at the sizes it asks for (not owned).
  RootVisitor* visitor = nullptr;
  EventLimits limits;
  const ScrubPace* pace = nullptr;
  std::function<void(std::string_view)> progress;
  // Called with (entries checked, entries to check) every few thousand
  // entries and at the end.
  std::function<void(uint64_t, uint64_t)> count_progress;
};

// A half-open index range with what is wrong with it.
struct Problem {
  uint64_t begin;
  uint64_t end;
  std::string what;
};

struct ScanOutcome {
  TileTree tree;  // at `end`
  Hash chain{};   // chain hash of entry end-1
  int64_t last_received_at_ns = 0;
  std::vector<std::pair<uint64_t, Hash>> roots;  // for spec.roots_at
  // With `derive`:
  std::vector<KeyInfo> keys;
  IndexDigests derived;  // the derived families as the entries define them
  // Every key.erased entry of the scanned range (with or without `derive`).
  std::vector<PayloadKeyErasure> erasures;

  std::vector<Problem> entry_problems;  // entries known to be bad
  std::vector<Problem> chain_problems;
  std::vector<Problem> leaf_mismatches;  // stored level-0 hash differs
  std::vector<Problem> tile_problems;    // higher tiles differ
};

// Scans and recomputes. Only storage errors, a missing entry (DataLoss
// naming the range) and Cancelled (from `pace`) are errors; mismatches are
// collected in the outcome for JudgeScan.
absl::StatusOr<ScanOutcome> ScanEntries(ScanSpec spec);

// What the scan is held against.
struct ScanClaims {
  // The last stored checkpoint, if any, already verified: its size, root
  // and sequence number.
  std::optional<StoredCheckpoint> checkpoint;
  std::optional<Hash> checkpoint_root;
  // The head record (size, root, chain).
  HeadRecord head;
};

// DataLoss naming what is wrong: corrupt entries (by range), a corrupt
// stored tree (by range; when the entries themselves match a signed
// checkpoint or the head record), entries that do not match the checkpoint,
// or a head record that does not match the entries. OK if nothing is.
absl::Status JudgeScan(const ScanSpec& spec, const ScanOutcome& outcome,
                       const ScanClaims& claims);

// The type, producer, tenant and event_id of canonical event bytes, without
// decoding the rest.
struct EventHeader {
  Uuid event_id{};
  std::string_view type;
  std::string_view producer;
  std::string_view tenant;
};
absl::StatusOr<EventHeader> PeekEventHeader(std::string_view event_bytes);

}  // namespace ledger
