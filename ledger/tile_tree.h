#pragma once

// The Merkle tree as stored: tiles of height 4 in the `tree` column family
// (docs/decisions.md). Tile (t, x) holds the hashes of tree level 4t at
// positions [16x, 16x + 16): the leaves for t = 0, the roots of 16-leaf
// subtrees for t = 1, and so on. The rightmost tile of each level may be
// partial and is rewritten, longer, as the tree grows; its stored prefix
// never changes.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "ledger/merkle.h"
#include "rocksdb/write_batch.h"

namespace ledger {

class Store;

inline constexpr int kTileHeight = 4;
inline constexpr uint64_t kTileWidth = uint64_t{1} << kTileHeight;
inline constexpr int kMaxTileLevels = 64 / kTileHeight;

// Key of tile (tile_level, tile_index) in the tree column family.
std::string TileKey(int tile_level, uint64_t tile_index);

// Reads complete nodes from stored tiles; nodes between tile levels are
// recomputed from the tile below. Thread-safe.
class TileReader : public NodeReader {
 public:
  explicit TileReader(const Store& store) : store_(store) {}
  absl::Status ReadNodes(absl::Span<const NodeId> ids,
                         std::vector<Hash>* out) override;

 private:
  const Store& store_;
};

// The writer's in-memory right edge: a compact range for the root plus the
// partial tile of every tile level. Copyable (a few KiB) so a writer can
// append to a copy and keep it only if the batch is written.
class TileTree {
 public:
  TileTree() = default;

  // Loads the right edge of a tree of `size` leaves from storage.
  static absl::StatusOr<TileTree> Load(const Store& store, uint64_t size);

  // Appends leaves and puts every tile they change into `batch`.
  void Append(absl::Span<const Hash> leaf_hashes, rocksdb::WriteBatch* batch,
              rocksdb::ColumnFamilyHandle* tree_cf);

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
