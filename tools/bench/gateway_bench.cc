#include "tools/bench/gateway_bench.h"

#include <google/protobuf/util/json_util.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <latch>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "node/convert.h"
#include "tools/gateway/appender.h"
#include "tools/gateway/gateway.h"
#include "tools/gateway/server.h"
#include "tools/ledgerctl/append.h"

namespace ledger::bench {
namespace {

using json = nlohmann::json;

// `n` OpenLineage COMPLETE RunEvents of runs "<side>-<round>-<i>", each a
// cleaning step from one input to one output version, timed now.
std::vector<std::string> RunEvents(std::string_view side, int round,
                                   uint64_t n) {
  const std::string now = absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(),
                                           absl::UTCTimeZone());
  std::vector<std::string> out;
  out.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    const std::string v = StrCat("v", i + 1);
    json e = {
        {"eventType", "COMPLETE"},
        {"eventTime", now},
        {"producer",
         "https://github.com/OpenLineage/OpenLineage/tree/1.24.2/client/"
         "python"},
        {"schemaURL",
         "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"},
        {"run", {{"runId", StrCat(side, "-", round, "-", i)}}},
        {"job", {{"namespace", "bench://pipelines"}, {"name", "clean_labels"}}},
        {"inputs",
         {{{"namespace", "s3://bench"},
           {"name", "labels/raw"},
           {"facets", {{"version", {{"datasetVersion", v}}}}}}}},
        {"outputs",
         {{{"namespace", "s3://bench"},
           {"name", "labels/clean"},
           {"facets", {{"version", {{"datasetVersion", v}}}}},
           {"outputFacets",
            {{"outputStatistics", {{"rowCount", 1000 + i % 100}}}}}}}},
    };
    out.push_back(e.dump());
  }
  return out;
}

gateway::MappingOptions Mapping() {
  gateway::MappingOptions m;
  m.tenant = kTenant;
  m.openlineage_type = "data.cleaned";
  return m;
}

json Rate(uint64_t events, double seconds, uint64_t failed) {
  return {{"events", events},
          {"seconds", seconds},
          {"events_per_second", seconds > 0 ? events / seconds : 0.0},
          {"failed", failed}};
}

// CPU seconds of the node and of this process (the gateway and its HTTP
// clients, or ledgerctl's code) over a timed side: where its time went.
struct CpuMark {
  double node = 0;
  double self = 0;
};

CpuMark MarkCpu(const NodeProcess& node) {
  CpuMark m;
  m.node = node.CpuSeconds().value_or(0);
  m.self = SelfCpuSeconds();
  return m;
}

void AddCpu(json& r, const CpuMark& before, const CpuMark& after,
            uint64_t events) {
  const double k = events > 0 ? 1000.0 / static_cast<double>(events) : 0;
  r["node_cpu_s_per_1k_events"] = (after.node - before.node) * k;
  r["client_cpu_s_per_1k_events"] = (after.self - before.self) * k;
}

// The gRPC side: ledgerctl append's preparation and sending.
absl::StatusOr<json> RunGrpc(NodeProcess& node, const crypto::NoteSigner& key,
                             const GatewayBenchOptions& options, int round) {
  std::string lines;
  for (const std::string& body : RunEvents("grpc", round, options.events)) {
    LEDGER_ASSIGN_OR_RETURN(gateway::Mapped m,
                            gateway::MapOpenLineage(body, Mapping(), 1));
    std::string line;
    google::protobuf::util::JsonPrintOptions print;
    print.preserve_proto_field_names = true;
    if (!google::protobuf::util::MessageToJsonString(
             node::EventToProto(m.events[0]), &line, print)
             .ok()) {
      return absl::InternalError("cannot print an event as JSON");
    }
    StrAppend(&lines, line, "\n");
  }
  auto stub =
      v1::Ingest::NewStub(client_tls::CreateChannel(node.emitter_endpoint()));
  ctl::ConnectionOptions conn;
  conn.timeout_seconds = 60;
  std::ostringstream out, err;
  const CpuMark cpu_before = MarkCpu(node);
  const absl::Time start = absl::Now();
  LEDGER_ASSIGN_OR_RETURN(
      std::vector<ctl::PreparedRequest> requests,
      ctl::PrepareRequests(lines, key.key(), options.batch_size, false, 0));
  const ctl::AppendStats stats =
      ctl::SendRequests(*stub, std::move(requests), false, options.in_flight,
                        conn, out, err, false);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const CpuMark cpu_after = MarkCpu(node);
  if (!stats.first_error.ok()) return stats.first_error;
  json r = Rate(stats.acknowledged, seconds, stats.failed_requests);
  AddCpu(r, cpu_before, cpu_after, stats.acknowledged);
  r["batch_size"] = options.batch_size;
  r["in_flight"] = options.in_flight;
  return r;
}

// The HTTP side: an in-process gateway, `connections` keep-alive clients.
absl::StatusOr<json> RunHttp(NodeProcess& node, const crypto::NoteSigner& key,
                             const GatewayBenchOptions& options, int round) {
  const std::vector<std::string> bodies =
      RunEvents("http", round, options.events);
  gateway::AppenderOptions a;
  a.senders = options.senders;
  a.retry_for = absl::Seconds(30);
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(-1);
  gateway::Appender appender(
      gateway::NewGrpcLedgerClient(
          client_tls::CreateChannel(node.emitter_endpoint(), args),
          absl::Seconds(60)),
      key.key(), a);
  gateway::GatewayOptions g;
  g.mapping = Mapping();
  gateway::Gateway gw(g, &appender,
                      [] { return absl::ToUnixNanos(absl::Now()); });
  gateway::ServerOptions s;
  s.port = 0;
  s.threads = options.connections;  // one per keep-alive connection
  gateway::HttpServer server(&gw, s);
  LEDGER_ASSIGN_OR_RETURN(int port, server.Start());

  std::atomic<uint64_t> ok{0}, failed{0}, resent{0};
  std::atomic<size_t> next{0};
  std::string first_error;
  std::mutex first_error_mu;
  // Every client opens its keep-alive connection (GET /healthz) before the
  // clock starts: the server's listen backlog is small, and a burst of
  // connects is not what the comparison measures.
  std::latch connected(options.connections);
  absl::Time start;
  CpuMark cpu_before;
  std::once_flag started;
  std::vector<std::thread> clients;
  for (int c = 0; c < options.connections; ++c) {
    clients.emplace_back([&] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      client.set_read_timeout(120, 0);
      for (int attempt = 0; attempt < 20; ++attempt) {
        if (httplib::Result r = client.Get("/healthz"); r && r->status == 200) {
          break;
        }
      }
      connected.arrive_and_wait();
      std::call_once(started, [&] {
        cpu_before = MarkCpu(node);
        start = absl::Now();
      });
      for (size_t i = next++; i < bodies.size(); i = next++) {
        // A transport error (a connection the server dropped) is sent
        // again, as OpenLineage's client does: the gateway's answers are
        // idempotent. An HTTP error status is a failure.
        httplib::Result r =
            client.Post("/api/v1/lineage", bodies[i], "application/json");
        for (int attempt = 1; !r && attempt < 3; ++attempt) {
          ++resent;
          r = client.Post("/api/v1/lineage", bodies[i], "application/json");
        }
        if (r && r->status == 200) {
          ++ok;
          continue;
        }
        ++failed;
        std::lock_guard<std::mutex> lock(first_error_mu);
        if (first_error.empty()) {
          first_error = r ? StrCat(r->status, " ", r->body)
                          : StrCat("HTTP error ", static_cast<int>(r.error()));
        }
      }
    });
  }
  for (std::thread& t : clients) t.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const CpuMark cpu_after = MarkCpu(node);
  server.Stop();
  if (failed > 0) {
    return absl::InternalError(StrCat(
        failed.load(), " gateway requests failed; first: ", first_error));
  }
  json r = Rate(ok, seconds, failed);
  AddCpu(r, cpu_before, cpu_after, ok);
  r["connections"] = options.connections;
  r["resent"] = resent.load();
  r["batches"] = appender.batches();
  r["events_per_batch"] =
      appender.batches() > 0 ? static_cast<double>(ok) / appender.batches() : 0;
  return r;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

absl::StatusOr<json> RunGatewayBench(const BenchEnv& env,
                                     const GatewayBenchOptions& options) {
  if (options.rounds < 1 || options.events < 1 || options.connections < 1 ||
      options.senders < 1 || options.batch_size < 1 || options.in_flight < 1) {
    return absl::InvalidArgumentError(
        "--rounds, --events, --connections, --senders, --batch-size and "
        "--in-flight must be at least 1");
  }
  LEDGER_ASSIGN_OR_RETURN(std::unique_ptr<BenchNode> bench_node,
                          BenchNode::Start(env));
  NodeProcess& node = bench_node->node();
  const crypto::NoteSigner key("bench-gateway", crypto::NoteSigType::kEd25519,
                               crypto::Ed25519PrivateKey::Generate());
  LEDGER_RETURN_IF_ERROR(
      node.RegisterEmitterKey(key, kTenant, "ledger-gateway"));

  json runs = json::array();
  std::vector<double> ratios;
  for (int round = 0; round < options.rounds; ++round) {
    json http, grpc;
    for (const bool gateway_now : {round % 2 == 0, round % 2 != 0}) {
      if (gateway_now) {
        LEDGER_ASSIGN_OR_RETURN(http, RunHttp(node, key, options, round));
      } else {
        LEDGER_ASSIGN_OR_RETURN(grpc, RunGrpc(node, key, options, round));
      }
    }
    const double g = grpc["events_per_second"].get<double>();
    const double ratio =
        g > 0 ? http["events_per_second"].get<double>() / g : 0;
    ratios.push_back(ratio);
    runs.push_back({{"round", round},
                    {"gateway_first", round % 2 == 0},
                    {"gateway", http},
                    {"grpc", grpc},
                    {"ratio", ratio}});
  }
  const double ratio = Median(ratios);
  return json{{"runs", runs},
              {"ratio", ratio},
              {"target", kGatewayTarget},
              {"meets_target", ratio >= kGatewayTarget},
              {"tls", env.tls != nullptr}};
}

}  // namespace ledger::bench
