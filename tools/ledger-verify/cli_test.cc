// Runs the ledger-verify binary as a process: the command line, output and
// exit codes are its contract with regulators' scripts.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "ledger/answer.h"
#include "ledger/merkle.h"
#include "ledger/tlog_proof.h"
#include "ledger/tlog_proof_extra.h"
#include "nlohmann/json.hpp"
#include "tools/verify/test_ledger.h"
#include "tools/verify/verify.h"

namespace ledger::verify {
namespace {

struct ProcessResult {
  int exit_code = -1;
  std::string out;
};

// Runs ledger-verify with `args` (already shell-quoted where needed);
// stderr is discarded.
ProcessResult RunVerify(const std::string& args) {
  const std::string cmd =
      std::string(LEDGER_VERIFY_BINARY) + " " + args + " 2>/dev/null";
  ProcessResult run;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return run;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) run.out.append(buf, n);
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

class LedgerVerifyCliTest : public ::testing::Test {
 protected:
  LedgerVerifyCliTest() : ledger_(6) {}
  void SetUp() override {
    char tmpl[] = "/tmp/ledger_verify_cli_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    keys_ = Write("log.vkeys", ledger_.LogKeys());
    emitter_ = Write("emitter.pub", ledger_.EmitterKeys());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  testing::TestLedger ledger_;
  std::string dir_;
  std::string keys_;
  std::string emitter_;
};

TEST_F(LedgerVerifyCliTest, ValidProofExitsZeroAndSaysWhoSigned) {
  const std::string proof = Write("p2", ledger_.ProofText(2));
  ProcessResult r = RunVerify("proof " + proof + " --keys " + keys_ +
                              " --emitter-keys " + emitter_);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out.rfind("VALID proof " + proof + "\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("  emitter_key: emitter-acme\n"), std::string::npos)
      << r.out;
}

TEST_F(LedgerVerifyCliTest, JsonOutputIsOneObjectPerFile) {
  const std::string good = Write("good", ledger_.ProofText(1));
  std::string tampered_text = ledger_.ProofText(3);
  tampered_text[tampered_text.find("\nindex 3\n") + 7] = '4';
  const std::string bad = Write("bad", tampered_text);
  ProcessResult r = RunVerify("proof " + good + " " + bad + " --keys " + keys_ +
                              " --json --origin " + testing::kOrigin);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  std::istringstream lines(r.out);
  std::string line;
  std::vector<nlohmann::json> reports;
  while (std::getline(lines, line)) {
    reports.push_back(nlohmann::json::parse(line));
  }
  ASSERT_EQ(reports.size(), 2u) << r.out;
  EXPECT_EQ(reports[0]["result"], "VALID");
  EXPECT_EQ(reports[0]["subject"], good);
  EXPECT_EQ(reports[0]["index"], 1);
  EXPECT_EQ(reports[1]["result"], "INVALID");
  EXPECT_EQ(reports[1]["failed_check"], "inclusion");
  EXPECT_FALSE(reports[1]["reason"].get<std::string>().empty());
}

TEST_F(LedgerVerifyCliTest, TextOutputOfSeveralFilesEndsWithASummary) {
  const std::string good = Write("good", ledger_.ProofText(1));
  ProcessResult r =
      RunVerify("proof " + good + " " + dir_ + "/missing --keys " + keys_);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("INVALID proof " + dir_ +
                       "/missing\n  failed check: "
                       "read\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("summary: 1 valid, 1 invalid\n"), std::string::npos)
      << r.out;
}

TEST_F(LedgerVerifyCliTest, UnknownEmitterKeyExitsOne) {
  const std::string other =
      Write("other.pub", testing::TestLedger(0, "x").LogKeys());
  ProcessResult r = RunVerify("proof " + Write("p", ledger_.ProofText(0)) +
                              " --keys " + keys_ + " --emitter-keys " + other);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("failed check: emitter_key"), std::string::npos)
      << r.out;
}

TEST_F(LedgerVerifyCliTest, CheckpointAndConsistency) {
  const std::string cp2 = Write("cp2", ledger_.Checkpoint(2));
  const std::string cp6 = Write("cp6", ledger_.Checkpoint(6));
  EXPECT_EQ(RunVerify("checkpoint " + cp6 + " --keys " + keys_).exit_code, 0);
  const std::string proof =
      Write("c", FormatProofHashes(ledger_.Consistency(2, 6)));
  ProcessResult r =
      RunVerify("consistency --old " + cp2 + " --new " + cp6 + " --proof " +
                proof + " --keys " + keys_ + " --json");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["result"], "VALID");
  r = RunVerify("consistency --old " + cp6 + " --new " + cp2 + " --proof " +
                proof + " --keys " + keys_);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("failed check: consistency"), std::string::npos);
}

TEST_F(LedgerVerifyCliTest, UsageErrorsExitTwo) {
  const std::string proof = Write("p", ledger_.ProofText(0));
  EXPECT_EQ(RunVerify("").exit_code, 2);
  EXPECT_EQ(RunVerify("proof " + proof).exit_code, 2);         // no --keys
  EXPECT_EQ(RunVerify("proof --keys " + keys_).exit_code, 2);  // no FILE
  EXPECT_EQ(RunVerify("frobnicate").exit_code, 2);
  EXPECT_EQ(
      RunVerify("proof " + proof + " --keys " + keys_ + " --bogus").exit_code,
      2);
  EXPECT_EQ(RunVerify("proof " + proof + " --keys " + dir_ + "/none").exit_code,
            2);
  EXPECT_EQ(RunVerify("proof " + proof + " --keys " + proof).exit_code, 2);
  EXPECT_EQ(RunVerify("consistency --old a --new b --keys " + keys_).exit_code,
            2);  // no --proof
  EXPECT_EQ(RunVerify("--help").exit_code, 0);
}

// A receipt with key evidence verifies with the log's keys alone and says
// whom the key was registered for; tampering with the evidence in the extra
// data makes it INVALID.
TEST_F(LedgerVerifyCliTest, KeyEvidenceNeedsNoEmitterKeysAndResistsTampering) {
  const uint64_t reg = ledger_.RegisterEmitter("label-studio");
  ledger_.AppendBatch(1);
  const uint64_t index = ledger_.size() - 1;
  const TlogProof proof = ledger_.ProofWithKeys(index, ledger_.size(), {reg});
  const std::string good = Write("good.tlog-proof", FormatTlogProof(proof));
  ProcessResult r = RunVerify("proof " + good + " --keys " + keys_);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out.rfind("VALID proof " + good + "\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("  key_tenant: acme\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  key_producer: label-studio\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(StrCat("  key_registered_by_entry: ", reg, "\n")),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  key_registered_by: admin-1 (admin)\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  emitter_signature: verified (key from its "
                       "registration)\n"),
            std::string::npos)
      << r.out;

  absl::StatusOr<ReceiptExtra> extra = DecodeReceiptExtra(*proof.extra);
  ASSERT_TRUE(extra.ok()) << extra.status();
  // The registration's tenant changed from "acme" to "acmf".
  std::string& key_entry = extra->key_entries[0].entry;
  const size_t at = key_entry.rfind("acme");
  ASSERT_NE(at, std::string::npos);
  key_entry[at + 3] = 'f';
  TlogProof tampered = proof;
  tampered.extra = EncodeReceiptExtra(*extra);
  const std::string bad = Write("bad.tlog-proof", FormatTlogProof(tampered));
  r = RunVerify("proof " + bad + " --keys " + keys_);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(r.out.rfind("INVALID proof " + bad + "\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("  failed check: key_evidence\n"), std::string::npos)
      << r.out;
}

// An answer file for entries `indexes` of the test ledger, proven in its
// checkpoint of the whole ledger.
Answer MakeAnswer(testing::TestLedger& ledger, AnswerKind kind,
                  std::optional<AnswerSubject> subject,
                  const std::vector<uint64_t>& indexes) {
  std::vector<Hash> leaves;
  for (uint64_t i = 0; i < ledger.size(); ++i) {
    leaves.push_back(crypto::HashLeaf(ledger.entry_bytes(i)));
  }
  InMemoryTree tree(leaves);
  Answer a;
  a.kind = kind;
  a.params = {{"depth", "2"}};
  a.tenant = "acme";
  a.subject = std::move(subject);
  a.as_of = ledger.size();
  for (uint64_t i : indexes) {
    a.entries.push_back({i, true, ledger.entry_bytes(i)});
  }
  a.proof = *MultiInclusionProof(tree, indexes, ledger.size());
  a.checkpoint = ledger.Checkpoint(ledger.size());
  return a;
}

TEST_F(LedgerVerifyCliTest, AnswerSaysWhatItProvesAndFailsWhenTampered) {
  // Entry 2 is the only entry about item-3 (TestLedger::MakeEvent).
  const Answer history =
      MakeAnswer(ledger_, AnswerKind::kHistory,
                 AnswerSubject{LinkKind::kItem, "item-3"}, {2});
  const std::string good = Write("history.answer", *EncodeAnswer(history));
  ProcessResult r = RunVerify("answer " + good + " --keys " + keys_);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out.rfind("VALID answer " + good + "\n", 0), 0u) << r.out;
  for (const std::string& line : {
           std::string("  query: history (depth=2)\n"),
           std::string("  subject: item item-3\n"),
           std::string("  check_inclusion: ok: 1 entries with "),
           std::string("  check_chain: ok: each entry's back-link points"),
           StrCat("  proven_1: entries: 1 entries, all included in "
                  "checkpoint of size 6 (origin ",
                  testing::kOrigin, ")\n"),
           std::string("  proven_3: complete between index 2 and 2: no entry "
                       "about item 'item-3' of tenant 'acme' between them "
                       "was left out\n"),
           std::string("  proven_4: complete from the subject's first entry: "
                       "entry 2 is the first entry about the subject\n"),
           std::string("  not_proven_1: entries after index 2 up to size 6 "
                       "not covered (completeness after the last returned "
                       "entry is not provable with back-links)\n"),
       }) {
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  }

  // Several entries of a lineage answer, one byte of one entry changed.
  Answer lineage =
      MakeAnswer(ledger_, AnswerKind::kUpstream, std::nullopt, {1, 3, 4});
  const std::string ok = Write("lineage.answer", *EncodeAnswer(lineage));
  r = RunVerify("answer " + ok + " --keys " + keys_ + " --json");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  nlohmann::json report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["result"], "VALID");
  EXPECT_EQ(report["entries"], 3);
  EXPECT_NE(report["not_proven_1"].get<std::string>().find("completeness"),
            std::string::npos);
  lineage.entries[1].bytes[10] ^= 0x01;
  const std::string bad = Write("bad.answer", *EncodeAnswer(lineage));
  r = RunVerify("answer " + bad + " " + good + " --keys " + keys_);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(r.out.rfind("INVALID answer " + bad +
                            "\n  failed check: "
                            "inclusion\n  reason: the entries and the ",
                        0),
            0u)
      << r.out;
  EXPECT_NE(r.out.find("summary: 1 valid, 1 invalid\n"), std::string::npos)
      << r.out;
  // Not an answer at all.
  r = RunVerify("answer " + Write("x", ledger_.ProofText(1)) + " --keys " +
                keys_);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("  failed check: parse\n  reason: answer line 1: "),
            std::string::npos)
      << r.out;
}

}  // namespace
}  // namespace ledger::verify
