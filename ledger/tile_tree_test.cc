#include "ledger/tile_tree.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "crypto/sha256.h"
#include "ledger/store.h"

namespace ledger {
namespace {

Hash Leaf(uint64_t i) {
  return crypto::Sha256Digest(std::string(reinterpret_cast<char*>(&i), 8));
}

class TileTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tile_tree_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto store = Store::Open(dir_, StoreOptions{});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

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

  std::string dir_;
  std::unique_ptr<Store> store_;
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
