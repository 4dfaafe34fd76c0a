// Negative tests of Merkle proof verification and generation: every way to
// break a valid proof must fail, with the documented code. (The positive,
// exhaustive tests against the RFC 6962 reference are in merkle_test.cc.)

#include <string>
#include <vector>

#include "crypto/rfc6962.h"
#include "gtest/gtest.h"
#include "ledger/merkle.h"

namespace ledger {
namespace {

using crypto::EmptyRoot;
using Code = absl::StatusCode;

constexpr uint64_t kLeaves = 70;

class FailingReader : public NodeReader {
 public:
  explicit FailingReader(absl::Status status, size_t count = 0)
      : status_(std::move(status)), count_(count) {}
  absl::Status ReadNodes(absl::Span<const NodeId>,
                         std::vector<Hash>* out) override {
    out->assign(count_, Hash{});
    return status_;
  }

 private:
  absl::Status status_;
  size_t count_;
};

class MerkleVerifyTest : public ::testing::Test {
 protected:
  MerkleVerifyTest() {
    for (uint64_t i = 0; i < kLeaves; ++i) {
      leaves_.push_back(crypto::HashLeaf(StrCat("leaf ", i)));
      tree_.Append(leaves_.back());
      roots_.push_back(tree_.Root());  // roots_[n - 1]: root of size n
    }
  }
  const Hash& Root(uint64_t size) { return roots_[size - 1]; }

  std::vector<Hash> leaves_;
  std::vector<Hash> roots_;
  InMemoryTree tree_;
};

TEST_F(MerkleVerifyTest, TamperedInclusionProofsFail) {
  for (uint64_t n = 1; n <= kLeaves; ++n) {
    const Hash& root = Root(n);
    for (uint64_t i = 0; i < n; ++i) {
      const std::vector<Hash> proof = *InclusionProof(tree_, i, n);
      const Hash& leaf = leaves_[i];
      ASSERT_TRUE(VerifyInclusion(leaf, i, n, proof, root).ok());
      for (size_t k = 0; k < proof.size(); ++k) {
        for (int bit : {0, 131, 255}) {
          std::vector<Hash> bad = proof;
          bad[k][bit / 8] ^= uint8_t(1 << (bit % 8));
          EXPECT_EQ(VerifyInclusion(leaf, i, n, bad, root).code(),
                    Code::kDataLoss);
        }
      }
      Hash other_leaf = leaf;
      other_leaf[7] ^= 1;
      EXPECT_FALSE(VerifyInclusion(other_leaf, i, n, proof, root).ok());
      if (i + 1 < n) {
        EXPECT_FALSE(VerifyInclusion(leaf, i + 1, n, proof, root).ok());
      }
      if (i > 0) {
        EXPECT_FALSE(VerifyInclusion(leaf, i - 1, n, proof, root).ok());
      }
      // (A neighbouring size can share the proof shape and root; sizes a
      // level apart cannot.)
      EXPECT_FALSE(VerifyInclusion(leaf, i, 2 * n, proof, root).ok());
      if (i < n / 2) {
        EXPECT_FALSE(VerifyInclusion(leaf, i, n / 2, proof, root).ok());
      }
      std::vector<Hash> longer = proof;
      longer.push_back(root);
      EXPECT_EQ(VerifyInclusion(leaf, i, n, longer, root).code(),
                Code::kInvalidArgument);
      if (!proof.empty()) {
        std::vector<Hash> shorter(proof.begin(), proof.end() - 1);
        EXPECT_EQ(VerifyInclusion(leaf, i, n, shorter, root).code(),
                  Code::kInvalidArgument);
      }
    }
  }
}

TEST_F(MerkleVerifyTest, InclusionErrorsSayWhatIsWrong) {
  std::vector<Hash> proof = *InclusionProof(tree_, 5, 13);
  proof.pop_back();
  absl::Status s = VerifyInclusion(leaves_[5], 5, 13, proof, Root(13));
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("must have 4 hashes, got 3"), s.message().npos)
      << s;
  s = VerifyInclusion(leaves_[5], 13, 13, {}, Root(13));
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("13 is not below tree size 13"), s.message().npos)
      << s;
  EXPECT_EQ(RootFromInclusionProof(leaves_[0], 0, 0, {}).status().code(),
            Code::kInvalidArgument);
  s = VerifyInclusion(leaves_[0], 0, 1, {}, leaves_[1]);
  EXPECT_EQ(s.code(), Code::kDataLoss);
  EXPECT_NE(s.message().find(crypto::HexEncode(leaves_[1])), s.message().npos);
  EXPECT_EQ(*RootFromInclusionProof(leaves_[0], 0, 1, {}), leaves_[0]);
}

TEST_F(MerkleVerifyTest, TamperedConsistencyProofsFail) {
  for (uint64_t n = 2; n <= kLeaves; ++n) {
    const Hash& new_root = Root(n);
    for (uint64_t m = 1; m < n; ++m) {
      const Hash& old_root = Root(m);
      const std::vector<Hash> proof = *ConsistencyProof(tree_, m, n);
      ASSERT_TRUE(VerifyConsistency(m, n, proof, old_root, new_root).ok());
      for (size_t k = 0; k < proof.size(); ++k) {
        std::vector<Hash> bad = proof;
        bad[k][k % 32] ^= 0x10;
        EXPECT_EQ(VerifyConsistency(m, n, bad, old_root, new_root).code(),
                  Code::kDataLoss)
            << m << " " << n << " " << k;
      }
      EXPECT_FALSE(VerifyConsistency(m, n, proof, new_root, old_root).ok());
      EXPECT_FALSE(VerifyConsistency(m + 1, n, proof, old_root, new_root).ok());
      EXPECT_FALSE(VerifyConsistency(m - 1, n, proof, old_root, new_root).ok());
      EXPECT_FALSE(VerifyConsistency(m, 2 * n, proof, old_root, new_root).ok());
      if (m < n / 2) {
        EXPECT_FALSE(
            VerifyConsistency(m, n / 2, proof, old_root, new_root).ok());
      }
      EXPECT_EQ(VerifyConsistency(m, n, {}, old_root, new_root).code(),
                Code::kInvalidArgument);
      std::vector<Hash> longer = proof;
      longer.push_back(new_root);
      EXPECT_EQ(VerifyConsistency(m, n, longer, old_root, new_root).code(),
                Code::kInvalidArgument);
      std::vector<Hash> shorter(proof.begin(), proof.end() - 1);
      EXPECT_EQ(VerifyConsistency(m, n, shorter, old_root, new_root).code(),
                Code::kInvalidArgument);
    }
  }
  absl::Status s = VerifyConsistency(6, 13, {}, Root(6), Root(13));
  EXPECT_NE(s.message().find("must have 4 hashes, got 0"), s.message().npos)
      << s;
}

TEST_F(MerkleVerifyTest, ConsistencyFromZeroOrToTheSameSizeIsEmpty) {
  const Hash& r5 = Root(5);
  const Hash& r6 = Root(6);
  EXPECT_TRUE(VerifyConsistency(0, 0, {}, EmptyRoot(), EmptyRoot()).ok());
  EXPECT_TRUE(VerifyConsistency(0, 6, {}, EmptyRoot(), r6).ok());
  EXPECT_TRUE(VerifyConsistency(5, 5, {}, r5, r5).ok());
  EXPECT_EQ(VerifyConsistency(0, 6, {}, r5, r6).code(), Code::kDataLoss);
  EXPECT_EQ(VerifyConsistency(5, 5, {}, r5, r6).code(), Code::kDataLoss);
  EXPECT_EQ(VerifyConsistency(5, 5, {r5}, r5, r5).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(VerifyConsistency(0, 6, {r5}, EmptyRoot(), r6).code(),
            Code::kInvalidArgument);
  absl::Status s = VerifyConsistency(6, 5, {}, r6, r5);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("old size 6 is larger than new size 5"),
            s.message().npos);
}

TEST_F(MerkleVerifyTest, GenerationRejectsBadArgumentsAndPassesOnReaderErrors) {
  EXPECT_EQ(InclusionProof(tree_, 5, 5).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(ConsistencyProof(tree_, 6, 5).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(RootAt(tree_, kLeaves + 1).status().code(), Code::kOutOfRange);
  EXPECT_EQ(InclusionProof(tree_, 3, kLeaves + 1).status().code(),
            Code::kOutOfRange);
  EXPECT_EQ(ConsistencyProof(tree_, 3, kLeaves + 1).status().code(),
            Code::kOutOfRange);
  FailingReader broken(absl::DataLossError("bad tile"));
  absl::Status s = InclusionProof(broken, 3, 10).status();
  EXPECT_EQ(s.code(), Code::kDataLoss);
  EXPECT_NE(s.message().find("bad tile"), s.message().npos);
  FailingReader short_reader(absl::OkStatus(), 1);
  EXPECT_EQ(RootAt(short_reader, 7).status().code(), Code::kInternal);
}

}  // namespace
}  // namespace ledger
