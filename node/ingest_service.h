#pragma once

// ledger.v1.Ingest. Each request is converted, authenticated and verified
// (VerifyBatch) on a pool of the node's own threads, one per core
// (node/verify_pool.h), so signature checks use every core and gRPC's
// threads stay free to read; only verified batches reach the sequencer. A
// rejected request stores nothing.
//
// Every method uses gRPC's callback API: the handler admits the call and
// returns; the pool verifies and submits; the publisher finishes the call
// when the group is durable.
// A waiting append holds no thread, and neither does an open stream
// (node/append_stream.h).
//
// Pushback: when the sequencer's queue is full, Append and AppendBatch are
// answered RESOURCE_EXHAUSTED at once (before the batch is verified), with
// the suggested wait in the message and in the trailing metadata
// "grpc-retry-pushback-ms" (the key gRPC's retry policy reads); so are
// they when the requests waiting for the verify pool pass its bound.
// Streams stop reading until there is room.

#include <string_view>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "ledger/batch.h"
#include "ledger/v1/ingest.grpc.pb.h"
#include "node/service_context.h"
#include "node/verify_pool.h"

namespace ledger::node {

class IngestService final
    : public v1::Ingest::WithCallbackMethod_Append<
          v1::Ingest::WithCallbackMethod_AppendBatch<
              v1::Ingest::WithRawCallbackMethod_AppendStream<
                  v1::Ingest::Service>>> {
 public:
  // Requests admitted and waiting for (or in) verification, serialized
  // bytes: past this, appends are refused with RESOURCE_EXHAUSTED.
  static constexpr size_t kMaxVerifyingBytes = size_t{64} << 20;

  explicit IngestService(const ServiceContext& ctx)
      : ctx_(ctx), verify_pool_(0, kMaxVerifyingBytes) {}

  grpc::ServerUnaryReactor* Append(grpc::CallbackServerContext* context,
                                   const v1::AppendRequest* request,
                                   v1::AppendResponse* response) override;
  grpc::ServerUnaryReactor* AppendBatch(
      grpc::CallbackServerContext* context,
      const v1::AppendBatchRequest* request,
      v1::AppendBatchResponse* response) override;
  grpc::ServerReadReactor<grpc::ByteBuffer>* AppendStream(
      grpc::CallbackServerContext* context,
      grpc::ByteBuffer* response) override;

 private:
  // Everything short of sequencing: shape, key lookup, conversion,
  // validation, signature, key validity, tenant and type permissions.
  absl::StatusOr<ledger::VerifiedBatch> Verify(
      const google::protobuf::RepeatedPtrField<v1::Event>& events,
      bool has_signature, const v1::EmitterSignature& signature) const;
  // Admits a unary call (the sequencer's queue, then the verify pool's
  // bound) and schedules `verify`, or finishes the call refused.
  void Admit(grpc::CallbackServerContext* context,
             grpc::ServerUnaryReactor* reactor, size_t events, size_t bytes,
             absl::AnyInvocable<void() &&> verify);
  // On a pool thread: verify, submit, and finish the call when the
  // sequencer acknowledges (or at once, refused).
  void VerifyAndSubmit(grpc::CallbackServerContext* context,
                       grpc::ServerUnaryReactor* reactor,
                       const v1::AppendRequest& request,
                       v1::AppendResponse* response);
  void VerifyAndSubmit(grpc::CallbackServerContext* context,
                       grpc::ServerUnaryReactor* reactor,
                       const v1::AppendBatchRequest& request,
                       v1::AppendBatchResponse* response);
  // Finishes a unary call refused by the sequencer: the status, and for
  // pushback the retry hint in the trailing metadata.
  void Refuse(grpc::CallbackServerContext* context,
              grpc::ServerUnaryReactor* reactor,
              const absl::Status& status) const;

  ServiceContext ctx_;
  // Last: destroyed (its remaining tasks run) before the rest.
  VerifyPool verify_pool_;
};

}  // namespace ledger::node
