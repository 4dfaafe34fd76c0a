// Receipts with key evidence (ledger/FORMAT.md section 10.5), verified with
// the log's keys only: who the key belongs to, rotation, revocation, and
// evidence that was tampered with.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "ledger/tlog_proof.h"
#include "ledger/tlog_proof_extra.h"
#include "tools/verify/test_ledger.h"
#include "tools/verify/verify.h"

namespace ledger::verify {
namespace {

using ::ledger::verify::testing::TestLedger;
using ::testing::HasSubstr;

std::string StringField(const Report& r, std::string_view key) {
  const Report::Value* v = r.Find(key);
  if (v == nullptr) return "<missing>";
  if (const auto* s = std::get_if<std::string>(v)) return *s;
  if (const auto* n = std::get_if<uint64_t>(v)) return StrCat(*n);
  return "<not a string>";
}

class KeyEvidenceTest : public ::testing::Test {
 protected:
  KeyEvidenceTest() : ledger_(2) {
    trust_.log_keys = ledger_.log_verifiers();  // no emitter keys
  }

  Report Verify(const TlogProof& proof) {
    return VerifyProof("receipt", FormatTlogProof(proof), trust_);
  }
  Report VerifyWithKeys(uint64_t index, std::vector<uint64_t> keys) {
    return Verify(ledger_.ProofWithKeys(index, ledger_.size(), keys));
  }

  TestLedger ledger_;
  Trust trust_;
};

TEST_F(KeyEvidenceTest, RegistrationShowsTenantProducerTimeAndAdmin) {
  const uint64_t reg = ledger_.RegisterEmitter("label-studio");
  ledger_.AppendBatch(2);
  const uint64_t entry = ledger_.size() - 1;
  Report r = VerifyWithKeys(entry, {reg});
  ASSERT_TRUE(r.valid()) << r.ToText();
  EXPECT_EQ(StringField(r, "emitter_signature"),
            "verified (key from its registration)");
  EXPECT_EQ(StringField(r, "emitter_key"), "emitter-acme");
  EXPECT_EQ(StringField(r, "key_tenant"), "acme");
  EXPECT_EQ(StringField(r, "key_producer"), "label-studio");
  EXPECT_EQ(StringField(r, "key_registered_by_entry"), StrCat(reg));
  EXPECT_EQ(StringField(r, "key_registered_by_type"), "key.registered");
  EXPECT_EQ(StringField(r, "key_registered_by"), "admin-1 (admin)");
  EXPECT_THAT(StringField(r, "key_registered_at"),
              HasSubstr("2025-03-03T08:00:00.002"));
  EXPECT_THAT(StringField(r, "key_valid_at_entry"),
              HasSubstr("neither rotated out nor revoked"));
  // Without key evidence and without emitter keys, nothing says who signed.
  Report plain = Verify(ledger_.Proof(entry, ledger_.size()));
  ASSERT_TRUE(plain.valid()) << plain.ToText();
  EXPECT_EQ(StringField(plain, "emitter_signature"),
            "not checked (no emitter keys given)");
}

TEST_F(KeyEvidenceTest, RotationKeepsOldEntriesValidAndEndsTheOldKey) {
  const uint64_t reg = ledger_.RegisterEmitter();
  ledger_.AppendBatch(1);
  const uint64_t before = ledger_.size() - 1;
  const uint64_t rot = ledger_.RotateEmitter();
  ledger_.UseSecondEmitter();
  ledger_.AppendBatch(1);
  const uint64_t after = ledger_.size() - 1;
  // An entry the old key signed after the rotation: a correct ledger
  // refuses it; one that appended it is caught by the evidence.
  ledger_.UseSecondEmitter(false);
  ledger_.AppendBatch(1);
  const uint64_t forged = ledger_.size() - 1;

  Report old_entry = VerifyWithKeys(before, {reg, rot});
  ASSERT_TRUE(old_entry.valid()) << old_entry.ToText();
  EXPECT_EQ(StringField(old_entry, "emitter_key"), "emitter-acme");
  EXPECT_THAT(StringField(old_entry, "key_valid_at_entry"),
              HasSubstr(StrCat("rotated out by entry ", rot)));

  Report new_entry = VerifyWithKeys(after, {reg, rot});
  ASSERT_TRUE(new_entry.valid()) << new_entry.ToText();
  EXPECT_EQ(StringField(new_entry, "emitter_key"), "emitter-acme-2");
  EXPECT_EQ(StringField(new_entry, "key_registered_by_type"), "key.rotated");
  EXPECT_EQ(StringField(new_entry, "key_registered_by_entry"), StrCat(rot));
  EXPECT_EQ(StringField(new_entry, "key_tenant"), "acme");
  EXPECT_EQ(StringField(new_entry, "key_producer"), "label-studio");
  EXPECT_EQ(StringField(new_entry, "key_replaced"),
            crypto::HexEncode(KeyIdOf(ledger_.emitter().key().public_key())));

  Report bad = VerifyWithKeys(forged, {reg, rot});
  EXPECT_FALSE(bad.valid());
  EXPECT_EQ(bad.failed_check(), kCheckKeyValidity);
  EXPECT_THAT(bad.reason(), HasSubstr(StrCat("rotated out by entry ", rot)));
  // The new key's entry cannot be proven without the rotation that
  // registered it.
  Report missing = VerifyWithKeys(after, {reg});
  EXPECT_FALSE(missing.valid());
  EXPECT_EQ(missing.failed_check(), kCheckKeyEvidence);
  EXPECT_THAT(missing.reason(), HasSubstr("do not define key"));
}

TEST_F(KeyEvidenceTest, EntriesAfterARevocationAreInvalid) {
  const uint64_t reg = ledger_.RegisterEmitter();
  ledger_.AppendBatch(1);
  const uint64_t before = ledger_.size() - 1;
  const uint64_t revoked = ledger_.RevokeEmitter("laptop stolen");
  ledger_.AppendBatch(1);
  const uint64_t after = ledger_.size() - 1;
  Report ok = VerifyWithKeys(before, {reg, revoked});
  ASSERT_TRUE(ok.valid()) << ok.ToText();
  EXPECT_THAT(StringField(ok, "key_valid_at_entry"),
              HasSubstr(StrCat("revoked by entry ", revoked,
                               " (reason: laptop stolen)")));
  Report bad = VerifyWithKeys(after, {reg, revoked});
  EXPECT_EQ(bad.failed_check(), kCheckKeyValidity);
  EXPECT_THAT(bad.reason(), HasSubstr(StrCat("revoked by entry ", revoked)));
}

TEST_F(KeyEvidenceTest, AKeyOfAnotherProducerOrAnEntryBeforeItsKeyIsInvalid) {
  const uint64_t reg = ledger_.RegisterEmitter("cvat");
  ledger_.AppendBatch(1);  // producer label-studio/1.12.1
  Report r = VerifyWithKeys(ledger_.size() - 1, {reg});
  EXPECT_EQ(r.failed_check(), kCheckKeyValidity);
  EXPECT_THAT(r.reason(), HasSubstr("producer: emitter key"));
  // Entry 0 was signed before the key was registered.
  Report early = VerifyWithKeys(0, {reg});
  EXPECT_EQ(early.failed_check(), kCheckKeyValidity);
  EXPECT_THAT(early.reason(), HasSubstr(StrCat("registered by entry ", reg)));
}

TEST_F(KeyEvidenceTest, TamperedOrForeignKeyEntriesAreInvalid) {
  const uint64_t reg = ledger_.RegisterEmitter();
  ledger_.AppendBatch(1);
  const uint64_t entry = ledger_.size() - 1;
  const TlogProof good = ledger_.ProofWithKeys(entry, ledger_.size(), {reg});
  ASSERT_TRUE(Verify(good).valid());

  // A key entry whose bytes changed no longer has its inclusion proof.
  absl::StatusOr<ReceiptExtra> extra = DecodeReceiptExtra(*good.extra);
  ASSERT_TRUE(extra.ok()) << extra.status();
  ReceiptExtra changed = *extra;
  changed.key_entries[0].entry.back() ^= 1;
  TlogProof bad = good;
  bad.extra = EncodeReceiptExtra(changed);
  Report r = Verify(bad);
  EXPECT_EQ(r.failed_check(), kCheckKeyEvidence);
  EXPECT_THAT(r.reason(), HasSubstr("key_entries[0]"));

  // An included entry that is not a key event is refused.
  Report not_key = VerifyWithKeys(entry, {0});
  EXPECT_EQ(not_key.failed_check(), kCheckKeyEvidence);
  EXPECT_THAT(not_key.reason(), HasSubstr("not a key event"));

  // Key entries out of order.
  Report order = VerifyWithKeys(entry, {reg, reg});
  EXPECT_EQ(order.failed_check(), kCheckKeyEvidence);
  EXPECT_THAT(order.reason(), HasSubstr("increasing index order"));

  // Extra data that is not a container at all fails as an entry.
  TlogProof garbled = good;
  garbled.extra->resize(garbled.extra->size() - 1);
  EXPECT_EQ(Verify(garbled).failed_check(), kCheckEntry);
}

}  // namespace
}  // namespace ledger::verify
