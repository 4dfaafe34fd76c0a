#pragma once

// Requests that never reach a handler, answered with a status a client can
// act on and logged at a bounded rate.
//
// gRPC parses a request before it calls the method's handler. When the
// bytes do not parse as the method's request message (not its protobuf
// encoding, or a string field that is not valid UTF-8, which proto3 parsing
// refuses), gRPC answers INTERNAL (synchronous methods) or UNIMPLEMENTED
// (callback methods), both with an empty message, and protobuf logs an
// error line for every such request. A method this server does not have is
// answered UNIMPLEMENTED, again without a message.
//
//  - NewRequestGuardFactory()'s interceptor turns the first into
//    INVALID_ARGUMENT naming the method, its request type and, for UTF-8,
//    the field: "the request to /ledger.v1.Ingest/Append does not parse as
//    ledger.v1.AppendRequest: string field ledger.v1.Event.tenant holds
//    invalid UTF-8 (string fields must be UTF-8; ...)".
//  - UnknownMethodService (registered as the server's generic service)
//    answers the second UNIMPLEMENTED naming the method and this node's
//    services.
//  - InstallProtobufLogHandler() sends protobuf's own log lines to spdlog,
//    at most kLogLinesPerMinute a minute.
//
// Each kind of refusal is logged (warn) at most kLogLinesPerMinute times a
// minute, with the number of lines left out since the last one.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/support/server_interceptor.h"

namespace ledger::node {

inline constexpr uint64_t kLogLinesPerMinute = 10;

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewRequestGuardFactory();

// Trailing metadata naming a cluster's leader: an UNAVAILABLE answer to a
// write (ledger.v1.Ingest, ledger.v1.Admin) gets `ledger-leader: ADDRESS`
// when `leader_address()` is not empty, so that a client can send the
// write there without parsing the message (docs/cluster.md, "Clients").
inline constexpr char kLeaderHeader[] = "ledger-leader";
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewLeaderHintFactory(std::function<std::string()> leader_address);

class UnknownMethodService : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override;
};

// Routes protobuf's log lines to spdlog, rate-limited, and remembers the
// last parse error on each thread for TakeProtobufParseError. Process-wide;
// the first call installs it, later calls do nothing. Call at start-up,
// before requests are served (protobuf's SetLogHandler is not
// thread-safe).
void InstallProtobufLogHandler();

// What protobuf last logged on this thread about a message it could not
// parse (e.g. "string field ledger.v1.Event.tenant holds invalid UTF-8"),
// or "" if nothing since the last call; clears it. Needs
// InstallProtobufLogHandler.
std::string TakeProtobufParseError();

// Forgets what the process-wide log limits above have let through (tests
// that count log lines).
void ResetLogLimitsForTesting();

// The INVALID_ARGUMENT message for a request to `method`
// ("/package.Service/Method") that did not parse; `detail` is what
// TakeProtobufParseError said, possibly "".
std::string UnparsableRequestMessage(std::string_view method,
                                     std::string_view detail);

}  // namespace ledger::node
