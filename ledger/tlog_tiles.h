#pragma once

// The log in the layout of c2sp.org/tlog-tiles: tiles of height 8 (256
// hashes) and entry bundles, as views of what the ledger stores. Nothing
// here is a second copy: a hash tile of level L is read from the stored
// height-4 tiles of tile level 2L (ledger/tile_tree.h), which hold exactly
// the hashes of tree level 8L, and a bundle from the entries.
//
// Paths (relative to the log's prefix, without a leading slash):
//   tile/<L>/<N>[.p/<W>]        hashes of tree level 8L at positions
//                               [256N, 256N + W)
//   tile/entries/<N>[.p/<W>]    entries [256N, 256N + W), each as a
//                               big-endian u16 length and the entry bytes
// <N> is written in 3-digit groups, all but the last prefixed with 'x'
// (1234067 is x001/x234/067); W is 1..255 for a partial tile and absent for
// a full one (256).

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace ledger {

class Store;

inline constexpr int kTlogTileHeight = 8;
inline constexpr uint32_t kTlogTileWidth = 256;
// A bundle's length prefix is a u16: longer entries cannot be bundled.
inline constexpr size_t kMaxBundledEntryBytes = 65535;

struct TlogTile {
  bool entries = false;             // an entry bundle, not a hash tile
  int level = 0;                    // 0..63 (hash tiles only)
  uint64_t index = 0;               // N
  uint32_t width = kTlogTileWidth;  // 1..256; 256 is a full tile

  bool full() const { return width == kTlogTileWidth; }
  friend bool operator==(const TlogTile&, const TlogTile&) = default;
};

// Parses "tile/..." as above. Only the canonical spelling is accepted (no
// leading zeros in L or W, no leading "x000/" group in N, W < 256), so each
// resource has one URL. InvalidArgument naming the part that is wrong.
absl::StatusOr<TlogTile> ParseTlogTilePath(std::string_view path);
// The canonical path of `tile` ("tile/0/x001/x234/067.p/5").
std::string FormatTlogTilePath(const TlogTile& tile);

// Whether `tile` exists in a tree of `tree_size` leaves: its last hash (or
// entry) is complete. A full tile exists once all 256 are; a partial tile
// of width W exists from the size at which its level holds 256N + W
// complete hashes on (its bytes never change: they are a prefix of the
// full tile's).
bool TlogTileExists(const TlogTile& tile, uint64_t tree_size);

// The bytes of hash tile `tile` (not an entry bundle) in a tree of
// `tree_size` leaves, read from `store`'s height-4 tiles with one MultiGet:
// W x 32 bytes. OutOfRange if the tile does not exist at that size;
// DataLoss if a stored tile that the size requires is missing or short.
// The caller ensures `tree_size` is at most the stored tree's size.
absl::StatusOr<std::string> ReadTlogHashTile(const Store& store,
                                             const TlogTile& tile,
                                             uint64_t tree_size);

// An entry bundle of `entries` (entry bytes in index order, the first being
// entry `first_index`): each a big-endian u16 length and the bytes.
// FailedPrecondition naming the entry and its length if one is longer than
// kMaxBundledEntryBytes (ledger/FORMAT.md, section 14).
absl::StatusOr<std::string> EncodeEntryBundle(
    absl::Span<const std::string> entries, uint64_t first_index);

}  // namespace ledger
