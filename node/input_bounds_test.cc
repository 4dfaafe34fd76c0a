// Admission bounds below the RPC layer: the occurred_at window, unknown
// protobuf fields anywhere in a request, the log limiter and the message
// for requests that do not parse.

#include "node/input_bounds.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "base/strings.h"
#include "ledger/v1/ingest.pb.h"
#include "node/log_limit.h"
#include "node/node_testing.h"
#include "node/request_guard.h"

namespace ledger::node {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1'764'633'600'000'000'000;  // 2025-12-02T00:00:00Z
constexpr int64_t kMinute = 60'000'000'000;

std::vector<Event> EventsAt(std::vector<int64_t> times) {
  std::vector<Event> events;
  for (size_t i = 0; i < times.size(); ++i) {
    events.push_back(testing::MakeEvent("acme-ai", static_cast<int>(i) + 1));
    events.back().occurred_at_ns = times[i];
  }
  return events;
}

TEST(OccurredAtWindowTest, AcceptsBothEndsOfTheWindow) {
  const OccurredAtWindow window;  // 5 minutes ahead, 400 days back
  const int64_t age = absl::ToInt64Nanoseconds(window.max_event_age);
  EXPECT_TRUE(CheckOccurredAt(EventsAt({kNow, kNow + 5 * kMinute, kNow - age,
                                        kNow - kMinute}),
                              kNow, window)
                  .ok());
}

TEST(OccurredAtWindowTest, RefusesTheFutureNamingEventAndWindow) {
  // The year 2200, as in the issue.
  const int64_t y2200 = 7'258'118'400'000'000'000;
  absl::Status s = CheckOccurredAt(EventsAt({kNow, kNow, y2200}), kNow, {});
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      ToStd(s.message()),
      "events[2] (event_id 00000000-0000-4000-8000-000000000003): occurred_at "
      "2200-01-01T00:00:00Z is too far in the future: this node accepts "
      "events that occurred from 2024-10-28T00:00:00Z to "
      "2025-12-02T00:05:00Z (its clock 2025-12-02T00:00:00Z, max_event_age "
      "9600h, max_future_skew 5m); check the emitter's clock");
  // One nanosecond past the skew is too far.
  s = CheckOccurredAt(EventsAt({kNow + 5 * kMinute + 1}), kNow, {});
  EXPECT_THAT(ToStd(s.message()), HasSubstr("events[0] (event_id "));
  EXPECT_THAT(ToStd(s.message()), HasSubstr("too far in the future"));
}

TEST(OccurredAtWindowTest, RefusesTheTooOld) {
  OccurredAtWindow window;
  window.max_event_age = absl::Hours(24);
  absl::Status s = CheckOccurredAt(
      EventsAt({kNow - 24 * 60 * kMinute, kNow - 24 * 60 * kMinute - 1}), kNow,
      window);
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ToStd(s.message()),
              HasSubstr("events[1] (event_id "
                        "00000000-0000-4000-8000-000000000002): occurred_at "
                        "2025-11-30T23:59:59.999999999Z is too old"));
  EXPECT_THAT(ToStd(s.message()), HasSubstr("max_event_age 24h"));
}

TEST(OccurredAtWindowTest, HugeWindowsDoNotOverflow) {
  OccurredAtWindow window;
  window.max_event_age = absl::Hours(24 * 365 * 1000);
  window.max_future_skew = absl::InfiniteDuration();
  EXPECT_TRUE(
      CheckOccurredAt(EventsAt({1, std::numeric_limits<int64_t>::max()}), kNow,
                      window)
          .ok());
}

TEST(OccurredAtWindowTest, LeavesUnsetTimesToValidation) {
  EXPECT_TRUE(CheckOccurredAt(EventsAt({0, -5}), kNow, {}).ok());
}

v1::AppendBatchRequest TwoEventBatch() {
  v1::AppendBatchRequest request;
  *request.add_events() = testing::MakeEventProto("acme-ai", 1);
  *request.add_events() = testing::MakeEventProto("acme-ai", 2);
  request.mutable_events(1)->add_subjects()->set_id("second");
  request.mutable_signature()->set_key_id("k");
  return request;
}

// Unknown fields survive serialization, as they would from a client whose
// proto files have fields this node lacks.
v1::AppendBatchRequest ThroughTheWire(const v1::AppendBatchRequest& request) {
  v1::AppendBatchRequest parsed;
  EXPECT_TRUE(parsed.ParseFromString(request.SerializeAsString()));
  return parsed;
}

TEST(UnknownFieldsTest, KnownFieldsOnlyPass) {
  EXPECT_TRUE(CheckNoUnknownFields(ThroughTheWire(TwoEventBatch())).ok());
}

TEST(UnknownFieldsTest, NamesTheFieldAndWhereItIsAtEveryDepth) {
  struct Case {
    std::function<google::protobuf::Message*(v1::AppendBatchRequest&)> where;
    std::string message_prefix;
  };
  for (const Case& c : std::vector<Case>{
           {[](auto& r) { return &r; },
            "request: unknown field 99 in ledger.v1.AppendBatchRequest: "},
           {[](auto& r) { return r.mutable_signature(); },
            "signature: unknown field 99 in ledger.v1.EmitterSignature: "},
           {[](auto& r) { return r.mutable_events(1); },
            "events[1]: unknown field 99 in ledger.v1.Event: "},
           {[](auto& r) { return r.mutable_events(0)->mutable_actor(); },
            "events[0].actor: unknown field 99 in ledger.v1.Actor: "},
           {[](auto& r) { return r.mutable_events(0)->mutable_source(); },
            "events[0].source: unknown field 99 in ledger.v1.Source: "},
           {[](auto& r) { return r.mutable_events(1)->mutable_subjects(1); },
            "events[1].subjects[1]: unknown field 99 in "
            "ledger.v1.SubjectRef: "},
           {[](auto& r) { return r.mutable_events(1)->add_inputs(); },
            "events[1].inputs[0]: unknown field 99 in ledger.v1.SubjectRef: "},
           {[](auto& r) { return r.mutable_events(0)->add_outputs(); },
            "events[0].outputs[0]: unknown field 99 in ledger.v1.SubjectRef: "},
           {[](auto& r) { return r.mutable_events(0)->mutable_outcome(); },
            "events[0].outcome: unknown field 99 in ledger.v1.Outcome: "},
           {[](auto& r) { return r.mutable_events(0)->mutable_occurred_at(); },
            "events[0].occurred_at: unknown field 99 in "
            "google.protobuf.Timestamp: "},
       }) {
    v1::AppendBatchRequest request = TwoEventBatch();
    google::protobuf::Message* m = c.where(request);
    m->GetReflection()->MutableUnknownFields(m)->AddVarint(99, 1);
    absl::Status s = CheckNoUnknownFields(ThroughTheWire(request));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.message_prefix;
    EXPECT_EQ(ToStd(s.message()).rfind(c.message_prefix, 0), 0u) << s.message();
    EXPECT_THAT(ToStd(s.message()), HasSubstr("would leave it out"));
  }
}

// Every message type reachable from the request, at every depth: an
// unknown field in any of them is found (a nested message added to the
// proto later is covered without touching the check).
TEST(UnknownFieldsTest, EveryNestedMessageTypeIsInspected) {
  using google::protobuf::FieldDescriptor;
  int inspected = 0;
  std::function<void(google::protobuf::Message*, v1::AppendBatchRequest&, int)>
      visit = [&](google::protobuf::Message* m, v1::AppendBatchRequest& root,
                  int depth) {
        ASSERT_LT(depth, 8);
        m->GetReflection()->MutableUnknownFields(m)->AddVarint(77, 1);
        EXPECT_FALSE(CheckNoUnknownFields(root).ok())
            << m->GetDescriptor()->full_name();
        m->GetReflection()->MutableUnknownFields(m)->Clear();
        ++inspected;
        const google::protobuf::Descriptor* d = m->GetDescriptor();
        for (int i = 0; i < d->field_count(); ++i) {
          const FieldDescriptor* f = d->field(i);
          if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
              f->is_map()) {
            continue;
          }
          google::protobuf::Message* child =
              f->is_repeated() ? m->GetReflection()->AddMessage(m, f)
                               : m->GetReflection()->MutableMessage(m, f);
          visit(child, root, depth + 1);
        }
      };
  v1::AppendBatchRequest request;
  visit(&request, request, 0);
  // AppendBatchRequest, EmitterSignature, Event, Timestamp, Actor, Source,
  // three SubjectRef lists, Outcome.
  EXPECT_EQ(inspected, 10);
}

TEST(LogLimiterTest, LetsABurstThroughPerIntervalAndCountsTheRest) {
  absl::Time now = absl::FromUnixSeconds(1000);
  LogLimiter limiter(3, absl::Minutes(1), [&] { return now; });
  uint64_t suppressed = 99;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(limiter.Allow(&suppressed));
    EXPECT_EQ(suppressed, 0u);
  }
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(limiter.Allow(&suppressed));
  now += absl::Seconds(59);
  EXPECT_FALSE(limiter.Allow(&suppressed));
  now += absl::Seconds(1);
  ASSERT_TRUE(limiter.Allow(&suppressed));
  EXPECT_EQ(suppressed, 51u);  // the lines left out, said once
  ASSERT_TRUE(limiter.Allow(&suppressed));
  EXPECT_EQ(suppressed, 0u);
}

TEST(UnparsableRequestTest, MessageNamesMethodTypeAndTheUtf8Rule) {
  EXPECT_EQ(UnparsableRequestMessage("/ledger.v1.Proof/GetReceipt", ""),
            "the request to /ledger.v1.Proof/GetReceipt does not parse as "
            "ledger.v1.GetReceiptRequest: it is not that message's protobuf "
            "encoding, or a string field holds invalid UTF-8 (proto3 string "
            "fields must be valid UTF-8; send binary data in bytes fields)");
  EXPECT_THAT(
      UnparsableRequestMessage(
          "/ledger.v1.Ingest/Append",
          "string field ledger.v1.Event.tenant holds invalid UTF-8"),
      HasSubstr("does not parse as ledger.v1.AppendRequest: string field "
                "ledger.v1.Event.tenant holds invalid UTF-8 (proto3"));
  EXPECT_THAT(UnparsableRequestMessage("/x.Y/\x1b[2J", ""),
              HasSubstr("the request to /x.Y/\\x1b[2J does not parse as its "
                        "request message"));
}

TEST(UnparsableRequestTest, ProtobufParseErrorIsTakenOnce) {
  InstallProtobufLogHandler();
  TakeProtobufParseError();
  v1::AppendRequest request;
  request.mutable_event()->set_tenant("ok");
  std::string bytes = request.SerializeAsString();
  bytes[bytes.size() - 1] = '\xff';  // "ok" -> "o\xff"
  v1::AppendRequest parsed;
  EXPECT_FALSE(parsed.ParseFromString(bytes));
  EXPECT_EQ(TakeProtobufParseError(),
            "string field ledger.v1.Event.tenant holds invalid UTF-8");
  EXPECT_EQ(TakeProtobufParseError(), "");
}

}  // namespace
}  // namespace ledger::node
