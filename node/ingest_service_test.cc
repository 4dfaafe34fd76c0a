// The Ingest service through a real gRPC server: every bad input is
// rejected whole with an actionable status, and nothing is stored.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/strings.h"
#include "crypto/bytes.h"
#include "crypto/rfc6962.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/sync_stream.h"
#include "node/append_stream.h"
#include "node/node_testing.h"

namespace ledger::node {
namespace {

using testing::EmitterKeyPair;
using ::testing::HasSubstr;
using testing::MakeEventProto;
using testing::SignedAppend;
using testing::SignedBatch;

struct BadCase {
  std::string name;
  grpc::StatusCode code;
  std::string fragment;
};

class IngestServiceTest : public testing::NodeFixture {
 protected:
  void SetUp() override {
    NodeFixture::SetUp();
    RegisterKey(emitter_);
  }

  grpc::Status Append(const v1::AppendRequest& request,
                      v1::AppendResponse* response = nullptr) {
    v1::AppendResponse ignored;
    return ingest_->Append(Context().get(), request,
                           response != nullptr ? response : &ignored);
  }
  grpc::Status AppendBatch(const v1::AppendBatchRequest& request,
                           v1::AppendBatchResponse* response = nullptr) {
    v1::AppendBatchResponse ignored;
    return ingest_->AppendBatch(Context().get(), request,
                                response != nullptr ? response : &ignored);
  }

  // The status, a message fragment, and an unchanged ledger.
  void ExpectRejected(const BadCase& c, const grpc::Status& status,
                      uint64_t size_before) {
    EXPECT_EQ(status.error_code(), c.code)
        << c.name << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.fragment)) << c.name;
    EXPECT_EQ(LedgerSize(), size_before) << c.name;
  }

  EmitterKeyPair stranger_{"stranger", 0x71};
};

// A signed single-event request, then `mutate` applied (after signing, so
// content changes also break the signature).
v1::AppendRequest Mutated(const crypto::Ed25519PrivateKey& key,
                          std::function<void(v1::AppendRequest&)> mutate) {
  v1::AppendRequest request = SignedAppend(key, MakeEventProto("acme-ai", 1));
  mutate(request);
  return request;
}

TEST_F(IngestServiceTest, AppendAcknowledgesWithEntryRef) {
  v1::AppendResponse response;
  const uint64_t before = LedgerSize();
  grpc::Status s =
      Append(SignedAppend(emitter_.key, MakeEventProto(kTenant, 1)), &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.entry().index(), before);
  EXPECT_EQ(response.entry().event_id(),
            "00000000-0000-4000-8000-000000000001");
  EXPECT_FALSE(response.entry().duplicate());
  absl::StatusOr<std::string> entry = node_->ledger().GetEntry(before);
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(response.entry().leaf_hash(),
            std::string(crypto::AsView(crypto::HashLeaf(*entry))));
  EXPECT_GT(response.entry().received_at().seconds(), 1'700'000'000);
}

TEST_F(IngestServiceTest, AppendRejectsBadInputWithoutStoringAnything) {
  const std::string event = MakeEventProto(kTenant, 1).DebugString();
  struct Case {
    BadCase expect;
    v1::AppendRequest request;
  };
  std::vector<Case> cases = {
      {{"malformed event_id", grpc::INVALID_ARGUMENT, "event.event_id:"},
       Mutated(emitter_.key,
               [](auto& r) { r.mutable_event()->set_event_id("42"); })},
      {{"unspecified actor kind", grpc::INVALID_ARGUMENT, "event.actor.kind"},
       Mutated(
           emitter_.key,
           [](auto& r) { r.mutable_event()->mutable_actor()->clear_kind(); })},
      {{"missing producer", grpc::INVALID_ARGUMENT, "event.producer:"},
       Mutated(emitter_.key,
               [](auto& r) { r.mutable_event()->clear_producer(); })},
      {{"missing occurred_at", grpc::INVALID_ARGUMENT,
        "event.occurred_at: must be after"},
       Mutated(emitter_.key,
               [](auto& r) { r.mutable_event()->clear_occurred_at(); })},
      {{"unknown type", grpc::INVALID_ARGUMENT, "event.type:"},
       Mutated(emitter_.key,
               [](auto& r) { r.mutable_event()->set_type("label.invented"); })},
      {{"unsigned", grpc::UNAUTHENTICATED, "request is not signed"},
       Mutated(emitter_.key, [](auto& r) { r.clear_signature(); })},
      {{"short key id", grpc::INVALID_ARGUMENT, "signature.key_id"},
       Mutated(emitter_.key,
               [](auto& r) { r.mutable_signature()->set_key_id("abc"); })},
      {{"short signature", grpc::INVALID_ARGUMENT, "signature.signature"},
       Mutated(emitter_.key,
               [](auto& r) { r.mutable_signature()->set_signature("abc"); })},
      {{"unknown key", grpc::UNAUTHENTICATED,
        "is not registered; register it with `ledgerctl register-key`"},
       Mutated(stranger_.key, [](auto&) {})},
      {{"bad signature", grpc::UNAUTHENTICATED, "does not verify"},
       Mutated(emitter_.key,
               [](auto& r) { r.mutable_event()->set_project("tampered"); })},
      {{"signature by another key", grpc::UNAUTHENTICATED, "does not verify"},
       Mutated(
           emitter_.key,
           [this](auto& r) {
             *r.mutable_signature()->mutable_signature() =
                 SignedAppend(stranger_.key, r.event()).signature().signature();
           })},
      {{"oversized payload", grpc::INVALID_ARGUMENT, "event.payload:"},
       Mutated(emitter_.key,
               [](auto& r) {
                 r.mutable_event()->set_payload(std::string(40 << 10, 'x'));
               })},
  };
  // Wrong tenant and internal types need a valid signature to get that far.
  v1::Event other_tenant = MakeEventProto("other-co", 1);
  cases.push_back({{"wrong tenant for the key", grpc::PERMISSION_DENIED,
                    "may write only tenant \"acme-ai\", not \"other-co\""},
                   SignedAppend(emitter_.key, other_tenant)});
  v1::Event internal = MakeEventProto(kTenant, 1);
  internal.set_type("key.registered");
  cases.push_back({{"ledger-internal type", grpc::PERMISSION_DENIED,
                    "written by the ledger itself, not by emitters: "
                    "emitter key "},
                   SignedAppend(emitter_.key, internal)});
  v1::Event big = MakeEventProto(kTenant, 1);
  for (int i = 0; i < 20; ++i) {
    // StrCat, not "k" + std::to_string(i): GCC 12 warns falsely about that
    // operator+ at -O2 and above (-Wrestrict, GCC bug 105329).
    (*big.mutable_attributes())[StrCat("k", i)] = std::string(4000, 'v');
  }
  cases.push_back({{"event over max_event_bytes", grpc::INVALID_ARGUMENT,
                    "bytes exceeds the limit of 65536"},
                   SignedAppend(emitter_.key, big)});

  const uint64_t before = LedgerSize();
  for (const Case& c : cases) {
    ExpectRejected(c.expect, Append(c.request), before);
  }
}

TEST_F(IngestServiceTest, AppendBatchRejectsBadInputWithoutStoringAnything) {
  std::vector<v1::Event> five;
  for (int i = 0; i < 5; ++i) five.push_back(MakeEventProto(kTenant, 10 + i));
  struct Case {
    BadCase expect;
    v1::AppendBatchRequest request;
  };
  std::vector<Case> cases;
  {
    v1::AppendBatchRequest r = SignedBatch(emitter_.key, five);
    r.mutable_events(3)->set_type("nope");
    cases.push_back(
        {{"bad event 3", grpc::INVALID_ARGUMENT, "events[3].type"}, r});
  }
  {
    v1::AppendBatchRequest r = SignedBatch(emitter_.key, five);
    r.mutable_events(2)->mutable_subjects(0)->set_content_sha256("zz");
    cases.push_back({{"bad hash in event 2", grpc::INVALID_ARGUMENT,
                      "events[2].subjects[0].content_sha256"},
                     r});
  }
  {
    v1::AppendBatchRequest r = SignedBatch(emitter_.key, five);
    r.mutable_events(4)->set_purpose("changed after signing");
    cases.push_back(
        {{"tampered event 4", grpc::UNAUTHENTICATED, "does not verify"}, r});
  }
  {
    v1::AppendBatchRequest r;
    r.mutable_signature()->set_key_id(std::string(32, 'k'));
    r.mutable_signature()->set_signature(std::string(64, 's'));
    cases.push_back(
        {{"empty batch", grpc::INVALID_ARGUMENT, "events: must not be empty"},
         r});
  }
  {
    std::vector<v1::Event> mixed = five;
    mixed[1].set_tenant("other-co");
    cases.push_back({{"one event of another tenant", grpc::PERMISSION_DENIED,
                      "events[1].tenant"},
                     SignedBatch(emitter_.key, mixed)});
  }
  {
    std::vector<v1::Event> twice = five;
    twice[4] = twice[0];
    twice[4].set_purpose("other content");
    cases.push_back(
        {{"same id twice in one batch", grpc::ALREADY_EXISTS, "events[4]"},
         SignedBatch(emitter_.key, twice)});
  }
#ifndef LEDGER_TSAN_BUILD  // 100k events through gRPC: minutes under TSan
  {
    // The count is checked first, so the events may be empty (and the
    // request fits the message size limit).
    v1::AppendBatchRequest r;
    for (uint32_t i = 0; i <= ledger::kMaxBatchSize; ++i) r.add_events();
    r.mutable_signature()->set_key_id(
        std::string(crypto::AsView(emitter_.key_id())));
    r.mutable_signature()->set_signature(std::string(64, 's'));
    cases.push_back({{"too many events", grpc::INVALID_ARGUMENT,
                      "100001 events exceed the limit of 100000"},
                     r});
  }
#endif
  const uint64_t before = LedgerSize();
  for (const Case& c : cases) {
    ExpectRejected(c.expect, AppendBatch(c.request), before);
  }
}

// A processing event as a pipeline sends it: reads raw v1, writes clean v2.
v1::Event ProcessingEventProto(int n, std::string_view type) {
  v1::Event e = MakeEventProto("acme-ai", n);
  e.set_type(std::string(type));
  e.mutable_actor()->set_kind(v1::ACTOR_KIND_SERVICE);
  e.mutable_actor()->set_id("svc:pipeline");
  v1::SubjectRef* in = e.add_inputs();
  in->set_kind(v1::SUBJECT_KIND_DATASET);
  in->set_id("dataset:raw");
  in->set_version("v1");
  v1::SubjectRef* out = e.add_outputs();
  out->set_kind(v1::SUBJECT_KIND_DATASET);
  out->set_id("dataset:clean");
  out->set_version("v2");
  return e;
}

// Lineage rules (ledger/lineage_rules.h) are checked on the signed batch:
// one incomplete event among good ones refuses the whole batch, naming it.
TEST_F(IngestServiceTest, BatchWithAnEventMissingLineageIsRefusedWhole) {
  std::vector<v1::Event> good;
  good.push_back(MakeEventProto(kTenant, 20));
  good.push_back(ProcessingEventProto(21, "data.filtered"));
  good.push_back(ProcessingEventProto(22, "dataset.version_created"));
  good.push_back(ProcessingEventProto(23, "data.filtered"));
  good.push_back(ProcessingEventProto(24, "prelabel.applied"));
  struct Case {
    std::string name;
    std::function<void(std::vector<v1::Event>&)> mutate;
    std::string fragment;
  };
  const std::vector<Case> cases = {
      {"no inputs", [](auto& e) { e[3].clear_inputs(); },
       "events[3].inputs: data.filtered must name at least one input (what "
       "the action read)"},
      {"no outputs", [](auto& e) { e[4].clear_outputs(); },
       "events[4].outputs: prelabel.applied with outcome success must name "
       "at least one output"},
      {"self-loop", [](auto& e) { *e[2].mutable_outputs(0) = e[2].inputs(0); },
       "events[2].outputs[0]: dataset 'dataset:raw' version 'v1' is also "
       "inputs[0]"},
  };
  const uint64_t before = LedgerSize();
  for (const Case& c : cases) {
    std::vector<v1::Event> events = good;
    c.mutate(events);
    ExpectRejected({c.name, grpc::INVALID_ARGUMENT, c.fragment},
                   AppendBatch(SignedBatch(emitter_.key, events)), before);
  }
  // The same batch with the lineage complete, and a failed run that
  // produced nothing, is taken whole.
  good[3].clear_outputs();
  good[3].mutable_outcome()->set_status(v1::OUTCOME_STATUS_FAILURE);
  good[3].mutable_outcome()->set_error_code("E_SOURCE_UNREADABLE");
  v1::AppendBatchResponse response;
  grpc::Status s = AppendBatch(SignedBatch(emitter_.key, good), &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.entries_size(), 5);
  EXPECT_EQ(LedgerSize(), before + 5);
}

TEST_F(IngestServiceTest, SingleAppendMissingLineageNamesTheEvent) {
  v1::Event e = ProcessingEventProto(30, "data.deidentified");
  e.clear_inputs();
  const uint64_t before = LedgerSize();
  ExpectRejected({"no inputs", grpc::INVALID_ARGUMENT,
                  "event.inputs: data.deidentified must name at least one "
                  "input"},
                 Append(SignedAppend(emitter_.key, e)), before);
}

TEST_F(IngestServiceTest, DuplicateEventIdIsIdempotentOnlyForSameContent) {
  v1::AppendResponse first;
  ASSERT_TRUE(
      Append(SignedAppend(emitter_.key, MakeEventProto(kTenant, 1)), &first)
          .ok());
  const uint64_t before = LedgerSize();

  v1::AppendResponse again;
  grpc::Status s =
      Append(SignedAppend(emitter_.key, MakeEventProto(kTenant, 1)), &again);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(again.entry().duplicate());
  EXPECT_EQ(again.entry().index(), first.entry().index());
  EXPECT_EQ(again.entry().leaf_hash(), first.entry().leaf_hash());
  EXPECT_EQ(LedgerSize(), before);

  v1::Event changed = MakeEventProto(kTenant, 1);
  changed.set_purpose("something else");
  s = Append(SignedAppend(emitter_.key, changed));
  ExpectRejected({"other content", grpc::ALREADY_EXISTS,
                  "00000000-0000-4000-8000-000000000001"},
                 s, before);
}

TEST_F(IngestServiceTest, AppendBatchAcknowledgesEachEventInOrder) {
  std::vector<v1::Event> events;
  for (int i = 0; i < 50; ++i) events.push_back(MakeEventProto(kTenant, i));
  const uint64_t before = LedgerSize();
  v1::AppendBatchResponse response;
  grpc::Status s = AppendBatch(SignedBatch(emitter_.key, events), &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(response.entries_size(), 50);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(response.entries(i).index(), before + i);
    EXPECT_EQ(response.entries(i).event_id(), events[i].event_id());
  }
  EXPECT_EQ(LedgerSize(), before + 50);
}

TEST_F(IngestServiceTest, RequestOverMaxMessageBytesIsResourceExhausted) {
  StopNode();
  config().max_message_bytes = 1 << 20;
  StartNode();
  std::vector<v1::Event> events;
  for (int i = 0; i < 100; ++i) {
    events.push_back(MakeEventProto(kTenant, i));
    events.back().set_payload(std::string(16 << 10, 'p'));
  }
  const uint64_t before = LedgerSize();
  grpc::Status s = AppendBatch(SignedBatch(emitter_.key, events));
  EXPECT_EQ(s.error_code(), grpc::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("1048576"));
  EXPECT_EQ(LedgerSize(), before);
}

TEST_F(IngestServiceTest, ShuttingDownNodeRefusesAppends) {
  node_->sequencer().StopAccepting();
  const uint64_t before = LedgerSize();
  grpc::Status s =
      Append(SignedAppend(emitter_.key, MakeEventProto(kTenant, 1)));
  ExpectRejected({"shutdown", grpc::UNAVAILABLE, "node is shutting down"}, s,
                 before);
}

// ---- AppendStream ----

class AppendStreamTest : public IngestServiceTest {
 protected:
  static constexpr absl::Duration kStreamWait = absl::Seconds(60);

  // Sends `requests` on one stream and returns the final status.
  grpc::Status Stream(const std::vector<v1::AppendBatchRequest>& requests,
                      v1::AppendStreamResponse* response) {
    auto context = Context();
    auto writer = ingest_->AppendStream(context.get(), response);
    for (const v1::AppendBatchRequest& r : requests) {
      if (!writer->Write(r)) break;  // the server ended the stream
    }
    writer->WritesDone();
    return writer->Finish();
  }

  v1::AppendBatchRequest BatchOf(int first, int count) {
    std::vector<v1::Event> events;
    for (int i = 0; i < count; ++i) {
      events.push_back(MakeEventProto(kTenant, first + i));
    }
    return SignedBatch(emitter_.key, events);
  }
};

TEST_F(AppendStreamTest, CommitsEveryBatchInOrder) {
  std::vector<v1::AppendBatchRequest> requests;
  for (int b = 0; b < 200; ++b) requests.push_back(BatchOf(b * 10, 1 + b % 4));
  const uint64_t before = LedgerSize();
  v1::AppendStreamResponse response;
  grpc::Status s = Stream(requests, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.batches(), 200u);
  uint64_t expected_index = before;
  int entry = 0;
  for (const v1::AppendBatchRequest& r : requests) {
    for (const v1::Event& e : r.events()) {
      ASSERT_LT(entry, response.entries_size());
      EXPECT_EQ(response.entries(entry).index(), expected_index++);
      EXPECT_EQ(response.entries(entry).event_id(), e.event_id());
      ++entry;
    }
  }
  EXPECT_EQ(LedgerSize(), expected_index);
}

TEST_F(AppendStreamTest, InvalidBatchEndsTheStreamNamingIt) {
  std::vector<v1::AppendBatchRequest> requests;
  for (int b = 0; b < 8; ++b) requests.push_back(BatchOf(b * 10, 2));
  requests[5].mutable_events(1)->set_type("not.a.type");
  const uint64_t before = LedgerSize();
  v1::AppendStreamResponse response;
  grpc::Status s = Stream(requests, &response);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("batch 5 rejected"));
  EXPECT_THAT(s.error_message(), HasSubstr("events[1].type"));
  EXPECT_THAT(s.error_message(),
              HasSubstr("the 5 earlier batches (10 events) are committed"));
  EXPECT_EQ(LedgerSize(), before + 10);
}

TEST_F(AppendStreamTest, ConflictingBatchEndsTheStreamNamingIt) {
  ASSERT_TRUE(
      Append(SignedAppend(emitter_.key, MakeEventProto(kTenant, 999))).ok());
  std::vector<v1::AppendBatchRequest> requests;
  for (int b = 0; b < 3; ++b) requests.push_back(BatchOf(b * 10, 1));
  v1::Event clash = MakeEventProto(kTenant, 999);
  clash.set_purpose("different");
  requests.push_back(SignedBatch(emitter_.key, {clash}));
  const uint64_t before = LedgerSize();
  v1::AppendStreamResponse response;
  grpc::Status s = Stream(requests, &response);
  EXPECT_EQ(s.error_code(), grpc::ALREADY_EXISTS);
  EXPECT_THAT(s.error_message(), HasSubstr("batch 3 rejected"));
  EXPECT_THAT(s.error_message(),
              HasSubstr("the 3 earlier batches (3 events) are committed"));
  EXPECT_EQ(LedgerSize(), before + 3);
}

TEST_F(AppendStreamTest, FirstBatchRejectedCommitsNothing) {
  v1::AppendStreamResponse response;
  v1::AppendBatchRequest unsigned_batch = BatchOf(1, 1);
  unsigned_batch.clear_signature();
  const uint64_t before = LedgerSize();
  grpc::Status s = Stream({unsigned_batch, BatchOf(5, 1)}, &response);
  EXPECT_EQ(s.error_code(), grpc::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(),
              HasSubstr("batch 0 rejected: request is not signed"));
  EXPECT_THAT(s.error_message(), HasSubstr("no batch of this stream"));
  EXPECT_EQ(LedgerSize(), before);
}

// More batches than may wait in the sequencer at once: the node pauses
// reading at the limit and resumes as batches commit; nothing is lost or
// reordered.
TEST_F(AppendStreamTest, LongStreamCommitsEveryBatchInOrder) {
  const int batches = 16 * AppendStreamReactor::kMaxInFlight;
  std::vector<v1::AppendBatchRequest> requests;
  for (int b = 0; b < batches; ++b) requests.push_back(BatchOf(b, 1));
  const uint64_t before = LedgerSize();
  v1::AppendStreamResponse response;
  grpc::Status s = Stream(requests, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.batches(), static_cast<uint64_t>(batches));
  ASSERT_EQ(response.entries_size(), batches);
  for (int b = 0; b < batches; ++b) {
    EXPECT_EQ(response.entries(b).index(), before + b);
    EXPECT_EQ(response.entries(b).event_id(), requests[b].events(0).event_id());
  }
  EXPECT_EQ(LedgerSize(), before + batches);
}

// The sequencer refuses at once (the node is stopping): the stream ends
// with the refusal, naming the batch.
TEST_F(AppendStreamTest, StoppingNodeEndsTheStreamNamingTheBatch) {
  node_->sequencer().StopAccepting();
  const uint64_t before = LedgerSize();
  v1::AppendStreamResponse response;
  grpc::Status s = Stream({BatchOf(1, 1), BatchOf(2, 1)}, &response);
  EXPECT_EQ(s.error_code(), grpc::UNAVAILABLE);
  EXPECT_THAT(s.error_message(),
              HasSubstr("batch 0 rejected: node is shutting down"));
  EXPECT_EQ(response.batches(), 0u);
  EXPECT_EQ(LedgerSize(), before);
}

// A client that gives up mid-stream: what it sent is committed whole or
// not at all, and the node goes on serving.
TEST_F(AppendStreamTest, CancelledStreamLeavesTheNodeServing) {
  const uint64_t before = LedgerSize();
  auto context = Context();
  v1::AppendStreamResponse response;
  auto writer = ingest_->AppendStream(context.get(), &response);
  int written = 0;
  for (int b = 0; b < 100; ++b) {
    if (!writer->Write(BatchOf(2 * b, 2))) break;  // events 2b and 2b+1
    ++written;
  }
  context->TryCancel();
  grpc::Status s = writer->Finish();
  EXPECT_EQ(s.error_code(), grpc::CANCELLED) << s.error_message();
  const uint64_t after_cancel = LedgerSize();
  EXPECT_LE(after_cancel, before + 2 * written);
  EXPECT_EQ((after_cancel - before) % 2, 0u) << "a batch was split";

  v1::AppendResponse ack;
  ASSERT_TRUE(
      Append(SignedAppend(emitter_.key, MakeEventProto(kTenant, 5000)), &ack)
          .ok());
  EXPECT_GE(ack.entry().index(), after_cancel);
}

// ---- AppendStream as raw bytes ----

// The bytes of `message` as gRPC sends them.
grpc::ByteBuffer Bytes(std::string_view bytes) {
  grpc::Slice slice(std::string{bytes});
  return grpc::ByteBuffer(&slice, 1);
}

// A message that is not an AppendBatchRequest: field 1 (events) claims 100
// bytes and two follow.
constexpr std::string_view kGarbage = "\x0a\x64\x01\x02";

TEST_F(AppendStreamTest, UnparsableMessageEndsTheStreamNamingIt) {
  const uint64_t before = LedgerSize();
  auto context = Context();
  grpc::ByteBuffer response;
  const grpc::internal::RpcMethod method(
      "/ledger.v1.Ingest/AppendStream",
      grpc::internal::RpcMethod::CLIENT_STREAMING);
  std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> writer(
      grpc::internal::ClientWriterFactory<grpc::ByteBuffer>::Create(
          channel_.get(), method, context.get(), &response));
  EXPECT_TRUE(writer->Write(Bytes(BatchOf(1, 2).SerializeAsString())));
  EXPECT_TRUE(writer->Write(Bytes(BatchOf(3, 1).SerializeAsString())));
  writer->Write(Bytes(kGarbage));  // the server may end the stream at once
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT) << s.error_message();
  EXPECT_THAT(s.error_message(),
              HasSubstr("batch 2 rejected: message 2 of the stream: the "
                        "request to /ledger.v1.Ingest/AppendStream does not "
                        "parse as ledger.v1.AppendBatchRequest"));
  EXPECT_THAT(s.error_message(),
              HasSubstr("the 2 earlier batches (3 events) are committed"));
  EXPECT_EQ(LedgerSize(), before + 3);
}

// Garbage as the first message: nothing committed, and still not OK (a
// stream whose read loop simply ended would answer OK with no batches).
TEST_F(AppendStreamTest, UnparsableFirstMessageIsNeverOk) {
  const uint64_t before = LedgerSize();
  auto context = Context();
  grpc::ByteBuffer response;
  const grpc::internal::RpcMethod method(
      "/ledger.v1.Ingest/AppendStream",
      grpc::internal::RpcMethod::CLIENT_STREAMING);
  std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> writer(
      grpc::internal::ClientWriterFactory<grpc::ByteBuffer>::Create(
          channel_.get(), method, context.get(), &response));
  writer->Write(Bytes(kGarbage));
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("message 0 of the stream"));
  EXPECT_THAT(s.error_message(), HasSubstr("no batch of this stream"));
  EXPECT_EQ(LedgerSize(), before);
}

// ---- Pushback ----

// A node whose append queue holds 4 events; the tests hold its commits so
// that admitted batches stay admitted (as under a slow disk).
class PushbackTest : public AppendStreamTest {
 protected:
  static constexpr size_t kMaxQueuedEvents = 4;
  void Configure(NodeConfig& config) override {
    config.max_queued_events = kMaxQueuedEvents;
  }
  void TearDown() override {
    if (node_ != nullptr) node_->sequencer().ReleaseCommitsForTesting();
    AppendStreamTest::TearDown();
  }
  Sequencer& sequencer() { return node_->sequencer(); }
  bool Stored(int n) {
    absl::StatusOr<std::optional<EntryRef>> found = node_->ledger().FindEvent(
        kTenant, testing::MakeEvent(kTenant, n).event_id);
    EXPECT_TRUE(found.ok()) << found.status();
    return found.ok() && found->has_value();
  }
  // The pushback hint in a refusal's trailing metadata; -1 if absent or not
  // a number.
  static int64_t RetryPushbackMs(const grpc::ClientContext& context) {
    const auto& trailers = context.GetServerTrailingMetadata();
    auto it = trailers.find("grpc-retry-pushback-ms");
    if (it == trailers.end()) return -1;
    std::optional<uint64_t> ms = ParseCanonicalUint64(
        std::string_view(it->second.data(), it->second.size()));
    return ms.has_value() ? static_cast<int64_t>(*ms) : -1;
  }
};

TEST_F(PushbackTest, FullNodeRefusesUnaryAppendsWithARetryHint) {
  const uint64_t before = LedgerSize();
  sequencer().HoldCommitsForTesting();
  // Four events fill the queue; their calls wait for the held commits.
  std::vector<std::thread> waiting;
  std::vector<grpc::Status> waited(2);
  waiting.emplace_back([&] {
    waited[0] = Append(SignedAppend(emitter_.key, MakeEventProto(kTenant, 1)));
  });
  ASSERT_TRUE(sequencer().WaitForAdmittedEvents(1, kStreamWait));
  waiting.emplace_back([&] { waited[1] = AppendBatch(BatchOf(2, 3)); });
  ASSERT_TRUE(sequencer().WaitForAdmittedEvents(4, kStreamWait));

  {
    auto context = Context();
    v1::AppendResponse response;
    grpc::Status s = ingest_->Append(
        context.get(), SignedAppend(emitter_.key, MakeEventProto(kTenant, 10)),
        &response);
    EXPECT_EQ(s.error_code(), grpc::RESOURCE_EXHAUSTED) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr("append queue is full"));
    EXPECT_THAT(s.error_message(), HasSubstr("retry in"));
    EXPECT_GT(RetryPushbackMs(*context), 0);
  }
  {
    auto context = Context();
    v1::AppendBatchResponse response;
    grpc::Status s =
        ingest_->AppendBatch(context.get(), BatchOf(20, 2), &response);
    EXPECT_EQ(s.error_code(), grpc::RESOURCE_EXHAUSTED) << s.error_message();
    EXPECT_GT(RetryPushbackMs(*context), 0);
    EXPECT_EQ(response.entries_size(), 0);
  }
  EXPECT_EQ(sequencer().admitted_events(), 4u);

  sequencer().ReleaseCommitsForTesting();
  for (std::thread& t : waiting) t.join();
  EXPECT_TRUE(waited[0].ok()) << waited[0].error_message();
  EXPECT_TRUE(waited[1].ok()) << waited[1].error_message();
  EXPECT_EQ(LedgerSize(), before + 4);
  EXPECT_FALSE(Stored(10));  // refused: nothing stored
  EXPECT_FALSE(Stored(20));
  EXPECT_FALSE(Stored(21));
  // With room again the same request goes in.
  EXPECT_TRUE(
      Append(SignedAppend(emitter_.key, MakeEventProto(kTenant, 10))).ok());
}

// A stream meets a full node: it stops reading (flow control; the batch it
// holds waits for room, none is refused) and goes on once there is room.
TEST_F(PushbackTest, FullNodePausesAStreamUntilThereIsRoom) {
  const uint64_t before = LedgerSize();
  sequencer().HoldCommitsForTesting();
  constexpr int kBatches = 12;
  std::vector<v1::AppendBatchRequest> requests;
  for (int b = 0; b < kBatches; ++b) requests.push_back(BatchOf(b, 1));
  auto context = Context();
  v1::AppendStreamResponse response;
  auto writer = ingest_->AppendStream(context.get(), &response);
  for (const v1::AppendBatchRequest& r : requests) {
    ASSERT_TRUE(writer->Write(r));  // small: gRPC buffers them all
  }
  // Four batches fill the queue; the fifth was read and waits for room;
  // the stream reads nothing more meanwhile (each further message would
  // wait for room too).
  ASSERT_TRUE(sequencer().WaitForSpaceWaiters(1, kStreamWait));
  EXPECT_EQ(sequencer().admitted_events(), kMaxQueuedEvents);
  EXPECT_EQ(sequencer().space_waiters(), 1u);
  EXPECT_EQ(LedgerSize(), before);
  // Other clients are told to come back later meanwhile.
  EXPECT_EQ(Append(SignedAppend(emitter_.key, MakeEventProto(kTenant, 100)))
                .error_code(),
            grpc::RESOURCE_EXHAUSTED);

  sequencer().ReleaseCommitsForTesting();
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.batches(), static_cast<uint64_t>(kBatches));
  ASSERT_EQ(response.entries_size(), kBatches);
  for (int b = 0; b < kBatches; ++b) {
    EXPECT_EQ(response.entries(b).index(), before + b);
    EXPECT_EQ(response.entries(b).event_id(), requests[b].events(0).event_id());
  }
  EXPECT_EQ(LedgerSize(), before + kBatches);
  EXPECT_EQ(sequencer().space_waiters(), 0u);
}

// ---- Threads ----

size_t ThreadCount() {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    (void)e;
    ++n;
  }
  return n;
}

// An open stream waiting for its client holds no thread (the callback
// reactor): N idle streams, each having sent one batch, add far fewer than N
// threads to the process (server and client are both in it). The bound:
// gRPC's own pools (its event engine and callback executors) may grow by a
// few threads per core under the burst of opening the streams, but not with
// the number of streams; the sync API client adds none per call. A thread
// per stream would add kStreams.
TEST_F(AppendStreamTest, OpenStreamsDoNotHoldAThreadEach) {
#ifdef LEDGER_TSAN_BUILD
  constexpr int kStreams = 100;
#else
  constexpr int kStreams = 300;
#endif
  constexpr size_t kMaxGrowth = kStreams / 10;
  // Warm up gRPC's pools with a stream of its own.
  v1::AppendStreamResponse warm_up;
  ASSERT_TRUE(Stream({BatchOf(1'000'000, 1)}, &warm_up).ok());
  const uint64_t before = LedgerSize();
  const size_t threads_before = ThreadCount();

  struct Open {
    std::unique_ptr<grpc::ClientContext> context;
    v1::AppendStreamResponse response;
    std::unique_ptr<grpc::ClientWriter<v1::AppendBatchRequest>> writer;
  };
  std::vector<Open> streams(kStreams);
  for (int i = 0; i < kStreams; ++i) {
    Open& o = streams[i];
    o.context = Context();
    o.writer = ingest_->AppendStream(o.context.get(), &o.response);
    ASSERT_TRUE(o.writer->Write(BatchOf(i, 1)));
  }
  // Every stream's batch is committed: each stream is open and idle.
  ASSERT_TRUE(
      node_->sequencer().WaitForCommitted(before + kStreams, kStreamWait));
  const size_t threads_open = ThreadCount();
  EXPECT_LT(threads_open, threads_before + kMaxGrowth)
      << threads_before << " threads before opening " << kStreams
      << " streams, " << threads_open << " with them open";

  for (Open& o : streams) {
    o.writer->WritesDone();
    grpc::Status s = o.writer->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(o.response.batches(), 1u);
  }
  EXPECT_EQ(LedgerSize(), before + kStreams);
}

}  // namespace
}  // namespace ledger::node
