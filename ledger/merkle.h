#pragma once

// RFC 6962 / RFC 9162 Merkle trees over leaf hashes: proofs built from
// stored perfect-subtree hashes, proof verification, the compact range used
// while appending, and a small in-memory tree for emitter batches.
//
// Vocabulary: a *node* (level L, index i) is the root of the perfect subtree
// over leaves [i * 2^L, (i + 1) * 2^L). It is *complete* in a tree of size n
// iff (i + 1) * 2^L <= n; complete nodes never change as the tree grows, so
// every proof for every size <= n can be computed from the complete nodes of
// the tree of size n.

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "crypto/bytes.h"

namespace ledger {

using crypto::Hash;

struct NodeId {
  uint8_t level = 0;
  uint64_t index = 0;
  friend bool operator==(const NodeId&, const NodeId&) = default;
};

// Source of complete-node hashes.
class NodeReader {
 public:
  virtual ~NodeReader() = default;
  // Sets (*out)[k] to the hash of ids[k] for every k (resizing *out). Every
  // id is a complete node of a tree the reader holds; an id beyond it is
  // OutOfRange, storage trouble is DataLoss/Internal.
  virtual absl::Status ReadNodes(absl::Span<const NodeId> ids,
                                 std::vector<Hash>* out) = 0;
};

// RootAt, InclusionProof and ConsistencyProof first list every complete
// node they need (O(log size)) and read them with a single ReadNodes call
// (none when no node is needed), then hash. Reader errors are returned with
// context added and their code unchanged (OutOfRange for a size beyond the
// reader's tree).

// The RFC 6962 root of the first `size` leaves (EmptyRoot() for 0).
absl::StatusOr<Hash> RootAt(NodeReader& reader, uint64_t size);

// RFC 9162 section 2.1.3.1: the inclusion proof of leaf `index` in the tree
// of `size` leaves, leaf sibling first. InvalidArgument if index >= size.
absl::StatusOr<std::vector<Hash>> InclusionProof(NodeReader& reader,
                                                 uint64_t index, uint64_t size);

// RFC 9162 section 2.1.4.1: the consistency proof between sizes. Empty when
// old_size == new_size or old_size == 0. InvalidArgument if
// old_size > new_size.
absl::StatusOr<std::vector<Hash>> ConsistencyProof(NodeReader& reader,
                                                   uint64_t old_size,
                                                   uint64_t new_size);

// The number of hashes in the inclusion proof of leaf `index` (< size) in a
// tree of `size` leaves.
size_t InclusionProofLength(uint64_t index, uint64_t size);

// RFC 9162 section 2.1.3.2. Returns the root the proof leads to;
// InvalidArgument if the proof has the wrong length for (index, size).
absl::StatusOr<Hash> RootFromInclusionProof(const Hash& leaf_hash,
                                            uint64_t index, uint64_t size,
                                            absl::Span<const Hash> proof);

// OK iff the proof binds leaf_hash at index to root. DataLoss on a root
// mismatch, InvalidArgument on a malformed proof.
absl::Status VerifyInclusion(const Hash& leaf_hash, uint64_t index,
                             uint64_t size, absl::Span<const Hash> proof,
                             const Hash& root);

// The compact multi-leaf inclusion proof of the sorted leaf set `indexes`
// (strictly increasing, each below `size`) in the tree of `size` leaves
// (ledger/FORMAT.md section 12.2): over the RFC 6962 recursion, left to
// right, one hash for every maximal subtree that holds none of the leaves.
// Every such subtree is read as stored nodes (one ReadNodes call), never
// recomputed from its leaves. Empty for size 0 (then `indexes` must be
// empty too). InvalidArgument for unsorted, repeated or out-of-range
// indexes.
absl::StatusOr<std::vector<Hash>> MultiInclusionProof(
    NodeReader& reader, absl::Span<const uint64_t> indexes, uint64_t size);

// The number of hashes MultiInclusionProof returns for these arguments
// (which must be valid: sorted, distinct, below size).
size_t MultiInclusionProofLength(absl::Span<const uint64_t> indexes,
                                 uint64_t size);

// Runs the recursion of MultiInclusionProof from the leaves' hashes
// (leaf_hashes[k] is the hash of leaf indexes[k]) and the proof, consuming
// the proof's hashes in order, and returns the root it arrives at
// (EmptyRoot() for size 0). InvalidArgument naming the problem if the
// indexes are not strictly increasing and below `size`, the counts differ,
// or the proof has too few or too many hashes.
absl::StatusOr<Hash> RootFromMultiInclusionProof(
    absl::Span<const uint64_t> indexes, absl::Span<const Hash> leaf_hashes,
    uint64_t size, absl::Span<const Hash> proof);

// RFC 9162 section 2.1.4.2. DataLoss on a root mismatch, InvalidArgument on
// a malformed proof or sizes. When old_size == 0 or old_size == new_size the
// proof must be empty; old_root must then be EmptyRoot() (old_size == 0) or
// equal new_root (old_size == new_size).
absl::Status VerifyConsistency(uint64_t old_size, uint64_t new_size,
                               absl::Span<const Hash> proof,
                               const Hash& old_root, const Hash& new_root);

// The right edge of a tree of `size` leaves: the roots of its maximal
// perfect subtrees, left to right (largest first). Appending one leaf costs
// amortised one hash.
class CompactRange {
 public:
  CompactRange() = default;
  // Rebuilds the range of a tree of `size` leaves from its right-edge nodes
  // (as returned by hashes(), in RightEdge(size) order). InvalidArgument if
  // the count does not match popcount(size); the hashes are not checked.
  static absl::StatusOr<CompactRange> FromHashes(uint64_t size,
                                                 std::vector<Hash> hashes);
  // The node ids of the right edge of a tree of `size` leaves, left to right.
  static std::vector<NodeId> RightEdge(uint64_t size);

  // Appends a leaf. `visit(NodeId, const Hash&)` is called for the leaf
  // (level 0) and then for every node the leaf completes, bottom up.
  template <typename Visit>
  void Append(const Hash& leaf_hash, Visit&& visit);
  void Append(const Hash& leaf_hash) {
    Append(leaf_hash, [](NodeId, const Hash&) {});
  }

  uint64_t size() const { return size_; }
  const std::vector<Hash>& hashes() const { return hashes_; }
  // RFC 6962 root: the right-edge hashes folded right to left.
  Hash Root() const;

 private:
  uint64_t size_ = 0;
  std::vector<Hash> hashes_;
};

// A whole tree held in memory (every level). For emitter batches, tests and
// the offline verifier; fine up to millions of leaves.
class InMemoryTree : public NodeReader {
 public:
  InMemoryTree() = default;
  explicit InMemoryTree(absl::Span<const Hash> leaves);
  void Append(const Hash& leaf_hash);
  uint64_t size() const;
  Hash Root() const;
  // OutOfRange for a node that is not complete in this tree.
  absl::Status ReadNodes(absl::Span<const NodeId> ids,
                         std::vector<Hash>* out) override;

 private:
  std::vector<std::vector<Hash>> levels_;  // levels_[L][i] = node (L, i)
};

}  // namespace ledger

// ---- template definitions ----
#include "crypto/rfc6962.h"

namespace ledger {
template <typename Visit>
void CompactRange::Append(const Hash& leaf_hash, Visit&& visit) {
  Hash h = leaf_hash;
  uint64_t index = size_;
  uint8_t level = 0;
  visit(NodeId{0, index}, h);
  // Each trailing 1 bit of the old size is a left sibling to merge with.
  while (index & 1) {
    h = crypto::HashChildren(hashes_.back(), h);
    hashes_.pop_back();
    index >>= 1;
    ++level;
    visit(NodeId{level, index}, h);
  }
  hashes_.push_back(h);
  ++size_;
}
}  // namespace ledger
