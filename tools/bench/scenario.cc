#include "tools/bench/scenario.h"

#include <signal.h>

#include <filesystem>

#include "base/status_macros.h"
#include "base/strings.h"
#include "tools/bench/bench_tls.h"
#include "tools/bench/cleanup.h"
#include "tools/bench/peers.h"
#include "tools/bench/report.h"
#include "tools/bench/workload.h"

namespace ledger::bench {
namespace {

using nlohmann::json;

WorkloadOptions WorkloadFor(const IngestSpec& spec, const PayloadSeal& seal,
                            uint64_t seed, uint64_t first_event,
                            uint64_t events) {
  WorkloadOptions w;
  w.payload_seal = seal;
  w.tenant = kTenant;
  w.seed = seed;
  w.first_event = first_event;
  w.events = events;
  w.batch_size = spec.per_event_signatures ? 1 : spec.batch_size;
  w.single = spec.rpc == Rpc::kAppend;
  w.event_bytes = spec.event_bytes;
  return w;
}

json SpecJson(const IngestSpec& spec) {
  return json{
      {"name", spec.name},
      {"rpc", std::string(RpcName(spec.rpc))},
      {"signatures", spec.per_event_signatures ? "per_event" : "per_batch"},
      {"batch_size", spec.per_event_signatures ? 1 : spec.batch_size},
      {"clients", spec.clients},
      {"mode", spec.rate > 0 ? "open_loop" : "closed_loop"},
      {"rate_requests_per_second", spec.rate},
      {"stream_messages", spec.stream_messages},
      {"event_bytes", spec.event_bytes}};
}

}  // namespace

absl::StatusOr<std::unique_ptr<BenchNode>> BenchNode::Start(
    const BenchEnv& env, bool health_endpoint, bool http_endpoint) {
  std::unique_ptr<BenchNode> bn(new BenchNode(
      env, crypto::NoteSigner("bench-emitter", crypto::NoteSigType::kEd25519,
                              crypto::Ed25519PrivateKey::Generate())));
  bn->dir_ = MakeTempDir(env.work_dir, "ledger-bench-node");
  if (bn->dir_.empty()) {
    return absl::InternalError("cannot create a temporary directory");
  }
  NodeOptions options;
  options.binary = env.node_binary;
  options.data_dir = bn->data_dir();
  options.log_path = bn->dir_ + "/node.log";
  options.log_level = env.node_log_level;
  if (env.tls != nullptr) {
    LEDGER_ASSIGN_OR_RETURN(options.access, env.tls->AccessFor(bn->dir_));
  }
  options.health_endpoint = health_endpoint;
  options.http_endpoint = http_endpoint;
  absl::StatusOr<std::unique_ptr<NodeProcess>> node =
      NodeProcess::Start(options);
  const std::string dir = bn->dir_;
  const bool keep = env.keep;
  const pid_t pid = node.ok() ? (*node)->pid() : -1;
  bn->cleanup_ = RegisterCleanup([dir, keep, pid] {
    if (pid > 0) kill(pid, SIGKILL);
    if (!keep) RemoveTree(dir);
  });
  if (!node.ok()) return node.status();
  bn->node_ = *std::move(node);
  LEDGER_RETURN_IF_ERROR(bn->node_->RegisterEmitterKey(bn->emitter_, kTenant));
  LEDGER_ASSIGN_OR_RETURN(bn->payload_seal_,
                          bn->node_->GetPayloadKey(kTenant, "bench-subject"));
  return bn;
}

absl::Status BenchNode::Stop() {
  if (node_ == nullptr) return absl::OkStatus();
  absl::StatusOr<int> code = node_->Stop();
  node_.reset();
  if (!code.ok()) return code.status();
  if (*code != 0) {
    return absl::InternalError(
        StrCat("ledger-node exited with ", *code, "; see ", dir_, "/node.log"));
  }
  return absl::OkStatus();
}

BenchNode::~BenchNode() {
  (void)Stop();
  UnregisterCleanup(cleanup_);
  if (!env_.keep && !dir_.empty()) RemoveTree(dir_);
}

absl::Status ValidateSpec(const IngestSpec& spec) {
  if (spec.events == 0) return absl::InvalidArgumentError("events must be > 0");
  if (spec.clients < 1)
    return absl::InvalidArgumentError("clients must be > 0");
  if (spec.rpc == Rpc::kAppend && !spec.per_event_signatures) {
    return absl::InvalidArgumentError(
        "Append carries one event: use per-event signatures");
  }
  if (spec.rpc == Rpc::kAppendStream && spec.rate > 0) {
    return absl::InvalidArgumentError(
        "open loop (--rate) is for unary RPCs; streams are closed loop");
  }
  if (spec.batch_size == 0) {
    return absl::InvalidArgumentError("batch size must be > 0");
  }
  return absl::OkStatus();
}

absl::StatusOr<json> RunIngest(BenchNode& node, const IngestSpec& spec,
                               uint64_t seed, uint64_t first_event) {
  return RunIngestOn(node.node(), node.emitter().key(), node.payload_seal(),
                     node.data_dir(), spec, seed, first_event);
}

absl::StatusOr<json> RunIngestOn(NodeProcess& node,
                                 const crypto::Ed25519PrivateKey& key,
                                 const PayloadSeal& seal,
                                 const std::string& data_dir,
                                 const IngestSpec& spec, uint64_t seed,
                                 uint64_t first_event) {
  LEDGER_RETURN_IF_ERROR(ValidateSpec(spec));
  LoadOptions load;
  load.rpc = spec.rpc;
  load.clients = spec.clients;
  load.rate = spec.rate;
  load.max_seconds = spec.max_seconds;
  load.stream_messages = spec.stream_messages;
  if (spec.warmup_events > 0) {
    LEDGER_ASSIGN_OR_RETURN(
        std::vector<SignedBatch> warm,
        BuildWorkload(
            WorkloadFor(spec, seal, seed, first_event, spec.warmup_events),
            key));
    LoadOptions closed = load;
    closed.rate = 0;
    LoadResult r = RunLoad(node.emitter_endpoint(), ToMessages(warm), closed);
    if (r.failed_requests > 0) {
      return absl::InternalError(StrCat("warm-up failed: ", r.first_error));
    }
  }
  std::vector<Message> messages;
  {
    LEDGER_ASSIGN_OR_RETURN(
        std::vector<SignedBatch> batches,
        BuildWorkload(
            WorkloadFor(spec, seal, seed, first_event + spec.warmup_events,
                        spec.events),
            key));
    messages = ToMessages(batches);
  }
  LEDGER_ASSIGN_OR_RETURN(auto times0, node.CpuTimes());
  const auto threads0 = ProcessThreadCpu(node.pid());
  const double self0 = SelfCpuSeconds();
  LoadResult r = RunLoad(node.emitter_endpoint(), messages, load);
  LEDGER_ASSIGN_OR_RETURN(auto times1, node.CpuTimes());
  const auto threads1 = ProcessThreadCpu(node.pid());
  const double cpu0 = times0.first + times0.second;
  const double cpu1 = times1.first + times1.second;
  const double self1 = SelfCpuSeconds();
  json out = SpecJson(spec);
  out["transport"] = node.tls() ? "mtls" : "plaintext";
  out["events"] = r.events;
  out["requests"] = r.requests;
  out["streams"] = r.streams;
  out["failed_requests"] = r.failed_requests;
  if (!r.first_error.empty()) out["first_error"] = r.first_error;
  out["seconds"] = r.seconds;
  out["events_per_second"] = r.events_per_second();
  out["requests_per_second"] =
      r.seconds > 0 ? static_cast<double>(r.requests) / r.seconds : 0.0;
  out["latency"] = HistogramJson(r.latency);
  out["latency_unit"] =
      spec.rpc == Rpc::kAppendStream
          ? "per stream (open to final response)"
          : (spec.rate > 0 ? "per request, from due time" : "per request");
  out["node_cpu_seconds"] = cpu1 - cpu0;
  out["node_user_seconds"] = times1.first - times0.first;
  out["node_system_seconds"] = times1.second - times0.second;
  // By thread name; threads that ended during the run are missing.
  out["node_thread_cpu_seconds"] = ThreadCpuDelta(threads0, threads1);
  out["node_cpu_seconds_per_1k_events"] =
      r.events > 0 ? (cpu1 - cpu0) * 1000.0 / static_cast<double>(r.events)
                   : 0.0;
  out["client_cpu_seconds"] = self1 - self0;
  out["ledger_disk_bytes"] = DirectoryBytes(data_dir);
  return out;
}

}  // namespace ledger::bench

namespace ledger::bench {

absl::StatusOr<double> FillLedger(BenchNode& node, uint64_t events,
                                  uint64_t seed, uint64_t first_event) {
  constexpr uint64_t kChunk = 500'000;
  LoadOptions load;
  load.rpc = Rpc::kAppendStream;
  load.clients = 2;
  load.max_seconds = 24 * 3600;
  uint64_t done = 0;
  double seconds = 0;
  while (done < events) {
    WorkloadOptions w;
    w.tenant = kTenant;
    w.seed = seed;
    w.first_event = first_event + done;
    w.events = std::min(kChunk, events - done);
    w.batch_size = 1000;
    w.payload_seal = node.payload_seal();
    std::vector<Message> messages;
    {
      LEDGER_ASSIGN_OR_RETURN(std::vector<SignedBatch> batches,
                              BuildWorkload(w, node.emitter().key()));
      messages = ToMessages(batches);
    }
    LoadResult r = RunLoad(node.node().emitter_endpoint(), messages, load);
    if (r.failed_requests > 0 || r.events != w.events) {
      return absl::InternalError(StrCat("filling the ledger: ", r.events,
                                        " of ", w.events, " events appended; ",
                                        r.first_error));
    }
    done += r.events;
    seconds += r.seconds;
  }
  return seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
}

}  // namespace ledger::bench
