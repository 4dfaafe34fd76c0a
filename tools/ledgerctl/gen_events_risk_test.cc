// The generated workflow graded by a real ledger under the default risk
// policy (deploy/risk-policy.toml): the stream `ledgerctl gen-events
// --count 1000 --tenant demo` gives (the README's tour) is mostly low, its
// critical finding is the pilot's export of core data without an approval,
// and no rule lacks a field the generator should supply.
//
// Rules that can still say "not evaluable" on generated events: none under
// the default policy. R12 judges only when a policy declares
// secure_networks; every generated event then has a source.ip (the
// all-projects test declares them). R3, R10, R13 and R15 would say it for
// events without counts, grades, batch.id or a decimal share; the
// generator writes all of them.

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/strings.h"
#include "ledger/entry.h"
#include "ledger/ledger_testing.h"
#include "ledger/risk_engine.h"
#include "node/convert.h"
#include "tools/ledgerctl/gen_events.h"
#include "tools/ledgerctl/gen_events_internal.h"

namespace ledger::ctl {
namespace {

using ::ledger::testing::Annotation;
using ::ledger::testing::DefaultPolicy;
using ::ledger::testing::LedgerFixture;

// 2026-01-02 00:00 UTC: after the fixture's keys and policy (2026-01-01).
constexpr int64_t kStartSeconds = 1'767'312'000;
constexpr size_t kBatchEvents = 50;

const std::string* AttrOf(const Event& e, std::string_view key) {
  return FindAttribute(e, key);
}

// The rule of a reason ("R12 high: ..." -> 12).
int RuleOf(const std::string& reason) {
  int rule = 0;
  for (size_t i = 1; i < reason.size() && reason[i] >= '0' && reason[i] <= '9';
       ++i) {
    rule = rule * 10 + (reason[i] - '0');
  }
  return rule;
}

// The indexes of a reason's "[evidence i,j,...]", parsed here.
std::vector<uint64_t> EvidenceOf(const std::string& reason) {
  std::vector<uint64_t> out;
  const size_t at = reason.rfind(" [evidence ");
  if (at == std::string::npos) return out;
  uint64_t n = 0;
  bool digits = false;
  for (size_t i = at + 11; i < reason.size(); ++i) {
    const char c = reason[i];
    if (c >= '0' && c <= '9') {
      n = n * 10 + static_cast<uint64_t>(c - '0');
      digits = true;
    } else if (digits) {
      out.push_back(n);
      n = 0;
      digits = false;
    }
  }
  return out;
}

class GeneratedRiskTest : public LedgerFixture {
 protected:
  // One generated event and the entry that holds it.
  struct Graded {
    Event event;
    uint64_t index = 0;
    Entry entry;
  };

  // Loads `policy`, then appends the first `count` generated events of
  // `tenant` and `seed` as the emitter, in batches whose ledger time is
  // their last event's occurred_at (the platform sends them as it goes).
  std::vector<Graded> Run(std::string_view tenant, uint64_t seed,
                          uint64_t count, const std::string& policy) {
    Event p = Annotation(1);
    p.type = "policy.changed";
    p.tenant = std::string(kLedgerTenant);
    p.actor = {ActorKind::kService, "admin", "admin"};
    p.subjects.clear();
    p.attributes = risk::PolicyAttributes(policy);
    AppendResult loaded = AppendOne(Batch({p}, node_key_));
    EXPECT_TRUE(loaded.status.ok()) << loaded.status;

    // The fixture's emitter key signs tenant acme-ai's events; the
    // generated events take that tenant, and keep `tenant` in their
    // dataset ids (which is all the rules compare).
    EventGenerator generator({.count = count,
                              .tenant = std::string(tenant),
                              .seed = seed,
                              .start_seconds = kStartSeconds});
    std::vector<Graded> out;
    while (out.size() < count) {
      std::vector<Event> batch;
      while (batch.size() < kBatchEvents && out.size() + batch.size() < count) {
        absl::StatusOr<EventGenerator::Generated> g = generator.Next();
        EXPECT_TRUE(g.ok()) << g.status();
        if (!g.ok()) return out;
        g->event.set_tenant(testing::kTenant);
        absl::StatusOr<Event> e = node::EventFromProto(g->event);
        EXPECT_TRUE(e.ok()) << e.status();
        if (!e.ok()) return out;
        batch.push_back(*std::move(e));
      }
      const int64_t t = batch.back().occurred_at_ns;
      std::vector<Event> copy = batch;
      AppendResult r = AppendOne(Batch(std::move(copy), emitter_key_), t);
      EXPECT_TRUE(r.status.ok()) << r.status;
      if (!r.status.ok() || r.entries.size() != batch.size()) return out;
      for (size_t i = 0; i < batch.size(); ++i) {
        absl::StatusOr<std::string> bytes =
            ledger_->GetEntry(r.entries[i].index);
        EXPECT_TRUE(bytes.ok()) << bytes.status();
        absl::StatusOr<Entry> entry = DecodeEntry(bytes.value_or(""));
        EXPECT_TRUE(entry.ok()) << entry.status();
        out.push_back(Graded{std::move(batch[i]), r.entries[i].index,
                             entry.value_or(Entry{})});
      }
    }
    return out;
  }

  // Checks what every generated stream must show: graded under policy 1,
  // mostly low, no "not evaluable", and findings only of the violations
  // the generator injects (gen_events_internal.h) or that the stream
  // shows by its nature (R11: a failing step and an aborted transfer by
  // the same service within the hour). Returns the findings per rule.
  std::map<int, size_t> CheckStream(const std::vector<Graded>& graded) {
    std::map<int, size_t> findings;
    size_t low = 0;
    for (const Graded& g : graded) {
      EXPECT_EQ(g.entry.policy_version, 1u) << g.index;
      EXPECT_NE(g.entry.risk.grade, RiskGrade::kUnassessed) << g.index;
      if (g.entry.risk.grade == RiskGrade::kLow) ++low;
      EXPECT_EQ(g.entry.risk.grade == RiskGrade::kLow,
                g.entry.risk.reasons.empty())
          << g.index;
      for (const std::string& reason : g.entry.risk.reasons) {
        EXPECT_EQ(reason.find("not evaluable"), std::string::npos)
            << "entry " << g.index << " " << g.event.type << ": " << reason;
        const int rule = RuleOf(reason);
        ++findings[rule];
        EXPECT_TRUE((std::set<int>{1, 2, 3, 4, 5, 6, 11, 13}.contains(rule)))
            << "entry " << g.index << " " << g.event.type << ": " << reason;
        if (rule == 4) {
          // Only the untrained contractor.
          EXPECT_EQ(g.event.actor.id, gen_internal::kTempAnnotator) << reason;
        }
        if (rule == 5) {
          EXPECT_TRUE(g.event.actor.id.starts_with("annotator-")) << reason;
        }
        if (rule == 6) {
          EXPECT_EQ(g.event.type, "annotation.updated") << reason;
        }
        if (rule == 13) {
          EXPECT_EQ(g.event.type, "batch.released") << reason;
        }
      }
    }
    EXPECT_GT(low * 100, graded.size() * 90)
        << low << " low entries of " << graded.size();
    return findings;
  }
};

// The README's stream: --count 1000 --tenant demo, default seed. Its
// project is street-scenes, whose raw data is core.
TEST_F(GeneratedRiskTest, TheTourStreamHasAnR1FindingAmongMostlyLowEntries) {
  const std::vector<Graded> graded = Run("demo", 1, 1000, DefaultPolicy());
  ASSERT_EQ(graded.size(), 1000u);
  ASSERT_EQ(graded.front().event.project, "street-scenes");
  const std::map<int, size_t> findings = CheckStream(graded);

  // The entries the story rests on, found from the events alone.
  const std::string raw = "demo/street-scenes/raw";
  const std::string curated = "demo/street-scenes/curated";
  std::optional<uint64_t> assigned;
  std::map<std::string, uint64_t> version_created;  // version -> index
  std::set<std::string> approvals;                  // event ids
  size_t exports = 0;
  size_t unapproved = 0;
  bool r1_checked = false;
  for (const Graded& g : graded) {
    const Event& e = g.event;
    EXPECT_NE(e.type, "data.transferred_cross_border");  // core stays home
    if (e.type == "grade.assigned" && !e.subjects.empty() &&
        e.subjects[0].id == raw) {
      ASSERT_NE(AttrOf(e, "grade.level"), nullptr);
      EXPECT_EQ(*AttrOf(e, "grade.level"), "core");
      assigned = g.index;
    }
    if (e.type == "dataset.version_created" && !e.outputs.empty() &&
        e.outputs[0].id == curated) {
      version_created[e.outputs[0].version] = g.index;
    }
    if (e.type == "approval.granted") approvals.insert(FormatUuid(e.event_id));
    if (e.type != "dataset.exported") continue;
    ++exports;
    // R1 exactly where the export names no approval.granted.
    const std::string* ref = AttrOf(e, "approval.ref");
    const bool approved = ref != nullptr && approvals.contains(*ref);
    std::vector<std::string> r1;
    for (const std::string& reason : g.entry.risk.reasons) {
      if (RuleOf(reason) == 1) r1.push_back(reason);
    }
    EXPECT_EQ(r1.empty(), approved) << "entry " << g.index;
    if (approved) continue;
    ++unapproved;
    ASSERT_EQ(r1.size(), 1u);
    EXPECT_EQ(g.entry.risk.grade, RiskGrade::kCritical);
    const std::string version = e.subjects.at(0).version;
    EXPECT_TRUE(r1[0].starts_with(
        StrCat("R1 critical: dataset.exported of core data ", curated, "@",
               version, " without an approval.ref naming an approval.granted")))
        << r1[0];
    // The evidence: the entry that graded the exported version, the one
    // that created it from the core lineage ...
    ASSERT_TRUE(version_created.contains(version)) << version;
    EXPECT_EQ(EvidenceOf(r1[0]),
              (std::vector<uint64_t>{version_created[version]}))
        << r1[0];
    // ... whose grade came, step by step up the lineage, from the officer's
    // grade.assigned of the raw data.
    ASSERT_TRUE(assigned.has_value());
    std::string id = curated;
    std::string at = version;
    bool reached = false;
    for (int step = 0; step < 32 && !reached; ++step) {
      std::optional<risk::GradeRecord> record =
          ledger_->GradeAt(testing::kTenant, id, at, g.index);
      ASSERT_TRUE(record.has_value()) << id << "@" << at;
      EXPECT_EQ(record->level, risk::Level::kCore) << id << "@" << at;
      if (record->basis == "assigned") {
        EXPECT_EQ(id, raw);
        EXPECT_EQ(record->index, *assigned);
        reached = true;
        break;
      }
      ASSERT_EQ(record->basis, "propagated") << id << "@" << at;
      // Up the first input that carries core.
      bool moved = false;
      for (const std::string& from : record->propagated_from) {
        const size_t sep = from.rfind('@');
        const std::string pid = from.substr(0, sep);
        const std::string pv =
            sep == std::string::npos ? "" : from.substr(sep + 1);
        std::optional<risk::GradeRecord> p =
            ledger_->GradeAt(testing::kTenant, pid, pv, g.index);
        if (p.has_value() && p->level == risk::Level::kCore) {
          id = pid;
          at = pv;
          moved = true;
          break;
        }
      }
      ASSERT_TRUE(moved) << id << "@" << at;
    }
    EXPECT_TRUE(reached);
    r1_checked = true;
  }
  // The pilot's export at least; the later ones mostly approved.
  EXPECT_GE(exports, 2u);
  EXPECT_GE(unapproved, 1u);
  EXPECT_TRUE(r1_checked);
  EXPECT_GE(findings.at(1), 1u);
}

// Every project, under the default policy with the secure environment
// declared (so R12 judges every event): mostly low, nothing "not
// evaluable", only the injected findings; the transfers of personal and
// important data name their instruments and counts.
TEST_F(GeneratedRiskTest, EveryProjectIsGradedAsIntended) {
  std::string policy = DefaultPolicy();
  const std::string empty = "secure_networks = []";
  ASSERT_NE(policy.find(empty), std::string::npos);
  policy.replace(policy.find(empty), empty.size(),
                 "secure_networks = [\"10.0.0.0/8\"]");
  // acme's seeds 1, 3, 4 and 5: speech-commands, retail-shelves,
  // clinical-notes, street-scenes (gen_events_test.cc).
  std::set<std::string> projects;
  for (uint64_t seed : {1, 3, 4, 5}) {
    SCOPED_TRACE(StrCat("seed ", seed));
    TearDown();
    SetUp();
    const std::vector<Graded> graded = Run("acme", seed, 1200, policy);
    ASSERT_EQ(graded.size(), 1200u);
    const std::string project = graded.front().event.project;
    projects.insert(project);
    const std::map<int, size_t> findings = CheckStream(graded);
    size_t transfers = 0;
    for (const Graded& g : graded) {
      if (g.event.type != "data.transferred_cross_border") continue;
      ++transfers;
      EXPECT_NE(AttrOf(g.event, "transfer.pi_persons"), nullptr);
      EXPECT_NE(AttrOf(g.event, "assessment.ref"), nullptr);
    }
    if (project == "street-scenes") {
      EXPECT_EQ(transfers, 0u);
    } else {
      EXPECT_GT(transfers, 0u);
    }
    if (project == "clinical-notes") {
      // Sensitive data went through the pipeline and abroad with its PIA
      // and assessment: R8 never fired.
      EXPECT_FALSE(findings.contains(8));
    }
  }
  EXPECT_EQ(projects.size(), 4u);
}

}  // namespace
}  // namespace ledger::ctl
