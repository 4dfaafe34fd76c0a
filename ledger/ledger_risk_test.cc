// Risk grades in the ledger: stored in every entry from the first policy on,
// deterministic, rechecked when the ledger opens.

#include "gmock/gmock.h"
#include "ledger/entry.h"
#include "ledger/ledger_testing.h"
#include "ledger/risk_engine.h"

namespace ledger::testing {
namespace {

using ::testing::HasSubstr;

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
  // And the graded values are really there: the transfer, before the
  // grade.propagated entry of its output that closes the ledger.
  absl::StatusOr<Entry> transfer = DecodeEntry(a[a.size() - 2]);
  ASSERT_TRUE(transfer.ok());
  EXPECT_EQ(transfer->policy_version, 1u);
  EXPECT_EQ(transfer->risk.grade, RiskGrade::kCritical);  // core data abroad
  absl::StatusOr<Entry> last = DecodeEntry(a.back());
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(DecodeEvent(last->event_bytes)->type, "grade.propagated");
}

// The attribute `key` of `e`, or "(none)".
std::string AttrOf(const Event& e, std::string_view key) {
  const std::string* v = FindAttribute(e, key);
  return v == nullptr ? "(none)" : *v;
}

TEST_F(LedgerRiskTest, PropagatedGradesAreRecordedInTheirGroup) {
  ASSERT_TRUE(AppendOne(Batch({PolicyEvent(1, DefaultPolicy())}, node_key_))
                  .status.ok());
  const uint64_t before = ledger_->head().size;
  AppendResult r = Emit(Scenario());
  ASSERT_TRUE(r.status.ok()) << r.status;
  // The caller's two entries, then the ledger's own record of the grade
  // export-1 inherited from ds-core.
  ASSERT_EQ(r.entries.size(), 2u);
  EXPECT_EQ(r.entries[0].index, before);
  EXPECT_EQ(r.entries[1].index, before + 1);
  ASSERT_EQ(ledger_->head().size, before + 3);
  const Entry own = EntryAt(before + 2);
  EXPECT_EQ(own.received_at_ns, EntryAt(before + 1).received_at_ns);
  EXPECT_EQ(own.emitter.key_id, KeyIdOf(node_key_.public_key()));
  EXPECT_TRUE(VerifyEntrySignature(own, node_key_.public_key()).ok());
  EXPECT_EQ(own.risk.grade, RiskGrade::kLow);
  EXPECT_TRUE(own.risk.reasons.empty());
  absl::StatusOr<Event> e = DecodeEvent(own.event_bytes);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->type, "grade.propagated");
  EXPECT_EQ(e->tenant, kTenant);
  ASSERT_EQ(e->subjects.size(), 1u);
  EXPECT_EQ(e->subjects[0].id, "export-1");
  EXPECT_EQ(AttrOf(*e, "grade.level"), "core");
  EXPECT_EQ(AttrOf(*e, "grade.basis"), "propagated");
  EXPECT_EQ(AttrOf(*e, "propagated_from.000"), "ds-core");
  EXPECT_EQ(AttrOf(*e, "propagated_from.count"), "1");
  EXPECT_EQ(AttrOf(*e, "propagated_from.entries"), StrCat(before + 1));
  EXPECT_EQ(AttrOf(*e, "cause.index"), StrCat(before + 1));
  // It is found like any event, and reopening checks it against the
  // grades it recomputes.
  absl::StatusOr<std::optional<EntryRef>> found =
      ledger_->FindEvent(kTenant, e->event_id);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->index, before + 2);
  ASSERT_TRUE(Reopen().ok());

  // A source re-grade records each downstream grade it changes: lowering
  // ds-core (with an approver) lowers export-1 and then its copy abroad.
  Event transfer =
      DatasetEvent(20, "data.transferred_cross_border", {Ds("export-1")},
                   {Ds("abroad")}, {{"transfer.pi_persons", "5"}});
  ASSERT_TRUE(Emit({transfer}).status.ok());
  Event lower = Annotation(21);
  lower.type = "grade.changed";
  lower.subjects = {Ds("ds-core")};
  lower.attributes = {{"approver", "dpo"}, {"grade.level", "general"}};
  AppendResult l = Emit({lower});
  ASSERT_TRUE(l.status.ok()) << l.status;
  const uint64_t first = l.entries[0].index + 1;
  ASSERT_EQ(ledger_->head().size, first + 2);
  std::vector<std::string> subjects;
  for (uint64_t i = first; i < first + 2; ++i) {
    absl::StatusOr<Event> p = DecodeEvent(EntryAt(i).event_bytes);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->type, "grade.propagated");
    EXPECT_EQ(AttrOf(*p, "grade.level"), "general");
    EXPECT_EQ(AttrOf(*p, "cause.index"), StrCat(l.entries[0].index));
    subjects.push_back(p->subjects[0].id);
  }
  EXPECT_EQ(subjects, (std::vector<std::string>{"export-1", "abroad"}));
  ASSERT_TRUE(Reopen().ok());
}

TEST_F(LedgerRiskTest, OnlyTheLedgerWritesGradePropagatedEntries) {
  ASSERT_TRUE(AppendOne(Batch({PolicyEvent(1, DefaultPolicy())}, node_key_))
                  .status.ok());
  Event forged = Annotation(30);
  forged.type = "grade.propagated";
  forged.subjects = {Ds("ds-x")};
  forged.attributes = {{"grade.level", "general"}};
  const uint64_t size = ledger_->head().size;
  // Not even with the node key, and not from an emitter.
  for (const crypto::Ed25519PrivateKey* key : {&node_key_, &emitter_key_}) {
    AppendResult r = AppendOne(Batch({forged}, *key));
    EXPECT_TRUE(absl::IsPermissionDenied(r.status)) << r.status;
  }
  EXPECT_EQ(ledger_->head().size, size);
}

TEST_F(LedgerRiskTest, WithoutANodeKeyAPropagatingGroupFailsWhole) {
  ledger_.reset();
  LedgerOptions options = Options();
  options.node_key.reset();
  absl::StatusOr<std::unique_ptr<Ledger>> l = Ledger::Open(dir_, options);
  ASSERT_TRUE(l.ok()) << l.status();
  ledger_ = *std::move(l);
  ASSERT_TRUE(AppendOne(Batch({PolicyEvent(1, DefaultPolicy())}, node_key_))
                  .status.ok());
  const Head head = ledger_->head();
  AppendResult r = Emit(Scenario());
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status)) << r.status;
  EXPECT_THAT(std::string(r.status.message()), HasSubstr("no node key"));
  EXPECT_EQ(ledger_->head(), head);
  // An event that propagates nothing still goes in, graded from the state
  // before the failed group (rebuilt: the engine had seen it).
  AppendResult ok = Emit({Annotation(40)});
  ASSERT_TRUE(ok.status.ok()) << ok.status;
  EXPECT_EQ(ok.entries[0].index, head.size);
  EXPECT_FALSE(ledger_->GradeAt(kTenant, "ds-core", "", head.size).has_value());
  ASSERT_TRUE(Reopen().ok());
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
