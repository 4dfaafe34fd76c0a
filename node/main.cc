// ledger-node: serves the annotation ledger over gRPC.
//
//   ledger-node --data DIR [--listen HOST:PORT] [--config FILE]
//               [--origin ORIGIN] [--node-name NAME] [--log-level LEVEL]
//   ledger-node keys --data DIR
//
// Logs go to stderr. stdout carries one machine-readable line once the
// server is up: "listening on HOST:PORT" (the real port when PORT was 0).
// SIGINT/SIGTERM shut down gracefully. Exit codes: 0 clean shutdown,
// 1 runtime error, 2 bad usage or configuration, 3 the ledger failed
// verification (the node refuses to serve it).

#include <pthread.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>
#include <string>

#include "base/strings.h"
#include "crypto/note.h"
#include "node/config.h"
#include "node/data_dir.h"
#include "node/node.h"

namespace ledger::node {
namespace {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitDataLoss = 3;

std::string_view View(const absl::Status& s) { return ToStd(s.message()); }

int PrintKeys(const std::string& data_dir) {
  absl::StatusOr<NodeIdentity> id = LoadDataDir(data_dir);
  if (!id.ok()) {
    spdlog::error("{}", View(id.status()));
    return absl::IsNotFound(id.status()) ? kExitUsage : kExitError;
  }
  for (const crypto::NoteVerifier& v : id->verifiers()) {
    std::printf("%s\n", crypto::FormatVerifierKey(v).c_str());
  }
  return 0;
}

int Run(const std::optional<std::string>& config_file,
        const ConfigOverrides& overrides, const sigset_t& signals) {
  NodeConfig config;
  if (config_file.has_value()) {
    absl::StatusOr<NodeConfig> loaded = LoadConfigFile(*config_file);
    if (!loaded.ok()) {
      spdlog::error("{}", View(loaded.status()));
      return kExitUsage;
    }
    config = *std::move(loaded);
  }
  ApplyOverrides(overrides, &config);
  if (absl::Status s = ValidateConfig(config); !s.ok()) {
    spdlog::error("configuration: {}", View(s));
    return kExitUsage;
  }
  spdlog::set_level(spdlog::level::from_str(config.log_level));

  absl::StatusOr<std::unique_ptr<Node>> node = Node::Start(config);
  if (!node.ok()) {
    if (absl::IsDataLoss(node.status())) {
      spdlog::critical(
          "the ledger in {} failed verification; refusing to serve it: {}",
          config.data_dir, View(node.status()));
      return kExitDataLoss;
    }
    spdlog::error("cannot start: {}", View(node.status()));
    return kExitError;
  }
  const NodeIdentity& id = (*node)->identity();
  std::string host = SplitHostPort(config.listen)->first;
  spdlog::info("origin {}", id.origin);
  spdlog::info("ledger size {}", (*node)->ledger().head().size);
  spdlog::info("log key {}",
               crypto::FormatVerifierKey(id.log_signer.verifier()));
  spdlog::info("cosigner key {}",
               crypto::FormatVerifierKey(id.cosigner.verifier()));
  spdlog::info("listening on {}:{}", host, (*node)->port());
  std::printf("listening on %s:%d\n", host.c_str(), (*node)->port());
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("received {}, shutting down", strsignal(signal_number));
  (*node)->Shutdown();
  spdlog::info("stopped; ledger size {}", (*node)->ledger().head().size);
  return 0;
}

}  // namespace
}  // namespace ledger::node

int main(int argc, char** argv) {
  using namespace ledger::node;
  // Termination signals are blocked in every thread (threads inherit the
  // mask) and taken synchronously by sigwait() in Run(): no handler runs.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  spdlog::set_default_logger(spdlog::stderr_color_mt("ledger-node"));

  CLI::App app{
      "Annotation ledger node: sequences signed annotation events "
      "into a verifiable Merkle ledger and serves it over gRPC."};
  app.footer(
      "Exit codes: 0 clean shutdown, 1 runtime error, 2 bad usage or "
      "configuration, 3 the ledger failed verification.");
  std::optional<std::string> config_file;
  ConfigOverrides overrides;
  app.add_option("--config", config_file, "TOML configuration file");
  app.add_option("--data", overrides.data_dir, "data directory");
  app.add_option("--listen", overrides.listen,
                 "HOST:PORT to serve on (default 127.0.0.1:7400; port 0 "
                 "picks a free port)");
  app.add_option("--origin", overrides.origin,
                 "log origin (default: generated on first start)");
  app.add_option("--node-name", overrides.node_name,
                 "this node's name in cosignatures (default node-1)");
  app.add_option("--log-level", overrides.log_level,
                 "trace, debug, info, warn, error, critical or off");
  CLI::App* keys = app.add_subcommand(
      "keys", "Print the node's verifier keys (log key, cosigner key)");
  std::string keys_data;
  keys->add_option("--data", keys_data, "data directory")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (keys->parsed()) return PrintKeys(keys_data);
  return Run(config_file, overrides, signals);
}
