// Input bounds through a real gRPC server: events outside the occurred_at
// window, bidirectional overrides in identifiers, unknown protobuf fields,
// requests that do not parse (every RPC), unknown methods, and the bound on
// what such requests log. Each attack is refused and stores nothing.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "base/strings.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/impl/client_unary_call.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/sync_stream.h"
#include "node/node_testing.h"
#include "node/request_guard.h"

namespace ledger::node {
namespace {

using ::testing::HasSubstr;
using testing::MakeEventProto;
using testing::SignedAppend;
using testing::SignedBatch;
using ::testing::StartsWith;

constexpr int64_t kYear2200 = 7'258'118'400;  // 2200-01-01T00:00:00Z

class RequestBoundsTest : public testing::NodeFixture {
 protected:
  void SetUp() override {
    NodeFixture::SetUp();
    RegisterKey(emitter_);
  }

  grpc::Status Append(const v1::AppendRequest& request) {
    v1::AppendResponse response;
    return ingest_->Append(Context().get(), request, &response);
  }
  grpc::Status AppendBatch(const v1::AppendBatchRequest& request) {
    v1::AppendBatchResponse response;
    return ingest_->AppendBatch(Context().get(), request, &response);
  }
  grpc::Status AppendStream(
      const std::vector<v1::AppendBatchRequest>& batches) {
    auto context = Context();
    v1::AppendStreamResponse response;
    auto writer = ingest_->AppendStream(context.get(), &response);
    for (const auto& b : batches) {
      if (!writer->Write(b)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  // The status is INVALID_ARGUMENT with `prefix`, and nothing was stored.
  void ExpectRefused(const grpc::Status& s, const std::string& prefix,
                     uint64_t size_before) {
    EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT) << s.error_message();
    EXPECT_THAT(s.error_message(), StartsWith(prefix));
    EXPECT_EQ(LedgerSize(), size_before);
  }
};

// ---- occurred_at ----

TEST_F(RequestBoundsTest, EventInTheYear2200IsRefused) {
  const uint64_t before = LedgerSize();
  v1::Event e = MakeEventProto(kTenant, 1);
  e.mutable_occurred_at()->set_seconds(kYear2200);
  grpc::Status s = Append(SignedAppend(emitter_.key, e));
  ExpectRefused(s,
                "event (event_id 00000000-0000-4000-8000-000000000001): "
                "occurred_at 2200-01-01T00:00:00Z is too far in the future: "
                "this node accepts events that occurred from ",
                before);
  EXPECT_THAT(s.error_message(),
              HasSubstr("max_event_age 9600h, max_future_skew 5m); check the "
                        "emitter's clock"));
  // The same event at a time inside the window is appended.
  EXPECT_TRUE(
      Append(SignedAppend(emitter_.key, MakeEventProto(kTenant, 1))).ok());
  EXPECT_EQ(LedgerSize(), before + 1);
}

TEST_F(RequestBoundsTest, BatchNamesTheEventOutsideTheWindow) {
  const uint64_t before = LedgerSize();
  std::vector<v1::Event> events = {MakeEventProto(kTenant, 1),
                                   MakeEventProto(kTenant, 2),
                                   MakeEventProto(kTenant, 3)};
  // 401 days ago: older than the default max_event_age.
  events[2].mutable_occurred_at()->set_seconds(
      absl::ToUnixSeconds(absl::Now() - absl::Hours(24 * 401)));
  ExpectRefused(AppendBatch(SignedBatch(emitter_.key, events)),
                "events[2] (event_id 00000000-0000-4000-8000-000000000003): "
                "occurred_at ",
                before);
  grpc::Status s =
      AppendStream({SignedBatch(emitter_.key, {MakeEventProto(kTenant, 4)}),
                    SignedBatch(emitter_.key, events)});
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT) << s.error_message();
  EXPECT_THAT(
      s.error_message(),
      StartsWith("batch 1 rejected: events[2] (event_id "
                 "00000000-0000-4000-8000-000000000003): occurred_at "));
  EXPECT_THAT(s.error_message(), HasSubstr("is too old"));
  EXPECT_EQ(LedgerSize(), before + 1);  // batch 0 only
}

class NarrowWindowTest : public RequestBoundsTest {
 protected:
  void Configure(NodeConfig& config) override {
    config.max_future_skew = absl::Seconds(1);
    config.max_event_age = absl::Hours(1);
  }
};

TEST_F(NarrowWindowTest, TheConfiguredWindowApplies) {
  const uint64_t before = LedgerSize();
  v1::Event now = MakeEventProto(kTenant, 1);
  now.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  EXPECT_TRUE(Append(SignedAppend(emitter_.key, now)).ok());
  v1::Event old = MakeEventProto(kTenant, 2);
  old.mutable_occurred_at()->set_seconds(
      absl::ToUnixSeconds(absl::Now() - absl::Hours(2)));
  grpc::Status s = Append(SignedAppend(emitter_.key, old));
  ExpectRefused(s, "event (event_id 00000000-0000-4000-8000-000000000002)",
                before + 1);
  EXPECT_THAT(s.error_message(),
              HasSubstr("max_event_age 1h, max_future_skew 1s"));
  v1::Event ahead = MakeEventProto(kTenant, 3);
  ahead.mutable_occurred_at()->set_seconds(
      absl::ToUnixSeconds(absl::Now() + absl::Minutes(1)));
  ExpectRefused(Append(SignedAppend(emitter_.key, ahead)),
                "event (event_id 00000000-0000-4000-8000-000000000003)",
                before + 1);
}

// ---- identifiers ----

TEST_F(RequestBoundsTest, BidiOverridesInIdentifiersAreRefused) {
  const std::string rlo = "\xE2\x80\xAE";  // U+202E RIGHT-TO-LEFT OVERRIDE
  struct Case {
    std::function<void(v1::Event&)> mutate;
    std::string message_prefix;
  };
  for (const Case& c : std::vector<Case>{
           {[&](v1::Event& e) {
              e.mutable_actor()->set_id(StrCat("user:", rlo));
            },
            "event.actor.id: bidirectional formatting character U+202E at "
            "byte 5"},
           {[&](v1::Event& e) { e.mutable_actor()->set_role(rlo); },
            "event.actor.role: bidirectional formatting character U+202E"},
           {[&](v1::Event& e) { e.set_producer(StrCat("ls", rlo)); },
            "event.producer: bidirectional formatting character U+202E"},
           {[&](v1::Event& e) { e.set_project("p\xE2\x81\xA6"); },
            "event.project: bidirectional formatting character U+2066"},
           {[&](v1::Event& e) {
              e.mutable_subjects(0)->set_id(StrCat("item:", rlo));
            },
            "event.subjects[0].id: bidirectional formatting character U+202E"},
           {[&](v1::Event& e) { e.mutable_subjects(0)->set_version(rlo); },
            "event.subjects[0].version: bidirectional formatting character"},
           {[&](v1::Event& e) { e.set_run_id("\xE2\x80\x8F"); },
            "event.run_id: bidirectional formatting character U+200F"},
           {[&](v1::Event& e) {
              e.mutable_attributes()->insert(
                  {StrCat("k", rlo), std::string(1, 'v')});
            },
            "event.attributes[0].key: bidirectional formatting character"},
           {[&](v1::Event& e) {
              (*e.mutable_attributes())["label"] = StrCat("car\n", rlo);
            },
            "event.attributes[0].value: bidirectional formatting character "
            "U+202E at byte 4"},
           {[&](v1::Event& e) { e.set_tenant(StrCat("acme", rlo)); },
            "event.tenant: must match"},
       }) {
    const uint64_t before = LedgerSize();
    v1::Event e = MakeEventProto(kTenant, 1);
    c.mutate(e);
    ExpectRefused(Append(SignedAppend(emitter_.key, e)), c.message_prefix,
                  before);
  }
}

// ---- unknown fields ----

// An unknown field (number 99) added to the message `where` picks; the
// request is signed first, so the signature covers the known fields.
template <typename Request>
Request WithUnknownField(
    Request request,
    std::function<google::protobuf::Message*(Request&)> where) {
  google::protobuf::Message* m = where(request);
  m->GetReflection()->MutableUnknownFields(m)->AddLengthDelimited(99, "x");
  return request;
}

TEST_F(RequestBoundsTest, UnknownFieldsAreRefusedNamingNumberAndPlace) {
  const uint64_t before = LedgerSize();
  const v1::AppendRequest one =
      SignedAppend(emitter_.key, MakeEventProto(kTenant, 1));
  ExpectRefused(
      Append(WithUnknownField<v1::AppendRequest>(
          one, [](auto& r) { return r.mutable_event()->mutable_actor(); })),
      "event.actor: unknown field 99 in ledger.v1.Actor: this node does not "
      "know it",
      before);
  ExpectRefused(Append(WithUnknownField<v1::AppendRequest>(
                    one, [](auto& r) { return &r; })),
                "request: unknown field 99 in ledger.v1.AppendRequest", before);
  ExpectRefused(Append(WithUnknownField<v1::AppendRequest>(
                    one, [](auto& r) { return r.mutable_signature(); })),
                "signature: unknown field 99 in ledger.v1.EmitterSignature",
                before);
  const v1::AppendBatchRequest batch = SignedBatch(
      emitter_.key, {MakeEventProto(kTenant, 2), MakeEventProto(kTenant, 3)});
  ExpectRefused(
      AppendBatch(WithUnknownField<v1::AppendBatchRequest>(
          batch,
          [](auto& r) { return r.mutable_events(1)->mutable_subjects(0); })),
      "events[1].subjects[0]: unknown field 99 in ledger.v1.SubjectRef",
      before);
  ExpectRefused(
      AppendBatch(WithUnknownField<v1::AppendBatchRequest>(
          batch,
          [](auto& r) { return r.mutable_events(0)->mutable_occurred_at(); })),
      "events[0].occurred_at: unknown field 99 in google.protobuf.Timestamp",
      before);
  grpc::Status s = AppendStream({WithUnknownField<v1::AppendBatchRequest>(
      batch, [](auto& r) { return r.mutable_events(1); })});
  ExpectRefused(s,
                "batch 0 rejected: events[1]: unknown field 99 in "
                "ledger.v1.Event",
                before);
  // Without the unknown fields, the same requests are appended.
  EXPECT_TRUE(Append(one).ok());
  EXPECT_TRUE(AppendBatch(batch).ok());
  EXPECT_EQ(LedgerSize(), before + 3);
}

// ---- requests that do not parse ----

std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

std::string LengthDelimited(int number, std::string_view value) {
  return StrCat(Varint(static_cast<uint64_t>(number) << 3 | 2),
                Varint(value.size()), value);
}

// The encoding of a `type` message whose first string field (nested if
// need be) holds invalid UTF-8, and that field's full name; nullopt if
// `type` has no string field.
std::optional<std::pair<std::string, std::string>> InvalidUtf8(
    const google::protobuf::Descriptor* type, int depth = 0) {
  using google::protobuf::FieldDescriptor;
  if (depth > 4) return std::nullopt;
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    if (f->type() == FieldDescriptor::TYPE_STRING) {
      return std::make_pair(LengthDelimited(f->number(), "ok\xFF\xFE"),
                            f->full_name());
    }
  }
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    if (f->type() != FieldDescriptor::TYPE_MESSAGE || f->is_map()) continue;
    if (auto inner = InvalidUtf8(f->message_type(), depth + 1)) {
      return std::make_pair(LengthDelimited(f->number(), inner->first),
                            inner->second);
    }
  }
  return std::nullopt;
}

// Field 1, length-delimited, says 100 bytes and two follow: no message
// type parses it.
constexpr std::string_view kTruncated = "\x0a\x64\x01\x02";

grpc::ByteBuffer Bytes(std::string_view bytes) {
  grpc::Slice slice(std::string{bytes});
  return grpc::ByteBuffer(&slice, 1);
}

// Calls `method` with `request` as raw bytes, whatever its kind.
grpc::Status CallRaw(grpc::Channel* channel,
                     const google::protobuf::MethodDescriptor* method,
                     std::string_view request) {
  const std::string name =
      StrCat("/", method->service()->full_name(), "/", method->name());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(60));
  grpc::ByteBuffer response;
  if (method->client_streaming()) {
    grpc::internal::RpcMethod rpc(
        name.c_str(), method->server_streaming()
                          ? grpc::internal::RpcMethod::BIDI_STREAMING
                          : grpc::internal::RpcMethod::CLIENT_STREAMING);
    std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> writer(
        grpc::internal::ClientWriterFactory<grpc::ByteBuffer>::Create(
            channel, rpc, &context, &response));
    writer->Write(Bytes(request));
    writer->WritesDone();
    return writer->Finish();
  }
  if (method->server_streaming()) {
    grpc::internal::RpcMethod rpc(name.c_str(),
                                  grpc::internal::RpcMethod::SERVER_STREAMING);
    std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> reader(
        grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(
            channel, rpc, &context, Bytes(request)));
    while (reader->Read(&response)) {
    }
    return reader->Finish();
  }
  grpc::internal::RpcMethod rpc(name.c_str(),
                                grpc::internal::RpcMethod::NORMAL_RPC);
  return grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
      channel, rpc, &context, Bytes(request), &response);
}

std::vector<const google::protobuf::MethodDescriptor*> EveryLedgerMethod() {
  std::vector<const google::protobuf::MethodDescriptor*> methods;
  for (const char* service : {"ledger.v1.Ingest", "ledger.v1.Proof",
                              "ledger.v1.Query", "ledger.v1.Admin"}) {
    const google::protobuf::ServiceDescriptor* s =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            service);
    EXPECT_NE(s, nullptr) << service;
    if (s == nullptr) continue;
    for (int i = 0; i < s->method_count(); ++i) methods.push_back(s->method(i));
  }
  return methods;
}

TEST_F(RequestBoundsTest, InvalidUtf8IsInvalidArgumentNamingTypeAndField) {
  const uint64_t before = LedgerSize();
  int with_strings = 0;
  for (const auto* method : EveryLedgerMethod()) {
    SCOPED_TRACE(method->full_name());
    std::optional<std::pair<std::string, std::string>> bad =
        InvalidUtf8(method->input_type());
    if (!bad.has_value()) continue;
    ++with_strings;
    grpc::Status s = CallRaw(channel_.get(), method, bad->first);
    EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT) << s.error_message();
    if (method->client_streaming()) {
      EXPECT_THAT(s.error_message(), HasSubstr("message 0 of the stream: "));
    }
    EXPECT_THAT(s.error_message(),
                HasSubstr(StrCat("/", method->service()->full_name(), "/",
                                 method->name(), " does not parse as ",
                                 method->input_type()->full_name(),
                                 ": string field ", bad->second,
                                 " holds invalid UTF-8 (proto3 string "
                                 "fields must be valid UTF-8")));
  }
  EXPECT_GE(with_strings, 6);
  EXPECT_EQ(LedgerSize(), before);
}

TEST_F(RequestBoundsTest, UnparsableRequestIsInvalidArgumentForEveryRpc) {
  const uint64_t before = LedgerSize();
  for (const auto* method : EveryLedgerMethod()) {
    SCOPED_TRACE(method->full_name());
    grpc::Status s = CallRaw(channel_.get(), method, kTruncated);
    EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT) << s.error_message();
    EXPECT_THAT(s.error_message(),
                HasSubstr(StrCat(" does not parse as ",
                                 method->input_type()->full_name(), ": ")));
  }
  EXPECT_EQ(LedgerSize(), before);
  // The node still serves.
  EXPECT_TRUE(AppendEvents(1, 2).ok());
}

TEST_F(RequestBoundsTest, HealthCheckThatDoesNotParseIsInvalidArgument) {
  grpc::ClientContext context;
  grpc::ByteBuffer response;
  grpc::internal::RpcMethod rpc("/grpc.health.v1.Health/Check",
                                grpc::internal::RpcMethod::NORMAL_RPC);
  grpc::Status s =
      grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
          channel_.get(), rpc, &context, Bytes(kTruncated), &response);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT) << s.error_message();
  EXPECT_FALSE(s.error_message().empty());
}

TEST_F(RequestBoundsTest, UnknownMethodIsUnimplementedNamingIt) {
  for (auto kind : {grpc::internal::RpcMethod::NORMAL_RPC,
                    grpc::internal::RpcMethod::CLIENT_STREAMING}) {
    grpc::ClientContext context;
    grpc::ByteBuffer response;
    grpc::Status s;
    if (kind == grpc::internal::RpcMethod::NORMAL_RPC) {
      grpc::internal::RpcMethod rpc("/ledger.v1.Ingest/Erase", kind);
      s = grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
          channel_.get(), rpc, &context, Bytes(""), &response);
    } else {
      grpc::internal::RpcMethod rpc("/ledger.v2.Replication/Pull", kind);
      std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> writer(
          grpc::internal::ClientWriterFactory<grpc::ByteBuffer>::Create(
              channel_.get(), rpc, &context, &response));
      writer->WritesDone();
      s = writer->Finish();
    }
    EXPECT_EQ(s.error_code(), grpc::UNIMPLEMENTED);
    EXPECT_THAT(
        s.error_message(),
        HasSubstr(kind == grpc::internal::RpcMethod::NORMAL_RPC
                      ? "unknown method \"/ledger.v1.Ingest/Erase\""
                      : "unknown method \"/ledger.v2.Replication/Pull\""));
    EXPECT_THAT(s.error_message(),
                HasSubstr("this node serves ledger.v1.Ingest"));
  }
}

// ---- bounded logging ----

// The node's log captured (spdlog's default logger, replaced before the
// node starts and restored after it stopped, so no thread logs meanwhile).
class BoundedLogTest : public RequestBoundsTest {
 protected:
  void SetUp() override {
    previous_ = spdlog::default_logger();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
    ResetLogLimitsForTesting();
    RequestBoundsTest::SetUp();
  }
  void TearDown() override {
    RequestBoundsTest::TearDown();
    spdlog::set_default_logger(previous_);
  }
  // Lines of the log containing `what`; call after StopNode().
  int Lines(std::string_view what) {
    std::istringstream in(log_.str());
    int n = 0;
    for (std::string line; std::getline(in, line);) {
      if (line.find(what) != std::string::npos) ++n;
    }
    return n;
  }

  std::ostringstream log_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST_F(BoundedLogTest, AFloodOfBadRequestsLogsABoundedNumberOfLines) {
  constexpr int kRequests = 100;
  const auto* append =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
          "ledger.v1.Ingest.Append");
  const auto* entry =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
          "ledger.v1.Query.GetEntry");
  ASSERT_NE(append, nullptr);
  ASSERT_NE(entry, nullptr);
  auto bad = InvalidUtf8(append->input_type());
  ASSERT_TRUE(bad.has_value());
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_EQ(CallRaw(channel_.get(), i % 2 == 0 ? append : entry,
                      i % 2 == 0 ? std::string_view(bad->first) : kTruncated)
                  .error_code(),
              grpc::INVALID_ARGUMENT);
    grpc::ClientContext context;
    grpc::ByteBuffer response;
    grpc::internal::RpcMethod rpc("/ledger.v1.Nothing/Here",
                                  grpc::internal::RpcMethod::NORMAL_RPC);
    EXPECT_EQ(
        (grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
             channel_.get(), rpc, &context, Bytes(""), &response))
            .error_code(),
        grpc::UNIMPLEMENTED);
  }
  StopNode();
  // At most kLogLinesPerMinute of each kind, twice if the minute turned
  // during the test.
  const int bound = 2 * static_cast<int>(kLogLinesPerMinute);
  EXPECT_GE(Lines("refused a request from"), 1);
  EXPECT_LE(Lines("refused a request from"), bound);
  EXPECT_GE(Lines("unknown method \"/ledger.v1.Nothing/Here\""), 1);
  EXPECT_LE(Lines("unknown method"), bound);
  EXPECT_GE(Lines("protobuf ("), 1);
  EXPECT_LE(Lines("protobuf ("), bound);
}

}  // namespace
}  // namespace ledger::node
