#include "node/convert.h"

#include <algorithm>
#include <limits>
#include <string_view>
#include <utility>

#include "base/strings.h"
#include "crypto/bytes.h"
#include "crypto/rfc6962.h"

namespace ledger::node {
namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;

absl::Status FieldError(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(StrCat(field, ": ", what));
}

// Proto enums are open: besides UNSPECIFIED, a client may send any number.
template <typename T>
absl::StatusOr<T> EnumFromProto(int value, int max, std::string_view field,
                                std::string_view choices) {
  if (value == 0) {
    return FieldError(field, StrCat("must be set (one of ", choices, ")"));
  }
  if (value < 0 || value > max) {
    return FieldError(
        field, StrCat("unknown value ", value, " (one of ", choices, ")"));
  }
  return static_cast<T>(value);
}

absl::StatusOr<SubjectRef> SubjectFromProto(const v1::SubjectRef& proto,
                                            std::string_view field) {
  SubjectRef out;
  absl::StatusOr<SubjectKind> kind = EnumFromProto<SubjectKind>(
      proto.kind(), v1::SUBJECT_KIND_ANNOTATION, StrCat(field, ".kind"),
      "DATASET, ITEM, ANNOTATION");
  if (!kind.ok()) return kind.status();
  out.kind = *kind;
  out.id = proto.id();
  out.version = proto.version();
  out.item_count = proto.item_count();
  const std::string& hex = proto.content_sha256();
  if (!hex.empty()) {
    absl::StatusOr<std::string> bytes = hex.size() == 2 * crypto::kHashSize
                                            ? crypto::HexDecode(hex)
                                            : absl::InvalidArgumentError("");
    if (!bytes.ok()) {
      return FieldError(StrCat(field, ".content_sha256"),
                        StrCat("must be 64 hex digits or empty, got \"",
                               hex.substr(0, 80), "\""));
    }
    absl::StatusOr<crypto::Hash> hash =
        crypto::ToArray<crypto::kHashSize>(*bytes, "content_sha256");
    out.content_sha256 = *hash;
  }
  return out;
}

absl::Status RefsFromProto(
    const google::protobuf::RepeatedPtrField<v1::SubjectRef>& protos,
    std::string_view name, std::vector<SubjectRef>* out) {
  out->reserve(protos.size());
  for (int i = 0; i < protos.size(); ++i) {
    absl::StatusOr<SubjectRef> ref =
        SubjectFromProto(protos[i], StrCat(name, "[", i, "]"));
    if (!ref.ok()) return ref.status();
    out->push_back(*std::move(ref));
  }
  return absl::OkStatus();
}

void RefToProto(const SubjectRef& ref, v1::SubjectRef* proto) {
  proto->set_kind(static_cast<v1::SubjectKind>(ref.kind));
  proto->set_id(ref.id);
  proto->set_version(ref.version);
  if (ref.content_sha256.has_value()) {
    proto->set_content_sha256(crypto::HexEncode(*ref.content_sha256));
  }
  proto->set_item_count(ref.item_count);
}

// Stored events were validated under the limits in force when they were
// appended, which may exceed today's; decoding for display must not reject
// them.
EventLimits DisplayLimits() {
  constexpr uint32_t kMax = std::numeric_limits<uint32_t>::max();
  return EventLimits{kMax, kMax, kMax, kMax, kMax, kMax};
}

}  // namespace

v1::SubjectRef SubjectRefToProto(const SubjectRef& ref) {
  v1::SubjectRef proto;
  RefToProto(ref, &proto);
  return proto;
}

absl::StatusOr<int64_t> TimestampToNs(const google::protobuf::Timestamp& ts,
                                      std::string_view field) {
  if (ts.nanos() < 0 || ts.nanos() >= kNanosPerSecond) {
    return FieldError(
        field, StrCat("nanos must be in [0, 999999999], got ", ts.nanos()));
  }
  __int128 ns =
      static_cast<__int128>(ts.seconds()) * kNanosPerSecond + ts.nanos();
  if (ns < std::numeric_limits<int64_t>::min() ||
      ns > std::numeric_limits<int64_t>::max()) {
    return FieldError(field,
                      StrCat("out of range: ", ts.seconds(),
                             " s is not between 1677-09-21 and 2262-04-11"));
  }
  return static_cast<int64_t>(ns);
}

google::protobuf::Timestamp NsToTimestamp(int64_t ns) {
  int64_t seconds = ns / kNanosPerSecond;
  int64_t nanos = ns % kNanosPerSecond;
  if (nanos < 0) {
    nanos += kNanosPerSecond;
    seconds -= 1;
  }
  google::protobuf::Timestamp ts;
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(nanos));
  return ts;
}

absl::StatusOr<Event> EventFromProto(const v1::Event& proto) {
  Event out;
  absl::StatusOr<Uuid> id = ParseUuid(proto.event_id());
  if (!id.ok()) {
    return FieldError(
        "event_id",
        StrCat("must be a UUID (8-4-4-4-12 hex digits), got \"",
               std::string_view(proto.event_id()).substr(0, 80), "\""));
  }
  out.event_id = *id;
  out.type = proto.type();
  out.schema_version = proto.schema_version();
  absl::StatusOr<int64_t> occurred =
      TimestampToNs(proto.occurred_at(), "occurred_at");
  if (!occurred.ok()) return occurred.status();
  out.occurred_at_ns = *occurred;
  out.producer = proto.producer();
  out.tenant = proto.tenant();
  out.project = proto.project();

  absl::StatusOr<ActorKind> kind =
      EnumFromProto<ActorKind>(proto.actor().kind(), v1::ACTOR_KIND_MODEL,
                               "actor.kind", "HUMAN, SERVICE, MODEL");
  if (!kind.ok()) return kind.status();
  out.actor = Actor{*kind, proto.actor().id(), proto.actor().role()};
  out.on_behalf_of = proto.on_behalf_of();
  out.source = Source{proto.source().ip(), proto.source().session(),
                      proto.source().request_id()};

  if (absl::Status s =
          RefsFromProto(proto.subjects(), "subjects", &out.subjects);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = RefsFromProto(proto.inputs(), "inputs", &out.inputs);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = RefsFromProto(proto.outputs(), "outputs", &out.outputs);
      !s.ok()) {
    return s;
  }

  absl::StatusOr<OutcomeStatus> status = EnumFromProto<OutcomeStatus>(
      proto.outcome().status(), v1::OUTCOME_STATUS_FAILURE, "outcome.status",
      "SUCCESS, FAILURE");
  if (!status.ok()) return status.status();
  out.outcome = Outcome{*status, proto.outcome().error_code()};
  out.region = proto.region();
  out.purpose = proto.purpose();
  out.run_id = proto.run_id();
  out.parent_run_id = proto.parent_run_id();
  out.attributes.assign(proto.attributes().begin(), proto.attributes().end());
  std::sort(out.attributes.begin(), out.attributes.end());
  out.payload = proto.payload();
  return out;
}

v1::Event EventToProto(const Event& event) {
  v1::Event proto;
  proto.set_event_id(FormatUuid(event.event_id));
  proto.set_type(event.type);
  proto.set_schema_version(event.schema_version);
  *proto.mutable_occurred_at() = NsToTimestamp(event.occurred_at_ns);
  proto.set_producer(event.producer);
  proto.set_tenant(event.tenant);
  proto.set_project(event.project);
  v1::Actor* actor = proto.mutable_actor();
  actor->set_kind(static_cast<v1::ActorKind>(event.actor.kind));
  actor->set_id(event.actor.id);
  actor->set_role(event.actor.role);
  proto.set_on_behalf_of(event.on_behalf_of);
  if (event.source != Source{}) {
    proto.mutable_source()->set_ip(event.source.ip);
    proto.mutable_source()->set_session(event.source.session);
    proto.mutable_source()->set_request_id(event.source.request_id);
  }
  for (const SubjectRef& r : event.subjects)
    RefToProto(r, proto.add_subjects());
  for (const SubjectRef& r : event.inputs) RefToProto(r, proto.add_inputs());
  for (const SubjectRef& r : event.outputs) RefToProto(r, proto.add_outputs());
  proto.mutable_outcome()->set_status(
      static_cast<v1::OutcomeStatus>(event.outcome.status));
  proto.mutable_outcome()->set_error_code(event.outcome.error_code);
  proto.set_region(event.region);
  proto.set_purpose(event.purpose);
  proto.set_run_id(event.run_id);
  proto.set_parent_run_id(event.parent_run_id);
  for (const auto& [key, value] : event.attributes) {
    (*proto.mutable_attributes())[key] = value;
  }
  proto.set_payload(event.payload);
  return proto;
}

absl::StatusOr<v1::Entry> EntryToProto(const std::string& entry_bytes) {
  absl::StatusOr<Entry> entry = DecodeEntry(entry_bytes);
  if (!entry.ok()) return Annotate(entry.status(), "entry");
  absl::StatusOr<Event> event =
      DecodeEvent(entry->event_bytes, DisplayLimits());
  if (!event.ok()) {
    return Annotate(event.status(), StrCat("entry ", entry->index, " event"));
  }
  v1::Entry proto;
  proto.set_index(entry->index);
  proto.set_entry_bytes(entry_bytes);
  proto.set_leaf_hash(
      std::string(crypto::AsView(crypto::HashLeaf(entry_bytes))));
  *proto.mutable_received_at() = NsToTimestamp(entry->received_at_ns);
  *proto.mutable_event() = EventToProto(*event);
  proto.set_key_id(std::string(crypto::AsView(entry->emitter.key_id)));
  proto.set_batch_size(entry->emitter.batch_size);
  proto.set_batch_index(entry->emitter.batch_index);
  proto.set_risk(static_cast<v1::RiskGrade>(entry->risk.grade));
  for (const std::string& reason : entry->risk.reasons) {
    proto.add_risk_reasons(reason);
  }
  proto.set_policy_version(entry->policy_version);
  proto.set_prev_chain_hash(
      std::string(crypto::AsView(entry->prev_chain_hash)));
  for (const BackLink& link : entry->back_links) {
    v1::BackLink* out = proto.add_back_links();
    out->set_kind(std::string(LinkKindName(link.kind)));
    out->set_id(link.id);
    if (link.previous != kNoPrevious) out->set_previous(link.previous);
  }
  return proto;
}

v1::EntryRef EntryRefToProto(const EntryRef& ref, const Uuid& event_id) {
  v1::EntryRef proto;
  proto.set_index(ref.index);
  proto.set_leaf_hash(std::string(crypto::AsView(ref.leaf_hash)));
  *proto.mutable_received_at() = NsToTimestamp(ref.received_at_ns);
  proto.set_duplicate(ref.duplicate);
  proto.set_event_id(FormatUuid(event_id));
  return proto;
}

v1::KeyInfo KeyInfoToProto(const KeyInfo& info) {
  v1::KeyInfo proto;
  proto.set_key_id(std::string(crypto::AsView(info.key_id)));
  proto.set_public_key(std::string(crypto::AsView(info.public_key)));
  proto.set_name(info.name);
  proto.set_tenant(info.tenant);
  proto.set_role(std::string(KeyRoleName(info.role)));
  *proto.mutable_valid_from() = NsToTimestamp(info.valid_from_ns);
  if (info.valid_until_ns != 0) {
    *proto.mutable_valid_until() = NsToTimestamp(info.valid_until_ns);
  }
  if (info.revoked_at_ns != 0) {
    *proto.mutable_revoked_at() = NsToTimestamp(info.revoked_at_ns);
  }
  proto.set_registered_at(info.registered_at);
  return proto;
}

}  // namespace ledger::node
