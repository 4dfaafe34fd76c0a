// The provenance and risk RPCs of ledger.v1.Query (query_service.h):
// request checks, as_of, the Provenance and RiskQueries engines
// (ledger/provenance.h, ledger/risk_queries.h), the conversion to proto
// and, with with_proofs, the answer file (ledger/answer_builder.h).

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "ledger/answer_builder.h"
#include "node/convert.h"
#include "node/grpc_status.h"
#include "node/payloads.h"
#include "node/proof_service.h"
#include "node/query_service.h"
#include "node/read_floor.h"

namespace ledger::node {

namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

constexpr std::string_view kHistory = "/ledger.v1.Query/History";
constexpr std::string_view kLabelHistory = "/ledger.v1.Query/LabelHistory";
constexpr std::string_view kWhoTouched = "/ledger.v1.Query/WhoTouched";
constexpr std::string_view kActorActivity = "/ledger.v1.Query/ActorActivity";
constexpr std::string_view kLineage = "/ledger.v1.Query/Lineage";
constexpr std::string_view kCrossBorder = "/ledger.v1.Query/CrossBorder";
constexpr std::string_view kOrphans = "/ledger.v1.Query/Orphans";
constexpr std::string_view kRiskFindings = "/ledger.v1.Query/RiskFindings";
constexpr std::string_view kGradeExplain = "/ledger.v1.Query/GradeExplain";
constexpr std::string_view kRiskSummary = "/ledger.v1.Query/RiskSummary";

// Client-supplied text fit for an error message: at most 100 bytes, control
// characters replaced.
std::string Shown(std::string_view text) {
  std::string out(text.substr(0, 100));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
  }
  if (text.size() > 100) out += "...";
  return out;
}

// The tenant is named and the caller may read its data (an officer only
// its own tenants: PermissionDenied, recorded as access.denied).
absl::Status CheckTenant(const ServiceContext& ctx,
                         grpc::ServerContext* context, std::string_view method,
                         std::string_view tenant, std::string_view what) {
  if (tenant.empty()) {
    return absl::InvalidArgumentError(
        "tenant: required (the tenant asked about)");
  }
  return CheckTenantAccess(ctx, ctx.authorizer->CallerOf(*context), method,
                           tenant, what);
}

absl::StatusOr<LinkKind> ParseLinkKind(std::string_view kind,
                                       std::string_view field) {
  if (std::optional<LinkKind> link = ParseLinkKindName(kind)) return *link;
  return absl::InvalidArgumentError(
      StrCat(field, ": unknown subject kind \"", Shown(kind),
             "\" (one of dataset, item, annotation, actor)"));
}

absl::StatusOr<AnswerSubject> SubjectFromProto(const v1::SubjectKey& key) {
  LEDGER_ASSIGN_OR_RETURN(LinkKind kind,
                          ParseLinkKind(key.kind(), "subject.kind"));
  if (key.id().empty()) {
    return absl::InvalidArgumentError("subject.id: required");
  }
  return AnswerSubject{kind, key.id()};
}

std::string SubjectText(const AnswerSubject& subject) {
  return StrCat(LinkKindName(subject.kind), ":", subject.id);
}

absl::StatusOr<LineageNode> NodeFromProto(const v1::LineageNode& proto) {
  LineageNode node;
  switch (proto.kind()) {
    case v1::SUBJECT_KIND_DATASET:
      node.kind = SubjectKind::kDataset;
      break;
    case v1::SUBJECT_KIND_ITEM:
      node.kind = SubjectKind::kItem;
      break;
    case v1::SUBJECT_KIND_ANNOTATION:
      node.kind = SubjectKind::kAnnotation;
      break;
    default:
      return absl::InvalidArgumentError(
          StrCat("node.kind: ", static_cast<int>(proto.kind()),
                 " is not a subject kind (SUBJECT_KIND_DATASET, "
                 "SUBJECT_KIND_ITEM or SUBJECT_KIND_ANNOTATION)"));
  }
  if (proto.id().empty()) {
    return absl::InvalidArgumentError("node.id: required");
  }
  node.id = proto.id();
  node.version = proto.version();
  return node;
}

void NodeToProto(const LineageNode& node, v1::LineageNode* proto) {
  proto->set_kind(static_cast<v1::SubjectKind>(node.kind));
  proto->set_id(node.id);
  proto->set_version(node.version);
}

std::string NodeText(const LineageNode& node) {
  // Subject kinds are the link kinds of the same number.
  std::string text =
      StrCat(LinkKindName(static_cast<LinkKind>(node.kind)), ":", node.id);
  if (!node.version.empty()) text += StrCat("@", node.version);
  return text;
}

void ActorToProto(const Actor& actor, v1::Actor* proto) {
  proto->set_kind(static_cast<v1::ActorKind>(actor.kind));
  proto->set_id(actor.id);
  proto->set_role(actor.role);
}

std::string TimeText(int64_t ns) {
  return absl::FormatTime(absl::RFC3339_full, absl::FromUnixNanos(ns),
                          absl::UTCTimeZone());
}

absl::StatusOr<TimeWindow> WindowFromProto(bool has_window,
                                           const v1::TimeWindow& proto) {
  if (!has_window || !proto.has_t0() || !proto.has_t1()) {
    return absl::InvalidArgumentError(
        "window: t0 and t1 are required (ledger time, [t0, t1))");
  }
  TimeWindow window;
  LEDGER_ASSIGN_OR_RETURN(window.t0_ns, TimestampToNs(proto.t0(), "window.t0"));
  LEDGER_ASSIGN_OR_RETURN(window.t1_ns, TimestampToNs(proto.t1(), "window.t1"));
  if (window.t0_ns > window.t1_ns) {
    return absl::InvalidArgumentError(
        StrCat("window.t0: ", TimeText(window.t0_ns), " is after window.t1 ",
               TimeText(window.t1_ns)));
  }
  return window;
}

// The as_of a query runs at. The request's, at most the committed size;
// else, for a first page (or a graph query), the committed size, or with
// proofs the latest checkpoint's size (so the answer file needs no wait
// for a checkpoint); else unset: the page token's.
absl::StatusOr<std::optional<uint64_t>> QueryAsOf(
    const ServiceContext& ctx, const grpc::ServerContext& context,
    bool has_as_of, uint64_t as_of, bool with_proofs, bool first_page) {
  LEDGER_ASSIGN_OR_RETURN(const uint64_t committed,
                          CommittedForRead(context, *ctx.coordinator));
  if (has_as_of) {
    if (as_of > committed) {
      return absl::InvalidArgumentError(
          StrCat("as_of: ", as_of, " is beyond the ledger's committed size ",
                 committed));
    }
    return as_of;
  }
  if (!first_page) return std::nullopt;
  if (!with_proofs) return committed;
  std::optional<StoredCheckpoint> latest = ctx.ledger->LatestCheckpoint();
  if (!latest.has_value()) {
    return absl::UnavailableError(
        "with_proofs: no checkpoint has been signed yet, so no answer can "
        "be proven; retry after the next checkpoint (or ask without "
        "with_proofs)");
  }
  return std::min(latest->size, committed);
}

PageRequest MakePage(std::optional<uint64_t> as_of, uint32_t page_size,
                     const std::string& page_token) {
  PageRequest page;
  page.as_of = as_of;
  page.page_size = page_size;
  page.page_token = page_token;
  return page;
}

// The paging parameters as an answer file states them.
void AddPageParams(bool has_as_of, uint64_t as_of, uint32_t page_size,
                   const std::string& page_token, Params* params) {
  if (has_as_of) params->emplace_back("as_of", StrCat(as_of));
  if (page_size != 0) params->emplace_back("page_size", StrCat(page_size));
  if (!page_token.empty()) params->emplace_back("page_token", page_token);
}

// The answer file for `indexes` (sorted and deduplicated here). `bytes`,
// if given, are the entries at `indexes`, which must then be strictly
// increasing already.
absl::StatusOr<std::string> AnswerFile(const ServiceContext& ctx,
                                       AnswerKind kind, Params params,
                                       std::string_view tenant,
                                       std::optional<AnswerSubject> subject,
                                       std::vector<uint64_t> indexes,
                                       uint64_t as_of,
                                       std::vector<std::string> bytes = {}) {
  const bool increasing =
      std::adjacent_find(indexes.begin(), indexes.end(),
                         std::greater_equal<uint64_t>()) == indexes.end();
  if (!increasing) {
    bytes.clear();  // they would no longer match
    std::sort(indexes.begin(), indexes.end());
    indexes.erase(std::unique(indexes.begin(), indexes.end()), indexes.end());
  }
  AnswerRequest request;
  request.bytes = std::move(bytes);
  request.kind = kind;
  request.params = std::move(params);
  request.tenant = std::string(tenant);
  request.subject = std::move(subject);
  request.indexes = std::move(indexes);
  request.as_of = as_of;
  LEDGER_ASSIGN_OR_RETURN(Answer answer, BuildAnswer(*ctx.ledger, request));
  return EncodeAnswer(answer);
}

template <typename Row>  // StoredEntry or EntryRow
absl::Status AddEntries(const ServiceContext& ctx, const std::vector<Row>& rows,
                        google::protobuf::RepeatedPtrField<v1::Entry>* out) {
  for (const StoredEntry& row : rows) {
    LEDGER_ASSIGN_OR_RETURN(v1::Entry entry, EntryToProto(row.bytes));
    // Who may ask about the tenant may read its plaintext (GetEntry).
    FillPayloadView(ctx.ledger->payload_keys(), /*may_read_plaintext=*/true,
                    &entry);
    *out->Add() = std::move(entry);
  }
  return absl::OkStatus();
}

std::vector<std::string> RowBytes(std::vector<StoredEntry> rows) {
  std::vector<std::string> bytes;
  bytes.reserve(rows.size());
  for (StoredEntry& row : rows) bytes.push_back(std::move(row.bytes));
  return bytes;
}

template <typename Row>  // StoredEntry or EntryRow
std::vector<uint64_t> RowIndexes(const std::vector<Row>& rows) {
  std::vector<uint64_t> indexes;
  indexes.reserve(rows.size());
  for (const StoredEntry& row : rows) indexes.push_back(row.index);
  return indexes;
}

absl::Status FillTouch(const ServiceContext& ctx, const TouchAnswer& answer,
                       v1::TouchResponse* response) {
  response->set_as_of(answer.as_of);
  response->set_first_index(answer.first_index);
  response->set_end_index(answer.end_index);
  LEDGER_RETURN_IF_ERROR(
      AddEntries(ctx, answer.entries, response->mutable_entries()));
  for (const ActorSummary& summary : answer.actors) {
    v1::ActorSummary* out = response->add_actors();
    ActorToProto(summary.actor, out->mutable_actor());
    out->set_count(summary.count);
    for (const std::string& action : summary.actions) out->add_actions(action);
  }
  response->set_next_page_token(answer.next_page_token);
  return absl::OkStatus();
}

absl::Status DoHistory(const ServiceContext& ctx, const Provenance& provenance,
                       grpc::ServerContext* context,
                       const v1::HistoryRequest& request,
                       v1::HistoryResponse* response) {
  LEDGER_RETURN_IF_ERROR(CheckTenant(ctx, context, kHistory, request.tenant(),
                                     "ask for a subject's history"));
  LEDGER_ASSIGN_OR_RETURN(AnswerSubject subject,
                          SubjectFromProto(request.subject()));
  LEDGER_ASSIGN_OR_RETURN(
      std::optional<uint64_t> as_of,
      QueryAsOf(ctx, *context, request.has_as_of(), request.as_of(),
                request.with_proofs(), request.page_token().empty()));
  LEDGER_ASSIGN_OR_RETURN(
      HistoryAnswer answer,
      provenance.History(
          request.tenant(), subject.kind, subject.id,
          MakePage(as_of, request.page_size(), request.page_token())));
  response->set_as_of(answer.as_of);
  LEDGER_RETURN_IF_ERROR(
      AddEntries(ctx, answer.entries, response->mutable_entries()));
  response->set_next_page_token(answer.next_page_token);
  if (request.with_proofs()) {
    Params params = {{"subject", SubjectText(subject)}};
    AddPageParams(request.has_as_of(), request.as_of(), request.page_size(),
                  request.page_token(), &params);
    std::vector<uint64_t> indexes = RowIndexes(answer.entries);
    LEDGER_ASSIGN_OR_RETURN(
        *response->mutable_answer(),
        AnswerFile(ctx, AnswerKind::kHistory, std::move(params),
                   request.tenant(), subject, std::move(indexes), answer.as_of,
                   RowBytes(std::move(answer.entries))));
  }
  return absl::OkStatus();
}

absl::Status DoLabelHistory(const ServiceContext& ctx,
                            const Provenance& provenance,
                            grpc::ServerContext* context,
                            const v1::LabelHistoryRequest& request,
                            v1::LabelHistoryResponse* response) {
  LEDGER_RETURN_IF_ERROR(CheckTenant(ctx, context, kLabelHistory,
                                     request.tenant(),
                                     "ask for an item's label history"));
  if (request.item_id().empty()) {
    return absl::InvalidArgumentError("item_id: required");
  }
  LEDGER_ASSIGN_OR_RETURN(
      std::optional<uint64_t> as_of,
      QueryAsOf(ctx, *context, request.has_as_of(), request.as_of(),
                request.with_proofs(), request.page_token().empty()));
  LEDGER_ASSIGN_OR_RETURN(
      LabelHistoryAnswer answer,
      provenance.LabelHistory(
          request.tenant(), request.item_id(),
          MakePage(as_of, request.page_size(), request.page_token())));
  response->set_as_of(answer.as_of);
  std::vector<uint64_t> indexes;
  for (const LabelRow& row : answer.rows) {
    v1::LabelRow* out = response->add_rows();
    out->set_index(row.index);
    *out->mutable_received_at() = NsToTimestamp(row.received_at_ns);
    *out->mutable_occurred_at() = NsToTimestamp(row.occurred_at_ns);
    out->set_type(row.type);
    ActorToProto(row.actor, out->mutable_actor());
    for (const std::string& id : row.annotation_ids) {
      out->add_annotation_ids(id);
    }
    out->set_review_outcome(std::string(ReviewOutcomeName(row.review)));
    out->set_prelabel_model(row.prelabel_model);
    out->set_label(row.label);
    indexes.push_back(row.index);
  }
  response->set_next_page_token(answer.next_page_token);
  if (request.with_proofs()) {
    AnswerSubject subject{LinkKind::kItem, request.item_id()};
    Params params = {{"item", request.item_id()}};
    AddPageParams(request.has_as_of(), request.as_of(), request.page_size(),
                  request.page_token(), &params);
    LEDGER_ASSIGN_OR_RETURN(
        *response->mutable_answer(),
        AnswerFile(ctx, AnswerKind::kLabelHistory, std::move(params),
                   request.tenant(), subject, std::move(indexes),
                   answer.as_of));
  }
  return absl::OkStatus();
}

absl::Status DoWhoTouched(const ServiceContext& ctx,
                          const Provenance& provenance,
                          grpc::ServerContext* context,
                          const v1::WhoTouchedRequest& request,
                          v1::TouchResponse* response) {
  LEDGER_RETURN_IF_ERROR(CheckTenant(ctx, context, kWhoTouched,
                                     request.tenant(),
                                     "ask who touched a subject"));
  LEDGER_ASSIGN_OR_RETURN(AnswerSubject subject,
                          SubjectFromProto(request.subject()));
  LEDGER_ASSIGN_OR_RETURN(
      TimeWindow window,
      WindowFromProto(request.has_window(), request.window()));
  LEDGER_ASSIGN_OR_RETURN(
      std::optional<uint64_t> as_of,
      QueryAsOf(ctx, *context, request.has_as_of(), request.as_of(),
                request.with_proofs(), request.page_token().empty()));
  LEDGER_ASSIGN_OR_RETURN(
      TouchAnswer answer,
      provenance.WhoTouched(
          request.tenant(), subject.kind, subject.id, window,
          MakePage(as_of, request.page_size(), request.page_token())));
  LEDGER_RETURN_IF_ERROR(FillTouch(ctx, answer, response));
  if (request.with_proofs()) {
    Params params = {{"subject", SubjectText(subject)},
                     {"t0", TimeText(window.t0_ns)},
                     {"t1", TimeText(window.t1_ns)}};
    AddPageParams(request.has_as_of(), request.as_of(), request.page_size(),
                  request.page_token(), &params);
    LEDGER_ASSIGN_OR_RETURN(
        *response->mutable_answer(),
        AnswerFile(ctx, AnswerKind::kWhoTouched, std::move(params),
                   request.tenant(), subject, RowIndexes(answer.entries),
                   answer.as_of));
  }
  return absl::OkStatus();
}

absl::Status DoActorActivity(const ServiceContext& ctx,
                             const Provenance& provenance,
                             grpc::ServerContext* context,
                             const v1::ActorActivityRequest& request,
                             v1::TouchResponse* response) {
  LEDGER_RETURN_IF_ERROR(CheckTenant(ctx, context, kActorActivity,
                                     request.tenant(),
                                     "ask for an actor's activity"));
  if (request.actor_id().empty()) {
    return absl::InvalidArgumentError("actor_id: required");
  }
  LEDGER_ASSIGN_OR_RETURN(
      TimeWindow window,
      WindowFromProto(request.has_window(), request.window()));
  LEDGER_ASSIGN_OR_RETURN(
      std::optional<uint64_t> as_of,
      QueryAsOf(ctx, *context, request.has_as_of(), request.as_of(),
                request.with_proofs(), request.page_token().empty()));
  LEDGER_ASSIGN_OR_RETURN(
      TouchAnswer answer,
      provenance.ActorActivity(
          request.tenant(), request.actor_id(), window,
          MakePage(as_of, request.page_size(), request.page_token())));
  LEDGER_RETURN_IF_ERROR(FillTouch(ctx, answer, response));
  if (request.with_proofs()) {
    AnswerSubject subject{LinkKind::kActor, request.actor_id()};
    Params params = {{"actor", request.actor_id()},
                     {"t0", TimeText(window.t0_ns)},
                     {"t1", TimeText(window.t1_ns)}};
    AddPageParams(request.has_as_of(), request.as_of(), request.page_size(),
                  request.page_token(), &params);
    LEDGER_ASSIGN_OR_RETURN(
        *response->mutable_answer(),
        AnswerFile(ctx, AnswerKind::kActorActivity, std::move(params),
                   request.tenant(), subject, RowIndexes(answer.entries),
                   answer.as_of));
  }
  return absl::OkStatus();
}

void GradeToProto(const ExplainedGrade& grade, v1::DataGrade* out) {
  const risk::GradeRecord& r = grade.record;
  out->set_level(std::string(risk::LevelName(r.level)));
  const std::string flags = risk::FlagsText(r.flags);
  if (!flags.empty()) {
    for (std::string_view flag : Split(flags, ',')) {
      out->add_flags(std::string(flag));
    }
  }
  out->set_basis(r.basis);
  out->set_index(r.index);
  out->set_policy_version(grade.policy_version);
  out->set_version_less(grade.version_less);
  for (const std::string& from : r.propagated_from) {
    out->add_propagated_from(from);
  }
  for (uint64_t e : r.evidence) out->add_evidence(e);
}

absl::Status DoLineage(const ServiceContext& ctx, const Provenance& provenance,
                       const RiskQueries& risk, grpc::ServerContext* context,
                       const v1::LineageRequest& request,
                       v1::LineageResponse* response) {
  LEDGER_RETURN_IF_ERROR(
      CheckTenant(ctx, context, kLineage, request.tenant(), "ask for lineage"));
  LEDGER_ASSIGN_OR_RETURN(LineageNode node, NodeFromProto(request.node()));
  const bool up = request.direction() == v1::LINEAGE_DIRECTION_UPSTREAM;
  if (!up && request.direction() != v1::LINEAGE_DIRECTION_DOWNSTREAM) {
    return absl::InvalidArgumentError(
        StrCat("direction: ", static_cast<int>(request.direction()),
               " is not a direction (LINEAGE_DIRECTION_UPSTREAM or "
               "LINEAGE_DIRECTION_DOWNSTREAM)"));
  }
  LEDGER_ASSIGN_OR_RETURN(
      std::optional<uint64_t> as_of,
      QueryAsOf(ctx, *context, request.has_as_of(), request.as_of(),
                request.with_proofs(), /*first_page=*/true));
  LEDGER_ASSIGN_OR_RETURN(
      LineageAnswer answer,
      up ? provenance.Upstream(request.tenant(), node, request.depth(), as_of)
         : provenance.Downstream(request.tenant(), node, request.depth(),
                                 as_of));
  response->set_as_of(answer.as_of);
  for (const LineageNodeRow& row : answer.nodes) {
    v1::LineageNodeRow* out = response->add_nodes();
    NodeToProto(row.node, out->mutable_node());
    out->set_depth(row.depth);
    out->set_in_degree(row.in_degree);
    out->set_out_degree(row.out_degree);
    if (row.node.kind == SubjectKind::kDataset) {
      if (std::optional<ExplainedGrade> grade = risk.GradeAsOf(
              request.tenant(), row.node.id, row.node.version, answer.as_of)) {
        GradeToProto(*grade, out->mutable_grade());
      }
    }
  }
  std::vector<uint64_t> indexes;
  for (const LineageEdge& edge : answer.edges) {
    v1::LineageEdge* out = response->add_edges();
    NodeToProto(edge.from, out->mutable_from());
    NodeToProto(edge.to, out->mutable_to());
    out->set_type(edge.type);
    out->set_index(edge.index);
    indexes.push_back(edge.index);
  }
  for (const std::string& run : answer.run_ids) response->add_run_ids(run);
  if (request.with_proofs()) {
    Params params = {{"node", NodeText(node)},
                     {"depth", StrCat(request.depth())}};
    if (request.has_as_of())
      params.emplace_back("as_of", StrCat(request.as_of()));
    LEDGER_ASSIGN_OR_RETURN(
        *response->mutable_answer(),
        AnswerFile(ctx, up ? AnswerKind::kUpstream : AnswerKind::kDownstream,
                   std::move(params), request.tenant(), std::nullopt,
                   std::move(indexes), answer.as_of));
  }
  return absl::OkStatus();
}

absl::Status DoCrossBorder(const ServiceContext& ctx,
                           const Provenance& provenance,
                           grpc::ServerContext* context,
                           const v1::CrossBorderRequest& request,
                           v1::CrossBorderResponse* response) {
  LEDGER_RETURN_IF_ERROR(CheckTenant(ctx, context, kCrossBorder,
                                     request.tenant(),
                                     "ask for cross-border transfers"));
  LEDGER_ASSIGN_OR_RETURN(
      std::optional<uint64_t> as_of,
      QueryAsOf(ctx, *context, request.has_as_of(), request.as_of(),
                request.with_proofs(), request.page_token().empty()));
  LEDGER_ASSIGN_OR_RETURN(
      CrossBorderAnswer answer,
      provenance.CrossBorder(
          request.tenant(), request.year(),
          MakePage(as_of, request.page_size(), request.page_token())));
  response->set_as_of(answer.as_of);
  std::vector<uint64_t> indexes;
  for (const TransferRow& row : answer.transfers) {
    v1::Transfer* out = response->add_transfers();
    out->set_index(row.index);
    *out->mutable_received_at() = NsToTimestamp(row.received_at_ns);
    *out->mutable_occurred_at() = NsToTimestamp(row.occurred_at_ns);
    ActorToProto(row.actor, out->mutable_actor());
    for (const SubjectRef& ref : row.sent) {
      *out->add_sent() = SubjectRefToProto(ref);
    }
    for (const SubjectRef& ref : row.outputs) {
      *out->add_outputs() = SubjectRefToProto(ref);
    }
    out->set_region(row.region);
    out->set_purpose(row.purpose);
    for (const auto& [key, value] : row.attributes) {
      (*out->mutable_attributes())[key] = value;
    }
    out->set_grade(row.grade);
    indexes.push_back(row.index);
  }
  response->set_next_page_token(answer.next_page_token);
  if (request.with_proofs()) {
    Params params = {{"year", StrCat(request.year())}};
    AddPageParams(request.has_as_of(), request.as_of(), request.page_size(),
                  request.page_token(), &params);
    LEDGER_ASSIGN_OR_RETURN(
        *response->mutable_answer(),
        AnswerFile(ctx, AnswerKind::kCrossBorder, std::move(params),
                   request.tenant(), std::nullopt, std::move(indexes),
                   answer.as_of));
  }
  return absl::OkStatus();
}

absl::Status DoOrphans(const ServiceContext& ctx, const Provenance& provenance,
                       grpc::ServerContext* context,
                       const v1::OrphansRequest& request,
                       v1::OrphansResponse* response) {
  LEDGER_RETURN_IF_ERROR(
      CheckTenant(ctx, context, kOrphans, request.tenant(), "ask for orphans"));
  LEDGER_ASSIGN_OR_RETURN(
      std::optional<uint64_t> as_of,
      QueryAsOf(ctx, *context, request.has_as_of(), request.as_of(),
                request.with_proofs(), /*first_page=*/true));
  LEDGER_ASSIGN_OR_RETURN(OrphansAnswer answer,
                          provenance.Orphans(request.tenant(), as_of));
  response->set_as_of(answer.as_of);
  std::vector<uint64_t> indexes;
  for (const OrphanDataset& dataset : answer.datasets) {
    v1::OrphanDataset* out = response->add_datasets();
    out->set_id(dataset.id);
    out->set_first_index(dataset.first_index);
    indexes.push_back(dataset.first_index);
  }
  for (const OrphanRun& run : answer.runs) {
    v1::OrphanRun* out = response->add_runs();
    out->set_run_id(run.run_id);
    out->set_first_index(run.first_index);
    out->set_last_index(run.last_index);
    out->set_entry_count(run.entry_count);
    indexes.push_back(run.first_index);
  }
  if (request.with_proofs()) {
    Params params;
    if (request.has_as_of())
      params.emplace_back("as_of", StrCat(request.as_of()));
    LEDGER_ASSIGN_OR_RETURN(
        *response->mutable_answer(),
        AnswerFile(ctx, AnswerKind::kOrphans, std::move(params),
                   request.tenant(), std::nullopt, std::move(indexes),
                   answer.as_of));
  }
  return absl::OkStatus();
}

absl::Status DoRiskFindings(const ServiceContext& ctx, const RiskQueries& risk,
                            grpc::ServerContext* context,
                            const v1::RiskFindingsRequest& request,
                            v1::RiskFindingsResponse* response) {
  LEDGER_RETURN_IF_ERROR(CheckTenant(
      ctx, context, kRiskFindings, request.tenant(), "ask for risk findings"));
  RiskFindingsFilter filter;
  switch (request.min_level()) {
    case v1::RISK_GRADE_UNASSESSED:
    case v1::RISK_GRADE_MEDIUM:
      filter.min_level = risk::Risk::kMedium;
      break;
    case v1::RISK_GRADE_HIGH:
      filter.min_level = risk::Risk::kHigh;
      break;
    case v1::RISK_GRADE_CRITICAL:
      filter.min_level = risk::Risk::kCritical;
      break;
    default:
      return absl::InvalidArgumentError(
          StrCat("min_level: ", static_cast<int>(request.min_level()),
                 " is not a finding's level (RISK_GRADE_MEDIUM, "
                 "RISK_GRADE_HIGH or RISK_GRADE_CRITICAL; low entries are "
                 "no findings)"));
  }
  if (!request.rule().empty()) {
    std::optional<int> rule = ParseRiskRule(request.rule());
    if (!rule.has_value()) {
      return absl::InvalidArgumentError(
          StrCat("rule: \"", Shown(request.rule()),
                 "\" is not a rule id (R1 ... R15, as in "
                 "docs/risk-rules.md)"));
    }
    filter.rule = *rule;
  }
  filter.actor = request.actor_id();
  std::optional<TimeWindow> window;
  if (request.has_window()) {
    LEDGER_ASSIGN_OR_RETURN(window, WindowFromProto(true, request.window()));
  }
  LEDGER_ASSIGN_OR_RETURN(
      std::optional<uint64_t> as_of,
      QueryAsOf(ctx, *context, request.has_as_of(), request.as_of(),
                /*with_proofs=*/false, request.page_token().empty()));
  LEDGER_ASSIGN_OR_RETURN(FindingsAnswer answer,
                          risk.Findings(request.tenant(), filter, window,
                                        MakePage(as_of, request.page_size(),
                                                 request.page_token())));
  response->set_as_of(answer.as_of);
  response->set_first_index(answer.first_index);
  response->set_end_index(answer.end_index);
  for (const FindingRow& row : answer.findings) {
    v1::RiskFinding* out = response->add_findings();
    out->set_index(row.index);
    *out->mutable_received_at() = NsToTimestamp(row.received_at_ns);
    out->set_type(row.type);
    ActorToProto(row.actor, out->mutable_actor());
    for (const SubjectRef& ref : row.subjects) {
      *out->add_subjects() = SubjectRefToProto(ref);
    }
    out->set_risk(static_cast<v1::RiskGrade>(row.risk));
    for (const RiskReason& reason : row.reasons) {
      v1::RiskReason* r = out->add_reasons();
      r->set_raw(reason.raw);
      r->set_rule(reason.rule);
      r->set_level(reason.level);
      r->set_text(reason.text);
      for (uint64_t e : reason.evidence) r->add_evidence(e);
    }
    out->set_policy_version(row.policy_version);
  }
  response->set_next_page_token(answer.next_page_token);
  return absl::OkStatus();
}

absl::Status DoGradeExplain(const ServiceContext& ctx, const RiskQueries& risk,
                            grpc::ServerContext* context,
                            const v1::GradeExplainRequest& request,
                            v1::GradeExplainResponse* response) {
  LEDGER_RETURN_IF_ERROR(CheckTenant(ctx, context, kGradeExplain,
                                     request.tenant(),
                                     "ask why a dataset has its grade"));
  if (request.dataset_id().empty()) {
    return absl::InvalidArgumentError("dataset_id: required");
  }
  LEDGER_ASSIGN_OR_RETURN(
      std::optional<uint64_t> as_of,
      QueryAsOf(ctx, *context, request.has_as_of(), request.as_of(),
                /*with_proofs=*/false, /*first_page=*/true));
  LEDGER_ASSIGN_OR_RETURN(ExplainAnswer answer,
                          risk.Explain(request.tenant(), request.dataset_id(),
                                       request.version(), as_of));
  response->set_as_of(answer.as_of);
  for (const GradeStep& step : answer.steps) {
    v1::GradeStep* out = response->add_path();
    out->set_dataset_id(step.id);
    out->set_version(step.version);
    out->set_depth(step.depth);
    out->set_parent(step.parent);
    out->set_edge_index(step.edge_index);
    const std::string blocked = risk::FlagsText(step.blocked_flags);
    if (!blocked.empty()) {
      for (std::string_view flag : Split(blocked, ',')) {
        out->add_blocked_flags(std::string(flag));
      }
    }
    out->set_raises(step.raises);
    out->set_at(step.at);
    if (step.grade.has_value()) GradeToProto(*step.grade, out->mutable_grade());
    if (step.same_as.has_value()) out->set_same_as(*step.same_as);
  }
  for (const ExplainedGrade& grade : answer.history) {
    GradeToProto(grade, response->add_history());
  }
  return absl::OkStatus();
}

absl::Status DoRiskSummary(const ServiceContext& ctx, const RiskQueries& risk,
                           grpc::ServerContext* context,
                           const v1::RiskSummaryRequest& request,
                           v1::RiskSummaryResponse* response) {
  LEDGER_RETURN_IF_ERROR(CheckTenant(
      ctx, context, kRiskSummary, request.tenant(), "ask for a risk summary"));
  SummaryRange range;
  if (request.has_window()) {
    LEDGER_ASSIGN_OR_RETURN(range.window,
                            WindowFromProto(true, request.window()));
  } else if (request.has_indexes()) {
    range.indexes =
        std::make_pair(request.indexes().start(), request.indexes().end());
  }
  LEDGER_ASSIGN_OR_RETURN(
      std::optional<uint64_t> as_of,
      QueryAsOf(ctx, *context, request.has_as_of(), request.as_of(),
                /*with_proofs=*/false, /*first_page=*/true));
  LEDGER_ASSIGN_OR_RETURN(SummaryAnswer answer,
                          risk.Summary(request.tenant(), range, as_of));
  response->set_as_of(answer.as_of);
  response->set_first_index(answer.first_index);
  response->set_end_index(answer.end_index);
  const RiskCounts& c = answer.counts;
  response->set_entries(c.entries);
  response->set_unassessed(c.unassessed);
  response->set_low(c.low);
  response->set_medium(c.medium);
  response->set_high(c.high);
  response->set_critical(c.critical);
  for (size_t n = 1; n < c.rules.size(); ++n) {
    const RiskCounts::Rule& rule = c.rules[n];
    if (rule.medium + rule.high + rule.critical == 0) continue;
    v1::RuleCount* out = response->add_rules();
    out->set_rule(StrCat("R", n));
    out->set_medium(rule.medium);
    out->set_high(rule.high);
    out->set_critical(rule.critical);
  }
  return absl::OkStatus();
}

}  // namespace

grpc::Status QueryService::History(grpc::ServerContext* context,
                                   const v1::HistoryRequest* request,
                                   v1::HistoryResponse* response) {
  return ToGrpcStatus(DoHistory(ctx_, provenance_, context, *request, response),
                      *request);
}

grpc::Status QueryService::LabelHistory(grpc::ServerContext* context,
                                        const v1::LabelHistoryRequest* request,
                                        v1::LabelHistoryResponse* response) {
  return ToGrpcStatus(
      DoLabelHistory(ctx_, provenance_, context, *request, response), *request);
}

grpc::Status QueryService::WhoTouched(grpc::ServerContext* context,
                                      const v1::WhoTouchedRequest* request,
                                      v1::TouchResponse* response) {
  return ToGrpcStatus(
      DoWhoTouched(ctx_, provenance_, context, *request, response), *request);
}

grpc::Status QueryService::ActorActivity(
    grpc::ServerContext* context, const v1::ActorActivityRequest* request,
    v1::TouchResponse* response) {
  return ToGrpcStatus(
      DoActorActivity(ctx_, provenance_, context, *request, response),
      *request);
}

grpc::Status QueryService::Lineage(grpc::ServerContext* context,
                                   const v1::LineageRequest* request,
                                   v1::LineageResponse* response) {
  return ToGrpcStatus(
      DoLineage(ctx_, provenance_, risk_, context, *request, response),
      *request);
}

grpc::Status QueryService::CrossBorder(grpc::ServerContext* context,
                                       const v1::CrossBorderRequest* request,
                                       v1::CrossBorderResponse* response) {
  return ToGrpcStatus(
      DoCrossBorder(ctx_, provenance_, context, *request, response), *request);
}

grpc::Status QueryService::Orphans(grpc::ServerContext* context,
                                   const v1::OrphansRequest* request,
                                   v1::OrphansResponse* response) {
  return ToGrpcStatus(DoOrphans(ctx_, provenance_, context, *request, response),
                      *request);
}

grpc::Status QueryService::RiskFindings(grpc::ServerContext* context,
                                        const v1::RiskFindingsRequest* request,
                                        v1::RiskFindingsResponse* response) {
  return ToGrpcStatus(DoRiskFindings(ctx_, risk_, context, *request, response),
                      *request);
}

grpc::Status QueryService::GradeExplain(grpc::ServerContext* context,
                                        const v1::GradeExplainRequest* request,
                                        v1::GradeExplainResponse* response) {
  return ToGrpcStatus(DoGradeExplain(ctx_, risk_, context, *request, response),
                      *request);
}

grpc::Status QueryService::RiskSummary(grpc::ServerContext* context,
                                       const v1::RiskSummaryRequest* request,
                                       v1::RiskSummaryResponse* response) {
  return ToGrpcStatus(DoRiskSummary(ctx_, risk_, context, *request, response),
                      *request);
}

}  // namespace ledger::node
