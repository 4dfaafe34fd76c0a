#include "ledger/tile_tree.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "absl/container/flat_hash_map.h"
#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "ledger/store.h"

namespace ledger {
namespace {

std::string TileValue(const std::vector<Hash>& hashes) {
  std::string out;
  out.reserve(hashes.size() * crypto::kHashSize);
  for (const Hash& h : hashes) out.append(crypto::AsView(h));
  return out;
}

Hash HashAt(const std::string& tile, size_t pos) {
  Hash h;
  std::memcpy(h.data(), tile.data() + pos * crypto::kHashSize,
              crypto::kHashSize);
  return h;
}

// Folds 2^k consecutive row hashes starting at `pos` into their subtree
// root.
Hash FoldTile(const std::string& tile, size_t pos, int k) {
  std::vector<Hash> level;
  level.reserve(size_t{1} << k);
  for (size_t i = 0; i < (size_t{1} << k); ++i) {
    level.push_back(HashAt(tile, pos + i));
  }
  while (level.size() > 1) {
    for (size_t i = 0; i < level.size() / 2; ++i) {
      level[i] = crypto::HashChildren(level[2 * i], level[2 * i + 1]);
    }
    level.resize(level.size() / 2);
  }
  return level[0];
}

}  // namespace

std::string TileKey(int tile_level, uint64_t tile_index) {
  std::string key(1, static_cast<char>(tile_level));
  key.append(Be64(tile_index));
  return key;
}

TileCache::TileCache(size_t slots)
    : slots_(std::bit_ceil(std::max<size_t>(slots, 1))) {}

TileCache::~TileCache() = default;

void TileCache::Free::operator()(Slot* p) const { std::free(p); }

size_t TileCache::SlotOf(uint64_t tag) const {
  // splitmix64's finaliser: neighbouring tiles land far apart.
  tag ^= tag >> 30;
  tag *= 0xbf58476d1ce4e5b9;
  tag ^= tag >> 27;
  tag *= 0x94d049bb133111eb;
  tag ^= tag >> 31;
  return static_cast<size_t>(tag) & (slots_ - 1);
}

bool TileCache::Find(int tile_level, uint64_t tile_index, int k,
                     uint64_t offset, Hash* out) const {
  if (tile_level < 1 || !allocated_.load(std::memory_order_acquire)) {
    return false;
  }
  const uint64_t tag = Tag(tile_level, tile_index);
  const size_t slot = SlotOf(tag);
  // Row k starts after the rows below it: 16, 8, 4 hashes.
  const size_t at = (2 * kTileWidth - (2 * kTileWidth >> k)) + offset;
  MutexLock lock(&shards_[slot % kShards]);
  const Slot& s = table_[slot];
  if (s.tag != tag) return false;
  *out = s.nodes[at];
  return true;
}

void TileCache::Insert(int tile_level, uint64_t tile_index,
                       std::string_view tile) {
  InsertIfCurrent(tile_level, tile_index, tile, generation());
}

void TileCache::Erase(int tile_level, uint64_t tile_index) {
  // First the generation: an insert that checks it after this skips, one
  // that checked it before holds the shard until it wrote the slot, which
  // is then cleared below.
  generation_.fetch_add(1, std::memory_order_acq_rel);
  if (tile_level < 1 || !allocated_.load(std::memory_order_acquire)) return;
  const uint64_t tag = Tag(tile_level, tile_index);
  const size_t slot = SlotOf(tag);
  MutexLock lock(&shards_[slot % kShards]);
  if (table_[slot].tag == tag) table_[slot].tag = 0;
}

void TileCache::InsertIfCurrent(int tile_level, uint64_t tile_index,
                                std::string_view tile, uint64_t generation) {
  if (tile_level < 1 || tile.size() != kTileWidth * crypto::kHashSize) return;
  std::call_once(allocate_, [this] {
    static_assert(std::is_trivial_v<Slot>);
    // calloc: large blocks come as untouched zero pages from the kernel.
    table_.reset(static_cast<Slot*>(std::calloc(slots_, sizeof(Slot))));
    allocated_.store(table_ != nullptr, std::memory_order_release);
  });
  if (!allocated_.load(std::memory_order_acquire)) return;
  Slot fresh{};
  fresh.tag = Tag(tile_level, tile_index);
  std::memcpy(fresh.nodes.data(), tile.data(), tile.size());
  size_t row = 0, width = kTileWidth;
  while (width > 2) {
    for (size_t i = 0; i < width / 2; ++i) {
      fresh.nodes[row + width + i] = crypto::HashChildren(
          fresh.nodes[row + 2 * i], fresh.nodes[row + 2 * i + 1]);
    }
    row += width;
    width /= 2;
  }
  const size_t slot = SlotOf(fresh.tag);
  MutexLock lock(&shards_[slot % kShards]);
  if (generation_.load(std::memory_order_acquire) != generation) return;
  table_[slot] = fresh;
}

absl::Status TileReader::ReadNodes(absl::Span<const NodeId> ids,
                                   std::vector<Hash>* out) {
  out->resize(ids.size());
  // Which tile each node needs, deduplicated for one MultiGet; nodes of
  // cached tiles are answered at once.
  std::vector<std::string> keys;
  std::vector<std::pair<int, uint64_t>> key_tiles;  // (level, index) per key
  absl::flat_hash_map<std::string, size_t> key_slot;
  constexpr size_t kCached = ~size_t{0};
  std::vector<size_t> slot_of(ids.size(), kCached);
  for (size_t i = 0; i < ids.size(); ++i) {
    const int t = ids[i].level / kTileHeight;
    const int k = ids[i].level % kTileHeight;
    const uint64_t pos = ids[i].index << k;
    if (cache_ != nullptr &&
        cache_->Find(t, pos / kTileWidth, k, (pos % kTileWidth) >> k,
                     &(*out)[i])) {
      continue;
    }
    std::string key = TileKey(t, pos / kTileWidth);
    auto [it, inserted] = key_slot.emplace(key, keys.size());
    if (inserted) {
      keys.push_back(std::move(key));
      key_tiles.emplace_back(t, pos / kTileWidth);
    }
    slot_of[i] = it->second;
  }
  if (keys.empty()) return absl::OkStatus();
  const uint64_t generation = cache_ != nullptr ? cache_->generation() : 0;
  absl::StatusOr<std::vector<std::optional<std::string>>> tiles =
      store_.MultiGet(Cf::kTree, keys);
  if (!tiles.ok()) return tiles.status();
  for (size_t i = 0; i < ids.size(); ++i) {
    if (slot_of[i] == kCached) continue;
    const int t = ids[i].level / kTileHeight;
    const int k = ids[i].level % kTileHeight;
    const uint64_t pos = ids[i].index << k;
    const std::optional<std::string>& tile = (*tiles)[slot_of[i]];
    const size_t offset = pos % kTileWidth;
    const size_t need = offset + (size_t{1} << k);
    if (!tile.has_value()) {
      return absl::OutOfRangeError(
          StrCat("tree tile (level ", t, ", index ", pos / kTileWidth,
                 ") is not stored: node (", int{ids[i].level}, ", ",
                 ids[i].index, ") is beyond the tree"));
    }
    if (tile->size() % crypto::kHashSize != 0 ||
        tile->size() > kTileWidth * crypto::kHashSize) {
      return absl::DataLossError(StrCat("tree tile (level ", t, ", index ",
                                        pos / kTileWidth,
                                        ") has invalid length ", tile->size()));
    }
    if (tile->size() / crypto::kHashSize < need) {
      return absl::OutOfRangeError(
          StrCat("node (", int{ids[i].level}, ", ", ids[i].index,
                 ") is not complete in the stored tree"));
    }
    (*out)[i] = FoldTile(*tile, offset, k);
  }
  if (cache_ != nullptr) {
    for (size_t j = 0; j < keys.size(); ++j) {
      const std::optional<std::string>& tile = (*tiles)[j];
      if (tile.has_value()) {
        cache_->InsertIfCurrent(key_tiles[j].first, key_tiles[j].second, *tile,
                                generation);
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<TileTree> TileTree::Load(const Store& store, uint64_t size,
                                        bool at_head) {
  TileTree tree;
  TileReader reader(store);
  std::vector<NodeId> edge = CompactRange::RightEdge(size);
  std::vector<Hash> hashes;
  if (absl::Status s = reader.ReadNodes(edge, &hashes); !s.ok()) {
    return Annotate(s, "loading the tree's right edge");
  }
  absl::StatusOr<CompactRange> range =
      CompactRange::FromHashes(size, std::move(hashes));
  if (!range.ok()) return range.status();
  tree.range_ = *std::move(range);
  for (int t = 0; t < kMaxTileLevels; ++t) {
    const uint64_t complete =
        t * kTileHeight < 64 ? size >> (t * kTileHeight) : 0;
    const uint64_t width = complete % kTileWidth;
    if (width == 0) continue;
    absl::StatusOr<std::optional<std::string>> tile =
        store.Get(Cf::kTree, TileKey(t, complete / kTileWidth));
    if (!tile.ok()) return tile.status();
    // At the head the partial tile holds exactly `width` hashes; below it,
    // a prefix of the stored tile (a stored prefix never changes).
    if (!tile->has_value() ||
        (at_head ? (*tile)->size() != width * crypto::kHashSize
                 : (*tile)->size() < width * crypto::kHashSize)) {
      return absl::DataLossError(StrCat(
          "tree tile (level ", t, ", index ", complete / kTileWidth,
          ") should hold ", width, " hashes for a tree of ", size, " entries"));
    }
    for (uint64_t i = 0; i < width; ++i) {
      tree.rows_[t].push_back(HashAt(**tile, i));
    }
  }
  return tree;
}

uint64_t TileTree::partial_index(int tile_level) const {
  const int shift = tile_level * kTileHeight;
  const uint64_t complete = shift < 64 ? range_.size() >> shift : 0;
  return complete / kTileWidth;
}

void TileTree::Append(absl::Span<const Hash> leaf_hashes,
                      rocksdb::WriteBatch* batch,
                      rocksdb::ColumnFamilyHandle* tree_cf,
                      std::vector<CompletedTile>* completed) {
  std::array<size_t, kMaxTileLevels> before;
  for (int t = 0; t < kMaxTileLevels; ++t) before[t] = rows_[t].size();
  std::array<bool, kMaxTileLevels> touched{};
  for (const Hash& leaf : leaf_hashes) {
    AppendAndVisit(leaf,
                   [&](int t, uint64_t index, const std::vector<Hash>& full) {
                     std::string value = TileValue(full);
                     batch->Put(tree_cf, TileKey(t, index), value);
                     if (completed != nullptr && t >= 1) {
                       completed->push_back({t, index, std::move(value)});
                     }
                     touched[t] = true;
                   });
  }
  // Rewrite each partial tile that received hashes (a row that filled also
  // counts: its new partial tile starts after the full one).
  for (int t = 0; t < kMaxTileLevels; ++t) {
    if (rows_[t].empty() || (!touched[t] && rows_[t].size() == before[t])) {
      continue;
    }
    batch->Put(tree_cf, TileKey(t, partial_index(t)), TileValue(rows_[t]));
  }
}

}  // namespace ledger
