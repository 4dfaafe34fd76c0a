#include "node/etcd_client.h"

#include <arpa/inet.h>

#include <algorithm>
#include <random>
#include <utility>

#include "base/status_macros.h"
#include "base/strings.h"
#include "etcd/etcdserverpb/rpc.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "node/etcd_client_internal.h"

namespace ledger::node {

using etcd_internal::FromGrpcStatus;
using etcd_internal::FromProto;
using etcd_internal::IsRetryable;
using etcd_internal::NextBackoff;

namespace {

// "a.b.c.d:port" with a port in 1..65535.
bool IsIpv4Endpoint(const std::string& endpoint) {
  const size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos) return false;
  in_addr addr;
  if (inet_pton(AF_INET, endpoint.substr(0, colon).c_str(), &addr) != 1) {
    return false;
  }
  const auto port =
      ParseCanonicalUint64(std::string_view(endpoint).substr(colon + 1));
  return port && *port >= 1 && *port <= 65535;
}

std::vector<std::string> Shuffled(const EtcdClientOptions& options) {
  std::vector<std::string> order = options.endpoints;
  if (options.shuffle) {
    std::mt19937_64 rng(std::random_device{}());
    std::shuffle(order.begin(), order.end(), rng);
  }
  return order;
}

std::string Describe(const std::vector<std::string>& order) {
  std::string out = "etcd [";
  for (size_t i = 0; i < order.size(); ++i) {
    StrAppend(&out, i ? ", " : "", order[i]);
  }
  out += "]";
  return out;
}

void ToProto(const EtcdCompare& c, etcdserverpb::Compare* out) {
  using P = etcdserverpb::Compare;
  out->set_key(c.key);
  switch (c.result) {
    case EtcdCompare::Result::kEqual:
      out->set_result(P::EQUAL);
      break;
    case EtcdCompare::Result::kGreater:
      out->set_result(P::GREATER);
      break;
    case EtcdCompare::Result::kLess:
      out->set_result(P::LESS);
      break;
    case EtcdCompare::Result::kNotEqual:
      out->set_result(P::NOT_EQUAL);
      break;
  }
  switch (c.target) {
    case EtcdCompare::Target::kVersion:
      out->set_target(P::VERSION);
      out->set_version(c.number);
      break;
    case EtcdCompare::Target::kCreate:
      out->set_target(P::CREATE);
      out->set_create_revision(c.number);
      break;
    case EtcdCompare::Target::kMod:
      out->set_target(P::MOD);
      out->set_mod_revision(c.number);
      break;
    case EtcdCompare::Target::kValue:
      out->set_target(P::VALUE);
      out->set_value(c.value);
      break;
    case EtcdCompare::Target::kLease:
      out->set_target(P::LEASE);
      out->set_lease(c.number);
      break;
  }
}

void ToProto(const EtcdOp& op, etcdserverpb::RequestOp* out) {
  switch (op.kind) {
    case EtcdOp::Kind::kGet:
      out->mutable_request_range()->set_key(op.key);
      break;
    case EtcdOp::Kind::kPut: {
      auto* put = out->mutable_request_put();
      put->set_key(op.key);
      put->set_value(op.value);
      put->set_lease(op.lease);
      break;
    }
    case EtcdOp::Kind::kDelete:
      out->mutable_request_delete_range()->set_key(op.key);
      break;
  }
}

// Runs one unary RPC under the client's deadline. `idempotent` calls are
// retried (rotating the endpoint order) until the deadline; others are
// tried once, and a retryable failure rotates for the next call.
template <typename Fn>
absl::Status CallUnary(EtcdClient* client, std::string_view op, bool idempotent,
                       Fn fn) {
  const absl::Time deadline = absl::Now() + client->call_timeout();
  absl::Duration backoff;
  grpc::Status last;
  for (int attempt = 0;; ++attempt) {
    std::shared_ptr<EtcdClient::Connection> conn = client->connection();
    grpc::ClientContext ctx;
    // A retried call gives each attempt a part of the budget, so a member
    // that hangs does not take all of it.
    absl::Time attempt_deadline = deadline;
    if (idempotent) {
      attempt_deadline =
          std::min(deadline, absl::Now() + client->call_timeout() / 3);
    }
    ctx.set_deadline(absl::ToChronoTime(attempt_deadline));
    // Wait for a connection (within the deadline) rather than failing at
    // once while the channel reconnects to another member.
    ctx.set_wait_for_ready(true);
    last = fn(*conn, &ctx);
    if (last.ok()) return absl::OkStatus();
    if (!IsRetryable(last.error_code())) break;
    client->Rotate(conn);
    if (!idempotent) break;
    backoff = NextBackoff(backoff);
    if (absl::Now() + backoff >= deadline) break;
    absl::SleepFor(backoff);  // a retry's pause, bounded by the deadline
  }
  return client->Error(op, FromGrpcStatus(last));
}

}  // namespace

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Create(
    EtcdClientOptions options) {
  if (options.endpoints.empty()) {
    return absl::InvalidArgumentError("etcd endpoints: the list is empty");
  }
  for (const std::string& endpoint : options.endpoints) {
    if (!IsIpv4Endpoint(endpoint)) {
      return absl::InvalidArgumentError(
          StrCat("etcd endpoint \"", endpoint,
                 "\": expected an IPv4 address and a port, as 127.0.0.1:2379"));
    }
  }
  if (options.call_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("etcd call timeout must be positive");
  }
  return std::unique_ptr<EtcdClient>(new EtcdClient(std::move(options)));
}

EtcdClient::EtcdClient(EtcdClientOptions options)
    : options_(std::move(options)),
      order_(Shuffled(options_)),
      description_(Describe(order_)) {
  connection_ = Connect(0);
}

EtcdClient::~EtcdClient() = default;

std::shared_ptr<EtcdClient::Connection> EtcdClient::Connect(
    size_t first) const {
  std::string target = "ipv4:";
  for (size_t i = 0; i < order_.size(); ++i) {
    StrAppend(&target, i ? "," : "", order_[(first + i) % order_.size()]);
  }
  grpc::ChannelArguments args;
  // Reconnect quickly after a member dies (gRPC's default minimum backoff
  // is 20 s).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // Detect a hung member under a long-lived stream. etcd refuses pings more
  // often than every 5 s (--grpc-keepalive-min-time) and pings without a
  // call in flight.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 3000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  // Every client has its own connections (a rotation must not reuse the
  // subchannel of another client's channel to the same member).
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (!options_.tls_target_name.empty()) {
    args.SetSslTargetNameOverride(options_.tls_target_name);
  }
  auto conn = std::make_shared<Connection>();
  conn->channel = grpc::CreateCustomChannel(
      target,
      options_.credentials ? options_.credentials
                           : grpc::InsecureChannelCredentials(),
      args);
  conn->kv = etcdserverpb::KV::NewStub(conn->channel);
  conn->lease = etcdserverpb::Lease::NewStub(conn->channel);
  conn->watch = etcdserverpb::Watch::NewStub(conn->channel);
  return conn;
}

std::shared_ptr<EtcdClient::Connection> EtcdClient::connection() const {
  MutexLock lock(&mu_);
  return connection_;
}

void EtcdClient::Rotate(const std::shared_ptr<Connection>& failed) {
  if (order_.size() < 2) return;  // one member: reconnecting is gRPC's job
  MutexLock lock(&mu_);
  if (connection_ != failed) return;
  first_ = (first_ + 1) % order_.size();
  connection_ = Connect(first_);
}

absl::Status EtcdClient::Error(std::string_view op,
                               const absl::Status& status) const {
  return absl::Status(status.code(), StrCat(description_, " ", op, ": ",
                                            ToStd(status.message())));
}

absl::StatusOr<EtcdGetResult> EtcdClient::Get(const std::string& key) {
  etcdserverpb::RangeRequest request;
  request.set_key(key);
  etcdserverpb::RangeResponse response;
  LEDGER_RETURN_IF_ERROR(
      CallUnary(this, StrCat("Range ", key), /*idempotent=*/true,
                [&](Connection& c, grpc::ClientContext* ctx) {
                  return c.kv->Range(ctx, request, &response);
                }));
  EtcdGetResult result;
  result.revision = response.header().revision();
  result.member_id = response.header().member_id();
  if (response.kvs_size() > 0) result.kv = FromProto(response.kvs(0));
  return result;
}

absl::StatusOr<int64_t> EtcdClient::Put(const std::string& key,
                                        const std::string& value,
                                        int64_t lease) {
  etcdserverpb::PutRequest request;
  request.set_key(key);
  request.set_value(value);
  request.set_lease(lease);
  etcdserverpb::PutResponse response;
  LEDGER_RETURN_IF_ERROR(
      CallUnary(this, StrCat("Put ", key), /*idempotent=*/false,
                [&](Connection& c, grpc::ClientContext* ctx) {
                  return c.kv->Put(ctx, request, &response);
                }));
  return response.header().revision();
}

absl::StatusOr<EtcdTxnResult> EtcdClient::Txn(const EtcdTxn& txn) {
  etcdserverpb::TxnRequest request;
  for (const EtcdCompare& c : txn.compares) ToProto(c, request.add_compare());
  for (const EtcdOp& op : txn.success) ToProto(op, request.add_success());
  for (const EtcdOp& op : txn.failure) ToProto(op, request.add_failure());
  etcdserverpb::TxnResponse response;
  LEDGER_RETURN_IF_ERROR(
      CallUnary(this, "Txn", /*idempotent=*/false,
                [&](Connection& c, grpc::ClientContext* ctx) {
                  return c.kv->Txn(ctx, request, &response);
                }));
  EtcdTxnResult result;
  result.succeeded = response.succeeded();
  result.revision = response.header().revision();
  for (const etcdserverpb::ResponseOp& op : response.responses()) {
    if (!op.has_response_range()) continue;
    const auto& range = op.response_range();
    if (range.kvs_size() > 0) {
      result.gets.push_back(FromProto(range.kvs(0)));
    } else {
      result.gets.push_back(std::nullopt);
    }
  }
  return result;
}

absl::StatusOr<EtcdLease> EtcdClient::LeaseGrant(absl::Duration ttl) {
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(std::max<int64_t>(
      1, absl::ToInt64Seconds(absl::Ceil(ttl, absl::Seconds(1)))));
  etcdserverpb::LeaseGrantResponse response;
  const absl::Time sent = absl::Now();
  // Retrying a grant that was applied leaves an unused lease, which
  // expires on its own.
  LEDGER_RETURN_IF_ERROR(
      CallUnary(this, "LeaseGrant", /*idempotent=*/true,
                [&](Connection& c, grpc::ClientContext* ctx) {
                  return c.lease->LeaseGrant(ctx, request, &response);
                }));
  if (!response.error().empty()) {
    return Error("LeaseGrant", absl::UnavailableError(response.error()));
  }
  return EtcdLease{response.id(), absl::Seconds(response.ttl()), sent};
}

absl::Status EtcdClient::LeaseRevoke(int64_t lease) {
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease);
  etcdserverpb::LeaseRevokeResponse response;
  return CallUnary(this, StrCat("LeaseRevoke ", lease), /*idempotent=*/true,
                   [&](Connection& c, grpc::ClientContext* ctx) {
                     return c.lease->LeaseRevoke(ctx, request, &response);
                   });
}

std::unique_ptr<EtcdTask> EtcdClient::KeepAlive(
    const EtcdLease& lease, std::function<void(const absl::Status&)> on_lost) {
  return etcd_internal::StartKeepAlive(this, lease, std::move(on_lost));
}

std::unique_ptr<EtcdTask> EtcdClient::Watch(const std::string& key,
                                            int64_t start_revision,
                                            EtcdWatchCallbacks callbacks) {
  return etcd_internal::StartWatch(this, key, start_revision,
                                   std::move(callbacks));
}

}  // namespace ledger::node
