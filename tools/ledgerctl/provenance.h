#pragma once

// Provenance commands (docs/queries.md): history, label-history,
// who-touched, actor-activity, lineage, cross-border, orphans, over the
// Query service's provenance RPCs. Output: JSON lines (one per row, each
// with its entry `index`); lineage one JSON object or a Graphviz digraph.

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "ledger/v1/query.pb.h"
#include "tools/ledgerctl/client.h"

namespace ledger::ctl {

enum class ProvenanceQuery {
  kHistory,
  kLabelHistory,
  kWhoTouched,
  kActorActivity,
  kLineage,
  kCrossBorder,
  kOrphans,
};

struct ProvenanceOptions {
  ProvenanceQuery query = ProvenanceQuery::kHistory;
  std::string tenant;
  std::string subject;           // history, who-touched: KIND:ID
  std::string item;              // label-history
  std::string actor;             // actor-activity
  std::string from, to;          // who-touched, actor-activity: RFC 3339 UTC
  std::string node;              // lineage: KIND:ID[@VERSION]
  std::string direction = "up";  // lineage: up | down
  uint32_t depth = 3;
  std::string format = "json";  // lineage: json | dot
  int32_t year = 0;             // cross-border
  std::optional<uint64_t> as_of;
  uint32_t page_size = 0;
  std::string page_token;
  // Follow the page tokens to the end (list queries).
  bool all = false;
  bool with_proofs = false;
  // With with_proofs: the answer file; with `all`, one per page:
  // FILE.1, FILE.2, ...
  std::string answer_out;
};

// "dataset:ID", "item:ID", "annotation:ID", "actor:ID" (split at the first
// ':'). InvalidArgument naming `flag` otherwise.
// "dataset", "item", "annotation" ("unspecified" otherwise).
std::string_view KindText(v1::SubjectKind kind);

absl::StatusOr<v1::SubjectKey> ParseSubjectKey(std::string_view text,
                                               std::string_view flag);
// "KIND:ID" or "KIND:ID@VERSION" (the version after the last '@'; an id
// containing '@' takes a trailing '@': "item:a@b@" is id "a@b", no
// version). KIND: dataset, item, annotation.
absl::StatusOr<v1::LineageNode> ParseLineageNode(std::string_view text,
                                                 std::string_view flag);

// The lineage answer as a Graphviz digraph: nodes "kind:id@version" filled
// by their data grade (core red, important orange, general green, no grade
// white) with a second label line of level and flags, the asked node
// `asked` outlined, edges labelled "type #index". Ids are quoted and
// escaped, so any UTF-8 id is safe.
std::string LineageDot(const v1::LineageResponse& response,
                       const v1::LineageNode& asked);
// {as_of, nodes: [{kind, id, version, depth, in_degree, out_degree,
//  grade}], edges: [{from, to, type, index}], run_ids: [...]}; grade is
// DataGradeJson (risk.h) or null; nodes as "kind:id@version" text in edges.
Json LineageJson(const v1::LineageResponse& response);

// Runs the query and prints its rows to `out`; without `all`, the next
// page token (if any) goes to `err` as "next_page_token: TOKEN".
absl::Status RunProvenance(const ConnectionOptions& conn,
                           const ProvenanceOptions& options, std::ostream& out,
                           std::ostream& err);

}  // namespace ledger::ctl
