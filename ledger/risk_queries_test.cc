// The findings index and the risk queries (ledger/risk_findings.h,
// ledger/risk_queries.h) on a real ledger.

#include "ledger/risk_queries.h"

#include <atomic>
#include <thread>

#include "gmock/gmock.h"
#include "ledger/ledger_testing.h"
#include "ledger/risk_engine.h"

namespace ledger::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

SubjectRef Ds(std::string id, std::string version = "") {
  return {SubjectKind::kDataset, std::move(id), std::move(version),
          std::nullopt, 0};
}

Event DatasetEvent(int n, std::string type, std::vector<SubjectRef> in,
                   std::vector<SubjectRef> out, std::string actor = "user:7") {
  Event e = Annotation(n);
  e.type = std::move(type);
  e.subjects.clear();
  e.inputs = std::move(in);
  e.outputs = std::move(out);
  e.actor.id = std::move(actor);
  return e;
}

Event GradeEvent(int n, std::string type, SubjectRef ds, std::string level,
                 std::string flags = "") {
  Event e = Annotation(n);
  e.type = std::move(type);
  e.subjects = {std::move(ds)};
  e.attributes = {{"approver", "dpo"},
                  {"grade.flags", std::move(flags)},
                  {"grade.level", std::move(level)}};
  return e;
}

constexpr int64_t kSecond = 1'000'000'000;

class RiskQueriesTest : public LedgerFixture {
 protected:
  AppendResult Emit(std::vector<Event> events, int64_t t = kNewYear2026Ns) {
    return AppendOne(Batch(std::move(events), emitter_key_), t);
  }

  void SetPolicy() {
    AppendResult p =
        AppendOne(Batch({PolicyEvent(1, DefaultPolicy())}, node_key_));
    ASSERT_TRUE(p.status.ok()) << p.status;
  }

  // Two core exports without approval (R1 critical, and R4 high: the
  // exporters have no training) by user:7 and user:8 an hour apart, and an
  // annotation (low) between them. Returns the exports' indexes.
  std::vector<uint64_t> Exports() {
    std::vector<uint64_t> out;
    AppendResult g =
        Emit({GradeEvent(10, "grade.assigned", Ds("ds-core"), "core")});
    EXPECT_TRUE(g.status.ok()) << g.status;
    AppendResult a = Emit({DatasetEvent(11, "dataset.exported", {Ds("ds-core")},
                                        {Ds("export-1")}, "user:7")},
                          kNewYear2026Ns + 10 * kSecond);
    EXPECT_TRUE(a.status.ok()) << a.status;
    EXPECT_TRUE(
        Emit({Annotation(12)}, kNewYear2026Ns + 20 * kSecond).status.ok());
    AppendResult b = Emit({DatasetEvent(13, "dataset.exported", {Ds("ds-core")},
                                        {Ds("export-2")}, "user:8")},
                          kNewYear2026Ns + 3600 * kSecond);
    EXPECT_TRUE(b.status.ok()) << b.status;
    if (a.entries.empty() || b.entries.empty()) return out;
    out.push_back(a.entries[0].index);
    out.push_back(b.entries[0].index);
    return out;
  }

  std::vector<uint64_t> FindingIndexes(const FindingsAnswer& answer) {
    std::vector<uint64_t> out;
    for (const FindingRow& row : answer.findings) out.push_back(row.index);
    return out;
  }

  // Everything the index holds for the tenants used here.
  std::string IndexDump() {
    std::string out;
    for (std::string_view tenant : {std::string_view(kTenant), kLedgerTenant}) {
      RiskFindingsFilter all;
      for (const RiskFinding& f :
           ledger_->FindRiskFindings(tenant, all, 0, UINT64_MAX, 1'000'000)) {
        out += StrCat(tenant, " ", f.index, " ", risk::RiskName(f.risk), " ",
                      f.rules, " ", f.actor, "\n");
      }
      const RiskCounts c = ledger_->CountRisk(tenant, 0, UINT64_MAX);
      out += StrCat(tenant, " entries ", c.entries, " unassessed ",
                    c.unassessed, " low ", c.low, " medium ", c.medium,
                    " high ", c.high, " critical ", c.critical, "\n");
    }
    return out;
  }
};

TEST(RiskReasonTest, ParsesRuleLevelTextAndEvidence) {
  RiskReason r = ParseRiskReason(
      "R1 critical: dataset.exported of core data ds [evidence 3,17]");
  EXPECT_EQ(r.rule, "R1");
  EXPECT_EQ(r.level, "critical");
  EXPECT_EQ(r.text, "dataset.exported of core data ds");
  EXPECT_THAT(r.evidence, ElementsAre(3, 17));
  RiskReason n = ParseRiskReason("R12 not evaluable: no source.ip");
  EXPECT_EQ(n.rule, "R12");
  EXPECT_EQ(n.level, "not evaluable");
  EXPECT_EQ(n.text, "no source.ip");
  EXPECT_TRUE(n.evidence.empty());
  // Text that is not a reason keeps only its raw form.
  RiskReason odd = ParseRiskReason("something else");
  EXPECT_EQ(odd.rule, "");
  EXPECT_EQ(odd.raw, "something else");
  // A rule's level: the highest of its reasons; not evaluable counts none.
  const RuleLevels levels = RuleLevelsOf(
      {"R4 high: a", "R1 critical: b", "R4 medium: c", "R12 not evaluable: d"});
  EXPECT_EQ(RuleLevel(levels, 1), risk::Risk::kCritical);
  EXPECT_EQ(RuleLevel(levels, 4), risk::Risk::kHigh);
  EXPECT_EQ(RuleLevel(levels, 12), risk::Risk::kLow);
  EXPECT_EQ(ParseRiskRule("R15"), 15);
  EXPECT_EQ(ParseRiskRule("R0"), std::nullopt);
  EXPECT_EQ(ParseRiskRule("R01"), std::nullopt);
  EXPECT_EQ(ParseRiskRule("x1"), std::nullopt);
}

TEST(RiskFindingsIndexTest, FindStopsAfterMaxScannedAndSaysWhereToResume) {
  RiskFindingsIndex index;
  for (uint64_t i = 0; i < 6; ++i) {
    index.Add(i, "t", i == 4 ? "b" : "a",
              i % 2 == 0 ? risk::Risk::kHigh : risk::Risk::kLow,
              {"R4 high: x"});
  }
  index.Add(6, "u", "b", risk::Risk::kHigh, {"R4 high: x"});
  EXPECT_EQ(index.findings(), 4u);  // 0, 2, 4 of t; 6 of u
  RiskFindingsFilter only_b;
  only_b.actor = "b";
  std::optional<uint64_t> resume;
  // Two findings looked at (0 and 2, neither b's): none, resume at 4.
  EXPECT_TRUE(index.Find("t", only_b, 0, 100, 10, 2, &resume).empty());
  EXPECT_EQ(resume, 4u);
  std::vector<RiskFinding> found =
      index.Find("t", only_b, 4, 100, 10, 2, &resume);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].index, 4u);
  EXPECT_EQ(resume, std::nullopt);
  // Counts: t's six entries, three of them findings.
  const RiskCounts c = index.Count("t", 0, 100);
  EXPECT_EQ(c.entries, 6u);
  EXPECT_EQ(c.low, 3u);
  EXPECT_EQ(c.high, 3u);
  EXPECT_EQ(c.rules[4].high, 3u);
  EXPECT_EQ(index.Count("t", 1, 3).entries, 2u);
  EXPECT_EQ(index.Count("u", 0, 6).entries, 0u);
}

TEST_F(RiskQueriesTest, IndexBuiltAtOpenEqualsIndexBuiltWhileAppending) {
  Emit({Annotation(2)});  // unassessed: before the policy
  SetPolicy();
  const std::vector<uint64_t> exports = Exports();
  ASSERT_EQ(exports.size(), 2u);
  const std::string appended = IndexDump();
  EXPECT_THAT(appended, HasSubstr(StrCat("acme-ai ", exports[0], " critical")));
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(IndexDump(), appended);
}

TEST_F(RiskQueriesTest, FindingsFilterByLevelRuleActorAndWindow) {
  SetPolicy();
  const std::vector<uint64_t> exports = Exports();
  ASSERT_EQ(exports.size(), 2u);
  RiskQueries q(*ledger_);
  RiskFindingsFilter filter;
  absl::StatusOr<FindingsAnswer> all = q.Findings(kTenant, filter, {}, {});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->as_of, ledger_->head().size);
  // Medium and above: the exports, and perhaps other findings (the grade
  // assignment is low).
  EXPECT_THAT(FindingIndexes(*all), ::testing::IsSupersetOf(exports));
  filter.min_level = risk::Risk::kCritical;
  filter.rule = 1;
  absl::StatusOr<FindingsAnswer> r1 = q.Findings(kTenant, filter, {}, {});
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_EQ(FindingIndexes(*r1), exports);
  const FindingRow& row = r1->findings[0];
  EXPECT_EQ(row.type, "dataset.exported");
  EXPECT_EQ(row.actor.id, "user:7");
  EXPECT_EQ(row.risk, risk::Risk::kCritical);
  EXPECT_EQ(row.policy_version, 1u);
  ASSERT_FALSE(row.reasons.empty());
  EXPECT_EQ(row.reasons[0].rule, "R1");
  EXPECT_EQ(row.reasons[0].level, "critical");
  EXPECT_EQ(row.reasons[0].evidence.size(), 1u);
  EXPECT_FALSE(row.bytes.empty());
  // Another rule, an actor, a window.
  filter.rule = 9;  // logging.stopped: none here
  EXPECT_TRUE(q.Findings(kTenant, filter, {}, {})->findings.empty());
  filter.rule = 1;
  filter.actor = "user:8";
  EXPECT_THAT(FindingIndexes(*q.Findings(kTenant, filter, {}, {})),
              ElementsAre(exports[1]));
  filter.actor.clear();
  TimeWindow first_minute{kNewYear2026Ns, kNewYear2026Ns + 60 * kSecond};
  absl::StatusOr<FindingsAnswer> w =
      q.Findings(kTenant, filter, first_minute, {});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_THAT(FindingIndexes(*w), ElementsAre(exports[0]));
  EXPECT_LE(w->first_index, exports[0]);
  EXPECT_LE(w->end_index, exports[1]);
  // Another tenant has none; bad parameters name the field.
  EXPECT_TRUE(q.Findings("other", filter, {}, {})->findings.empty());
  EXPECT_THAT(q.Findings("", filter, {}, {}).status().message(),
              HasSubstr("tenant: must not be empty"));
  filter.min_level = risk::Risk::kLow;
  EXPECT_THAT(q.Findings(kTenant, filter, {}, {}).status().message(),
              HasSubstr("min_level: low is not a finding's level"));
  filter.min_level = risk::Risk::kMedium;
  TimeWindow backwards{kNewYear2026Ns + 1, kNewYear2026Ns};
  EXPECT_TRUE(absl::IsInvalidArgument(
      q.Findings(kTenant, filter, backwards, {}).status()));
}

TEST_F(RiskQueriesTest, FindingsPagesAndAsOf) {
  SetPolicy();
  const std::vector<uint64_t> exports = Exports();
  ASSERT_EQ(exports.size(), 2u);
  RiskQueries q(*ledger_);
  RiskFindingsFilter filter;
  filter.min_level = risk::Risk::kCritical;
  PageRequest page;
  page.page_size = 1;
  absl::StatusOr<FindingsAnswer> p1 = q.Findings(kTenant, filter, {}, page);
  ASSERT_TRUE(p1.ok()) << p1.status();
  EXPECT_THAT(FindingIndexes(*p1), ElementsAre(exports[0]));
  ASSERT_FALSE(p1->next_page_token.empty());
  // Entries appended after the first page do not reach the walk.
  Emit({DatasetEvent(14, "dataset.exported", {Ds("ds-core")}, {Ds("x-3")})},
       kNewYear2026Ns + 7200 * kSecond);
  page.page_token = p1->next_page_token;
  absl::StatusOr<FindingsAnswer> p2 = q.Findings(kTenant, filter, {}, page);
  ASSERT_TRUE(p2.ok()) << p2.status();
  EXPECT_THAT(FindingIndexes(*p2), ElementsAre(exports[1]));
  EXPECT_EQ(p2->as_of, p1->as_of);
  EXPECT_TRUE(p2->next_page_token.empty());
  // A token answers only its own query.
  RiskFindingsFilter other = filter;
  other.actor = "user:7";
  EXPECT_THAT(q.Findings(kTenant, other, {}, page).status().message(),
              HasSubstr("page_token: belongs to a risk_findings query with "
                        "other parameters"));
  // as_of: only entries below it.
  PageRequest before;
  before.as_of = exports[1];
  EXPECT_THAT(FindingIndexes(*q.Findings(kTenant, filter, {}, before)),
              ElementsAre(exports[0]));
  before.as_of = ledger_->head().size + 1;
  EXPECT_THAT(q.Findings(kTenant, filter, {}, before).status().message(),
              HasSubstr("is beyond the ledger's size"));
}

TEST_F(RiskQueriesTest, AFailedGroupLeavesNoFindings) {
  // Without a node key a group that propagates a grade fails whole after
  // the engine graded it; its critical export must not be found.
  ledger_.reset();
  LedgerOptions options = Options();
  options.node_key.reset();
  absl::StatusOr<std::unique_ptr<Ledger>> l = Ledger::Open(dir_, options);
  ASSERT_TRUE(l.ok()) << l.status();
  ledger_ = *std::move(l);
  SetPolicy();
  ASSERT_TRUE(Emit({GradeEvent(10, "grade.assigned", Ds("ds-core"), "core")})
                  .status.ok());
  const uint64_t size = ledger_->head().size;
  AppendResult failed = Emit({DatasetEvent(11, "dataset.exported",
                                           {Ds("ds-core")}, {Ds("export-1")})});
  ASSERT_TRUE(absl::IsFailedPrecondition(failed.status)) << failed.status;
  RiskFindingsFilter filter;
  EXPECT_TRUE(
      ledger_->FindRiskFindings(kTenant, filter, size, UINT64_MAX, 10).empty());
  // The next entry takes the index: an annotation by an untrained human
  // (R4 high), found as itself, and the counts are the stored entries'.
  AppendResult ok = Emit({Annotation(40)});
  ASSERT_TRUE(ok.status.ok()) << ok.status;
  ASSERT_EQ(ok.entries[0].index, size);
  absl::StatusOr<FindingsAnswer> found =
      RiskQueries(*ledger_).Findings(kTenant, filter, std::nullopt, {});
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_FALSE(found->findings.empty());
  EXPECT_EQ(found->findings.back().index, size);
  EXPECT_EQ(found->findings.back().type, "annotation.created");
  EXPECT_EQ(found->findings.back().risk, risk::Risk::kHigh);
  const RiskCounts counts = ledger_->CountRisk(kTenant, size, UINT64_MAX);
  EXPECT_EQ(counts.entries, 1u);
  EXPECT_EQ(counts.high, 1u);
  EXPECT_EQ(counts.critical, 0u);
  const std::string dump = IndexDump();
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(IndexDump(), dump);
}

TEST_F(RiskQueriesTest, SummaryCountsPerLevelAndRule) {
  Emit({Annotation(2)});
  const uint64_t before_policy =
      ledger_->CountRisk(kTenant, 0, UINT64_MAX).entries;
  ASSERT_GE(before_policy, 1u);
  SetPolicy();
  const std::vector<uint64_t> exports = Exports();
  ASSERT_EQ(exports.size(), 2u);
  RiskQueries q(*ledger_);
  absl::StatusOr<SummaryAnswer> s = q.Summary(kTenant, {}, std::nullopt);
  ASSERT_TRUE(s.ok()) << s.status();
  const RiskCounts& c = s->counts;
  EXPECT_EQ(s->first_index, 0u);
  EXPECT_EQ(s->end_index, ledger_->head().size);
  // The tenant's entries before the policy are unassessed; the grade
  // assignment and the two grade.propagated records are low; the
  // annotation by an untrained human is high (R4).
  EXPECT_EQ(c.unassessed, before_policy);
  EXPECT_EQ(c.low, 3u);
  EXPECT_EQ(c.high, 1u);
  EXPECT_EQ(c.rules[4].high, 3u);  // the annotation and both exports
  EXPECT_EQ(c.critical, 2u);
  EXPECT_EQ(c.rules[1].critical, 2u);
  EXPECT_EQ(c.entries, c.unassessed + c.low + c.medium + c.high + c.critical);
  // A window holding the first export only, and an index range holding the
  // second only.
  SummaryRange window;
  window.window =
      TimeWindow{kNewYear2026Ns + 5 * kSecond, kNewYear2026Ns + 60 * kSecond};
  absl::StatusOr<SummaryAnswer> w = q.Summary(kTenant, window, std::nullopt);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->counts.critical, 1u);
  EXPECT_EQ(w->counts.unassessed, 0u);
  SummaryRange range;
  range.indexes = std::make_pair(exports[1], exports[1] + 1);
  absl::StatusOr<SummaryAnswer> r = q.Summary(kTenant, range, std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->counts.entries, 1u);
  EXPECT_EQ(r->counts.critical, 1u);
  EXPECT_EQ(r->counts.rules[1].critical, 1u);
  // as_of below the second export does not count it.
  absl::StatusOr<SummaryAnswer> early = q.Summary(kTenant, {}, exports[1]);
  ASSERT_TRUE(early.ok());
  EXPECT_EQ(early->counts.critical, 1u);
  range.indexes = std::make_pair(uint64_t{5}, uint64_t{4});
  EXPECT_THAT(q.Summary(kTenant, range, std::nullopt).status().message(),
              HasSubstr("indexes.start: 5 is after the end 4"));
}

// Queries on another thread while groups are appended: every answer is
// consistent with its own as_of (run under TSan for the locking).
TEST_F(RiskQueriesTest, QueriesRunConcurrentlyWithAppends) {
  SetPolicy();
  ASSERT_TRUE(Emit({GradeEvent(10, "grade.assigned", Ds("ds-core"), "core")})
                  .status.ok());
  std::atomic<bool> done{false};
  std::thread reader([&] {
    RiskQueries q(*ledger_);
    RiskFindingsFilter filter;
    filter.min_level = risk::Risk::kCritical;
    int rounds = 0;
    while (!done.load() || rounds < 3) {
      ++rounds;
      absl::StatusOr<FindingsAnswer> f =
          q.Findings(kTenant, filter, std::nullopt, {});
      ASSERT_TRUE(f.ok()) << f.status();
      for (const FindingRow& row : f->findings) {
        EXPECT_LT(row.index, f->as_of);
        EXPECT_EQ(row.type, "dataset.exported");
      }
      absl::StatusOr<SummaryAnswer> s = q.Summary(kTenant, {}, f->as_of);
      ASSERT_TRUE(s.ok()) << s.status();
      EXPECT_EQ(s->counts.critical, f->findings.size());
      ASSERT_TRUE(q.Explain(kTenant, "export-1", "", std::nullopt).ok());
    }
  });
  for (int i = 0; i < 40; ++i) {
    AppendResult r = Emit({DatasetEvent(100 + i, "dataset.exported",
                                        {Ds("ds-core")}, {Ds("export-1")})});
    ASSERT_TRUE(r.status.ok()) << r.status;
  }
  done.store(true);
  reader.join();
  RiskFindingsFilter critical;
  critical.min_level = risk::Risk::kCritical;
  EXPECT_EQ(
      ledger_->FindRiskFindings(kTenant, critical, 0, UINT64_MAX, 100).size(),
      40u);
}

// a (core, pi) -> b, a -> c, b + c -> d: d's grade comes from b and c, each
// from a. Then a is lowered to general: the explanation as of before the
// regrade keeps core, after it general.
TEST_F(RiskQueriesTest, ExplainFollowsADiamondAndAsOf) {
  SetPolicy();
  ASSERT_TRUE(
      Emit({GradeEvent(10, "grade.assigned", Ds("a", "1"), "core", "pi")})
          .status.ok());
  AppendResult ab =
      Emit({DatasetEvent(11, "data.cleaned", {Ds("a", "1")}, {Ds("b", "1")})});
  AppendResult ac =
      Emit({DatasetEvent(12, "data.filtered", {Ds("a", "1")}, {Ds("c", "1")})});
  AppendResult bcd = Emit({DatasetEvent(
      13, "data.aggregated", {Ds("b", "1"), Ds("c", "1")}, {Ds("d", "1")})});
  ASSERT_TRUE(ab.status.ok() && ac.status.ok() && bcd.status.ok());
  // A second diamond below d: d -> e, d -> f, e + f -> g.
  ASSERT_TRUE(
      Emit({DatasetEvent(15, "data.cleaned", {Ds("d", "1")}, {Ds("e", "1")}),
            DatasetEvent(16, "data.filtered", {Ds("d", "1")}, {Ds("f", "1")}),
            DatasetEvent(17, "data.aggregated", {Ds("e", "1"), Ds("f", "1")},
                         {Ds("g", "1")})})
          .status.ok());
  const uint64_t before_regrade = ledger_->head().size;
  AppendResult lower =
      Emit({GradeEvent(14, "grade.changed", Ds("a", "1"), "general")});
  ASSERT_TRUE(lower.status.ok()) << lower.status;

  RiskQueries q(*ledger_);
  absl::StatusOr<ExplainAnswer> then =
      q.Explain(kTenant, "d", "1", before_regrade);
  ASSERT_TRUE(then.ok()) << then.status();
  ASSERT_EQ(then->steps.size(), 5u);  // d; b, c; a (from b), a (from c)
  const GradeStep& d = then->steps[0];
  ASSERT_TRUE(d.grade.has_value());
  EXPECT_EQ(d.grade->record.level, risk::Level::kCore);
  EXPECT_EQ(d.grade->record.basis, "propagated");
  EXPECT_EQ(d.grade->record.index, bcd.entries[0].index);
  EXPECT_EQ(d.grade->policy_version, 1u);
  EXPECT_FALSE(d.grade->version_less);
  EXPECT_EQ(then->steps[1].id, "b");
  EXPECT_EQ(then->steps[1].edge_index, bcd.entries[0].index);
  EXPECT_EQ(then->steps[1].parent, 0);
  EXPECT_EQ(then->steps[2].id, "c");
  EXPECT_EQ(then->steps[3].id, "a");
  EXPECT_EQ(then->steps[3].parent, 1);
  EXPECT_EQ(then->steps[3].edge_index, ab.entries[0].index);
  EXPECT_EQ(then->steps[3].depth, 2u);
  ASSERT_TRUE(then->steps[3].grade.has_value());
  EXPECT_EQ(then->steps[3].grade->record.basis, "assigned");
  EXPECT_EQ(then->steps[4].id, "a");
  EXPECT_EQ(then->steps[4].edge_index, ac.entries[0].index);
  // a at c's grade index is not a at b's: both are listed, not merged.
  EXPECT_FALSE(then->steps[4].same_as.has_value());
  ASSERT_EQ(then->history.size(), 1u);
  EXPECT_EQ(then->history[0].record.level, risk::Level::kCore);

  absl::StatusOr<ExplainAnswer> now =
      q.Explain(kTenant, "d", "1", std::nullopt);
  ASSERT_TRUE(now.ok()) << now.status();
  ASSERT_TRUE(now->steps[0].grade.has_value());
  EXPECT_EQ(now->steps[0].grade->record.level, risk::Level::kGeneral);
  EXPECT_EQ(now->steps[0].grade->record.index, lower.entries[0].index);
  ASSERT_EQ(now->history.size(), 2u);
  EXPECT_EQ(now->history[1].record.level, risk::Level::kGeneral);
  // Now every input is taken at the regrade, b's and c's grades too: a
  // appears under each (a changed grade has no inputs to repeat).
  ASSERT_EQ(now->steps.size(), 5u);
  EXPECT_EQ(now->steps[3].id, "a");
  EXPECT_EQ(now->steps[3].at, lower.entries[0].index);
  EXPECT_EQ(now->steps[3].grade->record.basis, "changed");
  EXPECT_FALSE(now->steps[4].same_as.has_value());

  // After the regrade every grade below a took effect at one index: g's
  // path reaches d through e and through f, and lists d's inputs once.
  absl::StatusOr<ExplainAnswer> g = q.Explain(kTenant, "g", "1", std::nullopt);
  ASSERT_TRUE(g.ok()) << g.status();
  std::vector<size_t> ds;
  for (size_t i = 0; i < g->steps.size(); ++i) {
    if (g->steps[i].id == "d") ds.push_back(i);
  }
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_FALSE(g->steps[ds[0]].same_as.has_value());
  EXPECT_EQ(g->steps[ds[1]].same_as, ds[0]);
  size_t under_second = 0;
  for (const GradeStep& step : g->steps) {
    if (step.parent == static_cast<int64_t>(ds[1])) ++under_second;
  }
  EXPECT_EQ(under_second, 0u);
  EXPECT_EQ(g->steps.size(), 9u);  // g; e, f; d, d; b, c; a, a

  // Bounds: a path longer than max_depth is refused naming the bound.
  ProvenanceLimits tight;
  tight.max_depth = 1;
  absl::Status deep = RiskQueries(*ledger_, tight)
                          .Explain(kTenant, "d", "1", std::nullopt)
                          .status();
  EXPECT_TRUE(absl::IsResourceExhausted(deep)) << deep;
  EXPECT_THAT(deep.message(), HasSubstr("provenance_max_depth (1)"));
  // An ungraded version: step 0 without a grade.
  absl::StatusOr<ExplainAnswer> none =
      q.Explain(kTenant, "zzz", "", std::nullopt);
  ASSERT_TRUE(none.ok());
  ASSERT_EQ(none->steps.size(), 1u);
  EXPECT_FALSE(none->steps[0].grade.has_value());
}

}  // namespace
}  // namespace ledger::testing
