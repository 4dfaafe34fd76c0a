#include "tools/ledgerctl/risk.h"

#include <memory>
#include <utility>
#include <vector>

#include "base/status_macros.h"
#include "base/strings.h"
#include "ledger/v1/query.grpc.pb.h"
#include "tools/ledgerctl/provenance.h"

namespace ledger::ctl {
namespace {

std::string_view RiskText(v1::RiskGrade risk) {
  switch (risk) {
    case v1::RISK_GRADE_LOW:
      return "low";
    case v1::RISK_GRADE_MEDIUM:
      return "medium";
    case v1::RISK_GRADE_HIGH:
      return "high";
    case v1::RISK_GRADE_CRITICAL:
      return "critical";
    default:
      return "unassessed";
  }
}

std::string_view ActorKindText(v1::ActorKind kind) {
  switch (kind) {
    case v1::ACTOR_KIND_HUMAN:
      return "human";
    case v1::ACTOR_KIND_MODEL:
      return "model";
    case v1::ACTOR_KIND_SERVICE:
      return "service";
    default:
      return "unspecified";
  }
}

std::string VersionText(const std::string& id, const std::string& version) {
  return version.empty() ? id : StrCat(id, "@", version);
}

std::string TimeText(const google::protobuf::Timestamp& ts) {
  Json j = TimestampJson(ts);
  return j.is_string() ? j.get<std::string>() : "-";
}

template <typename T>
Json Array(const google::protobuf::RepeatedField<T>& values) {
  Json a = Json::array();
  for (const T& v : values) a.push_back(v);
  return a;
}
Json Array(const google::protobuf::RepeatedPtrField<std::string>& values) {
  Json a = Json::array();
  for (const std::string& v : values) a.push_back(v);
  return a;
}

std::string Joined(const google::protobuf::RepeatedPtrField<std::string>& v,
                   std::string_view sep) {
  std::string out;
  for (const std::string& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

absl::StatusOr<v1::RiskGrade> MinLevel(const std::string& text) {
  if (text.empty() || text == "medium") return v1::RISK_GRADE_MEDIUM;
  if (text == "high") return v1::RISK_GRADE_HIGH;
  if (text == "critical") return v1::RISK_GRADE_CRITICAL;
  return absl::InvalidArgumentError(
      StrCat("--min-level: \"", text, "\" is not medium, high or critical"));
}

absl::StatusOr<std::optional<v1::TimeWindow>> Window(const RiskOptions& o) {
  if (o.from.empty() && o.to.empty()) return std::nullopt;
  if (o.from.empty() || o.to.empty()) {
    return absl::InvalidArgumentError(
        "--from: a window needs both --from and --to");
  }
  v1::TimeWindow window;
  LEDGER_ASSIGN_OR_RETURN(*window.mutable_t0(),
                          ParseTimestamp(o.from, "--from"));
  LEDGER_ASSIGN_OR_RETURN(*window.mutable_t1(), ParseTimestamp(o.to, "--to"));
  return window;
}

absl::Status RunFindings(v1::Query::Stub& q, const ConnectionOptions& conn,
                         const RiskOptions& o, std::ostream& out,
                         std::ostream& err) {
  v1::RiskFindingsRequest request;
  request.set_tenant(o.tenant);
  LEDGER_ASSIGN_OR_RETURN(v1::RiskGrade level, MinLevel(o.min_level));
  request.set_min_level(level);
  request.set_rule(o.rule);
  request.set_actor_id(o.actor);
  LEDGER_ASSIGN_OR_RETURN(std::optional<v1::TimeWindow> window, Window(o));
  if (window.has_value()) *request.mutable_window() = *window;
  if (o.as_of.has_value()) request.set_as_of(*o.as_of);
  request.set_page_size(o.page_size);
  request.set_page_token(o.page_token);
  for (;;) {
    grpc::ClientContext context;
    context.set_deadline(Deadline(conn));
    v1::RiskFindingsResponse response;
    LEDGER_RETURN_IF_ERROR(
        FromGrpc(q.RiskFindings(&context, request, &response)));
    for (const v1::RiskFinding& f : response.findings()) {
      if (o.format == "text") {
        out << FindingText(f);
      } else {
        PrintJson(out, FindingJson(f));
      }
    }
    out << std::flush;
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

void ExplainStepText(const v1::GradeExplainResponse& r, int step, int indent,
                     std::string& text) {
  const v1::GradeStep& s = r.path(step);
  text += std::string(indent, ' ');
  if (step > 0) text += "<- ";
  text += VersionText(s.dataset_id(), s.version());
  if (step > 0) {
    text += StrCat(" via #", s.edge_index());
    if (s.blocked_flags_size() > 0) {
      text += StrCat(" (blocks ", Joined(s.blocked_flags(), ","), ")");
    }
    if (s.raises()) text += " (aggregation: raises general to important)";
  }
  text += ": ";
  if (!s.has_grade()) {
    text += StrCat("no grade at #", s.at(), "\n");
  } else {
    const v1::DataGrade& g = s.grade();
    text += StrCat(DataGradeText(g), " (", g.basis(), " at #", g.index(),
                   ", policy ", g.policy_version(),
                   g.version_less() ? ", the dataset's version-less grade" : "",
                   ")\n");
  }
  if (s.has_same_as()) {
    text += StrCat(std::string(indent + 3, ' '), "(inputs as above, step ",
                   s.same_as(), ")\n");
    return;
  }
  for (int i = step + 1; i < r.path_size(); ++i) {
    if (r.path(i).parent() == step) ExplainStepText(r, i, indent + 3, text);
  }
}

}  // namespace

Json DataGradeJson(const v1::DataGrade& g) {
  Json j;
  j["level"] = g.level();
  j["flags"] = Array(g.flags());
  j["basis"] = g.basis();
  j["index"] = g.index();
  j["policy_version"] = g.policy_version();
  j["version_less"] = g.version_less();
  j["propagated_from"] = Array(g.propagated_from());
  j["evidence"] = Array(g.evidence());
  return j;
}

std::string DataGradeText(const v1::DataGrade& g) {
  if (g.flags_size() == 0) return g.level();
  return StrCat(g.level(), " ", Joined(g.flags(), ","));
}

Json FindingJson(const v1::RiskFinding& f) {
  Json j;
  j["index"] = f.index();
  j["received_at"] = TimestampJson(f.received_at());
  j["type"] = f.type();
  j["actor"] = {{"kind", ActorKindText(f.actor().kind())},
                {"id", f.actor().id()},
                {"role", f.actor().role()}};
  j["subjects"] = Json::array();
  for (const v1::SubjectRef& s : f.subjects()) {
    j["subjects"].push_back(
        StrCat(KindText(s.kind()), ":", VersionText(s.id(), s.version())));
  }
  j["risk"] = RiskText(f.risk());
  j["policy_version"] = f.policy_version();
  j["reasons"] = Json::array();
  for (const v1::RiskReason& r : f.reasons()) {
    Json reason;
    reason["rule"] = r.rule();
    reason["level"] = r.level();
    reason["text"] = r.text();
    reason["evidence"] = Array(r.evidence());
    reason["raw"] = r.raw();
    j["reasons"].push_back(std::move(reason));
  }
  return j;
}

std::string FindingText(const v1::RiskFinding& f) {
  std::string text =
      StrCat("#", f.index(), "  ", TimeText(f.received_at()), "  ",
             RiskText(f.risk()), "  ", f.type(), " by ", f.actor().id(), " (",
             ActorKindText(f.actor().kind()), ")");
  for (const v1::SubjectRef& s : f.subjects()) {
    text +=
        StrCat("  ", KindText(s.kind()), ":", VersionText(s.id(), s.version()));
  }
  text += "\n";
  for (const v1::RiskReason& r : f.reasons()) {
    text += StrCat("    ", r.raw(), "\n");
  }
  return text;
}

Json ExplainJson(const v1::GradeExplainResponse& r) {
  Json j;
  j["as_of"] = r.as_of();
  j["grade"] = r.path_size() > 0 && r.path(0).has_grade()
                   ? DataGradeJson(r.path(0).grade())
                   : Json(nullptr);
  j["path"] = Json::array();
  for (const v1::GradeStep& s : r.path()) {
    Json step;
    step["dataset"] = s.dataset_id();
    step["version"] = s.version();
    step["depth"] = s.depth();
    step["parent"] = s.parent();
    step["edge_index"] = s.edge_index();
    step["blocked_flags"] = Array(s.blocked_flags());
    step["raises"] = s.raises();
    step["at"] = s.at();
    step["grade"] = s.has_grade() ? DataGradeJson(s.grade()) : Json(nullptr);
    step["same_as"] = s.has_same_as() ? Json(s.same_as()) : Json(nullptr);
    j["path"].push_back(std::move(step));
  }
  j["history"] = Json::array();
  for (const v1::DataGrade& g : r.history()) {
    j["history"].push_back(DataGradeJson(g));
  }
  return j;
}

std::string ExplainText(const v1::GradeExplainResponse& r) {
  std::string text = StrCat("as of ledger size ", r.as_of(), ":\n");
  if (r.path_size() > 0) ExplainStepText(r, 0, 0, text);
  text += "history:\n";
  if (r.history_size() == 0) text += "  (no grade of its own)\n";
  for (const v1::DataGrade& g : r.history()) {
    text += StrCat("  #", g.index(), "  ", DataGradeText(g), "  (", g.basis());
    if (g.propagated_from_size() > 0) {
      text += StrCat(" from ", Joined(g.propagated_from(), ", "));
    }
    text += ")\n";
  }
  return text;
}

Json SummaryJson(const v1::RiskSummaryResponse& r) {
  Json j;
  j["as_of"] = r.as_of();
  j["first_index"] = r.first_index();
  j["end_index"] = r.end_index();
  j["entries"] = r.entries();
  j["unassessed"] = r.unassessed();
  j["low"] = r.low();
  j["medium"] = r.medium();
  j["high"] = r.high();
  j["critical"] = r.critical();
  j["rules"] = Json::array();
  for (const v1::RuleCount& rule : r.rules()) {
    j["rules"].push_back({{"rule", rule.rule()},
                          {"medium", rule.medium()},
                          {"high", rule.high()},
                          {"critical", rule.critical()}});
  }
  return j;
}

std::string SummaryText(const v1::RiskSummaryResponse& r) {
  std::string text = StrCat(
      "entries [", r.first_index(), ", ", r.end_index(), ") as of ledger size ",
      r.as_of(), ": ", r.entries(), " of the tenant\n", "  critical ",
      r.critical(), "  high ", r.high(), "  medium ", r.medium(), "  low ",
      r.low(), "  unassessed ", r.unassessed(), "\n");
  for (const v1::RuleCount& rule : r.rules()) {
    text += StrCat("  ", rule.rule(), std::string(4 - rule.rule().size(), ' '),
                   "critical ", rule.critical(), "  high ", rule.high(),
                   "  medium ", rule.medium(), "\n");
  }
  return text;
}

absl::Status RunRisk(const ConnectionOptions& conn, const RiskOptions& o,
                     std::ostream& out, std::ostream& err) {
  if (o.format != "json" && o.format != "text") {
    return absl::InvalidArgumentError(
        StrCat("--format: \"", o.format, "\" is not json or text"));
  }
  LEDGER_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
                          Connect(conn));
  std::unique_ptr<v1::Query::Stub> stub = v1::Query::NewStub(channel);
  switch (o.query) {
    case RiskQuery::kFindings:
      return RunFindings(*stub, conn, o, out, err);
    case RiskQuery::kExplain: {
      LEDGER_ASSIGN_OR_RETURN(
          v1::LineageNode node,
          ParseLineageNode(StrCat("dataset:", o.dataset), "--dataset"));
      v1::GradeExplainRequest request;
      request.set_tenant(o.tenant);
      request.set_dataset_id(node.id());
      request.set_version(node.version());
      if (o.as_of.has_value()) request.set_as_of(*o.as_of);
      grpc::ClientContext context;
      context.set_deadline(Deadline(conn));
      v1::GradeExplainResponse response;
      LEDGER_RETURN_IF_ERROR(
          FromGrpc(stub->GradeExplain(&context, request, &response)));
      if (o.format == "text") {
        out << ExplainText(response) << std::flush;
      } else {
        PrintJson(out, ExplainJson(response));
      }
      return absl::OkStatus();
    }
    case RiskQuery::kSummary: {
      v1::RiskSummaryRequest request;
      request.set_tenant(o.tenant);
      LEDGER_ASSIGN_OR_RETURN(std::optional<v1::TimeWindow> window, Window(o));
      const bool indexes = o.first_index.has_value() || o.end_index.has_value();
      if (window.has_value() && indexes) {
        return absl::InvalidArgumentError(
            "--from: a window (--from, --to) or an index range (--first, "
            "--end), not both");
      }
      if (window.has_value()) *request.mutable_window() = *window;
      if (indexes) {
        request.mutable_indexes()->set_start(o.first_index.value_or(0));
        request.mutable_indexes()->set_end(o.end_index.value_or(0));
      }
      if (o.as_of.has_value()) request.set_as_of(*o.as_of);
      grpc::ClientContext context;
      context.set_deadline(Deadline(conn));
      v1::RiskSummaryResponse response;
      LEDGER_RETURN_IF_ERROR(
          FromGrpc(stub->RiskSummary(&context, request, &response)));
      if (o.format == "text") {
        out << SummaryText(response) << std::flush;
      } else {
        PrintJson(out, SummaryJson(response));
      }
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unknown risk query");
}

}  // namespace ledger::ctl
