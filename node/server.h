#pragma once

// The gRPC server: Ingest, Proof, Query and Admin, plus the standard health
// service and, when enabled, server reflection. Health has two names: ""
// (the node: SERVING while it serves reads) and "ledger.v1.Ingest" (the
// write path: SERVING only while appends are accepted).
//
// With ServerOptions::health_listen set, a second gRPC server serves the
// health service alone on that address: gRPC's default health service with
// the same two names and statuses (SetServing sets both servers at once),
// the same transport security, and its own gRPC memory quota, so a flood
// that fills the main server's quota (gRPC then stops reading its
// connections) does not stop it reading. It does not have threads of its
// own: gRPC 1.51 runs its health service, like the main server's callback
// methods, on the process's callback threads (docs/decisions.md, "A health
// endpoint of its own", says what that leaves).
//
// Transport: mutual TLS (gRPC's SSL credentials: the client must present a
// certificate that chains to the CA bundle, or the handshake fails; TLS 1.3
// is negotiated with every current gRPC client), with the Authorizer as the
// credentials' AuthMetadataProcessor (node/authorizer.h), or, only when
// told so, plaintext without authorization.

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "node/admin_service.h"
#include "node/authorizer.h"
#include "node/ingest_service.h"
#include "node/proof_service.h"
#include "node/query_service.h"
#include "node/request_guard.h"
#include "node/service_context.h"
#include "node/tls_files.h"

namespace ledger::node {

struct ServerOptions {
  std::string listen;  // "host:port"; port 0 picks a free one
  size_t max_message_bytes = 16 << 20;
  // gRPC's resource quota: the memory its buffers may take.
  size_t grpc_memory_bytes = size_t{256} << 20;
  // Mutual TLS with this material, admitting calls through the
  // Authorizer (which must then be secure()); nullopt: plaintext.
  std::optional<TlsMaterial> tls;
  std::shared_ptr<Authorizer> authorizer;
  // Connections idle this long are closed.
  absl::Duration idle_timeout = absl::Minutes(5);
  bool reflection = false;
  // Empty: no health endpoint of its own. Otherwise "host:port" (port 0
  // picks a free one) of the health-only server.
  std::string health_listen;
};

// The server credentials of `options`: mutual TLS admitting calls through
// options.authorizer, or plaintext without TLS. The cluster's replication
// listener uses the same.
std::shared_ptr<grpc::ServerCredentials> ServerCredentialsFor(
    const ServerOptions& options);

// The health-only server's fixed settings: requests are a service name.
inline constexpr size_t kHealthMaxMessageBytes = 4096;
inline constexpr size_t kHealthMemoryBytes = size_t{8} << 20;

class Server {
 public:
  // Listens on options.listen (and options.health_listen if set).
  // Unavailable with the address if it cannot bind (or, with TLS, if gRPC
  // refuses the credentials). Health starts SERVING for "" and NOT_SERVING
  // for the write path until SetServing says otherwise.
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      const ServerOptions& options, const ServiceContext& ctx);

  // Sets the health of "" (`node`) and "ledger.v1.Ingest" (`ingest`), on
  // both servers. Thread-safe; ignored after Shutdown.
  void SetServing(bool node, bool ingest);
  ~Server();  // Shutdown(absl::ZeroDuration())

  // The bound port.
  int port() const { return port_; }
  // The health-only server's port; 0 without one.
  int health_port() const { return health_port_; }

  // Health goes NOT_SERVING (on both servers), new calls are refused, calls
  // in flight get `grace` to finish before they are cancelled; then the
  // health-only server stops (its Watch calls cancelled after a second).
  // Idempotent; call from one thread.
  void Shutdown(absl::Duration grace);

 private:
  explicit Server(const ServiceContext& ctx);
  absl::Status StartHealth(const ServerOptions& options);

  IngestService ingest_;
  ProofService proof_;
  QueryService query_;
  AdminService admin_;
  UnknownMethodService unknown_method_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  // Declared before health_server_: it outlives the server that calls it.
  UnknownMethodService health_unknown_method_;
  std::unique_ptr<grpc::Server> health_server_;
  int health_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace ledger::node
