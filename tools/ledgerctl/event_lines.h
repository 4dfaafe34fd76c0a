#pragma once

// Events as JSON lines: one ledger.v1.Event per line in the proto3 JSON
// mapping (field names in snake_case or lowerCamelCase, enums by name,
// timestamps in RFC 3339, bytes in base64), converted with
// node::EventFromProto, exactly as the node will convert them.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ledger/event.h"
#include "ledger/v1/event.pb.h"

namespace ledger::ctl {

struct NumberedLine {
  uint64_t number = 0;  // 1-based
  std::string_view text;
};

// The lines of `text` that are not blank, with their 1-based line numbers
// (blank lines are skipped but counted). A final line without "\n" counts.
std::vector<NumberedLine> SplitLines(std::string_view text);

// A line may also carry, beside the Event's fields, "payload_plaintext"
// (a string: personal data to encrypt into the payload, ledger/FORMAT.md
// section 3.4) with "data_subject" (a string: whose data it is, which picks
// the key). They are taken out of the line before it is parsed as an Event.
struct PlaintextPayload {
  std::string plaintext;
  std::string data_subject;
};

// Parses and converts one line. InvalidArgument "line N: ..." naming the
// problem (JSON syntax, unknown field, duplicate key, or the field
// conversion rejected). With `plain`, the members above are taken out into
// *plain (and `*has_plain` says whether the line had them); without it they
// are an error.
absl::Status ParseEventLine(const NumberedLine& line, v1::Event* proto,
                            Event* event, PlaintextPayload* plain = nullptr,
                            bool* has_plain = nullptr);

struct EventLine {
  uint64_t line = 0;
  v1::Event proto;
  Event event;
  // payload_plaintext and data_subject, not yet encrypted (has_plain).
  PlaintextPayload plain;
  bool has_plain = false;
};

// Parses every line (taking payload_plaintext and data_subject out); the
// first bad line's error.
absl::StatusOr<std::vector<EventLine>> ParseEventLines(std::string_view text);

}  // namespace ledger::ctl
