// google.rpc.BadRequest in the binary error details of INVALID_ARGUMENT
// answers (node/grpc_status.h), decoded as a gRPC client in any language
// would: the grpc-status-details-bin bytes parsed as google.rpc.Status, the
// Any unpacked by its type URL.

#include "grpcpp/support/error_details.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "node/grpc_status.h"
#include "node/node_testing.h"

namespace ledger::node {
namespace {

using testing::MakeEventProto;
using testing::SignedAppend;
using testing::SignedBatch;

struct Violation {
  std::string field;
  std::string description;
  bool operator==(const Violation&) const = default;
};

void PrintTo(const Violation& v, std::ostream* os) {
  *os << "{" << v.field << ", " << v.description << "}";
}

// The field violations of a status's details, checking the google.rpc.Status
// envelope on the way (same code and message as the call's, one
// BadRequest). Empty details give an empty list.
std::vector<Violation> ViolationsOf(const grpc::Status& status) {
  std::vector<Violation> out;
  if (status.error_details().empty()) return out;
  google::rpc::Status details;
  grpc::Status extracted = grpc::ExtractErrorDetails(status, &details);
  EXPECT_TRUE(extracted.ok()) << "details do not parse as google.rpc.Status";
  EXPECT_EQ(details.code(), static_cast<int>(status.error_code()));
  EXPECT_EQ(details.message(), status.error_message());
  EXPECT_EQ(details.details_size(), 1);
  for (const google::protobuf::Any& any : details.details()) {
    EXPECT_EQ(any.type_url(), "type.googleapis.com/google.rpc.BadRequest");
    google::rpc::BadRequest bad_request;
    EXPECT_TRUE(any.UnpackTo(&bad_request));
    for (const auto& v : bad_request.field_violations()) {
      out.push_back({v.field(), v.description()});
    }
  }
  return out;
}

class ErrorDetailsTest : public testing::NodeFixture {
 protected:
  void SetUp() override {
    NodeFixture::SetUp();
    RegisterKey(emitter_);
  }

  std::vector<v1::Event> Events(int first, int count) {
    std::vector<v1::Event> events;
    for (int i = 0; i < count; ++i) {
      events.push_back(MakeEventProto(kTenant, first + i));
    }
    return events;
  }
};

TEST_F(ErrorDetailsTest, BadSingleAppendNamesTheFieldOfTheRequest) {
  v1::Event event = MakeEventProto(kTenant, 1);
  ASSERT_GT(event.subjects_size(), 0);
  event.mutable_subjects(0)->set_id("");
  v1::AppendResponse response;
  grpc::Status s = ingest_->Append(
      Context().get(), SignedAppend(emitter_.key, event), &response);
  ASSERT_EQ(s.error_code(), grpc::INVALID_ARGUMENT) << s.error_message();
  EXPECT_EQ(s.error_message(), "event.subjects[0].id: must not be empty");
  EXPECT_THAT(ViolationsOf(s),
              ::testing::ElementsAre(
                  Violation{"event.subjects[0].id", "must not be empty"}));
}

TEST_F(ErrorDetailsTest, ProtoFieldNamesNotCxxOnes) {
  // The C++ event has occurred_at_ns; the request's field is occurred_at.
  v1::Event event = MakeEventProto(kTenant, 1);
  event.clear_occurred_at();
  v1::AppendResponse response;
  grpc::Status s = ingest_->Append(
      Context().get(), SignedAppend(emitter_.key, event), &response);
  ASSERT_EQ(s.error_code(), grpc::INVALID_ARGUMENT) << s.error_message();
  std::vector<Violation> v = ViolationsOf(s);
  ASSERT_EQ(v.size(), 1u) << s.error_message();
  EXPECT_EQ(v[0].field, "event.occurred_at");
  EXPECT_EQ(StrCat(v[0].field, ": ", v[0].description), s.error_message());
}

TEST_F(ErrorDetailsTest, BadBatchNamesTheEventAndItsField) {
  const uint64_t before = LedgerSize();
  v1::AppendBatchRequest r = SignedBatch(emitter_.key, Events(10, 5));
  r.mutable_events(3)->mutable_subjects(0)->set_id("");
  v1::AppendBatchResponse response;
  grpc::Status s = ingest_->AppendBatch(Context().get(), r, &response);
  ASSERT_EQ(s.error_code(), grpc::INVALID_ARGUMENT) << s.error_message();
  EXPECT_THAT(ViolationsOf(s),
              ::testing::ElementsAre(
                  Violation{"events[3].subjects[0].id", "must not be empty"}));
  EXPECT_EQ(LedgerSize(), before);

  // A field the conversion from the proto refuses (not hex), in event 2.
  r = SignedBatch(emitter_.key, Events(10, 5));
  r.mutable_events(2)->mutable_subjects(0)->set_content_sha256("zz");
  s = ingest_->AppendBatch(Context().get(), r, &response);
  ASSERT_EQ(s.error_code(), grpc::INVALID_ARGUMENT) << s.error_message();
  std::vector<Violation> v = ViolationsOf(s);
  ASSERT_EQ(v.size(), 1u) << s.error_message();
  EXPECT_EQ(v[0].field, "events[2].subjects[0].content_sha256");
  EXPECT_THAT(v[0].description, ::testing::HasSubstr("64 hex digits"));

  // The request's own field: no events at all.
  v1::AppendBatchRequest empty;
  empty.mutable_signature()->set_key_id(std::string(32, 'k'));
  empty.mutable_signature()->set_signature(std::string(64, 's'));
  s = ingest_->AppendBatch(Context().get(), empty, &response);
  ASSERT_EQ(s.error_code(), grpc::INVALID_ARGUMENT) << s.error_message();
  EXPECT_THAT(ViolationsOf(s),
              ::testing::ElementsAre(Violation{"events", "must not be empty"}));
  EXPECT_EQ(LedgerSize(), before);
}

TEST_F(ErrorDetailsTest, StreamNamesTheFieldInTheRejectedMessage) {
  std::vector<v1::AppendBatchRequest> requests;
  for (int b = 0; b < 3; ++b) {
    requests.push_back(SignedBatch(emitter_.key, Events(100 + b * 10, 2)));
  }
  requests[2].mutable_events(1)->set_type("not.a.type");
  auto context = Context();
  v1::AppendStreamResponse response;
  auto writer = ingest_->AppendStream(context.get(), &response);
  for (const v1::AppendBatchRequest& r : requests) {
    if (!writer->Write(r)) break;
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  ASSERT_EQ(s.error_code(), grpc::INVALID_ARGUMENT) << s.error_message();
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("batch 2 rejected"));
  std::vector<Violation> v = ViolationsOf(s);
  ASSERT_EQ(v.size(), 1u) << s.error_message();
  EXPECT_EQ(v[0].field, "events[1].type");
  EXPECT_EQ(v[0].description, "unknown event type 'not.a.type'");
}

TEST_F(ErrorDetailsTest, QueriesNameTheirRequestsFields) {
  v1::HistoryRequest request;
  request.set_tenant(kTenant);
  request.mutable_subject()->set_kind("item");
  v1::HistoryResponse response;
  grpc::Status s = query_->History(Context().get(), request, &response);
  ASSERT_EQ(s.error_code(), grpc::INVALID_ARGUMENT) << s.error_message();
  EXPECT_THAT(ViolationsOf(s),
              ::testing::ElementsAre(Violation{"subject.id", "required"}));
}

TEST_F(ErrorDetailsTest, OtherRefusalsCarryNoDetails) {
  // A signature that does not verify: UNAUTHENTICATED, no field to blame.
  v1::AppendRequest r = SignedAppend(emitter_.key, MakeEventProto(kTenant, 1));
  r.mutable_event()->set_purpose("changed after signing");
  v1::AppendResponse response;
  grpc::Status s = ingest_->Append(Context().get(), r, &response);
  ASSERT_EQ(s.error_code(), grpc::UNAUTHENTICATED) << s.error_message();
  EXPECT_EQ(s.error_details(), "");
}

TEST(FieldViolationOf, OnlyPathsOfTheRequestType) {
  const google::protobuf::Descriptor& append = *v1::AppendRequest::descriptor();
  const google::protobuf::Descriptor& batch =
      *v1::AppendBatchRequest::descriptor();
  auto field = [](std::string_view message,
                  const google::protobuf::Descriptor& type) {
    std::optional<FieldViolation> v = FieldViolationOf(message, type);
    return v.has_value() ? v->field : "(none)";
  };
  EXPECT_EQ(field("event: too big", append), "event");
  EXPECT_EQ(field("event.actor.kind: unknown value 9", append),
            "event.actor.kind");
  EXPECT_EQ(field("signature.key_id: must be 32 bytes", append),
            "signature.key_id");
  EXPECT_EQ(field("events[12].attributes[0].key: duplicate key 'a'", batch),
            "events[12].attributes[0].key");
  // Not fields of the type, or not paths at all.
  EXPECT_EQ(field("events[0].type: x", append), "(none)");
  EXPECT_EQ(field("event.type: x", batch), "(none)");
  EXPECT_EQ(field("policy.changed: attribute x", append), "(none)");
  EXPECT_EQ(field("event.nonesuch: x", append), "(none)");
  // Malformed paths: a repeated field stepped into without an index, an
  // index on a singular field, into a scalar, an unclosed index.
  EXPECT_EQ(field("events.type: x", batch), "(none)");
  EXPECT_EQ(field("event[0].type: x", append), "(none)");
  EXPECT_EQ(field("event.type.x: x", append), "(none)");
  EXPECT_EQ(field("events[1: x", batch), "(none)");
  EXPECT_EQ(field("events[]: x", batch), "(none)");
  EXPECT_EQ(field("request is not signed: x", append), "(none)");
  EXPECT_EQ(field("event.type", append), "(none)");
  // The description is the rest of the message.
  std::optional<FieldViolation> v =
      FieldViolationOf("events[3].type: unknown event type 'a: b'", batch);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->description, "unknown event type 'a: b'");
}

}  // namespace
}  // namespace ledger::node
