#include "tools/bench/provenance.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "crypto/note.h"
#include "ledger/answer.h"
#include "ledger/answer_builder.h"
#include "ledger/batch.h"
#include "ledger/checkpoint.h"
#include "ledger/entry.h"
#include "ledger/entry_keys.h"
#include "ledger/ledger.h"
#include "ledger/provenance.h"
#include "node/convert.h"
#include "tools/bench/cleanup.h"
#include "tools/bench/histogram.h"
#include "tools/bench/inproc.h"
#include "tools/bench/report.h"
#include "tools/bench/suite.h"
#include "tools/ledgerctl/gen_events.h"

#ifdef LEDGER_BENCH_POSTGRES
#include "tools/bench/provenance_pg.h"
#endif

namespace ledger::bench {
namespace {

using Clock = InprocClock;
using nlohmann::json;

constexpr char kOrigin[] = "ledger-bench.local/provenance";

void Progress(std::string_view line) {
  std::cerr << "ledger-bench provenance: " << line << std::endl;
}

using Keys = BenchKeys;

std::string SubjectCountKey(LinkKind kind, std::string_view id) {
  return StrCat(static_cast<char>(kind), id);
}

// The generated events, batch by batch, with what the queries need.
class Source {
 public:
  Source(const ProvenanceBenchOptions& o, uint64_t seed, const Keys& keys)
      : keys_(keys),
        remaining_(o.entries),
        batch_size_(std::max<uint32_t>(1, o.batch_size)),
        step_(StrCat(std::max<uint32_t>(1, o.depth > 3 ? o.depth - 3 : 1), "/",
                     o.workflow_depth)),
        generator_([&] {
          ctl::GenEventsOptions g;
          g.count = o.entries;
          g.tenant = kTenant;
          g.seed = seed;
          g.fan_in = o.fan_in;
          g.workflow_depth = o.workflow_depth;
          return g;
        }()) {}

  bool done() const { return remaining_ == 0; }

  absl::StatusOr<VerifiedBatch> Next() {
    const uint64_t n = std::min<uint64_t>(batch_size_, remaining_);
    std::vector<Event> events;
    events.reserve(n);
    for (uint64_t i = 0; i < n; ++i) {
      LEDGER_ASSIGN_OR_RETURN(ctl::EventGenerator::Generated g,
                              generator_.Next());
      LEDGER_ASSIGN_OR_RETURN(Event e, node::EventFromProto(g.event));
      Observe(e);
      events.push_back(std::move(e));
    }
    remaining_ -= n;
    LEDGER_ASSIGN_OR_RETURN(VerifiedBatch batch,
                            SignEvents(std::move(events), keys_.emitter));
    for (const std::string& b : batch.event_bytes()) event_bytes_ += b.size();
    return batch;
  }

  const absl::flat_hash_map<std::string, uint32_t>& counts() const {
    return counts_;
  }
  const std::vector<LineageNode>& step_outputs() const { return step_outputs_; }
  uint64_t event_bytes() const { return event_bytes_; }

 private:
  void Observe(const Event& e) {
    std::vector<std::pair<LinkKind, std::string>> keys = SubjectKeys(e);
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    for (const auto& [kind, id] : keys) ++counts_[SubjectCountKey(kind, id)];
    // The chain step whose upstream to `depth` reaches through the
    // aggregation (fan-in) to the sources.
    for (const auto& [name, value] : e.attributes) {
      if (name == "step" && value == step_ && !e.outputs.empty()) {
        const SubjectRef& out = e.outputs.front();
        step_outputs_.push_back(LineageNode{out.kind, out.id, out.version});
      }
    }
  }

  const Keys& keys_;
  uint64_t remaining_;
  uint32_t batch_size_;
  std::string step_;
  ctl::EventGenerator generator_;
  absl::flat_hash_map<std::string, uint32_t> counts_;
  std::vector<LineageNode> step_outputs_;
  uint64_t event_bytes_ = 0;
};

json Latency(const Histogram& h) { return HistogramJson(h); }

double P(const json& j, const char* which) {
  return j.contains(which) ? j[which].get<double>() : 0.0;
}

json Target(std::string name, std::string goal, double measured, bool met) {
  return json{{"name", std::move(name)},
              {"goal", std::move(goal)},
              {"measured", measured},
              {"met", met}};
}

}  // namespace

absl::StatusOr<json> RunProvenanceBench(const BenchEnv& env,
                                        const ProvenanceBenchOptions& o) {
  if (o.entries < 1000) {
    return absl::InvalidArgumentError(
        StrCat("--entries ", o.entries, " is below the minimum of 1000"));
  }
  if (o.fan_in < 3) {
    return absl::InvalidArgumentError(
        StrCat("--fan-in ", o.fan_in, ": the target needs a fan-in >= 3"));
  }
  if (o.queries == 0 || o.subjects == 0) {
    return absl::InvalidArgumentError("--queries and --subjects must be > 0");
  }
#ifndef LEDGER_BENCH_POSTGRES
  if (o.postgres) return absl::UnimplementedError(kNoPostgresMessage);
#endif
  Keys keys(kOrigin, kTenant);
  Source source(o, env.seed, keys);
  json out;
  out["options"] = {{"entries", o.entries},
                    {"batch_size", o.batch_size},
                    {"fan_in", o.fan_in},
                    {"workflow_depth", o.workflow_depth},
                    {"depth", o.depth},
                    {"queries", o.queries},
                    {"subjects", o.subjects},
                    {"ingest_events", o.ingest_events},
                    {"ingest_rounds", o.ingest_rounds}};

  // ---- ingest with and without the provenance indexes ----
  const uint64_t ingest_events =
      o.ingest_events == 0 ? o.entries : std::min(o.ingest_events, o.entries);
  std::vector<VerifiedBatch> kept;
  uint64_t kept_events = 0;
  while (kept_events < ingest_events && !source.done()) {
    LEDGER_ASSIGN_OR_RETURN(VerifiedBatch b, source.Next());
    kept_events += b.size();
    kept.push_back(std::move(b));
  }
  Progress(StrCat("ingest: ", kept_events, " events, ", o.ingest_rounds,
                  " rounds of (with indexes, without)"));
  json ingest = json::array();
  double with_sum = 0, without_sum = 0;
  for (uint32_t round = 0; round < o.ingest_rounds; ++round) {
    for (bool indexes : {true, false}) {
      LEDGER_ASSIGN_OR_RETURN(
          double rate,
          TimedIngest(env.work_dir, keys, kept, [&](LedgerOptions& options) {
            options.provenance_indexes = indexes;
          }));
      (indexes ? with_sum : without_sum) += rate;
      ingest.push_back(json{{"round", round + 1},
                            {"provenance_indexes", indexes},
                            {"events", kept_events},
                            {"events_per_second", rate}});
      Progress(StrCat("ingest round ", round + 1,
                      indexes ? " with" : " without",
                      " indexes: ", static_cast<uint64_t>(rate), " events/s"));
    }
  }
  const double with_rate = o.ingest_rounds ? with_sum / o.ingest_rounds : 0;
  const double without_rate =
      o.ingest_rounds ? without_sum / o.ingest_rounds : 0;
  out["ingest"] = {
      {"runs", ingest},
      {"with_indexes_events_per_second", with_rate},
      {"without_indexes_events_per_second", without_rate},
      {"ratio", without_rate > 0 ? with_rate / without_rate : 0.0},
      {"method",
       "in process, Ledger::Append (synced) of one batch per call on a fresh "
       "directory; without = LedgerOptions::provenance_indexes false (that "
       "ledger is never reopened); mean of the rounds"}};

  // ---- the ledger under query ----
  const std::string dir = MakeTempDir(env.work_dir, "ledger-bench-prov");
  if (dir.empty()) return absl::InternalError("cannot create a directory");
  const uint64_t dir_cleanup = RegisterCleanup([dir] { RemoveTree(dir); });
  LEDGER_ASSIGN_OR_RETURN(std::unique_ptr<Ledger> ledger,
                          OpenFreshLedger(dir, keys));
  const Clock::time_point load_start = Clock::now();
  uint64_t loaded = 0;
  for (const VerifiedBatch& b : kept) {
    LEDGER_RETURN_IF_ERROR(AppendChecked(*ledger, b));
    loaded += b.size();
  }
  kept.clear();
  kept.shrink_to_fit();
  Progress(StrCat("loading ", o.entries, " events"));
  while (!source.done()) {
    LEDGER_ASSIGN_OR_RETURN(VerifiedBatch b, source.Next());
    LEDGER_RETURN_IF_ERROR(AppendChecked(*ledger, b));
    const uint64_t before = loaded;
    loaded += b.size();
    if (before / 100'000 != loaded / 100'000) {
      Progress(StrCat("loaded ", loaded, " of ", o.entries, " events"));
    }
  }
  const Head head = ledger->head();
  {
    const std::string text =
        FormatCheckpointBody(Checkpoint{kOrigin, head.size, head.root, {}});
    const crypto::NoteSigner* signers[] = {&keys.log};
    LEDGER_RETURN_IF_ERROR(
        ledger
            ->StoreCheckpoint(crypto::SignNote(
                text, signers,
                static_cast<uint64_t>(WallNowNs() / 1'000'000'000)))
            .status());
  }
  out["ledger"] = {
      {"entries", head.size},
      {"event_bytes", source.event_bytes()},
      {"load_seconds", static_cast<double>(NsSince(load_start)) / 1e9},
      {"disk_bytes", DirectoryBytes(dir)}};
  Progress(StrCat("ledger: ", head.size, " entries, checkpoint stored"));

  // ---- the subjects and nodes queried ----
  struct Subject {
    LinkKind kind;
    std::string id;
    uint64_t count;     // entries about it
    uint64_t rows = 0;  // entries a query returns: min(count, length)
  };
  // A query returns the first page of history_length entries: subjects
  // with at least that many come first (the fewest above it), then the
  // largest below it.
  const uint64_t length = std::min<uint64_t>(o.history_length, kMaxPageSize);
  std::vector<Subject> subjects;
  for (const auto& [key, count] : source.counts()) {
    subjects.push_back(
        Subject{static_cast<LinkKind>(key[0]), key.substr(1), count});
  }
  const auto rank = [&](const Subject& s) {
    return s.count >= length ? std::make_pair(0, s.count - length)
                             : std::make_pair(1, length - s.count);
  };
  std::sort(subjects.begin(), subjects.end(),
            [&](const Subject& a, const Subject& b) {
              return std::make_tuple(rank(a), a.kind, a.id) <
                     std::make_tuple(rank(b), b.kind, b.id);
            });
  for (Subject& s : subjects) s.rows = std::min<uint64_t>(s.count, length);
  if (subjects.size() > o.subjects) subjects.resize(o.subjects);
  if (subjects.empty()) return absl::InternalError("no subject to query");
  std::vector<LineageNode> nodes;
  {
    const std::vector<LineageNode>& all = source.step_outputs();
    if (all.empty()) {
      return absl::FailedPreconditionError(
          StrCat("the workflow has no release yet at ", o.entries,
                 " events: no lineage node to query (use more --entries)"));
    }
    // Spread over the run: early and late releases.
    const size_t n = std::min<size_t>(o.subjects, all.size());
    for (size_t k = 0; k < n; ++k) nodes.push_back(all[k * all.size() / n]);
  }
  json subject_list = json::array();
  for (const Subject& s : subjects) {
    subject_list.push_back(json{{"kind", std::string(LinkKindName(s.kind))},
                                {"id", s.id},
                                {"entries", s.count},
                                {"rows", s.rows}});
  }
  out["history_subjects"] = subject_list;

  // ---- PostgreSQL ----
#ifdef LEDGER_BENCH_POSTGRES
  std::unique_ptr<ProvenancePg> pg;
  if (o.postgres) {
    // Everything in shared_buffers: about twice the event bytes (entries
    // carry signatures and back-links; indexes and the other tables).
    std::string shared_buffers = o.pg_shared_buffers;
    if (shared_buffers.empty()) {
      const uint64_t estimate =
          source.event_bytes() * 3 + head.size * 800 + (uint64_t{128} << 20);
      const uint64_t mib = std::clamp<uint64_t>(estimate >> 20, 256, 8192);
      shared_buffers = StrCat(mib, "MB");
    }
    PgServerOptions so;
    so.bin_dir = o.pg_bin_dir;
    so.shared_buffers = shared_buffers;
    so.settings = {"effective_cache_size=" + shared_buffers,
                   "work_mem=64MB",
                   "maintenance_work_mem=512MB",
                   "max_wal_size=8GB",
                   "checkpoint_timeout=30min",
                   "random_page_cost=1.1",
                   "jit=off"};
    Progress(
        StrCat("postgres: starting (shared_buffers ", shared_buffers, ")"));
    LEDGER_ASSIGN_OR_RETURN(pg, ProvenancePg::Start(so));
    const Clock::time_point t0 = Clock::now();
    LEDGER_RETURN_IF_ERROR(pg->Load(*ledger, head.size, Progress));
    LEDGER_RETURN_IF_ERROR(pg->Prepare());
    out["postgres"] = pg->Info();
    out["postgres"]["load_seconds"] = static_cast<double>(NsSince(t0)) / 1e9;
  }
#endif

  // ---- the queries ----
  Provenance prov(*ledger);
  const std::string tenant = kTenant;
  PageRequest page;
  page.page_size = length;
  size_t last_answer_bytes = 0;
  const auto history = [&](const Subject& s) -> absl::StatusOr<HistoryAnswer> {
    LEDGER_ASSIGN_OR_RETURN(HistoryAnswer a,
                            prov.History(tenant, s.kind, s.id, page));
    if (a.entries.size() != s.rows) {
      return absl::InternalError(StrCat("history of ", LinkKindName(s.kind),
                                        " ", s.id, ": ", a.entries.size(),
                                        " entries, expected ", s.rows,
                                        " (the generator made ", s.count, ")"));
    }
    return a;
  };
  const auto with_proofs = [&](const Subject& s) -> absl::Status {
    LEDGER_ASSIGN_OR_RETURN(HistoryAnswer a, history(s));
    AnswerRequest r;
    r.kind = AnswerKind::kHistory;
    r.params = {{"kind", std::string(LinkKindName(s.kind))}, {"id", s.id}};
    r.tenant = tenant;
    r.subject = AnswerSubject{s.kind, s.id};
    r.as_of = a.as_of;
    r.indexes.reserve(a.entries.size());
    r.bytes.reserve(a.entries.size());
    for (StoredEntry& row : a.entries) {
      r.indexes.push_back(row.index);
      r.bytes.push_back(std::move(row.bytes));
    }
    LEDGER_ASSIGN_OR_RETURN(Answer answer, BuildAnswer(*ledger, r));
    LEDGER_ASSIGN_OR_RETURN(std::string text, EncodeAnswer(answer));
    last_answer_bytes = text.size();
    return absl::OkStatus();
  };
  const auto upstream =
      [&](const LineageNode& n) -> absl::StatusOr<LineageAnswer> {
    return prov.Upstream(tenant, n, o.depth, std::nullopt);
  };
  // Warm-up, and both sides' answers compared.
  json graphs = json::array();
  uint32_t max_fan_in = 0;
  for (uint64_t pass = 0; pass < std::max<uint64_t>(1, o.warmup); ++pass) {
    for (const Subject& s : subjects) {
      LEDGER_RETURN_IF_ERROR(with_proofs(s));
#ifdef LEDGER_BENCH_POSTGRES
      if (pg != nullptr) {
        LEDGER_ASSIGN_OR_RETURN(size_t rows,
                                pg->History(tenant, s.kind, s.id, s.rows));
        if (rows != s.rows) {
          return absl::InternalError(StrCat("postgres history of ", s.id, ": ",
                                            rows, " rows, expected ", s.rows));
        }
      }
#endif
    }
    for (const LineageNode& n : nodes) {
      LEDGER_ASSIGN_OR_RETURN(LineageAnswer a, upstream(n));
      if (pass == 0) {
        uint32_t fan_in = 0;
        for (const LineageNodeRow& row : a.nodes) {
          fan_in = std::max(fan_in, row.in_degree);
        }
        max_fan_in = std::max(max_fan_in, fan_in);
        graphs.push_back(json{{"node", StrCat(n.id, "@", n.version)},
                              {"nodes", a.nodes.size()},
                              {"edges", a.edges.size()},
                              {"max_in_degree", fan_in}});
      }
#ifdef LEDGER_BENCH_POSTGRES
      if (pg != nullptr) {
        LEDGER_ASSIGN_OR_RETURN(ProvenancePg::Graph g,
                                pg->Upstream(tenant, n, o.depth));
        if (g.nodes != a.nodes.size() || g.edges != a.edges.size()) {
          return absl::InternalError(StrCat(
              "upstream of ", n.id, "@", n.version, ": ours ", a.nodes.size(),
              " nodes and ", a.edges.size(), " edges, postgres ", g.nodes,
              " nodes and ", g.edges, " edges"));
        }
      }
#endif
    }
  }
  out["upstream_nodes"] = graphs;
  out["upstream_max_in_degree"] = max_fan_in;
  out["answer_file_bytes"] = last_answer_bytes;
  Progress(StrCat("timing ", o.queries, " queries of each kind over ",
                  subjects.size(), " subjects and ", nodes.size(), " nodes"));

  Histogram h_ours, h_proofs, h_up, h_pg, h_pg_up;
  for (uint64_t q = 0; q < o.queries; ++q) {
    const Subject& s = subjects[q % subjects.size()];
    const LineageNode& n = nodes[q % nodes.size()];
    Clock::time_point t0 = Clock::now();
    LEDGER_RETURN_IF_ERROR(history(s).status());
    h_ours.Record(NsSince(t0));
    t0 = Clock::now();
    LEDGER_RETURN_IF_ERROR(with_proofs(s));
    h_proofs.Record(NsSince(t0));
    t0 = Clock::now();
    LEDGER_RETURN_IF_ERROR(upstream(n).status());
    h_up.Record(NsSince(t0));
#ifdef LEDGER_BENCH_POSTGRES
    if (pg != nullptr) {
      t0 = Clock::now();
      LEDGER_RETURN_IF_ERROR(
          pg->History(tenant, s.kind, s.id, s.rows).status());
      h_pg.Record(NsSince(t0));
      t0 = Clock::now();
      LEDGER_RETURN_IF_ERROR(pg->Upstream(tenant, n, o.depth).status());
      h_pg_up.Record(NsSince(t0));
    }
#endif
  }
  json queries = {{"ours_history", Latency(h_ours)},
                  {"ours_history_with_proofs", Latency(h_proofs)},
                  {"ours_upstream", Latency(h_up)}};
  if (h_pg.count() > 0) {
    queries["postgres_history"] = Latency(h_pg);
    queries["postgres_upstream"] = Latency(h_pg_up);
  }
  out["queries"] = queries;

  // ---- targets ----
  json targets = json::array();
  const json& oh = queries["ours_history"];
  const json& op = queries["ours_history_with_proofs"];
  const json& ou = queries["ours_upstream"];
  // A latency ratio, num / den, as a target at p99 and at p50.
  const auto ratio_targets = [&](std::string_view query, std::string_view ratio,
                                 const json& num, const json& den,
                                 std::string_view goal, auto holds) {
    for (const char* pct : {"p99", "p50"}) {
      const std::string field = StrCat(pct, "_us");
      const double r = P(num, field.c_str()) / P(den, field.c_str());
      targets.push_back(Target(StrCat(query, " ", pct, ": ", ratio),
                               std::string(goal), r, holds(r)));
    }
  };
  if (h_pg.count() > 0) {
    ratio_targets("history", "ours / postgres", oh, queries["postgres_history"],
                  "<= 0.5", [](double r) { return r <= 0.5; });
    ratio_targets("upstream depth 5", "postgres / ours",
                  queries["postgres_upstream"], ou, ">= 2",
                  [](double r) { return r >= 2; });
  }
  ratio_targets("history with proofs", "/ without", op, oh, "<= 3",
                [](double r) { return r <= 3; });
  const double ratio = out["ingest"]["ratio"].get<double>();
  targets.push_back(
      Target("ingest with indexes / without", ">= 0.85", ratio, ratio >= 0.85));
  out["targets"] = targets;

#ifdef LEDGER_BENCH_POSTGRES
  if (pg != nullptr) LEDGER_RETURN_IF_ERROR(pg->Stop());
#endif
  ledger.reset();
  if (!env.keep) {
    UnregisterCleanup(dir_cleanup);
    RemoveTree(dir);
  } else {
    UnregisterCleanup(dir_cleanup);
    out["ledger"]["dir"] = dir;
  }
  return out;
}

std::string ProvenanceTable(const json& summary) {
  std::ostringstream t;
  const auto us = [](const json& j, const char* k) {
    if (!j.contains(k)) return std::string("-");
    std::ostringstream s;
    s.setf(std::ios::fixed);
    s.precision(1);
    s << j[k].get<double>();
    return s.str();
  };
  t << "provenance queries (us)            p50        p99\n";
  if (summary.contains("queries")) {
    for (const auto& [name, h] : summary["queries"].items()) {
      std::string label = name;
      label.resize(std::max<size_t>(label.size(), 30), ' ');
      std::string p50 = us(h, "p50_us"), p99 = us(h, "p99_us");
      p50.insert(0, p50.size() < 10 ? 10 - p50.size() : 0, ' ');
      p99.insert(0, p99.size() < 10 ? 10 - p99.size() : 0, ' ');
      t << label << " " << p50 << " " << p99 << "\n";
    }
  }
  if (summary.contains("ingest")) {
    const json& i = summary["ingest"];
    t << "ingest events/s: with indexes "
      << static_cast<uint64_t>(i.value("with_indexes_events_per_second", 0.0))
      << ", without "
      << static_cast<uint64_t>(
             i.value("without_indexes_events_per_second", 0.0))
      << "\n";
  }
  if (summary.contains("targets")) {
    t << "targets:\n";
    for (const json& g : summary["targets"]) {
      std::ostringstream m;
      m.setf(std::ios::fixed);
      m.precision(3);
      m << g.value("measured", 0.0);
      t << "  " << g.value("name", std::string()) << " "
        << g.value("goal", std::string()) << ": " << m.str() << " "
        << (g.value("met", false) ? "holds" : "does NOT hold") << "\n";
    }
  }
  return t.str();
}

}  // namespace ledger::bench
