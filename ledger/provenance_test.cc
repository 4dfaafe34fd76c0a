// Provenance queries against a plain in-memory model: a seeded annotation
// workflow (sources, imports, processing chains, a diamond, a cycle, a long
// chain, pre-labels, annotators, reviews, releases, exports, cross-border
// transfers, runs with and without an end) is appended to a real ledger for
// two tenants with equal ids, and every query is compared with the answer
// the test computes from the same Event objects by scanning them.

#include "ledger/provenance.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "ledger/ledger_testing.h"

namespace ledger {
namespace {

using ::ledger::format_testing::kNewYear2026Ns;
using ::testing::HasSubstr;

constexpr char kOther[] = "beta-corp";  // the second tenant, same ids
constexpr int64_t kStepNs = int64_t{2} * 86'400 * 1'000'000'000;  // 2 days

// ---- the model: every entry as the test appended it ----

struct ModelEntry {
  uint64_t index = 0;
  int64_t received_at_ns = 0;
  Event event;
};

bool RefIs(const SubjectRef& r, SubjectKind kind, std::string_view id) {
  return r.kind == kind && r.id == id;
}

bool Mentions(const Event& e, LinkKind kind, std::string_view id) {
  if (kind == LinkKind::kActor) return e.actor.id == id;
  const auto sk = static_cast<SubjectKind>(kind);
  for (const auto* refs : {&e.subjects, &e.inputs, &e.outputs}) {
    for (const SubjectRef& r : *refs) {
      if (RefIs(r, sk, id)) return true;
    }
  }
  return false;
}

bool NodeIn(const std::vector<SubjectRef>& refs, const LineageNode& n) {
  for (const SubjectRef& r : refs) {
    if (r.kind == n.kind && r.id == n.id && r.version == n.version) {
      return true;
    }
  }
  return false;
}

// The label and quality families, written out again (not the production
// list).
bool ModelLabelType(const std::string& t) {
  static const std::set<std::string> kTypes = {
      "annotation.created",   "annotation.updated", "annotation.deleted",
      "annotation.submitted", "annotation.skipped", "prelabel.applied",
      "ground_truth.set",     "review.accepted",    "review.rejected",
      "review.reopened",      "qa.sample_drawn",    "batch.released",
      "task.assigned"};
  return kTypes.count(t) > 0;
}

struct ModelGraph {
  std::map<LineageNode, uint32_t> depth;
  std::set<std::tuple<uint64_t, LineageNode, LineageNode, std::string>> edges;
  std::set<std::string> runs;
  size_t entries_read = 0;
};

class Model {
 public:
  void Add(uint64_t index, int64_t received, Event e) {
    entries_.push_back({index, received, std::move(e)});
  }
  const std::vector<ModelEntry>& entries() const { return entries_; }

  std::vector<const ModelEntry*> About(std::string_view tenant, LinkKind kind,
                                       std::string_view id, uint64_t as_of,
                                       int64_t t0 = INT64_MIN,
                                       int64_t t1 = INT64_MAX) const {
    std::vector<const ModelEntry*> out;
    for (const ModelEntry& m : entries_) {
      if (m.index < as_of && m.event.tenant == tenant &&
          Mentions(m.event, kind, id) && m.received_at_ns >= t0 &&
          m.received_at_ns < t1) {
        out.push_back(&m);
      }
    }
    return out;
  }

  bool Known(std::string_view tenant, const LineageNode& n,
             uint64_t as_of) const {
    for (const ModelEntry& m : entries_) {
      if (m.index >= as_of || m.event.tenant != tenant) continue;
      if (NodeIn(m.event.inputs, n) || NodeIn(m.event.outputs, n)) return true;
      if (!n.version.empty() && NodeIn(m.event.subjects, n)) return true;
    }
    return false;
  }

  ModelGraph Walk(bool up, std::string_view tenant, const LineageNode& start,
                  uint32_t depth, uint64_t as_of) const {
    ModelGraph g;
    if (!Known(tenant, start, as_of)) return g;
    g.depth[start] = 0;
    std::vector<LineageNode> frontier = {start};
    for (uint32_t d = 0; d < depth; ++d) {
      std::vector<LineageNode> next;
      for (const LineageNode& n : frontier) {
        for (const ModelEntry& m : entries_) {
          if (m.index >= as_of || m.event.tenant != tenant) continue;
          if (!NodeIn(up ? m.event.outputs : m.event.inputs, n)) continue;
          ++g.entries_read;
          for (const SubjectRef& r : up ? m.event.inputs : m.event.outputs) {
            LineageNode o{r.kind, r.id, r.version};
            g.edges.insert(up ? std::make_tuple(m.index, o, n, m.event.type)
                              : std::make_tuple(m.index, n, o, m.event.type));
            if (!m.event.run_id.empty()) g.runs.insert(m.event.run_id);
            if (g.depth.try_emplace(o, d + 1).second) next.push_back(o);
          }
        }
      }
      frontier = std::move(next);
    }
    return g;
  }

  // Datasets with no registered source upstream, by id; runs with no end.
  std::pair<std::vector<OrphanDataset>, std::vector<OrphanRun>> Orphans(
      std::string_view tenant, uint64_t as_of) const {
    std::set<std::pair<SubjectKind, std::string>> reached;
    std::map<std::string, uint64_t> datasets;  // id -> first index
    std::map<std::string, OrphanRun> runs;
    std::set<std::string> ended;
    for (const ModelEntry& m : entries_) {
      const Event& e = m.event;
      if (m.index >= as_of || e.tenant != tenant) continue;
      for (const auto* refs : {&e.subjects, &e.inputs, &e.outputs}) {
        for (const SubjectRef& r : *refs) {
          if (r.kind == SubjectKind::kDataset)
            datasets.try_emplace(r.id, m.index);
        }
      }
      bool has_source = false;
      for (const auto& [k, v] : e.attributes) {
        if (k == "source" && !v.empty()) has_source = true;
      }
      if (e.type == "dataset.registered" && has_source) {
        for (const auto* refs : {&e.subjects, &e.outputs}) {
          for (const SubjectRef& r : *refs) {
            if (r.kind == SubjectKind::kDataset) reached.emplace(r.kind, r.id);
          }
        }
      }
      if (!e.run_id.empty()) {
        auto [it, added] = runs.try_emplace(e.run_id);
        if (added) it->second = OrphanRun{e.run_id, m.index, m.index, 0};
        it->second.last_index = m.index;
        ++it->second.entry_count;
        const std::string* state = nullptr;
        for (const auto& [k, v] : e.attributes) {
          if (k == "run.state") state = &v;
        }
        static const std::set<std::string> kEnd = {"completed", "failed",
                                                   "aborted"};
        static const std::set<std::string> kLineage = {
            "data.aggregated",
            "data.cleaned",
            "data.deidentified",
            "data.filtered",
            "data.transferred_cross_border",
            "dataset.exported",
            "dataset.version_created",
            "prelabel.applied"};
        if (state != nullptr ? kEnd.count(*state) > 0
                             : kLineage.count(e.type) > 0) {
          ended.insert(e.run_id);
        }
      }
    }
    // Fixed point: whatever an entry derives from a reached subject.
    for (bool changed = true; changed;) {
      changed = false;
      for (const ModelEntry& m : entries_) {
        if (m.index >= as_of || m.event.tenant != tenant) continue;
        bool reads = false;
        for (const SubjectRef& r : m.event.inputs) {
          if (reached.count({r.kind, r.id}) > 0) reads = true;
        }
        if (!reads) continue;
        for (const SubjectRef& r : m.event.outputs) {
          if (reached.emplace(r.kind, r.id).second) changed = true;
        }
      }
    }
    std::pair<std::vector<OrphanDataset>, std::vector<OrphanRun>> out;
    for (const auto& [id, first] : datasets) {
      if (reached.count({SubjectKind::kDataset, id}) == 0) {
        out.first.push_back({id, first});
      }
    }
    for (const auto& [id, run] : runs) {
      if (ended.count(id) == 0) out.second.push_back(run);
    }
    return out;
  }

 private:
  std::vector<ModelEntry> entries_;
};

// ---- the workflow generator ----

SubjectRef V(SubjectKind kind, std::string id, std::string version = "") {
  SubjectRef r;
  r.kind = kind;
  r.id = std::move(id);
  r.version = std::move(version);
  return r;
}
SubjectRef Ds(std::string id, std::string v = "v1") {
  return V(SubjectKind::kDataset, std::move(id), std::move(v));
}

class Workflow {
 public:
  Workflow(std::string tenant, uint64_t seed, int* next_id)
      : tenant_(std::move(tenant)), rng_(seed), next_id_(next_id) {}

  // Steps of events, each appended as one batch.
  std::vector<std::vector<Event>> Build() {
    const std::vector<Actor> annotators = {
        {ActorKind::kHuman, "user:ann-1", "annotator"},
        {ActorKind::kHuman, "user:ann-2", "annotator"},
        {ActorKind::kHuman, "user:ann-3", "annotator"},
        {ActorKind::kHuman, "user:ann-4", "annotator"}};
    const std::vector<Actor> reviewers = {
        {ActorKind::kHuman, "user:rev-1", "reviewer"},
        {ActorKind::kHuman, "user:rev-2", "reviewer"}};
    const Actor pipeline{ActorKind::kService, "svc:pipeline", "etl"};
    const Actor scheduler{ActorKind::kService, "svc:scheduler", "scheduler"};
    const Actor officer{ActorKind::kHuman, "user:dpo", "officer"};

    // Sources: three with a source, one registered without, one never.
    for (int k = 0; k < 4; ++k) {
      Event e = Make("dataset.registered", officer);
      e.subjects = {Ds(Raw(k))};
      e.attributes = {{"collection", "web"}};
      if (k != 3) e.attributes.push_back({"source", StrCat("vendor-", k)});
      Step({e});
    }
    // Processing chains: raw -> filtered -> cleaned -> deidentified, each
    // in a run; run-clean-2 never ends (its last event says "running").
    for (int k = 0; k < 4; ++k) {
      Event f = Process("data.filtered", pipeline, {Ds(Raw(k))},
                        {Ds(StrCat("filt-", k))});
      f.run_id = StrCat("run-filter-", k);
      f.parent_run_id = "pipeline-1";
      if (k % 2 == 0) f.attributes = {{"run.state", "completed"}};
      Step({f});
      Event start = Make("dataset.queried", pipeline);
      start.subjects = {Ds(StrCat("filt-", k))};
      start.run_id = StrCat("run-clean-", k);
      start.attributes = {{"run.state", "started"}};
      Event c = Process("data.cleaned", pipeline, {Ds(StrCat("filt-", k))},
                        {Ds(StrCat("clean-", k))});
      c.run_id = StrCat("run-clean-", k);
      c.attributes = {{"run.state", k == 2 ? "running" : "completed"}};
      Step({start, c});
      Event d = Process("data.deidentified", pipeline,
                        {Ds(StrCat("clean-", k))}, {Ds(StrCat("deid-", k))});
      d.attributes = {{"method", "k-anonymity"}};
      Step({d});
    }
    // A dataset nobody registered, and what is derived from it.
    Step({Process("data.filtered", pipeline, {Ds("mystery")},
                  {Ds("mystery-f")})});
    Step({Process("data.cleaned", pipeline, {Ds("mystery-f")},
                  {Ds("mystery-c")})});
    {
      // A source named by something else than a registration does not
      // count.
      Event hearsay = Make("dataset.queried", officer);
      hearsay.subjects = {Ds("mystery")};
      hearsay.attributes = {{"source", "hearsay"}};
      Step({hearsay});
    }
    // Runs: one with no lineage and no state (no end), one failed.
    for (int i = 0; i < 2; ++i) {
      Event v = Make("dataset.queried", pipeline);
      v.subjects = {Ds("deid-1")};
      v.run_id = "run-stuck";
      Step({v});
    }
    {
      Event v = Make("dataset.queried", pipeline);
      v.subjects = {Ds("deid-0")};
      v.run_id = "run-failed";
      v.attributes = {{"run.state", "failed"}};
      v.outcome = {OutcomeStatus::kFailure, "timeout"};
      Step({v});
    }
    // A diamond: agg -> a, agg -> b, {a, b} -> final.
    Step({Process("data.aggregated", pipeline, {Ds("clean-0"), Ds("clean-1")},
                  {Ds("agg")})});
    Step({Process("data.filtered", pipeline, {Ds("agg")}, {Ds("agg-a")})});
    Step({Process("data.cleaned", pipeline, {Ds("agg")}, {Ds("agg-b")})});
    Step({Process("data.aggregated", pipeline, {Ds("agg-a"), Ds("agg-b")},
                  {Ds("agg-final"), Ds("agg-final-sample")})});
    // A cycle: deid-0 -> x -> y -> x.
    Step({Process("data.filtered", pipeline, {Ds("deid-0")}, {Ds("cyc-x")})});
    Step({Process("data.cleaned", pipeline, {Ds("cyc-x")}, {Ds("cyc-y")})});
    Step({Process("data.filtered", pipeline, {Ds("cyc-y")}, {Ds("cyc-x")})});
    // A long chain of versions: raw-1 -> chain v0 -> v1 -> ... -> v24.
    Step({Process("data.filtered", pipeline, {Ds(Raw(1))},
                  {Ds("chain", "v0")})});
    for (int j = 0; j < 24; ++j) {
      Event e = Process("dataset.version_created", pipeline,
                        {Ds("chain", StrCat("v", j))},
                        {Ds("chain", StrCat("v", j + 1))});
      e.run_id = StrCat("run-chain-", j % 3);
      Step({e});
    }
    // Items: imported from a source, pre-labelled, assigned, annotated,
    // reviewed; viewed now and then.
    const int items = 10;
    for (int i = 0; i < items; ++i) {
      Event imp = Make("item.imported", pipeline);
      imp.subjects = {V(SubjectKind::kItem, Item(i))};
      imp.inputs = {Ds(Raw(i % 4))};
      imp.outputs = {V(SubjectKind::kItem, Item(i))};
      Step({imp});
    }
    for (int i = 0; i < items; ++i) {
      const std::string ann = StrCat("ann-", i);
      Event pre = Make(
          "prelabel.applied",
          i % 2 == 0
              ? Actor{ActorKind::kModel, "model:yolo-v8", "prelabeler"}
              : Actor{ActorKind::kService, "svc:prelabeler", "prelabeler"});
      if (i % 2 == 1) pre.attributes = {{"model", "sam-2"}};
      pre.subjects = {V(SubjectKind::kItem, Item(i)),
                      V(SubjectKind::kAnnotation, ann, "r0")};
      pre.inputs = {V(SubjectKind::kItem, Item(i))};
      pre.outputs = {V(SubjectKind::kAnnotation, ann, "r0")};
      pre.run_id = "run-prelabel";
      Step({pre});
      Event task = Make("task.assigned", scheduler);
      task.subjects = {V(SubjectKind::kItem, Item(i))};
      const Actor& who = annotators[Pick(annotators.size())];
      task.attributes = {{"assignee", who.id}};
      Step({task});
      const int rounds = 1 + static_cast<int>(Pick(3));
      for (int r = 1; r <= rounds; ++r) {
        const Actor& a = annotators[Pick(annotators.size())];
        Event up =
            Make(r == 1 ? "annotation.created" : "annotation.updated", a);
        up.subjects = {V(SubjectKind::kItem, Item(i)),
                       V(SubjectKind::kAnnotation, ann, StrCat("r", r))};
        static const char* kLabels[] = {"car", "bus", "person"};
        up.attributes = {{"label", kLabels[Pick(3)]}};
        Event sub = Make("annotation.submitted", a);
        sub.subjects = up.subjects;
        Step({up, sub});
        static const char* kReviews[] = {"review.accepted", "review.rejected",
                                         "review.reopened"};
        Event rev = Make(kReviews[Pick(3)], reviewers[Pick(2)]);
        // Some reviews name only the annotation: not the item's entries.
        if (Pick(5) == 0) {
          rev.subjects = {V(SubjectKind::kAnnotation, ann, StrCat("r", r))};
        } else {
          rev.subjects = up.subjects;
        }
        Step({rev});
        if (Pick(3) == 0) {
          Event view = Make("item.viewed", annotators[Pick(annotators.size())]);
          view.subjects = {V(SubjectKind::kItem, Item(i))};
          Step({view});
        }
      }
    }
    {
      Event qa = Make("qa.sample_drawn", reviewers[0]);
      for (int i = 0; i < items; i += 3) {
        qa.subjects.push_back(V(SubjectKind::kItem, Item(i)));
      }
      qa.attributes = {{"plan", "5%"}, {"seed", "42"}};
      Step({qa});
      Event gt = Make("ground_truth.set", reviewers[1]);
      gt.subjects = {V(SubjectKind::kItem, Item(1)),
                     V(SubjectKind::kAnnotation, "ann-1", "r1")};
      gt.attributes = {{"label", "car"}};
      Step({gt});
    }
    // Releases, exports and cross-border transfers (spread over the years
    // by the steps after them).
    for (int k = 0; k < 4; ++k) {
      Event rel = Make("batch.released", officer);
      rel.subjects = {Ds(StrCat("deid-", k)), V(SubjectKind::kItem, Item(k)),
                      V(SubjectKind::kItem, Item(k + 4))};
      Step({rel});
      Event exp = Process("dataset.exported", officer, {Ds(StrCat("deid-", k))},
                          {Ds(StrCat("export-", k))});
      Step({exp});
    }
    for (int round = 0; round < 3; ++round) {
      for (int k = 0; k < 4; ++k) {
        Event t = Process("data.transferred_cross_border", officer,
                          {Ds(StrCat("export-", k))},
                          {Ds(StrCat("remote-", k), StrCat("r", round))});
        t.region = "eu-west-1";
        t.purpose = "model-training";
        t.attributes = {{"destination", "EU"}, {"legal_instrument", "SCC"}};
        Step({t});
        // Time passes: views of the exports.
        for (int v = 0; v < 8; ++v) {
          Event view = Make("dataset.queried", annotators[Pick(4)]);
          view.subjects = {Ds(StrCat("export-", k))};
          Step({view});
        }
      }
    }
    return std::move(steps_);
  }

 private:
  static std::string Raw(int k) { return StrCat("raw-", k); }
  static std::string Item(int i) { return StrCat("item-", i); }
  size_t Pick(size_t n) { return static_cast<size_t>(rng_() % n); }

  Event Make(std::string type, Actor actor) {
    Event e;
    char id[40];
    std::snprintf(id, sizeof(id), "00000000-0000-4000-9000-%012d",
                  (*next_id_)++);
    e.event_id = format_testing::UuidOf(id);
    e.type = std::move(type);
    e.occurred_at_ns = kNewYear2026Ns;
    e.producer = "label-studio/1.13.1";
    e.tenant = tenant_;
    e.project = "street-scenes";
    e.actor = std::move(actor);
    return e;
  }
  Event Process(std::string type, Actor actor, std::vector<SubjectRef> in,
                std::vector<SubjectRef> out) {
    Event e = Make(std::move(type), std::move(actor));
    e.inputs = std::move(in);
    e.outputs = std::move(out);
    return e;
  }
  void Step(std::vector<Event> events) { steps_.push_back(std::move(events)); }

  std::string tenant_;
  std::mt19937_64 rng_;
  int* next_id_;
  std::vector<std::vector<Event>> steps_;
};

// ---- the fixture ----

class ProvenanceTest : public testing::LedgerFixture {
 protected:
  void SetUp() override {
    testing::LedgerFixture::SetUp();
    if (HasFatalFailure()) return;
    // Entries 0 and 1 (genesis, the emitter key) as stored.
    for (uint64_t i = 0; i < ledger_->head().size; ++i) {
      absl::StatusOr<std::string> bytes = ledger_->GetEntry(i);
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      absl::StatusOr<Entry> entry = DecodeEntry(*bytes);
      ASSERT_TRUE(entry.ok()) << entry.status();
      absl::StatusOr<Event> event = DecodeEvent(entry->event_bytes);
      ASSERT_TRUE(event.ok()) << event.status();
      model_.Add(i, entry->received_at_ns, *event);
    }
    Workflow mine(testing::kTenant, 12, &next_id_);
    Workflow theirs(kOther, 34, &next_id_);
    pending_mine_ = mine.Build();
    pending_theirs_ = theirs.Build();
  }

  // Appends the next `steps` steps of each tenant, interleaved, each at its
  // own time (kStepNs apart).
  void AppendSteps(size_t steps) {
    for (size_t s = 0; s < steps; ++s) {
      for (auto* pending : {&pending_mine_, &pending_theirs_}) {
        if (pending->empty()) continue;
        std::vector<Event> events = std::move(pending->front());
        pending->erase(pending->begin());
        const bool mine = events[0].tenant == testing::kTenant;
        AppendResult r =
            AppendOne(Batch(events, mine ? emitter_key_ : node_key_), now_);
        ASSERT_TRUE(r.status.ok()) << r.status;
        ASSERT_EQ(r.entries.size(), events.size());
        for (size_t i = 0; i < events.size(); ++i) {
          ASSERT_FALSE(r.entries[i].duplicate);
          model_.Add(r.entries[i].index, r.entries[i].received_at_ns,
                     std::move(events[i]));
        }
        now_ += kStepNs;
      }
    }
  }
  void AppendAll() { AppendSteps(1'000'000); }
  uint64_t Size() const { return ledger_->head().size; }

  // Every subject of a tenant's entries (actors included), sorted.
  std::set<std::pair<LinkKind, std::string>> Subjects(
      std::string_view tenant) const {
    std::set<std::pair<LinkKind, std::string>> out;
    for (const ModelEntry& m : model_.entries()) {
      if (m.event.tenant != tenant) continue;
      out.emplace(LinkKind::kActor, m.event.actor.id);
      for (const auto* refs :
           {&m.event.subjects, &m.event.inputs, &m.event.outputs}) {
        for (const SubjectRef& r : *refs) {
          out.emplace(static_cast<LinkKind>(r.kind), r.id);
        }
      }
    }
    return out;
  }
  std::set<LineageNode> Nodes(std::string_view tenant) const {
    std::set<LineageNode> out;
    for (const ModelEntry& m : model_.entries()) {
      if (m.event.tenant != tenant) continue;
      for (const auto* refs :
           {&m.event.subjects, &m.event.inputs, &m.event.outputs}) {
        for (const SubjectRef& r : *refs) {
          out.insert(LineageNode{r.kind, r.id, r.version});
        }
      }
    }
    return out;
  }

  int next_id_ = 1000;
  int64_t now_ = kNewYear2026Ns;
  Model model_;
  std::vector<std::vector<Event>> pending_mine_;
  std::vector<std::vector<Event>> pending_theirs_;
};

// ---- comparisons ----

// Rows of History (StoredEntry) or of the other list queries (EntryRow,
// whose decoded event is compared too).
template <typename Row>
void ExpectRows(const std::vector<Row>& got,
                const std::vector<const ModelEntry*>& want,
                const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].index, want[i]->index) << what << " row " << i;
    EXPECT_EQ(got[i].received_at_ns, want[i]->received_at_ns) << what;
    absl::StatusOr<Entry> entry = DecodeEntry(got[i].bytes);
    ASSERT_TRUE(entry.ok()) << what << " row " << i << ": " << entry.status();
    EXPECT_EQ(entry->index, want[i]->index) << what;
    EXPECT_EQ(entry->received_at_ns, want[i]->received_at_ns) << what;
    EXPECT_EQ(entry->event_bytes, EncodeEvent(want[i]->event)) << what;
    if constexpr (std::is_same_v<Row, EntryRow>) {
      EXPECT_EQ(got[i].event, want[i]->event) << what << " row " << i;
    }
  }
}

// Walks every page of a list query (at most `max_pages`) and returns the
// concatenated rows; checks that every page has the same as_of.
template <typename Answer, typename Rows, typename Query>
Rows WalkPages(Query query, size_t page_size, uint64_t* as_of,
               size_t max_pages = 10'000) {
  Rows all;
  PageRequest page;
  page.page_size = page_size;
  for (size_t n = 0; n < max_pages; ++n) {
    absl::StatusOr<Answer> a = query(page);
    EXPECT_TRUE(a.ok()) << a.status();
    if (!a.ok()) return all;
    if (n == 0) *as_of = a->as_of;
    EXPECT_EQ(a->as_of, *as_of);
    const Rows& rows = [&]() -> const Rows& {
      if constexpr (std::is_same_v<Answer, LabelHistoryAnswer>) {
        return a->rows;
      } else if constexpr (std::is_same_v<Answer, CrossBorderAnswer>) {
        return a->transfers;
      } else {
        return a->entries;
      }
    }();
    EXPECT_LE(rows.size(), page_size);
    all.insert(all.end(), rows.begin(), rows.end());
    if (a->next_page_token.empty()) return all;
    page.page_token = a->next_page_token;
  }
  ADD_FAILURE() << "more than " << max_pages << " pages";
  return all;
}

TEST_F(ProvenanceTest, HistoryOfEverySubjectMatchesTheModelWholeAndPaged) {
  AppendAll();
  Provenance p(*ledger_);
  for (const std::string& tenant :
       {std::string(testing::kTenant), std::string(kOther)}) {
    for (const auto& subject : Subjects(tenant)) {
      const LinkKind kind = subject.first;
      const std::string& id = subject.second;
      const std::string what = StrCat(tenant, " ", LinkKindName(kind), " ", id);
      const auto want = model_.About(tenant, kind, id, Size());
      ASSERT_FALSE(want.empty()) << what;
      PageRequest all;
      all.page_size = kMaxPageSize;
      absl::StatusOr<HistoryAnswer> a = p.History(tenant, kind, id, all);
      ASSERT_TRUE(a.ok()) << a.status();
      EXPECT_EQ(a->as_of, Size());
      ASSERT_LE(want.size(), kMaxPageSize);
      EXPECT_TRUE(a->next_page_token.empty()) << what;
      ExpectRows(a->entries, want, what);
      uint64_t as_of = 0;
      const std::vector<StoredEntry> paged =
          WalkPages<HistoryAnswer, std::vector<StoredEntry>>(
              [&](const PageRequest& page) {
                return p.History(tenant, kind, id, page);
              },
              3, &as_of);
      ExpectRows(paged, want, what + " paged");
    }
  }
}

TEST_F(ProvenanceTest, LabelHistoryOfEveryItemMatchesTheModel) {
  AppendAll();
  Provenance p(*ledger_);
  int with_reviews = 0;
  int with_models = 0;
  for (const auto& subject : Subjects(testing::kTenant)) {
    const LinkKind kind = subject.first;
    const std::string& id = subject.second;
    if (kind != LinkKind::kItem) continue;
    std::vector<LabelRow> want;
    for (const ModelEntry* m :
         model_.About(testing::kTenant, kind, id, Size())) {
      const Event& e = m->event;
      if (!ModelLabelType(e.type)) continue;
      LabelRow row;
      row.index = m->index;
      row.received_at_ns = m->received_at_ns;
      row.occurred_at_ns = e.occurred_at_ns;
      row.type = e.type;
      row.actor = e.actor;
      for (const SubjectRef& s : e.subjects) {
        if (s.kind == SubjectKind::kAnnotation)
          row.annotation_ids.push_back(s.id);
      }
      if (e.type == "review.accepted") row.review = ReviewOutcome::kAccepted;
      if (e.type == "review.rejected") row.review = ReviewOutcome::kRejected;
      if (e.type == "review.reopened") row.review = ReviewOutcome::kReopened;
      with_reviews += row.review != ReviewOutcome::kNone;
      if (e.type == "prelabel.applied") {
        for (const auto& [k, v] : e.attributes) {
          if (k == "model") row.prelabel_model = v;
        }
        if (e.actor.kind == ActorKind::kModel) row.prelabel_model = e.actor.id;
        with_models += !row.prelabel_model.empty();
      }
      for (const auto& [k, v] : e.attributes) {
        if (k == "label") row.label = v;
      }
      want.push_back(std::move(row));
    }
    ASSERT_FALSE(want.empty()) << id;
    PageRequest all;
    absl::StatusOr<LabelHistoryAnswer> a =
        p.LabelHistory(testing::kTenant, id, all);
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(a->rows, want) << id;
    uint64_t as_of = 0;
    EXPECT_EQ((WalkPages<LabelHistoryAnswer, std::vector<LabelRow>>(
                  [&](const PageRequest& page) {
                    return p.LabelHistory(testing::kTenant, id, page);
                  },
                  2, &as_of)),
              want)
        << id;
  }
  EXPECT_GT(with_reviews, 5);
  EXPECT_EQ(with_models, 10);  // one pre-label per item, model named
}

TEST_F(ProvenanceTest, WhoTouchedAndActorActivityMatchTheModelInWindows) {
  AppendAll();
  Provenance p(*ledger_);
  const int64_t end = now_ + kStepNs;
  // Windows: everything, nothing, a few slices that cut through steps.
  std::vector<TimeWindow> windows = {
      {0, end}, {end, end}, {kNewYear2026Ns, kNewYear2026Ns + 1}};
  for (int64_t a = kNewYear2026Ns; a < end; a += 97 * kStepNs) {
    windows.push_back({a + 5, a + 41 * kStepNs});
  }
  for (const auto& subject : Subjects(testing::kTenant)) {
    const LinkKind kind = subject.first;
    const std::string& id = subject.second;
    for (const TimeWindow& w : windows) {
      const std::string what = StrCat(LinkKindName(kind), " ", id, " [",
                                      w.t0_ns, ", ", w.t1_ns, ")");
      const auto want =
          model_.About(testing::kTenant, kind, id, Size(), w.t0_ns, w.t1_ns);
      uint64_t as_of = 0;
      auto query = [&](const PageRequest& page) {
        return kind == LinkKind::kActor
                   ? p.ActorActivity(testing::kTenant, id, w, page)
                   : p.WhoTouched(testing::kTenant, kind, id, w, page);
      };
      ExpectRows(
          WalkPages<TouchAnswer, std::vector<EntryRow>>(query, 4, &as_of), want,
          what);
      // The summary of one whole page: per actor, count and actions.
      PageRequest big;
      big.page_size = kMaxPageSize;
      absl::StatusOr<TouchAnswer> one = query(big);
      ASSERT_TRUE(one.ok()) << one.status();
      std::map<std::string, std::pair<uint64_t, std::set<std::string>>> sum;
      for (const ModelEntry* m : want) {
        ++sum[m->event.actor.id].first;
        sum[m->event.actor.id].second.insert(m->event.type);
      }
      ASSERT_EQ(one->actors.size(), sum.size()) << what;
      for (const ActorSummary& s : one->actors) {
        EXPECT_EQ(s.count, sum[s.actor.id].first) << what;
        EXPECT_EQ(std::set<std::string>(s.actions.begin(), s.actions.end()),
                  sum[s.actor.id].second)
            << what;
      }
    }
  }
}

LineageAnswer ExpectedLineage(const ModelGraph& g, uint64_t as_of) {
  LineageAnswer a;
  a.as_of = as_of;
  std::map<LineageNode, LineageNodeRow> rows;
  for (const auto& [n, d] : g.depth) rows[n] = LineageNodeRow{n, d, 0, 0};
  std::vector<LineageEdge> edges;
  for (const auto& [index, from, to, type] : g.edges) {
    ++rows[from].out_degree;
    ++rows[to].in_degree;
    edges.push_back({from, to, type, index});
  }
  for (const auto& [n, row] : rows) a.nodes.push_back(row);
  std::stable_sort(
      a.nodes.begin(), a.nodes.end(),
      [](const auto& x, const auto& y) { return x.depth < y.depth; });
  a.edges = edges;
  a.run_ids.assign(g.runs.begin(), g.runs.end());
  return a;
}

void ExpectLineage(const absl::StatusOr<LineageAnswer>& got,
                   const LineageAnswer& want, const std::string& what) {
  ASSERT_TRUE(got.ok()) << what << ": " << got.status();
  EXPECT_EQ(got->as_of, want.as_of) << what;
  EXPECT_EQ(got->nodes, want.nodes) << what;
  EXPECT_EQ(got->edges, want.edges) << what;
  EXPECT_EQ(got->run_ids, want.run_ids) << what;
}

TEST_F(ProvenanceTest, UpstreamAndDownstreamOfEveryNodeMatchTheModel) {
  AppendAll();
  Provenance p(*ledger_);
  size_t nonempty = 0;
  bool saw_cycle = false;
  for (const std::string& tenant :
       {std::string(testing::kTenant), std::string(kOther)}) {
    for (const LineageNode& n : Nodes(tenant)) {
      for (uint32_t depth : {0u, 1u, 2u, 5u, 16u}) {
        for (bool up : {true, false}) {
          const std::string what =
              StrCat(tenant, up ? " upstream " : " downstream ",
                     static_cast<int>(n.kind), " ", n.id, " ", n.version,
                     " depth ", depth);
          const ModelGraph g = model_.Walk(up, tenant, n, depth, Size());
          nonempty += !g.edges.empty();
          for (const auto& [i, from, to, type] : g.edges) {
            if (from.id == "cyc-y" && to.id == "cyc-x") saw_cycle = true;
          }
          ExpectLineage(up ? p.Upstream(tenant, n, depth, std::nullopt)
                           : p.Downstream(tenant, n, depth, std::nullopt),
                        ExpectedLineage(g, Size()), what);
        }
      }
    }
  }
  EXPECT_GT(nonempty, 100u);
  EXPECT_TRUE(saw_cycle);
}

TEST_F(ProvenanceTest, TheDiamondAndTheCycleAreWalkedOnce) {
  AppendAll();
  Provenance p(*ledger_);
  const LineageNode final_node{SubjectKind::kDataset, "agg-final", "v1"};
  absl::StatusOr<LineageAnswer> up =
      p.Upstream(testing::kTenant, final_node, 2, std::nullopt);
  ASSERT_TRUE(up.ok()) << up.status();
  // agg-final <- agg-a, agg-b <- agg (both): four edges, four nodes.
  ASSERT_EQ(up->nodes.size(), 4u);
  EXPECT_EQ(up->edges.size(), 4u);
  EXPECT_EQ(up->nodes.back().node.id, "agg");
  EXPECT_EQ(up->nodes.back().depth, 2u);
  EXPECT_EQ(up->nodes.back().out_degree, 2u);
  EXPECT_EQ(up->nodes.front().node, final_node);
  EXPECT_EQ(up->nodes.front().in_degree, 2u);

  const LineageNode x{SubjectKind::kDataset, "cyc-x", "v1"};
  absl::StatusOr<LineageAnswer> down =
      p.Downstream(testing::kTenant, x, 16, std::nullopt);
  ASSERT_TRUE(down.ok()) << down.status();
  // x -> y -> x: two nodes, two edges, then the walk stops.
  ASSERT_EQ(down->nodes.size(), 2u);
  EXPECT_EQ(down->edges.size(), 2u);
}

TEST_F(ProvenanceTest, DepthAndSizeBoundsAreEnforced) {
  AppendAll();
  const LineageNode tip{SubjectKind::kDataset, "chain", "v24"};
  Provenance p(*ledger_);
  absl::StatusOr<LineageAnswer> deep =
      p.Upstream(testing::kTenant, tip, 17, std::nullopt);
  EXPECT_EQ(deep.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(deep.status().message(), HasSubstr("17"));
  EXPECT_THAT(deep.status().message(), HasSubstr("16"));
  // 16 hops up the chain: v24 .. v8, 17 nodes.
  absl::StatusOr<LineageAnswer> a =
      p.Upstream(testing::kTenant, tip, 16, std::nullopt);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->nodes.size(), 17u);

  for (size_t max_nodes : {1u, 5u, 16u, 17u, 40u}) {
    for (size_t max_edges : {3u, 16u, 100u}) {
      ProvenanceLimits limits;
      limits.max_nodes = max_nodes;
      limits.max_edges = max_edges;
      limits.max_depth = 30;
      Provenance bounded(*ledger_, limits);
      for (uint32_t depth : {4u, 16u, 30u}) {
        for (bool up : {true, false}) {
          const LineageNode start =
              up ? tip : LineageNode{SubjectKind::kDataset, "raw-1", "v1"};
          const ModelGraph g =
              model_.Walk(up, testing::kTenant, start, depth, Size());
          const std::string what = StrCat(up ? "up " : "down ", depth, " ",
                                          max_nodes, " ", max_edges);
          absl::StatusOr<LineageAnswer> got =
              up ? bounded.Upstream(testing::kTenant, start, depth,
                                    std::nullopt)
                 : bounded.Downstream(testing::kTenant, start, depth,
                                      std::nullopt);
          if (g.depth.size() > max_nodes || g.edges.size() > max_edges ||
              g.entries_read > max_edges) {
            EXPECT_EQ(got.status().code(), absl::StatusCode::kResourceExhausted)
                << what;
            EXPECT_THAT(got.status().message(), HasSubstr("smaller depth"))
                << what;
          } else {
            ExpectLineage(got, ExpectedLineage(g, Size()), what);
          }
        }
      }
    }
  }
}

TEST_F(ProvenanceTest, CrossBorderByYearMatchesTheModel) {
  AppendAll();
  Provenance p(*ledger_);
  // The steps reach into 2027.
  ASSERT_GT(now_, kNewYear2026Ns + int64_t{366} * 86'400 * 1'000'000'000);
  size_t total = 0;
  for (int year : {1970, 2025, 2026, 2027, 2028, 2029, 2030, 2261}) {
    std::vector<TransferRow> want;
    for (const ModelEntry& m : model_.entries()) {
      if (m.event.tenant != testing::kTenant ||
          m.event.type != "data.transferred_cross_border") {
        continue;
      }
      // The year from the C library's calendar, not the production's.
      const time_t secs = static_cast<time_t>(m.received_at_ns / 1'000'000'000);
      struct tm tm;
      gmtime_r(&secs, &tm);
      if (tm.tm_year + 1900 != year) continue;
      TransferRow t;
      t.index = m.index;
      t.received_at_ns = m.received_at_ns;
      t.occurred_at_ns = m.event.occurred_at_ns;
      t.actor = m.event.actor;
      t.sent = m.event.inputs;
      t.outputs = m.event.outputs;
      t.region = m.event.region;
      t.purpose = m.event.purpose;
      t.attributes = m.event.attributes;
      want.push_back(std::move(t));
    }
    total += want.size();
    uint64_t as_of = 0;
    EXPECT_EQ((WalkPages<CrossBorderAnswer, std::vector<TransferRow>>(
                  [&](const PageRequest& page) {
                    return p.CrossBorder(testing::kTenant, year, page);
                  },
                  5, &as_of)),
              want)
        << year;
    absl::StatusOr<CrossBorderAnswer> one =
        p.CrossBorder(testing::kTenant, year, {});
    ASSERT_TRUE(one.ok()) << one.status();
    for (const TransferRow& t : one->transfers) {
      EXPECT_EQ(t.grade, "unassessed");
      EXPECT_EQ(t.region, "eu-west-1");
      EXPECT_FALSE(t.sent.empty());
    }
  }
  EXPECT_EQ(total, 12u);  // every transfer in exactly one year
  EXPECT_EQ(p.CrossBorder(testing::kTenant, 1969, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(p.CrossBorder(testing::kTenant, 2262, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ProvenanceTest, OrphansMatchTheModel) {
  AppendAll();
  Provenance p(*ledger_);
  for (const std::string& tenant :
       {std::string(testing::kTenant), std::string(kOther)}) {
    const auto [datasets, runs] = model_.Orphans(tenant, Size());
    absl::StatusOr<OrphansAnswer> a = p.Orphans(tenant, std::nullopt);
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(a->as_of, Size());
    EXPECT_EQ(a->datasets, datasets) << tenant;
    EXPECT_EQ(a->runs, runs) << tenant;
    // What the workflow built in: the unregistered and source-less chains
    // and the runs without an end.
    std::set<std::string> ids;
    for (const OrphanDataset& d : a->datasets) ids.insert(d.id);
    EXPECT_TRUE(ids.count("mystery") && ids.count("mystery-c") &&
                ids.count("raw-3") && ids.count("deid-3"))
        << tenant;
    EXPECT_FALSE(ids.count("raw-0") || ids.count("cyc-x") ||
                 ids.count("chain") || ids.count("agg-final"))
        << tenant;
    std::set<std::string> run_ids;
    for (const OrphanRun& r : a->runs) run_ids.insert(r.run_id);
    EXPECT_EQ(run_ids, (std::set<std::string>{"run-clean-2", "run-stuck"}));
  }
  ProvenanceLimits tiny;
  tiny.max_nodes = 3;
  absl::StatusOr<OrphansAnswer> bounded =
      Provenance(*ledger_, tiny).Orphans(testing::kTenant, std::nullopt);
  EXPECT_EQ(bounded.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(bounded.status().message(), HasSubstr("3"));
}

// Queries while another thread appends: each query keeps its iterators
// for its whole run (Ledger::IndexScanner) while new records arrive, and
// an answer as of a fixed size never changes.
TEST_F(ProvenanceTest, AnswersAsOfASizeHoldWhileAnotherThreadAppends) {
  AppendSteps(60);
  const uint64_t old_size = Size();
  Provenance p(*ledger_);
  const LineageNode deid{SubjectKind::kDataset, "deid-0", "v1"};
  const LineageNode raw{SubjectKind::kDataset, "raw-0", "v1"};
  PageRequest page;
  page.as_of = old_size;
  absl::StatusOr<HistoryAnswer> h1 =
      p.History(testing::kTenant, LinkKind::kActor, "svc:pipeline", page);
  absl::StatusOr<LineageAnswer> u1 =
      p.Upstream(testing::kTenant, deid, 16, old_size);
  absl::StatusOr<LineageAnswer> d1 =
      p.Downstream(testing::kTenant, raw, 16, old_size);
  absl::StatusOr<OrphansAnswer> o1 = p.Orphans(testing::kTenant, old_size);
  ASSERT_TRUE(h1.ok() && u1.ok() && d1.ok() && o1.ok());
  ASSERT_FALSE(h1->entries.empty());
  ASSERT_FALSE(u1->edges.empty());

  std::atomic<bool> done{false};
  std::thread appender([&] {
    AppendAll();
    done = true;
  });
  // At least 3 rounds, and rounds until the appender is done (bounded).
  int rounds = 0;
  for (; rounds < 3 || (!done && rounds < 10'000); ++rounds) {
    absl::StatusOr<HistoryAnswer> h =
        p.History(testing::kTenant, LinkKind::kActor, "svc:pipeline", page);
    ASSERT_TRUE(h.ok()) << h.status();
    ASSERT_EQ(h->entries.size(), h1->entries.size()) << "round " << rounds;
    for (size_t i = 0; i < h->entries.size(); ++i) {
      ASSERT_EQ(h->entries[i].bytes, h1->entries[i].bytes);
    }
    ExpectLineage(p.Upstream(testing::kTenant, deid, 16, old_size), *u1,
                  StrCat("upstream, round ", rounds));
    ExpectLineage(p.Downstream(testing::kTenant, raw, 16, old_size), *d1,
                  StrCat("downstream, round ", rounds));
    absl::StatusOr<OrphansAnswer> o = p.Orphans(testing::kTenant, old_size);
    ASSERT_TRUE(o.ok()) << o.status();
    EXPECT_EQ(o->datasets, o1->datasets);
    EXPECT_EQ(o->runs, o1->runs);
  }
  appender.join();
  EXPECT_GT(Size(), old_size);
}

TEST_F(ProvenanceTest, AnOldAsOfGivesTheEarlierAnswer) {
  AppendSteps(60);
  const uint64_t old_size = Size();
  Provenance p(*ledger_);
  const LineageNode deid{SubjectKind::kDataset, "deid-0", "v1"};
  const LineageNode raw{SubjectKind::kDataset, "raw-0", "v1"};
  PageRequest page;
  absl::StatusOr<HistoryAnswer> h1 =
      p.History(testing::kTenant, LinkKind::kDataset, "deid-0", page);
  absl::StatusOr<LineageAnswer> d1 =
      p.Downstream(testing::kTenant, raw, 16, std::nullopt);
  absl::StatusOr<LineageAnswer> u1 =
      p.Upstream(testing::kTenant, deid, 16, std::nullopt);
  absl::StatusOr<OrphansAnswer> o1 = p.Orphans(testing::kTenant, std::nullopt);
  absl::StatusOr<TouchAnswer> w1 =
      p.ActorActivity(testing::kTenant, "svc:pipeline", {0, INT64_MAX}, page);
  ASSERT_TRUE(h1.ok() && d1.ok() && u1.ok() && o1.ok() && w1.ok());
  // A page token of the old size, taken now.
  PageRequest small;
  small.page_size = 2;
  absl::StatusOr<HistoryAnswer> first =
      p.History(testing::kTenant, LinkKind::kActor, "svc:pipeline", small);
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->next_page_token.empty());

  AppendAll();
  ASSERT_GT(Size(), old_size);
  page.as_of = old_size;
  absl::StatusOr<HistoryAnswer> h2 =
      p.History(testing::kTenant, LinkKind::kDataset, "deid-0", page);
  ASSERT_TRUE(h2.ok());
  EXPECT_EQ(h2->as_of, old_size);
  ASSERT_EQ(h2->entries.size(), h1->entries.size());
  for (size_t i = 0; i < h1->entries.size(); ++i) {
    EXPECT_EQ(h2->entries[i].bytes, h1->entries[i].bytes);
  }
  ExpectLineage(p.Downstream(testing::kTenant, raw, 16, old_size), *d1,
                "downstream as of");
  ExpectLineage(p.Upstream(testing::kTenant, deid, 16, old_size), *u1,
                "upstream as of");
  absl::StatusOr<OrphansAnswer> o2 = p.Orphans(testing::kTenant, old_size);
  ASSERT_TRUE(o2.ok());
  EXPECT_EQ(o2->datasets, o1->datasets);
  EXPECT_EQ(o2->runs, o1->runs);
  absl::StatusOr<TouchAnswer> w2 =
      p.ActorActivity(testing::kTenant, "svc:pipeline", {0, INT64_MAX}, page);
  ASSERT_TRUE(w2.ok());
  EXPECT_EQ(w2->entries.size(), w1->entries.size());
  // The answers now differ from the earlier ones (the test can fail).
  absl::StatusOr<LineageAnswer> d3 =
      p.Downstream(testing::kTenant, raw, 16, std::nullopt);
  ASSERT_TRUE(d3.ok());
  EXPECT_GT(d3->edges.size(), d1->edges.size());
  // The old walk goes on at the old size.
  uint64_t as_of = 0;
  std::vector<StoredEntry> rest = first->entries;
  PageRequest next = small;
  next.page_token = first->next_page_token;
  for (int n = 0; n < 1000 && !next.page_token.empty(); ++n) {
    absl::StatusOr<HistoryAnswer> a =
        p.History(testing::kTenant, LinkKind::kActor, "svc:pipeline", next);
    ASSERT_TRUE(a.ok()) << a.status();
    as_of = a->as_of;
    EXPECT_EQ(as_of, old_size);
    rest.insert(rest.end(), a->entries.begin(), a->entries.end());
    next.page_token = a->next_page_token;
  }
  ExpectRows(rest,
             model_.About(testing::kTenant, LinkKind::kActor, "svc:pipeline",
                          old_size),
             "old walk");
  // Every answer as of every size of a few equals the model's.
  for (uint64_t size : {uint64_t{0}, uint64_t{2}, old_size / 2, old_size}) {
    ExpectLineage(
        p.Downstream(testing::kTenant, raw, 16, size),
        ExpectedLineage(model_.Walk(false, testing::kTenant, raw, 16, size),
                        size),
        StrCat("downstream as of ", size));
    absl::StatusOr<OrphansAnswer> o = p.Orphans(testing::kTenant, size);
    ASSERT_TRUE(o.ok());
    EXPECT_EQ(o->datasets, model_.Orphans(testing::kTenant, size).first);
    EXPECT_EQ(o->runs, model_.Orphans(testing::kTenant, size).second);
  }
}

TEST_F(ProvenanceTest, BadRequestsAreRefusedNamingTheField) {
  AppendAll();
  Provenance p(*ledger_);
  const uint64_t size = Size();
  PageRequest beyond;
  beyond.as_of = size + 1;
  absl::Status s =
      p.History(testing::kTenant, LinkKind::kItem, "item-1", beyond).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr(StrCat(size + 1)));
  EXPECT_THAT(s.message(), HasSubstr(StrCat(size)));
  EXPECT_EQ(p.Upstream(testing::kTenant, {SubjectKind::kDataset, "raw-0", "v1"},
                       1, size + 5)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);

  PageRequest huge;
  huge.page_size = kMaxPageSize + 1;
  s = p.History(testing::kTenant, LinkKind::kItem, "item-1", huge).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("page_size"));

  // Malformed tokens.
  for (const std::string& token : std::vector<std::string>{
           "x", "!!!!", "AAAA", "abc+def/ghi=", std::string(200, 'A')}) {
    PageRequest page;
    page.page_token = token;
    s = p.History(testing::kTenant, LinkKind::kItem, "item-1", page).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << token;
    EXPECT_THAT(s.message(), HasSubstr("page_token")) << token;
  }
  // A real token, for another query, another subject, another window.
  PageRequest small;
  small.page_size = 1;
  absl::StatusOr<HistoryAnswer> h =
      p.History(testing::kTenant, LinkKind::kItem, "item-1", small);
  ASSERT_TRUE(h.ok());
  ASSERT_FALSE(h->next_page_token.empty());
  PageRequest reuse;
  reuse.page_token = h->next_page_token;
  EXPECT_TRUE(
      p.History(testing::kTenant, LinkKind::kItem, "item-1", reuse).ok());
  for (const absl::Status& other :
       {p.History(testing::kTenant, LinkKind::kItem, "item-2", reuse).status(),
        p.History(testing::kTenant, LinkKind::kDataset, "item-1", reuse)
            .status(),
        p.History(kOther, LinkKind::kItem, "item-1", reuse).status(),
        p.LabelHistory(testing::kTenant, "item-1", reuse).status(),
        p.WhoTouched(testing::kTenant, LinkKind::kItem, "item-1",
                     {0, INT64_MAX}, reuse)
            .status(),
        p.CrossBorder(testing::kTenant, 2026, reuse).status()}) {
    EXPECT_EQ(other.code(), absl::StatusCode::kInvalidArgument) << other;
    EXPECT_THAT(other.message(), HasSubstr("page_token")) << other;
  }
  absl::StatusOr<TouchAnswer> w = p.WhoTouched(
      testing::kTenant, LinkKind::kItem, "item-1", {0, INT64_MAX}, small);
  ASSERT_TRUE(w.ok());
  ASSERT_FALSE(w->next_page_token.empty());
  PageRequest other_window;
  other_window.page_token = w->next_page_token;
  EXPECT_EQ(p.WhoTouched(testing::kTenant, LinkKind::kItem, "item-1",
                         {1, INT64_MAX}, other_window)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  // as_of disagreeing with the token's.
  reuse.as_of = size - 1;
  s = p.History(testing::kTenant, LinkKind::kItem, "item-1", reuse).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("as_of"));
  // A window backwards; empty ids.
  EXPECT_EQ(
      p.WhoTouched(testing::kTenant, LinkKind::kItem, "item-1", {5, 4}, {})
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      p.History(testing::kTenant, LinkKind::kItem, "", {}).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(p.History("", LinkKind::kItem, "item-1", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ProvenanceTest, UnknownSubjectsAndOtherTenantsGiveEmptyAnswers) {
  AppendAll();
  Provenance p(*ledger_);
  absl::StatusOr<HistoryAnswer> h =
      p.History(testing::kTenant, LinkKind::kItem, "no-such-item", {});
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_TRUE(h->entries.empty());
  EXPECT_TRUE(h->next_page_token.empty());
  absl::StatusOr<LabelHistoryAnswer> l =
      p.LabelHistory(testing::kTenant, "no-such-item", {});
  ASSERT_TRUE(l.ok());
  EXPECT_TRUE(l->rows.empty());
  for (bool up : {true, false}) {
    const LineageNode n{SubjectKind::kDataset, "raw-0", "no-such-version"};
    absl::StatusOr<LineageAnswer> a =
        up ? p.Upstream(testing::kTenant, n, 3, std::nullopt)
           : p.Downstream(testing::kTenant, n, 3, std::nullopt);
    ASSERT_TRUE(a.ok());
    EXPECT_TRUE(a->nodes.empty() && a->edges.empty());
  }
  // A tenant with no entries at all, and a prefix of a real tenant.
  for (const char* tenant : {"gamma", "acme", "beta-corp-2"}) {
    absl::StatusOr<HistoryAnswer> x =
        p.History(tenant, LinkKind::kItem, "item-1", {});
    ASSERT_TRUE(x.ok());
    EXPECT_TRUE(x->entries.empty()) << tenant;
    absl::StatusOr<OrphansAnswer> o = p.Orphans(tenant, std::nullopt);
    ASSERT_TRUE(o.ok());
    EXPECT_TRUE(o->datasets.empty() && o->runs.empty()) << tenant;
    absl::StatusOr<CrossBorderAnswer> c = p.CrossBorder(tenant, 2026, {});
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(c->transfers.empty());
  }
  // Equal ids in both tenants: each answer holds its own tenant's only,
  // and the two differ.
  PageRequest all;
  all.page_size = kMaxPageSize;
  absl::StatusOr<HistoryAnswer> mine =
      p.History(testing::kTenant, LinkKind::kItem, "item-1", all);
  absl::StatusOr<HistoryAnswer> theirs =
      p.History(kOther, LinkKind::kItem, "item-1", all);
  ASSERT_TRUE(mine.ok() && theirs.ok());
  ASSERT_FALSE(mine->entries.empty() || theirs->entries.empty());
  const auto tenant_of = [](const StoredEntry& r) -> std::string {
    absl::StatusOr<Entry> entry = DecodeEntry(r.bytes);
    if (!entry.ok()) return "(undecodable)";
    absl::StatusOr<Event> event = DecodeEvent(entry->event_bytes);
    return event.ok() ? event->tenant : "(undecodable)";
  };
  for (const StoredEntry& r : mine->entries) {
    EXPECT_EQ(tenant_of(r), testing::kTenant);
  }
  for (const StoredEntry& r : theirs->entries) {
    EXPECT_EQ(tenant_of(r), kOther);
  }
  absl::StatusOr<LineageAnswer> dm =
      p.Downstream(testing::kTenant, {SubjectKind::kDataset, "raw-0", "v1"}, 16,
                   std::nullopt);
  ASSERT_TRUE(dm.ok());
  std::set<uint64_t> other_indexes;
  for (const ModelEntry& m : model_.entries()) {
    if (m.event.tenant == kOther) other_indexes.insert(m.index);
  }
  for (const LineageEdge& e : dm->edges) {
    EXPECT_EQ(other_indexes.count(e.index), 0u) << e.index;
  }
}

}  // namespace
}  // namespace ledger
