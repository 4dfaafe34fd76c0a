#include "node/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "grpc/impl/codegen/grpc_types.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/impl/server_builder_option.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "node/log_limit.h"

namespace ledger::node {
namespace {

constexpr std::string_view kIngestServiceName = "ledger.v1.Ingest";

// Server reflection only when asked for. Loading gRPC's reflection
// library registers its plugin for every server the process builds (a
// static initializer), so the plugin is removed unless wanted, and then
// added for this server alone.
class ReflectionOption : public grpc::ServerBuilderOption {
 public:
  explicit ReflectionOption(bool on) : on_(on) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*
                         plugins) override {
    const std::string name =
        grpc::reflection::ProtoServerReflectionPlugin().name();
    std::erase_if(*plugins,
                  [&name](const auto& p) { return p->name() == name; });
    if (on_) {
      plugins->push_back(
          std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>());
    }
  }

 private:
  const bool on_;
};

int IdleMs(const ServerOptions& options) {
  return static_cast<int>(
      std::clamp<int64_t>(absl::ToInt64Milliseconds(options.idle_timeout), 1,
                          std::numeric_limits<int>::max()));
}

}  // namespace

std::shared_ptr<grpc::ServerCredentials> ServerCredentialsFor(
    const ServerOptions& options) {
  if (!options.tls.has_value()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = options.tls->ca_pem;
  ssl.pem_key_cert_pairs.push_back(
      {options.tls->key_pem, options.tls->cert_chain_pem});
  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::SslServerCredentials(ssl);
  credentials->SetAuthMetadataProcessor(options.authorizer);
  return credentials;
}

Server::Server(const ServiceContext& ctx)
    : ingest_(ctx), proof_(ctx), query_(ctx), admin_(ctx) {}

Server::~Server() { Shutdown(absl::ZeroDuration()); }

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    const ServerOptions& options, const ServiceContext& ctx) {
  const std::string& listen = options.listen;
  const size_t max_message_bytes = options.max_message_bytes;
  if (options.tls.has_value() &&
      (options.authorizer == nullptr || !options.authorizer->secure())) {
    return absl::InternalError("a TLS server needs an access policy");
  }
  InstallGrpcLogLimiter();
  grpc::EnableDefaultHealthCheckService(true);
  std::unique_ptr<Server> server(new Server(ctx));
  grpc::ServerBuilder builder;
  // gRPC sets SO_REUSEPORT by default: a second node on a busy port would
  // silently share it. Fail instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, IdleMs(options));
  builder.SetOption(std::make_unique<ReflectionOption>(options.reflection));
  builder.AddListeningPort(listen, ServerCredentialsFor(options),
                           &server->port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(max_message_bytes));
  // Bounds gRPC's own buffers: past the quota it stops reading from
  // connections (flow control) instead of allocating more.
  grpc::ResourceQuota quota("ledger-node");
  quota.Resize(options.grpc_memory_bytes);
  builder.SetResourceQuota(quota);
  builder.SetMaxSendMessageSize(static_cast<int>(max_message_bytes));
  // The sync server keeps at most MAX_POLLERS idle threads and ends the
  // rest. Streams and receipts block their thread (until the stream ends,
  // or a checkpoint is issued), so with the default (2) every burst of
  // concurrent clients created and ended a thread per request. Keep enough
  // for a few hundred clients. (Append and AppendBatch are callback
  // methods: they hold no thread while they wait.)
  builder.SetSyncServerOption(
      grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 2);
  builder.SetSyncServerOption(
      grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 256);
  builder.RegisterService(&server->ingest_);
  builder.RegisterService(&server->proof_);
  builder.RegisterService(&server->query_);
  builder.RegisterService(&server->admin_);
  // Requests that never reach a handler (they do not parse, or name no
  // method of ours) get a status that says why; node/request_guard.h.
  InstallProtobufLogHandler();
  builder.RegisterCallbackGenericService(&server->unknown_method_);
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(NewRequestGuardFactory());
  if (ctx.leader_address) {
    interceptors.push_back(NewLeaderHintFactory(ctx.leader_address));
  }
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        StrCat("cannot listen on ", listen,
               " (address in use, or not an address of this host?)"));
  }
  server->server_->GetHealthCheckService()->SetServingStatus(true);
  server->server_->GetHealthCheckService()->SetServingStatus(
      std::string(kIngestServiceName), false);
  if (!options.health_listen.empty()) {
    if (absl::Status s = server->StartHealth(options); !s.ok()) return s;
  }
  return server;
}

absl::Status Server::StartHealth(const ServerOptions& options) {
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, IdleMs(options));
  // gRPC adds its default health service to this server too
  // (EnableDefaultHealthCheckService is process-wide), with statuses of its
  // own, set with the main server's by SetServing.
  builder.SetOption(std::make_unique<ReflectionOption>(false));
  builder.AddListeningPort(options.health_listen, ServerCredentialsFor(options),
                           &health_port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(kHealthMaxMessageBytes));
  builder.SetMaxSendMessageSize(static_cast<int>(kHealthMaxMessageBytes));
  // Its own quota: the main server's filling up does not stop this one
  // reading.
  grpc::ResourceQuota quota("ledger-node-health");
  quota.Resize(kHealthMemoryBytes);
  builder.SetResourceQuota(quota);
  // gRPC 1.51 builds no server without a registered method (the default
  // health service is added after that check); this one also answers
  // other methods UNIMPLEMENTED, naming them.
  builder.RegisterCallbackGenericService(&health_unknown_method_);
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(NewRequestGuardFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  health_server_ = builder.BuildAndStart();
  if (health_server_ != nullptr) {
    health_server_->GetHealthCheckService()->SetServingStatus(true);
    health_server_->GetHealthCheckService()->SetServingStatus(
        std::string(kIngestServiceName), false);
  }
  if (health_server_ == nullptr || health_port_ == 0) {
    return absl::UnavailableError(
        StrCat("cannot listen on ", options.health_listen,
               " for the health endpoint (health_listen): address in use, or "
               "not an address of this host?"));
  }
  return absl::OkStatus();
}

void Server::SetServing(bool node, bool ingest) {
  for (grpc::Server* server : {server_.get(), health_server_.get()}) {
    if (server == nullptr) continue;
    grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
    if (health == nullptr) continue;
    health->SetServingStatus(node);
    health->SetServingStatus(std::string(kIngestServiceName), ingest);
  }
}

void Server::Shutdown(absl::Duration grace) {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  server_->GetHealthCheckService()->SetServingStatus(false);
  if (health_server_ != nullptr) {
    health_server_->GetHealthCheckService()->SetServingStatus(false);
  }
  const absl::Time start = absl::Now();
  server_->Shutdown(std::chrono::system_clock::now() +
                    absl::ToChronoMilliseconds(grace));
  server_->Wait();
  // Every call has finished; the verify pool's threads may still be
  // returning from the last Finish. Joined here, before the server that
  // call belonged to is destroyed.
  ingest_.StopVerifying();
  spdlog::info("the service port stopped in {} ms",
               absl::ToInt64Milliseconds(absl::Now() - start));
  if (health_server_ != nullptr) {
    // Its Watch calls (NOT_SERVING since the start of the shutdown) are
    // cancelled after a second.
    health_server_->Shutdown(std::chrono::system_clock::now() +
                             std::chrono::seconds(1));
    health_server_->Wait();
    spdlog::info("the health endpoint stopped");
  }
}

}  // namespace ledger::node
