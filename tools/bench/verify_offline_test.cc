#include "tools/bench/verify_offline.h"

#include "gtest/gtest.h"
#include "ledger/entry.h"
#include "tools/verify/test_ledger.h"

namespace ledger::bench {
namespace {

using verify::testing::TestLedger;

OfflineLedger FromTestLedger(TestLedger& t) {
  OfflineLedger out;
  for (uint64_t i = 0; i < t.size(); ++i)
    out.entries.push_back(t.entry_bytes(i));
  out.checkpoint_note = t.Checkpoint(t.size());
  out.log_keys = t.log_verifiers();
  for (const crypto::NoteVerifier& v : t.emitter_verifiers()) {
    out.keys[KeyIdOf(v.key)] = v.key;
  }
  return out;
}

TEST(VerifyOfflineTest, VerifiesARealLedgerOnBothPaths) {
  TestLedger t(0);
  t.AppendBatch(40);
  t.AppendBatch(1);
  t.AppendBatch(25);
  OfflineLedger ledger = FromTestLedger(t);
  absl::StatusOr<OfflineResult> hash = VerifyOffline(ledger, false);
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_EQ(hash->entries, 66u);
  EXPECT_EQ(hash->signature_verifications, 0u);
  absl::StatusOr<OfflineResult> sig = VerifyOffline(ledger, true);
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_EQ(sig->entries, 66u);
  // One Ed25519 verification per batch, not per entry.
  EXPECT_EQ(sig->signature_verifications, 3u);
}

TEST(VerifyOfflineTest, AFlippedByteIsDataLoss) {
  TestLedger t(0);
  t.AppendBatch(20);
  OfflineLedger ledger = FromTestLedger(t);
  ledger.entries[7][ledger.entries[7].size() / 2] ^= 1;
  EXPECT_FALSE(VerifyOffline(ledger, false).ok());
}

TEST(VerifyOfflineTest, AnUnknownEmitterKeyFailsOnlyWithSignatures) {
  TestLedger t(0);
  t.AppendBatch(5);
  OfflineLedger ledger = FromTestLedger(t);
  ledger.keys.clear();
  EXPECT_TRUE(VerifyOffline(ledger, false).ok());
  EXPECT_EQ(VerifyOffline(ledger, true).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(VerifyOfflineTest, ACheckpointOfAnotherSizeIsRejected) {
  TestLedger t(0);
  t.AppendBatch(10);
  OfflineLedger ledger = FromTestLedger(t);
  ledger.entries.pop_back();
  EXPECT_FALSE(VerifyOffline(ledger, false).ok());
}

}  // namespace
}  // namespace ledger::bench
