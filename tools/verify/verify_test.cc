#include "tools/verify/verify.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "base/strings.h"
#include "crypto/key_file.h"
#include "ledger/tlog_proof.h"
#include "tools/verify/test_ledger.h"

namespace ledger::verify {
namespace {

using testing::TestLedger;

std::string StringField(const Report& r, std::string_view key) {
  const Report::Value* v = r.Find(key);
  if (v == nullptr) return "<missing>";
  if (const auto* s = std::get_if<std::string>(v)) return *s;
  if (const auto* n = std::get_if<uint64_t>(v)) return StrCat(*n);
  return "<not a string>";
}

class VerifyProofTest : public ::testing::Test {
 protected:
  VerifyProofTest() : ledger_(7) {
    trust_.log_keys = ledger_.log_verifiers();
    trust_.emitter_keys = ledger_.emitter_verifiers();
  }

  Report Verify(const TlogProof& proof) {
    return VerifyProof("receipt", FormatTlogProof(proof), trust_);
  }

  TestLedger ledger_;
  Trust trust_;
};

TEST_F(VerifyProofTest, ReceiptBuiltInProcessIsValidAndNamesTheEmitterKey) {
  Report r = Verify(ledger_.Proof(3, 7));
  ASSERT_TRUE(r.valid()) << r.ToText();
  EXPECT_EQ(StringField(r, "index"), "3");
  EXPECT_EQ(StringField(r, "tree_size"), "7");
  EXPECT_EQ(StringField(r, "origin"), testing::kOrigin);
  EXPECT_EQ(StringField(r, "emitter_key"), "emitter-acme");
  EXPECT_EQ(StringField(r, "emitter_signature"), "verified");
  EXPECT_EQ(StringField(r, "tenant"), "acme");
  EXPECT_EQ(StringField(r, "type"), "annotation.created");
  EXPECT_EQ(StringField(r, "event_id"),
            FormatUuid(TestLedger::MakeEvent(4).event_id));
  EXPECT_EQ(StringField(r, "key_id"),
            crypto::HexEncode(ledger_.entry(3).emitter.key_id));
  EXPECT_EQ(StringField(r, "cosigned_at"), "2025-03-03T08:00:07Z");
}

TEST_F(VerifyProofTest, EveryIndexOfSeveralTreeSizesVerifies) {
  for (uint64_t size = 1; size <= 7; ++size) {
    for (uint64_t i = 0; i < size; ++i) {
      Report r = Verify(ledger_.Proof(i, size));
      EXPECT_TRUE(r.valid()) << "index " << i << " size " << size << "\n"
                             << r.ToText();
    }
  }
}

TEST_F(VerifyProofTest, WithoutEmitterKeysTheEmitterSignatureIsNotChecked) {
  trust_.emitter_keys.clear();
  Report r = Verify(ledger_.Proof(0, 7));
  ASSERT_TRUE(r.valid()) << r.ToText();
  EXPECT_EQ(r.Find("emitter_key"), nullptr);
  EXPECT_EQ(StringField(r, "emitter_signature").substr(0, 11), "not checked");
}

TEST_F(VerifyProofTest, TamperedExtraFailsInclusion) {
  TlogProof proof = ledger_.Proof(2, 7);
  (*proof.extra)[proof.extra->size() / 2] ^= 0x01;
  Report r = Verify(proof);
  EXPECT_FALSE(r.valid());
  EXPECT_EQ(r.failed_check(), kCheckInclusion) << r.ToText();
}

TEST_F(VerifyProofTest, TamperedIndexFailsInclusion) {
  TlogProof proof = ledger_.Proof(2, 7);
  proof.index = 3;
  Report r = Verify(proof);
  EXPECT_EQ(r.failed_check(), kCheckInclusion) << r.ToText();
}

TEST_F(VerifyProofTest, IndexPastTheTreeFailsInclusion) {
  TlogProof proof = ledger_.Proof(2, 7);
  proof.index = 7;
  Report r = Verify(proof);
  EXPECT_EQ(r.failed_check(), kCheckInclusion) << r.ToText();
}

TEST_F(VerifyProofTest, TamperedProofHashFailsInclusion) {
  TlogProof proof = ledger_.Proof(5, 7);
  ASSERT_FALSE(proof.proof.empty());
  proof.proof[1][0] ^= 0x80;
  Report r = Verify(proof);
  EXPECT_EQ(r.failed_check(), kCheckInclusion) << r.ToText();
}

TEST_F(VerifyProofTest, MissingProofHashFailsInclusion) {
  TlogProof proof = ledger_.Proof(5, 7);
  proof.proof.pop_back();
  Report r = Verify(proof);
  EXPECT_EQ(r.failed_check(), kCheckInclusion) << r.ToText();
}

TEST_F(VerifyProofTest, TamperedCheckpointTextFailsTheCheckpointSignature) {
  TlogProof proof = ledger_.Proof(1, 7);
  // Claim a smaller tree: the signature no longer covers the text.
  const size_t pos = proof.checkpoint.find("\n7\n");
  ASSERT_NE(pos, std::string::npos);
  proof.checkpoint[pos + 1] = '6';
  Report r = Verify(proof);
  EXPECT_EQ(r.failed_check(), kCheckCheckpoint) << r.ToText();
}

TEST_F(VerifyProofTest, WrongLogKeyFailsTheCheckpoint) {
  TestLedger other(1, "other.example/ledger");
  trust_.log_keys = other.log_verifiers();
  Report r = Verify(ledger_.Proof(1, 7));
  EXPECT_EQ(r.failed_check(), kCheckCheckpoint) << r.ToText();
}

TEST_F(VerifyProofTest, WrongOriginFailsTheCheckpoint) {
  trust_.origin = "someone.else/ledger";
  Report r = Verify(ledger_.Proof(1, 7));
  EXPECT_EQ(r.failed_check(), kCheckCheckpoint) << r.ToText();
}

TEST_F(VerifyProofTest, ProofWithoutExtraFailsEntry) {
  TlogProof proof = ledger_.Proof(1, 7);
  proof.extra.reset();
  Report r = Verify(proof);
  EXPECT_EQ(r.failed_check(), kCheckEntry) << r.ToText();
}

TEST_F(VerifyProofTest, WrongEmitterKeyIsReportedAsUnknownKey) {
  crypto::NoteSigner stranger("emitter-other", crypto::NoteSigType::kEd25519,
                              crypto::Ed25519PrivateKey::Generate());
  trust_.emitter_keys = {stranger.verifier()};
  Report r = Verify(ledger_.Proof(1, 7));
  EXPECT_EQ(r.failed_check(), kCheckEmitterKey) << r.ToText();
  EXPECT_NE(r.reason().find(crypto::HexEncode(ledger_.entry(1).emitter.key_id)),
            std::string::npos);
}

TEST_F(VerifyProofTest, EntryWhoseIndexDiffersFromItsPositionFailsIndex) {
  Entry e = ledger_.NextEntry();
  e.index = 42;
  ledger_.AppendEntry(e);
  Report r = Verify(ledger_.Proof(7, 8));
  EXPECT_EQ(r.failed_check(), kCheckIndex) << r.ToText();
}

TEST_F(VerifyProofTest, IncludedEntryWithABadEmitterSignatureFails) {
  Entry e = ledger_.NextEntry();
  e.emitter.signature[10] ^= 0x04;
  ledger_.AppendEntry(e);
  Report r = Verify(ledger_.Proof(7, 8));
  EXPECT_EQ(r.failed_check(), kCheckEmitterSignature) << r.ToText();
  EXPECT_EQ(StringField(r, "emitter_key"), "emitter-acme");
}

TEST_F(VerifyProofTest, IncludedEntryWithUndecodableEventFailsEvent) {
  Entry e = ledger_.NextEntry();
  e.event_bytes = "not an event";
  ledger_.AppendEntry(e);
  Report r = Verify(ledger_.Proof(7, 8));
  EXPECT_EQ(r.failed_check(), kCheckEvent) << r.ToText();
}

// Ledgers appended bidirectional overrides before ledger/FORMAT.md section
// 2.3 refused them; such entries keep verifying.
TEST_F(VerifyProofTest, StoredEventWithABidiOverrideStillVerifies) {
  Event event = TestLedger::MakeEvent(100);
  event.actor.id =
      "annotator-\xE2\x80\xAE"
      "10";
  event.subjects[0].id =
      "item-\xE2\x81\xA6"
      "100\xE2\x81\xA9";
  ASSERT_FALSE(ValidateEvent(event, {}).ok());
  ASSERT_TRUE(ValidateEvent(event, {}, TextRules::kStored).ok());
  ledger_.AppendEntry(ledger_.NextEntryWithEvent(event));
  Report r = Verify(ledger_.Proof(7, 8));
  ASSERT_TRUE(r.valid()) << r.ToText();
  EXPECT_EQ(StringField(r, "emitter_signature"), "verified");
}

TEST_F(VerifyProofTest, IncludedLeafThatIsNotAnEntryFailsEntry) {
  ledger_.AppendLeaf("not an entry");
  Report r = Verify(ledger_.Proof(7, 8));
  EXPECT_EQ(r.failed_check(), kCheckEntry) << r.ToText();
}

TEST_F(VerifyProofTest, TextThatIsNotAProofFailsParse) {
  Report r = VerifyProof("x", "hello\n", trust_);
  EXPECT_EQ(r.failed_check(), kCheckParse) << r.ToText();
}

TEST_F(VerifyProofTest, MissingFileFailsRead) {
  Report r = VerifyProofFile("/nonexistent/receipt.tlog", trust_);
  EXPECT_EQ(r.failed_check(), kCheckRead) << r.ToText();
  EXPECT_EQ(r.subject(), "/nonexistent/receipt.tlog");
}

class CheckpointAndConsistencyTest : public ::testing::Test {
 protected:
  CheckpointAndConsistencyTest() : ledger_(9) {
    trust_.log_keys = ledger_.log_verifiers();
  }

  Report Consistency(uint64_t old_size, uint64_t new_size,
                     const std::vector<Hash>& proof) {
    return VerifyConsistency("c", ledger_.Checkpoint(old_size),
                             ledger_.Checkpoint(new_size),
                             FormatProofHashes(proof), trust_);
  }

  TestLedger ledger_;
  Trust trust_;
};

TEST_F(CheckpointAndConsistencyTest, SignedCheckpointIsValid) {
  Report r = VerifyCheckpoint("cp", ledger_.Checkpoint(9), trust_);
  ASSERT_TRUE(r.valid()) << r.ToText();
  EXPECT_EQ(StringField(r, "tree_size"), "9");
  const auto* signers =
      std::get_if<std::vector<std::string>>(r.Find("signed_by"));
  ASSERT_NE(signers, nullptr);
  EXPECT_EQ(signers->size(), 2u);
}

TEST_F(CheckpointAndConsistencyTest, AlteredCheckpointIsInvalid) {
  std::string note = ledger_.Checkpoint(9);
  note[note.find('\n') + 1] = '8';
  Report r = VerifyCheckpoint("cp", note, trust_);
  EXPECT_EQ(r.failed_check(), kCheckCheckpoint) << r.ToText();
}

TEST_F(CheckpointAndConsistencyTest, CheckpointWithUntrustedKeyIsInvalid) {
  TestLedger other(2, "other.example/ledger");
  Report r = VerifyCheckpoint("cp", other.Checkpoint(2), trust_);
  EXPECT_EQ(r.failed_check(), kCheckCheckpoint) << r.ToText();
}

TEST_F(CheckpointAndConsistencyTest, ConsistencyProofsBetweenAllSizesVerify) {
  for (uint64_t m = 0; m <= 9; ++m) {
    for (uint64_t n = m; n <= 9; ++n) {
      Report r = Consistency(m, n, ledger_.Consistency(m, n));
      EXPECT_TRUE(r.valid()) << m << " -> " << n << "\n" << r.ToText();
    }
  }
}

TEST_F(CheckpointAndConsistencyTest, TamperedConsistencyHashIsInvalid) {
  std::vector<Hash> proof = ledger_.Consistency(3, 9);
  ASSERT_FALSE(proof.empty());
  proof.back()[5] ^= 1;
  Report r = Consistency(3, 9, proof);
  EXPECT_EQ(r.failed_check(), kCheckConsistency) << r.ToText();
}

TEST_F(CheckpointAndConsistencyTest, SwappedCheckpointsAreInvalid) {
  Report r = Consistency(9, 3, ledger_.Consistency(3, 9));
  EXPECT_EQ(r.failed_check(), kCheckConsistency) << r.ToText();
}

TEST_F(CheckpointAndConsistencyTest, ForgedNewCheckpointIsNamed) {
  std::string forged = ledger_.Checkpoint(9);
  forged[forged.find('\n') + 1] = '8';
  Report r =
      VerifyConsistency("c", ledger_.Checkpoint(3), forged,
                        FormatProofHashes(ledger_.Consistency(3, 9)), trust_);
  EXPECT_EQ(r.failed_check(), kCheckNewCheckpoint) << r.ToText();
}

TEST_F(CheckpointAndConsistencyTest, CheckpointsOfDifferentLogsFailOrigin) {
  TestLedger other(9, "other.example/ledger");
  trust_.log_keys.push_back(other.log_verifiers().front());
  Report r = VerifyConsistency("c", ledger_.Checkpoint(3), other.Checkpoint(9),
                               "", trust_);
  EXPECT_EQ(r.failed_check(), kCheckOrigin) << r.ToText();
}

TEST_F(CheckpointAndConsistencyTest, MalformedProofLineIsNamed) {
  Report r = VerifyConsistency("c", ledger_.Checkpoint(3),
                               ledger_.Checkpoint(9), "AAAA\n", trust_);
  EXPECT_EQ(r.failed_check(), kCheckParse) << r.ToText();
  EXPECT_NE(r.reason().find("line 1"), std::string::npos) << r.reason();
}

TEST(ProofHashesTest, RoundTripsAndToleratesBlankLinesAndCrLf) {
  TestLedger ledger(6);
  std::vector<Hash> proof = ledger.Consistency(2, 6);
  std::string text = FormatProofHashes(proof);
  absl::StatusOr<std::vector<Hash>> back = ParseProofHashes(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, proof);
  std::string crlf;
  for (std::string_view line : Split(text, '\n')) {
    if (!line.empty()) crlf += StrCat(line, "\r\n\r\n");
  }
  back = ParseProofHashes(crlf);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, proof);
  EXPECT_TRUE(ParseProofHashes("")->empty());
}

TEST(ProofHashesTest, BadLineIsNamed) {
  absl::Status s =
      ParseProofHashes(StrCat(std::string(43, 'A'), "=\n\nnot-base64\n"))
          .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(ToStd(s.message()).find("line 3"), std::string::npos)
      << s.message();
}

class LoadTrustTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/load_trust_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_;
};

TEST_F(LoadTrustTest, ReadsLogAndEmitterKeys) {
  TestLedger ledger(1);
  absl::StatusOr<Trust> t =
      LoadTrust({Write("log.vkeys", "# log\n" + ledger.LogKeys())},
                {Write("e.pub", ledger.EmitterKeys())}, "o");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->log_keys.size(), 2u);
  EXPECT_EQ(t->emitter_keys.size(), 1u);
  EXPECT_EQ(t->origin, "o");
}

TEST_F(LoadTrustTest, MissingOrMalformedFilesAreErrors) {
  EXPECT_FALSE(LoadTrust({}, {}, "").ok());
  EXPECT_EQ(LoadTrust({dir_ + "/missing"}, {}, "").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(LoadTrust({Write("bad", "not a key\n")}, {}, "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(LoadTrustTest, FilesVerifyLikeTexts) {
  TestLedger ledger(4);
  absl::StatusOr<Trust> t = LoadTrust({Write("log", ledger.LogKeys())},
                                      {Write("e", ledger.EmitterKeys())}, "");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(VerifyProofFile(Write("p", ledger.ProofText(2)), *t).valid());
  EXPECT_TRUE(
      VerifyCheckpointFile(Write("c", ledger.Checkpoint(4)), *t).valid());
  Report r = VerifyConsistencyFiles(
      Write("c1", ledger.Checkpoint(1)), Write("c4", ledger.Checkpoint(4)),
      Write("cp", FormatProofHashes(ledger.Consistency(1, 4))), *t);
  EXPECT_TRUE(r.valid()) << r.ToText();
  r = VerifyConsistencyFiles(dir_ + "/c1", dir_ + "/none", dir_ + "/cp", *t);
  EXPECT_EQ(r.failed_check(), kCheckRead);
}

}  // namespace
}  // namespace ledger::verify
