#pragma once

// ledger.v1.Proof: checkpoints, inclusion and consistency proofs, receipts.
// Proofs are served only for tree sizes a stored checkpoint covers, so every
// answer can be checked against a signed root.

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ledger/v1/proof.grpc.pb.h"
#include "node/service_context.h"

namespace ledger::node {

class ProofService final : public v1::Proof::Service {
 public:
  explicit ProofService(const ServiceContext& ctx) : ctx_(ctx) {}

  grpc::Status GetCheckpoint(grpc::ServerContext* context,
                             const v1::GetCheckpointRequest* request,
                             v1::Checkpoint* response) override;
  grpc::Status GetInclusionProof(grpc::ServerContext* context,
                                 const v1::GetInclusionProofRequest* request,
                                 v1::InclusionProof* response) override;
  grpc::Status GetConsistencyProof(
      grpc::ServerContext* context,
      const v1::GetConsistencyProofRequest* request,
      v1::ConsistencyProof* response) override;
  // Waits (up to the client's deadline, at most kMaxCheckpointWait) for a
  // checkpoint covering the entry.
  grpc::Status GetReceipt(grpc::ServerContext* context,
                          const v1::GetReceiptRequest* request,
                          v1::Receipt* response) override;

  static constexpr absl::Duration kMaxCheckpointWait = absl::Seconds(5);

 private:
  absl::StatusOr<v1::Checkpoint> ToProto(
      const ledger::StoredCheckpoint& checkpoint) const;
  // The first stored checkpoint covering `size` entries, waiting for the
  // sequencer to issue one if needed.
  absl::StatusOr<ledger::StoredCheckpoint> AwaitCheckpoint(
      grpc::ServerContext* context, uint64_t size, std::string_view what);
  absl::StatusOr<ledger::StoredCheckpoint> Latest() const;
  absl::Status Receipt(grpc::ServerContext* context,
                       const v1::GetReceiptRequest& request,
                       v1::Receipt* response);

  ServiceContext ctx_;
};

// The entry index named by a request's `index` / `event` oneof (shared by
// Query and Proof). NotFound for an unknown event, OutOfRange past
// `committed_size`.
absl::StatusOr<uint64_t> ResolveEntry(const ledger::Ledger& ledger,
                                      uint64_t committed_size, bool has_index,
                                      uint64_t index,
                                      const v1::EventKey* event);

}  // namespace ledger::node
