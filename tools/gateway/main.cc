// ledger-gateway: HTTP ingestion of OpenLineage RunEvents, Label Studio
// webhooks and CVAT webhooks into the ledger (docs/gateway.md). Maps each
// request onto the ledger's events, signs them with the gateway's emitter
// key, appends them in batches over gRPC (mutual TLS) and answers once the
// ledger acknowledged them.
//
// Prints "listening on HOST:PORT" on stderr once it serves; stops on
// SIGTERM or SIGINT after the requests in progress are answered.
// Exit status: 0 after a signal, 1 on an error, 2 on usage errors.

#include <csignal>
#include <cstdlib>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/time/clock.h"
#include "base/strings.h"
#include "ledger/lineage_rules.h"
#include "tools/common/client_tls.h"
#include "tools/gateway/appender.h"
#include "tools/gateway/config.h"
#include "tools/gateway/gateway.h"
#include "tools/gateway/server.h"
#include "tools/ledgerctl/append.h"

namespace {

using namespace ledger::gateway;  // NOLINT(build/namespaces): main only.
using ledger::StrCat;

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

int Fail(const absl::Status& status) {
  std::cerr << "error: " << absl::StatusCodeToString(status.code()) << ": "
            << status.message() << "\n";
  return kExitError;
}

struct Flags {
  std::string config;
  std::string listen, tenant, producer, emitter_key, node, openlineage_type;
  std::string cvat_secret_file, label_studio_token_file;
  ledger::client_tls::ClientFlags client;
};

// The configuration file (if any) with the flags over it.
absl::StatusOr<GatewayConfig> Resolve(const Flags& f) {
  GatewayConfig c;
  if (!f.config.empty()) {
    absl::StatusOr<GatewayConfig> loaded = LoadGatewayConfig(f.config);
    if (!loaded.ok()) return loaded.status();
    c = *loaded;
  }
  const auto take = [](const std::string& flag, std::string& out) {
    if (!flag.empty()) out = flag;
  };
  take(f.listen, c.listen);
  take(f.tenant, c.tenant);
  take(f.producer, c.producer);
  take(f.emitter_key, c.emitter_key);
  take(f.node, c.node_address);
  take(f.client.profile, c.node_profile);
  take(f.openlineage_type, c.openlineage_type);
  take(f.cvat_secret_file, c.cvat_secret_file);
  take(f.label_studio_token_file, c.label_studio_token_file);
  if (c.tenant.empty()) {
    return absl::InvalidArgumentError(
        "no tenant: give --tenant or tenant in --config");
  }
  if (c.emitter_key.empty()) {
    return absl::InvalidArgumentError(
        "no emitter key: give --emitter-key or emitter_key in --config (a "
        ".key file from `ledgerctl keygen`, registered for the tenant)");
  }
  if (!ledger::RequiresLineage(c.openlineage_type)) {
    return absl::InvalidArgumentError(
        StrCat("openlineage_type: '", c.openlineage_type,
               "' is not a processing type with lineage, such as "
               "dataset.version_created or data.cleaned"));
  }
  return c;
}

int Run(const Flags& f) {
  absl::StatusOr<GatewayConfig> config = Resolve(f);
  if (!config.ok()) return Fail(config.status());
  absl::StatusOr<std::pair<std::string, int>> listen =
      SplitHostPort(config->listen, "listen");
  if (!listen.ok()) return Fail(listen.status());

  GatewayOptions options;
  options.mapping.tenant = config->tenant;
  options.mapping.producer = config->producer;
  options.mapping.openlineage_type = config->openlineage_type;
  options.mapping.max_events = static_cast<uint32_t>(config->max_batch_events);
  if (!config->cvat_secret_file.empty()) {
    absl::StatusOr<std::string> s = ReadSecretFile(config->cvat_secret_file);
    if (!s.ok()) return Fail(s.status());
    options.cvat_secret = *s;
  }
  if (!config->label_studio_token_file.empty()) {
    absl::StatusOr<std::string> s =
        ReadSecretFile(config->label_studio_token_file);
    if (!s.ok()) return Fail(s.status());
    options.label_studio_token = *s;
  }
  absl::StatusOr<ledger::crypto::NoteSigner> key =
      ledger::ctl::LoadEmitterKey(config->emitter_key);
  if (!key.ok()) return Fail(key.status());

  // The node, as ledgerctl reaches it: the profile and flags.
  ledger::client_tls::ClientFlags client = f.client;
  client.profile = config->node_profile;
  if (!config->node_address.empty()) client.address = config->node_address;
  absl::StatusOr<ledger::client_tls::Endpoint> endpoint =
      ledger::client_tls::ResolveEndpoint(client, "127.0.0.1:7400");
  if (!endpoint.ok()) return Fail(endpoint.status());
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(-1);
  args.SetMaxReceiveMessageSize(-1);

  // Signals are taken by sigwait below, not by a handler: block them
  // before any thread starts so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  AppenderOptions appender_options;
  appender_options.max_batch_events =
      static_cast<uint32_t>(config->max_batch_events);
  appender_options.senders = static_cast<int>(config->senders);
  Appender appender(
      NewGrpcLedgerClient(ledger::client_tls::CreateChannel(*endpoint, args),
                          absl::Milliseconds(static_cast<int64_t>(
                              config->timeout_seconds * 1000))),
      key->key(), appender_options);
  Gateway gateway(options, &appender,
                  [] { return absl::ToUnixNanos(absl::Now()); });
  ServerOptions server_options;
  server_options.host = listen->first;
  server_options.port = listen->second;
  server_options.threads = static_cast<int>(config->threads);
  server_options.max_body_bytes = static_cast<size_t>(config->max_body_bytes);
  HttpServer server(&gateway, server_options);
  absl::StatusOr<int> port = server.Start();
  if (!port.ok()) return Fail(port.status());
  std::cerr << "ledger-gateway: tenant " << config->tenant << ", node "
            << endpoint->address
            << (endpoint->tls ? " (mutual TLS)" : " (plaintext)")
            << "\nlistening on " << listen->first << ":" << *port << std::endl;
  int signal = 0;
  sigwait(&signals, &signal);
  std::cerr << "ledger-gateway: stopping on signal " << signal << std::endl;
  server.Stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "ledger-gateway: OpenLineage, Label Studio and CVAT into the "
      "ledger over HTTP"};
  Flags f;
  app.add_option("--config", f.config, "configuration file (TOML)");
  app.add_option("--listen", f.listen, "HTTP address (default 127.0.0.1:8480)");
  app.add_option("--tenant", f.tenant, "the events' tenant");
  app.add_option("--producer", f.producer,
                 "events' producer prefix (default ledger-gateway)");
  app.add_option("--emitter-key", f.emitter_key,
                 "the gateway's signer key (.key file or folder with one)");
  app.add_option("--server", f.node,
                 "the node's address (default: the profile's, else "
                 "127.0.0.1:7400)");
  app.add_option("--openlineage-type", f.openlineage_type,
                 "event type of OpenLineage runs' ends with lineage");
  app.add_option("--cvat-secret-file", f.cvat_secret_file,
                 "file holding the CVAT webhook secret");
  app.add_option("--label-studio-token-file", f.label_studio_token_file,
                 "file holding the token Label Studio must send");
  ledger::client_tls::AddClientFlags(&app, &f.client);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  return Run(f);
}
