#pragma once

// Events as JSON lines: one ledger.v1.Event per line in the proto3 JSON
// mapping (field names in snake_case or lowerCamelCase, enums by name,
// timestamps in RFC 3339, bytes in base64), converted with
// node::EventFromProto, exactly as the node will convert them.

#include <cstdint>
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

// Parses and converts one line. InvalidArgument "line N: ..." naming the
// problem (JSON syntax, unknown field, duplicate key, or the field
// conversion rejected).
absl::Status ParseEventLine(const NumberedLine& line, v1::Event* proto,
                            Event* event);

struct EventLine {
  uint64_t line = 0;
  v1::Event proto;
  Event event;
};

// Parses every line; the first bad line's error.
absl::StatusOr<std::vector<EventLine>> ParseEventLines(std::string_view text);

}  // namespace ledger::ctl
