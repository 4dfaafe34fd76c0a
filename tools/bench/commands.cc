#include "tools/bench/commands.h"

#include <chrono>
#include <iostream>

#include "base/status_macros.h"
#include "base/strings.h"
#include "ledger/v1/proof.grpc.pb.h"
#include "tools/bench/proofs.h"
#include "tools/bench/report.h"

namespace ledger::bench {
namespace {

using nlohmann::json;

}  // namespace

absl::StatusOr<json> IngestCommand(const BenchEnv& env, const IngestSpec& spec,
                                   bool peers) {
  LEDGER_RETURN_IF_ERROR(ValidateSpec(spec));
  json summary;
  {
    LEDGER_ASSIGN_OR_RETURN(std::unique_ptr<BenchNode> node,
                            BenchNode::Start(env));
    LEDGER_ASSIGN_OR_RETURN(json run, RunIngest(*node, spec, env.seed, 0));
    LEDGER_RETURN_IF_ERROR(node->Stop());
    summary["runs"] = json::array({run});
  }
  if (!peers) return summary;
  LEDGER_ASSIGN_OR_RETURN(summary["peers"],
                          RunLocalPeers(env, spec, spec.warmup_events));
  const double ours = summary["runs"][0]["events_per_second"].get<double>();
  const double raw =
      summary["peers"]["raw_rocksdb"]["events_per_second"].get<double>();
  const json& ed = summary["peers"]["ed25519"];
  const double sig = ed["verifications_per_second"].get<double>() *
                     ed["batch_size"].get<double>();
  summary["ratios"] = json{{"vs_raw_rocksdb", raw > 0 ? ours / raw : 0.0},
                           {"vs_ed25519_ceiling", sig > 0 ? ours / sig : 0.0}};
  return summary;
}

absl::StatusOr<json> FloodCommand(const BenchEnv& env,
                                  const FloodOptions& options) {
  LEDGER_ASSIGN_OR_RETURN(std::unique_ptr<BenchNode> node,
                          BenchNode::Start(env, /*health_endpoint=*/true));
  std::cerr << "ledger-bench: " << options.clients << " clients x "
            << options.outstanding << " calls for " << options.seconds
            << " s, then " << options.streams << " open streams ..."
            << std::endl;
  LEDGER_ASSIGN_OR_RETURN(
      FloodResult result,
      RunFlood(node->node(), node->emitter().key(), options));
  // What was measured is reported even if the node then fails to stop
  // (that is a finding too).
  json out{{"flood", FloodToJson(options, result)}};
  const auto stop_start = std::chrono::steady_clock::now();
  absl::Status stopped = node->Stop();
  out["flood"]["stop_seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                    stop_start)
          .count();
  if (!stopped.ok()) {
    out["flood"]["stop_error"] = std::string(ToStd(stopped.message()));
  }
  return out;
}

absl::StatusOr<json> ProofsCommand(const BenchEnv& env, uint64_t size,
                                   uint64_t requests, uint64_t warmup,
                                   int clients, const std::string& connect) {
  ProofOptions po;
  po.requests = requests;
  po.warmup = warmup;
  po.clients = clients;
  po.seed = env.seed;
  const auto report = [&](const ProofResult& p) {
    json j = ProofResultJson(p);
    j["clients"] = clients;
    return j;
  };
  if (!connect.empty()) {
    client_tls::ClientFlags flags = env.client;
    flags.address = connect;
    LEDGER_ASSIGN_OR_RETURN(client_tls::Endpoint endpoint,
                            client_tls::ResolveEndpoint(flags, connect));
    auto stub = v1::Proof::NewStub(client_tls::CreateChannel(endpoint));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    v1::Checkpoint cp;
    grpc::Status status =
        stub->GetCheckpoint(&ctx, v1::GetCheckpointRequest(), &cp);
    if (!status.ok()) {
      return absl::UnavailableError(
          StrCat("GetCheckpoint from ", connect, ": ", status.error_message()));
    }
    return json{{"connect", connect},
                {"transport", endpoint.tls ? "mtls" : "plaintext"},
                {"identity", endpoint.identity},
                {"proofs", report(RunProofs(endpoint, cp.size(), po))}};
  }
  LEDGER_ASSIGN_OR_RETURN(std::unique_ptr<BenchNode> node,
                          BenchNode::Start(env));
  std::cerr << "ledger-bench: filling the ledger with " << size << " events ..."
            << std::endl;
  LEDGER_ASSIGN_OR_RETURN(double fill_rate,
                          FillLedger(*node, size, env.seed, 0));
  LEDGER_ASSIGN_OR_RETURN(v1::Checkpoint cp,
                          node->node().WaitForCheckpoint(size, 120));
  const bool idle = node->node().WaitUntilIdle(60);
  ProofResult p = RunProofs(node->node().reader_endpoint(), cp.size(), po);
  LEDGER_RETURN_IF_ERROR(node->Stop());
  return json{{"fill_events_per_second", fill_rate},
              {"idle_before_proofs", idle},
              {"proofs", report(p)}};
}

absl::StatusOr<json> VerifyOfflineCommand(const BenchEnv& env,
                                          uint64_t entries) {
  LEDGER_ASSIGN_OR_RETURN(std::unique_ptr<BenchNode> node,
                          BenchNode::Start(env));
  LEDGER_RETURN_IF_ERROR(FillLedger(*node, entries, env.seed, 0).status());
  LEDGER_ASSIGN_OR_RETURN(OfflineLedger ledger,
                          FetchOfflineLedger(node->node(), entries));
  LEDGER_RETURN_IF_ERROR(node->Stop());
  LEDGER_ASSIGN_OR_RETURN(json v, RunOfflineVerification(ledger));
  return json{{"verify_offline", v}};
}

absl::StatusOr<json> PeersCommand(const BenchEnv& env, const IngestSpec& spec,
                                  const PgSweepOptions& postgres) {
  LEDGER_ASSIGN_OR_RETURN(json peers, RunLocalPeers(env, spec, 0));
  if (postgres.enabled) {
    LEDGER_ASSIGN_OR_RETURN(peers["postgres"], RunPgSweep(env, postgres));
  }
  return json{{"peers", peers}};
}

}  // namespace ledger::bench
