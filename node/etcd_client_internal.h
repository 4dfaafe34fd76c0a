#pragma once

// Shared by etcd_client.cc (unary calls) and etcd_tasks.cc (the keep-alive
// and watch threads); not for other users.

#include <algorithm>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "etcd/etcdserverpb/rpc.grpc.pb.h"
#include "node/etcd_client.h"

namespace ledger::node {

struct EtcdClient::Connection {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch;
};

namespace etcd_internal {

// Between attempts of a retried call, and before reopening a stream.
inline constexpr absl::Duration kMinBackoff = absl::Milliseconds(20);
inline constexpr absl::Duration kMaxBackoff = absl::Milliseconds(500);

inline absl::Duration NextBackoff(absl::Duration d) {
  return std::min(kMaxBackoff, std::max(kMinBackoff, d * 2));
}

// gRPC's codes are absl's (node/grpc_status.h does the same for the
// services; this library does not link them).
inline absl::Status FromGrpcStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

inline bool IsRetryable(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE ||
         code == grpc::StatusCode::DEADLINE_EXCEEDED;
}

inline EtcdKeyValue FromProto(const mvccpb::KeyValue& kv) {
  return {kv.key(),          kv.value(),   kv.create_revision(),
          kv.mod_revision(), kv.version(), kv.lease()};
}

// The tasks behind EtcdClient::KeepAlive and EtcdClient::Watch.
std::unique_ptr<EtcdTask> StartKeepAlive(
    EtcdClient* client, EtcdLease lease,
    std::function<void(const absl::Status&)> on_lost);
std::unique_ptr<EtcdTask> StartWatch(EtcdClient* client, std::string key,
                                     int64_t start_revision,
                                     EtcdWatchCallbacks callbacks);

}  // namespace etcd_internal
}  // namespace ledger::node
