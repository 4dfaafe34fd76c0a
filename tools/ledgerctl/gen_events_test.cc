#include "tools/ledgerctl/gen_events.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>
#include <streambuf>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/time/clock.h"
#include "base/strings.h"
#include "ledger/event.h"
#include "ledger/lineage_rules.h"
#include "ledger/payload.h"
#include "tools/ledgerctl/event_lines.h"
#include "tools/ledgerctl/gen_events_internal.h"

namespace ledger::ctl {
namespace {

std::string Generate(GenEventsOptions options) {
  std::ostringstream out;
  absl::Status s = GenerateEvents(options, out);
  EXPECT_TRUE(s.ok()) << s;
  return out.str();
}

TEST(GenEventsTest, EveryLineParsesConvertsAndValidates) {
  const std::string text =
      Generate({.count = 600, .tenant = "acme", .seed = 7});
  absl::StatusOr<std::vector<EventLine>> events = ParseEventLines(text);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 600u);
  std::set<std::string> ids;
  std::set<std::string> types;
  int64_t last_time = 0;
  for (const EventLine& e : *events) {
    absl::Status valid = ValidateEvent(e.event, EventLimits{});
    EXPECT_TRUE(valid.ok()) << "line " << e.line << ": " << valid << "\n"
                            << e.proto.DebugString();
    // What a node admits: processing events name their lineage.
    absl::Status lineage = CheckLineage(e.event);
    EXPECT_TRUE(lineage.ok()) << "line " << e.line << ": " << lineage;
    EXPECT_TRUE(IsKnownEventType(e.event.type)) << e.event.type;
    EXPECT_FALSE(IsLedgerInternalType(e.event.type)) << e.event.type;
    EXPECT_EQ(e.event.tenant, "acme");
    EXPECT_GT(e.event.occurred_at_ns, last_time);
    last_time = e.event.occurred_at_ns;
    EXPECT_EQ(e.proto.event_id().size(), 36u);
    EXPECT_EQ(e.proto.event_id()[14], '4');  // UUID version 4
    ids.insert(e.proto.event_id());
    types.insert(e.event.type);
  }
  EXPECT_EQ(ids.size(), 600u);
  // The workflow covers provenance, classification, annotation, QA,
  // processing and access.
  for (const char* type :
       {"dataset.registered", "grade.assigned", "training.completed",
        "item.imported", "task.assigned", "annotation.created",
        "annotation.submitted", "review.accepted", "qa.sample_drawn",
        "batch.released", "data.cleaned", "dataset.exported",
        "prelabel.applied", "dataset.version_created"}) {
    EXPECT_TRUE(types.contains(type)) << type;
  }
}

// One emitter key signs one producer's events: --producer makes every
// event that producer's; without it the simulated systems differ.
TEST(GenEventsTest, ProducerOptionSetsEveryEventsProducer) {
  absl::StatusOr<std::vector<EventLine>> mixed =
      ParseEventLines(Generate({.count = 200, .tenant = "t"}));
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  std::set<std::string> producers;
  for (const EventLine& e : *mixed) producers.insert(e.event.producer);
  EXPECT_GT(producers.size(), 1u);
  absl::StatusOr<std::vector<EventLine>> one = ParseEventLines(
      Generate({.count = 200, .tenant = "t", .producer = "acme-tool/2.0"}));
  ASSERT_TRUE(one.ok()) << one.status();
  for (const EventLine& e : *one) EXPECT_EQ(e.event.producer, "acme-tool/2.0");
}

TEST(GenEventsTest, EveryDataEventNamesContentHashes) {
  absl::StatusOr<std::vector<EventLine>> events =
      ParseEventLines(Generate({.count = 300, .tenant = "t"}));
  ASSERT_TRUE(events.ok()) << events.status();
  for (const EventLine& e : *events) {
    // About a person, or a document about the processing.
    if (e.event.type == "training.completed" ||
        e.event.type == "qualification.granted" ||
        e.event.type == "export_assessment.filed" ||
        e.event.type == "pia.recorded") {
      continue;
    }
    bool hashed = false;
    for (const auto* refs :
         {&e.event.subjects, &e.event.inputs, &e.event.outputs}) {
      for (const SubjectRef& s : *refs) {
        hashed = hashed || s.content_sha256.has_value();
      }
    }
    EXPECT_TRUE(hashed) << "line " << e.line << " " << e.event.type;
  }
}

// The simulated clock starts at the given time, or by default 300 days
// before the current UTC day, so that a node's default occurred_at window
// takes the events.
TEST(GenEventsTest, EventsStartAtTheStartTime) {
  EXPECT_EQ(DefaultGenStartSeconds(1'764'633'600 + 3600),  // 2025-12-02 01:00
            1'764'633'600 - 300 * 86400);
  EXPECT_EQ(DefaultGenStartSeconds(1'764'633'600), 1'764'633'600 - 300 * 86400);
  absl::StatusOr<std::vector<EventLine>> events = ParseEventLines(Generate(
      {.count = 20, .tenant = "acme", .start_seconds = 1'700'000'000}));
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_GT(events->front().event.occurred_at_ns, 1'700'000'000'000'000'000);
  EXPECT_LT(events->back().event.occurred_at_ns,
            1'700'000'000'000'000'000 + 21 * 20 * int64_t{1'000'000'000});
  const int64_t now = absl::ToUnixNanos(absl::Now());
  events = ParseEventLines(Generate({.count = 20, .tenant = "acme"}));
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_GT(events->front().event.occurred_at_ns,
            now - int64_t{302} * 86400 * 1'000'000'000);
  EXPECT_LT(events->back().event.occurred_at_ns,
            now - int64_t{299} * 86400 * 1'000'000'000);
}

TEST(GenEventsTest, TheSeedDeterminesTheOutput) {
  const std::string a = Generate(
      {.count = 50, .tenant = "acme", .seed = 1, .start_seconds = 1'000});
  EXPECT_EQ(
      a,
      Generate(
          {.count = 50, .tenant = "acme", .seed = 1, .start_seconds = 1'000}));
  EXPECT_NE(
      a,
      Generate(
          {.count = 50, .tenant = "acme", .seed = 2, .start_seconds = 1'000}));
  // Other seeds and tenants share no event IDs (no overlapping streams).
  std::set<std::string> ids;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    for (const char* tenant : {"acme", "globex"}) {
      absl::StatusOr<std::vector<EventLine>> events = ParseEventLines(
          Generate({.count = 100, .tenant = tenant, .seed = seed}));
      ASSERT_TRUE(events.ok()) << events.status();
      for (const EventLine& e : *events) {
        EXPECT_TRUE(ids.insert(e.proto.event_id()).second)
            << "seed " << seed << " " << tenant << " line " << e.line;
      }
    }
  }
  // A prefix of a longer run is the shorter run.
  const std::string longer = Generate(
      {.count = 80, .tenant = "acme", .seed = 1, .start_seconds = 1'000});
  EXPECT_EQ(longer.substr(0, a.size()), a);
}

TEST(GenEventsTest, SizePadsTheCanonicalEncoding) {
  absl::StatusOr<std::vector<EventLine>> events = ParseEventLines(
      Generate({.count = 60, .tenant = "acme", .seed = 3, .size = 2048}));
  ASSERT_TRUE(events.ok()) << events.status();
  size_t padded = 0;
  for (const EventLine& e : *events) {
    // The padding is personal data that `ledgerctl append` encrypts into an
    // envelope of 57 bytes more (ledger/FORMAT.md section 3.4).
    EXPECT_TRUE(e.event.payload.empty()) << "line " << e.line;
    const size_t size = EncodeEvent(e.event).size();
    if (!e.has_plain) {
      EXPECT_GT(size + kEnvelopeMinSize, 2048u) << "line " << e.line;
    } else {
      ++padded;
      EXPECT_EQ(size + kEnvelopeMinSize + e.plain.plaintext.size(), 2048u)
          << "line " << e.line;
      EXPECT_EQ(e.plain.data_subject, e.event.actor.id) << "line " << e.line;
    }
    EXPECT_TRUE(ValidateEvent(e.event, EventLimits{}).ok()) << e.line;
  }
  EXPECT_GT(padded, 50u);
}

TEST(GenEventsTest, RejectsBadOptions) {
  std::ostringstream out;
  EXPECT_EQ(GenerateEvents({.count = 1, .tenant = ""}, out).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      GenerateEvents({.count = 1, .tenant = "a", .size = 40000}, out).code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(out.str().empty());
  for (uint32_t depth : {0u, kMaxGenWorkflowDepth + 1}) {
    absl::Status s = GenerateEvents(
        {.count = 1, .tenant = "a", .workflow_depth = depth}, out);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << depth;
    EXPECT_NE(s.message().find("--workflow-depth"), std::string::npos) << s;
  }
  for (uint32_t fan_in : {0u, 1u, kMaxGenFanIn + 1}) {
    absl::Status s =
        GenerateEvents({.count = 1, .tenant = "a", .fan_in = fan_in}, out);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << fan_in;
    EXPECT_NE(s.message().find("--fan-in"), std::string::npos) << s;
  }
  EXPECT_TRUE(out.str().empty());
  EXPECT_TRUE(GenerateEvents({.count = 0, .tenant = "a"}, out).ok());
  EXPECT_TRUE(out.str().empty());
}

std::vector<EventLine> Parsed(const GenEventsOptions& options) {
  absl::StatusOr<std::vector<EventLine>> events =
      ParseEventLines(Generate(options));
  EXPECT_TRUE(events.ok()) << events.status();
  return events.ok() ? *std::move(events) : std::vector<EventLine>{};
}

std::string Attr(const EventLine& e, const std::string& key) {
  auto it = e.proto.attributes().find(key);
  return it == e.proto.attributes().end() ? "" : it->second;
}

// A node of the lineage graph, as the test sees it: kind, id, version.
using Node = std::tuple<SubjectKind, std::string, std::string>;
Node NodeOf(const SubjectRef& r) { return {r.kind, r.id, r.version}; }

// The lineage graph of a list of events, built here from the events'
// inputs and outputs alone.
struct Graph {
  // Per event (by position): its distinct input and output nodes.
  std::vector<std::vector<Node>> inputs, outputs;
  // Node -> positions of the events that produced it.
  std::map<Node, std::vector<size_t>> producers;

  explicit Graph(const std::vector<EventLine>& events) {
    for (size_t i = 0; i < events.size(); ++i) {
      std::set<Node> in, out;
      for (const SubjectRef& r : events[i].event.inputs) in.insert(NodeOf(r));
      for (const SubjectRef& r : events[i].event.outputs) out.insert(NodeOf(r));
      inputs.emplace_back(in.begin(), in.end());
      outputs.emplace_back(out.begin(), out.end());
      for (const Node& n : out) producers[n].push_back(i);
    }
  }
  // The nodes some event read to produce `n`.
  std::set<Node> Parents(const Node& n) const {
    std::set<Node> parents;
    auto it = producers.find(n);
    if (it == producers.end()) return parents;
    for (size_t e : it->second) {
      parents.insert(inputs[e].begin(), inputs[e].end());
    }
    return parents;
  }
};

constexpr uint64_t kShapeEvents = 2500;

// Seeds of tenant acme whose project is (the first draw of the stream):
// 1 speech-commands, 3 retail-shelves, 4 clinical-notes, 5 street-scenes.
// The default is a project that sends data abroad (street-scenes is core
// data, which stays in the country).
GenEventsOptions ShapeOptions(uint32_t depth, uint32_t fan_in,
                              uint64_t seed = 3) {
  return {.count = kShapeEvents,
          .tenant = "acme",
          .seed = seed,
          .start_seconds = 1'700'000'000,
          .workflow_depth = depth,
          .fan_in = fan_in};
}

// Every event of larger workflows, of several shapes and every project, is
// one a node admits.
TEST(GenEventsTest, EveryWorkflowEventIsAdmissible) {
  std::set<std::string> projects;
  for (auto [depth, fan_in, seed] :
       {std::tuple<uint32_t, uint32_t, uint64_t>{1, 2, 5},
        {4, 3, 3},
        {12, 5, 4},
        {40, 30, 1}}) {
    const std::vector<EventLine> events =
        Parsed(ShapeOptions(depth, fan_in, seed));
    ASSERT_EQ(events.size(), kShapeEvents);
    projects.insert(events.front().event.project);
    for (const EventLine& e : events) {
      absl::Status valid = ValidateEvent(e.event, EventLimits{});
      ASSERT_TRUE(valid.ok()) << "depth " << depth << " fan-in " << fan_in
                              << " line " << e.line << ": " << valid;
      absl::Status lineage = CheckLineage(e.event);
      ASSERT_TRUE(lineage.ok()) << "depth " << depth << " fan-in " << fan_in
                                << " line " << e.line << ": " << lineage;
    }
  }
  EXPECT_EQ(projects.size(), 4u);
}

TEST(GenEventsTest, TheWorkflowOptionsAreDeterministic) {
  const std::string a = Generate(ShapeOptions(7, 4));
  EXPECT_EQ(a, Generate(ShapeOptions(7, 4)));
  EXPECT_NE(a, Generate(ShapeOptions(8, 4)));
  EXPECT_NE(a, Generate(ShapeOptions(7, 5)));
  GenEventsOptions other_seed = ShapeOptions(7, 4);
  other_seed.seed = 6;
  EXPECT_NE(a, Generate(other_seed));
}

// The workflow has every family and shape the provenance queries look
// for, found by a scan of the events that knows only what each shape is.
TEST(GenEventsTest, TheWorkflowHasEveryFamilyAndShape) {
  constexpr uint32_t kDepth = 7;
  constexpr uint32_t kFanIn = 4;
  const std::vector<EventLine> events = Parsed(ShapeOptions(kDepth, kFanIn));
  ASSERT_EQ(events.size(), kShapeEvents);
  const Graph graph(events);

  std::map<std::string, size_t> types;
  std::set<std::string> annotators;
  std::set<std::string> sourced;  // dataset ids registered with a source
  bool model_prelabel = false;
  for (const EventLine& e : events) {
    ++types[e.event.type];
    if (e.event.type.starts_with("annotation.")) {
      annotators.insert(e.event.actor.id);
    }
    if (e.event.type == "prelabel.applied") {
      model_prelabel =
          model_prelabel || e.event.actor.kind == ActorKind::kModel;
    }
    if (e.event.type == "dataset.registered" && !Attr(e, "source").empty()) {
      for (const SubjectRef& r : e.event.subjects) sourced.insert(r.id);
    }
  }
  for (const char* type :
       {"dataset.registered", "item.imported", "data.filtered", "data.cleaned",
        "data.deidentified", "data.aggregated", "dataset.version_created",
        "prelabel.applied", "task.assigned", "annotation.created",
        "annotation.updated", "annotation.submitted", "review.accepted",
        "review.rejected", "review.reopened", "qa.sample_drawn",
        "batch.released", "dataset.exported",
        "data.transferred_cross_border"}) {
    EXPECT_TRUE(types.contains(type)) << type;
  }
  EXPECT_TRUE(model_prelabel);
  EXPECT_GE(annotators.size(), 3u);
  // A registered source per aggregation input beyond the diamond's two,
  // plus the raw dataset.
  EXPECT_EQ(sourced.size(), kFanIn - 1);
  // Realistic proportions: the human annotation work dominates, the
  // pipeline's processing steps are a minority.
  size_t annotation = 0;
  size_t processing = 0;
  for (const auto& [type, n] : types) {
    if (type.starts_with("annotation.") || type.starts_with("review.")) {
      annotation += n;
    }
    if (type.starts_with("data.")) processing += n;
  }
  EXPECT_GT(annotation, kShapeEvents / 2);
  EXPECT_GT(processing, 0u);
  EXPECT_LT(processing, kShapeEvents / 5);

  // Fan-in: an event that reads kFanIn distinct datasets.
  size_t max_fan_in = 0;
  for (const std::vector<Node>& in : graph.inputs) {
    max_fan_in = std::max(max_fan_in, in.size());
  }
  EXPECT_EQ(max_fan_in, kFanIn);

  // A diamond: A -> B, A -> C, B -> D, C -> D with B != C.
  bool diamond = false;
  for (size_t e = 0; e < events.size() && !diamond; ++e) {
    const std::vector<Node>& in = graph.inputs[e];
    for (size_t b = 0; b < in.size() && !diamond; ++b) {
      const std::set<Node> pb = graph.Parents(in[b]);
      for (size_t c = b + 1; c < in.size() && !diamond; ++c) {
        for (const Node& a : graph.Parents(in[c])) {
          if (pb.contains(a)) diamond = true;
        }
      }
    }
  }
  EXPECT_TRUE(diamond);

  // A chain: steps of one input and one output, each reading the previous
  // step's output. chain[n] = length of the chain that ends at n.
  std::map<Node, size_t> chain;
  size_t longest = 0;
  for (size_t e = 0; e < events.size(); ++e) {
    if (graph.inputs[e].size() != 1 || graph.outputs[e].size() != 1) continue;
    auto it = chain.find(graph.inputs[e][0]);
    const size_t length = (it == chain.end() ? 0 : it->second) + 1;
    chain[graph.outputs[e][0]] = length;
    longest = std::max(longest, length);
  }
  EXPECT_GE(longest, kDepth);
  // ... and its length follows --workflow-depth.
  {
    const std::vector<EventLine> shallow = Parsed(ShapeOptions(2, kFanIn));
    const Graph g(shallow);
    std::map<Node, size_t> c;
    size_t max_shallow = 0;
    for (size_t e = 0; e < shallow.size(); ++e) {
      if (g.inputs[e].size() != 1 || g.outputs[e].size() != 1) continue;
      auto it = c.find(g.inputs[e][0]);
      const size_t length = (it == c.end() ? 0 : it->second) + 1;
      c[g.outputs[e][0]] = length;
      max_shallow = std::max(max_shallow, length);
    }
    EXPECT_LT(max_shallow, kDepth);
  }

  // Orphans: dataset ids none of whose versions reaches, upstream, a
  // dataset registered with a source. Fixpoint over the graph, at most one
  // round per event.
  std::set<Node> reaches;
  std::set<Node> datasets;
  for (const EventLine& e : events) {
    for (const auto* refs :
         {&e.event.subjects, &e.event.inputs, &e.event.outputs}) {
      for (const SubjectRef& r : *refs) {
        if (r.kind != SubjectKind::kDataset) continue;
        datasets.insert(NodeOf(r));
        if (sourced.contains(r.id)) reaches.insert(NodeOf(r));
      }
    }
  }
  for (size_t round = 0; round <= events.size(); ++round) {
    bool changed = false;
    for (size_t e = 0; e < events.size(); ++e) {
      bool any = false;
      for (const Node& n : graph.inputs[e]) any = any || reaches.contains(n);
      if (!any) continue;
      for (const Node& n : graph.outputs[e]) {
        changed = reaches.insert(n).second || changed;
      }
    }
    if (!changed) break;
  }
  std::set<std::string> orphan_ids, sourced_ids;
  for (const Node& n : datasets) {
    (reaches.contains(n) ? sourced_ids : orphan_ids).insert(std::get<1>(n));
  }
  for (const std::string& id : sourced_ids) orphan_ids.erase(id);
  EXPECT_FALSE(orphan_ids.empty());
  // The curated versions and what was sent abroad trace back to sources.
  for (const EventLine& e : events) {
    if (e.event.type != "dataset.version_created" &&
        e.event.type != "data.transferred_cross_border") {
      continue;
    }
    for (const SubjectRef& r : e.event.outputs) {
      EXPECT_TRUE(reaches.contains(NodeOf(r))) << r.id << "@" << r.version;
    }
  }

  // Runs: ids, parents, end states; at least one run never ends.
  const std::set<std::string> lineage_types = {"data.aggregated",
                                               "data.cleaned",
                                               "data.deidentified",
                                               "data.filtered",
                                               "data.transferred_cross_border",
                                               "dataset.exported",
                                               "dataset.version_created",
                                               "prelabel.applied"};
  std::set<std::string> runs, ended, parents, end_states;
  for (const EventLine& e : events) {
    const std::string& run = e.event.run_id;
    if (!e.event.parent_run_id.empty()) parents.insert(e.event.parent_run_id);
    if (run.empty()) continue;
    runs.insert(run);
    const std::string state = Attr(e, "run.state");
    if (state == "completed" || state == "failed" || state == "aborted") {
      ended.insert(run);
      end_states.insert(state);
    } else if (state.empty() && lineage_types.contains(e.event.type)) {
      ended.insert(run);
    }
  }
  EXPECT_EQ(end_states,
            (std::set<std::string>{"aborted", "completed", "failed"}));
  EXPECT_LT(ended.size(), runs.size());
  EXPECT_FALSE(parents.empty());
  for (const std::string& parent : parents) {
    EXPECT_TRUE(runs.contains(parent)) << parent;
  }

  // Cross-border transfers: from the event's region to another.
  size_t transfers = 0;
  for (const EventLine& e : events) {
    if (e.event.type != "data.transferred_cross_border") continue;
    const std::string to = Attr(e, "destination_region");
    EXPECT_FALSE(to.empty()) << e.line;
    EXPECT_FALSE(e.event.region.empty()) << e.line;
    EXPECT_NE(to, e.event.region) << e.line;
    if (e.event.outcome.status == OutcomeStatus::kSuccess) {
      EXPECT_FALSE(e.event.outputs.empty()) << e.line;
      ++transfers;
    }
  }
  EXPECT_GT(transfers, 0u);
}

// The violations the generator injects (gen_events_internal.h) occur at
// about their documented rates, found by a scan that knows only what each
// violation looks like in the events. A binomial count's bounds here are
// wide (about four standard deviations): the stream is fixed by its seed,
// so the test fails when a rate or its meaning changes, not by chance.
TEST(GenEventsTest, InjectedViolationsFollowTheirRates) {
  for (uint64_t seed : {3, 4}) {  // retail-shelves, clinical-notes
    SCOPED_TRACE(StrCat("seed ", seed));
    const std::vector<EventLine> events =
        Parsed({.count = 30'000,
                .tenant = "acme",
                .seed = seed,
                .start_seconds = 1'700'000'000});
    ASSERT_EQ(events.size(), 30'000u);
    // Per item: its first assignee, whether its reviews were by its
    // annotators, and whether it was changed while accepted.
    std::map<std::string, std::string> first_assignee;
    std::map<std::string, std::set<std::string>> annotators;
    std::set<std::string> accepted_now, self_reviewed, edited_after;
    std::set<std::string> sampled, measured;
    std::set<std::string> approvals, instruments_cac;
    size_t releases = 0, unsampled = 0, exports = 0, unapproved = 0;
    size_t important_transfers = 0, contract_only = 0;
    for (const EventLine& e : events) {
      const std::string& type = e.event.type;
      const std::string item =
          !e.event.subjects.empty() &&
                  e.event.subjects[0].kind == SubjectKind::kItem
              ? e.event.subjects[0].id
              : "";
      if (type == "task.assigned") {
        first_assignee.try_emplace(item, Attr(e, "assignee"));
      } else if (type.starts_with("annotation.")) {
        annotators[item].insert(e.event.actor.id);
        if (type == "annotation.updated" && accepted_now.contains(item)) {
          edited_after.insert(item);
        }
      } else if (type == "review.accepted") {
        accepted_now.insert(item);
        if (annotators[item].contains(e.event.actor.id)) {
          self_reviewed.insert(item);
        }
      } else if (type == "review.reopened") {
        accepted_now.erase(item);
      } else if (type == "qa.sample_drawn") {
        sampled.insert(Attr(e, "batch.id"));
      } else if (type == "qa.metrics_recorded") {
        measured.insert(Attr(e, "batch.id"));
      } else if (type == "batch.released") {
        ++releases;
        const std::string batch = Attr(e, "batch.id");
        EXPECT_FALSE(batch.empty()) << e.line;
        if (!sampled.contains(batch) || !measured.contains(batch)) ++unsampled;
      } else if (type == "approval.granted") {
        approvals.insert(e.proto.event_id());
      } else if (type == "dataset.exported") {
        ++exports;
        if (!approvals.contains(Attr(e, "approval.ref"))) ++unapproved;
      } else if (type == "export_assessment.filed" &&
                 Attr(e, "assessment.kind") == "cac_security_assessment") {
        instruments_cac.insert(e.proto.event_id());
      } else if (type == "data.transferred_cross_border" &&
                 !instruments_cac.empty()) {
        ++important_transfers;
        if (!instruments_cac.contains(Attr(e, "assessment.ref"))) {
          ++contract_only;
        }
      }
    }
    const size_t items = first_assignee.size();
    ASSERT_GT(items, 3000u);
    size_t untrained = 0;
    for (const auto& [item, who] : first_assignee) {
      if (who == gen_internal::kTempAnnotator) ++untrained;
    }
    // Per mille of items: 15, 10 and 10.
    EXPECT_GE(untrained, items * 15 / 1000 / 2);
    EXPECT_LE(untrained, items * 15 / 1000 * 2);
    EXPECT_GE(self_reviewed.size(), items * 10 / 1000 / 2);
    EXPECT_LE(self_reviewed.size(), items * 10 / 1000 * 2);
    EXPECT_GE(edited_after.size(), items * 10 / 1000 / 2);
    EXPECT_LE(edited_after.size(), items * 10 / 1000 * 2);
    // 8% of batches after the first; 5% of exports after the pilot's,
    // which has no approval.
    ASSERT_GT(releases, 150u);
    EXPECT_GE(unsampled, 3u);
    EXPECT_LE(unsampled, releases * 8 / 100 * 2);
    ASSERT_GT(exports, 30u);
    EXPECT_GE(unapproved, 1u);
    EXPECT_LE(unapproved, 1 + exports * 5 / 100 * 3);
    // 10% of transfers of important data (clinical-notes) name only the
    // standard contract; other projects file no CAC assessment.
    if (seed == 4) {
      ASSERT_GT(important_transfers, 10u);
      EXPECT_GE(contract_only, 1u);
      EXPECT_LE(contract_only, important_transfers * 10 / 100 * 3);
    } else {
      EXPECT_EQ(important_transfers, 0u);
    }
  }
}

// Counts the bytes and lines written to it, keeping none.
class CountingBuffer : public std::streambuf {
 public:
  uint64_t bytes = 0;
  uint64_t lines = 0;

 protected:
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) Count(static_cast<char>(c));
    return traits_type::not_eof(c);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    for (std::streamsize i = 0; i < n; ++i) Count(s[i]);
    return n;
  }

 private:
  void Count(char c) {
    ++bytes;
    if (c == '\n') ++lines;
  }
};

// A large run streams through (the generator keeps at most one release's
// events pending, whatever the count); no timing is asserted.
TEST(GenEventsTest, ALargeRunStreams) {
  constexpr uint64_t kCount = 50'000;
  CountingBuffer counter;
  std::ostream out(&counter);
  ASSERT_TRUE(GenerateEvents({.count = kCount,
                              .tenant = "acme",
                              .seed = 9,
                              .start_seconds = 1'600'000'000,
                              .workflow_depth = 20,
                              .fan_in = 6},
                             out)
                  .ok());
  EXPECT_EQ(counter.lines, kCount);
  EXPECT_GT(counter.bytes, kCount * 200);
}

}  // namespace
}  // namespace ledger::ctl
