// Event canonical bytes and UUIDs. Validation: event_validate_test.cc.

#include "ledger/event.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "crypto/sha256.h"
#include "ledger/codec.h"
#include "ledger/event_testing.h"

namespace ledger {
namespace {

using ::ledger::format_testing::FullEvent;
using ::ledger::format_testing::GenesisEvent;
using ::ledger::format_testing::MinimalEvent;
using ::ledger::format_testing::Ref;
using ::ledger::format_testing::ReviewEvent;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(UuidTest, ParsesAndFormatsTheCanonicalForm) {
  absl::StatusOr<Uuid> u = ParseUuid("0F8E3A52-7c1d-4B9E-a6f0-1d2c3b4a5968");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ((*u)[0], 0x0F);
  EXPECT_EQ((*u)[15], 0x68);
  EXPECT_EQ(FormatUuid(*u), "0f8e3a52-7c1d-4b9e-a6f0-1d2c3b4a5968");
  EXPECT_EQ(FormatUuid(Uuid{}), "00000000-0000-0000-0000-000000000000");
}

TEST(UuidTest, RejectsOtherForms) {
  for (std::string_view bad : {
           "",
           "0f8e3a527c1d4b9ea6f01d2c3b4a5968",       // no dashes
           "0f8e3a52-7c1d-4b9e-a6f0-1d2c3b4a596",    // short
           "0f8e3a52-7c1d-4b9e-a6f0-1d2c3b4a59688",  // long
           "0f8e3a52_7c1d-4b9e-a6f0-1d2c3b4a5968",   // wrong separator
           "0f8e3a5-27c1d-4b9e-a6f0-1d2c3b4a5968",   // dash misplaced
           "0g8e3a52-7c1d-4b9e-a6f0-1d2c3b4a5968",   // not hex
           "{f8e3a52-7c1d-4b9e-a6f0-1d2c3b4a5968}",  // braces
       }) {
    EXPECT_EQ(ParseUuid(bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(EventCodecTest, RoundTripsTheExamples) {
  for (const Event& e : {FullEvent(), MinimalEvent(), GenesisEvent()}) {
    const std::string bytes = EncodeEvent(e);
    EXPECT_EQ(EncodedEventSize(e), bytes.size());
    absl::StatusOr<Event> back = DecodeEvent(bytes);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, e);
    EXPECT_EQ(EncodeEvent(*back), bytes);
  }
}

TEST(EventCodecTest, StartsWithMagicAndVersion) {
  EXPECT_THAT(EncodeEvent(MinimalEvent()), StartsWith("EV\x01"));
}

// One mutation per field: each must change the bytes (the field is
// encoded) and survive a round trip (it is decoded into the same field).
// One-character values are assigned as chars: assigning a one-character
// string literal trips a false -Wrestrict in GCC 12 at -O2 and above (GCC
// bug 105329).
TEST(EventCodecTest, EveryFieldRoundTripsAndChangesTheBytes) {
  using Mutation = std::function<void(Event&)>;
  const std::pair<const char*, Mutation> mutations[] = {
      {"event_id", [](Event& e) { e.event_id[7] ^= 1; }},
      {"type", [](Event& e) { e.type = "annotation.created"; }},
      {"schema_version", [](Event& e) { e.schema_version = 0xFFFFFFFF; }},
      {"occurred_at_ns", [](Event& e) { e.occurred_at_ns = INT64_MIN; }},
      {"producer", [](Event& e) { e.producer = "cvat/2.0"; }},
      {"tenant", [](Event& e) { e.tenant = "other"; }},
      {"project", [](Event& e) { e.project.clear(); }},
      {"actor.kind", [](Event& e) { e.actor.kind = ActorKind::kModel; }},
      {"actor.id", [](Event& e) { e.actor.id = "user:1"; }},
      {"actor.role", [](Event& e) { e.actor.role = "reviewer"; }},
      {"on_behalf_of", [](Event& e) { e.on_behalf_of = 'x'; }},
      {"source.ip", [](Event& e) { e.source.ip = "::1"; }},
      {"source.session", [](Event& e) { e.source.session = 's'; }},
      {"source.request_id", [](Event& e) { e.source.request_id = 'r'; }},
      {"subjects", [](Event& e) { e.subjects.pop_back(); }},
      {"subjects[0].kind",
       [](Event& e) { e.subjects[0].kind = SubjectKind::kDataset; }},
      {"subjects[0].id", [](Event& e) { e.subjects[0].id += "x"; }},
      {"subjects[0].version", [](Event& e) { e.subjects[0].version = ""; }},
      {"subjects[0].content_sha256 absent",
       [](Event& e) { e.subjects[0].content_sha256.reset(); }},
      {"subjects[0].content_sha256 value",
       [](Event& e) { (*e.subjects[0].content_sha256)[31] ^= 1; }},
      {"subjects[0].item_count",
       [](Event& e) { e.subjects[0].item_count = UINT64_MAX; }},
      {"inputs", [](Event& e) { e.inputs.push_back(e.subjects[0]); }},
      {"inputs[0].id", [](Event& e) { e.inputs[0].id = "dataset:x"; }},
      {"outputs", [](Event& e) { e.outputs.clear(); }},
      {"outputs[0].content_sha256 present",
       [](Event& e) { e.outputs[0].content_sha256 = crypto::Hash{}; }},
      {"outcome.status",
       [](Event& e) { e.outcome.status = OutcomeStatus::kSuccess; }},
      {"outcome.error_code", [](Event& e) { e.outcome.error_code = "E1"; }},
      {"region", [](Event& e) { e.region = "eu-west-1"; }},
      {"purpose", [](Event& e) { e.purpose = "audit"; }},
      {"run_id", [](Event& e) { e.run_id = "run-2"; }},
      {"parent_run_id", [](Event& e) { e.parent_run_id = "p-2"; }},
      {"attributes", [](Event& e) { e.attributes.pop_back(); }},
      {"attributes[0].key", [](Event& e) { e.attributes[0].first = "a"; }},
      {"attributes[0].value", [](Event& e) { e.attributes[0].second = ""; }},
      {"payload", [](Event& e) { e.payload.push_back('\xFF'); }},
  };
  const Event base = FullEvent();
  const std::string base_bytes = EncodeEvent(base);
  for (const auto& [name, mutate] : mutations) {
    Event e = base;
    mutate(e);
    ASSERT_NE(e, base) << name;
    const std::string bytes = EncodeEvent(e);
    EXPECT_NE(bytes, base_bytes) << name;
    EXPECT_EQ(EncodedEventSize(e), bytes.size()) << name;
    absl::StatusOr<Event> back = DecodeEvent(bytes);
    ASSERT_TRUE(back.ok()) << name << ": " << back.status();
    EXPECT_EQ(*back, e) << name;
  }
}

TEST(EventCodecTest, RejectsEveryTruncation) {
  const std::string bytes = EncodeEvent(FullEvent());
  for (size_t n = 0; n < bytes.size(); ++n) {
    absl::StatusOr<Event> e = DecodeEvent(bytes.substr(0, n));
    ASSERT_FALSE(e.ok()) << "prefix of " << n << " bytes decoded";
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(e.status().message(), HasSubstr("truncated")) << n;
  }
}

// DecodeEventInto reuses the Event it is given: whatever an earlier
// event (or a failed decode) left in it, every field ends up the new
// event's, down to absent content hashes and shorter lists.
TEST(EventCodecTest, DecodeIntoAUsedEventGivesTheNewEventOnly) {
  Event stripped = FullEvent();
  stripped.subjects.resize(1);
  stripped.subjects[0].content_sha256.reset();
  stripped.subjects[0].item_count = 0;
  stripped.subjects[0].version.clear();
  stripped.inputs.clear();
  stripped.attributes.resize(1);
  stripped.payload.clear();
  const std::vector<Event> events = {FullEvent(), MinimalEvent(), ReviewEvent(),
                                     GenesisEvent(), stripped};
  for (const Event& first : events) {
    for (const Event& second : events) {
      Event reused;
      ASSERT_TRUE(DecodeEventInto(EncodeEvent(first), {}, &reused).ok());
      ASSERT_EQ(reused, first);
      ASSERT_TRUE(DecodeEventInto(EncodeEvent(second), {}, &reused).ok());
      EXPECT_EQ(reused, second) << first.type << " then " << second.type;
    }
  }
  const std::string full = EncodeEvent(FullEvent());
  Event reused;
  EXPECT_EQ(
      DecodeEventInto(full.substr(0, full.size() - 3), {}, &reused).code(),
      absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(DecodeEventInto(EncodeEvent(MinimalEvent()), {}, &reused).ok());
  EXPECT_EQ(reused, MinimalEvent());
}

TEST(EventCodecTest, RejectsTrailingBytes) {
  absl::StatusOr<Event> e = DecodeEvent(EncodeEvent(MinimalEvent()) + '\0');
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(), "event: 1 trailing bytes");
}

TEST(EventCodecTest, RejectsWrongMagicAndVersion) {
  std::string bytes = EncodeEvent(MinimalEvent());
  std::string entry_magic = bytes;
  entry_magic[1] = 'N';
  EXPECT_THAT(DecodeEvent(entry_magic).status().message(),
              HasSubstr("magic: expected hex 4556"));
  for (char version : {'\x00', '\x02', '\xFF'}) {
    std::string v = bytes;
    v[2] = version;
    absl::StatusOr<Event> e = DecodeEvent(v);
    ASSERT_FALSE(e.ok());
    EXPECT_THAT(e.status().message(),
                HasSubstr("version: unsupported event format version"));
  }
}

// Encodes `e` as given (the encoder does not check enums) and decodes it.
absl::Status DecodeStatus(const Event& e, const EventLimits& limits = {}) {
  return DecodeEvent(EncodeEvent(e), limits).status();
}

TEST(EventCodecTest, RejectsUnknownEnumValues) {
  for (uint8_t bad : {0, 4, 0xFF}) {
    Event e = FullEvent();
    e.actor.kind = static_cast<ActorKind>(bad);
    EXPECT_EQ(DecodeStatus(e).message(),
              StrCat("actor.kind: unknown value ", int{bad}));
    e = FullEvent();
    e.subjects[1].kind = static_cast<SubjectKind>(bad);
    EXPECT_EQ(DecodeStatus(e).message(),
              StrCat("subjects[1].kind: unknown value ", int{bad}));
    e = FullEvent();
    e.outputs[0].kind = static_cast<SubjectKind>(bad);
    EXPECT_EQ(DecodeStatus(e).message(),
              StrCat("outputs[0].kind: unknown value ", int{bad}));
  }
  Event e = FullEvent();
  e.outcome.status = static_cast<OutcomeStatus>(3);
  EXPECT_EQ(DecodeStatus(e).message(), "outcome.status: unknown value 3");
}

TEST(EventCodecTest, RejectsPresenceFlagOtherThanZeroOrOne) {
  const Event e = FullEvent();
  std::string bytes = EncodeEvent(e);
  const size_t at =
      bytes.find(crypto::AsView(*e.subjects[1].content_sha256)) - 1;
  ASSERT_EQ(bytes[at], '\x01');
  bytes[at] = '\x02';
  EXPECT_THAT(
      DecodeEvent(bytes).status().message(),
      HasSubstr("subjects[1].content_sha256: presence flag must be 0 or 1"));
}

TEST(EventCodecTest, RejectsUnsortedAndDuplicateAttributes) {
  Event e = MinimalEvent();
  e.attributes = {{"b", "1"}, {"a", "2"}};
  EXPECT_EQ(DecodeStatus(e).message(),
            "attributes[1].key: keys must be in strictly increasing byte "
            "order");
  e.attributes = {{"a", "1"}, {"a", "2"}};
  EXPECT_EQ(DecodeStatus(e).message(), "attributes[1].key: duplicate key");
  // Byte order: unsigned, and a prefix sorts first.
  e.attributes = {
      {"a", ""}, {"a.b", ""}, {"b", ""}, {"\x7F", ""}, {"\xC3", ""}};
  EXPECT_TRUE(DecodeStatus(e).ok());
  e.attributes = {{"\xC3", ""}, {"a", ""}};
  EXPECT_FALSE(DecodeStatus(e).ok());
}

TEST(EventCodecTest, RejectsLengthsOverTheLimits) {
  EventLimits limits;
  limits.max_string_bytes = 11;  // "item.viewed"
  limits.max_attribute_value_bytes = 16;
  limits.max_refs = 2;
  limits.max_attributes = 2;
  limits.max_payload_bytes = 4;
  Event e = MinimalEvent();
  ASSERT_TRUE(DecodeStatus(e, limits).ok());
  struct Case {
    std::function<void(Event&)> mutate;
    std::string message;
  };
  const Case cases[] = {
      {[](Event& e) { e.producer = "123456789012"; },
       "producer: length 12 exceeds the limit of 11 bytes"},
      {[](Event& e) { e.source.request_id = "123456789012"; },
       "source.request_id: length 12 exceeds the limit of 11 bytes"},
      {[](Event& e) { e.inputs = {Ref(SubjectKind::kItem, "123456789012")}; },
       "inputs[0].id: length 12 exceeds the limit of 11 bytes"},
      {[](Event& e) {
         e.attributes = {{"123456789012", ""}};
       },
       "attributes[0].key: length 12 exceeds the limit of 11 bytes"},
      {[](Event& e) {
         e.attributes = {{"k", std::string(17, 'v')}};
       },
       "attributes[0].value: length 17 exceeds the limit of 16 bytes"},
      {[](Event& e) { e.subjects.resize(3, Ref(SubjectKind::kItem, "i")); },
       "subjects: 3 items exceed the limit of 2"},
      {[](Event& e) {
         e.attributes = {{"a", ""}, {"b", ""}, {"c", ""}};
       },
       "attributes: 3 items exceed the limit of 2"},
      {[](Event& e) { e.payload = "12345"; },
       "payload: length 5 exceeds the limit of 4 bytes"},
  };
  for (const Case& c : cases) {
    Event bad = MinimalEvent();
    c.mutate(bad);
    EXPECT_EQ(DecodeStatus(bad, limits).message(), c.message);
  }
  // The whole encoding is checked first, before any field.
  const std::string bytes = EncodeEvent(FullEvent());
  EventLimits tight;
  tight.max_event_bytes = static_cast<uint32_t>(bytes.size() - 1);
  EXPECT_EQ(DecodeEvent(bytes, tight).status().message(),
            StrCat("event: ", bytes.size(), " bytes exceed the limit of ",
                   bytes.size() - 1));
  EventLimits exact;
  exact.max_event_bytes = static_cast<uint32_t>(bytes.size());
  EXPECT_TRUE(DecodeEvent(bytes, exact).ok());
}

TEST(EventCodecTest, ForgedCountCannotForceAHugeAllocation) {
  Event e = MinimalEvent();
  std::string bytes = EncodeEvent(e);
  // The minimal event ends with: subjects, inputs and outputs counts (4
  // each), outcome.status (1), five empty strings (4 each), the attributes
  // count (4) and an empty payload (4). Patch the subjects count.
  const size_t subjects_at = bytes.size() - (4 * 3 + 1 + 4 * 5 + 4 + 4);
  ASSERT_EQ(bytes.substr(subjects_at, 4), std::string(4, '\0'));
  bytes.replace(subjects_at, 4, "\xFF\xFF\xFF\xFF");
  EventLimits no_count_limit;
  no_count_limit.max_refs = UINT32_MAX;
  absl::StatusOr<Event> d = DecodeEvent(bytes, no_count_limit);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status().message(), HasSubstr("subjects: truncated"));
}

}  // namespace
}  // namespace ledger
