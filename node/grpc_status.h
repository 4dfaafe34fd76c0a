#pragma once

// The RPC boundary for errors: absl::Status codes are gRPC's codes, so the
// mapping is one to one and the message is passed through unchanged.

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace ledger::node {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace ledger::node
