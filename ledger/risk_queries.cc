#include "ledger/risk_queries.h"

#include <algorithm>
#include <deque>
#include <map>
#include <tuple>
#include <utility>

#include "base/status_macros.h"
#include "base/strings.h"
#include "ledger/entry.h"
#include "ledger/ledger.h"
#include "ledger/provenance_internal.h"

namespace ledger {
namespace {

using provenance_internal::CheckKeyPart;
using provenance_internal::EncodeToken;
using provenance_internal::kRiskFindingsQuery;
using provenance_internal::PageStart;
using provenance_internal::ParamHash;
using provenance_internal::ReadRows;
using provenance_internal::ResolveAsOf;
using provenance_internal::StartPage;

absl::Status CheckWindow(const std::optional<TimeWindow>& window) {
  if (window.has_value() && window->t0_ns > window->t1_ns) {
    return absl::InvalidArgumentError(StrCat("window: t0 ", window->t0_ns,
                                             " ns is after t1 ", window->t1_ns,
                                             " ns; the window is [t0, t1)"));
  }
  return absl::OkStatus();
}

// The window as an index range below `as_of` (everything without one).
absl::StatusOr<std::pair<uint64_t, uint64_t>> WindowIndexes(
    const Ledger& ledger, const std::optional<TimeWindow>& window,
    uint64_t as_of) {
  if (!window.has_value()) return std::make_pair(uint64_t{0}, as_of);
  LEDGER_ASSIGN_OR_RETURN(uint64_t first,
                          ledger.FirstIndexAtOrAfter(window->t0_ns, as_of));
  LEDGER_ASSIGN_OR_RETURN(uint64_t end,
                          ledger.FirstIndexAtOrAfter(window->t1_ns, as_of));
  return std::make_pair(first, end);
}

ExplainedGrade Explained(const Ledger& ledger, risk::GradeRecord record,
                         bool version_less) {
  ExplainedGrade g;
  g.policy_version = ledger.PolicyVersionOf(record.index);
  g.record = std::move(record);
  g.version_less = version_less;
  return g;
}

// The grade of (id, version) in force at entry `at`, as explained.
std::optional<ExplainedGrade> GradeOf(const Ledger& ledger,
                                      std::string_view tenant,
                                      std::string_view id,
                                      std::string_view version, uint64_t at) {
  std::optional<risk::GradeRecord> record =
      ledger.GradeAt(tenant, id, version, at);
  if (!record.has_value()) return std::nullopt;
  bool own = version.empty();
  if (!own) {
    const std::vector<risk::GradeRecord> history =
        ledger.GradeHistory(tenant, id, version);
    own = !history.empty() && history.front().index <= at;
  }
  return Explained(ledger, *std::move(record), !own);
}

bool IsPropagated(const std::optional<ExplainedGrade>& grade) {
  return grade.has_value() && (grade->record.basis == "propagated" ||
                               grade->record.basis == "aggregated");
}

std::string VersionText(std::string_view id, std::string_view version) {
  return version.empty() ? QuoteForMessage(id)
                         : StrCat(QuoteForMessage(id), " version ",
                                  QuoteForMessage(version));
}

}  // namespace

absl::StatusOr<FindingsAnswer> RiskQueries::Findings(
    std::string_view tenant, const RiskFindingsFilter& filter,
    std::optional<TimeWindow> window, const PageRequest& page) const {
  LEDGER_RETURN_IF_ERROR(CheckKeyPart("tenant", tenant, true));
  LEDGER_RETURN_IF_ERROR(CheckKeyPart("actor", filter.actor, false));
  if (filter.min_level < risk::Risk::kMedium ||
      filter.min_level > risk::Risk::kCritical) {
    return absl::InvalidArgumentError(
        StrCat("min_level: ", risk::RiskName(filter.min_level),
               " is not a finding's level (medium, high or critical; "
               "entries graded low are no findings)"));
  }
  if (filter.rule < 0 || filter.rule > kMaxRiskRule) {
    return absl::InvalidArgumentError(StrCat(
        "rule: R", filter.rule, " is not a rule (R1 ... R", kMaxRiskRule, ")"));
  }
  LEDGER_RETURN_IF_ERROR(CheckWindow(window));
  ParamHash params(kRiskFindingsQuery);
  params.Add(tenant)
      .Add(static_cast<uint64_t>(filter.min_level))
      .Add(static_cast<uint64_t>(filter.rule))
      .Add(filter.actor)
      .Add(uint64_t{window.has_value()});
  if (window.has_value()) {
    params.Add(static_cast<uint64_t>(window->t0_ns))
        .Add(static_cast<uint64_t>(window->t1_ns));
  }
  const std::string hash = params.Finish();
  LEDGER_ASSIGN_OR_RETURN(PageStart start,
                          StartPage(ledger_, kRiskFindingsQuery, hash, page));
  FindingsAnswer answer;
  answer.as_of = start.as_of;
  LEDGER_ASSIGN_OR_RETURN(auto range,
                          WindowIndexes(ledger_, window, start.as_of));
  answer.first_index = range.first;
  answer.end_index = range.second;
  const uint64_t from = std::max(start.from, range.first);
  std::vector<RiskFinding> found;
  std::optional<uint64_t> resume;
  if (from < range.second) {
    found = ledger_.FindRiskFindings(tenant, filter, from, range.second,
                                     start.page_size + 1, kMaxScannedPerPage,
                                     &resume);
  }
  if (found.size() > start.page_size) {
    answer.next_page_token = EncodeToken(kRiskFindingsQuery, start.as_of,
                                         found[start.page_size].index, hash);
    found.resize(start.page_size);
  } else if (resume.has_value()) {
    // The filter kept few of the findings looked at: the next page goes on
    // from there.
    answer.next_page_token =
        EncodeToken(kRiskFindingsQuery, start.as_of, *resume, hash);
  }
  std::vector<uint64_t> indexes;
  indexes.reserve(found.size());
  for (const RiskFinding& f : found) indexes.push_back(f.index);
  LEDGER_ASSIGN_OR_RETURN(std::vector<EntryRow> rows,
                          ReadRows(ledger_, tenant, indexes));
  for (EntryRow& row : rows) {
    absl::StatusOr<Entry> entry = DecodeEntry(row.bytes);
    if (!entry.ok()) {
      return absl::DataLossError(
          StrCat("entry ", row.index, ": ", entry.status().message()));
    }
    FindingRow out;
    out.index = row.index;
    out.received_at_ns = row.received_at_ns;
    out.type = std::move(row.event.type);
    out.actor = std::move(row.event.actor);
    out.subjects = std::move(row.event.subjects);
    out.risk = static_cast<risk::Risk>(entry->risk.grade);
    for (const std::string& reason : entry->risk.reasons) {
      out.reasons.push_back(ParseRiskReason(reason));
    }
    out.policy_version = entry->policy_version;
    out.bytes = std::move(row.bytes);
    answer.findings.push_back(std::move(out));
  }
  return answer;
}

absl::StatusOr<ExplainAnswer> RiskQueries::Explain(
    std::string_view tenant, std::string_view id, std::string_view version,
    std::optional<uint64_t> as_of) const {
  LEDGER_RETURN_IF_ERROR(CheckKeyPart("tenant", tenant, true));
  LEDGER_RETURN_IF_ERROR(CheckKeyPart("dataset_id", id, true));
  LEDGER_RETURN_IF_ERROR(CheckKeyPart("version", version, false));
  ExplainAnswer answer;
  LEDGER_ASSIGN_OR_RETURN(answer.as_of, ResolveAsOf(ledger_, as_of));
  if (answer.as_of == 0) {
    GradeStep root;
    root.id = std::string(id);
    root.version = std::string(version);
    answer.steps.push_back(std::move(root));
    return answer;
  }
  const uint64_t last = answer.as_of - 1;  // the last entry that counts
  for (risk::GradeRecord& record : ledger_.GradeHistory(tenant, id, version)) {
    if (record.index > last) break;
    answer.history.push_back(Explained(ledger_, std::move(record), false));
  }
  // Breadth first; a version at an index already explained is not
  // expanded again.
  std::map<std::tuple<std::string, std::string, uint64_t>, uint64_t> seen;
  GradeStep root;
  root.id = std::string(id);
  root.version = std::string(version);
  root.at = last;
  root.grade = GradeOf(ledger_, tenant, id, version, last);
  answer.steps.push_back(std::move(root));
  for (size_t s = 0; s < answer.steps.size(); ++s) {
    GradeStep& step = answer.steps[s];
    if (!IsPropagated(step.grade)) continue;  // assigned, classified, ...
    auto [it, added] =
        seen.try_emplace(std::make_tuple(step.id, step.version, step.at), s);
    if (!added) {
      step.same_as = it->second;
      continue;
    }
    const uint64_t at = step.grade->record.index;
    const uint32_t depth = step.depth + 1;
    std::vector<risk::GradeInput> inputs =
        ledger_.GradeInputs(tenant, step.id, step.version, at);
    if (!inputs.empty() && depth > limits_.max_depth) {
      return absl::ResourceExhaustedError(StrCat(
          "the propagation path of dataset ", VersionText(id, version),
          " is longer than provenance_max_depth (", limits_.max_depth,
          "): the grade passed through more dataset versions than the node "
          "explains"));
    }
    for (risk::GradeInput& input : inputs) {
      if (answer.steps.size() >= limits_.max_nodes) {
        return absl::ResourceExhaustedError(
            StrCat("the propagation path of dataset ", VersionText(id, version),
                   " has more than provenance_max_nodes (", limits_.max_nodes,
                   ") steps"));
      }
      GradeStep next;
      next.grade = GradeOf(ledger_, tenant, input.id, input.version, at);
      next.id = std::move(input.id);
      next.version = std::move(input.version);
      next.depth = depth;
      next.parent = static_cast<int64_t>(s);
      next.edge_index = input.edge_index;
      next.blocked_flags = input.blocked_flags;
      next.raises = input.raises;
      next.at = at;
      answer.steps.push_back(std::move(next));  // `step` is invalid now
    }
  }
  return answer;
}

std::optional<ExplainedGrade> RiskQueries::GradeAsOf(std::string_view tenant,
                                                     std::string_view id,
                                                     std::string_view version,
                                                     uint64_t as_of) const {
  if (as_of == 0) return std::nullopt;
  return GradeOf(ledger_, tenant, id, version, as_of - 1);
}

absl::StatusOr<SummaryAnswer> RiskQueries::Summary(
    std::string_view tenant, const SummaryRange& range,
    std::optional<uint64_t> as_of) const {
  LEDGER_RETURN_IF_ERROR(CheckKeyPart("tenant", tenant, true));
  if (range.window.has_value() && range.indexes.has_value()) {
    return absl::InvalidArgumentError(
        "window: give a time window or an index range, not both");
  }
  LEDGER_RETURN_IF_ERROR(CheckWindow(range.window));
  SummaryAnswer answer;
  LEDGER_ASSIGN_OR_RETURN(answer.as_of, ResolveAsOf(ledger_, as_of));
  if (range.indexes.has_value()) {
    const auto [first, end] = *range.indexes;
    answer.first_index = first;
    answer.end_index = end == 0 ? answer.as_of : end;
    if (answer.end_index > answer.as_of) {
      return absl::InvalidArgumentError(
          StrCat("indexes.end: ", end, " is beyond the as_of ", answer.as_of,
                 "; ask for an end of at most ", answer.as_of, " (or 0)"));
    }
    if (answer.first_index > answer.end_index) {
      return absl::InvalidArgumentError(
          StrCat("indexes.start: ", first, " is after the end ",
                 answer.end_index, "; the range is [start, end)"));
    }
  } else {
    LEDGER_ASSIGN_OR_RETURN(auto indexes,
                            WindowIndexes(ledger_, range.window, answer.as_of));
    answer.first_index = indexes.first;
    answer.end_index = indexes.second;
  }
  answer.counts =
      ledger_.CountRisk(tenant, answer.first_index, answer.end_index);
  return answer;
}

}  // namespace ledger
