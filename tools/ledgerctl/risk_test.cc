#include "tools/ledgerctl/risk.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "tools/ledgerctl/provenance.h"

namespace ledger::ctl {
namespace {

using ::testing::HasSubstr;

v1::DataGrade Grade(std::string level, std::vector<std::string> flags) {
  v1::DataGrade g;
  g.set_level(std::move(level));
  for (std::string& f : flags) g.add_flags(std::move(f));
  g.set_basis("propagated");
  g.set_index(40);
  g.set_policy_version(1);
  return g;
}

TEST(RiskCtlTest, LineageDotFillsDatasetsByGradeAndLabelsTheFlags) {
  v1::LineageResponse response;
  response.set_as_of(50);
  const auto add = [&](v1::SubjectKind kind, std::string id,
                       std::optional<v1::DataGrade> grade) {
    v1::LineageNodeRow* row = response.add_nodes();
    row->mutable_node()->set_kind(kind);
    row->mutable_node()->set_id(std::move(id));
    if (grade.has_value()) *row->mutable_grade() = *grade;
    return row->node();
  };
  const v1::LineageNode asked =
      add(v1::SUBJECT_KIND_DATASET, "core-ds", Grade("core", {"pi", "minor"}));
  add(v1::SUBJECT_KIND_DATASET, "imp", Grade("important", {}));
  add(v1::SUBJECT_KIND_DATASET, "gen", Grade("general", {}));
  add(v1::SUBJECT_KIND_DATASET, "none", std::nullopt);
  add(v1::SUBJECT_KIND_ITEM, "item-1", std::nullopt);
  const std::string dot = LineageDot(response, asked);
  EXPECT_THAT(
      dot,
      HasSubstr(
          R"("dataset:core-ds" [label="dataset:core-ds\ncore pi,minor", fillcolor="#e06666", penwidth=3)"));
  EXPECT_THAT(
      dot,
      HasSubstr(
          R"("dataset:imp" [label="dataset:imp\nimportant", fillcolor="#f6b26b"];)"));
  EXPECT_THAT(
      dot,
      HasSubstr(
          R"("dataset:gen" [label="dataset:gen\ngeneral", fillcolor="#b6d7a8"];)"));
  EXPECT_THAT(
      dot,
      HasSubstr(
          R"("dataset:none" [label="dataset:none", fillcolor="#ffffff"];)"));
  EXPECT_THAT(
      dot, HasSubstr(
               R"("item:item-1" [label="item:item-1", fillcolor="#ffffff"];)"));
  EXPECT_THAT(dot, HasSubstr("core red, important orange"));

  Json json = LineageJson(response);
  EXPECT_EQ(json["nodes"][0]["grade"]["level"], "core");
  EXPECT_EQ(json["nodes"][0]["grade"]["flags"], Json::array({"pi", "minor"}));
  EXPECT_EQ(json["nodes"][0]["grade"]["index"], 40);
  EXPECT_TRUE(json["nodes"][3]["grade"].is_null());
}

TEST(RiskCtlTest, FindingsExplainAndSummaryPrint) {
  v1::RiskFinding f;
  f.set_index(12);
  f.set_type("dataset.exported");
  f.mutable_actor()->set_kind(v1::ACTOR_KIND_HUMAN);
  f.mutable_actor()->set_id("user:7");
  f.set_risk(v1::RISK_GRADE_CRITICAL);
  v1::RiskReason* r = f.add_reasons();
  r->set_raw("R1 critical: export of core data d [evidence 3]");
  r->set_rule("R1");
  r->set_level("critical");
  r->set_text("export of core data d");
  r->add_evidence(3);
  Json j = FindingJson(f);
  EXPECT_EQ(j.begin().key(), "index");
  EXPECT_EQ(j["index"], 12);
  EXPECT_EQ(j["risk"], "critical");
  EXPECT_EQ(j["reasons"][0]["rule"], "R1");
  EXPECT_EQ(j["reasons"][0]["evidence"], Json::array({3}));
  const std::string text = FindingText(f);
  EXPECT_THAT(text, HasSubstr("#12  -  critical  dataset.exported by user:7 "
                              "(human)\n"));
  EXPECT_THAT(text, HasSubstr("    R1 critical: export of core data d "
                              "[evidence 3]\n"));

  v1::GradeExplainResponse e;
  e.set_as_of(50);
  v1::GradeStep* root = e.add_path();
  root->set_dataset_id("d");
  root->set_version("v2");
  root->set_parent(-1);
  *root->mutable_grade() = Grade("core", {"pi"});
  v1::GradeStep* in = e.add_path();
  in->set_dataset_id("src");
  in->set_depth(1);
  in->set_parent(0);
  in->set_edge_index(39);
  *in->mutable_grade() = Grade("core", {"pi"});
  in->mutable_grade()->set_basis("assigned");
  *e.add_history() = Grade("core", {"pi"});
  const std::string explained = ExplainText(e);
  EXPECT_THAT(explained,
              HasSubstr("d@v2: core pi (propagated at #40, policy 1)\n"
                        "   <- src via #39: core pi (assigned at #40"));
  EXPECT_THAT(explained, HasSubstr("history:\n  #40  core pi  (propagated)"));
  Json ej = ExplainJson(e);
  EXPECT_EQ(ej["grade"]["level"], "core");
  EXPECT_EQ(ej["path"][1]["parent"], 0);
  EXPECT_TRUE(ej["path"][1]["same_as"].is_null());

  v1::RiskSummaryResponse s;
  s.set_as_of(50);
  s.set_end_index(50);
  s.set_entries(30);
  s.set_low(27);
  s.set_critical(3);
  v1::RuleCount* rule = s.add_rules();
  rule->set_rule("R1");
  rule->set_critical(3);
  EXPECT_THAT(SummaryText(s),
              HasSubstr("critical 3  high 0  medium 0  low 27"));
  EXPECT_THAT(SummaryText(s), HasSubstr("  R1  critical 3"));
  EXPECT_EQ(SummaryJson(s)["rules"][0]["critical"], 3);
}

TEST(RiskCtlTest, BadFlagValuesAreUsageErrors) {
  ConnectionOptions conn;
  RiskOptions o;
  o.format = "yaml";
  std::ostringstream out, err;
  absl::Status s = RunRisk(conn, o, out, err);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(s.message(), HasSubstr("--format"));
}

}  // namespace
}  // namespace ledger::ctl
