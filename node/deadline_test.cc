// Clients that give up do not hold up the sequencer: an append whose
// deadline passes, or whose client cancels, while it waits for its group
// is completed anyway (it is durable, a resend is a duplicate), and the
// sequencer goes on with everyone else.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "grpcpp/completion_queue.h"
#include "node/node_testing.h"

namespace ledger::node {
namespace {

using testing::MakeEventProto;
using testing::SignedBatch;

constexpr absl::Duration kWait = absl::Seconds(60);

class DeadlineTest : public testing::NodeFixture {};

TEST_F(DeadlineTest, ClientsThatGiveUpDoNotBlockTheSequencer) {
  RegisterKey(emitter_);
  const uint64_t size = LedgerSize();
  // Nothing becomes durable until released: every append waits.
  node_->sequencer().HoldCommitsForTesting();

  // Unary appends whose deadline passes while they wait.
  constexpr int kCalls = 6;
  struct Call {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::AppendBatchResponse>>
        reader;
    v1::AppendBatchResponse response;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Call>> calls;
  grpc::CompletionQueue cq;
  for (int i = 0; i < kCalls; ++i) {
    auto call = std::make_unique<Call>();
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(2));
    call->reader = ingest_->AsyncAppendBatch(
        &call->context,
        SignedBatch(emitter_.key, {MakeEventProto(kTenant, 2 * i),
                                   MakeEventProto(kTenant, 2 * i + 1)}),
        &cq);
    call->reader->Finish(&call->response, &call->status, call.get());
    calls.push_back(std::move(call));
  }
  // All of them are in the sequencer before their deadline passes.
  ASSERT_TRUE(node_->sequencer().WaitForAdmittedEvents(2 * kCalls, kWait));
  for (int i = 0; i < kCalls; ++i) {
    void* tag = nullptr;
    bool ok = false;
    ASSERT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(static_cast<Call*>(tag)->status.error_code(),
              grpc::DEADLINE_EXCEEDED);
  }
  // A stream whose client cancels with a batch in the sequencer.
  grpc::ClientContext stream_context;
  v1::AppendStreamResponse streamed;
  auto writer = ingest_->AppendStream(&stream_context, &streamed);
  ASSERT_TRUE(
      writer->Write(SignedBatch(emitter_.key, {MakeEventProto(kTenant, 100)})));
  ASSERT_TRUE(node_->sequencer().WaitForAdmittedEvents(2 * kCalls + 1, kWait));
  stream_context.TryCancel();
  EXPECT_EQ(writer->Finish().error_code(), grpc::CANCELLED);
  EXPECT_EQ(node_->sequencer().admitted_events(), 2u * kCalls + 1);
  // A request whose deadline passed before it was sent fails at once.
  {
    auto context = Context();
    context->set_deadline(std::chrono::system_clock::now() -
                          std::chrono::seconds(1));
    v1::AppendBatchResponse response;
    grpc::Status s = ingest_->AppendBatch(
        context.get(),
        SignedBatch(emitter_.key, {MakeEventProto(kTenant, 200)}), &response);
    EXPECT_EQ(s.error_code(), grpc::DEADLINE_EXCEEDED);
  }

  // Released, the sequencer completes what the clients abandoned and
  // serves the next client at once.
  node_->sequencer().ReleaseCommitsForTesting();
  ASSERT_TRUE(node_->sequencer().WaitForAdmittedEvents(0, kWait));
  ASSERT_TRUE(AppendEvents(300, 1).ok());
  // (Whether the server saw the already expired request at all is gRPC's
  // business; if it did, it is an entry like any other.)
  const bool late =
      node_->ledger()
          .FindEvent(kTenant, testing::MakeEvent(kTenant, 200).event_id)
          ->has_value();
  EXPECT_EQ(LedgerSize(), size + 2 * kCalls + 1 + 1 + (late ? 1 : 0));
  // The abandoned events are in the ledger: sent again, they come back as
  // duplicates.
  v1::AppendBatchResponse again;
  grpc::Status s = ingest_->AppendBatch(
      Context().get(),
      SignedBatch(emitter_.key,
                  {MakeEventProto(kTenant, 0), MakeEventProto(kTenant, 1)}),
      &again);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(again.entries_size(), 2);
  EXPECT_TRUE(again.entries(0).duplicate());
  EXPECT_TRUE(again.entries(1).duplicate());
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace
}  // namespace ledger::node
