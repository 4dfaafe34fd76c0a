#pragma once

// The HTTP front of ledger-gateway (cpp-httplib): routes, body size limit,
// keep-alive, a bounded pool of handler threads. Everything a request
// means is decided by Gateway::Handle.
//
//   POST /api/v1/lineage         OpenLineage (its HTTP transport's default
//                                endpoint)
//   POST /webhooks/label-studio  Label Studio
//   POST /webhooks/cvat          CVAT
//   GET  /healthz                200 "ok"

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "tools/gateway/gateway.h"

namespace ledger::gateway {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8480;  // 0: any free port (Bind returns it)
  // Handler threads: requests handled (and so waiting for the ledger) at
  // once; more wait for a thread. Their events share batches.
  int threads = 16;
  size_t max_body_bytes = 1 << 20;  // larger bodies get 413
};

class HttpServer {
 public:
  // `gateway` must outlive the server.
  HttpServer(Gateway* gateway, ServerOptions options);
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the listening socket; the port bound. Unavailable naming the
  // address if it cannot.
  absl::StatusOr<int> Bind();
  // Serves until Stop(); Bind() first.
  void Serve();
  // Bind(), then Serve() on a thread of its own; the port.
  absl::StatusOr<int> Start();
  // Stops accepting and serving; safe to call more than once.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace ledger::gateway
