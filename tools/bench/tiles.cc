#include "tools/bench/tiles.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "base/status_macros.h"
#include "base/strings.h"
#include "tools/bench/histogram.h"
#include "tools/bench/node_process.h"
#include "tools/bench/report.h"

namespace ledger::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kFullTileBytes = 256 * 32;

std::unique_ptr<httplib::ClientImpl> Connect(const NodeProcess& node) {
  const std::string& target = node.http_target();
  const size_t colon = target.rfind(':');
  const std::string host = target.substr(0, colon);
  const int port = std::stoi(target.substr(colon + 1));
  std::unique_ptr<httplib::ClientImpl> client;
  if (node.tls()) {
    const client_tls::ClientSettings& reader = node.reader_settings();
    auto ssl = std::make_unique<httplib::SSLClient>(host, port, reader.cert,
                                                    reader.key);
    ssl->set_ca_cert_path(reader.ca.c_str());
    ssl->enable_server_certificate_verification(true);
    client = std::move(ssl);
  } else {
    client = std::make_unique<httplib::ClientImpl>(host, port);
  }
  client->set_keep_alive(true);
  client->set_connection_timeout(10, 0);
  client->set_read_timeout(10, 0);
  return client;
}

}  // namespace

absl::StatusOr<nlohmann::json> TilesCommand(const BenchEnv& env,
                                            const TileBenchOptions& options) {
  if (options.connections < 1 || options.requests < 1 ||
      options.max_seconds <= 0) {
    return absl::InvalidArgumentError(
        "--connections, --requests and --seconds must be positive");
  }
  LEDGER_ASSIGN_OR_RETURN(
      std::unique_ptr<BenchNode> node,
      BenchNode::Start(env, /*health_endpoint=*/false, /*http_endpoint=*/true));
  std::cerr << "ledger-bench: filling the ledger with " << options.entries
            << " events ..." << std::endl;
  LEDGER_ASSIGN_OR_RETURN(double fill_rate,
                          FillLedger(*node, options.entries, env.seed, 0));
  LEDGER_RETURN_IF_ERROR(
      node->node().WaitForCheckpoint(options.entries, 120).status());
  const bool idle = node->node().WaitUntilIdle(60);
  std::cerr << "ledger-bench: " << options.connections << " connections x GET "
            << options.path << " for at most " << options.requests
            << " requests or " << options.max_seconds << " s ..." << std::endl;

  std::atomic<uint64_t> issued{0}, failed{0};
  std::vector<Histogram> latency(options.connections);
  std::vector<std::string> errors(options.connections);
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline =
      start + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(options.max_seconds));
  std::vector<std::thread> threads;
  for (int c = 0; c < options.connections; ++c) {
    threads.emplace_back([&, c] {
      std::unique_ptr<httplib::ClientImpl> client = Connect(node->node());
      while (Clock::now() < deadline &&
             issued.fetch_add(1, std::memory_order_relaxed) <
                 options.requests) {
        const Clock::time_point t0 = Clock::now();
        httplib::Result r = client->Get(options.path.c_str());
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            Clock::now() - t0)
                            .count();
        if (!r || r->status != 200 || r->body.size() != kFullTileBytes) {
          failed.fetch_add(1, std::memory_order_relaxed);
          if (errors[c].empty()) {
            errors[c] =
                !r ? StrCat("request failed: ", httplib::to_string(r.error()))
                   : StrCat("HTTP ", r->status, ", ", r->body.size(),
                            " bytes: ", r->body.substr(0, 200));
          }
          continue;
        }
        latency[c].Record(static_cast<uint64_t>(ns));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  Histogram all;
  std::string first_error;
  for (int c = 0; c < options.connections; ++c) {
    all.Merge(latency[c]);
    if (first_error.empty()) first_error = errors[c];
  }
  const bool tls = node->node().tls();
  LEDGER_RETURN_IF_ERROR(node->Stop());
  nlohmann::json tiles{
      {"path", options.path},
      {"transport", tls ? "mtls" : "plaintext"},
      {"connections", options.connections},
      {"requests", all.count()},
      {"failed", failed.load()},
      {"seconds", seconds},
      {"requests_per_second", seconds > 0 ? all.count() / seconds : 0.0},
      {"latency", HistogramJson(all)}};
  if (!first_error.empty()) tiles["first_error"] = first_error;
  return nlohmann::json{{"fill_events_per_second", fill_rate},
                        {"idle_before_requests", idle},
                        {"tiles", tiles}};
}

}  // namespace ledger::bench
