#include "tools/bench/suite.h"

#include <algorithm>
#include <functional>
#include <iostream>

#include "base/status_macros.h"
#include "base/strings.h"
#include "tools/bench/proofs.h"
#include "tools/bench/report.h"

namespace ledger::bench {

using nlohmann::json;

absl::StatusOr<json> RunOnFreshNode(
    const BenchEnv& env, const IngestSpec& spec, const std::string& role,
    const std::function<absl::Status(BenchNode&, json&)>& after) {
  std::cerr << "ledger-bench: " << spec.name << " ..." << std::endl;
  LEDGER_ASSIGN_OR_RETURN(std::unique_ptr<BenchNode> node,
                          BenchNode::Start(env));
  LEDGER_ASSIGN_OR_RETURN(json run, RunIngest(*node, spec, env.seed, 0));
  run["role"] = role;
  if (after) LEDGER_RETURN_IF_ERROR(after(*node, run));
  LEDGER_RETURN_IF_ERROR(node->Stop());
  std::cerr << TextTable(json::array({run}));
  return run;
}

namespace {

// raw_rocksdb, ed25519_batch and ed25519_event, measured now.
absl::StatusOr<json> MeasureCeilings(const BenchEnv& env,
                                     const IngestSpec& batch,
                                     const SuiteOptions& options) {
  std::cerr << "ledger-bench: local peers ..." << std::endl;
  LEDGER_ASSIGN_OR_RETURN(json peers, RunLocalPeers(env, batch, 0));
  peers["ed25519_batch"] = peers["ed25519"];
  peers.erase("ed25519");
  LEDGER_ASSIGN_OR_RETURN(peers["ed25519_event"],
                          RunEd25519Peer(1, options.events));
  return peers;
}

}  // namespace

absl::StatusOr<json> RunSuite(const BenchEnv& env,
                              const SuiteOptions& options) {
  json summary;
  summary["runs"] = json::array();
  IngestSpec base;
  base.events = options.events;
  base.max_seconds = options.max_seconds;
  base.warmup_events = options.warmup_events;
  base.stream_messages = options.stream_messages;

  IngestSpec batch = base;
  batch.name = StrCat("batch-signed AppendBatch b", options.batch_size, " c",
                      options.clients);
  batch.batch_size = options.batch_size;
  batch.clients = options.clients;
  // The ceilings before our runs and again after them (FasterCeilings).
  LEDGER_ASSIGN_OR_RETURN(json ceilings_before,
                          MeasureCeilings(env, batch, options));
  LEDGER_ASSIGN_OR_RETURN(
      json batch_run,
      RunOnFreshNode(
          env, batch, "batch_unary", [&](BenchNode& node, json& run) {
            // Proofs and offline verification at the size this run reached.
            const uint64_t size =
                run["events"].get<uint64_t>() + options.warmup_events;
            LEDGER_ASSIGN_OR_RETURN(v1::Checkpoint cp,
                                    node.node().WaitForCheckpoint(size, 60));
            // Measure proofs once background flushes and compactions are done.
            run["idle_before_proofs"] = node.node().WaitUntilIdle(60);
            ProofOptions po;
            po.requests = options.proof_requests;
            po.seed = env.seed;
            summary["proofs"] = ProofResultJson(
                RunProofs(node.node().reader_endpoint(), cp.size(), po));
            LEDGER_ASSIGN_OR_RETURN(OfflineLedger ledger,
                                    FetchOfflineLedger(node.node(), cp.size()));
            LEDGER_ASSIGN_OR_RETURN(summary["verify_offline"],
                                    RunOfflineVerification(ledger));
            return absl::OkStatus();
          }));
  summary["runs"].push_back(batch_run);

  IngestSpec stream = batch;
  stream.name = StrCat("batch-signed AppendStream b", options.batch_size, " s",
                       options.clients);
  stream.rpc = Rpc::kAppendStream;
  LEDGER_ASSIGN_OR_RETURN(json stream_run,
                          RunOnFreshNode(env, stream, "batch_stream"));
  summary["runs"].push_back(stream_run);

  IngestSpec single = base;
  single.name = StrCat("per-event Append c", options.single_clients);
  single.rpc = Rpc::kAppend;
  single.per_event_signatures = true;
  single.batch_size = 1;
  single.clients = options.single_clients;
  LEDGER_ASSIGN_OR_RETURN(json single_run,
                          RunOnFreshNode(env, single, "event_unary_many"));
  summary["runs"].push_back(single_run);

  IngestSpec event_stream = single;
  event_stream.name = StrCat("per-event AppendStream s", options.clients);
  event_stream.rpc = Rpc::kAppendStream;
  event_stream.clients = options.clients;
  event_stream.stream_messages = 1000;
  LEDGER_ASSIGN_OR_RETURN(json event_stream_run,
                          RunOnFreshNode(env, event_stream, "event_stream"));
  summary["runs"].push_back(event_stream_run);

  // Acknowledgement latency at half of the maximum throughput, open loop.
  IngestSpec lat = base;
  lat.name = StrCat("batch-signed AppendBatch b", options.latency_batch_size,
                    " c", options.clients, " (max)");
  lat.batch_size = options.latency_batch_size;
  lat.clients = options.clients;
  LEDGER_ASSIGN_OR_RETURN(json lat_max,
                          RunOnFreshNode(env, lat, "latency_batch_closed"));
  summary["runs"].push_back(lat_max);
  IngestSpec lat_open = lat;
  lat_open.rate = 0.5 * lat_max["requests_per_second"].get<double>();
  lat_open.name = StrCat("batch-signed AppendBatch b",
                         options.latency_batch_size, " open loop 50%");
  lat_open.clients = std::max(options.clients, 8);
  LEDGER_ASSIGN_OR_RETURN(json lat_open_run,
                          RunOnFreshNode(env, lat_open, "latency_batch_open"));
  summary["runs"].push_back(lat_open_run);
  IngestSpec single_open = single;
  single_open.rate = 0.5 * single_run["requests_per_second"].get<double>();
  single_open.name = "per-event Append open loop 50%";
  LEDGER_ASSIGN_OR_RETURN(
      json single_open_run,
      RunOnFreshNode(env, single_open, "latency_event_open"));
  summary["runs"].push_back(single_open_run);

  LEDGER_ASSIGN_OR_RETURN(json ceilings_after,
                          MeasureCeilings(env, batch, options));
  summary["peers"] = FasterCeilings(ceilings_before, ceilings_after);
  if (options.postgres.enabled) {
    std::cerr << "ledger-bench: PostgreSQL sweep ..." << std::endl;
    LEDGER_ASSIGN_OR_RETURN(summary["peers"]["postgres"],
                            RunPgSweep(env, options.postgres));
  }
  AddRatiosAndTargets(summary);
  return summary;
}

}  // namespace ledger::bench
