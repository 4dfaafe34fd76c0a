// The compact multi-leaf inclusion proof (FORMAT.md 12.2) against a
// reference written from the definition: MTH computed naively from the
// leaves, the recursion of the definition, and, for the roots, the
// per-leaf RFC 9162 inclusion proofs.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "ledger/merkle.h"

namespace ledger {
namespace {

using ::testing::HasSubstr;

// RFC 6962 section 2.1, MTH(D[lo:hi]), straight from the definition.
Hash NaiveMth(const std::vector<Hash>& leaves, uint64_t lo, uint64_t hi) {
  if (hi - lo == 1) return leaves[lo];
  uint64_t k = 1;
  while (k * 2 < hi - lo) k *= 2;
  return crypto::HashChildren(NaiveMth(leaves, lo, lo + k),
                              NaiveMth(leaves, lo + k, hi));
}

// The definition of FORMAT.md 12.2, with NaiveMth for every emitted hash.
void NaiveMultiProof(const std::vector<Hash>& leaves, uint64_t lo, uint64_t hi,
                     const std::vector<uint64_t>& set, std::vector<Hash>& out) {
  bool any = false;
  for (uint64_t i : set) any = any || (i >= lo && i < hi);
  if (!any) {
    out.push_back(NaiveMth(leaves, lo, hi));
    return;
  }
  if (hi - lo == 1) return;
  uint64_t k = 1;
  while (k * 2 < hi - lo) k *= 2;
  NaiveMultiProof(leaves, lo, lo + k, set, out);
  NaiveMultiProof(leaves, lo + k, hi, set, out);
}

std::vector<Hash> Leaves(uint64_t n) {
  std::vector<Hash> leaves;
  for (uint64_t i = 0; i < n; ++i) {
    leaves.push_back(crypto::HashLeaf(StrCat("leaf ", i)));
  }
  return leaves;
}

std::vector<Hash> HashesOf(const std::vector<Hash>& leaves,
                           const std::vector<uint64_t>& set) {
  std::vector<Hash> out;
  for (uint64_t i : set) out.push_back(leaves[i]);
  return out;
}

// Checks one leaf set against the reference and every per-leaf proof;
// returns false (with failures recorded) on a mismatch, to stop loops.
bool CheckSet(InMemoryTree& tree, const std::vector<Hash>& leaves,
              const std::vector<uint64_t>& set) {
  const uint64_t n = leaves.size();
  const Hash root = NaiveMth(leaves, 0, n);
  std::vector<Hash> want;
  NaiveMultiProof(leaves, 0, n, set, want);
  absl::StatusOr<std::vector<Hash>> proof = MultiInclusionProof(tree, set, n);
  EXPECT_TRUE(proof.ok()) << proof.status();
  if (!proof.ok()) return false;
  EXPECT_EQ(*proof, want) << "size " << n << ", " << set.size() << " leaves";
  EXPECT_EQ(MultiInclusionProofLength(set, n), want.size());
  absl::StatusOr<Hash> got =
      RootFromMultiInclusionProof(set, HashesOf(leaves, set), n, *proof);
  EXPECT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got.value_or(Hash{}), root) << "size " << n;
  // Each leaf's own RFC 9162 proof leads to the same root; for one leaf
  // the two proofs hold the same hashes (bottom up there, left to right
  // here).
  for (uint64_t i : set) {
    absl::StatusOr<std::vector<Hash>> single = InclusionProof(tree, i, n);
    EXPECT_TRUE(single.ok());
    EXPECT_TRUE(VerifyInclusion(leaves[i], i, n, *single, root).ok());
    if (set.size() == 1) {
      EXPECT_THAT(*proof, ::testing::UnorderedElementsAreArray(*single));
    }
  }
  return *proof == want && got.ok() && *got == root;
}

TEST(MultiProofTest, EverySubsetOfSmallTreesMatchesTheDefinition) {
  // Every subset, the empty one included, of trees up to 14 leaves; above
  // that random subsets (all 2^20 subsets of a 20-leaf tree take seconds).
  for (uint64_t n = 1; n <= 14; ++n) {
    const std::vector<Hash> leaves = Leaves(n);
    InMemoryTree tree(leaves);
    for (uint64_t mask = 0; mask < (uint64_t{1} << n); ++mask) {
      std::vector<uint64_t> set;
      for (uint64_t i = 0; i < n; ++i) {
        if (mask & (uint64_t{1} << i)) set.push_back(i);
      }
      ASSERT_TRUE(CheckSet(tree, leaves, set))
          << "size " << n << " mask " << mask;
    }
  }
}

TEST(MultiProofTest, RandomSubsetsOfLargerTreesMatchTheDefinition) {
  std::mt19937_64 rng(12);
  for (uint64_t n : {15, 16, 17, 19, 20, 31, 64, 100, 257, 1000}) {
    const std::vector<Hash> leaves = Leaves(n);
    InMemoryTree tree(leaves);
    for (int round = 0; round < 40; ++round) {
      // Sparse sets, dense sets, and everything between.
      const double density = (round % 8 + 1) / 8.0 * (round < 20 ? 0.1 : 1.0);
      std::bernoulli_distribution pick(density);
      std::vector<uint64_t> set;
      for (uint64_t i = 0; i < n; ++i) {
        if (pick(rng)) set.push_back(i);
      }
      ASSERT_TRUE(CheckSet(tree, leaves, set)) << "size " << n;
    }
  }
}

TEST(MultiProofTest, TamperedProofsAreRejected) {
  const std::vector<Hash> leaves = Leaves(37);
  InMemoryTree tree(leaves);
  const std::vector<uint64_t> set = {3, 4, 20, 36};
  const Hash root = NaiveMth(leaves, 0, 37);
  std::vector<Hash> proof = *MultiInclusionProof(tree, set, 37);
  const std::vector<Hash> hashes = HashesOf(leaves, set);
  ASSERT_EQ(*RootFromMultiInclusionProof(set, hashes, 37, proof), root);

  for (size_t k = 0; k < proof.size(); ++k) {
    std::vector<Hash> changed = proof;
    changed[k][5] ^= 1;
    EXPECT_NE(*RootFromMultiInclusionProof(set, hashes, 37, changed), root);
  }
  std::vector<Hash> shorter(proof.begin(), proof.end() - 1);
  absl::StatusOr<Hash> r =
      RootFromMultiInclusionProof(set, hashes, 37, shorter);
  EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
  EXPECT_THAT(r.status().message(), HasSubstr("too few hashes"));
  std::vector<Hash> longer = proof;
  longer.push_back(proof[0]);
  r = RootFromMultiInclusionProof(set, hashes, 37, longer);
  EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
  EXPECT_THAT(r.status().message(),
              HasSubstr(StrCat("must have ", proof.size(), " hashes, got ",
                               proof.size() + 1)));
  // Two leaves' hashes swapped, a leaf claimed at another index, another
  // tree size: the root differs or the proof does not fit.
  std::vector<Hash> swapped = hashes;
  std::swap(swapped[0], swapped[1]);
  EXPECT_NE(*RootFromMultiInclusionProof(set, swapped, 37, proof), root);
  const std::vector<uint64_t> moved = {3, 5, 20, 36};
  r = RootFromMultiInclusionProof(moved, hashes, 37, proof);
  EXPECT_TRUE(!r.ok() || *r != root);
  r = RootFromMultiInclusionProof(set, hashes, 38, proof);
  EXPECT_TRUE(!r.ok() || *r != root);
}

TEST(MultiProofTest, BadLeafSetsAreInvalidArgument) {
  InMemoryTree tree(Leaves(8));
  for (const std::vector<uint64_t>& set :
       std::vector<std::vector<uint64_t>>{{3, 3}, {4, 2}, {8}, {1, 9}}) {
    absl::StatusOr<std::vector<Hash>> p = MultiInclusionProof(tree, set, 8);
    EXPECT_TRUE(absl::IsInvalidArgument(p.status())) << p.status();
    std::vector<Hash> hashes(set.size());
    EXPECT_TRUE(absl::IsInvalidArgument(
        RootFromMultiInclusionProof(set, hashes, 8, {}).status()));
  }
  Hash h{};
  EXPECT_THAT(RootFromMultiInclusionProof({1}, {}, 8, {h}).status().message(),
              HasSubstr("1 leaf indexes but 0 leaf hashes"));
  // The empty tree: no leaves, no hashes, the empty root.
  InMemoryTree empty;
  EXPECT_TRUE(MultiInclusionProof(empty, {}, 0)->empty());
  EXPECT_EQ(*RootFromMultiInclusionProof({}, {}, 0, {}), crypto::EmptyRoot());
  EXPECT_FALSE(RootFromMultiInclusionProof({}, {}, 0, {h}).ok());
}

// Counts what a proof reads from the stored tree.
class CountingReader : public NodeReader {
 public:
  explicit CountingReader(NodeReader& inner) : inner_(inner) {}
  absl::Status ReadNodes(absl::Span<const NodeId> ids,
                         std::vector<Hash>* out) override {
    ++calls;
    read.insert(read.end(), ids.begin(), ids.end());
    return inner_.ReadNodes(ids, out);
  }
  int calls = 0;
  std::vector<NodeId> read;

 private:
  NodeReader& inner_;
};

// A subtree without a proven leaf is one stored node (or, on the right
// edge, its maximal perfect subtrees), never recomputed from its leaves,
// and everything is read in one call.
TEST(MultiProofTest, ReadsStoredSubtreeRootsInOneCall) {
  InMemoryTree tree(Leaves(1024));
  CountingReader reader(tree);
  ASSERT_TRUE(MultiInclusionProof(reader, {0, 1023}, 1024).ok());
  EXPECT_EQ(reader.calls, 1);
  // Leaf 0's siblings at levels 0..8 and leaf 1023's at levels 0..8; the
  // level-9 halves each hold a proven leaf.
  ASSERT_EQ(reader.read.size(), 18u);
  for (int l = 0; l < 9; ++l) {
    EXPECT_EQ(reader.read[l], (NodeId{static_cast<uint8_t>(l), 1}));
  }

  InMemoryTree partial(Leaves(1000));
  CountingReader reader2(partial);
  ASSERT_TRUE(MultiInclusionProof(reader2, {0}, 1000).ok());
  EXPECT_EQ(reader2.calls, 1);
  // Levels 0..8 left subtrees of [0, 512), then [512, 1000) as its
  // perfect subtrees 256 + 128 + 64 + 32 + 8: 14 nodes, no leaf above 0.
  EXPECT_EQ(reader2.read.size(), 9u + 5u);
  for (const NodeId& id : reader2.read) {
    EXPECT_FALSE(id.level == 0 && id.index > 1)
        << int{id.level} << " " << id.index;
  }
}

}  // namespace
}  // namespace ledger
