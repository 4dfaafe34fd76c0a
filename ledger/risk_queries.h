#pragma once

// Risk queries (docs/queries.md, "Risk queries"): the findings of a tenant
// (entries graded medium or above) by level, rule, actor and time; a data
// grade explained (the grade in force, the inputs it was propagated from,
// recursively, and its history); and counts per level and per rule over a
// window. Answered from the ledger's findings index and its risk engine
// (ledger/risk_findings.h, ledger/risk_engine.h), reading from the store
// only the entries of the page returned. Pure reads, any thread.
//
// As the provenance queries (ledger/provenance.h): every query names the
// tenant, may name `as_of` (a ledger size; only entries with index <
// as_of count; unset: head().size; beyond it: InvalidArgument), and every
// answer carries the as_of it was computed at. Findings are paginated with
// the same page tokens; Explain is bounded by ProvenanceLimits (max_depth
// for the length of a propagation path, max_nodes for its steps:
// ResourceExhausted naming the bound past them).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ledger/event.h"
#include "ledger/provenance.h"
#include "ledger/risk_findings.h"

namespace ledger {

class Ledger;

struct FindingRow {
  uint64_t index = 0;
  int64_t received_at_ns = 0;
  std::string type;
  Actor actor;
  std::vector<SubjectRef> subjects;
  risk::Risk risk = risk::Risk::kMedium;
  std::vector<RiskReason> reasons;  // in the entry's order
  uint32_t policy_version = 0;
  std::string bytes;  // the entry's canonical bytes
};

struct FindingsAnswer {
  uint64_t as_of = 0;
  // The window as an index range [first_index, end_index) (the whole
  // ledger up to as_of without a window).
  uint64_t first_index = 0;
  uint64_t end_index = 0;
  std::vector<FindingRow> findings;  // ascending by index
  std::string next_page_token;
};

// A data grade as explained.
struct ExplainedGrade {
  risk::GradeRecord record;
  // The policy in force when it took effect (0: none).
  uint32_t policy_version = 0;
  // The grade is the dataset's version-less grade standing for a version
  // never graded on its own.
  bool version_less = false;
};

// One step of a propagation path: a dataset version and its grade at
// `at`. Step 0 is the asked version at the answer's as_of; every other
// step is an input of step `parent`, through the edge entry `edge_index`,
// with its grade at the index the parent's grade took effect.
struct GradeStep {
  std::string id;
  std::string version;
  uint32_t depth = 0;
  int64_t parent = -1;  // -1 for step 0
  uint64_t edge_index = 0;
  uint8_t blocked_flags = 0;            // flags the edge does not carry
  bool raises = false;                  // an aggregation past the threshold
  uint64_t at = 0;                      // the entry index the grade is taken at
  std::optional<ExplainedGrade> grade;  // nullopt: ungraded at `at`
  // A propagated grade of the same version at the same index was
  // explained at this step already; its inputs are listed there (a
  // diamond, or a cycle).
  std::optional<uint64_t> same_as;
};

struct ExplainAnswer {
  uint64_t as_of = 0;
  // Breadth first from the asked version; its grade is steps[0].grade.
  // Inputs are expanded only for propagated and aggregated grades.
  std::vector<GradeStep> steps;
  // Every grade the version had below as_of, oldest first (its own
  // records; empty if only the version-less grade stands for it).
  std::vector<ExplainedGrade> history;
};

// What a summary counts: [first_index, end_index) of the tenant's entries.
struct SummaryAnswer {
  uint64_t as_of = 0;
  uint64_t first_index = 0;
  uint64_t end_index = 0;
  RiskCounts counts;
};

// A summary's range: a time window, an index range, or (neither) the
// whole ledger up to as_of.
struct SummaryRange {
  std::optional<TimeWindow> window;
  // [first, end); end 0 means as_of.
  std::optional<std::pair<uint64_t, uint64_t>> indexes;
};

class RiskQueries {
 public:
  // `ledger` must outlive this object.
  explicit RiskQueries(const Ledger& ledger, ProvenanceLimits limits = {})
      : ledger_(ledger), limits_(limits) {}

  // The tenant's entries graded at least filter.min_level (medium, high or
  // critical; InvalidArgument otherwise), with a reason of filter.rule if
  // given, by filter.actor if given, received in `window` if given. A page
  // looks at most kMaxScannedPerPage findings, so with a filter that keeps
  // few it may hold fewer rows than page_size (even none) and still have a
  // next page.
  absl::StatusOr<FindingsAnswer> Findings(std::string_view tenant,
                                          const RiskFindingsFilter& filter,
                                          std::optional<TimeWindow> window,
                                          const PageRequest& page) const;

  // The grade of dataset `id` version `version` (empty: the version-less
  // grade) in force as of `as_of`, its propagation path and its history.
  // A version with no grade is an answer whose step 0 has none.
  absl::StatusOr<ExplainAnswer> Explain(std::string_view tenant,
                                        std::string_view id,
                                        std::string_view version,
                                        std::optional<uint64_t> as_of) const;

  // The grade of (id, version) in force as of `as_of` (a ledger size:
  // entries below it count), as Explain's step 0 gives it; nullopt if it
  // had none then. as_of must be at most head().size.
  std::optional<ExplainedGrade> GradeAsOf(std::string_view tenant,
                                          std::string_view id,
                                          std::string_view version,
                                          uint64_t as_of) const;

  // Counts per level and per rule over the range.
  absl::StatusOr<SummaryAnswer> Summary(std::string_view tenant,
                                        const SummaryRange& range,
                                        std::optional<uint64_t> as_of) const;

 private:
  const Ledger& ledger_;
  ProvenanceLimits limits_;
};

}  // namespace ledger
