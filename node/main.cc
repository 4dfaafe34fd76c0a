// ledger-node: serves the annotation ledger over gRPC.
//
//   ledger-node --data DIR [--listen HOST:PORT] [--config FILE]
//               [--health-listen HOST:PORT] [--http-listen HOST:PORT]
//               [--origin ORIGIN] [--node-name
//               NAME] [--log-level LEVEL]
//               [--insecure-plaintext]
//   ledger-node keys --data DIR
//   ledger-node verify --data DIR [--config FILE]
//   ledger-node repair-indexes --data DIR [--config FILE]
//
// Logs go to stderr. stdout carries one machine-readable line once the
// server is up: "listening on HOST:PORT" (the real port when PORT was 0),
// then, with a health endpoint of its own (health_listen), a second one:
// "health listening on HOST:PORT", and with an HTTP port (http_listen)
// "http listening on HOST:PORT".
// SIGINT/SIGTERM shut down gracefully. Exit codes: 0 clean shutdown,
// 1 runtime error, 2 bad usage or configuration, 3 the ledger failed
// verification, on start or later in the background scrub (the node
// refuses to serve it).

#include <pthread.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "base/strings.h"
#include "crypto/bytes.h"
#include "crypto/note.h"
#include "node/config.h"
#include "node/data_dir.h"
#include "node/node.h"
#include "node/rollback_guard.h"

namespace ledger::node {
namespace {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitDataLoss = 3;
constexpr int kExitDeposed = 4;

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

// The configuration from the file and flags; nullopt (after logging why)
// if it is unusable. `serving`: also the transport security a serving
// node needs (verify and repair-indexes serve nothing).
std::optional<NodeConfig> LoadConfig(
    const std::optional<std::string>& config_file,
    const ConfigOverrides& overrides, bool serving) {
  NodeConfig config;
  if (config_file.has_value()) {
    absl::StatusOr<NodeConfig> loaded = LoadConfigFile(*config_file);
    if (!loaded.ok()) {
      spdlog::error("{}", View(loaded.status()));
      return std::nullopt;
    }
    config = *std::move(loaded);
  }
  ApplyOverrides(overrides, &config);
  absl::Status s = ValidateConfig(config);
  if (s.ok() && serving) s = ValidateTransport(config);
  if (!s.ok()) {
    spdlog::error("configuration: {}", View(s));
    return std::nullopt;
  }
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  return config;
}

// ledger-node verify / repair-indexes: opens the ledger of a stopped node
// with everything checked (repair: the derived families rebuilt from the
// entries), prints the result and exits.
int Check(const std::optional<std::string>& config_file,
          const ConfigOverrides& overrides, bool repair) {
  std::optional<NodeConfig> config =
      LoadConfig(config_file, overrides, /*serving=*/false);
  if (!config.has_value()) return kExitUsage;
  absl::StatusOr<NodeIdentity> id = LoadDataDir(config->data_dir);
  if (!id.ok()) {
    spdlog::error("{}", View(id.status()));
    return absl::IsNotFound(id.status()) ? kExitUsage : kExitError;
  }
  const DataDirLayout layout(config->data_dir);
  ledger::LedgerOptions options;
  options.origin = id->origin;
  options.checkpoint_verifiers = id->verifiers();
  options.node_key = id->log_signer.key();
  options.limits = config->limits;
  options.open_check = ledger::OpenCheck::kFull;
  options.rebuild_indexes = repair;
  options.progress = [](std::string_view line) { spdlog::info("{}", line); };
  absl::StatusOr<std::unique_ptr<FileRollbackGuard>> guard =
      FileRollbackGuard::Load(layout.guard, id->verifiers(), id->origin);
  if (guard.ok()) {
    options.signed_head = (*guard)->last();
  } else if (!absl::IsNotFound(guard.status())) {
    spdlog::critical("{}", View(guard.status()));
    return kExitDataLoss;
  }
  if (std::filesystem::exists(layout.acked_head)) {
    absl::StatusOr<std::unique_ptr<FileAckedHead>> acked =
        FileAckedHead::Open(layout.acked_head);
    if (!acked.ok()) {
      spdlog::critical("{}", View(acked.status()));
      return kExitDataLoss;
    }
    options.acknowledged_head = (*acked)->at_open();
  }
  absl::StatusOr<std::unique_ptr<ledger::Ledger>> ledger =
      ledger::Ledger::Open(layout.db, options);
  if (!ledger.ok()) {
    if (absl::IsDataLoss(ledger.status())) {
      spdlog::critical("{}", View(ledger.status()));
      std::printf("INVALID: %s\n", std::string(View(ledger.status())).c_str());
      return kExitDataLoss;
    }
    spdlog::error("{}", View(ledger.status()));
    return kExitError;
  }
  const ledger::Head head = (*ledger)->head();
  std::printf("VALID: %llu entries, root %s\n",
              static_cast<unsigned long long>(head.size),
              crypto::Base64Encode(head.root).c_str());
  return 0;
}

int Run(const std::optional<std::string>& config_file,
        const ConfigOverrides& overrides, const sigset_t& signals) {
  std::optional<NodeConfig> loaded =
      LoadConfig(config_file, overrides, /*serving=*/true);
  if (!loaded.has_value()) return kExitUsage;
  const NodeConfig& config = *loaded;

  // The scrub's verdict reaches this thread as a signal: damage found in
  // the background ends the process like damage found on start.
  // A cluster leader that stops leading ends the process the same way
  // (SIGUSR2); its supervisor restarts it as a follower.
  NodeTestHooks hooks;
  hooks.on_deposed = [](const absl::Status&) { kill(getpid(), SIGUSR2); };
  absl::StatusOr<std::unique_ptr<Node>> node = Node::Start(
      config, SystemClock::Default(),
      [](const absl::Status&) { kill(getpid(), SIGUSR1); }, hooks);
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
  if (!config.health_listen.empty()) {
    const std::string health_host = SplitHostPort(config.health_listen)->first;
    spdlog::info("health listening on {}:{}", health_host,
                 (*node)->health_port());
    std::printf("health listening on %s:%d\n", health_host.c_str(),
                (*node)->health_port());
  }
  if (!config.http_listen.empty()) {
    const std::string http_host = SplitHostPort(config.http_listen)->first;
    spdlog::info("http listening on {}:{}", http_host, (*node)->http_port());
    std::printf("http listening on %s:%d\n", http_host.c_str(),
                (*node)->http_port());
  }
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  if (signal_number == SIGUSR1) {
    spdlog::critical(
        "the ledger in {} failed verification in the background scrub; "
        "refusing to serve it (see above)",
        config.data_dir);
    (*node)->Shutdown(absl::ZeroDuration());
    return kExitDataLoss;
  }
  if (signal_number == SIGUSR2) {
    spdlog::warn(
        "this node no longer leads the cluster; exiting so that it restarts "
        "as a follower");
    (*node)->Shutdown(absl::ZeroDuration());
    return kExitDeposed;
  }
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
  sigaddset(&signals, SIGUSR1);  // the scrub found damage
  sigaddset(&signals, SIGUSR2);  // a cluster leader stepped down
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  spdlog::set_default_logger(spdlog::stderr_color_mt("ledger-node"));

  CLI::App app{
      "Annotation ledger node: sequences signed annotation events "
      "into a verifiable Merkle ledger and serves it over gRPC."};
  app.footer(
      "Exit codes: 0 clean shutdown, 1 runtime error, 2 bad usage or "
      "configuration, 3 the ledger failed verification, 4 a cluster leader "
      "stepped down (restart it: it follows).");
  std::optional<std::string> config_file;
  ConfigOverrides overrides;
  app.add_option("--config", config_file, "TOML configuration file");
  app.add_option("--data", overrides.data_dir, "data directory");
  app.add_option("--listen", overrides.listen,
                 "HOST:PORT to serve on (default 127.0.0.1:7400; port 0 "
                 "picks a free port)");
  app.add_option("--health-listen", overrides.health_listen,
                 "HOST:PORT of a health endpoint of its own: only "
                 "grpc.health.v1.Health, same statuses and transport "
                 "security as --listen, its own gRPC memory quota (default: "
                 "none; port 0 picks a free port)");
  app.add_option("--http-listen", overrides.http_listen,
                 "HOST:PORT of the HTTP port: the log as c2sp.org/tlog-tiles "
                 "(/checkpoint, /tile/...) and /metrics, same transport "
                 "security and access policy as --listen (default: none; "
                 "port 0 picks a free port)");
  app.add_option("--origin", overrides.origin,
                 "log origin (default: generated on first start)");
  app.add_option("--node-name", overrides.node_name,
                 "this node's name in cosignatures (default node-1)");
  app.add_option("--log-level", overrides.log_level,
                 "trace, debug, info, warn, error, critical or off");
  bool insecure_plaintext = false;
  app.add_flag("--insecure-plaintext", insecure_plaintext,
               "serve WITHOUT TLS and WITHOUT authorization: every client "
               "may do everything (tests and local experiments only; "
               "otherwise the config file's [tls] and [access] are required)");
  CLI::App* keys = app.add_subcommand(
      "keys", "Print the node's verifier keys (log key, cosigner key)");
  std::string keys_data;
  keys->add_option("--data", keys_data, "data directory")->required();
  ConfigOverrides check_overrides;
  std::optional<std::string> check_config;
  CLI::App* verify = app.add_subcommand(
      "verify",
      "Verify a stopped node's whole ledger (every entry, the chain, the "
      "tree, the checkpoints, the rollback guard and the derived indexes); "
      "prints VALID or INVALID, exit 0 or 3");
  CLI::App* repair = app.add_subcommand(
      "repair-indexes",
      "Rebuild a stopped node's derived indexes (by_event_id, subject_heads, "
      "keys, by_subject, by_type, by_run, lineage) from its verified "
      "entries, reporting every record that was wrong");
  for (CLI::App* sub : {verify, repair}) {
    sub->add_option("--data", check_overrides.data_dir, "data directory")
        ->required();
    sub->add_option("--config", check_config, "TOML configuration file");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (insecure_plaintext) overrides.insecure_plaintext = true;
  if (keys->parsed()) return PrintKeys(keys_data);
  if (verify->parsed() || repair->parsed()) {
    return Check(check_config, check_overrides, repair->parsed());
  }
  return Run(config_file, overrides, signals);
}
