#pragma once

// Admission policy on the contents of append requests, beyond the ledger's
// own validation (ValidateEvent), which must not depend on a clock or on
// how a request was encoded:
//
//  - occurred_at within a window around the node's clock (config keys
//    max_future_skew and max_event_age; docs/decisions.md says why such
//    events are refused rather than flagged);
//  - no protobuf field this node does not know, anywhere in a request: an
//    unknown field would be parsed, kept aside and then silently left out
//    of the canonical event the ledger records (and out of what it
//    checks the emitter's signature over).
//
// Both are refused with InvalidArgument naming the event or field.

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "google/protobuf/message.h"
#include "ledger/event.h"

namespace ledger::node {

// The occurred_at values a node accepts: from max_event_age before its
// clock to max_future_skew after it, both ends included.
struct OccurredAtWindow {
  absl::Duration max_future_skew = absl::Minutes(5);
  absl::Duration max_event_age = absl::Hours(24 * 400);
};

// InvalidArgument for the first event of the batch whose occurred_at lies
// outside `window` around `now_ns`: "events[3] (event_id ...): occurred_at
// ... is outside the accepted window ..." with both ends, the node's clock
// and the configuration keys that set the window. Events with
// occurred_at_ns <= 0 are left to ValidateEvent.
absl::Status CheckOccurredAt(absl::Span<const Event> events, int64_t now_ns,
                             const OccurredAtWindow& window);

// InvalidArgument if `message` or any message nested in it holds a field
// that its type does not declare (protobuf keeps those as "unknown
// fields"), naming the first one depth-first: its number, the message type
// and where ("events[2].actor: unknown field 9 in ledger.v1.Actor ...";
// "request: ..." for the top level). Map entries are not inspected:
// protobuf's parser itself drops unknown fields inside a map entry, which
// cannot carry fields of their own in any schema.
absl::Status CheckNoUnknownFields(const google::protobuf::Message& message);

}  // namespace ledger::node
