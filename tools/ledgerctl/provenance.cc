#include "tools/ledgerctl/provenance.h"

#include <fstream>
#include <memory>
#include <utility>

#include "base/status_macros.h"
#include "base/strings.h"
#include "ledger/v1/query.grpc.pb.h"
#include "tools/ledgerctl/proofs.h"
#include "tools/ledgerctl/risk.h"

namespace ledger::ctl {
namespace {

std::string NodeText(const v1::LineageNode& node) {
  std::string text = StrCat(KindText(node.kind()), ":", node.id());
  if (!node.version().empty()) text += StrCat("@", node.version());
  return text;
}

// A DOT quoted string: quotes and backslashes escaped (ids cannot hold
// control characters, so nothing else needs escaping).
std::string DotQuote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

// `message` as JSON with "index" first, as a number (the proto3 JSON
// mapping prints 64-bit integers as strings and omits zeros).
absl::StatusOr<Json> RowJson(const google::protobuf::Message& message,
                             uint64_t index) {
  LEDGER_ASSIGN_OR_RETURN(Json fields, MessageJson(message));
  Json j;
  j["index"] = index;
  for (auto& [key, value] : fields.items()) {
    if (key != "index") j[key] = value;
  }
  return j;
}

absl::Status WriteAnswer(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) return absl::PermissionDeniedError(StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::Status PrintEntries(
    const google::protobuf::RepeatedPtrField<v1::Entry>& entries,
    std::ostream& out) {
  for (const v1::Entry& entry : entries) {
    LEDGER_ASSIGN_OR_RETURN(Json j, EntryJson(entry));
    PrintJson(out, j);
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::TimeWindow> Window(const ProvenanceOptions& o) {
  v1::TimeWindow window;
  LEDGER_ASSIGN_OR_RETURN(*window.mutable_t0(),
                          ParseTimestamp(o.from, "--from"));
  LEDGER_ASSIGN_OR_RETURN(*window.mutable_t1(), ParseTimestamp(o.to, "--to"));
  return window;
}

// Runs a paginated query: one page, or with `all` every page; each page's
// rows printed by `print`, its answer file written with with_proofs.
template <typename Request, typename Response, typename Call, typename Print>
absl::Status Paginate(const ConnectionOptions& conn, const ProvenanceOptions& o,
                      Request request, Call call, Print print,
                      std::ostream& err) {
  request.set_tenant(o.tenant);
  if (o.as_of.has_value()) request.set_as_of(*o.as_of);
  request.set_page_size(o.page_size);
  request.set_page_token(o.page_token);
  request.set_with_proofs(o.with_proofs);
  for (uint64_t page = 1;; ++page) {
    grpc::ClientContext context;
    context.set_deadline(Deadline(conn));
    Response response;
    LEDGER_RETURN_IF_ERROR(FromGrpc(call(&context, request, &response)));
    LEDGER_RETURN_IF_ERROR(print(response));
    if (o.with_proofs) {
      LEDGER_RETURN_IF_ERROR(
          WriteAnswer(o.all ? StrCat(o.answer_out, ".", page) : o.answer_out,
                      response.answer()));
    }
    if (response.next_page_token().empty()) return absl::OkStatus();
    if (!o.all) {
      err << "next_page_token: " << response.next_page_token() << "\n"
          << std::flush;
      return absl::OkStatus();
    }
    // Each page moves on (the node's tokens only advance), so this ends.
    request.set_page_token(response.next_page_token());
  }
}

}  // namespace

std::string_view KindText(v1::SubjectKind kind) {
  switch (kind) {
    case v1::SUBJECT_KIND_DATASET:
      return "dataset";
    case v1::SUBJECT_KIND_ITEM:
      return "item";
    case v1::SUBJECT_KIND_ANNOTATION:
      return "annotation";
    default:
      return "unspecified";
  }
}

absl::StatusOr<v1::SubjectKey> ParseSubjectKey(std::string_view text,
                                               std::string_view flag) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 ||
      colon + 1 == text.size()) {
    return absl::InvalidArgumentError(
        StrCat(flag, ": \"", text,
               "\" is not KIND:ID (KIND: dataset, item, annotation, actor)"));
  }
  v1::SubjectKey key;
  key.set_kind(std::string(text.substr(0, colon)));
  key.set_id(std::string(text.substr(colon + 1)));
  return key;
}

absl::StatusOr<v1::LineageNode> ParseLineageNode(std::string_view text,
                                                 std::string_view flag) {
  LEDGER_ASSIGN_OR_RETURN(v1::SubjectKey key, ParseSubjectKey(text, flag));
  v1::LineageNode node;
  if (key.kind() == "dataset") {
    node.set_kind(v1::SUBJECT_KIND_DATASET);
  } else if (key.kind() == "item") {
    node.set_kind(v1::SUBJECT_KIND_ITEM);
  } else if (key.kind() == "annotation") {
    node.set_kind(v1::SUBJECT_KIND_ANNOTATION);
  } else {
    return absl::InvalidArgumentError(
        StrCat(flag, ": unknown node kind \"", key.kind(),
               "\" (one of dataset, item, annotation)"));
  }
  std::string_view rest = key.id();
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    node.set_version(std::string(rest.substr(at + 1)));
    rest = rest.substr(0, at);
  }
  if (rest.empty()) {
    return absl::InvalidArgumentError(
        StrCat(flag, ": \"", text, "\" has an empty id"));
  }
  node.set_id(std::string(rest));
  return node;
}

namespace {

// A node's fill: its data grade's level.
std::string GradeFill(const v1::LineageNodeRow& row) {
  if (!row.has_grade()) return "#ffffff";
  const std::string& level = row.grade().level();
  if (level == "core") return "#e06666";
  if (level == "important") return "#f6b26b";
  return "#b6d7a8";  // general
}

// `text` and, for a graded node, a second line with the grade ("core
// pi,minor"), as a DOT quoted string.
std::string NodeLabel(const std::string& text, const v1::LineageNodeRow* row) {
  std::string label = DotQuote(text);
  if (row == nullptr || !row->has_grade()) return label;
  label.pop_back();  // the closing quote; level and flags need no escaping
  return StrCat(label, "\\n", DataGradeText(row->grade()), "\"");
}

}  // namespace

std::string LineageDot(const v1::LineageResponse& response,
                       const v1::LineageNode& asked) {
  const std::string asked_text = NodeText(asked);
  std::string dot = StrCat(
      "// Lineage around ", DotQuote(asked_text), " as of ledger size ",
      response.as_of(), ": ", response.nodes_size(), " nodes, ",
      response.edges_size(),
      " edges (input -> output, labelled with the entry's type and "
      "index).\n"
      "// Legend: a dataset node's fill is its data grade as of that size "
      "(docs/risk-rules.md): core red, important orange,\n"
      "// general green; white: no grade (items, annotations, ungraded "
      "datasets). The second line of a graded node's label is\n"
      "// its level and flags (pi, sensitive_pi, minor). The asked node has "
      "a thick blue outline.\n"
      "digraph lineage {\n"
      "  rankdir=LR;\n"
      "  node [shape=box, style=filled, fillcolor=\"#ffffff\"];\n");
  bool asked_listed = false;
  for (const v1::LineageNodeRow& row : response.nodes()) {
    const std::string text = NodeText(row.node());
    const bool is_asked = text == asked_text;
    asked_listed = asked_listed || is_asked;
    dot += StrCat("  ", DotQuote(text), " [label=", NodeLabel(text, &row),
                  ", fillcolor=\"", GradeFill(row), "\"",
                  is_asked ? ", penwidth=3, color=\"#1f4e9e\"" : "", "];\n");
  }
  if (!asked_listed) {
    // Not in any lineage record (yet): shown alone.
    dot += StrCat("  ", DotQuote(asked_text), " [label=", DotQuote(asked_text),
                  ", fillcolor=\"#ffffff\", penwidth=3, color=\"#1f4e9e\"];\n");
  }
  for (const v1::LineageEdge& edge : response.edges()) {
    dot += StrCat("  ", DotQuote(NodeText(edge.from())), " -> ",
                  DotQuote(NodeText(edge.to())),
                  " [label=", DotQuote(StrCat(edge.type(), " #", edge.index())),
                  "];\n");
  }
  dot += "}\n";
  return dot;
}

Json LineageJson(const v1::LineageResponse& response) {
  Json j;
  j["as_of"] = response.as_of();
  j["nodes"] = Json::array();
  for (const v1::LineageNodeRow& row : response.nodes()) {
    Json n;
    n["kind"] = KindText(row.node().kind());
    n["id"] = row.node().id();
    n["version"] = row.node().version();
    n["depth"] = row.depth();
    n["in_degree"] = row.in_degree();
    n["out_degree"] = row.out_degree();
    n["grade"] = row.has_grade() ? DataGradeJson(row.grade()) : Json(nullptr);
    j["nodes"].push_back(std::move(n));
  }
  j["edges"] = Json::array();
  for (const v1::LineageEdge& edge : response.edges()) {
    Json e;
    e["from"] = NodeText(edge.from());
    e["to"] = NodeText(edge.to());
    e["type"] = edge.type();
    e["index"] = edge.index();
    j["edges"].push_back(std::move(e));
  }
  j["run_ids"] = Json::array();
  for (const std::string& run : response.run_ids()) j["run_ids"].push_back(run);
  return j;
}

absl::Status RunProvenance(const ConnectionOptions& conn,
                           const ProvenanceOptions& o, std::ostream& out,
                           std::ostream& err) {
  if (o.with_proofs && o.answer_out.empty()) {
    return absl::InvalidArgumentError(
        "--answer-out: required with --with-proofs (the answer file)");
  }
  if (!o.with_proofs && !o.answer_out.empty()) {
    return absl::InvalidArgumentError("--answer-out: only with --with-proofs");
  }
  LEDGER_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
                          Connect(conn));
  std::unique_ptr<v1::Query::Stub> stub = v1::Query::NewStub(channel);
  v1::Query::Stub* q = stub.get();
  switch (o.query) {
    case ProvenanceQuery::kHistory: {
      v1::HistoryRequest request;
      LEDGER_ASSIGN_OR_RETURN(*request.mutable_subject(),
                              ParseSubjectKey(o.subject, "--subject"));
      return Paginate<v1::HistoryRequest, v1::HistoryResponse>(
          conn, o, std::move(request),
          [q](grpc::ClientContext* c, const v1::HistoryRequest& r,
              v1::HistoryResponse* p) { return q->History(c, r, p); },
          [&out](const v1::HistoryResponse& p) {
            return PrintEntries(p.entries(), out);
          },
          err);
    }
    case ProvenanceQuery::kLabelHistory: {
      v1::LabelHistoryRequest request;
      request.set_item_id(o.item);
      return Paginate<v1::LabelHistoryRequest, v1::LabelHistoryResponse>(
          conn, o, std::move(request),
          [q](grpc::ClientContext* c, const v1::LabelHistoryRequest& r,
              v1::LabelHistoryResponse* p) { return q->LabelHistory(c, r, p); },
          [&out](const v1::LabelHistoryResponse& p) -> absl::Status {
            for (const v1::LabelRow& row : p.rows()) {
              LEDGER_ASSIGN_OR_RETURN(Json j, RowJson(row, row.index()));
              PrintJson(out, j);
            }
            return absl::OkStatus();
          },
          err);
    }
    case ProvenanceQuery::kWhoTouched: {
      v1::WhoTouchedRequest request;
      LEDGER_ASSIGN_OR_RETURN(*request.mutable_subject(),
                              ParseSubjectKey(o.subject, "--subject"));
      LEDGER_ASSIGN_OR_RETURN(*request.mutable_window(), Window(o));
      return Paginate<v1::WhoTouchedRequest, v1::TouchResponse>(
          conn, o, std::move(request),
          [q](grpc::ClientContext* c, const v1::WhoTouchedRequest& r,
              v1::TouchResponse* p) { return q->WhoTouched(c, r, p); },
          [&out](const v1::TouchResponse& p) {
            return PrintEntries(p.entries(), out);
          },
          err);
    }
    case ProvenanceQuery::kActorActivity: {
      v1::ActorActivityRequest request;
      request.set_actor_id(o.actor);
      LEDGER_ASSIGN_OR_RETURN(*request.mutable_window(), Window(o));
      return Paginate<v1::ActorActivityRequest, v1::TouchResponse>(
          conn, o, std::move(request),
          [q](grpc::ClientContext* c, const v1::ActorActivityRequest& r,
              v1::TouchResponse* p) { return q->ActorActivity(c, r, p); },
          [&out](const v1::TouchResponse& p) {
            return PrintEntries(p.entries(), out);
          },
          err);
    }
    case ProvenanceQuery::kCrossBorder: {
      v1::CrossBorderRequest request;
      request.set_year(o.year);
      return Paginate<v1::CrossBorderRequest, v1::CrossBorderResponse>(
          conn, o, std::move(request),
          [q](grpc::ClientContext* c, const v1::CrossBorderRequest& r,
              v1::CrossBorderResponse* p) { return q->CrossBorder(c, r, p); },
          [&out](const v1::CrossBorderResponse& p) -> absl::Status {
            for (const v1::Transfer& row : p.transfers()) {
              LEDGER_ASSIGN_OR_RETURN(Json j, RowJson(row, row.index()));
              PrintJson(out, j);
            }
            return absl::OkStatus();
          },
          err);
    }
    case ProvenanceQuery::kLineage: {
      if (o.format != "json" && o.format != "dot") {
        return absl::InvalidArgumentError(
            StrCat("--format: \"", o.format, "\" is not json or dot"));
      }
      v1::LineageRequest request;
      request.set_tenant(o.tenant);
      LEDGER_ASSIGN_OR_RETURN(*request.mutable_node(),
                              ParseLineageNode(o.node, "--node"));
      if (o.direction == "up") {
        request.set_direction(v1::LINEAGE_DIRECTION_UPSTREAM);
      } else if (o.direction == "down") {
        request.set_direction(v1::LINEAGE_DIRECTION_DOWNSTREAM);
      } else {
        return absl::InvalidArgumentError(
            StrCat("--direction: \"", o.direction, "\" is not up or down"));
      }
      request.set_depth(o.depth);
      if (o.as_of.has_value()) request.set_as_of(*o.as_of);
      request.set_with_proofs(o.with_proofs);
      grpc::ClientContext context;
      context.set_deadline(Deadline(conn));
      v1::LineageResponse response;
      LEDGER_RETURN_IF_ERROR(
          FromGrpc(q->Lineage(&context, request, &response)));
      if (o.with_proofs) {
        LEDGER_RETURN_IF_ERROR(WriteAnswer(o.answer_out, response.answer()));
      }
      if (o.format == "dot") {
        out << LineageDot(response, request.node()) << std::flush;
      } else {
        PrintJson(out, LineageJson(response));
      }
      return absl::OkStatus();
    }
    case ProvenanceQuery::kOrphans: {
      v1::OrphansRequest request;
      request.set_tenant(o.tenant);
      if (o.as_of.has_value()) request.set_as_of(*o.as_of);
      request.set_with_proofs(o.with_proofs);
      grpc::ClientContext context;
      context.set_deadline(Deadline(conn));
      v1::OrphansResponse response;
      LEDGER_RETURN_IF_ERROR(
          FromGrpc(q->Orphans(&context, request, &response)));
      if (o.with_proofs) {
        LEDGER_RETURN_IF_ERROR(WriteAnswer(o.answer_out, response.answer()));
      }
      for (const v1::OrphanDataset& d : response.datasets()) {
        Json j;
        j["index"] = d.first_index();
        j["kind"] = "dataset";
        j["id"] = d.id();
        j["first_index"] = d.first_index();
        j["as_of"] = response.as_of();
        PrintJson(out, j);
      }
      for (const v1::OrphanRun& r : response.runs()) {
        Json j;
        j["index"] = r.first_index();
        j["kind"] = "run";
        j["run_id"] = r.run_id();
        j["first_index"] = r.first_index();
        j["last_index"] = r.last_index();
        j["entry_count"] = r.entry_count();
        j["as_of"] = response.as_of();
        PrintJson(out, j);
      }
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unknown provenance query");
}

}  // namespace ledger::ctl
