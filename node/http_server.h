#pragma once

// The node's HTTP port (config http_listen; off by default): the log in
// the c2sp.org/tlog-tiles layout for standard transparency-log clients,
// mirrors and witnesses, and the node's metrics for Prometheus.
//
//   GET /checkpoint               the latest signed checkpoint note, as
//                                 Proof.GetCheckpoint returns it
//   GET /tile/<L>/<N>[.p/<W>]     hash tiles of height 8 (ledger/tlog_tiles.h)
//   GET /tile/entries/<N>[.p/<W>] entry bundles
//   GET /metrics                  Prometheus text format (node/metrics.h)
//
// Tiles and bundles exist up to the committed size (what the gRPC API
// serves); beyond it they are 404. Their bytes never change, so they are
// served with immutable caching headers; the checkpoint is not cached.
//
// Transport: mutual TLS with the node's certificate and CA (the same files
// as the gRPC port; TLS 1.3; a client without a certificate that chains to
// the CA fails the handshake), and every request passes the Authorizer's
// table (node/authorizer.h, the HTTP rows) for the identity of the peer's
// certificate, with the same rate limit and denial records as gRPC calls:
// 403 for a certificate not in the policy or a role that may not read the
// resource, 429 past the rate limit. Plaintext, unchecked, only when the
// node serves insecure_plaintext.
//
// The port starts before the ledger is opened: during the start-up
// verification /metrics shows its progress and everything else is 503.
// A fixed pool of threads serves it; each keep-alive connection holds one
// thread while it is open (idle ones are closed after a few seconds).

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "node/authorizer.h"
#include "node/metrics.h"
#include "node/service_context.h"
#include "node/tls_files.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace ledger::node {

struct HttpServerOptions {
  std::string listen;  // "host:port"; port 0 picks a free one
  // Mutual TLS with this material, admitting requests through the
  // Authorizer (which must then be secure()); nullopt: plaintext.
  std::optional<TlsMaterial> tls;
  std::shared_ptr<Authorizer> authorizer;
  // Threads serving connections (each open keep-alive connection holds
  // one).
  size_t threads = 16;
};

class HttpServer {
 public:
  // Binds and starts serving /metrics (`metrics` must outlive the server).
  // Unavailable naming the address if it cannot bind; InvalidArgument if
  // the TLS material is unusable.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const HttpServerOptions& options, NodeMetrics* metrics);
  ~HttpServer();  // Shutdown()

  // From now on serves the log of `ctx` and the metrics of `sources`
  // (both borrowed; they must outlive the server). Call once.
  void Serve(const ServiceContext& ctx, const NodeMetrics::Sources& sources);

  // The bound port.
  int port() const { return port_; }

  // Stops accepting, closes the connections and joins the threads.
  // Idempotent.
  void Shutdown();

 private:
  struct Ready {
    ServiceContext ctx;
    NodeMetrics::Sources sources;
  };
  HttpServer() = default;
  // Every request, before routing (the server has no routes).
  void Handle(const httplib::Request& req, httplib::Response& res);
  void HandleTile(const Ready& ready, std::string_view path,
                  httplib::Response& res);

  std::shared_ptr<Authorizer> authorizer_;
  NodeMetrics* metrics_ = nullptr;
  bool secure_ = false;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::unique_ptr<Ready> ready_storage_;
  std::atomic<const Ready*> ready_{nullptr};
  bool shut_down_ = false;
};

}  // namespace ledger::node
