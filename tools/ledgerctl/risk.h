#pragma once

// Risk commands (docs/queries.md, "Risk queries"): `risk findings`, `risk
// explain` and `risk summary` over the Query service's risk RPCs. Output:
// JSON lines (findings: one per entry, with its `index`; explain and
// summary: one object), or with --format text lines for people.

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "ledger/v1/query.pb.h"
#include "tools/ledgerctl/client.h"

namespace ledger::ctl {

enum class RiskQuery { kFindings, kExplain, kSummary };

struct RiskOptions {
  RiskQuery query = RiskQuery::kFindings;
  std::string tenant;
  std::string min_level;  // findings: medium (default), high, critical
  std::string rule;       // findings: R1 ... R15
  std::string actor;      // findings
  std::string from, to;   // findings, summary: RFC 3339 UTC
  // summary: an index range [first, end) instead of a window; end 0: as_of.
  std::optional<uint64_t> first_index, end_index;
  std::string dataset;  // explain: ID[@VERSION] (as lineage's --node)
  std::optional<uint64_t> as_of;
  uint32_t page_size = 0;
  std::string page_token;
  bool all = false;
  std::string format = "json";  // json | text
};

// The answers as ledgerctl prints them (exposed for tests).
Json FindingJson(const v1::RiskFinding& finding);
std::string FindingText(const v1::RiskFinding& finding);
Json ExplainJson(const v1::GradeExplainResponse& response);
std::string ExplainText(const v1::GradeExplainResponse& response);
Json SummaryJson(const v1::RiskSummaryResponse& response);
std::string SummaryText(const v1::RiskSummaryResponse& response);
// A data grade as JSON: {level, flags, basis, index, policy_version,
// version_less, propagated_from, evidence}.
Json DataGradeJson(const v1::DataGrade& grade);
// "core pi,minor" ("general" without flags).
std::string DataGradeText(const v1::DataGrade& grade);

// Runs the query and prints to `out`; for findings without `all`, the
// next page token (if any) goes to `err` as "next_page_token: TOKEN".
// InvalidArgument starting with "--" for a bad flag value.
absl::Status RunRisk(const ConnectionOptions& conn, const RiskOptions& options,
                     std::ostream& out, std::ostream& err);

}  // namespace ledger::ctl
