#pragma once

// ledger-gateway's request handling: authenticate, map (mapping.h), append
// through the Appender, answer. The HTTP server around it (server.h) only
// moves bytes; Handle() is the whole behaviour, so tests can drive it
// without sockets as well as through them.
//
// Answers, all JSON:
//   200 {"delivery": "...", "entries": [{"event_id", "type", "index",
//        "leaf_hash", "duplicate"}, ...]}    acknowledged by the ledger
//        (index and leaf_hash null for a repeated delivery whose first
//        entry's position the gateway no longer knows; see docs/gateway.md)
//   400 malformed body, or an event the ledger refuses as invalid (e.g.
//   its occurred_at outside the node's window); 401 missing or malformed
//   credentials; 403 forged (signature or token does not match, or CVAT
//   without a secret); 413 too many events; 422 well-formed but not
//   recorded, or refused by the lineage rules or as a conflicting event_id;
//   429 ledger pushback (Retry-After);
//   502 the ledger refused the gateway itself (key or certificate);
//   503 ledger unreachable (Retry-After); 504 ledger deadline.
//   Every error: {"error": "<reason naming the field>", "code": "<gRPC code>"}.

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/status/status.h"
#include "base/sync.h"
#include "tools/gateway/appender.h"
#include "tools/gateway/mapping.h"

namespace ledger::gateway {

struct GatewayOptions {
  MappingOptions mapping;
  // CVAT webhook secret; CVAT deliveries are refused (403) without one.
  std::string cvat_secret;
  // When set, Label Studio deliveries must carry the header
  // "Authorization: Token <token>" (or "Bearer <token>"): Label Studio
  // sends the headers configured on its webhook.
  std::string label_studio_token;
};

struct HttpReply {
  int status = 200;
  std::string body;             // JSON
  int retry_after_seconds = 0;  // > 0: send a Retry-After header
};

// What the handler needs of the request's headers.
struct RequestHeaders {
  std::string signature;      // X-Signature-256
  std::string authorization;  // Authorization
};

// HTTP status for a mapping or ledger error code (the table above).
int HttpStatusFor(const absl::Status& status);

class Gateway {
 public:
  // `appender` must outlive the gateway; `clock` gives UTC nanoseconds.
  Gateway(GatewayOptions options, Appender* appender,
          std::function<int64_t()> clock);

  // One POSTed request from `source`. Thread-safe; blocks until the
  // ledger answered.
  HttpReply Handle(Source source, std::string_view body,
                   const RequestHeaders& headers);

 private:
  absl::Status Authenticate(Source source, std::string_view body,
                            const RequestHeaders& headers) const;
  // For a delivery whose events take the gateway's clock: the time its
  // first delivery was given, if remembered, else `now` (remembered).
  int64_t ClockFor(const std::string& first_event_id, int64_t now);

  const GatewayOptions options_;
  Appender* const appender_;
  const std::function<int64_t()> clock_;

  // Clock times of recent deliveries without a time of their own, by the
  // first event's id, so that a retry maps to the same bytes and the
  // ledger acknowledges it as a duplicate with its index. Bounded (oldest
  // forgotten first).
  Mutex mu_;
  std::unordered_map<std::string, int64_t> clock_times_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> clock_order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ledger::gateway
