#include "tools/bench/tls_overhead.h"

#include <algorithm>
#include <iostream>
#include <map>
#include <utility>
#include <vector>

#include "base/status_macros.h"
#include "base/strings.h"
#include "tools/bench/bench_tls.h"
#include "tools/bench/suite.h"

namespace ledger::bench {

using nlohmann::json;

std::optional<double> PairedRatio(const json& runs) {
  // round -> {plaintext, mtls} events per second.
  std::map<int64_t, std::pair<std::optional<double>, std::optional<double>>>
      by_round;
  for (const json& r : runs) {
    if (!r.contains("round") || !r.contains("events_per_second")) continue;
    auto& pair = by_round[r["round"].get<int64_t>()];
    const double eps = r["events_per_second"].get<double>();
    if (r.value("transport", std::string()) == "mtls") {
      pair.second = eps;
    } else {
      pair.first = eps;
    }
  }
  std::vector<double> ratios;
  for (const auto& [round, pair] : by_round) {
    if (pair.first && pair.second && *pair.first > 0) {
      ratios.push_back(*pair.second / *pair.first);
    }
  }
  if (ratios.empty()) return std::nullopt;
  std::sort(ratios.begin(), ratios.end());
  const size_t n = ratios.size();
  return n % 2 == 1 ? ratios[n / 2] : (ratios[n / 2 - 1] + ratios[n / 2]) / 2;
}

absl::StatusOr<json> RunTlsOverhead(const BenchEnv& env,
                                    const TlsOverheadOptions& options) {
  if (options.rounds < 1) {
    return absl::InvalidArgumentError("--rounds must be at least 1");
  }
  BenchEnv plain = env;
  plain.tls = nullptr;
  BenchEnv mtls = env;
  if (mtls.tls == nullptr) {
    LEDGER_ASSIGN_OR_RETURN(
        std::unique_ptr<BenchTls> tls,
        BenchTls::Create(env.dev_ca_script, env.work_dir, kTenant, env.keep));
    mtls.tls = std::move(tls);
  }

  IngestSpec base;
  base.events = options.events;
  base.max_seconds = options.max_seconds;
  base.warmup_events = options.warmup_events;
  IngestSpec batch = base;
  batch.name = StrCat("batch-signed AppendBatch b", options.batch_size, " c",
                      options.batch_clients);
  batch.batch_size = options.batch_size;
  batch.clients = options.batch_clients;
  IngestSpec single = base;
  single.name = StrCat("per-event Append c", options.single_clients);
  single.rpc = Rpc::kAppend;
  single.per_event_signatures = true;
  single.batch_size = 1;
  single.clients = options.single_clients;
  LEDGER_RETURN_IF_ERROR(ValidateSpec(batch));
  LEDGER_RETURN_IF_ERROR(ValidateSpec(single));

  struct Scenario {
    const char* key;
    IngestSpec spec;
    json runs = json::array();
  };
  Scenario scenarios[] = {{"batch", batch}, {"event", single}};
  json all = json::array();
  for (int round = 0; round < options.rounds; ++round) {
    for (Scenario& sc : scenarios) {
      const bool tls_first = round % 2 == 1;
      for (const bool tls : {tls_first, !tls_first}) {
        IngestSpec spec = sc.spec;
        const char* transport = tls ? "mtls" : "plaintext";
        spec.name = StrCat(sc.spec.name, " ", transport, " #", round + 1);
        LEDGER_ASSIGN_OR_RETURN(json run,
                                RunOnFreshNode(tls ? mtls : plain, spec,
                                               StrCat(sc.key, "_", transport)));
        if (run.value("failed_requests", uint64_t{0}) > 0) {
          return absl::InternalError(
              StrCat(spec.name, ": ", run["failed_requests"].get<uint64_t>(),
                     " requests failed; first: ",
                     run.value("first_error", std::string("?"))));
        }
        run["round"] = round;
        sc.runs.push_back(run);
        all.push_back(std::move(run));
      }
    }
  }

  json summary;
  summary["runs"] = all;
  summary["rounds"] = options.rounds;
  json ratios = json::object();
  json targets = json::array();
  const std::optional<double> batch_ratio = PairedRatio(scenarios[0].runs);
  const std::optional<double> event_ratio = PairedRatio(scenarios[1].runs);
  if (batch_ratio) ratios["batch_signed_mtls_vs_plaintext"] = *batch_ratio;
  if (event_ratio) ratios["per_event_mtls_vs_plaintext"] = *event_ratio;
  const std::string note =
      StrCat("median over ", options.rounds,
             " rounds of mTLS / plaintext events/s in the same round");
  AddTarget(targets,
            StrCat("batch-signed ingest (", batch.name,
                   ") over mTLS with authorization vs plaintext"),
            ">= 0.85", batch_ratio, true, kTlsBatchTarget, note);
  AddTarget(targets,
            StrCat("per-event Append from ", options.single_clients,
                   " clients over mTLS with authorization vs plaintext"),
            ">= 0.70", event_ratio, true, kTlsSingleTarget, note);
  summary["ratios"] = ratios;
  summary["targets"] = targets;
  return summary;
}

}  // namespace ledger::bench
