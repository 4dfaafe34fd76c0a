#pragma once

// What ledger-gateway receives, mapped onto the ledger's events
// (docs/gateway.md has the table): OpenLineage RunEvents, Label Studio
// webhooks and CVAT webhooks. Pure functions of the request body, the
// options and a clock reading: no network, no storage.
//
// Every mapped event gets an event_id derived from the delivery's identity
// (DeliveryEventId), so a platform that delivers the same request again
// gets the same events, which the ledger acknowledges as duplicates of the
// first: one entry per delivery, however often it is retried.
//
// Errors, all naming the JSON field (e.g. "run.runId: must be a string"):
//   InvalidArgument  the body is not the platform's JSON (syntax, missing
//                    or mistyped field, bad time) - HTTP 400;
//   Unimplemented    well-formed, but an action or event the gateway does
//                    not record - HTTP 422;
//   FailedPrecondition  mapped, but the ledger would refuse the event
//                    (ValidateEvent, lineage rules) - HTTP 422;
//   OutOfRange       more events than MappingOptions::max_events - HTTP 413.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ledger/event.h"

namespace ledger::gateway {

// The three kinds of request, by where they come from.
enum class Source { kOpenLineage, kLabelStudio, kCvat };
// "openlineage", "label-studio", "cvat": the producer suffix and the first
// component of every event_id name.
std::string_view SourceName(Source source);

struct MappingOptions {
  // The tenant of every event (the gateway's emitter key's tenant).
  std::string tenant;
  // Events' producer is "<producer>/<SourceName>"; register the gateway's
  // key with this producer so it can sign nothing else.
  std::string producer = "ledger-gateway";
  // The type of an OpenLineage end event (COMPLETE, FAIL, ABORT) that
  // names inputs and outputs, unless the job's "ledger" facet names one;
  // must be one of ledger::LineageTypes().
  std::string openlineage_type = "dataset.version_created";
  // Most events one request may map to (a Label Studio TASKS_CREATED
  // lists every imported task).
  uint32_t max_events = 1000;
  EventLimits limits;
};

// One request, mapped.
struct Mapped {
  std::vector<Event> events;  // in the order of the request
  // What the event ids were derived from, e.g. "cvat create:task webhook 3
  // body 9f86d08...": for the gateway's log and its answer.
  std::string delivery;
  // Some event's occurred_at is the gateway's clock (`now_ns`), because the
  // platform sends no time for that action (deletions). A later delivery of
  // the same request then maps to the same event ids with another time; the
  // gateway answers such a conflict as a duplicate.
  bool clock_time = false;
};

absl::StatusOr<Mapped> MapOpenLineage(std::string_view body,
                                      const MappingOptions& options,
                                      int64_t now_ns);
absl::StatusOr<Mapped> MapLabelStudio(std::string_view body,
                                      const MappingOptions& options,
                                      int64_t now_ns);
absl::StatusOr<Mapped> MapCvat(std::string_view body,
                               const MappingOptions& options, int64_t now_ns);
absl::StatusOr<Mapped> Map(Source source, std::string_view body,
                           const MappingOptions& options, int64_t now_ns);

// CVAT's X-Signature-256 header: "sha256=" and the lowercase or uppercase
// hex HMAC-SHA256 of the exact body under `secret`. Compared in constant
// time. Unauthenticated if the header is missing (empty) or malformed,
// PermissionDenied if it does not match.
absl::Status VerifyCvatSignature(std::string_view body, std::string_view header,
                                 std::string_view secret);

// A name-based UUID (RFC 9562 version 8, the SHA-256 construction of its
// appendix B.2): the first 16 bytes of SHA-256(kGatewayNamespace || name)
// with the version and variant bits set.
Uuid NameBasedUuid(std::string_view name);

// The event_id of the `index`-th event of a delivery: NameBasedUuid of
// "<source>\n<delivery identity>\n<hex SHA-256 of the body>\n<index>".
Uuid DeliveryEventId(Source source, std::string_view identity,
                     std::string_view body, size_t index);

}  // namespace ledger::gateway
