#include "node/input_bounds.h"

#include <string>

#include "base/strings.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/unknown_field_set.h"

namespace ledger::node {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string TimeText(absl::Time t) {
  if (t == absl::InfinitePast()) return "the beginning of time";
  if (t == absl::InfiniteFuture()) return "the end of time";
  return std::string(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone()));
}

std::string DurationText(absl::Duration d) {
  return std::string(absl::FormatDuration(d));
}

// The first unknown field under `m`, depth-first in declaration order:
// true, with `path` ("events[2].actor", empty for `m` itself), its number
// and the type that lacks it.
bool FindUnknownField(const Message& m, std::string* path, int* number,
                      const Descriptor** type) {
  const Reflection* r = m.GetReflection();
  const google::protobuf::UnknownFieldSet& unknown = r->GetUnknownFields(m);
  if (!unknown.empty()) {
    *number = unknown.field(0).number();
    *type = m.GetDescriptor();
    return true;
  }
  const Descriptor* d = m.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    // Maps: see the header. Reading one through reflection would also
    // copy it into its repeated-field form.
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || f->is_map()) {
      continue;
    }
    if (f->is_repeated()) {
      const int n = r->FieldSize(m, f);
      for (int j = 0; j < n; ++j) {
        if (FindUnknownField(r->GetRepeatedMessage(m, f, j), path, number,
                             type)) {
          *path =
              StrCat(f->name(), "[", j, "]", path->empty() ? "" : ".", *path);
          return true;
        }
      }
    } else if (r->HasField(m, f) &&
               FindUnknownField(r->GetMessage(m, f), path, number, type)) {
      *path = StrCat(f->name(), path->empty() ? "" : ".", *path);
      return true;
    }
  }
  return false;
}

}  // namespace

absl::Status CheckOccurredAt(absl::Span<const Event> events, int64_t now_ns,
                             const OccurredAtWindow& window) {
  // absl::Time saturates, so no window setting can overflow.
  const absl::Time now = absl::FromUnixNanos(now_ns);
  const absl::Time earliest = now - window.max_event_age;
  const absl::Time latest = now + window.max_future_skew;
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    if (e.occurred_at_ns <= 0) continue;  // ValidateEvent's to report
    const absl::Time t = absl::FromUnixNanos(e.occurred_at_ns);
    if (t >= earliest && t <= latest) continue;
    const bool future = t > latest;
    return absl::InvalidArgumentError(StrCat(
        "events[", i, "] (event_id ", FormatUuid(e.event_id), "): occurred_at ",
        TimeText(t), " is ", future ? "too far in the future" : "too old",
        ": this node accepts events that occurred from ", TimeText(earliest),
        " to ", TimeText(latest), " (its clock ", TimeText(now),
        ", max_event_age ", DurationText(window.max_event_age),
        ", max_future_skew ", DurationText(window.max_future_skew), "); ",
        future ? "check the emitter's clock"
               : "events older than max_event_age need an operator to raise "
                 "it"));
  }
  return absl::OkStatus();
}

absl::Status CheckNoUnknownFields(const Message& message) {
  std::string path;
  int number = 0;
  const Descriptor* type = nullptr;
  if (!FindUnknownField(message, &path, &number, &type)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      StrCat(path.empty() ? "request" : path, ": unknown field ", number,
             " in ", type->full_name(),
             ": this node does not know it and would leave it out of what it "
             "records, so the request is refused (send only the fields of "
             "proto/ledger/v1 as this node defines them)"));
}

}  // namespace ledger::node
