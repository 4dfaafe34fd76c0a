// ledger-verify grades: a real ledger's entries, exported, replayed offline;
// and the same file with one entry's grade changed or a record dropped.

#include "tools/verify/grades.h"

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "ledger/entry.h"
#include "ledger/ledger_testing.h"
#include "ledger/risk_engine.h"

namespace ledger::testing {
namespace {

using ::testing::HasSubstr;
using verify::Report;

SubjectRef Ds(std::string id) {
  return {SubjectKind::kDataset, std::move(id), "", std::nullopt, 0};
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class GradesTest : public LedgerFixture {
 protected:
  void SetUp() override {
    LedgerFixture::SetUp();
    Event policy = Annotation(1);
    policy.type = "policy.changed";
    policy.tenant = std::string(kLedgerTenant);
    policy.subjects.clear();
    policy.attributes = risk::PolicyAttributes(ReadAll(LEDGER_DEFAULT_POLICY));
    ASSERT_TRUE(AppendOne(Batch({policy}, node_key_)).status.ok());
    // Core data exported without approval (R1 critical); the export's
    // output inherits the grade (a grade.propagated entry).
    Event grade = Annotation(10);
    grade.type = "grade.assigned";
    grade.subjects = {Ds("ds-core")};
    grade.attributes = {{"grade.level", "core"}};
    Event exported = Annotation(11);
    exported.type = "dataset.exported";
    exported.subjects.clear();
    exported.inputs = {Ds("ds-core")};
    exported.outputs = {Ds("export-1")};
    AppendResult r = AppendOne(Batch({grade, exported}, emitter_key_));
    ASSERT_TRUE(r.status.ok()) << r.status;
    export_index_ = r.entries[1].index;
    ASSERT_TRUE(AppendOne(Batch({Annotation(12)}, emitter_key_)).status.ok());
    absl::StatusOr<std::vector<std::string>> all =
        ledger_->GetEntries(0, ledger_->head().size, 1000);
    ASSERT_TRUE(all.ok()) << all.status();
    entries_ = *std::move(all);
  }

  // Writes `entries` as an export file and returns its path.
  std::string WriteFile(const std::vector<std::string>& entries,
                        std::string_view name = "entries") {
    std::string bytes(verify::kEntriesFileMagic);
    for (const std::string& e : entries) verify::AppendEntryRecord(e, &bytes);
    const std::string path = StrCat(dir_, "/", name);
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  std::string SignedCheckpoint(uint64_t size, const Hash& root) {
    std::string text =
        FormatCheckpointBody(ledger::Checkpoint{kOrigin, size, root, {}});
    const crypto::NoteSigner* signers[] = {&log_signer_};
    return crypto::SignNote(text, signers, 1767225600);
  }

  verify::Trust LogTrust() {
    verify::Trust trust;
    trust.log_keys = {log_signer_.verifier()};
    return trust;
  }

  static std::string Field(const Report& r, std::string_view key) {
    const Report::Value* v = r.Find(key);
    if (v == nullptr) return "(none)";
    if (const uint64_t* n = std::get_if<uint64_t>(v)) return StrCat(*n);
    if (const std::string* s = std::get_if<std::string>(v)) return *s;
    return "(other)";
  }

  uint64_t export_index_ = 0;
  std::vector<std::string> entries_;
};

TEST_F(GradesTest, TheLedgersOwnEntriesReplayToTheirStoredGrades) {
  // The propagated grade's record closes the export's group.
  absl::StatusOr<Entry> own = DecodeEntry(entries_[export_index_ + 1]);
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(DecodeEvent(own->event_bytes)->type, "grade.propagated");

  const Head head = ledger_->head();
  verify::GradesOptions options;
  options.checkpoint = SignedCheckpoint(head.size, head.root);
  const Report r =
      verify::VerifyGradesFile(WriteFile(entries_), options, LogTrust());
  EXPECT_TRUE(r.valid()) << r.ToText();
  EXPECT_EQ(Field(r, "entries"), StrCat(entries_.size()));
  EXPECT_EQ(Field(r, "grade_propagated_entries"), "1");
  EXPECT_EQ(Field(r, "policies"), "1");
  EXPECT_EQ(Field(r, "mismatches"), "0");
  EXPECT_EQ(Field(r, "tree_size"), StrCat(head.size));
  // Every entry after the policy is graded: all but genesis, the emitter
  // key and the policy entry itself.
  EXPECT_EQ(Field(r, "graded"), StrCat(entries_.size() - 3));
}

TEST_F(GradesTest, AChangedGradeIsFoundAndNamed) {
  std::vector<std::string> changed = entries_;
  absl::StatusOr<Entry> last = DecodeEntry(changed.back());
  ASSERT_TRUE(last.ok());
  const std::string stored_grade(
      risk::RiskName(static_cast<risk::Risk>(last->risk.grade)));
  last->risk.grade = RiskGrade::kCritical;
  last->risk.reasons = {"R9 critical: invented"};
  changed.back() = EncodeEntry(*last);
  const Report r = verify::VerifyGradesFile(WriteFile(changed), {}, {});
  EXPECT_FALSE(r.valid());
  EXPECT_EQ(r.failed_check(), verify::kCheckGrades);
  EXPECT_THAT(r.reason(),
              HasSubstr(StrCat("entry ", changed.size() - 1,
                               " stores risk critical under policy 1; R9 "
                               "critical: invented, but its policy gives ",
                               stored_grade, " under policy 1")));
  EXPECT_EQ(Field(r, "mismatches"), "1");
  // The signed root no longer matches the file either.
  const Head head = ledger_->head();
  verify::GradesOptions options;
  options.checkpoint = SignedCheckpoint(head.size, head.root);
  const Report signed_r =
      verify::VerifyGradesFile(WriteFile(changed), options, LogTrust());
  EXPECT_EQ(signed_r.failed_check(), verify::kCheckRoot);
}

TEST_F(GradesTest, AMissingOrForeignPropagationRecordIsFound) {
  // Dropping the record (and relinking the entry after it, as a forger
  // would) leaves the propagation without its record.
  std::vector<std::string> dropped = entries_;
  dropped.erase(dropped.begin() + static_cast<long>(export_index_) + 1);
  Hash chain{};
  for (size_t i = 0; i < dropped.size(); ++i) {
    absl::StatusOr<Entry> e = DecodeEntry(dropped[i]);
    ASSERT_TRUE(e.ok());
    e->index = i;
    e->prev_chain_hash = chain;
    dropped[i] = EncodeEntry(*e);
    chain = ChainHash(chain, crypto::HashLeaf(dropped[i]));
  }
  Report r = verify::VerifyGradesFile(WriteFile(dropped), {}, {});
  EXPECT_EQ(r.failed_check(), verify::kCheckGrades) << r.ToText();
  // (Every group of this fixture has the same received_at, so the
  // record's absence shows at the end of the file.)
  EXPECT_THAT(r.reason(),
              HasSubstr(StrCat("1 grade propagation(s) have no "
                               "grade.propagated entry, the first caused by "
                               "entry ",
                               export_index_, " (export-1")));
  // A file that does not start at entry 0 cannot be replayed.
  std::vector<std::string> tail(entries_.begin() + 1, entries_.end());
  r = verify::VerifyGradesFile(WriteFile(tail), {}, {});
  EXPECT_EQ(r.failed_check(), verify::kCheckIndex);
  // Nor a file cut inside a record.
  const std::string path = WriteFile(entries_);
  std::string bytes = ReadAll(path);
  bytes.resize(bytes.size() - 3);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  r = verify::VerifyGradesFile(path, {}, {});
  EXPECT_EQ(r.failed_check(), verify::kCheckParse);
}

TEST_F(GradesTest, TheCommandLineExitsOneOnAMismatch) {
  const std::string keys = StrCat(dir_, "/log.vkeys");
  std::ofstream(keys) << crypto::FormatVerifierKey(log_signer_.verifier())
                      << "\n";
  const Head head = ledger_->head();
  const std::string cp = StrCat(dir_, "/cp");
  std::ofstream(cp) << SignedCheckpoint(head.size, head.root);
  const auto run = [&](const std::string& file) {
    const std::string cmd =
        StrCat(LEDGER_VERIFY_BINARY, " grades ", file, " --checkpoint ", cp,
               " --keys ", keys, " 2>/dev/null");
    FILE* pipe = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    size_t n;
    while (pipe != nullptr && (n = fread(buf, 1, sizeof(buf), pipe)) > 0) {
      out.append(buf, n);
    }
    const int status = pipe == nullptr ? -1 : pclose(pipe);
    return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, out);
  };
  auto [ok_code, ok_out] = run(WriteFile(entries_));
  EXPECT_EQ(ok_code, 0) << ok_out;
  EXPECT_THAT(ok_out, HasSubstr("VALID grades"));
  std::vector<std::string> changed = entries_;
  absl::StatusOr<Entry> last = DecodeEntry(changed.back());
  last->policy_version = 7;
  changed.back() = EncodeEntry(*last);
  auto [bad_code, bad_out] = run(WriteFile(changed, "changed"));
  EXPECT_EQ(bad_code, 1) << bad_out;
  EXPECT_THAT(bad_out, HasSubstr("INVALID grades"));
}

}  // namespace
}  // namespace ledger::testing
