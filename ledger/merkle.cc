#include "ledger/merkle.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <string>

#include "base/check.h"
#include "base/strings.h"
#include "crypto/rfc6962.h"

namespace ledger {
namespace {

using crypto::HashChildren;

std::string NodeName(NodeId id) {
  return StrCat("node (level ", id.level, ", index ", id.index, ")");
}

// A proof (or root) computation: the complete nodes to read, grouped into
// elements. Each element is the root of a run of consecutive perfect
// subtrees (a single complete node is a run of one), folded right to left.
class ReadPlan {
 public:
  void AddNode(NodeId id) {
    ids_.push_back(id);
    ends_.push_back(ids_.size());
  }

  // Adds one element: the root of leaves [begin, end), 0 < end - begin,
  // decomposed into maximal perfect subtrees left to right.
  void AddRange(uint64_t begin, uint64_t end) {
    while (begin < end) {
      int level = std::bit_width(end - begin) - 1;
      if (begin != 0) level = std::min(level, std::countr_zero(begin));
      ids_.push_back(NodeId{static_cast<uint8_t>(level), begin >> level});
      begin += uint64_t{1} << level;
    }
    ends_.push_back(ids_.size());
  }

  // Issues one ReadNodes call for every node of the plan (none if the plan
  // is empty) and folds each element.
  absl::StatusOr<std::vector<Hash>> Execute(NodeReader& reader) const {
    std::vector<Hash> out;
    if (ids_.empty()) return out;
    std::vector<Hash> hashes;
    if (absl::Status s = reader.ReadNodes(ids_, &hashes); !s.ok()) return s;
    if (hashes.size() != ids_.size()) {
      return absl::InternalError(StrCat("node reader returned ", hashes.size(),
                                        " hashes for ", ids_.size(), " nodes"));
    }
    out.reserve(ends_.size());
    size_t begin = 0;
    for (size_t end : ends_) {
      Hash h = hashes[end - 1];
      for (size_t k = end - 1; k > begin; --k) {
        h = HashChildren(hashes[k - 1], h);
      }
      out.push_back(h);
      begin = end;
    }
    return out;
  }

  // Appends the audit path of the node at `level` above leaf `leaf` in the
  // tree of `size` leaves: one element per level, bottom up. A right
  // sibling on the right edge may be incomplete; it is then the root of the
  // range [sibling start, size). Nodes on the right edge with no sibling
  // are carried up unchanged and contribute nothing (RFC 9162 2.1.3.1).
  void AddPath(uint64_t leaf, uint64_t size, int level) {
    for (int l = level; l < 64 && ((size - 1) >> l) > 0; ++l) {
      const uint8_t l8 = static_cast<uint8_t>(l);
      const uint64_t index = leaf >> l;
      const uint64_t last = (size - 1) >> l;
      if (index == last) {
        if (index & 1) AddNode(NodeId{l8, index - 1});
        continue;
      }
      const uint64_t sibling = index ^ 1;
      if (sibling < last) {
        AddNode(NodeId{l8, sibling});  // left, or right and complete
      } else {
        AddRange(sibling << l, size);  // right edge, maybe incomplete
      }
    }
  }

 private:
  std::vector<NodeId> ids_;
  std::vector<size_t> ends_;  // element k is ids_[ends_[k - 1], ends_[k])
};

// The number of hashes in an inclusion path from `level` for leaf `leaf` in
// a tree of `size` leaves: one per level below the point where the path
// joins the right edge, then one per left sibling on the edge.
size_t PathLength(uint64_t leaf, uint64_t size, int level) {
  const int inner = std::bit_width(leaf ^ (size - 1));
  const int edge = std::max(inner, level);  // first level on the right edge
  return static_cast<size_t>(edge - level) +
         static_cast<size_t>(std::popcount(edge < 64 ? leaf >> edge : 0));
}

// For 0 < old_size < new_size: the smallest right-edge node of the old tree
// (level = ctz(old_size)), unless it is the whole old tree, then its path in
// the new tree.
size_t ConsistencyProofLength(uint64_t old_size, uint64_t new_size) {
  const int level = std::countr_zero(old_size);
  const bool seed = !std::has_single_bit(old_size);
  return (seed ? 1 : 0) + PathLength(old_size - 1, new_size, level);
}

std::string Hex(const Hash& h) { return crypto::HexEncode(h); }

}  // namespace

size_t InclusionProofLength(uint64_t index, uint64_t size) {
  return PathLength(index, size, 0);
}

absl::StatusOr<Hash> RootAt(NodeReader& reader, uint64_t size) {
  if (size == 0) return crypto::EmptyRoot();
  ReadPlan plan;
  plan.AddRange(0, size);
  absl::StatusOr<std::vector<Hash>> root = plan.Execute(reader);
  if (!root.ok()) {
    return Annotate(root.status(), StrCat("root of tree size ", size));
  }
  return root->front();
}

absl::StatusOr<std::vector<Hash>> InclusionProof(NodeReader& reader,
                                                 uint64_t index,
                                                 uint64_t size) {
  if (index >= size) {
    return absl::InvalidArgumentError(StrCat("inclusion proof: leaf index ",
                                             index, " is not below tree size ",
                                             size));
  }
  ReadPlan plan;
  plan.AddPath(index, size, 0);
  absl::StatusOr<std::vector<Hash>> proof = plan.Execute(reader);
  if (!proof.ok()) {
    return Annotate(proof.status(), StrCat("inclusion proof for leaf ", index,
                                           " in tree size ", size));
  }
  return proof;
}

absl::StatusOr<std::vector<Hash>> ConsistencyProof(NodeReader& reader,
                                                   uint64_t old_size,
                                                   uint64_t new_size) {
  if (old_size > new_size) {
    return absl::InvalidArgumentError(
        StrCat("consistency proof: old size ", old_size,
               " is larger than new size ", new_size));
  }
  if (old_size == 0 || old_size == new_size) return std::vector<Hash>{};
  const int level = std::countr_zero(old_size);
  ReadPlan plan;
  if (!std::has_single_bit(old_size)) {
    plan.AddNode(NodeId{static_cast<uint8_t>(level), (old_size >> level) - 1});
  }
  plan.AddPath(old_size - 1, new_size, level);
  absl::StatusOr<std::vector<Hash>> proof = plan.Execute(reader);
  if (!proof.ok()) {
    return Annotate(proof.status(), StrCat("consistency proof from size ",
                                           old_size, " to ", new_size));
  }
  return proof;
}

namespace {

// InvalidArgument unless `indexes` is strictly increasing and below `size`.
absl::Status CheckLeafSet(absl::Span<const uint64_t> indexes, uint64_t size) {
  for (size_t k = 0; k < indexes.size(); ++k) {
    if (indexes[k] >= size) {
      return absl::InvalidArgumentError(
          StrCat("multi-leaf inclusion proof: leaf index ", indexes[k],
                 " is not below tree size ", size));
    }
    if (k > 0 && indexes[k] <= indexes[k - 1]) {
      return absl::InvalidArgumentError(
          StrCat("multi-leaf inclusion proof: leaf indexes must increase, "
                 "got ",
                 indexes[k - 1], " then ", indexes[k]));
    }
  }
  return absl::OkStatus();
}

// The largest power of two below n (n >= 2): the size of the left subtree
// of a tree of n leaves (RFC 6962 section 2.1).
uint64_t LeftSubtreeSize(uint64_t n) { return std::bit_floor(n - 1); }

// The first position in `leaves` (sorted) whose index is >= `bound`.
size_t SplitAt(absl::Span<const uint64_t> leaves, uint64_t bound) {
  return static_cast<size_t>(
      std::lower_bound(leaves.begin(), leaves.end(), bound) - leaves.begin());
}

// Calls `on_hash(begin, end)` for every subtree [begin, end) of the
// recursion over [lo, hi) that holds none of `leaves` (all within
// [lo, hi)), left to right. Recursion depth is at most 64.
template <typename OnHash>
void VisitMultiProof(uint64_t lo, uint64_t hi,
                     absl::Span<const uint64_t> leaves, OnHash& on_hash) {
  if (leaves.empty()) {
    on_hash(lo, hi);
    return;
  }
  if (hi - lo == 1) return;  // the leaf itself: the verifier hashes it
  const uint64_t mid = lo + LeftSubtreeSize(hi - lo);
  const size_t split = SplitAt(leaves, mid);
  VisitMultiProof(lo, mid, leaves.subspan(0, split), on_hash);
  VisitMultiProof(mid, hi, leaves.subspan(split), on_hash);
}

// The verifier's side of VisitMultiProof: the root of [lo, hi) from the
// hashes of `leaves` (leaf_hashes in step) and the proof from *next on.
absl::StatusOr<Hash> MultiProofRoot(uint64_t lo, uint64_t hi,
                                    absl::Span<const uint64_t> leaves,
                                    absl::Span<const Hash> leaf_hashes,
                                    absl::Span<const Hash> proof,
                                    size_t* next) {
  if (leaves.empty()) {
    if (*next >= proof.size()) {
      return absl::InvalidArgumentError(StrCat(
          "multi-leaf inclusion proof has too few hashes: ", proof.size(),
          " run out at the subtree of leaves [", lo, ", ", hi, ")"));
    }
    return proof[(*next)++];
  }
  if (hi - lo == 1) return leaf_hashes.front();
  const uint64_t mid = lo + LeftSubtreeSize(hi - lo);
  const size_t split = SplitAt(leaves, mid);
  absl::StatusOr<Hash> left =
      MultiProofRoot(lo, mid, leaves.subspan(0, split),
                     leaf_hashes.subspan(0, split), proof, next);
  if (!left.ok()) return left.status();
  absl::StatusOr<Hash> right = MultiProofRoot(
      mid, hi, leaves.subspan(split), leaf_hashes.subspan(split), proof, next);
  if (!right.ok()) return right.status();
  return HashChildren(*left, *right);
}

}  // namespace

absl::StatusOr<std::vector<Hash>> MultiInclusionProof(
    NodeReader& reader, absl::Span<const uint64_t> indexes, uint64_t size) {
  if (absl::Status s = CheckLeafSet(indexes, size); !s.ok()) return s;
  if (size == 0) return std::vector<Hash>{};
  ReadPlan plan;
  auto add = [&](uint64_t begin, uint64_t end) { plan.AddRange(begin, end); };
  VisitMultiProof(0, size, indexes, add);
  absl::StatusOr<std::vector<Hash>> proof = plan.Execute(reader);
  if (!proof.ok()) {
    return Annotate(proof.status(),
                    StrCat("multi-leaf inclusion proof for ", indexes.size(),
                           " leaves in tree size ", size));
  }
  return proof;
}

size_t MultiInclusionProofLength(absl::Span<const uint64_t> indexes,
                                 uint64_t size) {
  if (size == 0) return 0;
  size_t count = 0;
  auto add = [&](uint64_t, uint64_t) { ++count; };
  VisitMultiProof(0, size, indexes, add);
  return count;
}

absl::StatusOr<Hash> RootFromMultiInclusionProof(
    absl::Span<const uint64_t> indexes, absl::Span<const Hash> leaf_hashes,
    uint64_t size, absl::Span<const Hash> proof) {
  if (absl::Status s = CheckLeafSet(indexes, size); !s.ok()) return s;
  if (indexes.size() != leaf_hashes.size()) {
    return absl::InvalidArgumentError(
        StrCat("multi-leaf inclusion proof: ", indexes.size(),
               " leaf indexes but ", leaf_hashes.size(), " leaf hashes"));
  }
  if (size == 0) {
    if (!proof.empty()) {
      return absl::InvalidArgumentError(
          StrCat("multi-leaf inclusion proof in the empty tree must have no "
                 "hashes, got ",
                 proof.size()));
    }
    return crypto::EmptyRoot();
  }
  size_t next = 0;
  absl::StatusOr<Hash> root =
      MultiProofRoot(0, size, indexes, leaf_hashes, proof, &next);
  if (!root.ok()) return root.status();
  if (next != proof.size()) {
    return absl::InvalidArgumentError(
        StrCat("multi-leaf inclusion proof for ", indexes.size(),
               " leaves in tree size ", size, " must have ", next,
               " hashes, got ", proof.size()));
  }
  return root;
}

absl::StatusOr<Hash> RootFromInclusionProof(const Hash& leaf_hash,
                                            uint64_t index, uint64_t size,
                                            absl::Span<const Hash> proof) {
  if (index >= size) {
    return absl::InvalidArgumentError(StrCat("inclusion proof: leaf index ",
                                             index, " is not below tree size ",
                                             size));
  }
  const size_t want = InclusionProofLength(index, size);
  if (proof.size() != want) {
    return absl::InvalidArgumentError(
        StrCat("inclusion proof for leaf ", index, " in tree size ", size,
               " must have ", want, " hashes, got ", proof.size()));
  }
  // RFC 9162 section 2.1.3.2, steps 2-5. The length check above makes the
  // "sn is 0" failures unreachable; they stay as a guard.
  uint64_t fn = index;
  uint64_t sn = size - 1;
  Hash r = leaf_hash;
  for (const Hash& p : proof) {
    if (sn == 0) break;
    if ((fn & 1) || fn == sn) {
      r = HashChildren(p, r);
      while (!(fn & 1) && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = HashChildren(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return absl::InvalidArgumentError(StrCat("inclusion proof for leaf ", index,
                                             " in tree size ", size,
                                             " does not reach the root"));
  }
  return r;
}

absl::Status VerifyInclusion(const Hash& leaf_hash, uint64_t index,
                             uint64_t size, absl::Span<const Hash> proof,
                             const Hash& root) {
  absl::StatusOr<Hash> got =
      RootFromInclusionProof(leaf_hash, index, size, proof);
  if (!got.ok()) return got.status();
  if (*got != root) {
    return absl::DataLossError(StrCat("inclusion proof for leaf ", index,
                                      " in tree size ", size, " leads to root ",
                                      Hex(*got), ", expected ", Hex(root)));
  }
  return absl::OkStatus();
}

absl::Status VerifyConsistency(uint64_t old_size, uint64_t new_size,
                               absl::Span<const Hash> proof,
                               const Hash& old_root, const Hash& new_root) {
  if (old_size > new_size) {
    return absl::InvalidArgumentError(
        StrCat("consistency proof: old size ", old_size,
               " is larger than new size ", new_size));
  }
  if (old_size == 0 || old_size == new_size) {
    if (!proof.empty()) {
      return absl::InvalidArgumentError(
          StrCat("consistency proof from size ", old_size, " to ", new_size,
                 " must be empty, got ", proof.size(), " hashes"));
    }
    if (old_size == 0 && old_root != crypto::EmptyRoot()) {
      return absl::DataLossError(StrCat("root of the empty tree must be ",
                                        Hex(crypto::EmptyRoot()), ", got ",
                                        Hex(old_root)));
    }
    if (old_size == new_size && old_root != new_root) {
      return absl::DataLossError(StrCat("two roots of tree size ", old_size,
                                        " differ: ", Hex(old_root), " and ",
                                        Hex(new_root)));
    }
    return absl::OkStatus();
  }
  const size_t want = ConsistencyProofLength(old_size, new_size);
  if (proof.size() != want) {
    return absl::InvalidArgumentError(
        StrCat("consistency proof from size ", old_size, " to ", new_size,
               " must have ", want, " hashes, got ", proof.size()));
  }
  // RFC 9162 section 2.1.4.2. When old_size is a power of two the old root
  // is the implicit first element of the path.
  const bool seeded = !std::has_single_bit(old_size);
  uint64_t fn = old_size - 1;
  uint64_t sn = new_size - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = seeded ? proof[0] : old_root;
  Hash sr = fr;
  for (size_t k = seeded ? 1 : 0; k < proof.size(); ++k) {
    const Hash& c = proof[k];
    if (sn == 0) break;
    if ((fn & 1) || fn == sn) {
      fr = HashChildren(c, fr);
      sr = HashChildren(c, sr);
      while (!(fn & 1) && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = HashChildren(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return absl::InvalidArgumentError(StrCat("consistency proof from size ",
                                             old_size, " to ", new_size,
                                             " does not reach the new root"));
  }
  if (fr != old_root) {
    return absl::DataLossError(StrCat("consistency proof from size ", old_size,
                                      " to ", new_size, " leads to old root ",
                                      Hex(fr), ", expected ", Hex(old_root)));
  }
  if (sr != new_root) {
    return absl::DataLossError(StrCat("consistency proof from size ", old_size,
                                      " to ", new_size, " leads to new root ",
                                      Hex(sr), ", expected ", Hex(new_root)));
  }
  return absl::OkStatus();
}

absl::StatusOr<CompactRange> CompactRange::FromHashes(
    uint64_t size, std::vector<Hash> hashes) {
  const size_t want = static_cast<size_t>(std::popcount(size));
  if (hashes.size() != want) {
    return absl::InvalidArgumentError(StrCat("compact range of tree size ",
                                             size, " needs ", want,
                                             " hashes, got ", hashes.size()));
  }
  CompactRange range;
  range.size_ = size;
  range.hashes_ = std::move(hashes);
  return range;
}

std::vector<NodeId> CompactRange::RightEdge(uint64_t size) {
  std::vector<NodeId> ids;
  uint64_t begin = 0;
  for (int level = 63; level >= 0; --level) {
    const uint64_t width = uint64_t{1} << level;
    if (size & width) {
      ids.push_back(NodeId{static_cast<uint8_t>(level), begin >> level});
      begin += width;
    }
  }
  return ids;
}

Hash CompactRange::Root() const {
  if (hashes_.empty()) return crypto::EmptyRoot();
  Hash h = hashes_.back();
  for (size_t k = hashes_.size() - 1; k > 0; --k) {
    h = HashChildren(hashes_[k - 1], h);
  }
  return h;
}

InMemoryTree::InMemoryTree(absl::Span<const Hash> leaves) {
  levels_.emplace_back().reserve(leaves.size());
  for (const Hash& leaf : leaves) Append(leaf);
}

void InMemoryTree::Append(const Hash& leaf_hash) {
  if (levels_.empty()) levels_.emplace_back();
  levels_[0].push_back(leaf_hash);
  // Invariant: levels_[l] holds every complete node of level l. A level
  // whose count became even has just completed a parent.
  for (size_t l = 0; levels_[l].size() % 2 == 0; ++l) {
    if (levels_.size() == l + 1) levels_.emplace_back();
    const std::vector<Hash>& level = levels_[l];
    Hash parent =
        HashChildren(level[level.size() - 2], level[level.size() - 1]);
    levels_[l + 1].push_back(parent);
  }
}

uint64_t InMemoryTree::size() const {
  return levels_.empty() ? 0 : levels_[0].size();
}

Hash InMemoryTree::Root() const {
  std::vector<Hash> edge;
  for (NodeId id : CompactRange::RightEdge(size())) {
    edge.push_back(levels_[id.level][id.index]);
  }
  absl::StatusOr<CompactRange> range =
      CompactRange::FromHashes(size(), std::move(edge));
  LEDGER_CHECK(range.ok(), range.status().ToString());
  return range->Root();
}

absl::Status InMemoryTree::ReadNodes(absl::Span<const NodeId> ids,
                                     std::vector<Hash>* out) {
  out->clear();
  out->reserve(ids.size());
  for (NodeId id : ids) {
    if (id.level >= levels_.size() || id.index >= levels_[id.level].size()) {
      return absl::OutOfRangeError(StrCat(
          NodeName(id), " is not complete in a tree of ", size(), " leaves"));
    }
    out->push_back(levels_[id.level][id.index]);
  }
  return absl::OkStatus();
}

}  // namespace ledger
