#include "tools/bench/growth.h"

#include <algorithm>
#include <chrono>
#include <iostream>

#include "base/status_macros.h"
#include "base/strings.h"
#include "grpcpp/grpcpp.h"
#include "ledger/v1/query.grpc.pb.h"
#include "tools/bench/proofs.h"
#include "tools/bench/report.h"
#include "tools/bench/workload.h"

namespace ledger::bench {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Mean size of the entries [begin, end).
absl::StatusOr<double> MeanEntryBytes(NodeProcess& node, uint64_t begin,
                                      uint64_t end) {
  auto stub = v1::Query::NewStub(node.channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::GetEntriesRequest request;
  request.set_start(begin);
  request.set_end(end);
  auto reader = stub->GetEntries(&ctx, request);
  v1::Entry entry;
  uint64_t n = 0, bytes = 0;
  while (reader->Read(&entry)) {
    ++n;
    bytes += entry.entry_bytes().size();
  }
  grpc::Status s = reader->Finish();
  if (!s.ok() || n == 0) {
    return absl::UnavailableError(StrCat("GetEntries: ", s.error_message()));
  }
  return static_cast<double>(bytes) / static_cast<double>(n);
}

json LoadJson(const LoadResult& r, double cpu) {
  return json{{"events", r.events},
              {"seconds", r.seconds},
              {"events_per_second", r.events_per_second()},
              {"failed_requests", r.failed_requests},
              {"node_cpu_seconds_per_1k_events",
               r.events > 0 ? cpu * 1000 / static_cast<double>(r.events) : 0.0},
              {"stream_latency", HistogramJson(r.latency)}};
}

void AddGrowthTargets(json& summary) {
  const json& steps = summary["steps"];
  json targets = json::array();
  if (steps.size() >= 2) {
    double first = steps.front()["events_per_second"].get<double>();
    double last = steps.back()["events_per_second"].get<double>();
    double ratio = first > 0 ? last / first : 0;
    targets.push_back(
        json{{"name", "ingest rate at the final size vs empty"},
             {"goal", ">= 0.80"},
             {"measured", ratio},
             {"met", ratio >= 0.8},
             {"note", "sustained rate of the last step / of the first"}});
  }
  if (!steps.empty()) {
    const json& s = steps.back();
    double inc = s["proofs"]["inclusion"]["latency"]["p99_us"].get<double>();
    double con = s["proofs"]["consistency"]["latency"]["p99_us"].get<double>();
    const std::string at = StrCat("at ", s["size"].get<uint64_t>(), " entries",
                                  RpcFloorNote(s["proofs"]));
    targets.push_back(json{{"name", "inclusion proof p99 (us)"},
                           {"goal", "<= 200"},
                           {"measured", inc},
                           {"met", inc <= 200},
                           {"note", at}});
    targets.push_back(json{{"name", "consistency proof p99 (us)"},
                           {"goal", "<= 300"},
                           {"measured", con},
                           {"met", con <= 300},
                           {"note", at}});
  }
  if (summary.contains("final_disk_vs_entry_bytes")) {
    double r = summary["final_disk_vs_entry_bytes"].get<double>();
    targets.push_back(json{{"name", "on-disk bytes vs raw entry bytes"},
                           {"goal", "<= 1.5"},
                           {"measured", r},
                           {"met", r <= 1.5}});
  }
  summary["targets"] = targets;
}

}  // namespace

absl::StatusOr<json> RunGrowth(
    const BenchEnv& env, const GrowthOptions& options,
    const std::function<void(const json&)>& on_step) {
  const Clock::time_point stop_at =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(options.max_seconds));
  LEDGER_ASSIGN_OR_RETURN(std::unique_ptr<BenchNode> node,
                          BenchNode::Start(env));
  json summary{{"steps", json::array()}};
  LoadOptions load;
  load.rpc = Rpc::kAppendStream;
  load.clients = options.clients;
  load.stream_messages = options.stream_messages;
  load.max_seconds = options.max_seconds;
  uint64_t sent = 0;  // events of ours in the ledger
  // Warm-up events count towards the size: at most a tenth of a step.
  const uint64_t warmup = std::min(options.warmup_events, options.step / 10);
  if (warmup > 0) {
    WorkloadOptions w;
    w.tenant = kTenant;
    w.seed = env.seed;
    w.events = warmup;
    w.batch_size = options.batch_size;
    w.payload_seal = node->payload_seal();
    LEDGER_ASSIGN_OR_RETURN(std::vector<SignedBatch> batches,
                            BuildWorkload(w, node->emitter().key()));
    LoadResult r =
        RunLoad(node->node().emitter_endpoint(), ToMessages(batches), load);
    if (r.failed_requests > 0) {
      return absl::InternalError(StrCat("warm-up failed: ", r.first_error));
    }
    sent = r.events;
    node->node().WaitUntilIdle(60);
  }
  const uint64_t step = std::max<uint64_t>(options.step, 1);
  double mean_entry = 0;
  uint64_t last_size = 0;
  while (sent < options.target && Clock::now() < stop_at) {
    const uint64_t chunk = std::min(step, options.target - sent);
    const uint64_t probe = std::min(options.probe_events, chunk);
    std::cerr << "ledger-bench: growth step at " << sent << " events ..."
              << std::endl;
    std::vector<Message> probe_msgs, fill_msgs;
    {
      WorkloadOptions w;
      w.tenant = kTenant;
      w.seed = env.seed;
      w.first_event = sent;
      w.events = chunk;
      w.batch_size = options.batch_size;
      w.payload_seal = node->payload_seal();
      LEDGER_ASSIGN_OR_RETURN(std::vector<SignedBatch> batches,
                              BuildWorkload(w, node->emitter().key()));
      std::vector<Message> all = ToMessages(batches);
      const size_t split = static_cast<size_t>(
          (probe + options.batch_size - 1) / options.batch_size);
      probe_msgs.assign(all.begin(), all.begin() + split);
      fill_msgs.assign(all.begin() + split, all.end());
    }
    json s{{"size_before", sent}};
    LEDGER_ASSIGN_OR_RETURN(double c0, node->node().CpuSeconds());
    LoadResult p = RunLoad(node->node().emitter_endpoint(), probe_msgs, load);
    LEDGER_ASSIGN_OR_RETURN(double c1, node->node().CpuSeconds());
    LoadResult f = RunLoad(node->node().emitter_endpoint(), fill_msgs, load);
    LEDGER_ASSIGN_OR_RETURN(double c2, node->node().CpuSeconds());
    if (p.failed_requests + f.failed_requests > 0) {
      return absl::InternalError(
          StrCat("ingest failed: ", p.first_error, f.first_error));
    }
    sent += p.events + f.events;
    s["probe"] = LoadJson(p, c1 - c0);
    s["fill"] = LoadJson(f, c2 - c1);
    s["events_per_second"] =
        static_cast<double>(p.events + f.events) / (p.seconds + f.seconds);
    s["node_cpu_seconds_per_1k_events"] =
        (c2 - c0) * 1000 / static_cast<double>(p.events + f.events);
    LEDGER_ASSIGN_OR_RETURN(v1::Checkpoint cp,
                            node->node().WaitForCheckpoint(sent, 120));
    s["size"] = cp.size();
    s["idle_before_proofs"] = node->node().WaitUntilIdle(120);
    ProofOptions po;
    po.requests = options.proof_requests;
    po.seed = env.seed + sent;
    ProofResult proofs =
        RunProofs(node->node().reader_endpoint(), cp.size(), po);
    s["proofs"] = json{
        {"inclusion",
         json{{"latency", HistogramJson(proofs.inclusion.latency)}}},
        {"consistency",
         json{{"latency", HistogramJson(proofs.consistency.latency)}}},
        {"rpc_floor", json{{"latency", HistogramJson(proofs.floor.latency)}}},
        {"failed", proofs.inclusion.failed + proofs.consistency.failed +
                       proofs.floor.failed}};
    last_size = cp.size();
    const uint64_t sample_begin = cp.size() > 2000 ? cp.size() - 2000 : 0;
    LEDGER_ASSIGN_OR_RETURN(
        mean_entry, MeanEntryBytes(node->node(), sample_begin, cp.size()));
    const uint64_t disk = DirectoryBytes(node->data_dir());
    s["mean_entry_bytes"] = mean_entry;
    s["disk_bytes"] = disk;
    s["disk_bytes_per_entry"] = static_cast<double>(disk) / cp.size();
    s["disk_vs_entry_bytes"] = static_cast<double>(disk) /
                               (mean_entry * static_cast<double>(cp.size()));
    summary["steps"].push_back(s);
    AddGrowthTargets(summary);
    if (on_step) on_step(summary);
  }
  // A clean stop flushes memtables; the disk figure that counts.
  const uint64_t size = std::max<uint64_t>(last_size, 1);
  LEDGER_RETURN_IF_ERROR(node->Stop());
  const uint64_t disk = DirectoryBytes(node->data_dir());
  summary["final_size"] = size;
  summary["final_disk_bytes"] = disk;
  summary["final_disk_bytes_per_entry"] = static_cast<double>(disk) / size;
  if (mean_entry > 0) {
    summary["final_disk_vs_entry_bytes"] =
        static_cast<double>(disk) / (mean_entry * static_cast<double>(size));
  }
  AddGrowthTargets(summary);
  return summary;
}

}  // namespace ledger::bench
