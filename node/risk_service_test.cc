// The risk RPCs of ledger.v1.Query through a real gRPC server, on a
// workflow of the sample generator graded under the default policy: each
// answer equals the query engine's (ledger/risk_queries.h) on the same
// ledger; lineage nodes carry their grades; bad requests name the field.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "base/strings.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/support/error_details.h"
#include "ledger/risk_queries.h"
#include "node/node_testing.h"
#include "tools/ledgerctl/gen_events.h"

namespace ledger::node {
namespace {

using ::testing::HasSubstr;
using testing::SignedBatch;

constexpr int kEvents = 400;
constexpr size_t kBatch = 50;

std::string DefaultPolicy() {
  std::ifstream in(LEDGER_DEFAULT_POLICY);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The fields of the google.rpc.BadRequest in a status's details.
std::vector<std::string> ViolatedFields(const grpc::Status& status) {
  std::vector<std::string> out;
  google::rpc::Status details;
  if (!grpc::ExtractErrorDetails(status, &details).ok()) return out;
  for (const google::protobuf::Any& any : details.details()) {
    google::rpc::BadRequest bad_request;
    if (!any.UnpackTo(&bad_request)) continue;
    for (const auto& v : bad_request.field_violations()) {
      out.push_back(v.field());
    }
  }
  return out;
}

class RiskServiceTest : public testing::NodeFixture {
 protected:
  void SetUp() override {
    NodeFixture::SetUp();
    RegisterKey(emitter_);
    v1::SetRiskPolicyRequest policy;
    policy.set_text(DefaultPolicy());
    v1::SetRiskPolicyResponse set;
    grpc::Status s = admin_->SetRiskPolicy(Context().get(), policy, &set);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ctl::GenEventsOptions gen;
    gen.count = kEvents;
    gen.tenant = kTenant;
    gen.seed = 12;
    gen.producer = "label-studio";
    ctl::EventGenerator generator(gen);
    std::vector<v1::Event> batch;
    for (int i = 0; i < kEvents; ++i) {
      absl::StatusOr<ctl::EventGenerator::Generated> g = generator.Next();
      ASSERT_TRUE(g.ok()) << g.status();
      events_.push_back(g->event);
      batch.push_back(g->event);
      if (batch.size() == kBatch || i + 1 == kEvents) {
        v1::AppendBatchResponse response;
        s = ingest_->AppendBatch(Context().get(),
                                 SignedBatch(emitter_.key, batch), &response);
        ASSERT_TRUE(s.ok()) << s.error_message();
        batch.clear();
      }
    }
    engine_.emplace(node_->ledger(), config().provenance);
  }

  // The output dataset of the last data.aggregated event.
  std::optional<v1::SubjectRef> AggregatedDataset() const {
    std::optional<v1::SubjectRef> found;
    for (const v1::Event& e : events_) {
      if (e.type() != "data.aggregated") continue;
      for (const v1::SubjectRef& r : e.outputs()) {
        if (r.kind() == v1::SUBJECT_KIND_DATASET) found = r;
      }
    }
    return found;
  }

  std::vector<v1::Event> events_;
  std::optional<RiskQueries> engine_;
};

TEST_F(RiskServiceTest, FindingsPagesEqualTheEngine) {
  RiskFindingsFilter filter;
  absl::StatusOr<FindingsAnswer> expected =
      engine_->Findings(kTenant, filter, std::nullopt, {});
  ASSERT_TRUE(expected.ok()) << expected.status();
  ASSERT_FALSE(expected->findings.empty());  // the workflow has findings
  v1::RiskFindingsRequest request;
  request.set_tenant(kTenant);
  request.set_page_size(7);
  std::vector<uint64_t> got;
  uint64_t as_of = 0;
  for (int pages = 0; pages < 1000; ++pages) {
    v1::RiskFindingsResponse response;
    grpc::Status s = query_->RiskFindings(Context().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    if (pages == 0) as_of = response.as_of();
    EXPECT_EQ(response.as_of(), as_of);
    for (const v1::RiskFinding& f : response.findings()) {
      got.push_back(f.index());
      EXPECT_GE(f.risk(), v1::RISK_GRADE_MEDIUM);
      ASSERT_GT(f.reasons_size(), 0);
      EXPECT_FALSE(f.reasons(0).raw().empty());
      EXPECT_EQ(f.reasons(0).raw().rfind(f.reasons(0).rule() + " ", 0), 0u);
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  std::vector<uint64_t> want;
  for (const FindingRow& row : expected->findings) want.push_back(row.index);
  EXPECT_EQ(got, want);

  // By rule and level: each finding has a reason of that rule.
  request.clear_page_token();
  request.set_page_size(1000);
  request.set_min_level(v1::RISK_GRADE_HIGH);
  request.set_rule("R4");
  v1::RiskFindingsResponse r4;
  ASSERT_TRUE(query_->RiskFindings(Context().get(), request, &r4).ok());
  filter.min_level = risk::Risk::kHigh;
  filter.rule = 4;
  EXPECT_EQ(
      static_cast<size_t>(r4.findings_size()),
      engine_->Findings(kTenant, filter, std::nullopt, {})->findings.size());
  for (const v1::RiskFinding& f : r4.findings()) {
    bool has = false;
    for (const v1::RiskReason& reason : f.reasons()) {
      has = has || reason.rule() == "R4";
    }
    EXPECT_TRUE(has) << f.index();
  }
}

TEST_F(RiskServiceTest, SummaryAndExplainEqualTheEngine) {
  v1::RiskSummaryRequest request;
  request.set_tenant(kTenant);
  v1::RiskSummaryResponse summary;
  grpc::Status s = query_->RiskSummary(Context().get(), request, &summary);
  ASSERT_TRUE(s.ok()) << s.error_message();
  absl::StatusOr<SummaryAnswer> want =
      engine_->Summary(kTenant, {}, summary.as_of());
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(summary.entries(), want->counts.entries);
  EXPECT_EQ(summary.low(), want->counts.low);
  EXPECT_EQ(summary.medium(), want->counts.medium);
  EXPECT_EQ(summary.high(), want->counts.high);
  EXPECT_EQ(summary.critical(), want->counts.critical);
  EXPECT_EQ(summary.entries(), summary.unassessed() + summary.low() +
                                   summary.medium() + summary.high() +
                                   summary.critical());
  uint64_t by_rule = 0;
  for (const v1::RuleCount& rule : summary.rules()) {
    by_rule += rule.medium() + rule.high() + rule.critical();
  }
  EXPECT_GE(by_rule, summary.medium() + summary.high() + summary.critical());

  // The aggregated dataset's grade: the same in Lineage and GradeExplain.
  std::optional<v1::SubjectRef> aggregated = AggregatedDataset();
  ASSERT_TRUE(aggregated.has_value());
  v1::GradeExplainRequest explain;
  explain.set_tenant(kTenant);
  explain.set_dataset_id(aggregated->id());
  explain.set_version(aggregated->version());
  v1::GradeExplainResponse explained;
  s = query_->GradeExplain(Context().get(), explain, &explained);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_GT(explained.path_size(), 0);
  ASSERT_TRUE(explained.path(0).has_grade());
  std::optional<ExplainedGrade> grade = engine_->GradeAsOf(
      kTenant, aggregated->id(), aggregated->version(), explained.as_of());
  ASSERT_TRUE(grade.has_value());
  EXPECT_EQ(explained.path(0).grade().level(),
            risk::LevelName(grade->record.level));
  EXPECT_EQ(explained.path(0).grade().index(), grade->record.index);
  EXPECT_GT(explained.path_size(), 1);  // propagated from its inputs
  for (int i = 1; i < explained.path_size(); ++i) {
    EXPECT_LT(explained.path(i).parent(), i);
    EXPECT_GT(explained.path(i).edge_index(), 0u);
  }
  EXPECT_GT(explained.history_size(), 0);

  v1::LineageRequest lineage;
  lineage.set_tenant(kTenant);
  lineage.mutable_node()->set_kind(v1::SUBJECT_KIND_DATASET);
  lineage.mutable_node()->set_id(aggregated->id());
  lineage.mutable_node()->set_version(aggregated->version());
  lineage.set_direction(v1::LINEAGE_DIRECTION_UPSTREAM);
  lineage.set_depth(2);
  lineage.set_as_of(explained.as_of());
  v1::LineageResponse nodes;
  s = query_->Lineage(Context().get(), lineage, &nodes);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_GT(nodes.nodes_size(), 1);
  ASSERT_TRUE(nodes.nodes(0).has_grade());
  EXPECT_EQ(nodes.nodes(0).grade().level(), explained.path(0).grade().level());
  EXPECT_EQ(nodes.nodes(0).grade().index(), explained.path(0).grade().index());
  for (const v1::LineageNodeRow& row : nodes.nodes()) {
    if (row.node().kind() != v1::SUBJECT_KIND_DATASET) {
      EXPECT_FALSE(row.has_grade());
    }
  }
}

TEST_F(RiskServiceTest, BadRequestsAreRefusedNamingTheField) {
  v1::RiskFindingsRequest request;
  request.set_tenant(kTenant);
  v1::RiskFindingsResponse response;
  request.set_min_level(v1::RISK_GRADE_LOW);
  grpc::Status s = query_->RiskFindings(Context().get(), request, &response);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("min_level"));
  request.set_min_level(v1::RISK_GRADE_MEDIUM);
  request.set_rule("R99");
  s = query_->RiskFindings(Context().get(), request, &response);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("rule: \"R99\" is not a rule id"));
  EXPECT_EQ(ViolatedFields(s), std::vector<std::string>{"rule"});
  request.clear_rule();
  request.mutable_window()->mutable_t0()->set_seconds(200);
  s = query_->RiskFindings(Context().get(), request, &response);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("window"));
  v1::GradeExplainRequest explain;
  explain.set_tenant(kTenant);
  v1::GradeExplainResponse explained;
  s = query_->GradeExplain(Context().get(), explain, &explained);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("dataset_id: required"));
  EXPECT_EQ(ViolatedFields(s), std::vector<std::string>{"dataset_id"});
  explain.clear_tenant();
  explain.set_dataset_id("d");
  s = query_->GradeExplain(Context().get(), explain, &explained);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(s), std::vector<std::string>{"tenant"});
  v1::RiskSummaryRequest summary;
  summary.set_tenant(kTenant);
  summary.mutable_indexes()->set_start(LedgerSize() + 10);
  v1::RiskSummaryResponse counted;
  s = query_->RiskSummary(Context().get(), summary, &counted);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("indexes.start"));
  EXPECT_EQ(ViolatedFields(s), std::vector<std::string>{"indexes.start"});
  summary.clear_indexes();
  summary.set_as_of(LedgerSize() + 1);
  s = query_->RiskSummary(Context().get(), summary, &counted);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("as_of"));
}

}  // namespace
}  // namespace ledger::node
