#pragma once

// ledger.v1.Ingest. Each request is converted, authenticated and verified
// (VerifyBatch) on the gRPC handler thread, so signature checks use every
// core; only verified batches reach the sequencer. A rejected request
// stores nothing.
//
// Append and AppendBatch use gRPC's callback API: the handler verifies and
// submits, then returns; the publisher finishes the call when the group is
// durable. A waiting append holds no thread (the synchronous server parked
// one per call and paid a thread wake-up chain for each; see
// BENCHMARKS.md). AppendStream stays synchronous: it reads, verifies and
// submits in a loop.

#include <string_view>

#include "absl/status/statusor.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "ledger/batch.h"
#include "ledger/v1/ingest.grpc.pb.h"
#include "node/service_context.h"

namespace ledger::node {

class IngestService final
    : public v1::Ingest::WithCallbackMethod_Append<
          v1::Ingest::WithCallbackMethod_AppendBatch<v1::Ingest::Service>> {
 public:
  explicit IngestService(const ServiceContext& ctx) : ctx_(ctx) {}

  grpc::ServerUnaryReactor* Append(grpc::CallbackServerContext* context,
                                   const v1::AppendRequest* request,
                                   v1::AppendResponse* response) override;
  grpc::ServerUnaryReactor* AppendBatch(
      grpc::CallbackServerContext* context,
      const v1::AppendBatchRequest* request,
      v1::AppendBatchResponse* response) override;
  grpc::Status AppendStream(grpc::ServerContext* context,
                            grpc::ServerReader<v1::AppendBatchRequest>* reader,
                            v1::AppendStreamResponse* response) override;

  // At most this many batches of one stream wait in the sequencer at once.
  static constexpr size_t kMaxStreamBatchesInFlight = 64;

 private:
  // Everything short of sequencing: shape, key lookup, conversion,
  // validation, signature, key validity, tenant and type permissions.
  absl::StatusOr<ledger::VerifiedBatch> Verify(
      const google::protobuf::RepeatedPtrField<v1::Event>& events,
      bool has_signature, const v1::EmitterSignature& signature) const;

  ServiceContext ctx_;
};

}  // namespace ledger::node
