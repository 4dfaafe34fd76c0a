#include "ledger/risk_engine.h"

#include <initializer_list>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ledger::risk {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

constexpr int64_t kDay = int64_t{86400} * 1000000000;
// 2026-03-01T00:00:00Z
constexpr int64_t kT0 = int64_t{1772323200} * 1000000000;

SubjectRef Dataset(std::string id, std::string version = "",
                   uint64_t items = 0) {
  SubjectRef r;
  r.kind = SubjectKind::kDataset;
  r.id = std::move(id);
  r.version = std::move(version);
  r.item_count = items;
  return r;
}

SubjectRef Item(std::string id) {
  SubjectRef r;
  r.kind = SubjectKind::kItem;
  r.id = std::move(id);
  return r;
}

using Attrs = std::vector<std::pair<std::string, std::string>>;

// Builds events and applies them in order, one index each.
class Log {
 public:
  explicit Log(std::string_view policy_text = "name = \"test\"\n") {
    if (!policy_text.empty()) SetPolicy(policy_text);
  }

  Assessment SetPolicy(std::string_view text) {
    Event e = Make("policy.changed", "alice", {}, {}, {});
    e.tenant = "_ledger";
    e.attributes = PolicyAttributes(text);
    return Apply(e);
  }

  Event Make(std::string type, std::string actor, std::vector<SubjectRef> subj,
             std::vector<SubjectRef> in, std::vector<SubjectRef> out,
             Attrs attrs = {}) {
    Event e;
    ++serial_;
    for (size_t i = 0; i < 8; ++i) {
      e.event_id[i] = static_cast<uint8_t>(serial_ >> (8 * i));
    }
    e.event_id[8] = 0x80;
    e.type = std::move(type);
    e.occurred_at_ns = t_;
    e.producer = "test";
    e.tenant = "t1";
    e.project = "p1";
    e.actor.id = std::move(actor);
    e.source.ip = "10.1.2.3";
    e.subjects = std::move(subj);
    e.inputs = std::move(in);
    e.outputs = std::move(out);
    std::sort(attrs.begin(), attrs.end());
    e.attributes = std::move(attrs);
    return e;
  }

  Assessment Apply(const Event& e) {
    last_index_ = next_;
    return engine_.Apply(e, next_++, t_);
  }
  Assessment Do(std::string type, std::string actor,
                std::vector<SubjectRef> subj, std::vector<SubjectRef> in = {},
                std::vector<SubjectRef> out = {}, Attrs attrs = {}) {
    return Apply(Make(std::move(type), std::move(actor), std::move(subj),
                      std::move(in), std::move(out), std::move(attrs)));
  }
  // Grades a whole dataset.
  uint64_t Grade(std::string id, std::string level, std::string flags = "") {
    Attrs a{{"grade.level", level}};
    if (!flags.empty()) a.emplace_back("grade.flags", flags);
    Do("grade.assigned", "officer", {Dataset(std::move(id))}, {}, {}, a);
    return last_index_;
  }
  // A training valid for ever for `person`.
  uint64_t Train(std::string person) {
    Do("training.completed", person, {}, {}, {});
    return last_index_;
  }
  std::string IdOfLast(const Event& e) const { return FormatUuid(e.event_id); }

  void Advance(int64_t ns) { t_ += ns; }
  uint64_t last() const { return last_index_; }
  uint64_t next() const { return next_; }
  Engine& engine() { return engine_; }

 private:
  Engine engine_;
  uint64_t next_ = 0;
  uint64_t last_index_ = 0;
  uint64_t serial_ = 0;
  int64_t t_ = kT0;
};

bool HasRule(const Assessment& a, int rule) {
  const std::string prefix = "R" + std::to_string(rule) + " ";
  return std::any_of(a.reasons.begin(), a.reasons.end(), [&](const auto& r) {
    return r.rfind(prefix, 0) == 0 && r.find("not evaluable") == r.npos;
  });
}

std::string ReasonOf(const Assessment& a, int rule) {
  const std::string prefix = "R" + std::to_string(rule) + " ";
  for (const std::string& r : a.reasons) {
    if (r.rfind(prefix, 0) == 0) return r;
  }
  return "";
}

TEST(RiskEngine, NoPolicyMeansUnassessed) {
  Log log("");
  log.Grade("d", "core");
  Assessment a =
      log.Do("dataset.exported", "bob", {}, {Dataset("d")}, {Dataset("out")});
  EXPECT_EQ(a, Assessment{});
  EXPECT_EQ(log.engine().policy_version(), 0u);
}

TEST(RiskEngine, PolicyAppliesFromTheNextEntry) {
  Log log("");
  Assessment own = log.SetPolicy("name = \"p1\"\n");
  EXPECT_EQ(own, Assessment{});  // graded under no policy
  EXPECT_EQ(log.engine().policy_version(), 1u);
  Assessment a = log.Do("item.viewed", "bob", {Item("i")});
  EXPECT_EQ(a.risk, Risk::kLow);
  EXPECT_EQ(a.policy_version, 1u);
  EXPECT_THAT(a.reasons, IsEmpty());
  log.SetPolicy("name = \"p2\"\n");
  EXPECT_EQ(log.Do("item.viewed", "bob", {Item("i")}).policy_version, 2u);
}

TEST(RiskEngine, R1CoreExportNeedsApproval) {
  Log log;
  const uint64_t graded = log.Grade("d", "core");
  Assessment a = log.Do("dataset.exported", "bob", {}, {Dataset("d", "v1")},
                        {Dataset("out")});
  EXPECT_EQ(a.risk, Risk::kCritical);
  EXPECT_EQ(ReasonOf(a, 1),
            "R1 critical: dataset.exported of core data d without an "
            "approval.ref naming an approval.granted [evidence " +
                std::to_string(graded) + "]");
  // Near miss: with a granted approval.
  Event approval = log.Make("approval.granted", "boss", {Dataset("d")}, {}, {});
  log.Apply(approval);
  Assessment ok =
      log.Do("dataset.exported", "bob", {}, {Dataset("d")}, {Dataset("out2")},
             {{"approval.ref", log.IdOfLast(approval)}});
  EXPECT_FALSE(HasRule(ok, 1)) << ok.reasons[0];
  // Near miss: important, not core.
  log.Grade("e", "important");
  EXPECT_FALSE(HasRule(
      log.Do("dataset.exported", "bob", {}, {Dataset("e")}, {Dataset("o3")}),
      1));
}

TEST(RiskEngine, R1ReferenceMustBeAnApproval) {
  Log log;
  log.Grade("d", "core");
  Event other = log.Make("pia.recorded", "boss", {Dataset("d")}, {}, {});
  log.Apply(other);
  EXPECT_TRUE(
      HasRule(log.Do("data.shared", "bob", {}, {Dataset("d")}, {Dataset("o")},
                     {{"approval.ref", log.IdOfLast(other)}}),
              1));
}

TEST(RiskEngine, R2ImportantDataAbroadNeedsValidAssessment) {
  Log log;
  log.Grade("d", "important");
  Assessment a = log.Do("data.transferred_cross_border", "bob", {},
                        {Dataset("d")}, {Dataset("o")});
  EXPECT_EQ(a.risk, Risk::kCritical);
  EXPECT_TRUE(HasRule(a, 2));
  Event cac = log.Make("export_assessment.filed", "boss", {Dataset("d")}, {},
                       {}, {{"assessment.kind", "cac_security_assessment"}});
  log.Apply(cac);
  const Attrs ref{{"assessment.ref", log.IdOfLast(cac)}};
  EXPECT_FALSE(HasRule(log.Do("data.transferred_cross_border", "bob", {},
                              {Dataset("d")}, {Dataset("o2")}, ref),
                       2));
  // Valid three years of ledger time, not longer.
  log.Advance(1096 * kDay);
  EXPECT_TRUE(HasRule(log.Do("data.transferred_cross_border", "bob", {},
                             {Dataset("d")}, {Dataset("o3")}, ref),
                      2));
}

TEST(RiskEngine, R3CountsPersonsPerTenantAndYear) {
  Log log;
  log.Grade("d", "general", "pi");
  const auto send = [&](int64_t persons, Attrs extra = {}) {
    extra.emplace_back("transfer.pi_persons", std::to_string(persons));
    return log.Do("data.transferred_cross_border", "bob", {}, {Dataset("d")},
                  {Dataset("o")}, extra);
  };
  const uint64_t first = log.next();
  EXPECT_FALSE(HasRule(send(60000), 3));  // 60k: below 100k
  Assessment high = send(50000);          // 110k in the year
  EXPECT_EQ(high.risk, Risk::kHigh);
  EXPECT_THAT(ReasonOf(high, 3),
              StartsWith("R3 high: 110000 persons (0 sensitive) sent abroad "
                         "by tenant t1 in 2026"));
  EXPECT_THAT(ReasonOf(high, 3),
              HasSubstr("[evidence " + std::to_string(first) + "," +
                        std::to_string(first + 1) + "]"));
  Event contract = log.Make("export_assessment.filed", "boss", {}, {}, {},
                            {{"assessment.kind", "standard_contract"}});
  log.Apply(contract);
  EXPECT_FALSE(
      HasRule(send(10, {{"assessment.ref", log.IdOfLast(contract)}}), 3));
  Assessment critical =
      send(900000, {{"assessment.ref", log.IdOfLast(contract)}});
  EXPECT_EQ(critical.risk, Risk::kCritical);
  EXPECT_TRUE(HasRule(critical, 3));
  // A new year starts from zero.
  log.Advance(365 * kDay);
  EXPECT_FALSE(HasRule(send(99999), 3));
}

TEST(RiskEngine, R3SensitivePersonsAndNotEvaluable) {
  Log log;
  log.Grade("d", "general", "pi,sensitive_pi");
  Assessment any =
      log.Do("data.transferred_cross_border", "bob", {}, {Dataset("d")},
             {Dataset("o")}, {{"transfer.sensitive_pi_persons", "3"}});
  EXPECT_EQ(ReasonOf(any, 3).substr(0, 8), "R3 high:");
  Assessment crit =
      log.Do("data.transferred_cross_border", "bob", {}, {Dataset("d")},
             {Dataset("o")}, {{"transfer.sensitive_pi_persons", "9997"}});
  EXPECT_EQ(ReasonOf(crit, 3).substr(0, 12), "R3 critical:");
  Assessment missing = log.Do("data.transferred_cross_border", "bob", {},
                              {Dataset("d")}, {Dataset("o")});
  EXPECT_THAT(ReasonOf(missing, 3),
              StartsWith("R3 not evaluable: personal information sent "
                         "abroad without transfer.pi_persons"));
}

TEST(RiskEngine, R4QualificationAtOccurredAt) {
  Log log;
  Assessment a = log.Do("annotation.created", "ann", {Item("i")});
  EXPECT_EQ(a.risk, Risk::kHigh);
  EXPECT_THAT(ReasonOf(a, 4), StartsWith("R4 high: actor ann has no valid"));
  log.Do("training.completed", "ann", {}, {}, {},
         {{"expires_at", "2026-03-10T00:00:00Z"}});
  EXPECT_FALSE(HasRule(log.Do("annotation.created", "ann", {Item("i")}), 4));
  // Services and models need no training; viewing general data neither.
  Event model = log.Make("annotation.created", "m", {Item("i")}, {}, {});
  model.actor.kind = ActorKind::kModel;
  EXPECT_FALSE(HasRule(log.Apply(model), 4));
  EXPECT_FALSE(HasRule(log.Do("item.viewed", "viewer", {Item("i")}), 4));
  // Viewing important data does.
  log.Grade("d", "important");
  EXPECT_TRUE(HasRule(log.Do("dataset.queried", "viewer", {Dataset("d")}), 4));
  // Expired.
  log.Advance(10 * kDay);
  EXPECT_TRUE(HasRule(log.Do("annotation.created", "ann", {Item("i")}), 4));
  // Revoked.
  log.Train("ann2");
  const Attrs person{{"person", "ann2"}};
  log.Do("qualification.revoked", "boss", {}, {}, {}, person);
  const uint64_t revoked = log.last();
  Assessment r = log.Do("annotation.updated", "ann2", {Item("i")});
  EXPECT_THAT(ReasonOf(r, 4),
              HasSubstr("[evidence " + std::to_string(revoked) + "]"));
}

TEST(RiskEngine, R5SameActorAnnotatesAndReviews) {
  Log log;
  log.Train("ann");
  log.Train("rev");
  log.Do("annotation.created", "ann", {Item("i")}, {}, {},
         {{"task.id", "t-7"}});
  const uint64_t annotated = log.last();
  // Near miss: another reviewer; another task.
  EXPECT_FALSE(HasRule(log.Do("review.accepted", "rev", {Item("i")}, {}, {},
                              {{"task.id", "t-7"}}),
                       5));
  EXPECT_FALSE(HasRule(log.Do("review.accepted", "ann", {Item("i")}, {}, {},
                              {{"task.id", "t-8"}}),
                       5));
  Assessment a = log.Do("review.rejected", "ann", {Item("i")}, {}, {},
                        {{"task.id", "t-7"}});
  EXPECT_EQ(a.risk, Risk::kHigh);
  EXPECT_EQ(ReasonOf(a, 5),
            "R5 high: actor ann reviews item i that they annotated in task "
            "t-7 [evidence " +
                std::to_string(annotated) + "]");
}

TEST(RiskEngine, R6ChangeAfterReviewAndAfterExport) {
  Log log;
  log.Train("ann");
  log.Train("rev");
  log.Do("item.imported", "svc", {Dataset("d"), Item("i"), Item("j")});
  log.Do("annotation.created", "ann", {Item("i")});
  EXPECT_FALSE(HasRule(log.Do("annotation.updated", "ann", {Item("i")}), 6));
  log.Do("review.accepted", "rev", {Item("i")});
  const uint64_t locked = log.last();
  Assessment a = log.Do("annotation.updated", "ann", {Item("i")});
  EXPECT_EQ(ReasonOf(a, 6),
            "R6 high: annotation.updated of item i after its review or "
            "release without review.reopened [evidence " +
                std::to_string(locked) + "]");
  log.Do("review.reopened", "rev", {Item("i")});
  EXPECT_FALSE(HasRule(log.Do("annotation.updated", "ann", {Item("i")}), 6));
  // Released, exported, then changed: critical.
  log.Do("batch.released", "rev", {Item("j")}, {}, {}, {{"batch.id", "b"}});
  log.Do("dataset.exported", "svc", {}, {Dataset("d")}, {Dataset("x")});
  const uint64_t exported = log.last();
  Assessment c = log.Do("annotation.deleted", "ann", {Item("j")});
  EXPECT_EQ(c.risk, Risk::kCritical);
  EXPECT_THAT(ReasonOf(c, 6), HasSubstr("," + std::to_string(exported) + "]"));
}

TEST(RiskEngine, ImportedItemsTakeTheirDatasetsGradeAsSubjectsOrOutputs) {
  Log log;
  log.Train("bob");
  const uint64_t graded = log.Grade("d", "core");
  log.Do("item.imported", "svc", {Item("i")}, {}, {Dataset("d")});
  log.Do("item.imported", "svc", {}, {}, {Dataset("d"), Item("j")});
  for (const char* item : {"i", "j"}) {
    Assessment a = log.Do("data.shared", "bob", {Item(item)});
    EXPECT_EQ(ReasonOf(a, 1),
              "R1 critical: data.shared of core data d "
              "without an approval.ref naming an "
              "approval.granted [evidence " +
                  std::to_string(graded) + "]")
        << item;
  }
}

TEST(RiskEngine, R7VolumeAboveBaseline) {
  Log log(
      "name = \"p\"\n[rules.R7]\nbaseline_days = 2\nbaseline_factor = 3\n"
      "baseline_min_volume = 100\n");
  // Day 1 and 2: 50 items a day.
  log.Do("dataset.queried", "r", {Dataset("d", "", 50)});
  log.Advance(kDay);
  log.Do("dataset.queried", "r", {Dataset("d", "", 50)});
  log.Advance(kDay);
  // Day 3: mean 50; 3x = 150. 140 is a near miss, 160 is over.
  EXPECT_FALSE(
      HasRule(log.Do("dataset.queried", "r", {Dataset("d", "", 140)}), 7));
  Assessment a = log.Do("item.viewed", "r", {Item("x")}, {}, {});
  EXPECT_FALSE(HasRule(a, 7));  // 141
  Assessment b = log.Do("dataset.queried", "r", {Dataset("d", "", 19)});
  EXPECT_EQ(b.risk, Risk::kMedium);
  EXPECT_THAT(ReasonOf(b, 7),
              StartsWith("R7 medium: actor r read 160 items today"));
  // A new actor has no baseline: never flagged on its first day.
  EXPECT_FALSE(
      HasRule(log.Do("dataset.queried", "new", {Dataset("d", "", 100000)}), 7));
}

TEST(RiskEngine, R8SensitivePiNeedsPia) {
  Log log;
  const uint64_t g = log.Grade("d", "general", "sensitive_pi");
  Assessment a =
      log.Do("data.cleaned", "svc", {}, {Dataset("d", "v1")}, {Dataset("e")});
  EXPECT_EQ(ReasonOf(a, 8),
            "R8 high: data.cleaned of sensitive personal information d "
            "without a pia.recorded [evidence " +
                std::to_string(g) + "]");
  log.Do("pia.recorded", "dpo", {Dataset("d")});
  EXPECT_FALSE(HasRule(
      log.Do("data.cleaned", "svc", {}, {Dataset("d")}, {Dataset("f")}), 8));
  // Near miss: PI, not sensitive.
  log.Grade("p", "general", "pi");
  EXPECT_FALSE(HasRule(
      log.Do("data.cleaned", "svc", {}, {Dataset("p")}, {Dataset("q")}), 8));
}

TEST(RiskEngine, R9LoggingStopped) {
  Log log;
  Assessment a = log.Do("logging.stopped", "ops", {});
  EXPECT_EQ(a.risk, Risk::kCritical);
  EXPECT_TRUE(HasRule(a, 9));
  EXPECT_FALSE(HasRule(log.Do("project.updated", "ops", {}), 9));
}

TEST(RiskEngine, R10LoweringNeedsApproverAndDeidNeedsMethod) {
  Log log;
  const uint64_t g = log.Grade("d", "core");
  Assessment a = log.Do("grade.changed", "officer", {Dataset("d")}, {}, {},
                        {{"grade.level", "general"}});
  EXPECT_EQ(ReasonOf(a, 10),
            "R10 high: grade of d lowered without an approver; it stays core "
            "[evidence " +
                std::to_string(g) + "]");
  EXPECT_EQ(log.engine().GradeAt("t1", "d", "", log.last())->level,
            Level::kCore);
  Assessment ok = log.Do("grade.changed", "officer", {Dataset("d")}, {}, {},
                         {{"grade.level", "general"}, {"approver", "boss"}});
  EXPECT_FALSE(HasRule(ok, 10));
  EXPECT_EQ(log.engine().GradeAt("t1", "d", "", log.last())->level,
            Level::kGeneral);
  // Raising needs no approver.
  EXPECT_FALSE(HasRule(log.Do("grade.changed", "officer", {Dataset("d")}, {},
                              {}, {{"grade.level", "important"}}),
                       10));
  EXPECT_TRUE(HasRule(
      log.Do("data.deidentified", "svc", {}, {Dataset("d")}, {Dataset("e")}),
      10));
  EXPECT_FALSE(HasRule(log.Do("data.deidentified", "svc", {}, {Dataset("d")},
                              {Dataset("f")}, {{"deid.method", "k-anon"}}),
                       10));
  Assessment bad = log.Do("grade.assigned", "officer", {Dataset("z")}, {}, {},
                          {{"grade.level", "secret"}});
  EXPECT_THAT(ReasonOf(bad, 10), StartsWith("R10 not evaluable: grade.level"));
  EXPECT_EQ(bad.risk, Risk::kLow);
}

TEST(RiskEngine, R11RepeatedFailures) {
  Log log("name = \"p\"\n[rules.R11]\nwindow_seconds = 60\nthreshold = 3\n");
  const auto fail = [&] {
    Event e = log.Make("item.viewed", "eve", {Item("i")}, {}, {});
    e.outcome.status = OutcomeStatus::kFailure;
    return log.Apply(e);
  };
  EXPECT_FALSE(HasRule(fail(), 11));
  log.Advance(int64_t{61} * 1000000000);  // the first drops out
  EXPECT_FALSE(HasRule(fail(), 11));
  EXPECT_FALSE(HasRule(fail(), 11));
  Assessment a = fail();
  EXPECT_EQ(a.risk, Risk::kMedium);
  EXPECT_THAT(ReasonOf(a, 11),
              StartsWith("R11 medium: 3 failed attempts by actor eve"));
}

TEST(RiskEngine, R12SecureEnvironment) {
  Log log("name = \"p\"\n[rules.R12]\nsecure_networks = [\"10.0.0.0/8\"]\n");
  log.Grade("d", "important");
  log.Train("bob");
  Event inside = log.Make("dataset.queried", "bob", {Dataset("d")}, {}, {});
  EXPECT_FALSE(HasRule(log.Apply(inside), 12));
  Event outside = inside;
  outside.source.ip = "203.0.113.9";
  Assessment a = log.Apply(outside);
  EXPECT_THAT(ReasonOf(a, 12), StartsWith("R12 high: important data d "
                                          "touched from 203.0.113.9"));
  Event unknown = inside;
  unknown.source.ip = "";
  EXPECT_EQ(ReasonOf(log.Apply(unknown), 12),
            "R12 not evaluable: source.ip is empty");
  // General data: no finding from anywhere.
  Event general = log.Make("item.viewed", "bob", {Item("x")}, {}, {});
  general.source.ip = "203.0.113.9";
  EXPECT_FALSE(HasRule(log.Apply(general), 12));
}

TEST(RiskEngine, R13AndR14Releases) {
  Log log;
  const Attrs b1{{"batch.id", "b1"}};
  Assessment none = log.Do("batch.released", "qa", {}, {}, {}, b1);
  EXPECT_EQ(ReasonOf(none, 13),
            "R13 high: batch b1 released without a qa.sample_drawn");
  log.Do("qa.sample_drawn", "qa", {}, {}, {}, b1);
  const uint64_t sample = log.last();
  EXPECT_THAT(ReasonOf(log.Do("batch.released", "qa", {}, {}, {}, b1), 13),
              HasSubstr("before its sample's result"));
  log.Do("qa.metrics_recorded", "qa", {}, {}, {}, b1);
  EXPECT_FALSE(HasRule(log.Do("batch.released", "qa", {}, {}, {}, b1), 13));
  (void)sample;
  // A review found harmful content in b2.
  const Attrs b2{{"batch.id", "b2"}};
  log.Do("qa.sample_drawn", "qa", {}, {}, {}, b2);
  log.Do("qa.metrics_recorded", "qa", {}, {}, {}, b2);
  log.Do("review.rejected", "rev", {}, {}, {},
         {{"batch.id", "b2"}, {"review.issue_tags", "blurry,harmful"}});
  const uint64_t rejected = log.last();
  Assessment a = log.Do("batch.released", "qa", {}, {}, {}, b2);
  EXPECT_EQ(a.risk, Risk::kCritical);
  EXPECT_EQ(ReasonOf(a, 14),
            "R14 critical: batch b2 released although a review found "
            "illegal or harmful content [evidence " +
                std::to_string(rejected) + "]");
  // Near miss: other tags.
  const Attrs b3{{"batch.id", "b3"}};
  log.Do("qa.sample_drawn", "qa", {}, {}, {}, b3);
  log.Do("qa.metrics_recorded", "qa", {}, {}, {}, b3);
  log.Do("review.rejected", "rev", {}, {}, {},
         {{"batch.id", "b3"}, {"review.issue_tags", "blurry"}});
  EXPECT_FALSE(HasRule(log.Do("batch.released", "qa", {}, {}, {}, b3), 14));
  EXPECT_EQ(ReasonOf(log.Do("batch.released", "qa", {}), 13),
            "R13 not evaluable: batch.released without batch.id");
}

TEST(RiskEngine, R15IllegalShareOfSources) {
  Log log;
  log.Do("qa.metrics_recorded", "qa", {Dataset("web")}, {}, {},
         {{"source.illegal_share", "0.07"}});
  const uint64_t recorded = log.last();
  log.Do("qa.metrics_recorded", "qa", {Dataset("clean")}, {}, {},
         {{"source.illegal_share", "0.05"}});
  Assessment a = log.Do("data.filtered", "svc", {}, {Dataset("web", "v3")},
                        {Dataset("f")});
  EXPECT_EQ(ReasonOf(a, 15),
            "R15 high: uses source web whose recorded illegal-content share "
            "exceeds 0.05 [evidence " +
                std::to_string(recorded) + "]");
  EXPECT_FALSE(HasRule(
      log.Do("data.filtered", "svc", {}, {Dataset("clean")}, {Dataset("g")}),
      15));
}

TEST(RiskEngine, DisabledRulesStaySilent) {
  Log log("name = \"p\"\n[rules.R9]\nenabled = false\n");
  EXPECT_FALSE(HasRule(log.Do("logging.stopped", "ops", {}), 9));
}

TEST(RiskEngine, ClassificationByDeclaredAttributes) {
  Log log(R"(name = "p"
[[grades.classify]]
name = "health"
level = "important"
flags = ["sensitive_pi"]
all = [{ attribute = "data.domain", in = ["health"] }]
[[grades.classify]]
name = "big"
level = "core"
all = [{ attribute = "data.subjects", at_least = 1000 }]
)");
  log.Do("dataset.registered", "svc", {Dataset("h")}, {}, {},
         {{"data.domain", "health"}});
  std::optional<GradeRecord> g = log.engine().GradeAt("t1", "h", "", 99);
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->level, Level::kImportant);
  EXPECT_EQ(g->flags, kSensitivePi);
  EXPECT_EQ(g->basis, "classified: health");
  log.Do("dataset.registered", "svc", {Dataset("b")}, {}, {},
         {{"data.domain", "health"}, {"data.subjects", "1000"}});
  g = log.engine().GradeAt("t1", "b", "", 99);
  EXPECT_EQ(g->level, Level::kCore);
  EXPECT_EQ(g->basis, "classified: big");
  log.Do("dataset.registered", "svc", {Dataset("s")}, {}, {},
         {{"data.subjects", "999"}});
  g = log.engine().GradeAt("t1", "s", "", 99);
  EXPECT_EQ(g->level, Level::kGeneral);
  EXPECT_EQ(g->basis, "unclassified");
}

TEST(RiskEngine, PropagationWithDiamondsBlocksAndAggregation) {
  Log log;
  log.Grade("a", "important", "pi");
  log.Grade("b", "general", "sensitive_pi");
  // a -> c, b -> c (diamond through c and d into e).
  log.Do("data.cleaned", "svc", {}, {Dataset("a"), Dataset("b")},
         {Dataset("c")});
  const uint64_t c_edge = log.last();
  log.Do("data.filtered", "svc", {}, {Dataset("c")}, {Dataset("d")});
  log.Do("data.aggregated", "svc", {}, {Dataset("c"), Dataset("d")},
         {Dataset("e")});
  const Engine& en = log.engine();
  std::optional<GradeRecord> c = en.GradeAt("t1", "c", "", 99);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->level, Level::kImportant);
  EXPECT_EQ(c->flags, kPi | kSensitivePi);
  EXPECT_EQ(c->basis, "propagated");
  EXPECT_THAT(c->propagated_from, ElementsAre("a", "b"));
  EXPECT_THAT(c->evidence, ElementsAre(c_edge));
  EXPECT_EQ(en.GradeAt("t1", "e", "", 99)->flags, kPi | kSensitivePi);
  // An approved de-identification blocks the PI flags.
  log.Do("data.deidentified", "svc", {}, {Dataset("c")}, {Dataset("anon")},
         {{"approver", "dpo"}, {"deid.method", "k-anonymity k=10"}});
  std::optional<GradeRecord> anon = en.GradeAt("t1", "anon", "", 99);
  EXPECT_EQ(anon->level, Level::kImportant);
  EXPECT_EQ(anon->flags, 0);
  // Without an approver it does not.
  log.Do("data.deidentified", "svc", {}, {Dataset("c")}, {Dataset("anon2")},
         {{"deid.method", "masking"}});
  EXPECT_EQ(en.GradeAt("t1", "anon2", "", 99)->flags, kPi | kSensitivePi);
  // Aggregation past the threshold raises general to important.
  log.Grade("g", "general");
  log.Do("data.aggregated", "svc", {}, {Dataset("g")}, {Dataset("big")},
         {{"data.subjects", "1000000"}});
  std::optional<GradeRecord> big = en.GradeAt("t1", "big", "", 99);
  EXPECT_EQ(big->level, Level::kImportant);
  EXPECT_EQ(big->basis, "aggregated");
  log.Do("data.aggregated", "svc", {}, {Dataset("g")}, {Dataset("small")},
         {{"data.subjects", "999999"}});
  EXPECT_EQ(en.GradeAt("t1", "small", "", 99)->level, Level::kGeneral);
}

TEST(RiskEngine, SourceRegradeAffectsOnlyLaterIndexes) {
  Log log;
  log.Grade("src", "general");
  log.Do("data.cleaned", "svc", {}, {Dataset("src")}, {Dataset("mid")});
  log.Do("data.filtered", "svc", {}, {Dataset("mid")}, {Dataset("leaf")});
  const uint64_t before = log.last();
  log.Do("grade.changed", "officer", {Dataset("src")}, {}, {},
         {{"grade.level", "core"}});
  const uint64_t changed = log.last();
  const Engine& en = log.engine();
  EXPECT_EQ(en.GradeAt("t1", "leaf", "", before)->level, Level::kGeneral);
  std::optional<GradeRecord> now = en.GradeAt("t1", "leaf", "", changed);
  EXPECT_EQ(now->level, Level::kCore);
  EXPECT_EQ(now->index, changed);
  EXPECT_THAT(now->propagated_from, ElementsAre("mid"));
  EXPECT_EQ(en.GradeHistory("t1", "leaf", "").size(), 2u);
  // An export of the leaf after the change is critical (R1), before not.
  EXPECT_TRUE(HasRule(
      log.Do("dataset.exported", "bob", {}, {Dataset("leaf")}, {Dataset("x")}),
      1));
}

TEST(RiskEngine, PropagationsAwaitTheirRecordsInOrder) {
  Log log;
  log.Grade("src", "important", "pi");
  EXPECT_THAT(log.engine().unrecorded(), IsEmpty());  // assigned, not lineage
  log.Do("data.cleaned", "svc", {}, {Dataset("src")},
         {Dataset("out", "v1"), Dataset("out2")});
  const uint64_t cause = log.last();
  const Engine& en = log.engine();
  ASSERT_EQ(en.unrecorded().size(), 2u);
  const Propagation p = en.unrecorded().front();
  EXPECT_EQ(p.tenant, "t1");
  EXPECT_EQ(p.id, "out");
  EXPECT_EQ(p.version, "v1");
  EXPECT_EQ(p.record.index, cause);
  EXPECT_EQ(p.record.level, Level::kImportant);
  EXPECT_EQ(p.record.flags, kPi);

  const Event record = PropagationEvent(p);
  EXPECT_EQ(record.type, "grade.propagated");
  EXPECT_EQ(record.tenant, "t1");
  ASSERT_EQ(record.subjects.size(), 1u);
  EXPECT_EQ(record.subjects[0].version, "v1");
  const std::vector<std::pair<std::string, std::string>> want = {
      {"cause.index", std::to_string(cause)},
      {"grade.basis", "propagated"},
      {"grade.flags", "pi"},
      {"grade.level", "important"},
      {"propagated_from.000", "src"},
      {"propagated_from.count", "1"},
      {"propagated_from.entries", std::to_string(cause)},
      {"propagated_from.entries.count", "1"}};
  EXPECT_EQ(record.attributes, want);
  // A version 8 UUID, different per dataset, the same when rebuilt.
  EXPECT_EQ(record.event_id[6] >> 4, 8);
  EXPECT_EQ(record.event_id[8] >> 6, 2);
  EXPECT_NE(record.event_id, PropagationEvent(en.unrecorded()[1]).event_id);
  EXPECT_EQ(record, PropagationEvent(p));

  // Another record first, a changed one, or another entry of a later
  // group: refused. The right one, then the other: accepted.
  const uint64_t next = log.next();
  EXPECT_TRUE(absl::IsDataLoss(
      en.CheckNext(PropagationEvent(en.unrecorded()[1]), next, kT0)));
  Event changed = record;
  changed.attributes[3].second = "core";
  absl::Status s = en.CheckNext(changed, next, kT0);
  EXPECT_TRUE(absl::IsDataLoss(s));
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("differs from the one entry " + std::to_string(cause) +
                        " caused (out@v1"));
  Event other = log.Make("annotation.created", "ann", {Item("i")}, {}, {});
  EXPECT_TRUE(en.CheckNext(other, next, kT0).ok());  // same group
  s = en.CheckNext(other, next, kT0 + 1);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("has no grade.propagated entry before entry " +
                        std::to_string(next)));
  EXPECT_TRUE(absl::IsDataLoss(en.CheckComplete()));
  EXPECT_TRUE(en.CheckNext(record, next, kT0).ok());
  EXPECT_EQ(log.Apply(record).risk, Risk::kLow);
  const Event second = PropagationEvent(en.unrecorded().front());
  EXPECT_TRUE(en.CheckNext(second, log.next(), kT0).ok());
  log.Apply(second);
  EXPECT_THAT(en.unrecorded(), IsEmpty());
  EXPECT_TRUE(en.CheckComplete().ok());
  EXPECT_TRUE(absl::IsDataLoss(en.CheckNext(record, log.next(), kT0)));
  // The records changed no grade.
  EXPECT_EQ(en.GradeHistory("t1", "out", "v1").size(), 1u);
}

TEST(RiskEngine, NothingPropagatesOnRecordBeforeAPolicy) {
  Log log("");
  log.Do("dataset.registered", "svc", {Dataset("src")});
  log.Do("data.cleaned", "svc", {}, {Dataset("src")}, {Dataset("out")});
  EXPECT_TRUE(log.engine().GradeAt("t1", "out", "", log.last()).has_value());
  EXPECT_THAT(log.engine().unrecorded(), IsEmpty());
}

TEST(RiskEngine, LineageCyclesTerminate) {
  Log log;
  log.Grade("a", "general");
  log.Do("data.cleaned", "svc", {}, {Dataset("a")}, {Dataset("b")});
  log.Do("data.cleaned", "svc", {}, {Dataset("b")}, {Dataset("a")});
  log.Do("grade.changed", "officer", {Dataset("a")}, {}, {},
         {{"grade.level", "important"}});
  EXPECT_EQ(log.engine().GradeAt("t1", "b", "", 99)->level, Level::kImportant);
}

TEST(RiskEngine, SameEventsGiveTheSameAssessments) {
  const auto run = [] {
    Log log;
    std::vector<Assessment> out;
    log.Grade("d", "core", "pi");
    out.push_back(
        log.Do("dataset.exported", "bob", {}, {Dataset("d")}, {Dataset("o")}));
    out.push_back(log.Do("data.transferred_cross_border", "bob", {},
                         {Dataset("d")}, {Dataset("o2")},
                         {{"transfer.pi_persons", "2000000"}}));
    out.push_back(log.Do("annotation.created", "ann", {Item("i")}));
    return out;
  };
  EXPECT_EQ(run(), run());
}

TEST(RiskEngine, PolicyAttributesRoundTripAndSplitOnCharacters) {
  // 5,000 bytes of two-byte characters: the first chunk must end on a
  // character boundary, below 4,096 bytes.
  std::string text = "name = \"";
  while (text.size() < 5000) text += "\xc3\xa9";
  text += "\"\n";
  const auto attrs = PolicyAttributes(text);
  ASSERT_EQ(attrs.size(), 3u);
  EXPECT_EQ(attrs[1].first, "policy.text.000");
  EXPECT_EQ(attrs[2].first, "policy.text.001");
  EXPECT_LE(attrs[1].second.size(), 4096u);
  EXPECT_NE(static_cast<uint8_t>(attrs[2].second[0]) & 0xC0, 0x80);
  Event e;
  e.attributes = attrs;
  std::string back;
  ASSERT_TRUE(PolicyOfEvent(e, &back).ok());
  EXPECT_EQ(back, text);
  e.attributes[0].second[0] ^= 1;  // sha256 no longer matches
  EXPECT_THAT(std::string(PolicyOfEvent(e).status().message()),
              HasSubstr("does not match"));
}

}  // namespace
}  // namespace ledger::risk
