// Event canonical bytes, version 1 (ledger/FORMAT.md, "Event") and UUIDs.
// Validation is in event_validate.cc.

#include "ledger/event.h"

#include <algorithm>
#include <utility>

#include "base/status_macros.h"
#include "base/strings.h"
#include "ledger/codec.h"

namespace ledger {
namespace {

constexpr std::string_view kEventMagic = "EV";
constexpr uint8_t kEventVersion = 1;
// kind u8, id, version, content flag, item_count u64.
constexpr size_t kMinRefBytes = 1 + 4 + 4 + 1 + 8;
constexpr size_t kMinAttributeBytes = 4 + 4;

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One template serves both the exact-size pass (SizeCounter) and the
// encoding pass (Encoder), so the two cannot disagree.
template <typename Sink>
void WriteRefs(Sink& s, const std::vector<SubjectRef>& refs) {
  s.PutU32(static_cast<uint32_t>(refs.size()));
  for (const SubjectRef& r : refs) {
    s.PutU8(static_cast<uint8_t>(r.kind));
    s.PutBytes(r.id);
    s.PutBytes(r.version);
    s.PutOptionalHash(r.content_sha256);
    s.PutU64(r.item_count);
  }
}

template <typename Sink>
void WriteEvent(Sink& s, const Event& e) {
  s.PutRaw(kEventMagic);
  s.PutU8(kEventVersion);
  s.PutRaw(crypto::AsView(e.event_id));
  s.PutBytes(e.type);
  s.PutU32(e.schema_version);
  s.PutI64(e.occurred_at_ns);
  s.PutBytes(e.producer);
  s.PutBytes(e.tenant);
  s.PutBytes(e.project);
  s.PutU8(static_cast<uint8_t>(e.actor.kind));
  s.PutBytes(e.actor.id);
  s.PutBytes(e.actor.role);
  s.PutBytes(e.on_behalf_of);
  s.PutBytes(e.source.ip);
  s.PutBytes(e.source.session);
  s.PutBytes(e.source.request_id);
  WriteRefs(s, e.subjects);
  WriteRefs(s, e.inputs);
  WriteRefs(s, e.outputs);
  s.PutU8(static_cast<uint8_t>(e.outcome.status));
  s.PutBytes(e.outcome.error_code);
  s.PutBytes(e.region);
  s.PutBytes(e.purpose);
  s.PutBytes(e.run_id);
  s.PutBytes(e.parent_run_id);
  s.PutU32(static_cast<uint32_t>(e.attributes.size()));
  for (const auto& [key, value] : e.attributes) {
    s.PutBytes(key);
    s.PutBytes(value);
  }
  s.PutBytes(e.payload);
}

// Reads a u8 enum whose valid values are 1..max.
template <typename E>
absl::StatusOr<E> GetEnum(Decoder& d, std::string_view field, uint8_t max) {
  absl::StatusOr<uint8_t> v = d.GetU8(field);
  if (!v.ok()) return v.status();
  if (*v < 1 || *v > max) {
    return absl::InvalidArgumentError(
        StrCat(field, ": unknown value ", int{*v}));
  }
  return static_cast<E>(*v);
}

absl::Status ReadRef(Decoder& d, const EventLimits& limits, SubjectRef* r) {
  LEDGER_ASSIGN_OR_RETURN(r->kind, GetEnum<SubjectKind>(d, "kind", 3));
  LEDGER_ASSIGN_OR_RETURN(r->id, d.GetBytes("id", limits.max_string_bytes));
  LEDGER_ASSIGN_OR_RETURN(r->version,
                          d.GetBytes("version", limits.max_string_bytes));
  LEDGER_ASSIGN_OR_RETURN(r->content_sha256,
                          d.GetOptionalHash("content_sha256"));
  LEDGER_ASSIGN_OR_RETURN(r->item_count, d.GetU64("item_count"));
  return absl::OkStatus();
}

absl::Status ReadRefs(Decoder& d, std::string_view list,
                      const EventLimits& limits, std::vector<SubjectRef>* out) {
  uint32_t count = 0;
  LEDGER_ASSIGN_OR_RETURN(count,
                          d.GetCount(list, limits.max_refs, kMinRefBytes));
  out->resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    absl::Status s = ReadRef(d, limits, &(*out)[i]);
    if (!s.ok()) return PrefixField(s, StrCat(list, "[", i, "]."));
  }
  return absl::OkStatus();
}

absl::Status ReadAttributes(Decoder& d, const EventLimits& limits, Event* e) {
  uint32_t count = 0;
  LEDGER_ASSIGN_OR_RETURN(count, d.GetCount("attributes", limits.max_attributes,
                                            kMinAttributeBytes));
  e->attributes.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    std::string& key = e->attributes[i].first;
    std::string& value = e->attributes[i].second;
    absl::Status s = [&]() -> absl::Status {
      LEDGER_ASSIGN_OR_RETURN(key, d.GetBytes("key", limits.max_string_bytes));
      LEDGER_ASSIGN_OR_RETURN(
          value, d.GetBytes("value", limits.max_attribute_value_bytes));
      if (i > 0 && !(e->attributes[i - 1].first < key)) {
        return absl::InvalidArgumentError(
            key == e->attributes[i - 1].first
                ? "key: duplicate key"
                : "key: keys must be in strictly increasing byte order");
      }
      return absl::OkStatus();
    }();
    if (!s.ok()) return PrefixField(s, StrCat("attributes[", i, "]."));
  }
  return absl::OkStatus();
}

}  // namespace

const std::string* FindAttribute(const Event& event, std::string_view key) {
  auto it = std::lower_bound(
      event.attributes.begin(), event.attributes.end(), key,
      [](const auto& kv, std::string_view k) { return kv.first < k; });
  if (it == event.attributes.end() || it->first != key) return nullptr;
  return &it->second;
}

absl::StatusOr<Uuid> ParseUuid(std::string_view text) {
  Uuid out{};
  if (text.size() != 36) {
    return absl::InvalidArgumentError(
        StrCat("UUID must be 36 characters, got ", text.size()));
  }
  size_t j = 0;
  for (size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') {
        return absl::InvalidArgumentError(
            StrCat("UUID: expected '-' at position ", i));
      }
      ++i;
      continue;
    }
    int hi = HexDigit(text[i]);
    int lo = HexDigit(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(
          StrCat("UUID: bad hex digit at position ", hi < 0 ? i : i + 1));
    }
    out[j++] = static_cast<uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return out;
}

std::string FormatUuid(const Uuid& uuid) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < uuid.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[uuid[i] >> 4]);
    out.push_back(kHex[uuid[i] & 0xF]);
  }
  return out;
}

size_t EncodedEventSize(const Event& event) {
  SizeCounter counter;
  WriteEvent(counter, event);
  return counter.size();
}

std::string EncodeEvent(const Event& event) {
  Encoder enc(EncodedEventSize(event));
  WriteEvent(enc, event);
  return enc.Take();
}

namespace {

// The fields an event starts with, through the tenant, as views.
struct EventHead {
  std::string_view event_id;
  std::string_view type;
  uint32_t schema_version = 0;
  int64_t occurred_at_ns = 0;
  std::string_view producer;
  std::string_view tenant;
};

absl::Status ReadEventHead(Decoder& d, uint32_t max_str, EventHead* head) {
  std::string_view magic;
  LEDGER_ASSIGN_OR_RETURN(magic, d.GetRaw("magic", kEventMagic.size()));
  if (magic != kEventMagic) {
    return absl::InvalidArgumentError(
        StrCat("magic: expected hex 4556 (\"EV\"), got hex ",
               crypto::HexEncode(magic)));
  }
  uint8_t version = 0;
  LEDGER_ASSIGN_OR_RETURN(version, d.GetU8("version"));
  if (version != kEventVersion) {
    return absl::InvalidArgumentError(
        StrCat("version: unsupported event format version ", int{version},
               " (this build reads ", int{kEventVersion}, ")"));
  }
  LEDGER_ASSIGN_OR_RETURN(head->event_id, d.GetRaw("event_id", Uuid().size()));
  LEDGER_ASSIGN_OR_RETURN(head->type, d.GetBytes("type", max_str));
  LEDGER_ASSIGN_OR_RETURN(head->schema_version, d.GetU32("schema_version"));
  LEDGER_ASSIGN_OR_RETURN(head->occurred_at_ns, d.GetI64("occurred_at_ns"));
  LEDGER_ASSIGN_OR_RETURN(head->producer, d.GetBytes("producer", max_str));
  LEDGER_ASSIGN_OR_RETURN(head->tenant, d.GetBytes("tenant", max_str));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string_view> DecodeEventTenant(std::string_view bytes) {
  Decoder d(bytes);
  EventHead head;
  LEDGER_RETURN_IF_ERROR(ReadEventHead(d, ~uint32_t{0}, &head));
  return head.tenant;
}

absl::StatusOr<Event> DecodeEvent(std::string_view bytes,
                                  const EventLimits& limits) {
  Event e;
  LEDGER_RETURN_IF_ERROR(DecodeEventInto(bytes, limits, &e));
  return e;
}

absl::Status DecodeEventInto(std::string_view bytes, const EventLimits& limits,
                             Event* out) {
  if (bytes.size() > limits.max_event_bytes) {
    return absl::InvalidArgumentError(StrCat("event: ", bytes.size(),
                                             " bytes exceed the limit of ",
                                             limits.max_event_bytes));
  }
  Decoder d(bytes);
  const uint32_t max_str = limits.max_string_bytes;
  EventHead head;
  LEDGER_RETURN_IF_ERROR(ReadEventHead(d, max_str, &head));
  // Every field of *out is assigned (strings and lists keep their capacity).
  Event& e = *out;
  std::copy(head.event_id.begin(), head.event_id.end(), e.event_id.begin());
  e.type = head.type;
  e.schema_version = head.schema_version;
  e.occurred_at_ns = head.occurred_at_ns;
  e.producer = head.producer;
  e.tenant = head.tenant;
  LEDGER_ASSIGN_OR_RETURN(e.project, d.GetBytes("project", max_str));
  LEDGER_ASSIGN_OR_RETURN(e.actor.kind, GetEnum<ActorKind>(d, "actor.kind", 3));
  LEDGER_ASSIGN_OR_RETURN(e.actor.id, d.GetBytes("actor.id", max_str));
  LEDGER_ASSIGN_OR_RETURN(e.actor.role, d.GetBytes("actor.role", max_str));
  LEDGER_ASSIGN_OR_RETURN(e.on_behalf_of, d.GetBytes("on_behalf_of", max_str));
  LEDGER_ASSIGN_OR_RETURN(e.source.ip, d.GetBytes("source.ip", max_str));
  LEDGER_ASSIGN_OR_RETURN(e.source.session,
                          d.GetBytes("source.session", max_str));
  LEDGER_ASSIGN_OR_RETURN(e.source.request_id,
                          d.GetBytes("source.request_id", max_str));
  LEDGER_RETURN_IF_ERROR(ReadRefs(d, "subjects", limits, &e.subjects));
  LEDGER_RETURN_IF_ERROR(ReadRefs(d, "inputs", limits, &e.inputs));
  LEDGER_RETURN_IF_ERROR(ReadRefs(d, "outputs", limits, &e.outputs));
  LEDGER_ASSIGN_OR_RETURN(e.outcome.status,
                          GetEnum<OutcomeStatus>(d, "outcome.status", 2));
  LEDGER_ASSIGN_OR_RETURN(e.outcome.error_code,
                          d.GetBytes("outcome.error_code", max_str));
  LEDGER_ASSIGN_OR_RETURN(e.region, d.GetBytes("region", max_str));
  LEDGER_ASSIGN_OR_RETURN(e.purpose, d.GetBytes("purpose", max_str));
  LEDGER_ASSIGN_OR_RETURN(e.run_id, d.GetBytes("run_id", max_str));
  LEDGER_ASSIGN_OR_RETURN(e.parent_run_id,
                          d.GetBytes("parent_run_id", max_str));
  LEDGER_RETURN_IF_ERROR(ReadAttributes(d, limits, &e));
  LEDGER_ASSIGN_OR_RETURN(e.payload,
                          d.GetBytes("payload", limits.max_payload_bytes));
  return d.Finish("event");
}

}  // namespace ledger
