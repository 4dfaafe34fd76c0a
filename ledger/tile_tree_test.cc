#include "ledger/tile_tree.h"

#include <gtest/gtest.h>

#include "crypto/sha256.h"
#include "ledger/store.h"
#include "ledger/store_testing.h"

namespace ledger {
namespace {

Hash Leaf(uint64_t i) {
  return crypto::Sha256Digest(std::string(reinterpret_cast<char*>(&i), 8));
}

class TileTreeTest : public testing::StoreFixture {
 protected:
  void Append(TileTree& tree, uint64_t count) {
    rocksdb::WriteBatch batch;
    std::vector<Hash> leaves;
    for (uint64_t i = 0; i < count; ++i) {
      leaves.push_back(Leaf(reference_.size()));
      reference_.Append(leaves.back());
    }
    tree.Append(leaves, &batch, store_->handle(Cf::kTree));
    ASSERT_TRUE(store_->Write(&batch).ok());
  }

  InMemoryTree reference_;
};

TEST_F(TileTreeTest, StoredNodesMatchAnInMemoryTreeAcrossBatchShapes) {
  TileTree tree;
  TileReader reader(*store_);
  // Batch sizes that cross tile boundaries at several levels.
  for (uint64_t count : {1, 1, 14, 16, 17, 200, 255, 1, 3000, 4096, 1}) {
    Append(tree, count);
    ASSERT_EQ(tree.size(), reference_.size());
    EXPECT_EQ(tree.Root(), reference_.Root());
    const uint64_t n = tree.size();
    for (uint64_t probe : {uint64_t{0}, n / 3, n / 2, n - 1}) {
      auto want = InclusionProof(reference_, probe, n);
      auto got = InclusionProof(reader, probe, n);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(*got, *want) << "index " << probe << " size " << n;
    }
    for (uint64_t old_size : {uint64_t{1}, n / 2, n}) {
      auto want = ConsistencyProof(reference_, old_size, n);
      auto got = ConsistencyProof(reader, old_size, n);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(*got, *want);
      EXPECT_EQ(*RootAt(reader, old_size), *RootAt(reference_, old_size));
    }
  }
}

TEST_F(TileTreeTest, CachedReaderGivesTheSameProofsAsGrowthGoesOn) {
  TileTree tree;
  TileCache cache(64);  // small: slots are shared and replaced
  TileReader cached(*store_, &cache);
  for (uint64_t count : {1, 15, 16, 17, 255, 256, 4000, 1, 70000}) {
    Append(tree, count);
    const uint64_t n = tree.size();
    for (uint64_t probe = 0; probe < n; probe += 1 + n / 97) {
      auto want = InclusionProof(reference_, probe, n);
      auto got = InclusionProof(cached, probe, n);
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(*got, *want) << "index " << probe << " size " << n;
      auto want_c = ConsistencyProof(reference_, probe + 1, n);
      auto got_c = ConsistencyProof(cached, probe + 1, n);
      ASSERT_TRUE(got_c.ok()) << got_c.status();
      ASSERT_EQ(*got_c, *want_c) << "old " << probe + 1 << " size " << n;
    }
  }
}

TEST_F(TileTreeTest, CachedTilesAreServedFromMemory) {
  TileTree tree;
  Append(tree, 16 * 16 * 3 + 5);  // three complete level-1 tiles
  TileCache cache(1024);
  TileReader cached(*store_, &cache);
  TileReader uncached(*store_);
  const uint64_t n = tree.size();
  auto first = InclusionProof(cached, 300, n);
  ASSERT_TRUE(first.ok()) << first.status();
  // Replace the stored level-1 tile the proof used, and a leaf tile, with
  // other hashes: the cached reader still answers from the tiles it saw
  // (complete tiles never change), the leaf tile is read again.
  rocksdb::WriteBatch batch;
  batch.Put(store_->handle(Cf::kTree), TileKey(1, 1),
            std::string(kTileWidth * crypto::kHashSize, 'x'));
  ASSERT_TRUE(store_->Write(&batch).ok());
  auto again = InclusionProof(cached, 300, n);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *first);
  auto direct = InclusionProof(uncached, 300, n);
  ASSERT_TRUE(direct.ok()) << direct.status();
  EXPECT_NE(*direct, *first);

  // Only complete tiles of levels above the leaves are kept.
  Hash h;
  EXPECT_FALSE(cache.Find(0, 0, 0, 0, &h));
  EXPECT_FALSE(cache.Find(1, 3, 0, 0, &h));  // not complete: never cached
  EXPECT_FALSE(cache.Find(2, 0, 0, 0, &h));
  cache.Insert(0, 0, std::string(kTileWidth * crypto::kHashSize, 'a'));
  EXPECT_FALSE(cache.Find(0, 0, 0, 0, &h));
  cache.Insert(2, 7, std::string(3 * crypto::kHashSize, 'a'));  // partial
  EXPECT_FALSE(cache.Find(2, 7, 0, 0, &h));
}

TEST_F(TileTreeTest, AppendReportsTilesAboveTheLeavesThatBecameComplete) {
  TileTree tree;
  std::vector<Hash> leaves;
  for (uint64_t i = 0; i < 16 * 16 * 16 + 16 * 16 + 3; ++i) {
    leaves.push_back(Leaf(i));
  }
  rocksdb::WriteBatch batch;
  std::vector<TileTree::CompletedTile> completed;
  tree.Append(absl::MakeConstSpan(leaves).subspan(0, 255), &batch,
              store_->handle(Cf::kTree), &completed);
  EXPECT_TRUE(completed.empty());  // 255 leaves: no level-1 tile yet
  tree.Append(absl::MakeConstSpan(leaves).subspan(255), &batch,
              store_->handle(Cf::kTree), &completed);
  ASSERT_TRUE(store_->Write(&batch).ok());
  // Level 1: tiles 0..16 (4352 leaves = 17 x 256); level 2: tile 0.
  ASSERT_EQ(completed.size(), 18u);
  int level2 = 0;
  for (const TileTree::CompletedTile& c : completed) {
    ASSERT_GE(c.level, 1);
    if (c.level == 2) ++level2;
    auto stored = store_->Get(Cf::kTree, TileKey(c.level, c.index));
    ASSERT_TRUE(stored.ok() && stored->has_value());
    EXPECT_EQ(**stored, c.value) << c.level << " " << c.index;
    EXPECT_EQ(c.value.size(), kTileWidth * crypto::kHashSize);
  }
  EXPECT_EQ(level2, 1);
}

TEST(TileCacheTest, FindReturnsEveryNodeOfAnInsertedTile) {
  InMemoryTree row;
  std::string tile;
  for (uint64_t i = 0; i < kTileWidth; ++i) {
    row.Append(Leaf(i));
    tile.append(crypto::AsView(Leaf(i)));
  }
  TileCache cache(8);
  cache.Insert(3, 12345, tile);
  for (int k = 0; k < kTileHeight; ++k) {
    for (uint64_t offset = 0; offset < (kTileWidth >> k); ++offset) {
      Hash got;
      ASSERT_TRUE(cache.Find(3, 12345, k, offset, &got)) << k << " " << offset;
      // Node (k, offset) of the tile is the root of its leaves
      // [offset << k, (offset + 1) << k).
      InMemoryTree sub;
      for (uint64_t i = offset << k; i < (offset + 1) << k; ++i) {
        sub.Append(Leaf(i));
      }
      EXPECT_EQ(got, sub.Root()) << k << " " << offset;
    }
  }
  Hash h;
  EXPECT_FALSE(cache.Find(3, 12344, 0, 0, &h));
  EXPECT_FALSE(cache.Find(2, 12345, 0, 0, &h));
  EXPECT_EQ(cache.slots(), 8u);
  EXPECT_EQ(TileCache(5).slots(), 8u);  // rounded up to a power of two
}

TEST(TileCacheTest, ErasedTilesStayOutOfTheCache) {
  std::string tile;
  for (uint64_t i = 0; i < kTileWidth; ++i)
    tile.append(crypto::AsView(Leaf(i)));
  TileCache cache(8);
  cache.Insert(1, 7, tile);
  cache.Insert(1, 8, tile);
  Hash h;
  ASSERT_TRUE(cache.Find(1, 7, 0, 0, &h));
  // A reader that started before the erase (it may have read the tile
  // from storage before it was discarded) does not put it back.
  const uint64_t before = cache.generation();
  cache.Erase(1, 7);
  EXPECT_NE(cache.generation(), before);
  EXPECT_FALSE(cache.Find(1, 7, 0, 0, &h));
  EXPECT_TRUE(cache.Find(1, 8, 0, 0, &h));  // other tiles stay
  cache.InsertIfCurrent(1, 7, tile, before);
  EXPECT_FALSE(cache.Find(1, 7, 0, 0, &h));
  // A reader that started after it does.
  cache.InsertIfCurrent(1, 7, tile, cache.generation());
  EXPECT_TRUE(cache.Find(1, 7, 0, 0, &h));
  // Erasing a tile that is not cached (or an empty cache) is harmless.
  cache.Erase(2, 3);
  TileCache(8).Erase(1, 7);
  EXPECT_TRUE(cache.Find(1, 7, 0, 0, &h));
}

TEST_F(TileTreeTest, LoadRestoresTheRightEdge) {
  TileTree tree;
  Append(tree, 4321);
  auto loaded = TileTree::Load(*store_, tree.size());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->Root(), tree.Root());
  Append(*loaded, 700);
  EXPECT_EQ(loaded->Root(), reference_.Root());
  TileReader reader(*store_);
  EXPECT_EQ(*RootAt(reader, loaded->size()), reference_.Root());
}

TEST_F(TileTreeTest, ReadingBeyondTheTreeIsOutOfRange) {
  TileTree tree;
  Append(tree, 20);
  TileReader reader(*store_);
  std::vector<Hash> out;
  EXPECT_EQ(reader.ReadNodes({NodeId{0, 20}}, &out).code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(reader.ReadNodes({NodeId{4, 1}}, &out).code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(reader.ReadNodes({NodeId{4, 0}, NodeId{2, 4}}, &out).ok());
}

TEST_F(TileTreeTest, PartialTileWritesAreSmall) {
  TileTree tree;
  Append(tree, 100);
  rocksdb::WriteBatch batch;
  std::vector<Hash> one = {Leaf(100)};
  tree.Append(one, &batch, store_->handle(Cf::kTree));
  // One leaf rewrites only the partial tiles of levels 0 and 1 (100 -> 101
  // completes no 16-leaf subtree).
  EXPECT_EQ(batch.Count(), 1u);
}

}  // namespace
}  // namespace ledger
