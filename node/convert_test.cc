#include "node/convert.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "crypto/sha256.h"
#include "ledger/event_testing.h"

namespace ledger::node {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;

std::string Message(const absl::Status& s) {
  return std::string(ToStd(s.message()));
}

v1::Event ValidProto() { return EventToProto(format_testing::FullEvent()); }

TEST(ConvertTest, EventRoundTripsThroughProto) {
  const Event full = format_testing::FullEvent();
  absl::StatusOr<Event> back = EventFromProto(EventToProto(full));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, full);

  const Event minimal = format_testing::MinimalEvent();
  back = EventFromProto(EventToProto(minimal));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, minimal);
}

TEST(ConvertTest, ProtoRoundTripsThroughEvent) {
  v1::Event proto;
  proto.set_event_id("0F8E3A52-7C1D-4B9E-A6F0-1D2C3B4A5968");  // any case
  proto.set_type("data.exported");
  proto.set_schema_version(2);
  proto.mutable_occurred_at()->set_seconds(-1);  // before 1970 is fine
  proto.mutable_occurred_at()->set_nanos(5);
  proto.set_producer("cvat/2.11");
  proto.set_tenant("acme-ai");
  proto.mutable_actor()->set_kind(v1::ACTOR_KIND_MODEL);
  proto.mutable_actor()->set_id("model:sam");
  proto.mutable_source()->set_ip("10.0.0.1");
  v1::SubjectRef* s = proto.add_subjects();
  s->set_kind(v1::SUBJECT_KIND_DATASET);
  s->set_id("dataset:x");
  s->set_content_sha256(crypto::HexEncode(crypto::Sha256Digest("x")));
  s->set_item_count(7);
  proto.add_inputs()->set_kind(v1::SUBJECT_KIND_ITEM);
  proto.add_outputs()->set_kind(v1::SUBJECT_KIND_ANNOTATION);
  proto.mutable_outcome()->set_status(v1::OUTCOME_STATUS_SUCCESS);
  (*proto.mutable_attributes())["z"] = "last";
  (*proto.mutable_attributes())["a"] = "first";
  proto.set_payload(std::string("\0\xff", 2));

  absl::StatusOr<Event> event = EventFromProto(proto);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->occurred_at_ns, -1'000'000'000 + 5);
  ASSERT_EQ(event->attributes.size(), 2u);
  EXPECT_EQ(event->attributes[0].first, "a");  // sorted
  EXPECT_EQ(event->attributes[1].first, "z");

  v1::Event expected = proto;
  expected.set_event_id("0f8e3a52-7c1d-4b9e-a6f0-1d2c3b4a5968");
  EXPECT_TRUE(MessageDifferencer::Equals(EventToProto(*event), expected))
      << EventToProto(*event).DebugString();
}

TEST(ConvertTest, EveryUnrepresentableFieldIsNamed) {
  struct Case {
    void (*mutate)(v1::Event&);
    const char* fragment;
  } cases[] = {
      {[](v1::Event& e) { e.set_event_id("not-a-uuid"); }, "event_id:"},
      {[](v1::Event& e) { e.clear_event_id(); }, "event_id:"},
      {[](v1::Event& e) { e.mutable_actor()->clear_kind(); },
       "actor.kind: must be set"},
      {[](v1::Event& e) { e.clear_actor(); }, "actor.kind: must be set"},
      {[](v1::Event& e) {
         e.mutable_actor()->set_kind(static_cast<v1::ActorKind>(9));
       },
       "actor.kind: unknown value 9"},
      {[](v1::Event& e) {
         e.mutable_subjects(1)->set_kind(v1::SUBJECT_KIND_UNSPECIFIED);
       },
       "subjects[1].kind: must be set"},
      {[](v1::Event& e) {
         e.mutable_inputs(0)->set_kind(static_cast<v1::SubjectKind>(-1));
       },
       "inputs[0].kind: unknown value -1"},
      {[](v1::Event& e) {
         e.mutable_outputs(0)->set_kind(v1::SUBJECT_KIND_UNSPECIFIED);
       },
       "outputs[0].kind: must be set"},
      {[](v1::Event& e) { e.mutable_subjects(1)->set_content_sha256("abcd"); },
       "subjects[1].content_sha256: must be 64 hex digits"},
      {[](v1::Event& e) {
         e.mutable_subjects(0)->set_content_sha256(std::string(64, 'g'));
       },
       "subjects[0].content_sha256: must be 64 hex digits"},
      {[](v1::Event& e) {
         e.mutable_outcome()->set_status(v1::OUTCOME_STATUS_UNSPECIFIED);
       },
       "outcome.status: must be set"},
      {[](v1::Event& e) { e.mutable_occurred_at()->set_nanos(-1); },
       "occurred_at: nanos must be in [0, 999999999]"},
      {[](v1::Event& e) { e.mutable_occurred_at()->set_nanos(1000000000); },
       "occurred_at: nanos"},
      {[](v1::Event& e) {
         e.mutable_occurred_at()->set_seconds(253402300799);  // year 9999
       },
       "occurred_at: out of range"},
      {[](v1::Event& e) { e.mutable_occurred_at()->set_seconds(-9223372037); },
       "occurred_at: out of range"},
  };
  for (const Case& c : cases) {
    v1::Event proto = ValidProto();
    c.mutate(proto);
    absl::StatusOr<Event> event = EventFromProto(proto);
    EXPECT_EQ(event.status().code(), absl::StatusCode::kInvalidArgument)
        << c.fragment;
    EXPECT_THAT(Message(event.status()), HasSubstr(c.fragment));
  }
}

TEST(ConvertTest, EmptyContentHashMeansNone) {
  v1::Event proto = ValidProto();
  proto.mutable_subjects(0)->clear_content_sha256();
  absl::StatusOr<Event> event = EventFromProto(proto);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_FALSE(event->subjects[0].content_sha256.has_value());
  EXPECT_TRUE(event->subjects[1].content_sha256.has_value());
}

TEST(ConvertTest, TimestampsCoverTheInt64NanosecondRange) {
  for (int64_t ns :
       {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{1'767'225'600'123'456'789},
        std::numeric_limits<int64_t>::max(),
        std::numeric_limits<int64_t>::min()}) {
    google::protobuf::Timestamp ts = NsToTimestamp(ns);
    EXPECT_GE(ts.nanos(), 0);
    EXPECT_LT(ts.nanos(), 1'000'000'000);
    absl::StatusOr<int64_t> back = TimestampToNs(ts, "t");
    ASSERT_TRUE(back.ok()) << ns << ": " << back.status();
    EXPECT_EQ(*back, ns);
  }
  google::protobuf::Timestamp past_max =
      NsToTimestamp(std::numeric_limits<int64_t>::max());
  past_max.set_nanos(past_max.nanos() + 1);
  EXPECT_EQ(TimestampToNs(past_max, "t").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ConvertTest, EntryDecodesEveryField) {
  Entry entry;
  entry.index = 42;
  entry.received_at_ns = format_testing::kNewYear2026Ns + 7;
  entry.event_bytes = EncodeEvent(format_testing::FullEvent());
  entry.emitter.key_id = KeyIdOf(format_testing::EmitterKey().public_key());
  entry.emitter.batch_size = 3;
  entry.emitter.batch_index = 2;
  entry.emitter.batch_root = crypto::Sha256Digest("root");
  entry.emitter.audit_path = {crypto::Sha256Digest("a")};  // 2 of 3: 1 hash
  entry.risk = Risk{RiskGrade::kHigh, {"R4: no valid training"}};
  entry.policy_version = 2;
  entry.prev_chain_hash = crypto::Sha256Digest("prev");
  entry.back_links = {{LinkKind::kActor, "user:4711", 40},
                      {LinkKind::kItem, "item:street/000042", kNoPrevious}};
  const std::string bytes = EncodeEntry(entry);

  absl::StatusOr<v1::Entry> proto = EntryToProto(bytes);
  ASSERT_TRUE(proto.ok()) << proto.status();
  EXPECT_EQ(proto->index(), 42u);
  EXPECT_EQ(proto->entry_bytes(), bytes);
  EXPECT_EQ(proto->leaf_hash(),
            std::string(crypto::AsView(crypto::HashLeaf(bytes))));
  EXPECT_EQ(*TimestampToNs(proto->received_at(), "t"), entry.received_at_ns);
  absl::StatusOr<Event> event = EventFromProto(proto->event());
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(*event, format_testing::FullEvent());
  EXPECT_EQ(proto->key_id(), std::string(crypto::AsView(entry.emitter.key_id)));
  EXPECT_EQ(proto->batch_size(), 3u);
  EXPECT_EQ(proto->batch_index(), 2u);
  EXPECT_EQ(proto->risk(), v1::RISK_GRADE_HIGH);
  ASSERT_EQ(proto->risk_reasons_size(), 1);
  EXPECT_EQ(proto->risk_reasons(0), "R4: no valid training");
  EXPECT_EQ(proto->policy_version(), 2u);
  EXPECT_EQ(proto->prev_chain_hash(),
            std::string(crypto::AsView(entry.prev_chain_hash)));
  ASSERT_EQ(proto->back_links_size(), 2);
  EXPECT_EQ(proto->back_links(0).kind(), "actor");
  EXPECT_EQ(proto->back_links(0).id(), "user:4711");
  ASSERT_TRUE(proto->back_links(0).has_previous());
  EXPECT_EQ(proto->back_links(0).previous(), 40u);
  EXPECT_EQ(proto->back_links(1).kind(), "item");
  EXPECT_FALSE(proto->back_links(1).has_previous());
}

TEST(ConvertTest, CorruptEntryBytesAreAnError) {
  EXPECT_FALSE(EntryToProto("not an entry").ok());
}

TEST(ConvertTest, EntryRefAndKeyInfo) {
  EntryRef ref{7, crypto::Sha256Digest("leaf"), 123'000'000'456, true};
  const Uuid id = format_testing::FullEvent().event_id;
  v1::EntryRef proto = EntryRefToProto(ref, id);
  EXPECT_EQ(proto.index(), 7u);
  EXPECT_EQ(proto.leaf_hash(), std::string(crypto::AsView(ref.leaf_hash)));
  EXPECT_EQ(proto.received_at().seconds(), 123);
  EXPECT_EQ(proto.received_at().nanos(), 456);
  EXPECT_TRUE(proto.duplicate());
  EXPECT_EQ(proto.event_id(), "0f8e3a52-7c1d-4b9e-a6f0-1d2c3b4a5968");

  KeyInfo info;
  info.public_key = format_testing::EmitterKey().public_key();
  info.key_id = KeyIdOf(info.public_key);
  info.name = "labelstudio";
  info.tenant = "acme-ai";
  info.valid_from_ns = 5'000'000'000;
  info.registered_at = 3;
  v1::KeyInfo k = KeyInfoToProto(info);
  EXPECT_EQ(k.key_id(), std::string(crypto::AsView(info.key_id)));
  EXPECT_EQ(k.public_key(), std::string(crypto::AsView(info.public_key)));
  EXPECT_EQ(k.name(), "labelstudio");
  EXPECT_EQ(k.tenant(), "acme-ai");
  EXPECT_EQ(k.role(), "emitter");
  EXPECT_EQ(k.valid_from().seconds(), 5);
  EXPECT_FALSE(k.has_valid_until());
  EXPECT_FALSE(k.has_revoked_at());
  EXPECT_EQ(k.registered_at(), 3u);

  info.role = KeyRole::kNode;
  info.revoked_at_ns = 9'000'000'000;
  info.valid_until_ns = 10'000'000'000;
  k = KeyInfoToProto(info);
  EXPECT_EQ(k.role(), "node");
  EXPECT_EQ(k.revoked_at().seconds(), 9);
  EXPECT_EQ(k.valid_until().seconds(), 10);
}

}  // namespace
}  // namespace ledger::node
