#pragma once

// ledger.v1.Proof: checkpoints, inclusion and consistency proofs, receipts.
// Proofs are served only for tree sizes a stored checkpoint covers, so every
// answer can be checked against a signed root.

#include <deque>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/sync.h"
#include "ledger/tlog_proof_extra.h"
#include "ledger/v1/proof.grpc.pb.h"
#include "node/service_context.h"

namespace ledger::node {

// GetInclusionProof and GetConsistencyProof never wait, so they are
// callback methods answered on the thread that received the request (the
// synchronous server hands each call to a worker thread and parks it until
// the response is sent: most of a proof's latency, see BENCHMARKS.md).
// GetCheckpoint and GetReceipt may wait for a checkpoint and stay
// synchronous.
class ProofService final
    : public v1::Proof::WithCallbackMethod_GetInclusionProof<
          v1::Proof::WithCallbackMethod_GetConsistencyProof<
              v1::Proof::Service>> {
 public:
  explicit ProofService(const ServiceContext& ctx) : ctx_(ctx) {}

  grpc::Status GetCheckpoint(grpc::ServerContext* context,
                             const v1::GetCheckpointRequest* request,
                             v1::Checkpoint* response) override;
  grpc::ServerUnaryReactor* GetInclusionProof(
      grpc::CallbackServerContext* context,
      const v1::GetInclusionProofRequest* request,
      v1::InclusionProof* response) override;
  grpc::ServerUnaryReactor* GetConsistencyProof(
      grpc::CallbackServerContext* context,
      const v1::GetConsistencyProofRequest* request,
      v1::ConsistencyProof* response) override;
  // Waits (up to the client's deadline, at most kMaxCheckpointWait) for a
  // checkpoint covering the entry.
  grpc::Status GetReceipt(grpc::ServerContext* context,
                          const v1::GetReceiptRequest* request,
                          v1::Receipt* response) override;

  static constexpr absl::Duration kMaxCheckpointWait = absl::Seconds(5);
  // Converted checkpoints kept for reuse (see ToProto).
  static constexpr size_t kCachedCheckpoints = 8;

 private:
  // The checkpoint as the API returns it. Converting costs a note parse and
  // an entry read (the chain hash), and every proof at a checkpointed size
  // carries its checkpoint, so the last few conversions are kept.
  absl::StatusOr<v1::Checkpoint> ToProto(
      const ledger::StoredCheckpoint& checkpoint) const;
  // The first stored checkpoint covering `size` entries, waiting for the
  // sequencer to issue one if needed.
  absl::StatusOr<ledger::StoredCheckpoint> AwaitCheckpoint(
      grpc::ServerContext* context, uint64_t size, std::string_view what);
  absl::StatusOr<ledger::StoredCheckpoint> Latest() const;
  grpc::Status InclusionProof(const grpc::ServerContextBase& context,
                              const v1::GetInclusionProofRequest* req,
                              v1::InclusionProof* response);
  grpc::Status ConsistencyProof(const v1::GetConsistencyProofRequest* req,
                                v1::ConsistencyProof* response);
  absl::Status Receipt(grpc::ServerContext* context,
                       const v1::GetReceiptRequest& request,
                       v1::Receipt* response);
  // The key entries of the emitter key that signed `entry_bytes`, proven
  // in the tree of `size` (ledger/FORMAT.md section 10.5); empty for an
  // entry signed by a node key.
  absl::StatusOr<std::vector<ledger::ProvenEntry>> KeyEntries(
      const std::string& entry_bytes, uint64_t size) const;
  // The caller's tenant check for entry `index` (CheckEntryAccess).
  absl::Status CheckAccess(const grpc::ServerContextBase& context,
                           std::string_view method, uint64_t index,
                           std::string_view what) const;

  ServiceContext ctx_;
  mutable Mutex cache_mu_;
  // (sequence, proto), most recently added last.
  mutable std::deque<std::pair<uint64_t, v1::Checkpoint>> cache_
      ABSL_GUARDED_BY(cache_mu_);
};

// The entry index named by a request's `index` / `event` oneof (shared by
// Query and Proof). NotFound for an unknown event, OutOfRange past
// `committed_size`.
absl::StatusOr<uint64_t> ResolveEntry(const ledger::Ledger& ledger,
                                      uint64_t committed_size, bool has_index,
                                      uint64_t index,
                                      const v1::EventKey* event);

// The tenant checks of reads (shared by Query and Proof). `caller` null is
// refused (Unauthenticated). Data of `tenant` (a request naming an event
// by {tenant, event_id} is checked before the event is looked up, so no
// other tenant's event ids can be probed).
absl::Status CheckTenantAccess(const ServiceContext& ctx, const Caller* caller,
                               std::string_view method, std::string_view tenant,
                               std::string_view what);
// Entry `index`'s event tenant against the caller's (the entry is read
// and decoded only for a caller limited to its tenants). `what` says what
// was asked for, e.g. "read entry 42".
absl::Status CheckEntryAccess(const ServiceContext& ctx, const Caller* caller,
                              std::string_view method, uint64_t index,
                              std::string_view what);
// The event tenant of entry bytes (DataLoss if they do not decode).
absl::StatusOr<std::string> EntryTenant(std::string_view entry_bytes,
                                        uint64_t index);

}  // namespace ledger::node
