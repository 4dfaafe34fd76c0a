#pragma once

// Conversion between the gRPC messages of proto/ledger/v1 and the ledger's
// own types. This header is node/'s public face: tools/ may use it to
// compute exactly the canonical bytes the node will verify.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "google/protobuf/timestamp.pb.h"
#include "ledger/entry.h"
#include "ledger/event.h"
#include "ledger/key_registry.h"
#include "ledger/ledger.h"
#include "ledger/v1/admin.pb.h"
#include "ledger/v1/event.pb.h"
#include "ledger/v1/ingest.pb.h"
#include "ledger/v1/query.pb.h"

namespace ledger::node {

// InvalidArgument naming the field (e.g. "subjects[1].content_sha256: must
// be 64 hex digits") for anything that cannot be represented: bad UUID,
// UNSPECIFIED enums, timestamps out of range, bad hex. Attributes are sorted
// by key. Does not run ValidateEvent.
absl::StatusOr<Event> EventFromProto(const v1::Event& proto);
v1::Event EventToProto(const Event& event);
// One subject, input or output reference, as EventToProto writes it.
v1::SubjectRef SubjectRefToProto(const SubjectRef& ref);

// An entry's decoded fields; `entry_bytes` must be its canonical bytes.
absl::StatusOr<v1::Entry> EntryToProto(const std::string& entry_bytes);

v1::EntryRef EntryRefToProto(const EntryRef& ref, const Uuid& event_id);
v1::KeyInfo KeyInfoToProto(const KeyInfo& info);

// UTC nanoseconds since the epoch from a Timestamp. InvalidArgument naming
// `field` if nanos is outside [0, 1e9) or the time does not fit in int64
// nanoseconds (before 1677-09-21 or after 2262-04-11).
absl::StatusOr<int64_t> TimestampToNs(const google::protobuf::Timestamp& ts,
                                      std::string_view field);
google::protobuf::Timestamp NsToTimestamp(int64_t ns);

}  // namespace ledger::node
