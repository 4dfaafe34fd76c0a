#include "ledger/tlog_tiles.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <vector>

#include "base/strings.h"
#include "crypto/bytes.h"
#include "ledger/store.h"
#include "ledger/tile_tree.h"

namespace ledger {
namespace {

// Stored height-4 tiles per height-8 tile, and tile levels per level.
constexpr uint64_t kStoredPerTile = kTlogTileWidth / kTileWidth;      // 16
constexpr int kStoredLevelsPerLevel = kTlogTileHeight / kTileHeight;  // 2

// "x001/x234/067" -> 1234067. Every group three digits, all but the last
// prefixed with 'x', the first group not "x000".
std::optional<uint64_t> ParseTileIndex(std::string_view s) {
  std::vector<std::string_view> groups = Split(s, '/');
  if (groups.empty() || groups.size() > 7) return std::nullopt;
  uint64_t value = 0;
  for (size_t i = 0; i < groups.size(); ++i) {
    std::string_view g = groups[i];
    const bool last = i + 1 == groups.size();
    if (!last) {
      if (g.size() != 4 || g[0] != 'x') return std::nullopt;
      g.remove_prefix(1);
      if (i == 0 && g == "000") return std::nullopt;
    } else if (g.size() != 3) {
      return std::nullopt;
    }
    uint64_t group = 0;
    for (char c : g) {
      if (c < '0' || c > '9') return std::nullopt;
      group = group * 10 + static_cast<uint64_t>(c - '0');
    }
    if (value > (UINT64_MAX - group) / 1000) return std::nullopt;
    value = value * 1000 + group;
  }
  return value;
}

std::string FormatTileIndex(uint64_t n) {
  std::vector<uint64_t> groups;
  do {
    groups.push_back(n % 1000);
    n /= 1000;
  } while (n > 0);
  std::string out;
  for (size_t i = groups.size(); i-- > 0;) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), i > 0 ? "x%03u/" : "%03u",
                  static_cast<unsigned>(groups[i]));
    out.append(buf);
  }
  return out;
}

// Complete hashes of tree level `tree_level` in a tree of `size` leaves.
uint64_t CompleteAt(int tree_level, uint64_t size) {
  return tree_level < 64 ? size >> tree_level : 0;
}

}  // namespace

absl::StatusOr<TlogTile> ParseTlogTilePath(std::string_view path) {
  constexpr std::string_view kTile = "tile/";
  constexpr std::string_view kEntries = "entries/";
  if (!path.starts_with(kTile)) {
    return absl::InvalidArgumentError(
        StrCat("a tile path starts with \"tile/\", got \"",
               std::string(path.substr(0, 64)), "\""));
  }
  path.remove_prefix(kTile.size());
  TlogTile tile;
  if (path.starts_with(kEntries)) {
    tile.entries = true;
    path.remove_prefix(kEntries.size());
  } else {
    const size_t slash = path.find('/');
    std::optional<uint64_t> level =
        slash == std::string_view::npos
            ? std::nullopt
            : ParseCanonicalUint64(path.substr(0, slash));
    if (!level.has_value() || *level > 63) {
      return absl::InvalidArgumentError(
          "tile level: must be a decimal number from 0 to 63 without "
          "leading zeros, followed by '/'");
    }
    tile.level = static_cast<int>(*level);
    path.remove_prefix(slash + 1);
  }
  if (const size_t p = path.find(".p/"); p != std::string_view::npos) {
    std::optional<uint64_t> width = ParseCanonicalUint64(path.substr(p + 3));
    if (!width.has_value() || *width < 1 || *width >= kTlogTileWidth) {
      return absl::InvalidArgumentError(
          "tile width (.p/<W>): must be a decimal number from 1 to 255 "
          "without leading zeros");
    }
    tile.width = static_cast<uint32_t>(*width);
    path = path.substr(0, p);
  }
  std::optional<uint64_t> index = ParseTileIndex(path);
  if (!index.has_value()) {
    return absl::InvalidArgumentError(
        "tile index: must be 3-digit groups, all but the last prefixed with "
        "'x' and without a leading x000 group (1234067 is x001/x234/067)");
  }
  tile.index = *index;
  return tile;
}

std::string FormatTlogTilePath(const TlogTile& tile) {
  std::string out = "tile/";
  if (tile.entries) {
    out += "entries/";
  } else {
    StrAppend(&out, tile.level, "/");
  }
  out += FormatTileIndex(tile.index);
  if (!tile.full()) StrAppend(&out, ".p/", tile.width);
  return out;
}

bool TlogTileExists(const TlogTile& tile, uint64_t tree_size) {
  if (tile.width < 1 || tile.width > kTlogTileWidth) return false;
  const int tree_level = tile.entries ? 0 : tile.level * kTlogTileHeight;
  // 256N + W <= complete hashes of that level, without overflow.
  if (tile.index > (UINT64_MAX - tile.width) / kTlogTileWidth) return false;
  return tile.index * kTlogTileWidth + tile.width <=
         CompleteAt(tree_level, tree_size);
}

absl::StatusOr<std::string> ReadTlogHashTile(const Store& store,
                                             const TlogTile& tile,
                                             uint64_t tree_size) {
  if (tile.entries || !TlogTileExists(tile, tree_size)) {
    return absl::OutOfRangeError(StrCat(FormatTlogTilePath(tile),
                                        " is beyond the tree of ", tree_size,
                                        " entries"));
  }
  // Tree level 8L is stored in tiles of tile level 2L, 16 hashes each;
  // this tile is the first ceil(W / 16) of the 16 that start at 16N.
  const int stored_level = tile.level * kStoredLevelsPerLevel;
  const uint64_t first = tile.index * kStoredPerTile;
  const uint64_t count = (tile.width + kTileWidth - 1) / kTileWidth;
  std::vector<std::string> keys;
  keys.reserve(count);
  for (uint64_t j = 0; j < count; ++j) {
    keys.push_back(TileKey(stored_level, first + j));
  }
  absl::StatusOr<std::vector<std::optional<std::string>>> stored =
      store.MultiGet(Cf::kTree, keys);
  if (!stored.ok()) return stored.status();
  std::string out;
  out.reserve(size_t{tile.width} * crypto::kHashSize);
  for (uint64_t j = 0; j < count; ++j) {
    const size_t need =
        std::min<size_t>(kTileWidth, tile.width - j * kTileWidth) *
        crypto::kHashSize;
    const std::optional<std::string>& t = (*stored)[j];
    if (!t.has_value() || t->size() < need ||
        t->size() % crypto::kHashSize != 0) {
      return absl::DataLossError(StrCat(
          "tree tile (level ", stored_level, ", index ", first + j, ") ",
          t.has_value() ? StrCat("holds ", t->size(), " bytes") : "is missing",
          "; ", FormatTlogTilePath(tile), " of a tree of ", tree_size,
          " entries needs ", need));
    }
    out.append(*t, 0, need);
  }
  return out;
}

absl::StatusOr<std::string> EncodeEntryBundle(
    absl::Span<const std::string> entries, uint64_t first_index) {
  size_t total = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].size() > kMaxBundledEntryBytes) {
      return absl::FailedPreconditionError(
          StrCat("entry ", first_index + i, " is ", entries[i].size(),
                 " bytes, more than the ", kMaxBundledEntryBytes,
                 " an entry bundle's u16 length prefix can carry; read it with "
                 "Query.GetEntry"));
    }
    total += 2 + entries[i].size();
  }
  std::string out;
  out.reserve(total);
  for (const std::string& e : entries) {
    out.push_back(static_cast<char>(e.size() >> 8));
    out.push_back(static_cast<char>(e.size() & 0xff));
    out.append(e);
  }
  return out;
}

}  // namespace ledger
