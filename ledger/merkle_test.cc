#include "ledger/merkle.h"

#include <bit>
#include <map>
#include <ostream>
#include <string>
#include <utility>

#include "crypto/rfc6962.h"
#include "gtest/gtest.h"

namespace ledger {

void PrintTo(const NodeId& id, std::ostream* os) {
  *os << "(" << int{id.level} << ", " << id.index << ")";
}

namespace {

using crypto::EmptyRoot;
using crypto::HashChildren;
using crypto::HashLeaf;
using Code = absl::StatusCode;

constexpr uint64_t kLeaves = 300;

Hash H(std::string_view hex) {
  return *crypto::ToArray<32>(*crypto::HexDecode(hex), "hash");
}

// RFC 6962 section 2.1, written from the recursive definitions over the
// range D[b:e] of one list of leaf hashes. MTH is memoised by range so that
// every proof of every size stays cheap; nothing else is shared with the
// code under test.
class Reference {
 public:
  explicit Reference(std::vector<Hash> leaves) : d_(std::move(leaves)) {}

  // MTH(D[b:e]).
  Hash Mth(uint64_t b, uint64_t e) {
    if (e == b) return EmptyRoot();
    if (e - b == 1) return d_[b];
    auto it = memo_.find({b, e});
    if (it != memo_.end()) return it->second;
    const uint64_t k = K(e - b);
    Hash h = HashChildren(Mth(b, b + k), Mth(b + k, e));
    memo_[{b, e}] = h;
    return h;
  }

  // PATH(m, D[b:e]), m relative to b.
  std::vector<Hash> Path(uint64_t m, uint64_t b, uint64_t e) {
    if (e - b == 1) return {};
    const uint64_t k = K(e - b);
    std::vector<Hash> out;
    if (m < k) {
      out = Path(m, b, b + k);
      out.push_back(Mth(b + k, e));
    } else {
      out = Path(m - k, b + k, e);
      out.push_back(Mth(b, b + k));
    }
    return out;
  }

  // PROOF(m, D[0:n]) for 0 < m < n.
  std::vector<Hash> Proof(uint64_t m, uint64_t n) {
    return Subproof(m, 0, n, true);
  }

 private:
  // The largest power of two smaller than n (n > 1).
  static uint64_t K(uint64_t n) { return std::bit_floor(n - 1); }

  // SUBPROOF(m, D[b:e], flag), m relative to b.
  std::vector<Hash> Subproof(uint64_t m, uint64_t b, uint64_t e, bool flag) {
    if (m == e - b) return flag ? std::vector<Hash>{} : std::vector{Mth(b, e)};
    const uint64_t k = K(e - b);
    std::vector<Hash> out;
    if (m <= k) {
      out = Subproof(m, b, b + k, flag);
      out.push_back(Mth(b + k, e));
    } else {
      out = Subproof(m - k, b + k, e, false);
      out.push_back(Mth(b, b + k));
    }
    return out;
  }

  std::vector<Hash> d_;
  std::map<std::pair<uint64_t, uint64_t>, Hash> memo_;
};

// Forwards to a tree and checks that a query about the first `size` leaves
// reads only nodes complete at that size, O(log size) of them, in one call.
class CheckingReader : public NodeReader {
 public:
  CheckingReader(NodeReader& base, uint64_t size) : base_(base), size_(size) {}
  absl::Status ReadNodes(absl::Span<const NodeId> ids,
                         std::vector<Hash>* out) override {
    ++calls;
    EXPECT_LE(ids.size(), 2u * std::bit_width(size_) + 1) << "size " << size_;
    for (NodeId id : ids) {
      EXPECT_LE((id.index + 1) << id.level, size_)
          << "node (" << int{id.level} << ", " << id.index
          << ") is not complete at size " << size_;
    }
    return base_.ReadNodes(ids, out);
  }
  int calls = 0;

 private:
  NodeReader& base_;
  uint64_t size_;
};

struct World {
  std::vector<Hash> leaves;
  InMemoryTree tree;
  Reference ref{{}};
};

// One 300-leaf tree and its reference, shared by all tests (the memo is
// what keeps the exhaustive tests fast).
World& W() {
  static World* w = [] {
    auto* w = new World;
    for (uint64_t i = 0; i < kLeaves; ++i) {
      w->leaves.push_back(HashLeaf(StrCat("leaf ", i)));
    }
    w->tree = InMemoryTree(w->leaves);
    w->ref = Reference(w->leaves);
    return w;
  }();
  return *w;
}

// ---- known answers: the RFC 6962 test tree. Values as published by
// transparency-dev/merkle (proof/verify_test.go), google/certificate-
// transparency-go and other independent implementations; all agree. ----

// kRfcRoots[n] is the root of the first n leaves.
constexpr std::string_view kRfcRoots[] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};
// Further hashes that occur in the published proofs.
constexpr std::string_view kRfcProofHashes[] = {
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
};

// The published hash whose hex starts with each prefix (a proof is written
// as a list of 4-digit prefixes to keep the tables readable).
std::vector<Hash> Published(std::initializer_list<std::string_view> prefixes) {
  std::vector<Hash> out;
  for (std::string_view prefix : prefixes) {
    for (const auto& table : {absl::MakeConstSpan(kRfcRoots),
                              absl::MakeConstSpan(kRfcProofHashes)}) {
      for (std::string_view hex : table) {
        if (hex.starts_with(prefix)) out.push_back(H(hex));
      }
    }
  }
  EXPECT_EQ(out.size(), prefixes.size());
  return out;
}

std::vector<Hash> RfcLeaves() {
  std::vector<Hash> out;
  for (std::string_view hex :
       {"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
        "606162636465666768696a6b6c6d6e6f"}) {
    out.push_back(HashLeaf(*crypto::HexDecode(hex)));
  }
  return out;
}

TEST(MerkleKnownAnswerTest, RootsOfTheRfcTreeAtEverySize) {
  std::vector<Hash> leaves = RfcLeaves();
  InMemoryTree tree;
  Reference ref(leaves);
  for (uint64_t n = 0; n <= 8; ++n) {
    if (n > 0) tree.Append(leaves[n - 1]);
    const Hash want = H(kRfcRoots[n]);
    EXPECT_EQ(*RootAt(tree, n), want) << n;
    EXPECT_EQ(tree.Root(), want) << n;
    EXPECT_EQ(ref.Mth(0, n), want) << n;
  }
}

TEST(MerkleKnownAnswerTest, ProofsOfTheRfcTree) {
  std::vector<Hash> leaves = RfcLeaves();
  InMemoryTree tree(leaves);
  const struct {
    uint64_t index, size;
    std::vector<Hash> proof;
  } inclusion[] = {
      {0, 1, {}},
      {0, 8, Published({"96a2", "5f08", "6b47"})},
      {5, 8, Published({"bc1a", "ca85", "d37e"})},
      {2, 3, Published({"fac5"})},
      {1, 5, Published({"6e34", "5f08", "bc1a"})},
  };
  for (const auto& c : inclusion) {
    EXPECT_EQ(*InclusionProof(tree, c.index, c.size), c.proof) << c.index;
    EXPECT_TRUE(VerifyInclusion(leaves[c.index], c.index, c.size, c.proof,
                                H(kRfcRoots[c.size]))
                    .ok());
  }
  const struct {
    uint64_t m, n;
    std::vector<Hash> proof;
  } consistency[] = {
      {1, 1, {}},
      {1, 8, Published({"96a2", "5f08", "6b47"})},
      {6, 8, Published({"0ebc", "ca85", "d37e"})},
      {2, 5, Published({"5f08", "bc1a"})},
      {6, 7, Published({"0ebc", "b086", "d37e"})},
  };
  for (const auto& c : consistency) {
    EXPECT_EQ(*ConsistencyProof(tree, c.m, c.n), c.proof) << c.m << " " << c.n;
    EXPECT_TRUE(VerifyConsistency(c.m, c.n, c.proof, H(kRfcRoots[c.m]),
                                  H(kRfcRoots[c.n]))
                    .ok());
  }
}

// ---- exhaustive comparison with the reference ----

TEST(MerklePropertyTest, RootAtEverySizeMatchesReference) {
  World& w = W();
  InMemoryTree grown;
  CompactRange range;
  for (uint64_t n = 0; n <= kLeaves; ++n) {
    if (n > 0) {
      grown.Append(w.leaves[n - 1]);
      range.Append(w.leaves[n - 1]);
    }
    CheckingReader reader(w.tree, n);
    absl::StatusOr<Hash> root = RootAt(reader, n);
    ASSERT_TRUE(root.ok()) << root.status();
    const Hash want = w.ref.Mth(0, n);
    EXPECT_EQ(*root, want) << n;
    EXPECT_EQ(reader.calls, n == 0 ? 0 : 1);
    EXPECT_EQ(grown.Root(), want) << n;
    EXPECT_EQ(range.Root(), want) << n;
  }
  EXPECT_EQ(w.tree.Root(), w.ref.Mth(0, kLeaves));
}

TEST(MerklePropertyTest, EveryInclusionProofMatchesReferenceAndVerifies) {
  World& w = W();
  for (uint64_t n = 1; n <= kLeaves; ++n) {
    const Hash root = w.ref.Mth(0, n);
    for (uint64_t i = 0; i < n; ++i) {
      CheckingReader reader(w.tree, n);
      absl::StatusOr<std::vector<Hash>> proof = InclusionProof(reader, i, n);
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_EQ(*proof, w.ref.Path(i, 0, n)) << "leaf " << i << " size " << n;
      ASSERT_EQ(reader.calls, proof->empty() ? 0 : 1);
      absl::Status s = VerifyInclusion(w.leaves[i], i, n, *proof, root);
      ASSERT_TRUE(s.ok()) << s << " leaf " << i << " size " << n;
    }
  }
}

TEST(MerklePropertyTest, EveryConsistencyProofMatchesReferenceAndVerifies) {
  World& w = W();
  for (uint64_t n = 0; n <= kLeaves; ++n) {
    const Hash new_root = w.ref.Mth(0, n);
    for (uint64_t m = 0; m <= n; ++m) {
      CheckingReader reader(w.tree, n);
      absl::StatusOr<std::vector<Hash>> proof = ConsistencyProof(reader, m, n);
      ASSERT_TRUE(proof.ok()) << proof.status();
      const bool trivial = m == 0 || m == n;
      ASSERT_EQ(*proof, trivial ? std::vector<Hash>{} : w.ref.Proof(m, n))
          << "sizes " << m << " " << n;
      ASSERT_EQ(reader.calls, trivial ? 0 : 1);
      absl::Status s =
          VerifyConsistency(m, n, *proof, w.ref.Mth(0, m), new_root);
      ASSERT_TRUE(s.ok()) << s << " sizes " << m << " " << n;
    }
  }
}

// ---- compact range and in-memory tree ----

TEST(CompactRangeTest, AppendVisitsTheLeafAndEveryNodeItCompletes) {
  World& w = W();
  CompactRange range;
  for (uint64_t s = 0; s < kLeaves; ++s) {
    std::vector<NodeId> visited;
    range.Append(w.leaves[s], [&](NodeId id, const Hash& h) {
      visited.push_back(id);
      EXPECT_EQ(h, w.ref.Mth(id.index << id.level, (id.index + 1) << id.level));
    });
    // Leaf s completes exactly the nodes that end at leaf s + 1.
    std::vector<NodeId> want;
    for (int l = 0; l <= std::countr_zero(s + 1); ++l) {
      want.push_back(NodeId{uint8_t(l), ((s + 1) >> l) - 1});
    }
    EXPECT_EQ(visited, want) << "leaf " << s;
    EXPECT_EQ(range.size(), s + 1);
    std::vector<Hash> edge;
    ASSERT_TRUE(w.tree.ReadNodes(CompactRange::RightEdge(s + 1), &edge).ok());
    EXPECT_EQ(range.hashes(), edge);
  }
}

TEST(CompactRangeTest, FromHashesRoundTripsAndKeepsAppending) {
  World& w = W();
  for (uint64_t n = 0; n < kLeaves; ++n) {
    std::vector<Hash> edge;
    ASSERT_TRUE(w.tree.ReadNodes(CompactRange::RightEdge(n), &edge).ok());
    absl::StatusOr<CompactRange> range = CompactRange::FromHashes(n, edge);
    ASSERT_TRUE(range.ok()) << range.status();
    EXPECT_EQ(range->Root(), w.ref.Mth(0, n));
    range->Append(w.leaves[n]);
    EXPECT_EQ(range->Root(), w.ref.Mth(0, n + 1));
  }
  EXPECT_EQ(CompactRange::FromHashes(5, {Hash{}}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(CompactRange::FromHashes(0, {Hash{}}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(CompactRange().Root(), EmptyRoot());
}

TEST(CompactRangeTest, RightEdgeListsMaximalSubtreesLeftToRight) {
  EXPECT_TRUE(CompactRange::RightEdge(0).empty());
  EXPECT_EQ(CompactRange::RightEdge(13),
            (std::vector<NodeId>{{3, 0}, {2, 2}, {0, 12}}));
  EXPECT_EQ(CompactRange::RightEdge(16), (std::vector<NodeId>{{4, 0}}));
  EXPECT_EQ(CompactRange::RightEdge(~uint64_t{0}).size(), 64u);
}

TEST(InMemoryTreeTest, ReadNodesRejectsIncompleteNodes) {
  World& w = W();
  InMemoryTree tree(absl::MakeSpan(w.leaves).subspan(0, 5));
  EXPECT_EQ(tree.size(), 5u);
  std::vector<Hash> out;
  ASSERT_TRUE(tree.ReadNodes({{2, 0}, {0, 4}, {1, 1}}, &out).ok());
  EXPECT_EQ(out,
            (std::vector<Hash>{w.ref.Mth(0, 4), w.leaves[4], w.ref.Mth(2, 4)}));
  for (NodeId bad : {NodeId{1, 2}, NodeId{0, 5}, NodeId{3, 0}, NodeId{9, 0}}) {
    absl::Status s = tree.ReadNodes({{0, 0}, bad}, &out);
    EXPECT_EQ(s.code(), Code::kOutOfRange) << s;
  }
  EXPECT_EQ(InMemoryTree().size(), 0u);
  EXPECT_EQ(InMemoryTree().Root(), EmptyRoot());
}

}  // namespace
}  // namespace ledger
