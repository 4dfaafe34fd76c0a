#pragma once

// The gRPC server: Ingest, Proof, Query and Admin, plus the standard health
// service (SERVING while up) and server reflection.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "node/admin_service.h"
#include "node/ingest_service.h"
#include "node/proof_service.h"
#include "node/query_service.h"
#include "node/service_context.h"

namespace ledger::node {

class Server {
 public:
  // Listens on `listen` ("host:port"; port 0 picks a free one).
  // Unavailable with the address if it cannot bind.
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      const std::string& listen, size_t max_message_bytes,
      const ServiceContext& ctx);
  ~Server();  // Shutdown(absl::ZeroDuration())

  // The bound port.
  int port() const { return port_; }

  // Health goes NOT_SERVING, new calls are refused, calls in flight get
  // `grace` to finish before they are cancelled. Idempotent; call from one
  // thread.
  void Shutdown(absl::Duration grace);

 private:
  explicit Server(const ServiceContext& ctx);

  IngestService ingest_;
  ProofService proof_;
  QueryService query_;
  AdminService admin_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace ledger::node
