#pragma once

// A fast reader of the proto3 JSON mapping, for the events `ledgerctl
// append` parses by the hundred thousand. protobuf's JsonStringToMessage
// goes through a type resolver that allocates heavily and serialises
// threads on the descriptor pool's lock (about 100 us per 1 KiB event, and
// slower with more threads); this reader uses nlohmann's parser and
// protobuf reflection, and scales with threads.
//
// It accepts what JsonStringToMessage accepts for messages made of:
// scalars (numbers as JSON numbers or decimal strings, bytes as standard or
// URL-safe base64 with or without padding, enums by name or number),
// nested messages, repeated fields, maps and google.protobuf.Timestamp
// (RFC 3339). Field names may be the proto name or its lowerCamelCase JSON
// name; null leaves a field unset; unknown fields are errors, and so are
// duplicate keys (a field given twice, also under its two names, or a map
// key given twice), which would otherwise merge or override. Other
// well-known types are rejected as unsupported.

#include <google/protobuf/message.h>

#include <string_view>

#include "absl/status/status.h"

namespace ledger::ctl {

// Clears `message` and fills it from `json`. InvalidArgument naming the
// field path (e.g. "subjects[1].kind: ...") or the JSON syntax error.
absl::Status ParseProtoJson(std::string_view json,
                            google::protobuf::Message* message);

}  // namespace ledger::ctl
