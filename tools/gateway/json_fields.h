#pragma once

// Reading the platforms' JSON for the mappings: a bounded parse, and
// typed field access whose errors name the field's path.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "ledger/event.h"
#include "nlohmann/json.hpp"

namespace ledger::gateway {

using Json = nlohmann::json;

// Deepest nesting of arrays and objects a body may have. The platforms'
// payloads nest a handful of levels (annotation results about ten); the
// bound keeps a hostile body from costing a deep recursion.
inline constexpr int kMaxJsonDepth = 64;

// Parses `body` as one JSON object. InvalidArgument for a syntax error
// (with its byte offset), nesting deeper than kMaxJsonDepth, or a value
// that is not an object.
absl::StatusOr<Json> ParseObject(std::string_view body);

// The member `key` of object `j`, or nullptr when absent or null.
const Json* Member(const Json& j, std::string_view key);

// Required string member; InvalidArgument "<path>: must be a string" or
// "<path>: is missing".
absl::StatusOr<std::string> RequiredString(const Json& j, std::string_view key,
                                           std::string_view path);
// Optional string member: nullopt when absent or null; InvalidArgument
// when present with another type.
absl::StatusOr<std::optional<std::string>> OptionalString(
    const Json& j, std::string_view key, std::string_view path);

// An identifier the platforms send as a JSON integer (Label Studio and
// CVAT ids) or string: its decimal or string form. InvalidArgument when
// missing, empty, negative, fractional or of another type.
absl::StatusOr<std::string> RequiredId(const Json& j, std::string_view key,
                                       std::string_view path);
// As RequiredId, but nullopt when absent or null.
absl::StatusOr<std::optional<std::string>> OptionalId(const Json& j,
                                                      std::string_view key,
                                                      std::string_view path);

// An RFC 3339 time ("2026-05-01T12:00:00.123456Z", any offset) as UTC
// nanoseconds since the epoch. InvalidArgument naming `path` otherwise.
absl::StatusOr<int64_t> ParseTimeNs(std::string_view text,
                                    std::string_view path);
// The time in string member `key`, or nullopt when absent or null.
absl::StatusOr<std::optional<int64_t>> OptionalTime(const Json& j,
                                                    std::string_view key,
                                                    std::string_view path);

// `text` cut to at most `max_bytes` at a UTF-8 character boundary.
std::string TruncateUtf8(std::string_view text, size_t max_bytes);

// A subject, input or output reference with only kind and id.
inline SubjectRef Ref(SubjectKind kind, std::string id) {
  SubjectRef ref;
  ref.kind = kind;
  ref.id = std::move(id);
  return ref;
}

// The attributes sorted by key, as ValidateEvent requires (keys are
// distinct by construction in the mappings).
void SortAttributes(Event& event);

// ValidateEvent (append rules) and the lineage rules; FailedPrecondition
// "events[i].<field>: ..." so the answer says which event and field the
// ledger would refuse.
absl::Status CheckMapped(const std::vector<Event>& events,
                         const EventLimits& limits);

}  // namespace ledger::gateway
