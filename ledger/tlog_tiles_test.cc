#include "ledger/tlog_tiles.h"

#include <gtest/gtest.h>

#include <vector>

#include "crypto/sha256.h"
#include "ledger/store.h"
#include "ledger/store_testing.h"
#include "ledger/tile_tree.h"

namespace ledger {
namespace {

TlogTile Hashes(int level, uint64_t index, uint32_t width = kTlogTileWidth) {
  return TlogTile{false, level, index, width};
}
TlogTile Bundle(uint64_t index, uint32_t width = kTlogTileWidth) {
  return TlogTile{true, 0, index, width};
}

TEST(TlogTilePathTest, IndexIsWrittenInThreeDigitGroups) {
  EXPECT_EQ(FormatTlogTilePath(Hashes(0, 1234067)), "tile/0/x001/x234/067");
  EXPECT_EQ(FormatTlogTilePath(Hashes(2, 0)), "tile/2/000");
  EXPECT_EQ(FormatTlogTilePath(Hashes(1, 1000, 17)), "tile/1/x001/000.p/17");
  EXPECT_EQ(FormatTlogTilePath(Bundle(999, 1)), "tile/entries/999.p/1");
  EXPECT_EQ(FormatTlogTilePath(Hashes(63, UINT64_MAX)),
            "tile/63/x018/x446/x744/x073/x709/x551/615");
}

TEST(TlogTilePathTest, ParsesWhatItFormats) {
  for (const TlogTile& t :
       {Hashes(0, 0), Hashes(0, 1234067), Hashes(5, 999, 255),
        Hashes(63, UINT64_MAX, 1), Bundle(0), Bundle(1000000, 3)}) {
    absl::StatusOr<TlogTile> parsed = ParseTlogTilePath(FormatTlogTilePath(t));
    ASSERT_TRUE(parsed.ok())
        << FormatTlogTilePath(t) << ": " << parsed.status();
    EXPECT_EQ(*parsed, t) << FormatTlogTilePath(t);
  }
}

TEST(TlogTilePathTest, RefusesEveryOtherSpelling) {
  for (const char* path : {"tile/0/1",
                           "tile/0/0001",
                           "tile/00/000",
                           "tile/01/000",
                           "tile/64/000",
                           "tile/-1/000",
                           "tile/0/x000/005",
                           "tile/0/x1/000",
                           "tile/0/001/234",
                           "tile/0/x001/x234",
                           "tile/0/000.p/256",
                           "tile/0/000.p/0",
                           "tile/0/000.p/05",
                           "tile/0/000.p/",
                           "tile/0/000/",
                           "tile/0/",
                           "tile/0",
                           "tile/entries/",
                           "tile/entries/1",
                           "tiles/0/000",
                           "tile/0/00a",
                           "tile/0/x018/x446/x744/x073/x709/x551/616",
                           "tile/0/x001/x002/x003/x004/x005/x006/x007/008"}) {
    EXPECT_FALSE(ParseTlogTilePath(path).ok()) << path;
  }
}

// The example of c2sp.org/tlog-tiles: a tree of 70,000 entries has 273
// full level-0 tiles and a partial one of width 112, one full level-1 tile
// and a partial one of width 17, and a partial level-2 tile of width 1.
TEST(TlogTileExistsTest, MatchesTheSpecificationsExample) {
  constexpr uint64_t kSize = 70000;
  EXPECT_TRUE(TlogTileExists(Hashes(0, 272), kSize));
  EXPECT_FALSE(TlogTileExists(Hashes(0, 273), kSize));
  EXPECT_TRUE(TlogTileExists(Hashes(0, 273, 112), kSize));
  EXPECT_FALSE(TlogTileExists(Hashes(0, 273, 113), kSize));
  EXPECT_TRUE(TlogTileExists(Bundle(273, 112), kSize));
  EXPECT_FALSE(TlogTileExists(Bundle(273, 113), kSize));
  EXPECT_TRUE(TlogTileExists(Hashes(1, 0), kSize));
  EXPECT_TRUE(TlogTileExists(Hashes(1, 1, 17), kSize));
  EXPECT_FALSE(TlogTileExists(Hashes(1, 1, 18), kSize));
  EXPECT_FALSE(TlogTileExists(Hashes(1, 1), kSize));
  EXPECT_TRUE(TlogTileExists(Hashes(2, 0, 1), kSize));
  EXPECT_FALSE(TlogTileExists(Hashes(2, 0, 2), kSize));
  EXPECT_FALSE(TlogTileExists(Hashes(3, 0, 1), kSize));
  // A size of 256: one full level-0 tile, a level-1 tile of width 1.
  EXPECT_TRUE(TlogTileExists(Hashes(0, 0), 256));
  EXPECT_TRUE(TlogTileExists(Hashes(1, 0, 1), 256));
  EXPECT_FALSE(TlogTileExists(Hashes(0, 1, 1), 256));
  EXPECT_FALSE(TlogTileExists(Hashes(0, UINT64_MAX, 255), UINT64_MAX));
}

Hash Leaf(uint64_t i) {
  return crypto::Sha256Digest(std::string(reinterpret_cast<char*>(&i), 8));
}

// RFC 6962's MTH by its recursive definition, independent of merkle.h.
Hash Mth(const std::vector<Hash>& leaves, size_t begin, size_t end) {
  if (end - begin == 1) return leaves[begin];
  size_t k = 1;
  while (k * 2 < end - begin) k *= 2;
  std::string both(1, '\x01');
  both.append(crypto::AsView(Mth(leaves, begin, begin + k)));
  both.append(crypto::AsView(Mth(leaves, begin + k, end)));
  return crypto::Sha256Digest(both);
}

std::string Concat(const std::vector<Hash>& hashes) {
  std::string out;
  for (const Hash& h : hashes) out.append(crypto::AsView(h));
  return out;
}

class TlogHashTileTest : public testing::StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    // Uneven batches, so tiles were rewritten as they grew.
    TileTree tree;
    for (uint64_t count : {1, 300, 4095, 70000 - 4396}) {
      std::vector<Hash> batch;
      for (uint64_t i = 0; i < count; ++i) {
        leaves_.push_back(Leaf(leaves_.size()));
        batch.push_back(leaves_.back());
      }
      rocksdb::WriteBatch wb;
      tree.Append(batch, &wb, store_->handle(Cf::kTree));
      ASSERT_TRUE(store_->Write(&wb).ok());
    }
    ASSERT_EQ(leaves_.size(), 70000u);
  }

  std::string Read(const TlogTile& tile, uint64_t size = 70000) {
    absl::StatusOr<std::string> got = ReadTlogHashTile(*store_, tile, size);
    EXPECT_TRUE(got.ok()) << FormatTlogTilePath(tile) << ": " << got.status();
    return got.ok() ? *got : "";
  }

  std::vector<Hash> leaves_;
};

TEST_F(TlogHashTileTest, LevelZeroTilesAreTheLeafHashes) {
  std::vector<Hash> want(leaves_.begin() + 5 * 256, leaves_.begin() + 6 * 256);
  EXPECT_EQ(Read(Hashes(0, 5)), Concat(want));
  want.assign(leaves_.begin() + 273 * 256, leaves_.end());
  ASSERT_EQ(want.size(), 112u);
  EXPECT_EQ(Read(Hashes(0, 273, 112)), Concat(want));
  // A partial tile of a full one is its prefix.
  want.assign(leaves_.begin(), leaves_.begin() + 17);
  EXPECT_EQ(Read(Hashes(0, 0, 17)), Concat(want));
}

TEST_F(TlogHashTileTest, HigherLevelsHoldTheRootsOfFullTilesBelow) {
  std::vector<Hash> level1;
  for (size_t i = 0; i + 256 <= leaves_.size(); i += 256) {
    level1.push_back(Mth(leaves_, i, i + 256));
  }
  ASSERT_EQ(level1.size(), 273u);
  EXPECT_EQ(Read(Hashes(1, 0)), Concat({level1.begin(), level1.begin() + 256}));
  EXPECT_EQ(Read(Hashes(1, 1, 17)),
            Concat({level1.begin() + 256, level1.end()}));
  EXPECT_EQ(Read(Hashes(2, 0, 1)), Concat({Mth(leaves_, 0, 65536)}));
  // At a smaller size, the tiles that size has.
  EXPECT_EQ(Read(Hashes(1, 0, 3), 3 * 256 + 255),
            Concat({level1.begin(), level1.begin() + 3}));
}

TEST_F(TlogHashTileTest, TilesBeyondTheTreeAreOutOfRange) {
  for (const TlogTile& t :
       {Hashes(0, 273), Hashes(0, 273, 113), Hashes(1, 1), Hashes(2, 0, 2),
        Hashes(7, 0, 1), Hashes(63, 0, 1), Bundle(0)}) {
    EXPECT_TRUE(
        absl::IsOutOfRange(ReadTlogHashTile(*store_, t, 70000).status()))
        << FormatTlogTilePath(t);
  }
  EXPECT_TRUE(absl::IsOutOfRange(
      ReadTlogHashTile(*store_, Hashes(0, 0, 17), 16).status()));
}

TEST_F(TlogHashTileTest, AMissingStoredTileIsDataLoss) {
  // Tree level 8 lives in tile level 2; index 5 covers its hashes [80, 96).
  ASSERT_TRUE(store_->db()
                  ->Delete(rocksdb::WriteOptions(), store_->handle(Cf::kTree),
                           TileKey(2, 5))
                  .ok());
  absl::StatusOr<std::string> got =
      ReadTlogHashTile(*store_, Hashes(1, 0), 70000);
  EXPECT_TRUE(absl::IsDataLoss(got.status())) << got.status();
  EXPECT_NE(std::string(got.status().message()).find("level 2, index 5"),
            std::string::npos)
      << got.status();
  // Tiles that do not need it are still served.
  EXPECT_EQ(Read(Hashes(1, 0, 80)).size(), 80u * 32);
}

TEST(EntryBundleTest, EachEntryHasABigEndianLengthPrefix) {
  const std::vector<std::string> entries = {"", "ab", std::string(258, 'x')};
  absl::StatusOr<std::string> bundle = EncodeEntryBundle(entries, 0);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_EQ(*bundle, std::string("\x00\x00", 2) + std::string("\x00\x02", 2) +
                         "ab" + std::string("\x01\x02", 2) +
                         std::string(258, 'x'));
}

TEST(EntryBundleTest, AnEntryLongerThanTheLengthPrefixIsRefused) {
  std::vector<std::string> entries = {"a", std::string(65535, 'y')};
  absl::StatusOr<std::string> bundle = EncodeEntryBundle(entries, 512);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_EQ(bundle->size(), 2 + 1 + 2 + 65535u);
  EXPECT_EQ(bundle->substr(3, 2), "\xff\xff");
  entries.push_back(std::string(65536, 'z'));
  bundle = EncodeEntryBundle(entries, 512);
  EXPECT_TRUE(absl::IsFailedPrecondition(bundle.status())) << bundle.status();
  EXPECT_NE(std::string(bundle.status().message()).find("entry 514 is 65536"),
            std::string::npos)
      << bundle.status();
}

}  // namespace
}  // namespace ledger
