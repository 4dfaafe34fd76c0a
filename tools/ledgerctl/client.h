#pragma once

// What every ledgerctl network command shares: the connection to a node,
// per-call deadlines, gRPC status conversion, the error line format, and
// JSON helpers for values that come back from the node.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/timestamp.pb.h"
#include "ledger/v1/ingest.pb.h"
#include "nlohmann/json.hpp"
#include "tools/common/client_tls.h"

namespace ledger::ctl {

using Json = nlohmann::ordered_json;

inline constexpr std::string_view kDefaultServer = "127.0.0.1:7400";

struct ConnectionOptions {
  // --server (as `address`; default kDefaultServer), --profile, --ca,
  // --cert, --key, --insecure-plaintext (tools/common/client_tls.h).
  client_tls::ClientFlags client;
  // Deadline of each RPC, in seconds.
  double timeout_seconds = 10;
};

// A channel to the node: mutual TLS with the client certificate of the
// flags or the profile (LEDGER_PROFILE), or plaintext when asked for.
// InvalidArgument / NotFound / FailedPrecondition when the settings or
// the files they name are unusable (client_tls::ResolveEndpoint).
absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(
    const ConnectionOptions& options);

// For writes: `options` aimed at the cluster's leader when the node it names
// is a follower that names the leader (its refusal says "the leader is L
// at ADDRESS"), else `options` unchanged (a single node, the leader
// itself, or a node that does not answer: the write's own error says why).
ConnectionOptions ToLeader(const ConnectionOptions& options);

// A stub of `Service` on a channel to the node (Connect).
template <typename Service>
absl::StatusOr<std::unique_ptr<typename Service::Stub>> NewStub(
    const ConnectionOptions& conn) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(conn);
  if (!channel.ok()) return channel.status();
  return Service::NewStub(*channel);
}

// For an UNAVAILABLE status that looks like a failed TLS handshake or a
// connection the node closed at once: what the connection was (mutual TLS
// as which identity, trusting which CA; or plaintext) and the usual causes,
// as text to append to the error; "" otherwise.
std::string ConnectionHint(const absl::Status& status,
                           const ConnectionOptions& options);

// now + timeout.
std::chrono::system_clock::time_point Deadline(
    const ConnectionOptions& options);

// gRPC and Abseil share code numbers.
absl::Status FromGrpc(const grpc::Status& status);

// "error: <CODE NAME>: <message>\n", e.g. "error: NOT_FOUND: no entry 7".
std::string ErrorLine(const absl::Status& status);

// A Timestamp as RFC 3339, or JSON null when it is unset or the epoch.
Json TimestampJson(const google::protobuf::Timestamp& ts);
// Parses RFC 3339 ("2026-01-01T00:00:00Z"); InvalidArgument naming `flag`.
absl::StatusOr<google::protobuf::Timestamp> ParseTimestamp(
    std::string_view text, std::string_view flag);

// Lowercase hex of bytes.
std::string Hex(std::string_view bytes);

// The EntryRef acknowledgement as JSON: index, leaf_hash (hex),
// received_at, duplicate, event_id.
Json EntryRefJson(const v1::EntryRef& ref);

// Writes `json` on one line followed by a newline.
void PrintJson(std::ostream& out, const Json& json);

}  // namespace ledger::ctl
