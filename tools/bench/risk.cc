#include "tools/bench/risk.h"

#include <time.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

#include "base/status_macros.h"
#include "base/strings.h"
#include "ledger/risk_engine.h"
#include "node/convert.h"
#include "tools/bench/cleanup.h"
#include "tools/bench/inproc.h"
#include "tools/ledgerctl/gen_events.h"
#include "tools/verify/grades.h"

#ifndef LEDGER_DEFAULT_POLICY
#define LEDGER_DEFAULT_POLICY "deploy/risk-policy.toml"
#endif

namespace ledger::bench {
namespace {

using nlohmann::json;

constexpr char kOrigin[] = "ledger-bench.local/risk";

void Progress(std::string_view line) {
  std::cerr << "ledger-bench risk: " << line << std::endl;
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

absl::StatusOr<std::string> ReadPolicy(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(StrCat("cannot read the policy ", path,
                                      " (--policy names another file)"));
  }
  std::stringstream text;
  text << in.rdbuf();
  if (absl::StatusOr<risk::Policy> p = risk::ParsePolicy(text.str()); !p.ok()) {
    return absl::InvalidArgumentError(StrCat(path, ": ", p.status().message()));
  }
  return text.str();
}

// The node-signed policy.changed entry that puts `text` in force.
absl::Status AppendPolicy(Ledger& ledger, const BenchKeys& keys,
                          const std::string& text) {
  Event e;
  e.event_id = BenchUuid(1000);
  e.type = "policy.changed";
  e.tenant = std::string(kLedgerTenant);
  e.occurred_at_ns = WallNowNs();
  e.producer = "ledger-bench";
  e.actor = {ActorKind::kService, "ledger-bench", "admin"};
  e.attributes = risk::PolicyAttributes(text);
  std::vector<Event> events;
  events.push_back(std::move(e));
  LEDGER_ASSIGN_OR_RETURN(VerifiedBatch batch,
                          SignEvents(std::move(events), keys.node));
  return AppendChecked(ledger, batch);
}

// `count` generated events for the keys' tenant, signed in batches.
absl::StatusOr<std::vector<VerifiedBatch>> Generate(const BenchKeys& keys,
                                                    uint64_t count,
                                                    uint32_t batch_size,
                                                    uint64_t seed) {
  ctl::GenEventsOptions g;
  g.count = count;
  g.tenant = keys.tenant;
  g.seed = seed;
  ctl::EventGenerator generator(g);
  std::vector<VerifiedBatch> out;
  for (uint64_t done = 0; done < count;) {
    const uint64_t n = std::min<uint64_t>(batch_size, count - done);
    std::vector<Event> events;
    events.reserve(n);
    for (uint64_t i = 0; i < n; ++i) {
      LEDGER_ASSIGN_OR_RETURN(ctl::EventGenerator::Generated e,
                              generator.Next());
      LEDGER_ASSIGN_OR_RETURN(Event ev, node::EventFromProto(e.event));
      events.push_back(std::move(ev));
    }
    LEDGER_ASSIGN_OR_RETURN(VerifiedBatch b,
                            SignEvents(std::move(events), keys.emitter));
    out.push_back(std::move(b));
    done += n;
  }
  return out;
}

double Mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

}  // namespace

absl::StatusOr<json> RunRiskBench(const BenchEnv& env,
                                  const RiskBenchOptions& o) {
  if (o.ingest_events < 1000 || o.verify_entries < 1000) {
    return absl::InvalidArgumentError(
        "--ingest-events and --verify-entries must be at least 1000");
  }
  const std::string policy_path =
      o.policy_file.empty() ? LEDGER_DEFAULT_POLICY : o.policy_file;
  LEDGER_ASSIGN_OR_RETURN(std::string policy, ReadPolicy(policy_path));
  BenchKeys keys(kOrigin, kTenant);
  json out;
  out["options"] = {{"policy", policy_path},
                    {"ingest_events", o.ingest_events},
                    {"ingest_rounds", o.ingest_rounds},
                    {"batch_size", o.batch_size},
                    {"verify_entries", o.verify_entries},
                    {"verify_rounds", o.verify_rounds}};

  // ---- ingest with and without risk evaluation ----
  Progress(StrCat("generating and signing ", o.ingest_events, " events"));
  LEDGER_ASSIGN_OR_RETURN(
      std::vector<VerifiedBatch> batches,
      Generate(keys, o.ingest_events, o.batch_size, env.seed));
  const auto with_policy = [&](Ledger& ledger) {
    return AppendPolicy(ledger, keys, policy);
  };
  std::vector<double> on, off;
  json runs = json::array();
  for (uint32_t round = 0; round < o.ingest_rounds; ++round) {
    for (bool evaluate : {true, false}) {
      LEDGER_ASSIGN_OR_RETURN(double rate, TimedIngest(
                                               env.work_dir, keys, batches,
                                               [&](LedgerOptions& options) {
                                                 options.risk_evaluation =
                                                     evaluate;
                                               },
                                               with_policy));
      (evaluate ? on : off).push_back(rate);
      runs.push_back(json{{"round", round + 1},
                          {"risk_evaluation", evaluate},
                          {"events", o.ingest_events},
                          {"events_per_second", rate}});
      Progress(StrCat(
          "ingest round ", round + 1, evaluate ? " with" : " without",
          " risk evaluation: ", static_cast<uint64_t>(rate), " events/s"));
    }
  }
  const double ratio = Mean(off) > 0 ? Mean(on) / Mean(off) : 0;
  out["ingest"] = {
      {"runs", runs},
      {"with_risk_events_per_second", Mean(on)},
      {"without_risk_events_per_second", Mean(off)},
      {"ratio", ratio},
      {"method",
       "in process, Ledger::Append (synced) of one batch-signed batch per "
       "call on a fresh directory holding the policy; without = "
       "LedgerOptions::risk_evaluation false (that ledger is never "
       "reopened); mean of the rounds"}};
  batches.clear();

  // ---- ledger-verify grades over an export ----
  const std::string dir = MakeTempDir(env.work_dir, "ledger-bench-risk");
  if (dir.empty()) return absl::InternalError("cannot create a directory");
  const uint64_t cleanup = RegisterCleanup([dir] { RemoveTree(dir); });
  const std::string file = dir + "/entries";
  uint64_t entries = 0;
  uint64_t propagated = 0;
  {
    LEDGER_ASSIGN_OR_RETURN(std::unique_ptr<Ledger> ledger,
                            OpenFreshLedger(dir + "/ledger", keys));
    LEDGER_RETURN_IF_ERROR(AppendPolicy(*ledger, keys, policy));
    Progress(
        StrCat("building a ledger of ", o.verify_entries, " generated events"));
    ctl::GenEventsOptions g;
    g.count = o.verify_entries;
    g.tenant = keys.tenant;
    g.seed = env.seed + 1;
    ctl::EventGenerator generator(g);
    for (uint64_t done = 0; done < o.verify_entries;) {
      const uint64_t n =
          std::min<uint64_t>(o.batch_size, o.verify_entries - done);
      std::vector<Event> events;
      for (uint64_t i = 0; i < n; ++i) {
        LEDGER_ASSIGN_OR_RETURN(ctl::EventGenerator::Generated e,
                                generator.Next());
        LEDGER_ASSIGN_OR_RETURN(Event ev, node::EventFromProto(e.event));
        events.push_back(std::move(ev));
      }
      LEDGER_ASSIGN_OR_RETURN(VerifiedBatch b,
                              SignEvents(std::move(events), keys.emitter));
      LEDGER_RETURN_IF_ERROR(AppendChecked(*ledger, b));
      done += n;
    }
    entries = ledger->head().size;
    std::ofstream f(file, std::ios::binary);
    f << verify::kEntriesFileMagic;
    std::string buffer;
    for (uint64_t begin = 0; begin < entries;) {
      LEDGER_ASSIGN_OR_RETURN(std::vector<std::string> chunk,
                              ledger->GetEntries(begin, entries, 4096));
      if (chunk.empty()) return absl::InternalError("no entries read");
      buffer.clear();
      for (const std::string& e : chunk) verify::AppendEntryRecord(e, &buffer);
      f << buffer;
      begin += chunk.size();
    }
    f.close();
    if (!f) return absl::InternalError(StrCat("writing ", file, " failed"));
  }
  std::vector<double> wall_rates, cpu_rates;
  json verify_runs = json::array();
  for (uint32_t round = 0; round < o.verify_rounds; ++round) {
    const InprocClock::time_point t0 = InprocClock::now();
    const double cpu0 = ThreadCpuSeconds();
    const verify::Report report =
        verify::VerifyGradesFile(file, verify::GradesOptions{}, {});
    const double cpu = ThreadCpuSeconds() - cpu0;
    const double wall = static_cast<double>(NsSince(t0)) / 1e9;
    if (!report.valid()) {
      return absl::InternalError(StrCat("ledger-verify grades found ",
                                        report.failed_check(), ": ",
                                        report.reason()));
    }
    if (const auto* v = report.Find("grade_propagated_entries")) {
      propagated = std::get<uint64_t>(*v);
    }
    const double n = static_cast<double>(entries);
    wall_rates.push_back(wall > 0 ? n / wall : 0);
    cpu_rates.push_back(cpu > 0 ? n / cpu : 0);
    verify_runs.push_back(json{{"round", round + 1},
                               {"seconds", wall},
                               {"cpu_seconds", cpu},
                               {"entries_per_second", wall_rates.back()}});
    Progress(StrCat("replay round ", round + 1, ": ",
                    static_cast<uint64_t>(wall_rates.back()), " entries/s (",
                    static_cast<uint64_t>(cpu_rates.back()),
                    " per CPU second)"));
  }
  UnregisterCleanup(cleanup);
  RemoveTree(dir);
  std::vector<double> sorted = wall_rates;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  out["verify"] = {
      {"runs", verify_runs},
      {"entries", entries},
      {"grade_propagated_entries", propagated},
      {"median_entries_per_second", median},
      {"mean_entries_per_cpu_second", Mean(cpu_rates)},
      {"method",
       "tools/verify/grades.h VerifyGradesFile (what ledger-verify grades "
       "runs) on one thread over an entry export file written from the "
       "ledger, page cache warm; median of the rounds"}};
  out["targets"] =
      json::array({json{{"name", "ingest with risk evaluation / without"},
                        {"goal", ">= 0.85"},
                        {"measured", ratio},
                        {"met", ratio >= 0.85}},
                   json{{"name", "ledger-verify grades, entries/s on one core"},
                        {"goal", ">= 200000"},
                        {"measured", median},
                        {"met", median >= 200000}}});
  return out;
}

}  // namespace ledger::bench
