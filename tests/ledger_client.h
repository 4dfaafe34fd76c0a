#pragma once

// A small gRPC client for multi-process tests, using only the documented
// ledger.v1 API: it builds and signs events as a platform would, appends
// them (Append, AppendBatch, AppendStream), reads entries, fetches
// checkpoints and proofs, and checks them with the project's own verifiers
// (ledger/checkpoint.h, ledger/merkle.h). Every call has a deadline; errors
// come back as absl::Status with the gRPC code.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "crypto/bytes.h"
#include "crypto/ed25519.h"
#include "crypto/note.h"
#include "ledger/checkpoint.h"
#include "ledger/v1/admin.grpc.pb.h"
#include "ledger/v1/ingest.grpc.pb.h"
#include "ledger/v1/proof.grpc.pb.h"
#include "ledger/v1/query.grpc.pb.h"

namespace ledger::testing {

// An emitter's Ed25519 key, deterministic in `seed`.
struct Emitter {
  Emitter(std::string name, uint64_t seed);
  std::string name;
  crypto::Ed25519PrivateKey key;
  // The verifier-key text of its .pub file ("name+keyid+base64").
  std::string vkey() const;
  // SHA-256(0x01 || public key), as entries and signatures name it.
  crypto::Hash key_id() const;
};

// A valid "annotation.created" event of `tenant`, a pure function of
// (seed, n) within a process: sending it again sends the same bytes. Event
// IDs differ for every (seed, n).
v1::Event TestEvent(std::string_view tenant, uint64_t seed, uint64_t n);
// Where TestEvent's occurred_at times start: 30 days before the start of
// the UTC day the process first asked (inside a node's default occurred_at
// window; events n are n % 1e6 seconds later, at most 12 days).
int64_t TestEpochSeconds();
// The event ID of TestEvent(_, seed, n).
std::string TestEventId(uint64_t seed, uint64_t n);

// The events signed as one batch (a single event is a batch of one).
// InvalidArgument if an event does not convert to canonical form.
absl::StatusOr<v1::AppendBatchRequest> SignBatch(const Emitter& emitter,
                                                 std::vector<v1::Event> events);
absl::StatusOr<v1::AppendRequest> SignSingle(const Emitter& emitter,
                                             v1::Event event);

// gRPC and Abseil share code numbers.
absl::Status FromGrpc(const grpc::Status& status);

class LedgerClient {
 public:
  // A client with a connection of its own to `target` ("HOST:PORT"); every
  // call gets `timeout` as its deadline.
  LedgerClient(const std::string& target, std::chrono::milliseconds timeout);

  // Waits until the channel is connected; false after `timeout`.
  bool WaitForConnected(std::chrono::milliseconds timeout);

  absl::StatusOr<v1::EntryRef> Append(const v1::AppendRequest& request);
  absl::StatusOr<std::vector<v1::EntryRef>> AppendBatch(
      const v1::AppendBatchRequest& request);
  // One stream carrying `batches` in order; the acknowledgements of all of
  // them come back at the end.
  absl::StatusOr<std::vector<v1::EntryRef>> AppendStream(
      absl::Span<const v1::AppendBatchRequest> batches);

  absl::StatusOr<v1::EntryRef> RegisterEmitterKey(const Emitter& emitter,
                                                  const std::string& tenant);
  absl::StatusOr<v1::NodeInfo> GetNodeInfo();

  absl::StatusOr<v1::Entry> GetEntry(uint64_t index);
  // Entries [start, end) in order, through as many GetEntries calls as it
  // takes. Stops at the first error `visit` returns.
  absl::Status ScanEntries(
      uint64_t start, uint64_t end,
      const std::function<absl::Status(const v1::Entry&)>& visit);

  // The latest checkpoint (min_size 0) or the first covering `min_size`.
  absl::StatusOr<v1::Checkpoint> GetCheckpoint(uint64_t min_size = 0);
  absl::StatusOr<v1::ConsistencyProof> GetConsistencyProof(uint64_t old_size,
                                                           uint64_t new_size);
  absl::StatusOr<v1::InclusionProof> GetInclusionProof(uint64_t index,
                                                       uint64_t tree_size);

 private:
  std::unique_ptr<grpc::ClientContext> Context() const;

  std::chrono::milliseconds timeout_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Ingest::Stub> ingest_;
  std::unique_ptr<v1::Proof::Stub> proof_;
  std::unique_ptr<v1::Query::Stub> query_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

// Opens a checkpoint returned by GetCheckpoint: the note's signatures must
// verify with `verifiers` (OpenCheckpoint) for `origin`, and the size and
// root fields must match the signed body. DataLoss if they differ.
absl::StatusOr<ledger::Checkpoint> OpenCheckpointProto(
    const v1::Checkpoint& checkpoint,
    absl::Span<const crypto::NoteVerifier> verifiers, std::string_view origin);

// Fetches the consistency proof from `older` to `newer` (both checkpoints
// the node signed) and verifies it with ledger::VerifyConsistency.
absl::Status CheckConsistency(LedgerClient& client,
                              const ledger::Checkpoint& older,
                              const ledger::Checkpoint& newer);

// Fetches the inclusion proof of `leaf_hash` at `index` in `checkpoint` and
// verifies it with ledger::VerifyInclusion.
absl::Status CheckInclusion(LedgerClient& client, uint64_t index,
                            const crypto::Hash& leaf_hash,
                            const ledger::Checkpoint& checkpoint);

}  // namespace ledger::testing
