#include "tools/bench/peers.h"

#include <filesystem>

#include "gtest/gtest.h"
#include "ledger/entry.h"
#include "ledger/merkle.h"
#include "ledger/store.h"
#include "tools/bench/cleanup.h"
#include "tools/bench/proofs.h"

namespace ledger::bench {
namespace {

class TempDir {
 public:
  TempDir() : path_(MakeTempDir("", "ledger-bench-test")) {}
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(RawRocksPeerTest, WritesTheLedgersEntriesAndIndexKeys) {
  const auto key = crypto::Ed25519PrivateKey::Generate();
  WorkloadOptions w;
  w.events = 300;
  w.batch_size = 50;
  w.keep_event_bytes = true;
  absl::StatusOr<std::vector<SignedBatch>> batches = BuildWorkload(w, key);
  ASSERT_TRUE(batches.ok()) << batches.status();
  TempDir dir;
  RawRocksOptions options;
  options.dir = dir.path() + "/db";
  options.group_events = 100;
  absl::StatusOr<RawRocksResult> r =
      RunRawRocks(*batches, key.public_key(), options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->events, 300u);
  EXPECT_EQ(r->groups, 3u);
  EXPECT_EQ(r->group_latency.count(), 3u);
  EXPECT_GT(r->events_per_second(), 0);
  EXPECT_GT(r->entry_bytes, 300u * 1024);
  EXPECT_GT(r->disk_bytes, 0u);

  // What was written is what the ledger would have written.
  absl::StatusOr<std::unique_ptr<Store>> store =
      Store::Open(options.dir, StoreOptions{});
  ASSERT_TRUE(store.ok()) << store.status();
  Hash chain{};
  for (uint64_t i = 1; i <= 300; ++i) {
    absl::StatusOr<std::optional<std::string>> bytes =
        (*store)->Get(Cf::kEntries, Be64(i));
    ASSERT_TRUE(bytes.ok() && bytes->has_value()) << i;
    absl::StatusOr<Entry> entry = DecodeEntry(**bytes);
    ASSERT_TRUE(entry.ok()) << entry.status();
    EXPECT_EQ(entry->index, i);
    EXPECT_EQ(entry->prev_chain_hash, chain);
    EXPECT_TRUE(VerifyEntrySignature(*entry, key.public_key()).ok());
    chain = ChainHash(chain, crypto::HashLeaf(**bytes));
  }
  int ids = 0;
  auto it = (*store)->NewIterator(Cf::kByEventId);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    EXPECT_EQ(it->value().size(), 40u);
    ++ids;
  }
  EXPECT_EQ(ids, 300);
}

TEST(RawRocksPeerTest, NeedsTheEventBytes) {
  const auto key = crypto::Ed25519PrivateKey::Generate();
  WorkloadOptions w;
  w.events = 10;
  w.batch_size = 10;
  absl::StatusOr<std::vector<SignedBatch>> batches = BuildWorkload(w, key);
  ASSERT_TRUE(batches.ok());
  TempDir dir;
  RawRocksOptions options;
  options.dir = dir.path() + "/db";
  EXPECT_EQ(RunRawRocks(*batches, key.public_key(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Ed25519PeerTest, VerifiesTheRequestedCount) {
  Ed25519Options options;
  options.batch_size = 1000;
  options.signatures = 300;
  absl::StatusOr<Ed25519Result> r = RunEd25519Ceiling(options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->verifications, 300u);
  EXPECT_GT(r->verifications_per_second(), 0);
}

TEST(ProofLengthTest, ConsistencyProofLengthMatchesTheTree) {
  std::vector<Hash> leaves;
  for (int i = 0; i < 70; ++i)
    leaves.push_back(crypto::HashLeaf(std::to_string(i)));
  InMemoryTree tree(leaves);
  for (uint64_t n = 1; n <= 70; ++n) {
    for (uint64_t m = 1; m <= n; ++m) {
      absl::StatusOr<std::vector<Hash>> proof = ConsistencyProof(tree, m, n);
      ASSERT_TRUE(proof.ok());
      ASSERT_EQ(ConsistencyProofLength(m, n), proof->size()) << m << " " << n;
    }
  }
}

}  // namespace
}  // namespace ledger::bench
