#pragma once

// An etcd v3 client over gRPC (proto/etcd: our definitions of etcd's API)
// for the cluster coordinator: EtcdKv on a real etcd cluster.
//
// Connectivity. One gRPC channel over every member, target
// "ipv4:a:p,b:q,...", pick_first, in an order shuffled once per process so
// that nodes spread over the members. When a call fails with Unavailable or
// DeadlineExceeded the client rotates the order (a new channel whose first
// address is the next member): a member that accepts TCP but has lost its
// quorum, or hangs, is left even though its connection looks healthy.
// Streams carry etcd's "hasleader" metadata, so a member without a leader
// refuses them at once instead of leaving them silent.
//
// Deadlines. Every unary call is bounded by `call_timeout`. Reads and lease
// calls are retried inside that budget (they are idempotent); Put and Txn
// are tried once, since a write that failed with Unavailable or
// DeadlineExceeded may have been applied: the caller re-reads and decides.
// Errors name the operation and the endpoint list.
//
// Keep-alive: one thread per kept lease, renewing every third of its TTL
// with a short bidi stream per renewal, each bounded by min(call deadline,
// the lease's expiry), so a hung member cannot hold the loop past the
// expiry. Lost = etcd answered TTL 0, or the expiry passed without a
// successful renewal (measured from when the last successful renewal was
// sent, so the local view expires no later than etcd's).
//
// Watch: one thread per watch with a long-lived stream; when the stream
// breaks (member killed, no leader, keepalive timeout) it is reopened from
// the last delivered mod_revision + 1, so events are delivered once each,
// in order. A start revision that etcd has compacted is reported through
// on_compacted and the watch resumes from the compaction revision.
//
// Thread-safe: any thread may call anything; destroying the client first
// requires destroying its tasks (they hold the client).

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/sync.h"
#include "grpcpp/security/credentials.h"
#include "node/etcd_kv.h"

namespace ledger::node {

struct EtcdClientOptions {
  // The members' client endpoints, "a.b.c.d:port" (IPv4 literals: the
  // ipv4: target resolver takes no names).
  std::vector<std::string> endpoints;
  // Bound of every unary call, retries included.
  absl::Duration call_timeout = absl::Seconds(3);
  // nullptr: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // With TLS: the name the members' certificates are checked against (with
  // a multi-address target gRPC would check the whole list otherwise).
  std::string tls_target_name;
  // Shuffle the endpoints once (per client). Tests turn it off to know
  // which member the client talks to first.
  bool shuffle = true;
};

class EtcdClient : public EtcdKv {
 public:
  // InvalidArgument for an empty or malformed endpoint list. Does not
  // connect: the first call does.
  static absl::StatusOr<std::unique_ptr<EtcdClient>> Create(
      EtcdClientOptions options);
  ~EtcdClient() override;
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  absl::StatusOr<EtcdGetResult> Get(const std::string& key) override;
  absl::StatusOr<int64_t> Put(const std::string& key, const std::string& value,
                              int64_t lease = 0) override;
  absl::StatusOr<EtcdTxnResult> Txn(const EtcdTxn& txn) override;
  absl::StatusOr<EtcdLease> LeaseGrant(absl::Duration ttl) override;
  absl::Status LeaseRevoke(int64_t lease) override;
  std::unique_ptr<EtcdTask> KeepAlive(
      const EtcdLease& lease,
      std::function<void(const absl::Status&)> on_lost) override;
  std::unique_ptr<EtcdTask> Watch(const std::string& key,
                                  int64_t start_revision,
                                  EtcdWatchCallbacks callbacks) override;

  // "etcd [a:p, b:q, ...]" in the configured order: the prefix of errors.
  const std::string& description() const { return description_; }
  absl::Duration call_timeout() const { return options_.call_timeout; }

  // The channel and stubs in use; replaced by Rotate. Internal, shared with
  // the tasks (etcd_client.cc).
  struct Connection;
  std::shared_ptr<Connection> connection() const;
  // Moves to the next endpoint order if `failed` is still the connection
  // in use (several callers seeing one failure rotate once).
  void Rotate(const std::shared_ptr<Connection>& failed);
  // `status` of `op`, prefixed with the endpoint list.
  absl::Status Error(std::string_view op, const absl::Status& status) const;

 private:
  explicit EtcdClient(EtcdClientOptions options);
  std::shared_ptr<Connection> Connect(size_t first) const;

  const EtcdClientOptions options_;
  const std::vector<std::string> order_;  // shuffled endpoints
  const std::string description_;
  mutable Mutex mu_;
  std::shared_ptr<Connection> connection_ ABSL_GUARDED_BY(mu_);
  size_t first_ ABSL_GUARDED_BY(mu_) = 0;  // index into order_
};

}  // namespace ledger::node
