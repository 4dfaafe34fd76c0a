#include "tools/gateway/server.h"

#include <httplib.h>

#include <chrono>

#include "base/strings.h"

namespace ledger::gateway {

struct HttpServer::Impl {
  Gateway* gateway = nullptr;
  ServerOptions options;
  httplib::Server server;
};

namespace {

void Route(httplib::Server& server, const char* path, Gateway* gateway,
           Source source) {
  server.Post(path, [gateway, source](const httplib::Request& req,
                                      httplib::Response& res) {
    RequestHeaders headers;
    headers.signature = req.get_header_value("X-Signature-256");
    headers.authorization = req.get_header_value("Authorization");
    HttpReply reply = gateway->Handle(source, req.body, headers);
    res.status = reply.status;
    if (reply.retry_after_seconds > 0) {
      res.set_header("Retry-After", StrCat(reply.retry_after_seconds));
    }
    res.set_content(reply.body, "application/json");
  });
}

}  // namespace

HttpServer::HttpServer(Gateway* gateway, ServerOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->gateway = gateway;
  impl_->options = options;
  httplib::Server& s = impl_->server;
  const int threads = std::max(1, options.threads);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.set_payload_max_length(options.max_body_bytes);
  // Pipelines and platforms keep one connection for many requests.
  s.set_keep_alive_max_count(100000);
  s.set_keep_alive_timeout(30);
  // Headers and body go out in separate writes; without this, Nagle's
  // algorithm holds the body until the client's delayed ACK (~40 ms).
  s.set_tcp_nodelay(true);
  Route(s, "/api/v1/lineage", gateway, Source::kOpenLineage);
  Route(s, "/webhooks/label-studio", gateway, Source::kLabelStudio);
  Route(s, "/webhooks/cvat", gateway, Source::kCvat);
  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    const std::string reason = res.status == 413
                                   ? "body: larger than max_body_bytes"
                                   : StrCat("HTTP ", res.status);
    res.set_content(StrCat("{\"error\":\"", reason, "\",\"code\":\"\"}"),
                    "application/json");
  });
}

HttpServer::~HttpServer() { Stop(); }

absl::StatusOr<int> HttpServer::Bind() {
  httplib::Server& s = impl_->server;
  const std::string& host = impl_->options.host;
  int port = impl_->options.port;
  if (port == 0) {
    port = s.bind_to_any_port(host);
    if (port < 0) port = 0;
  } else if (!s.bind_to_port(host, port)) {
    port = 0;
  }
  if (port <= 0) {
    return absl::UnavailableError(
        StrCat("cannot listen on ", host, ":", impl_->options.port,
               " (in use, or not an address of this machine)"));
  }
  return port;
}

void HttpServer::Serve() { impl_->server.listen_after_bind(); }

absl::StatusOr<int> HttpServer::Start() {
  absl::StatusOr<int> port = Bind();
  if (!port.ok()) return port;
  thread_ = std::thread([this] { Serve(); });
  // Stop() only stops a server that is running: wait for it to run.
  for (int i = 0; i < 10000 && !impl_->server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return port;
}

void HttpServer::Stop() {
  impl_->server.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace ledger::gateway
