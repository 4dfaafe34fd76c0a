// Risk grades in the ledger: stored in every entry from the first policy on,
// deterministic, rechecked when the ledger opens.

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "ledger/entry.h"
#include "ledger/ledger_testing.h"
#include "ledger/risk_engine.h"

namespace ledger::testing {
namespace {

using ::testing::HasSubstr;

Event PolicyEvent(int n, std::string_view text) {
  Event e = Annotation(n);
  e.type = "policy.changed";
  e.tenant = std::string(kLedgerTenant);
  e.actor = {ActorKind::kService, "admin", "admin"};
  e.subjects.clear();
  e.attributes = risk::PolicyAttributes(text);
  return e;
}

Event DatasetEvent(int n, std::string type, std::vector<SubjectRef> in,
                   std::vector<SubjectRef> out,
                   std::vector<std::pair<std::string, std::string>> attrs) {
  Event e = Annotation(n);
  e.type = std::move(type);
  e.subjects.clear();
  e.inputs = std::move(in);
  e.outputs = std::move(out);
  std::sort(attrs.begin(), attrs.end());
  e.attributes = std::move(attrs);
  return e;
}

SubjectRef Ds(std::string id) {
  return {SubjectKind::kDataset, std::move(id), "", std::nullopt, 0};
}

std::string DefaultPolicy() {
  std::ifstream in(LEDGER_DEFAULT_POLICY);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class LedgerRiskTest : public LedgerFixture {
 protected:
  // The risk fields of entry `index`.
  Entry EntryAt(uint64_t index) {
    absl::StatusOr<std::string> bytes = ledger_->GetEntry(index);
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    absl::StatusOr<Entry> e = DecodeEntry(bytes.value_or(""));
    EXPECT_TRUE(e.ok()) << e.status();
    return e.value_or(Entry{});
  }

  AppendResult Emit(std::vector<Event> events) {
    return AppendOne(Batch(std::move(events), emitter_key_));
  }

  // A core dataset exported without approval: R1 (and R4, the exporter
  // has no training).
  std::vector<Event> Scenario() {
    Event grade = Annotation(10);
    grade.type = "grade.assigned";
    grade.subjects = {Ds("ds-core")};
    grade.attributes = {{"grade.level", "core"}};
    return {grade, DatasetEvent(11, "dataset.exported", {Ds("ds-core")},
                                {Ds("export-1")}, {})};
  }
};

TEST_F(LedgerRiskTest, EntriesBeforeAPolicyAreUnassessed) {
  AppendResult r = Emit(Scenario());
  ASSERT_TRUE(r.status.ok()) << r.status;
  const Entry e = EntryAt(r.entries[1].index);
  EXPECT_EQ(e.risk.grade, RiskGrade::kUnassessed);
  EXPECT_TRUE(e.risk.reasons.empty());
  EXPECT_EQ(e.policy_version, 0u);
}

TEST_F(LedgerRiskTest, EveryEntryAfterThePolicyIsGradedAndExplained) {
  AppendResult p =
      AppendOne(Batch({PolicyEvent(1, DefaultPolicy())}, node_key_));
  ASSERT_TRUE(p.status.ok()) << p.status;
  const uint64_t k = p.entries[0].index;
  EXPECT_EQ(EntryAt(k).policy_version, 0u);  // graded before it took effect
  EXPECT_EQ(ledger_->policy_version(), 1u);
  AppendResult r = Emit(Scenario());
  ASSERT_TRUE(r.status.ok()) << r.status;
  const Entry grade = EntryAt(r.entries[0].index);
  EXPECT_EQ(grade.policy_version, 1u);
  const Entry exported = EntryAt(r.entries[1].index);
  EXPECT_EQ(exported.policy_version, 1u);
  EXPECT_EQ(exported.risk.grade, RiskGrade::kCritical);
  ASSERT_FALSE(exported.risk.reasons.empty());
  EXPECT_EQ(exported.risk.reasons[0],
            "R1 critical: dataset.exported of core data ds-core without an "
            "approval.ref naming an approval.granted [evidence " +
                std::to_string(r.entries[0].index) + "]");
  // The export's output inherits the grade.
  std::optional<risk::GradeRecord> g =
      ledger_->GradeAt(kTenant, "export-1", "", r.entries[1].index);
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->level, risk::Level::kCore);
  EXPECT_EQ(g->basis, "propagated");
  // Reopening recomputes every grade and finds the stored ones right.
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(ledger_->policy_version(), 1u);
  EXPECT_EQ(
      ledger_->GradeAt(kTenant, "export-1", "", r.entries[1].index)->level,
      risk::Level::kCore);
}

TEST_F(LedgerRiskTest, AnInvalidPolicyIsRefusedAndChangesNothing) {
  AppendResult p = AppendOne(
      Batch({PolicyEvent(1, "name = \"x\"\n[rules.R3]\npi_persons_high = 0\n")},
            node_key_));
  EXPECT_TRUE(absl::IsInvalidArgument(p.status)) << p.status;
  EXPECT_THAT(std::string(p.status.message()),
              HasSubstr("events[0]: policy: line 3: rules.R3.pi_persons_high: "
                        "must be at least 1, got 0"));
  EXPECT_EQ(ledger_->policy_version(), 0u);
  // Only the ledger tenant holds policies.
  Event other = PolicyEvent(2, "name = \"x\"\n");
  other.tenant = kTenant;
  AppendResult q = AppendOne(Batch({other}, node_key_));
  EXPECT_THAT(std::string(q.status.message()),
              HasSubstr("a policy.changed event belongs to '_ledger'"));
  // An emitter may not write one at all.
  AppendResult e = Emit({PolicyEvent(3, "name = \"x\"\n")});
  EXPECT_FALSE(e.status.ok());
  EXPECT_EQ(ledger_->policy_version(), 0u);
}

TEST_F(LedgerRiskTest, SameEventsGiveByteIdenticalLedgers) {
  const auto run = [&](const std::string& dir) {
    std::filesystem::remove_all(dir);
    LedgerOptions options = Options();
    absl::StatusOr<std::unique_ptr<Ledger>> l = Ledger::Open(dir, options);
    EXPECT_TRUE(l.ok()) << l.status();
    std::swap(ledger_, *l);
    AppendGenesis();
    RegisterEmitter();
    AppendOne(Batch({PolicyEvent(1, DefaultPolicy())}, node_key_));
    Emit(Scenario());
    Event transfer =
        DatasetEvent(20, "data.transferred_cross_border", {Ds("export-1")},
                     {Ds("abroad")}, {{"transfer.pi_persons", "5"}});
    Emit({transfer});
    std::vector<std::string> out;
    for (uint64_t i = 0; i < ledger_->head().size; ++i) {
      out.push_back(ledger_->GetEntry(i).value_or("missing"));
    }
    std::swap(ledger_, *l);
    return out;
  };
  const std::vector<std::string> a = run(dir_ + "/a");
  const std::vector<std::string> b = run(dir_ + "/b");
  const std::vector<std::string> c = run(dir_ + "/c");
  ASSERT_GE(a.size(), 6u);
  EXPECT_EQ(a, b);
  EXPECT_EQ(b, c);
  // And the graded values are really there.
  absl::StatusOr<Entry> last = DecodeEntry(a.back());
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->policy_version, 1u);
  EXPECT_EQ(last->risk.grade, RiskGrade::kCritical);  // core data abroad
}

TEST_F(LedgerRiskTest, OpenRefusesEntriesWhoseStoredGradesDiffer) {
  // A ledger written without risk evaluation stores "unassessed" where
  // the policy gives grades: reopened with evaluation, it is DataLoss.
  ledger_.reset();
  LedgerOptions off = Options();
  off.risk_evaluation = false;
  absl::StatusOr<std::unique_ptr<Ledger>> l = Ledger::Open(dir_, off);
  ASSERT_TRUE(l.ok()) << l.status();
  ledger_ = *std::move(l);
  ASSERT_TRUE(AppendOne(Batch({PolicyEvent(1, DefaultPolicy())}, node_key_))
                  .status.ok());
  AppendResult r = Emit(Scenario());
  ASSERT_TRUE(r.status.ok());
  absl::Status reopened = Reopen();
  EXPECT_TRUE(absl::IsDataLoss(reopened)) << reopened;
  EXPECT_THAT(std::string(reopened.message()),
              HasSubstr(StrCat("entry ", r.entries[0].index,
                               " stores risk unassessed under policy 0, but "
                               "its policy gives low under policy 1")));
}

}  // namespace
}  // namespace ledger::testing
