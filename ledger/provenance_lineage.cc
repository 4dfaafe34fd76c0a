// The graph queries of provenance.h: upstream, downstream and orphans,
// breadth first over the lineage and by_subject families, bounded by
// ProvenanceLimits.

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "base/status_macros.h"
#include "base/strings.h"
#include "ledger/ledger.h"
#include "ledger/provenance.h"
#include "ledger/provenance_internal.h"
#include "ledger/schema.h"

namespace ledger {

namespace {

using provenance_internal::CheckKeyPart;
using provenance_internal::ForEachEntry;
using provenance_internal::NodeText;
using provenance_internal::ResolveAsOf;

LineageNode NodeOf(const SubjectRef& ref) {
  return LineageNode{ref.kind, ref.id, ref.version};
}

bool HasNode(const std::vector<SubjectRef>& refs, const LineageNode& node) {
  return std::any_of(refs.begin(), refs.end(), [&](const SubjectRef& r) {
    return r.kind == node.kind && r.id == node.id && r.version == node.version;
  });
}

// The family-level prefix of a key whose next part is an id: the prefix for
// an empty id without its closing 0x00 (every builder ends the id with one).
std::string WithoutLastByte(std::string prefix) {
  if (!prefix.empty()) prefix.pop_back();
  return prefix;
}

// Ids listed per ListIndexIds call.
constexpr size_t kIdChunk = 256;

// Every distinct id under `prefix` in `family`, ascending; ResourceExhausted
// from `exhausted` past `max_count`.
absl::StatusOr<std::vector<std::string>> ListAllIds(
    Ledger::IndexScanner& scanner, IndexFamily family, std::string_view prefix,
    size_t max_count, absl::FunctionRef<absl::Status()> exhausted) {
  std::vector<std::string> ids;
  std::string after;
  while (true) {
    LEDGER_ASSIGN_OR_RETURN(std::vector<std::string> chunk,
                            scanner.ListIds(family, prefix, after, kIdChunk));
    if (ids.size() + chunk.size() > max_count) return exhausted();
    for (std::string& id : chunk) ids.push_back(std::move(id));
    if (chunk.size() < kIdChunk) return ids;
    after = ids.back();
  }
}

}  // namespace

absl::StatusOr<LineageAnswer> Provenance::Upstream(
    std::string_view tenant, const LineageNode& node, uint32_t depth,
    std::optional<uint64_t> as_of) const {
  return Walk(Direction::kUpstream, tenant, node, depth, as_of);
}

absl::StatusOr<LineageAnswer> Provenance::Downstream(
    std::string_view tenant, const LineageNode& node, uint32_t depth,
    std::optional<uint64_t> as_of) const {
  return Walk(Direction::kDownstream, tenant, node, depth, as_of);
}

absl::StatusOr<LineageAnswer> Provenance::Walk(
    Direction direction, std::string_view tenant, const LineageNode& node,
    uint32_t depth, std::optional<uint64_t> as_of) const {
  const bool up = direction == Direction::kUpstream;
  const std::string_view query = up ? "upstream" : "downstream";
  LEDGER_RETURN_IF_ERROR(CheckKeyPart("tenant", tenant, true));
  LEDGER_RETURN_IF_ERROR(CheckKeyPart("node.id", node.id, true));
  LEDGER_RETURN_IF_ERROR(CheckKeyPart("node.version", node.version, false));
  if (depth > limits_.max_depth) {
    return absl::InvalidArgumentError(
        StrCat("depth: ", depth, " is above the maximum ", limits_.max_depth,
               " (provenance_max_depth)"));
  }
  LineageAnswer answer;
  LEDGER_ASSIGN_OR_RETURN(answer.as_of, ResolveAsOf(ledger_, as_of));

  Ledger::IndexScanner scanner(ledger_);
  // A node no lineage record names (as of as_of) is unknown: empty answer.
  bool known = false;
  for (LineageRole role :
       {LineageRole::kInput, LineageRole::kOutput, LineageRole::kSubject}) {
    LEDGER_ASSIGN_OR_RETURN(
        std::vector<uint64_t> any,
        scanner.Scan(
            IndexFamily::kLineage,
            LineagePrefix(role, tenant, node.kind, node.id, node.version), 0,
            answer.as_of, 1, /*reverse=*/false));
    if (!any.empty()) {
      known = true;
      break;
    }
  }
  if (!known) return answer;

  const auto too_many = [&](std::string_view what, size_t bound,
                            std::string_view setting, uint32_t at_depth) {
    return absl::ResourceExhaustedError(
        StrCat(query, " of ", NodeText(node), ": more than ", bound, " ", what,
               " (", setting, ") within depth ", at_depth, " of the ", depth,
               " asked for; ask for a smaller depth"));
  };

  std::map<LineageNode, uint32_t> depth_of = {{node, 0}};
  // (index, from, to) -> type: each edge once.
  std::map<std::tuple<uint64_t, LineageNode, LineageNode>, std::string> edges;
  std::set<std::string> runs;
  size_t entry_budget = limits_.max_edges;
  std::vector<LineageNode> frontier = {node};
  for (uint32_t d = 0; d < depth && !frontier.empty(); ++d) {
    std::vector<LineageNode> next;
    for (const LineageNode& n : frontier) {
      const std::string prefix =
          LineagePrefix(up ? LineageRole::kOutput : LineageRole::kInput, tenant,
                        n.kind, n.id, n.version);
      LEDGER_RETURN_IF_ERROR(ForEachEntry(
          ledger_, scanner, tenant, IndexFamily::kLineage, prefix, 0,
          answer.as_of,
          /*reverse=*/false, &entry_budget,
          [&] {
            return too_many("entries read", limits_.max_edges,
                            "provenance_max_edges", d + 1);
          },
          [&](EntryRow& row) -> absl::StatusOr<bool> {
            const Event& e = row.event;
            if (!HasNode(up ? e.outputs : e.inputs, n)) {
              return absl::DataLossError(StrCat(
                  "entry ", row.index, " does not name ", NodeText(n),
                  " among its ", up ? "outputs" : "inputs",
                  ", though the lineage index says so; run a full check"));
            }
            for (const SubjectRef& ref : up ? e.inputs : e.outputs) {
              LineageNode m = NodeOf(ref);
              auto key = up ? std::make_tuple(row.index, m, n)
                            : std::make_tuple(row.index, n, m);
              if (!edges.try_emplace(std::move(key), e.type).second) continue;
              if (edges.size() > limits_.max_edges) {
                return too_many("edges", limits_.max_edges,
                                "provenance_max_edges", d + 1);
              }
              if (!e.run_id.empty()) runs.insert(e.run_id);
              if (depth_of.try_emplace(m, d + 1).second) {
                if (depth_of.size() > limits_.max_nodes) {
                  return too_many("nodes", limits_.max_nodes,
                                  "provenance_max_nodes", d + 1);
                }
                next.push_back(std::move(m));
              }
            }
            return true;
          }));
    }
    frontier = std::move(next);
  }

  std::map<LineageNode, LineageNodeRow> rows;
  for (const auto& [n, d] : depth_of) rows[n] = LineageNodeRow{n, d, 0, 0};
  answer.edges.reserve(edges.size());
  for (auto& [key, type] : edges) {
    const auto& [index, from, to] = key;
    ++rows[from].out_degree;
    ++rows[to].in_degree;
    answer.edges.push_back(LineageEdge{from, to, type, index});
  }
  for (auto& [n, row] : rows) answer.nodes.push_back(std::move(row));
  std::stable_sort(answer.nodes.begin(), answer.nodes.end(),
                   [](const LineageNodeRow& a, const LineageNodeRow& b) {
                     return a.depth < b.depth;
                   });
  answer.run_ids.assign(runs.begin(), runs.end());
  return answer;
}

absl::StatusOr<OrphansAnswer> Provenance::Orphans(
    std::string_view tenant, std::optional<uint64_t> as_of) const {
  LEDGER_RETURN_IF_ERROR(CheckKeyPart("tenant", tenant, true));
  OrphansAnswer answer;
  LEDGER_ASSIGN_OR_RETURN(answer.as_of, ResolveAsOf(ledger_, as_of));
  const uint64_t size = answer.as_of;
  const auto too_many = [&](std::string_view what, size_t bound,
                            std::string_view setting) {
    return absl::ResourceExhaustedError(
        StrCat("orphans of tenant ", QuoteForMessage(tenant), ": more than ",
               bound, " ", what, " (", setting,
               "); raise the bound or ask for an earlier as_of"));
  };
  size_t entry_budget = limits_.max_edges;
  Ledger::IndexScanner scanner(ledger_);
  const auto entries_spent = [&] {
    return too_many("entries to read", limits_.max_edges,
                    "provenance_max_edges");
  };

  // Datasets a dataset.registered entry with a source names.
  using Subject = std::pair<SubjectKind, std::string>;
  std::set<Subject> reached;
  std::deque<Subject> queue;
  LEDGER_RETURN_IF_ERROR(ForEachEntry(
      ledger_, scanner, tenant, IndexFamily::kByType,
      TypeIndexPrefix(tenant, "dataset.registered"), 0, size,
      /*reverse=*/false, &entry_budget, entries_spent,
      [&](EntryRow& row) -> absl::StatusOr<bool> {
        if (!RegistersSource(row.event)) return true;
        for (const auto* refs : {&row.event.subjects, &row.event.outputs}) {
          for (const SubjectRef& r : *refs) {
            if (r.kind != SubjectKind::kDataset) continue;
            if (reached.emplace(r.kind, r.id).second) {
              queue.emplace_back(r.kind, r.id);
            }
          }
        }
        return true;
      }));
  // Everything derived from them, any version, through any kind: a dataset
  // reached here has a registered source upstream. The lineage family
  // lists the versions of a subject that entries read ('i' records), and
  // then the entries that read each: only processing entries are read, not
  // every entry about the subject.
  while (!queue.empty()) {
    const Subject s = std::move(queue.front());
    queue.pop_front();
    LEDGER_ASSIGN_OR_RETURN(
        std::vector<std::string> versions,
        ListAllIds(scanner, IndexFamily::kLineage,
                   WithoutLastByte(LineagePrefix(LineageRole::kInput, tenant,
                                                 s.first, s.second, "")),
                   limits_.max_nodes, [&] {
                     return too_many("versions of one subject",
                                     limits_.max_nodes, "provenance_max_nodes");
                   }));
    for (const std::string& version : versions) {
      LEDGER_RETURN_IF_ERROR(ForEachEntry(
          ledger_, scanner, tenant, IndexFamily::kLineage,
          LineagePrefix(LineageRole::kInput, tenant, s.first, s.second,
                        version),
          0, size, /*reverse=*/false, &entry_budget, entries_spent,
          [&](EntryRow& row) -> absl::StatusOr<bool> {
            if (!HasNode(row.event.inputs,
                         LineageNode{s.first, s.second, version})) {
              return absl::DataLossError(StrCat(
                  "entry ", row.index, " does not name ",
                  NodeText(LineageNode{s.first, s.second, version}),
                  " among its inputs, though the lineage index says so; run "
                  "a full check"));
            }
            for (const SubjectRef& r : row.event.outputs) {
              if (!reached.emplace(r.kind, r.id).second) continue;
              if (reached.size() > limits_.max_nodes) {
                return too_many("subjects derived from registered sources",
                                limits_.max_nodes, "provenance_max_nodes");
              }
              queue.emplace_back(r.kind, r.id);
            }
            return true;
          }));
    }
  }

  LEDGER_ASSIGN_OR_RETURN(
      std::vector<std::string> datasets,
      ListAllIds(
          scanner, IndexFamily::kBySubject,
          WithoutLastByte(SubjectIndexPrefix(LinkKind::kDataset, tenant, "")),
          limits_.max_nodes, [&] {
            return too_many("datasets", limits_.max_nodes,
                            "provenance_max_nodes");
          }));
  for (const std::string& id : datasets) {
    if (reached.count({SubjectKind::kDataset, id}) > 0) continue;
    LEDGER_ASSIGN_OR_RETURN(
        std::vector<uint64_t> first,
        scanner.Scan(IndexFamily::kBySubject,
                     SubjectIndexPrefix(LinkKind::kDataset, tenant, id), 0,
                     size, 1, /*reverse=*/false));
    if (first.empty()) continue;  // first named after as_of
    answer.datasets.push_back(OrphanDataset{id, first[0]});
  }

  LEDGER_ASSIGN_OR_RETURN(
      std::vector<std::string> run_ids,
      ListAllIds(scanner, IndexFamily::kByRun,
                 WithoutLastByte(RunIndexPrefix(RunRole::kRun, tenant, "")),
                 limits_.max_nodes, [&] {
                   return too_many("runs", limits_.max_nodes,
                                   "provenance_max_nodes");
                 }));
  for (const std::string& run_id : run_ids) {
    // Latest first: a run's end event is usually its last entry.
    OrphanRun run{run_id, 0, 0, 0};
    bool ended = false;
    LEDGER_RETURN_IF_ERROR(
        ForEachEntry(ledger_, scanner, tenant, IndexFamily::kByRun,
                     RunIndexPrefix(RunRole::kRun, tenant, run_id), 0, size,
                     /*reverse=*/true, &entry_budget, entries_spent,
                     [&](EntryRow& row) -> absl::StatusOr<bool> {
                       if (EndsRun(row.event)) {
                         ended = true;
                         return false;
                       }
                       if (run.entry_count == 0) run.last_index = row.index;
                       run.first_index = row.index;
                       ++run.entry_count;
                       return true;
                     }));
    if (!ended && run.entry_count > 0) answer.runs.push_back(std::move(run));
  }
  return answer;
}

}  // namespace ledger
