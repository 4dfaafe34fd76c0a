#pragma once

// The Merkle tree as stored: tiles of height 4 in the `tree` column family
// (docs/decisions.md). Tile (t, x) holds the hashes of tree level 4t at
// positions [16x, 16x + 16): the leaves for t = 0, the roots of 16-leaf
// subtrees for t = 1, and so on. The rightmost tile of each level may be
// partial and is rewritten, longer, as the tree grows; its stored prefix
// never changes.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "base/sync.h"
#include "ledger/merkle.h"
#include "rocksdb/write_batch.h"

namespace ledger {

class Store;

inline constexpr int kTileHeight = 4;
inline constexpr uint64_t kTileWidth = uint64_t{1} << kTileHeight;
inline constexpr int kMaxTileLevels = 64 / kTileHeight;

// Key of tile (tile_level, tile_index) in the tree column family.
std::string TileKey(int tile_level, uint64_t tile_index);

// Complete tiles above the leaves (tile level >= 1), expanded to every node
// they hold, kept in memory for proofs (docs/decisions.md, "Tile cache").
// Every proof needs one tile per tile level; the levels above the leaves
// hold a sixteenth of the tree's hashes, and a complete tile never changes,
// so nothing is ever invalidated. Direct-mapped: a tile has one slot, chosen
// from (level, index), and replaces what was there, so memory is bounded by
// `slots` x 968 bytes, reserved on first use and touched as slots fill (a
// table zeroed up front took ~300 ms of page faults on the sequencer's
// first checkpoint). Thread-safe.
class TileCache {
 public:
  explicit TileCache(size_t slots);
  ~TileCache();
  TileCache(const TileCache&) = delete;
  TileCache& operator=(const TileCache&) = delete;

  // The hash of the node `k` levels above the tile's row at position
  // `offset` of that level (offset < 16 >> k) if tile (tile_level,
  // tile_index) is cached.
  bool Find(int tile_level, uint64_t tile_index, int k, uint64_t offset,
            Hash* out) const;
  // Caches a complete tile (16 hashes) of tile_level >= 1.
  void Insert(int tile_level, uint64_t tile_index, std::string_view tile);
  // As Insert, for a tile read from storage after generation() returned
  // `generation`: skipped if Erase ran since (the tile may be a discarded
  // one, read before the discard's write).
  void InsertIfCurrent(int tile_level, uint64_t tile_index,
                       std::string_view tile, uint64_t generation);
  uint64_t generation() const {
    return generation_.load(std::memory_order_acquire);
  }
  // Drops tile (tile_level, tile_index) if it is cached (Ledger::
  // DiscardAfter: a complete tile of discarded entries), after moving to a
  // new generation.
  void Erase(int tile_level, uint64_t tile_index);

  size_t slots() const { return slots_; }

 private:
  // The tile's row, then each level above it: 16 + 8 + 4 + 2 hashes.
  static constexpr size_t kNodes = 2 * kTileWidth - 2;
  struct Slot {    // trivial: the table comes zeroed from calloc
    uint64_t tag;  // Tag(level, index); 0: empty
    std::array<Hash, kNodes> nodes;
  };
  struct Free {
    void operator()(Slot* p) const;
  };
  static constexpr size_t kShards = 64;

  // Never 0 (tile_level >= 1); indexes of such tiles are below 2^56.
  static uint64_t Tag(int tile_level, uint64_t tile_index) {
    return (uint64_t(tile_level) << 58) | tile_index;
  }
  size_t SlotOf(uint64_t tag) const;

  const size_t slots_;  // a power of two
  std::once_flag allocate_;
  std::unique_ptr<Slot[], Free> table_;  // set once, under allocate_
  std::atomic<bool> allocated_{false};
  std::atomic<uint64_t> generation_{0};
  mutable std::array<Mutex, kShards> shards_;
};

// Reads complete nodes from stored tiles; nodes between tile levels are
// recomputed from the tile below. With a cache, complete tiles above the
// leaves are taken from and added to it. Thread-safe.
class TileReader : public NodeReader {
 public:
  explicit TileReader(const Store& store, TileCache* cache = nullptr)
      : store_(store), cache_(cache) {}
  absl::Status ReadNodes(absl::Span<const NodeId> ids,
                         std::vector<Hash>* out) override;

 private:
  const Store& store_;
  TileCache* const cache_;
};

// The writer's in-memory right edge: a compact range for the root plus the
// partial tile of every tile level. Copyable (a few KiB) so a writer can
// append to a copy and keep it only if the batch is written.
class TileTree {
 public:
  TileTree() = default;

  // Loads the right edge of a tree of `size` leaves from storage. With
  // `at_head`, `size` must be the stored tree's size (its partial tiles are
  // exactly that long); otherwise any size up to it.
  static absl::StatusOr<TileTree> Load(const Store& store, uint64_t size,
                                       bool at_head = true);

  // A tile above the leaves that became complete, as stored.
  struct CompletedTile {
    int level;
    uint64_t index;
    std::string value;
  };
  // Appends leaves and puts every tile they change into `batch`. With
  // `completed`, adds the tiles of level >= 1 that became complete (for
  // TileCache, once the batch is written).
  void Append(absl::Span<const Hash> leaf_hashes, rocksdb::WriteBatch* batch,
              rocksdb::ColumnFamilyHandle* tree_cf,
              std::vector<CompletedTile>* completed = nullptr);

  uint64_t size() const { return range_.size(); }
  Hash Root() const { return range_.Root(); }
  const CompactRange& range() const { return range_; }

  // Appends one leaf without writing anything; `on_tile(level, index,
  // hashes)` is called for every tile that becomes full. Used by the
  // start-up verifier to compare stored tiles with recomputed ones.
  template <typename OnTile>
  void AppendAndVisit(const Hash& leaf_hash, OnTile&& on_tile);
  // The partial tile of `tile_level` (possibly empty) and its index.
  const std::vector<Hash>& partial(int tile_level) const {
    return rows_[tile_level];
  }
  uint64_t partial_index(int tile_level) const;

 private:
  CompactRange range_;
  std::array<std::vector<Hash>, kMaxTileLevels> rows_;
};

template <typename OnTile>
void TileTree::AppendAndVisit(const Hash& leaf_hash, OnTile&& on_tile) {
  range_.Append(leaf_hash, [&](NodeId id, const Hash& h) {
    if (id.level % kTileHeight != 0) return;
    const int t = id.level / kTileHeight;
    std::vector<Hash>& row = rows_[t];
    row.push_back(h);
    if (row.size() == kTileWidth) {
      on_tile(t, id.index / kTileWidth, row);
      row.clear();
    }
  });
}

}  // namespace ledger
