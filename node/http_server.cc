#include "node/http_server.h"

#include <httplib.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "ledger/tlog_tiles.h"
#include "node/config.h"
#include "node/coordinator.h"

namespace ledger::node {
namespace {

constexpr char kTextType[] = "text/plain; charset=utf-8";
constexpr char kOctetType[] = "application/octet-stream";
constexpr char kMetricsType[] = "text/plain; version=0.0.4; charset=utf-8";

// Keep-alive connections: requests per connection and idle seconds before
// the server closes one.
constexpr size_t kKeepAliveMaxRequests = 100000;
constexpr time_t kKeepAliveSeconds = 5;

void Reply(httplib::Response& res, int status, std::string_view message) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(StrCat(message, "\n"), kTextType);
}

// The HTTP status of a refusal or failure.
int HttpStatusOf(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kUnimplemented:
      return 404;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

std::string ToString(const absl::Status& s) {
  return std::string(ToStd(s.message()));
}

// PEM certificates in `pem`, in order.
std::vector<X509*> ReadCertificates(const std::string& pem) {
  std::vector<X509*> out;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return out;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    out.push_back(cert);
  }
  ERR_clear_error();  // the end of the input reads as an error
  BIO_free(bio);
  return out;
}

// The SSL_CTX of the TLS port: the node's chain and key, client
// certificates required and verified against the CA bundle, TLS 1.3.
bool SetUpTls(const TlsMaterial& tls, SSL_CTX& ctx) {
  SSL_CTX_set_min_proto_version(&ctx, TLS1_3_VERSION);
  std::vector<X509*> chain = ReadCertificates(tls.cert_chain_pem);
  std::vector<X509*> cas = ReadCertificates(tls.ca_pem);
  bool ok = !chain.empty() && !cas.empty() &&
            SSL_CTX_use_certificate(&ctx, chain[0]) == 1;
  for (size_t i = 1; ok && i < chain.size(); ++i) {
    ok = SSL_CTX_add1_chain_cert(&ctx, chain[i]) == 1;
  }
  X509_STORE* store = SSL_CTX_get_cert_store(&ctx);
  for (X509* ca : cas) ok = ok && X509_STORE_add_cert(store, ca) == 1;
  for (X509* c : chain) X509_free(c);
  for (X509* c : cas) X509_free(c);
  if (ok) {
    BIO* bio = BIO_new_mem_buf(tls.key_pem.data(),
                               static_cast<int>(tls.key_pem.size()));
    EVP_PKEY* key = bio == nullptr ? nullptr
                                   : PEM_read_bio_PrivateKey(bio, nullptr,
                                                             nullptr, nullptr);
    if (bio != nullptr) BIO_free(bio);
    ok = key != nullptr && SSL_CTX_use_PrivateKey(&ctx, key) == 1 &&
         SSL_CTX_check_private_key(&ctx) == 1;
    if (key != nullptr) EVP_PKEY_free(key);
  }
  SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     nullptr);
  ERR_clear_error();
  return ok;
}

// The SAN URIs (in the certificate's order) and subject CN of the peer.
void PeerIdentity(const SSL* ssl, std::vector<std::string>* uris,
                  std::string* common_name) {
  X509* cert = ssl == nullptr ? nullptr : SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
      if (name->type != GEN_URI) continue;
      const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
      uris->emplace_back(
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
          static_cast<size_t>(ASN1_STRING_length(uri)));
    }
    GENERAL_NAMES_free(names);
  }
  const X509_NAME* subject = X509_get_subject_name(cert);
  const int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (at < 0) return;
  const ASN1_STRING* cn =
      X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, cn);
  if (n >= 0) common_name->assign(reinterpret_cast<char*>(utf8), n);
  OPENSSL_free(utf8);
}

HttpResource ResourceOf(std::string_view path, std::string_view* rule) {
  if (path == "/checkpoint") {
    *rule = kHttpCheckpoint;
    return HttpResource::kCheckpoint;
  }
  if (path == "/metrics") {
    *rule = kHttpMetrics;
    return HttpResource::kMetrics;
  }
  if (path.starts_with("/tile/entries/")) {
    *rule = kHttpEntryBundle;
    return HttpResource::kEntryBundle;
  }
  if (path.starts_with("/tile/")) {
    *rule = kHttpHashTile;
    return HttpResource::kHashTile;
  }
  return HttpResource::kOther;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const HttpServerOptions& options, NodeMetrics* metrics) {
  absl::StatusOr<std::pair<std::string, uint16_t>> address =
      SplitHostPort(options.listen);
  if (!address.ok()) return Annotate(address.status(), "http_listen");
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->authorizer_ = options.authorizer;
  server->metrics_ = metrics;
  if (options.tls.has_value()) {
    if (options.authorizer == nullptr || !options.authorizer->secure()) {
      return absl::InternalError("a TLS HTTP port needs an access policy");
    }
    const TlsMaterial tls = *options.tls;
    auto ssl = std::make_unique<httplib::SSLServer>(
        [&tls](SSL_CTX& ctx) { return SetUpTls(tls, ctx); });
    if (!ssl->is_valid()) {
      return absl::InvalidArgumentError(
          "the TLS files (tls.cert_file, tls.key_file, tls.ca_file) are "
          "unusable for the HTTP port");
    }
    server->server_ = std::move(ssl);
    server->secure_ = true;
  } else {
    server->server_ = std::make_unique<httplib::Server>();
  }
  httplib::Server& http = *server->server_;
  const size_t threads = std::max<size_t>(options.threads, 1);
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_keep_alive_max_count(kKeepAliveMaxRequests);
  http.set_keep_alive_timeout(kKeepAliveSeconds);
  http.set_read_timeout(kKeepAliveSeconds, 0);
  http.set_write_timeout(kKeepAliveSeconds, 0);
  http.set_payload_max_length(4096);  // GET requests carry no body
  http.set_tcp_nodelay(true);
  // Like the gRPC port: no SO_REUSEPORT, so a second node on a busy port
  // fails instead of silently sharing it.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  HttpServer* self = server.get();
  http.set_pre_routing_handler(
      [self](const httplib::Request& req, httplib::Response& res) {
        self->Handle(req, res);
        return httplib::Server::HandlerResponse::Handled;
      });
  const auto& [host, port] = *address;
  if (port == 0) {
    server->port_ = http.bind_to_any_port(host);
  } else {
    server->port_ = http.bind_to_port(host, port) ? port : -1;
  }
  if (server->port_ <= 0) {
    return absl::UnavailableError(
        StrCat("cannot listen on ", options.listen,
               " for the HTTP port (http_listen): address in use, or not an "
               "address of this host?"));
  }
  server->thread_ = std::thread([self] { self->server_->listen_after_bind(); });
  // stop() does nothing to a server that is not running yet, so Shutdown
  // right after Start would leave the thread in accept() for good: wait
  // until it runs (at once, in practice).
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!http.is_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  if (!http.is_running()) {
    return absl::InternalError("the HTTP port's thread did not start");
  }
  return server;
}

HttpServer::~HttpServer() { Shutdown(); }

void HttpServer::Shutdown() {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

void HttpServer::Serve(const ServiceContext& ctx,
                       const NodeMetrics::Sources& sources) {
  ready_storage_ = std::make_unique<Ready>(Ready{ctx, sources});
  ready_.store(ready_storage_.get(), std::memory_order_release);
}

void HttpServer::Handle(const httplib::Request& req, httplib::Response& res) {
  std::string_view rule;
  const HttpResource resource = ResourceOf(req.path, &rule);
  struct Count {
    NodeMetrics* metrics;
    HttpResource resource;
    const httplib::Response& res;
    ~Count() { metrics->RecordHttp(resource, res.status); }
  } count{metrics_, resource, res};

  if (secure_) {
    std::vector<std::string> uris;
    std::string common_name;
    PeerIdentity(req.ssl, &uris, &common_name);
    // Paths of no resource are checked as the metrics row (every role): an
    // identity the policy does not know learns nothing, not even that.
    absl::Status admitted = authorizer_->AdmitHttp(
        resource == HttpResource::kOther ? kHttpMetrics : rule, uris,
        common_name);
    if (!admitted.ok()) {
      if (absl::IsResourceExhausted(admitted)) {
        res.set_header("Retry-After", "1");
      }
      Reply(res, HttpStatusOf(admitted), ToString(admitted));
      return;
    }
  }
  if (req.method != "GET" && req.method != "HEAD") {
    Reply(res, 405, StrCat("only GET is served, not ", req.method));
    return;
  }
  const Ready* ready = ready_.load(std::memory_order_acquire);
  switch (resource) {
    case HttpResource::kMetrics:
      res.status = 200;
      res.set_header("Cache-Control", "no-store");
      res.set_content(
          metrics_->Render(ready == nullptr ? nullptr : &ready->sources),
          kMetricsType);
      return;
    case HttpResource::kOther:
      Reply(res, 404,
            "not found: this node serves /checkpoint, /tile/... "
            "(c2sp.org/tlog-tiles) and /metrics");
      return;
    default:
      break;
  }
  if (ready == nullptr) {
    Reply(res, 503,
          "the node is opening and verifying its ledger; retry in a moment");
    return;
  }
  if (resource == HttpResource::kCheckpoint) {
    std::optional<ledger::StoredCheckpoint> latest =
        ready->ctx.ledger->LatestCheckpoint();
    if (!latest.has_value()) {
      Reply(res, 503, "no checkpoint has been issued yet; retry in a moment");
      return;
    }
    res.status = 200;
    // It changes about every second (checkpoint_interval).
    res.set_header("Cache-Control", "no-cache");
    res.set_content(latest->note, kTextType);
    return;
  }
  HandleTile(*ready, std::string_view(req.path).substr(1), res);
}

void HttpServer::HandleTile(const Ready& ready, std::string_view path,
                            httplib::Response& res) {
  absl::StatusOr<ledger::TlogTile> tile = ledger::ParseTlogTilePath(path);
  if (!tile.ok()) {
    Reply(res, 404, StrCat("not a tile path: ", ToString(tile.status())));
    return;
  }
  const uint64_t size = ready.ctx.coordinator->Committed().size;
  if (!ledger::TlogTileExists(*tile, size)) {
    Reply(res, 404,
          StrCat(path, " is beyond the tree (", size,
                 " entries); fetch the checkpoint for the current size"));
    return;
  }
  absl::StatusOr<std::string> body;
  if (tile->entries) {
    const uint64_t first = tile->index * ledger::kTlogTileWidth;
    absl::StatusOr<std::vector<std::string>> entries =
        ready.ctx.ledger->GetEntries(first, first + tile->width, tile->width);
    body = entries.ok() ? ledger::EncodeEntryBundle(*entries, first)
                        : entries.status();
    if (absl::IsFailedPrecondition(body.status())) {
      // An entry the bundle format cannot carry (ledger/FORMAT.md section 14).
      Reply(res, 501, ToString(body.status()));
      return;
    }
  } else {
    body = ready.ctx.ledger->TlogHashTile(*tile, size);
  }
  if (!body.ok()) {
    if (absl::IsDataLoss(body.status())) {
      spdlog::error("HTTP {}: {}", path, ToString(body.status()));
    }
    Reply(res, HttpStatusOf(body.status()), ToString(body.status()));
    return;
  }
  res.status = 200;
  // A tile's bytes, full or partial, never change.
  res.set_header("Cache-Control", "public, max-age=31536000, immutable");
  res.set_content(*std::move(body), kOctetType);
}

}  // namespace ledger::node
