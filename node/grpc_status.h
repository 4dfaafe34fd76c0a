#pragma once

// The RPC boundary for errors: absl::Status codes are gRPC's codes, so the
// mapping is one to one and the message is passed through unchanged.
//
// An INVALID_ARGUMENT about a request field also carries, as the call's
// binary error details (the grpc-status-details-bin trailer), a
// google.rpc.Status with the same code and message and one
// google.rpc.BadRequest holding the field violation, so clients in any
// language can point at the field (docs/api-errors.md). The
// node's messages name the field first, "<field path>: <what is wrong>"
// (ledger/event_validate.cc, node/convert.cc); the details are attached
// only when that path names a field of the request's message type.

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "grpcpp/support/status.h"

namespace ledger::node {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// As ToGrpcStatus, for a call whose request is of type `request`: an
// INVALID_ARGUMENT naming one of its fields gets BadRequest details.
grpc::Status ToGrpcStatus(const absl::Status& status,
                          const google::protobuf::Descriptor& request);
grpc::Status ToGrpcStatus(const absl::Status& status,
                          const google::protobuf::Message& request);

// The same with `message` as the call's message instead of the status's
// (a stream's final status wraps the failed message's error in its own
// words); the field violation still comes from `status`.
grpc::Status ToGrpcStatus(const absl::Status& status,
                          const google::protobuf::Descriptor& request,
                          std::string message);

// One google.rpc.BadRequest.FieldViolation.
struct FieldViolation {
  std::string field;        // e.g. "events[3].subjects[0].id"
  std::string description;  // the message after "<field>: "
};

// The field an error message names, if the message starts with
// "<path>: " and <path> is a field path of `request`: field names of the
// .proto joined by '.', each repeated one optionally indexed "[n]" (map
// fields count as repeated), every name but the last a message field.
std::optional<FieldViolation> FieldViolationOf(
    std::string_view message, const google::protobuf::Descriptor& request);

}  // namespace ledger::node
