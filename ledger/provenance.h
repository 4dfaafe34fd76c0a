#pragma once

// Provenance queries (issue 12): history, label history, who touched a
// subject, an actor's activity, upstream and downstream lineage, cross-border
// transfers and orphans, answered from the derived index families
// (by_subject, by_type, by_run, lineage; ledger/schema.h) through the
// Ledger's read API. Pure reads: no locks of their own, any thread,
// concurrently with appends.
//
// Every query names the caller's tenant (the gRPC layer checks roles and
// tenants; here a tenant is only a key prefix, so another tenant's entries,
// even with equal ids, are never read) and may name `as_of`, a ledger size:
// only entries with index < as_of count. Unset means head().size; a value
// beyond the head is InvalidArgument naming both numbers. Every answer
// carries the as_of it was computed at, so it can be reproduced, and proven
// against any checkpoint of at least that size. An unknown subject is an
// empty answer, not an error.
//
// The list queries (history, label_history, who_touched, actor_activity,
// cross_border) return pages in ascending index order: page_size rows at
// most (0: kDefaultPageSize; above kMaxPageSize is InvalidArgument) and a
// next_page_token, empty on the last page. A token holds the as_of of the
// first page, so every page of a walk answers as of the same size. A token
// is opaque (base64url of a versioned binary: version, query kind, as_of,
// next position, a 64-bit hash of the query's parameters); a malformed one,
// or one from another query, is InvalidArgument "page_token: ...".
// label_history reads at most kMaxScannedPerPage entries per page, so one
// of its pages may hold fewer rows than page_size (even none) and still
// have a next page.
//
// The graph queries (upstream, downstream, orphans) are bounded by
// ProvenanceLimits instead of paginated: a depth over max_depth is
// InvalidArgument; an answer that would pass max_nodes or max_edges stops
// with ResourceExhausted naming the bound (never an unbounded scan).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ledger/answer.h"
#include "ledger/entry.h"
#include "ledger/event.h"

namespace ledger {

class Ledger;

inline constexpr size_t kDefaultPageSize = 100;
inline constexpr size_t kMaxPageSize = 1000;
// label_history: entries of the item read (and filtered) per page at most.
inline constexpr size_t kMaxScannedPerPage = 10'000;

// Bounds of the graph queries (node settings provenance_max_depth,
// provenance_max_nodes, provenance_max_edges).
struct ProvenanceLimits {
  uint32_t max_depth = 16;
  // Nodes of an upstream / downstream answer; datasets, runs and subjects
  // visited by orphans.
  size_t max_nodes = 10'000;
  // Edges of an upstream / downstream answer, and entries read to find
  // them; entries read by orphans.
  size_t max_edges = 50'000;
};

// Paging and as_of of a list query.
struct PageRequest {
  std::optional<uint64_t> as_of;  // unset: head().size
  size_t page_size = 0;           // 0: kDefaultPageSize
  std::string page_token;         // empty: the first page
};

// One entry of an answer as stored.
struct StoredEntry {
  uint64_t index = 0;
  int64_t received_at_ns = 0;
  std::string bytes;  // the entry's canonical bytes
};

// One entry of an answer with its decoded event.
struct EntryRow : StoredEntry {
  Event event;
};

// ---- history, who_touched, actor_activity ----

struct HistoryAnswer {
  uint64_t as_of = 0;
  std::vector<StoredEntry> entries;  // ascending by index
  std::string next_page_token;       // empty: no more
};

// A time window in ledger time (received_at, UTC ns): [t0_ns, t1_ns).
struct TimeWindow {
  int64_t t0_ns = 0;
  int64_t t1_ns = 0;
};

// What an actor did: per actor id, the number of rows and the distinct
// types, sorted.
struct ActorSummary {
  Actor actor;  // as of the actor's first row in the page
  uint64_t count = 0;
  std::vector<std::string> actions;
  friend bool operator==(const ActorSummary&, const ActorSummary&) = default;
};

struct TouchAnswer {
  uint64_t as_of = 0;
  // The window as an index range: entries [first_index, end_index) have
  // received_at in [t0, t1).
  uint64_t first_index = 0;
  uint64_t end_index = 0;
  std::vector<EntryRow> entries;  // ascending by index: actor, type, ...
  // Over this page's rows, by actor id.
  std::vector<ActorSummary> actors;
  std::string next_page_token;
};

// ---- label_history ----

enum class ReviewOutcome : uint8_t {
  kNone = 0,
  kAccepted = 1,  // review.accepted
  kRejected = 2,  // review.rejected
  kReopened = 3,  // review.reopened
};
// "", "accepted", "rejected", "reopened".
std::string_view ReviewOutcomeName(ReviewOutcome outcome);

// The types label_history returns are IsLabelHistoryType's (answer.h): the
// verifier of an answer file checks its rows against the same list.

struct LabelRow {
  uint64_t index = 0;
  int64_t received_at_ns = 0;
  int64_t occurred_at_ns = 0;
  std::string type;
  Actor actor;
  // Ids of the event's subjects of kind annotation, in order.
  std::vector<std::string> annotation_ids;
  ReviewOutcome review = ReviewOutcome::kNone;
  // prelabel.applied: the actor id if the actor is a model, else the
  // attribute "model" if present; empty otherwise.
  std::string prelabel_model;
  std::string label;  // attribute "label", empty if none
  friend bool operator==(const LabelRow&, const LabelRow&) = default;
};

struct LabelHistoryAnswer {
  uint64_t as_of = 0;
  std::vector<LabelRow> rows;  // ascending by index
  std::string next_page_token;
};

// ---- upstream, downstream ----

// A lineage node: a version of a dataset, item or annotation (the version
// may be empty).
struct LineageNode {
  SubjectKind kind = SubjectKind::kDataset;
  std::string id;
  std::string version;
  friend auto operator<=>(const LineageNode&, const LineageNode&) = default;
  friend bool operator==(const LineageNode&, const LineageNode&) = default;
};

struct LineageNodeRow {
  LineageNode node;
  uint32_t depth = 0;       // hops from the query's node
  uint32_t in_degree = 0;   // edges of the answer into the node
  uint32_t out_degree = 0;  // edges of the answer out of the node
  friend bool operator==(const LineageNodeRow&,
                         const LineageNodeRow&) = default;
};

// Entry `index` of `type` read `from` and produced `to`.
struct LineageEdge {
  LineageNode from;
  LineageNode to;
  std::string type;
  uint64_t index = 0;
  friend bool operator==(const LineageEdge&, const LineageEdge&) = default;
};

struct LineageAnswer {
  uint64_t as_of = 0;
  // Sorted by (depth, node); the query's node first, at depth 0. Empty if
  // the node is in no lineage record of the tenant as of as_of.
  std::vector<LineageNodeRow> nodes;
  // Sorted by (index, from, to); each edge once.
  std::vector<LineageEdge> edges;
  // The distinct non-empty run ids of the edges' entries, sorted.
  std::vector<std::string> run_ids;
};

// ---- cross_border ----

struct TransferRow {
  uint64_t index = 0;
  int64_t received_at_ns = 0;
  int64_t occurred_at_ns = 0;
  Actor actor;
  std::vector<SubjectRef> sent;  // the event's inputs
  std::vector<SubjectRef> outputs;
  std::string region;
  std::string purpose;
  std::vector<std::pair<std::string, std::string>> attributes;
  // The upstream grade of what was sent: "unassessed" until grades exist.
  std::string grade = "unassessed";
  friend bool operator==(const TransferRow&, const TransferRow&) = default;
};

struct CrossBorderAnswer {
  uint64_t as_of = 0;
  std::vector<TransferRow> transfers;  // ascending by index
  std::string next_page_token;
};

// ---- orphans ----

struct OrphanDataset {
  std::string id;
  uint64_t first_index = 0;  // the first entry about it
  friend bool operator==(const OrphanDataset&, const OrphanDataset&) = default;
};

struct OrphanRun {
  std::string run_id;
  uint64_t first_index = 0;
  uint64_t last_index = 0;
  uint64_t entry_count = 0;
  friend bool operator==(const OrphanRun&, const OrphanRun&) = default;
};

struct OrphansAnswer {
  uint64_t as_of = 0;
  std::vector<OrphanDataset> datasets;  // sorted by id
  std::vector<OrphanRun> runs;          // sorted by run id
};

// The attribute a run's end event carries, and its end values.
inline constexpr std::string_view kRunStateAttribute = "run.state";
// True for "completed", "failed", "aborted".
bool IsRunEndState(std::string_view state);
// Whether `event` ends its run: attribute run.state is an end state, or it
// has no run.state and its type is one of LineageTypes().
bool EndsRun(const Event& event);
// Whether `event` registers a source: a dataset.registered with a non-empty
// attribute "source".
bool RegistersSource(const Event& event);

class Provenance {
 public:
  // `ledger` must outlive this object.
  explicit Provenance(const Ledger& ledger, ProvenanceLimits limits = {})
      : ledger_(ledger), limits_(limits) {}

  const ProvenanceLimits& limits() const { return limits_; }

  // Every entry about (kind, id): its back-links name it.
  absl::StatusOr<HistoryAnswer> History(std::string_view tenant, LinkKind kind,
                                        std::string_view id,
                                        const PageRequest& page) const;

  // The item's entries whose type IsLabelHistoryType (entries that name
  // only an annotation, not the item, are not the item's).
  absl::StatusOr<LabelHistoryAnswer> LabelHistory(
      std::string_view tenant, std::string_view item_id,
      const PageRequest& page) const;

  // The subject's entries with received_at in the window.
  // InvalidArgument if t0 > t1.
  absl::StatusOr<TouchAnswer> WhoTouched(std::string_view tenant, LinkKind kind,
                                         std::string_view id, TimeWindow window,
                                         const PageRequest& page) const;

  // The entries whose actor is `actor_id`, received in the window.
  absl::StatusOr<TouchAnswer> ActorActivity(std::string_view tenant,
                                            std::string_view actor_id,
                                            TimeWindow window,
                                            const PageRequest& page) const;

  // Breadth first over the lineage family up to `depth` hops: upstream,
  // the entries that produced a node (output) and what they read (inputs,
  // one hop further); downstream, the entries that read a node and what
  // they produced.
  absl::StatusOr<LineageAnswer> Upstream(std::string_view tenant,
                                         const LineageNode& node,
                                         uint32_t depth,
                                         std::optional<uint64_t> as_of) const;
  absl::StatusOr<LineageAnswer> Downstream(std::string_view tenant,
                                           const LineageNode& node,
                                           uint32_t depth,
                                           std::optional<uint64_t> as_of) const;

  // data.transferred_cross_border entries of the tenant received in UTC
  // `year` (1970..2261, InvalidArgument otherwise).
  absl::StatusOr<CrossBorderAnswer> CrossBorder(std::string_view tenant,
                                                int year,
                                                const PageRequest& page) const;

  // (a) Datasets of the tenant none of whose upstream (any version, through
  // datasets, items and annotations) is a dataset that RegistersSource
  // names (as subject or output); a registered dataset is its own upstream.
  // (b) Runs of the tenant with no entry that EndsRun.
  absl::StatusOr<OrphansAnswer> Orphans(std::string_view tenant,
                                        std::optional<uint64_t> as_of) const;

 private:
  enum class Direction { kUpstream, kDownstream };
  absl::StatusOr<LineageAnswer> Walk(Direction direction,
                                     std::string_view tenant,
                                     const LineageNode& node, uint32_t depth,
                                     std::optional<uint64_t> as_of) const;
  absl::StatusOr<TouchAnswer> Touched(uint8_t query_kind,
                                      std::string_view tenant, LinkKind kind,
                                      std::string_view id, TimeWindow window,
                                      const PageRequest& page) const;

  const Ledger& ledger_;
  ProvenanceLimits limits_;
};

}  // namespace ledger
