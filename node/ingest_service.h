#pragma once

// ledger.v1.Ingest. Each request is converted, authenticated and verified
// (VerifyBatch); AppendBatch requests and AppendStream messages on the
// node's verify pool, one thread per core (node/verify_pool.h), not on
// gRPC's threads, which stay free for other calls (health checks among
// them); a single Append on gRPC's thread (its one signature costs about
// what the call does). Only verified batches reach the sequencer. A call
// cancelled, or a stream failed, before its turn is not verified. A
// rejected request stores nothing. Besides the ledger's own checks, the node's
// admission bounds (node/input_bounds.h): no unknown protobuf field anywhere in
// a request, and every occurred_at within the configured window.
//
// Every method uses gRPC's callback API: the AppendBatch handler admits the
// call (the sequencer's queue, unknown fields) and returns; a pool thread
// verifies and submits; the publisher finishes the call when the group is
// durable.
// A waiting append holds no thread, and neither does an open stream
// (node/append_stream.h).
//
// Pushback: when the sequencer's queue is full, Append and AppendBatch are
// answered RESOURCE_EXHAUSTED at once (before the batch is verified), with
// the suggested wait in the message and in the trailing metadata
// "grpc-retry-pushback-ms" (the key gRPC's retry policy reads); streams
// stop reading until there is room.

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
  explicit IngestService(const ServiceContext& ctx) : ctx_(ctx) {}

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
  // Joins the verify pool's threads; later work runs on the caller's
  // thread. For the server, after its shutdown has finished every call.
  void StopVerifying() { verify_pool_.Stop(); }
  // The data subject's payload key, created on first use (a synced write).
  // InvalidArgument for a bad tenant or data_subject, FailedPrecondition
  // naming the key.erased entry for an erased subject. Authorization: an
  // emitter of request->tenant().
  grpc::Status GetPayloadKey(grpc::ServerContext* context,
                             const v1::GetPayloadKeyRequest* request,
                             v1::PayloadKey* response) override;

 private:
  // Everything short of sequencing: the caller's tenant (an emitter
  // writes only its own: Authorizer::CheckTenant), shape, key lookup,
  // conversion, validation, signature, key validity, tenant and type
  // permissions of the key, and encrypted payloads (node/payloads.h).
  // `caller` null: refused (a peer the policy does not know; Admit lets
  // none through). Refusals for the signing key (signature, registration,
  // validity, the key's tenant, producer and types) go through
  // Authorizer::Refuse: counted and recorded as denials; malformed or
  // out-of-bounds input and an unsigned request are not.
  absl::StatusOr<ledger::VerifiedBatch> Verify(
      const Caller* caller, std::string_view method,
      const google::protobuf::RepeatedPtrField<v1::Event>& events,
      bool has_signature, const v1::EmitterSignature& signature) const;
  // On gRPC's thread, before the pool: the sequencer's admission (a full
  // or failed node spends nothing on verifying what it would refuse) and
  // unknown fields. False, and the call finished, if refused.
  bool Admit(grpc::CallbackServerContext* context,
             grpc::ServerUnaryReactor* reactor,
             const google::protobuf::Message& request, AppendRpc rpc,
             size_t events);
  // True, and the call finished CANCELLED, if the client has gone (or its
  // deadline passed) while the call waited: for the pool before verifying,
  // or for room in the sequencer's queue after.
  bool Abandoned(grpc::CallbackServerContext* context,
                 grpc::ServerUnaryReactor* reactor, AppendRpc rpc,
                 size_t events) const;
  // Submits a verified batch and calls `done` with its result; when the
  // sequencer's queue is full, waits for room (Sequencer::WhenSpace)
  // instead of refusing what was already received and verified (only
  // Admit refuses for a full queue). Other refusals finish the call.
  void SubmitWhenRoom(grpc::CallbackServerContext* context,
                      grpc::ServerUnaryReactor* reactor, AppendRpc rpc,
                      ledger::VerifiedBatch batch,
                      absl::AnyInvocable<void(ledger::AppendResult) &&> done);
  // Finishes a unary call refused by the sequencer: the status, and for
  // pushback the retry hint in the trailing metadata.
  void Refuse(grpc::CallbackServerContext* context,
              grpc::ServerUnaryReactor* reactor, AppendRpc rpc, size_t events,
              const absl::Status& status) const;
  // Finishes a unary append call, counting its outcome (metrics).
  void Finish(grpc::ServerUnaryReactor* reactor, AppendRpc rpc, size_t events,
              grpc::Status status) const;

  ServiceContext ctx_;
  // Last: stopped (what it holds runs) before the rest is destroyed; by
  // then the server has shut down and every call has finished.
  VerifyPool verify_pool_;
};

}  // namespace ledger::node
