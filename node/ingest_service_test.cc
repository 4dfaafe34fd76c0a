// The Ingest service through a real gRPC server: every bad input is
// rejected whole with an actionable status, and nothing is stored.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "base/strings.h"
#include "crypto/bytes.h"
#include "crypto/rfc6962.h"
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
                    "written by the ledger itself"},
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
    v1::AppendBatchRequest r;
    v1::Event e = MakeEventProto(kTenant, 1);
    for (uint32_t i = 0; i <= ledger::kMaxBatchSize; ++i) *r.add_events() = e;
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
  const int batches = 16 * IngestService::kMaxStreamBatchesInFlight;
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

}  // namespace
}  // namespace ledger::node
