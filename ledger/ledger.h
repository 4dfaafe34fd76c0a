#pragma once

// The ledger state machine on RocksDB: sequences verified emitter batches
// into entries, maintains the hash chain and the Merkle tree, stores
// checkpoints, and serves reads and proofs. It has no threads of its own.
//
// Threading: Append(), AppendNoSync() and StoreCheckpoint() are called by
// one thread at a time (the sequencer); Publish() may run on a second
// thread concurrently with them. Every const method may be called from any
// thread, concurrently with the writers; reads see a prefix of the ledger no
// longer than head().size at the time of the call.
//
// Two heads: the written head is where the next append starts (the
// sequencer's view, possibly not yet durable); head() is the published,
// durable head that readers, proofs and checkpoints use. Append() moves
// both; AppendNoSync() moves the written head and Publish() later makes a
// prefix of it durable and published, so the sequencer can prepare and
// write group k+1 while group k's fsync is in progress.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "crypto/bytes.h"
#include "crypto/note.h"
#include "ledger/batch.h"
#include "ledger/checkpoint.h"
#include "ledger/entry.h"
#include "ledger/event.h"
#include "ledger/key_registry.h"

namespace ledger {

class Store;
class TileTree;

struct Head {
  uint64_t size = 0;
  Hash root{};        // RFC 6962 root of the entries
  Hash chain_hash{};  // chain hash of the last entry (zeros when empty)
  friend bool operator==(const Head&, const Head&) = default;
};

// What an append acknowledges for one event.
struct EntryRef {
  uint64_t index = 0;
  Hash leaf_hash{};  // HashLeaf(entry bytes)
  int64_t received_at_ns = 0;
  bool duplicate = false;  // the event was already in the ledger
};

// The outcome of one batch: OK with one EntryRef per event, or an error and
// nothing stored.
struct AppendResult {
  absl::Status status;
  std::vector<EntryRef> entries;
};

struct StoredCheckpoint {
  uint64_t sequence = 0;  // 0, 1, 2, ... in issue order
  uint64_t size = 0;
  std::string note;
};

// RocksDB's block cache unless configured otherwise (node setting
// block_cache_bytes): it takes memory only as blocks are read, and holds
// the leaf tiles random proofs read up to about 20M entries.
inline constexpr size_t kDefaultBlockCacheBytes = size_t{1} << 30;

struct LedgerOptions {
  // The log identity; checkpoints must carry it. Required.
  std::string origin;
  // Keys that must have signed stored checkpoints (log key and cosigners).
  std::vector<crypto::NoteVerifier> checkpoint_verifiers;
  EventLimits limits;
  size_t block_cache_bytes = kDefaultBlockCacheBytes;
  // Slots of the in-memory cache of tiles above the leaves that proofs
  // read (TileCache, ~1 KiB each, allocated on the first proof): 65,536
  // slots (64 MiB) hold every such tile of a 16M-entry tree. 0: no cache.
  size_t tile_cache_slots = 1 << 16;
  // Called with human-readable progress lines during long start-up checks.
  std::function<void(std::string_view)> progress;
};

class Ledger {
 public:
  // Opens the ledger in `dir`, creating an empty one if there is none. An
  // existing ledger is verified before it is returned: every entry is
  // decoded and re-hashed, the chain is recomputed, the stored tree is
  // compared with the tree recomputed from the entries, and the last stored
  // checkpoint is verified with options.checkpoint_verifiers and compared
  // with the recomputed root. Any mismatch is DataLoss naming the index
  // range (entries or tree) that is wrong; FailedPrecondition if the
  // directory holds a ledger of another origin.
  static absl::StatusOr<std::unique_ptr<Ledger>> Open(const std::string& dir,
                                                      LedgerOptions options);
  ~Ledger();

  // ---- sequencer thread ----

  // Appends `batches` in order in one synced RocksDB write, each batch all
  // or nothing. Per batch: the signing key must be registered, valid at
  // `received_at_ns` and not revoked (Unauthenticated otherwise); an emitter
  // key may write only its own tenant and no ledger-internal types
  // (PermissionDenied); an event_id already stored (per tenant) with other
  // content is AlreadyExists, with the same content it is acknowledged again
  // with duplicate = true. `received_at_ns` is raised to the previous
  // entry's if the clock went back. A storage failure fails every batch
  // (Internal/Unavailable) and leaves the ledger unchanged in memory.
  std::vector<AppendResult> Append(
      absl::Span<const VerifiedBatch* const> batches, int64_t received_at_ns);

  // As Append, but the write is not synced and head() does not move: the
  // new entries are visible to later appends (idempotency, back-links, the
  // tree) and to nobody else until Publish(). If the process or machine
  // crashes first, this group and every later one may be lost together (a
  // prefix survives), so nothing may be acknowledged before Publish().
  std::vector<AppendResult> AppendNoSync(
      absl::Span<const VerifiedBatch* const> batches, int64_t received_at_ns);
  // The head after the last successful Append or AppendNoSync.
  Head written_head() const;

  // ---- sequencer thread or the publishing thread ----

  // Syncs the write-ahead log and then publishes `head`, which must be a
  // head that AppendNoSync returned (written_head() at some point, not
  // smaller than head()). After an error nothing was published; the caller
  // must stop appending (later groups build on unsynced state).
  absl::Status Publish(const Head& head);

  // Stores a checkpoint note after checking that it opens with
  // options.checkpoint_verifiers, carries our origin, and that its root
  // equals RootAt(its size). Returns its sequence number.
  absl::StatusOr<uint64_t> StoreCheckpoint(std::string_view note);

  // ---- any thread ----

  Head head() const;
  const std::string& origin() const { return options_.origin; }
  const EventLimits& limits() const { return options_.limits; }
  const KeyRegistry& keys() const { return *keys_; }

  // Entry bytes at `index`; OutOfRange past head().size.
  absl::StatusOr<std::string> GetEntry(uint64_t index) const;
  // Entry bytes for [begin, end), end clamped to head().size; at most
  // `max_count` entries.
  absl::StatusOr<std::vector<std::string>> GetEntries(uint64_t begin,
                                                      uint64_t end,
                                                      size_t max_count) const;
  // The entry holding (tenant, event_id), if any.
  absl::StatusOr<std::optional<EntryRef>> FindEvent(std::string_view tenant,
                                                    const Uuid& event_id) const;

  absl::StatusOr<Hash> RootAt(uint64_t size) const;
  absl::StatusOr<std::vector<Hash>> InclusionProof(uint64_t index,
                                                   uint64_t size) const;
  absl::StatusOr<std::vector<Hash>> ConsistencyProof(uint64_t old_size,
                                                     uint64_t new_size) const;

  std::optional<StoredCheckpoint> LatestCheckpoint() const;
  absl::StatusOr<StoredCheckpoint> GetCheckpoint(uint64_t sequence) const;
  // The first checkpoint whose size is >= `size`, if any.
  absl::StatusOr<std::optional<StoredCheckpoint>> CheckpointCovering(
      uint64_t size) const;

 private:
  Ledger(LedgerOptions options, std::unique_ptr<Store> store);
  std::vector<AppendResult> AppendGroup(
      absl::Span<const VerifiedBatch* const> batches, int64_t received_at_ns,
      bool sync);
  class Impl;
  class GroupPlanner;
  LedgerOptions options_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<KeyRegistry> keys_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ledger
