// The provenance RPCs of ledger.v1.Query through a real gRPC server, on a
// workflow of the sample generator (tools/ledgerctl/gen_events.h): each
// answer equals the query engine's (ledger/provenance.h) on the same
// ledger; with_proofs answers verify offline; bad requests are refused
// naming the field.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/strings.h"
#include "crypto/note.h"
#include "ledger/answer.h"
#include "ledger/provenance.h"
#include "node/convert.h"
#include "node/node_testing.h"
#include "tools/ledgerctl/gen_events.h"

namespace ledger::node {
namespace {

using ::testing::HasSubstr;
using testing::SignedBatch;

constexpr int kEvents = 400;
constexpr size_t kBatch = 50;

class ProvenanceServiceTest : public testing::NodeFixture {
 protected:
  void Configure(NodeConfig& config) override {
    config.checkpoint_interval = absl::Milliseconds(50);
    config.provenance.max_depth = 8;
  }

  void SetUp() override {
    NodeFixture::SetUp();
    RegisterKey(emitter_);
    v1::NodeInfo info = GetNodeInfo();
    origin_ = info.origin();
    for (const std::string& vkey : info.note_verifier_keys()) {
      absl::StatusOr<crypto::NoteVerifier> v = crypto::ParseVerifierKey(vkey);
      ASSERT_TRUE(v.ok()) << v.status();
      verifiers_.push_back(*v);
    }
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
        grpc::Status s = ingest_->AppendBatch(
            Context().get(), SignedBatch(emitter_.key, batch), &response);
        ASSERT_TRUE(s.ok()) << s.error_message();
        batch.clear();
      }
    }
    // A checkpoint covering everything (the call waits for it).
    v1::GetCheckpointRequest request;
    request.set_min_size(LedgerSize());
    v1::Checkpoint cp;
    grpc::Status s = proof_->GetCheckpoint(Context().get(), request, &cp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    engine_.emplace(node_->ledger(), config().provenance);
  }

  // The subject of `kind` named most often by the generated events (as
  // subject, input or output), counted here from the events themselves.
  std::string MostFrequent(v1::SubjectKind kind) const {
    std::map<std::string, int> count;
    for (const v1::Event& e : events_) {
      std::set<std::string> ids;
      for (const auto* list : {&e.subjects(), &e.inputs(), &e.outputs()}) {
        for (const v1::SubjectRef& r : *list) {
          if (r.kind() == kind) ids.insert(r.id());
        }
      }
      for (const std::string& id : ids) ++count[id];
    }
    std::string best;
    int most = 0;
    for (const auto& [id, n] : count) {
      if (n > most) best = id, most = n;
    }
    return best;
  }

  std::string MostActiveActor() const {
    std::map<std::string, int> count;
    for (const v1::Event& e : events_) ++count[e.actor().id()];
    return std::max_element(
               count.begin(), count.end(),
               [](const auto& a, const auto& b) { return a.second < b.second; })
        ->first;
  }

  // An output dataset version of a late aggregation (a diamond's bottom:
  // it has an upstream with several inputs).
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

  void ExpectVerifies(const std::string& answer, std::string_view what) {
    SCOPED_TRACE(what);
    ASSERT_FALSE(answer.empty());
    AnswerVerification v = VerifyAnswerText(answer, verifiers_, origin_);
    EXPECT_TRUE(v.ok()) << (v.failure()
                                ? v.failure()->name + ": " + v.failure()->detail
                                : "");
  }

  static std::vector<uint64_t> Indexes(
      const google::protobuf::RepeatedPtrField<v1::Entry>& entries) {
    std::vector<uint64_t> out;
    for (const v1::Entry& e : entries) out.push_back(e.index());
    return out;
  }
  template <typename Row>  // StoredEntry or EntryRow
  static std::vector<uint64_t> Indexes(const std::vector<Row>& rows) {
    std::vector<uint64_t> out;
    for (const StoredEntry& r : rows) out.push_back(r.index);
    return out;
  }

  // Ledger time around the appends (received_at is the node's clock).
  static TimeWindow Around() {
    const int64_t now = absl::ToUnixNanos(absl::Now());
    return {now - int64_t{3600} * 1'000'000'000,
            now + int64_t{3600} * 1'000'000'000};
  }
  static void SetWindow(const TimeWindow& w, v1::TimeWindow* proto) {
    *proto->mutable_t0() = NsToTimestamp(w.t0_ns);
    *proto->mutable_t1() = NsToTimestamp(w.t1_ns);
  }

  std::vector<v1::Event> events_;
  std::optional<Provenance> engine_;
  std::string origin_;
  std::vector<crypto::NoteVerifier> verifiers_;
};

TEST_F(ProvenanceServiceTest, HistoryPagesEqualTheEngine) {
  const std::string item = MostFrequent(v1::SUBJECT_KIND_ITEM);
  ASSERT_FALSE(item.empty());
  v1::HistoryRequest request;
  request.set_tenant(kTenant);
  request.mutable_subject()->set_kind("item");
  request.mutable_subject()->set_id(item);
  request.set_page_size(3);
  PageRequest page;
  page.page_size = 3;
  int pages = 0;
  std::vector<uint64_t> all;
  for (; pages < 100; ++pages) {
    v1::HistoryResponse response;
    grpc::Status s = query_->History(Context().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    if (pages == 0) page.as_of = response.as_of();
    absl::StatusOr<HistoryAnswer> direct =
        engine_->History(kTenant, LinkKind::kItem, item, page);
    ASSERT_TRUE(direct.ok()) << direct.status();
    EXPECT_EQ(response.as_of(), direct->as_of);
    EXPECT_EQ(Indexes(response.entries()), Indexes(direct->entries));
    EXPECT_EQ(response.next_page_token(), direct->next_page_token);
    for (int i = 0; i < response.entries_size(); ++i) {
      EXPECT_EQ(response.entries(i).entry_bytes(), direct->entries[i].bytes);
    }
    const std::vector<uint64_t> got = Indexes(response.entries());
    all.insert(all.end(), got.begin(), got.end());
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
    page.page_token = response.next_page_token();
  }
  EXPECT_GT(pages, 0);  // more than one page
  // Every entry naming the item, counted from the events appended.
  int expected = 0;
  for (const v1::Event& e : events_) {
    bool names = false;
    for (const auto* list : {&e.subjects(), &e.inputs(), &e.outputs()}) {
      for (const v1::SubjectRef& r : *list) {
        names = names || (r.kind() == v1::SUBJECT_KIND_ITEM && r.id() == item);
      }
    }
    expected += names ? 1 : 0;
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(expected));
}

TEST_F(ProvenanceServiceTest, EveryOtherQueryEqualsTheEngine) {
  const uint64_t size = LedgerSize();
  {
    const std::string item = MostFrequent(v1::SUBJECT_KIND_ITEM);
    v1::LabelHistoryRequest request;
    request.set_tenant(kTenant);
    request.set_item_id(item);
    v1::LabelHistoryResponse response;
    grpc::Status s = query_->LabelHistory(Context().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(response.as_of(), size);
    absl::StatusOr<LabelHistoryAnswer> direct =
        engine_->LabelHistory(kTenant, item, {size, 0, ""});
    ASSERT_TRUE(direct.ok()) << direct.status();
    ASSERT_EQ(response.rows_size(), static_cast<int>(direct->rows.size()));
    EXPECT_FALSE(direct->rows.empty());
    for (int i = 0; i < response.rows_size(); ++i) {
      const LabelRow& want = direct->rows[i];
      EXPECT_EQ(response.rows(i).index(), want.index);
      EXPECT_EQ(response.rows(i).type(), want.type);
      EXPECT_EQ(response.rows(i).actor().id(), want.actor.id);
      EXPECT_EQ(response.rows(i).review_outcome(),
                ReviewOutcomeName(want.review));
      EXPECT_EQ(response.rows(i).prelabel_model(), want.prelabel_model);
      EXPECT_EQ(response.rows(i).label(), want.label);
      EXPECT_EQ(
          std::vector<std::string>(response.rows(i).annotation_ids().begin(),
                                   response.rows(i).annotation_ids().end()),
          want.annotation_ids);
    }
  }
  const TimeWindow window = Around();
  {
    const std::string dataset = MostFrequent(v1::SUBJECT_KIND_DATASET);
    v1::WhoTouchedRequest request;
    request.set_tenant(kTenant);
    request.mutable_subject()->set_kind("dataset");
    request.mutable_subject()->set_id(dataset);
    SetWindow(window, request.mutable_window());
    request.set_page_size(1000);
    v1::TouchResponse response;
    grpc::Status s = query_->WhoTouched(Context().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    absl::StatusOr<TouchAnswer> direct = engine_->WhoTouched(
        kTenant, LinkKind::kDataset, dataset, window, {size, 1000, ""});
    ASSERT_TRUE(direct.ok()) << direct.status();
    EXPECT_FALSE(direct->entries.empty());
    EXPECT_EQ(Indexes(response.entries()), Indexes(direct->entries));
    EXPECT_EQ(response.first_index(), direct->first_index);
    EXPECT_EQ(response.end_index(), direct->end_index);
    ASSERT_EQ(response.actors_size(), static_cast<int>(direct->actors.size()));
    for (int i = 0; i < response.actors_size(); ++i) {
      EXPECT_EQ(response.actors(i).actor().id(), direct->actors[i].actor.id);
      EXPECT_EQ(response.actors(i).count(), direct->actors[i].count);
    }
    // A window before the appends holds none of them.
    v1::TimeWindow* w = request.mutable_window();
    w->mutable_t0()->set_seconds(0);
    w->mutable_t1()->set_seconds(1);
    ASSERT_TRUE(query_->WhoTouched(Context().get(), request, &response).ok());
    EXPECT_TRUE(response.entries().empty());
  }
  {
    const std::string actor = MostActiveActor();
    v1::ActorActivityRequest request;
    request.set_tenant(kTenant);
    request.set_actor_id(actor);
    SetWindow(window, request.mutable_window());
    v1::TouchResponse response;
    grpc::Status s = query_->ActorActivity(Context().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    absl::StatusOr<TouchAnswer> direct =
        engine_->ActorActivity(kTenant, actor, window, {size, 0, ""});
    ASSERT_TRUE(direct.ok()) << direct.status();
    EXPECT_FALSE(direct->entries.empty());
    EXPECT_EQ(Indexes(response.entries()), Indexes(direct->entries));
    EXPECT_EQ(response.next_page_token(), direct->next_page_token);
  }
  {
    std::optional<v1::SubjectRef> agg = AggregatedDataset();
    ASSERT_TRUE(agg.has_value()) << "the workflow has no aggregation";
    LineageNode node{SubjectKind::kDataset, agg->id(), agg->version()};
    for (auto direction :
         {v1::LINEAGE_DIRECTION_UPSTREAM, v1::LINEAGE_DIRECTION_DOWNSTREAM}) {
      v1::LineageRequest request;
      request.set_tenant(kTenant);
      request.mutable_node()->set_kind(v1::SUBJECT_KIND_DATASET);
      request.mutable_node()->set_id(agg->id());
      request.mutable_node()->set_version(agg->version());
      request.set_direction(direction);
      request.set_depth(4);
      v1::LineageResponse response;
      grpc::Status s = query_->Lineage(Context().get(), request, &response);
      ASSERT_TRUE(s.ok()) << s.error_message();
      absl::StatusOr<LineageAnswer> direct =
          direction == v1::LINEAGE_DIRECTION_UPSTREAM
              ? engine_->Upstream(kTenant, node, 4, size)
              : engine_->Downstream(kTenant, node, 4, size);
      ASSERT_TRUE(direct.ok()) << direct.status();
      EXPECT_EQ(response.as_of(), direct->as_of);
      ASSERT_EQ(response.nodes_size(), static_cast<int>(direct->nodes.size()));
      for (int i = 0; i < response.nodes_size(); ++i) {
        const LineageNodeRow& want = direct->nodes[i];
        EXPECT_EQ(response.nodes(i).node().id(), want.node.id);
        EXPECT_EQ(response.nodes(i).node().version(), want.node.version);
        EXPECT_EQ(static_cast<int>(response.nodes(i).node().kind()),
                  static_cast<int>(want.node.kind));
        EXPECT_EQ(response.nodes(i).depth(), want.depth);
        EXPECT_EQ(response.nodes(i).in_degree(), want.in_degree);
        EXPECT_EQ(response.nodes(i).out_degree(), want.out_degree);
      }
      ASSERT_EQ(response.edges_size(), static_cast<int>(direct->edges.size()));
      for (int i = 0; i < response.edges_size(); ++i) {
        EXPECT_EQ(response.edges(i).index(), direct->edges[i].index);
        EXPECT_EQ(response.edges(i).type(), direct->edges[i].type);
        EXPECT_EQ(response.edges(i).from().id(), direct->edges[i].from.id);
        EXPECT_EQ(response.edges(i).to().id(), direct->edges[i].to.id);
      }
      EXPECT_EQ(std::vector<std::string>(response.run_ids().begin(),
                                         response.run_ids().end()),
                direct->run_ids);
      if (direction == v1::LINEAGE_DIRECTION_UPSTREAM) {
        // The aggregation read several inputs (the diamond).
        EXPECT_GE(response.edges_size(), 2);
      }
    }
  }
  {
    const int year = absl::ToCivilYear(absl::Now(), absl::UTCTimeZone()).year();
    v1::CrossBorderRequest request;
    request.set_tenant(kTenant);
    request.set_year(year);
    v1::CrossBorderResponse response;
    grpc::Status s = query_->CrossBorder(Context().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    absl::StatusOr<CrossBorderAnswer> direct =
        engine_->CrossBorder(kTenant, year, {size, 0, ""});
    ASSERT_TRUE(direct.ok()) << direct.status();
    ASSERT_EQ(response.transfers_size(),
              static_cast<int>(direct->transfers.size()));
    for (int i = 0; i < response.transfers_size(); ++i) {
      EXPECT_EQ(response.transfers(i).index(), direct->transfers[i].index);
      EXPECT_EQ(response.transfers(i).region(), direct->transfers[i].region);
      EXPECT_EQ(response.transfers(i).sent_size(),
                static_cast<int>(direct->transfers[i].sent.size()));
      EXPECT_EQ(response.transfers(i).grade(), "unassessed");
    }
    // Counted from the events: every cross-border transfer was received
    // this year.
    int expected = 0;
    for (const v1::Event& e : events_) {
      expected += e.type() == "data.transferred_cross_border" ? 1 : 0;
    }
    EXPECT_EQ(response.transfers_size(), expected);
  }
  {
    v1::OrphansRequest request;
    request.set_tenant(kTenant);
    v1::OrphansResponse response;
    grpc::Status s = query_->Orphans(Context().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    absl::StatusOr<OrphansAnswer> direct = engine_->Orphans(kTenant, size);
    ASSERT_TRUE(direct.ok()) << direct.status();
    ASSERT_EQ(response.datasets_size(),
              static_cast<int>(direct->datasets.size()));
    for (int i = 0; i < response.datasets_size(); ++i) {
      EXPECT_EQ(response.datasets(i).id(), direct->datasets[i].id);
      EXPECT_EQ(response.datasets(i).first_index(),
                direct->datasets[i].first_index);
    }
    ASSERT_EQ(response.runs_size(), static_cast<int>(direct->runs.size()));
    for (int i = 0; i < response.runs_size(); ++i) {
      EXPECT_EQ(response.runs(i).run_id(), direct->runs[i].run_id);
      EXPECT_EQ(response.runs(i).entry_count(), direct->runs[i].entry_count);
    }
  }
}

TEST_F(ProvenanceServiceTest, AnEarlierAsOfGivesTheEarlierAnswer) {
  const std::string item = MostFrequent(v1::SUBJECT_KIND_ITEM);
  v1::HistoryRequest request;
  request.set_tenant(kTenant);
  request.mutable_subject()->set_kind("item");
  request.mutable_subject()->set_id(item);
  request.set_page_size(1000);
  v1::HistoryResponse whole;
  ASSERT_TRUE(query_->History(Context().get(), request, &whole).ok());
  ASSERT_GE(whole.entries_size(), 2);
  const uint64_t cut = whole.entries(1).index();  // keeps only the first
  request.set_as_of(cut);
  v1::HistoryResponse early;
  ASSERT_TRUE(query_->History(Context().get(), request, &early).ok());
  EXPECT_EQ(early.as_of(), cut);
  ASSERT_EQ(early.entries_size(), 1);
  EXPECT_EQ(early.entries(0).index(), whole.entries(0).index());
}

TEST_F(ProvenanceServiceTest, WithProofsAnswersVerifyOffline) {
  const std::string item = MostFrequent(v1::SUBJECT_KIND_ITEM);
  {
    v1::HistoryRequest request;
    request.set_tenant(kTenant);
    request.mutable_subject()->set_kind("item");
    request.mutable_subject()->set_id(item);
    request.set_with_proofs(true);
    request.set_page_size(4);
    v1::HistoryResponse response;
    grpc::Status s = query_->History(Context().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    // Without an as_of: the latest checkpoint's size.
    std::optional<StoredCheckpoint> latest = node_->ledger().LatestCheckpoint();
    ASSERT_TRUE(latest.has_value());
    EXPECT_LE(response.as_of(), latest->size);
    ExpectVerifies(response.answer(), "history, first page");
    absl::StatusOr<Answer> parsed = ParseAnswer(response.answer());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    ASSERT_EQ(parsed->entries.size(),
              static_cast<size_t>(response.entries_size()));
    for (int i = 0; i < response.entries_size(); ++i) {
      EXPECT_EQ(parsed->entries[i].index, response.entries(i).index());
    }
    EXPECT_EQ(parsed->as_of, response.as_of());
    // The next page, with the token: its own answer file.
    ASSERT_FALSE(response.next_page_token().empty());
    request.set_page_token(response.next_page_token());
    v1::HistoryResponse second;
    s = query_->History(Context().get(), request, &second);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(second.as_of(), response.as_of());
    ExpectVerifies(second.answer(), "history, second page");
  }
  {
    v1::LabelHistoryRequest request;
    request.set_tenant(kTenant);
    request.set_item_id(item);
    request.set_with_proofs(true);
    v1::LabelHistoryResponse response;
    grpc::Status s = query_->LabelHistory(Context().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ExpectVerifies(response.answer(), "label_history");
  }
  {
    v1::WhoTouchedRequest request;
    request.set_tenant(kTenant);
    request.mutable_subject()->set_kind("item");
    request.mutable_subject()->set_id(item);
    SetWindow(Around(), request.mutable_window());
    request.set_with_proofs(true);
    v1::TouchResponse response;
    grpc::Status s = query_->WhoTouched(Context().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ExpectVerifies(response.answer(), "who_touched");
  }
  {
    v1::ActorActivityRequest request;
    request.set_tenant(kTenant);
    request.set_actor_id(MostActiveActor());
    SetWindow(Around(), request.mutable_window());
    request.set_with_proofs(true);
    v1::TouchResponse response;
    grpc::Status s = query_->ActorActivity(Context().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ExpectVerifies(response.answer(), "actor_activity");
  }
  {
    std::optional<v1::SubjectRef> agg = AggregatedDataset();
    ASSERT_TRUE(agg.has_value());
    v1::LineageRequest request;
    request.set_tenant(kTenant);
    request.mutable_node()->set_kind(v1::SUBJECT_KIND_DATASET);
    request.mutable_node()->set_id(agg->id());
    request.mutable_node()->set_version(agg->version());
    request.set_direction(v1::LINEAGE_DIRECTION_UPSTREAM);
    request.set_depth(3);
    request.set_with_proofs(true);
    v1::LineageResponse response;
    grpc::Status s = query_->Lineage(Context().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ExpectVerifies(response.answer(), "lineage");
    absl::StatusOr<Answer> parsed = ParseAnswer(response.answer());
    ASSERT_TRUE(parsed.ok());
    std::set<uint64_t> edge_indexes;
    for (const v1::LineageEdge& e : response.edges()) {
      edge_indexes.insert(e.index());
    }
    std::set<uint64_t> file_indexes;
    for (const AnswerEntry& e : parsed->entries) file_indexes.insert(e.index);
    EXPECT_EQ(file_indexes, edge_indexes);
  }
  {
    v1::CrossBorderRequest request;
    request.set_tenant(kTenant);
    request.set_year(
        absl::ToCivilYear(absl::Now(), absl::UTCTimeZone()).year());
    request.set_with_proofs(true);
    v1::CrossBorderResponse response;
    grpc::Status s = query_->CrossBorder(Context().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ExpectVerifies(response.answer(), "cross_border");
  }
  {
    v1::OrphansRequest request;
    request.set_tenant(kTenant);
    request.set_with_proofs(true);
    v1::OrphansResponse response;
    grpc::Status s = query_->Orphans(Context().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ExpectVerifies(response.answer(), "orphans");
  }
  // A file altered by one byte of an entry no longer verifies.
  {
    v1::HistoryRequest request;
    request.set_tenant(kTenant);
    request.mutable_subject()->set_kind("item");
    request.mutable_subject()->set_id(item);
    request.set_with_proofs(true);
    v1::HistoryResponse response;
    ASSERT_TRUE(query_->History(Context().get(), request, &response).ok());
    absl::StatusOr<Answer> parsed = ParseAnswer(response.answer());
    ASSERT_TRUE(parsed.ok());
    ASSERT_FALSE(parsed->entries.empty());
    parsed->entries[0].bytes.back() ^= 1;
    EXPECT_FALSE(VerifyAnswer(*parsed, verifiers_, origin_).ok());
  }
}

TEST_F(ProvenanceServiceTest, BadRequestsAreRefusedNamingTheField) {
  auto history = [&](v1::HistoryRequest request) {
    v1::HistoryResponse response;
    return query_->History(Context().get(), request, &response);
  };
  v1::HistoryRequest good;
  good.set_tenant(kTenant);
  good.mutable_subject()->set_kind("item");
  good.mutable_subject()->set_id(MostFrequent(v1::SUBJECT_KIND_ITEM));
  ASSERT_TRUE(history(good).ok());
  struct Case {
    std::string name;
    v1::HistoryRequest request;
    std::string field;
  };
  std::vector<Case> cases;
  cases.push_back({"empty tenant", good, "tenant"});
  cases.back().request.clear_tenant();
  cases.push_back({"unknown kind", good, "subject.kind"});
  cases.back().request.mutable_subject()->set_kind("model");
  cases.push_back({"empty id", good, "subject.id"});
  cases.back().request.mutable_subject()->clear_id();
  cases.push_back({"malformed token", good, "page_token"});
  cases.back().request.set_page_token("not-a-token!");
  cases.push_back({"as_of beyond", good, "as_of"});
  cases.back().request.set_as_of(LedgerSize() + 5);
  cases.push_back({"page too large", good, "page_size"});
  cases.back().request.set_page_size(kMaxPageSize + 1);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    grpc::Status s = history(c.request);
    EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(c.field));
  }
  {
    // Both numbers are named.
    v1::HistoryRequest request = good;
    request.set_as_of(LedgerSize() + 5);
    grpc::Status s = history(request);
    EXPECT_THAT(s.error_message(), HasSubstr(StrCat(LedgerSize() + 5)));
    EXPECT_THAT(s.error_message(), HasSubstr(StrCat(LedgerSize())));
  }
  {
    // A token of another query.
    v1::HistoryRequest paged = good;
    paged.set_page_size(1);
    v1::HistoryResponse first;
    ASSERT_TRUE(query_->History(Context().get(), paged, &first).ok());
    ASSERT_FALSE(first.next_page_token().empty());
    v1::LabelHistoryRequest other;
    other.set_tenant(kTenant);
    other.set_item_id(good.subject().id());
    other.set_page_token(first.next_page_token());
    v1::LabelHistoryResponse response;
    grpc::Status s = query_->LabelHistory(Context().get(), other, &response);
    EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("page_token"));
  }
  {
    // Unknown subject: an empty answer, not an error.
    v1::HistoryRequest request = good;
    request.mutable_subject()->set_id("never-seen");
    v1::HistoryResponse response;
    grpc::Status s = query_->History(Context().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(response.entries().empty());
    EXPECT_TRUE(response.next_page_token().empty());
  }
  {
    v1::LineageRequest request;
    request.set_tenant(kTenant);
    request.mutable_node()->set_kind(v1::SUBJECT_KIND_DATASET);
    request.mutable_node()->set_id("never-seen");
    request.set_direction(v1::LINEAGE_DIRECTION_UPSTREAM);
    request.set_depth(2);
    v1::LineageResponse response;
    grpc::Status s = query_->Lineage(Context().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(response.nodes().empty());
    EXPECT_TRUE(response.edges().empty());

    request.set_depth(config().provenance.max_depth + 1);
    s = query_->Lineage(Context().get(), request, &response);
    EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(),
                HasSubstr(StrCat(config().provenance.max_depth)));
    request.set_depth(2);
    request.set_direction(v1::LINEAGE_DIRECTION_UNSPECIFIED);
    s = query_->Lineage(Context().get(), request, &response);
    EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("direction"));
    request.set_direction(v1::LINEAGE_DIRECTION_DOWNSTREAM);
    request.mutable_node()->set_kind(v1::SUBJECT_KIND_UNSPECIFIED);
    s = query_->Lineage(Context().get(), request, &response);
    EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("node.kind"));
  }
  {
    v1::WhoTouchedRequest request;
    request.set_tenant(kTenant);
    request.mutable_subject()->set_kind("item");
    request.mutable_subject()->set_id("x");
    request.mutable_window()->mutable_t0()->set_seconds(200);
    request.mutable_window()->mutable_t1()->set_seconds(100);
    v1::TouchResponse response;
    grpc::Status s = query_->WhoTouched(Context().get(), request, &response);
    EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("window.t0"));
    request.clear_window();
    s = query_->WhoTouched(Context().get(), request, &response);
    EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("window"));
  }
  {
    v1::OrphansRequest request;
    request.set_tenant(kTenant);
    request.set_as_of(LedgerSize() + 1);
    v1::OrphansResponse response;
    grpc::Status s = query_->Orphans(Context().get(), request, &response);
    EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("as_of"));
  }
}

}  // namespace
}  // namespace ledger::node
