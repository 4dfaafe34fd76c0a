#pragma once

// Events: what an annotation platform emits (ledger/FORMAT.md section 3), their
// canonical bytes (ledger/FORMAT.md, "Event") and their validation.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/bytes.h"

namespace ledger {

using Uuid = std::array<uint8_t, 16>;

// Parses the canonical 36-character UUID form (8-4-4-4-12 hex digits, any
// case). FormatUuid writes lowercase.
absl::StatusOr<Uuid> ParseUuid(std::string_view text);
std::string FormatUuid(const Uuid& uuid);

enum class ActorKind : uint8_t { kHuman = 1, kService = 2, kModel = 3 };
enum class SubjectKind : uint8_t { kDataset = 1, kItem = 2, kAnnotation = 3 };
enum class OutcomeStatus : uint8_t { kSuccess = 1, kFailure = 2 };

struct Actor {
  ActorKind kind = ActorKind::kHuman;
  std::string id;
  std::string role;
  friend bool operator==(const Actor&, const Actor&) = default;
};

struct Source {
  std::string ip;
  std::string session;
  std::string request_id;
  friend bool operator==(const Source&, const Source&) = default;
};

struct SubjectRef {
  SubjectKind kind = SubjectKind::kDataset;
  std::string id;
  std::string version;
  std::optional<crypto::Hash> content_sha256;
  uint64_t item_count = 0;
  friend bool operator==(const SubjectRef&, const SubjectRef&) = default;
};

struct Outcome {
  OutcomeStatus status = OutcomeStatus::kSuccess;
  std::string error_code;
  friend bool operator==(const Outcome&, const Outcome&) = default;
};

struct Event {
  Uuid event_id{};
  std::string type;  // "resource.action", see ledger/FORMAT.md section 3.2
  uint32_t schema_version = 1;
  int64_t occurred_at_ns = 0;  // UTC, nanoseconds since the Unix epoch
  std::string producer;        // platform and version
  std::string tenant;
  std::string project;
  Actor actor;
  std::string on_behalf_of;
  Source source;
  std::vector<SubjectRef> subjects;
  std::vector<SubjectRef> inputs;   // lineage: what the action read
  std::vector<SubjectRef> outputs;  // lineage: what the action produced
  Outcome outcome;
  std::string region;
  std::string purpose;
  std::string run_id;
  std::string parent_run_id;
  // Sorted by key, keys unique (the encoder requires it; validation checks).
  std::vector<std::pair<std::string, std::string>> attributes;
  std::string payload;  // opaque ciphertext; empty if none
  friend bool operator==(const Event&, const Event&) = default;
};

// Limits enforced by ValidateEvent and by the decoder.
struct EventLimits {
  uint32_t max_event_bytes = 64 * 1024;  // canonical encoding
  uint32_t max_string_bytes = 1024;      // any single text field
  uint32_t max_attribute_value_bytes = 4096;
  uint32_t max_refs = 1000;  // subjects, inputs, outputs, each
  uint32_t max_attributes = 128;
  uint32_t max_payload_bytes = 32 * 1024;
};

// The tenant of ledger-internal events about node keys; no emitter tenant
// can have this name (tenants otherwise match [A-Za-z0-9][A-Za-z0-9._-]*).
inline constexpr std::string_view kLedgerTenant = "_ledger";

// Canonical bytes, format version 1 (ledger/FORMAT.md). The event must
// satisfy ValidateEvent's structural rules (sorted unique attributes);
// otherwise the bytes are written as given and DecodeEvent rejects them.
// One allocation of exactly EncodedEventSize(event) bytes.
std::string EncodeEvent(const Event& event);
// EncodeEvent(event).size(), computed without encoding.
size_t EncodedEventSize(const Event& event);

// Strict inverse of EncodeEvent: InvalidArgument on any deviation
// (truncation, trailing bytes, unknown version or enum, unsorted
// attributes, over-limit lengths), naming the field ("subjects[1].id: ...").
// Checks structure only: run ValidateEvent for content rules (types, UTF-8,
// required fields).
absl::StatusOr<Event> DecodeEvent(std::string_view bytes,
                                  const EventLimits& limits = {});
// DecodeEvent into `*out`, whose strings and lists keep their capacity:
// for loops that decode many events into one Event. On error *out holds
// part of the event.
absl::Status DecodeEventInto(std::string_view bytes, const EventLimits& limits,
                             Event* out);
// The tenant of canonical event bytes, decoding only the fields before it
// (InvalidArgument naming the field): for reads that check the tenant of
// many entries and need nothing else.
absl::StatusOr<std::string_view> DecodeEventTenant(std::string_view bytes);

// Which text rules ValidateEvent applies (ledger/FORMAT.md sections 2.2
// and 2.3).
enum class TextRules {
  // An event being appended now: section 2.2 and section 2.3 (no
  // bidirectional formatting characters, no line or paragraph separators).
  kAppend,
  // An event already in a ledger: section 2.2 only. Ledgers accepted the
  // characters of section 2.3 before that rule existed, and such entries
  // stay valid.
  kStored,
};

// ledger/FORMAT.md section 3.2 rules: required fields (event_id non-nil, type
// in the taxonomy, schema_version >= 1, occurred_at, producer, tenant, actor
// kind and id, outcome), valid UTF-8 without control characters in text fields
// (attribute values may also hold TAB and LF), with `rules` deciding whether
// section 2.3 applies, sizes within `limits`, attribute keys sorted and
// unique. Checks fields in declaration order and returns the first violation
// as InvalidArgument whose message names the field and, for a character, its
// code point and byte offset, e.g. "subjects[2].id: must not be empty" or
// "actor.id: bidirectional formatting character U+202E at byte 4"; a
// too-large whole encoding is "event: canonical encoding of N bytes
// exceeds ...".
absl::Status ValidateEvent(const Event& event, const EventLimits& limits,
                           TextRules rules = TextRules::kAppend);

// True for every type of ledger/FORMAT.md section 3.2.
bool IsKnownEventType(std::string_view type);
// Types only the ledger itself may write (family 10 and grade.propagated).
bool IsLedgerInternalType(std::string_view type);

// `text` quoted for an error message, as ValidateEvent quotes what it
// names: in single quotes, printable ASCII as is, other bytes (and the
// quote and backslash) as \xNN, at most 64 bytes of input then "...".
std::string QuoteForMessage(std::string_view text);

// The value of attribute `key` (attributes are sorted by key, as
// ValidateEvent requires); nullptr if the event has none.
const std::string* FindAttribute(const Event& event, std::string_view key);

}  // namespace ledger
