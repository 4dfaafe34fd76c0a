#pragma once

// ledger.v1.Ingest/AppendStream as a callback reactor: a stream holds no
// thread while it waits. Messages are taken as raw bytes and parsed here,
// so a message that does not parse ends the stream with INVALID_ARGUMENT
// naming it (gRPC's own parsing would end the read loop as if the client
// had finished, and the stream would answer OK).
//
// Flow control: at most kMaxInFlight batches of a stream wait in the
// sequencer; when the sequencer is full (pushback) the stream stops reading
// until it has room (Sequencer::WhenSpace). Either way nothing is read that
// cannot be admitted, so a stream costs memory for one message at most
// beyond what the sequencer bounds.
//
// On the first rejected batch the stream ends with that batch's error and
// number; every batch before it stays committed, and batches already in
// flight behind it are committed or not as the sequencer decides (the
// status says how many were).

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "base/sync.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"
#include "ledger/batch.h"
#include "ledger/v1/ingest.pb.h"
#include "node/metrics.h"
#include "node/sequencer.h"
#include "node/verify_pool.h"

namespace ledger::node {

// How the reactor turns a request into a verified batch (the Ingest
// service's checks).
using BatchVerifier = std::function<absl::StatusOr<ledger::VerifiedBatch>(
    const v1::AppendBatchRequest&)>;

class AppendStreamReactor : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  static constexpr size_t kMaxInFlight = 64;

  // Starts reading at once. Deletes itself when the call is done.
  // Each message is verified on `pool` (node/verify_pool.h), not on
  // gRPC's thread; one message of a stream at a time, so in order.
  // Each message's outcome is counted in `metrics` (may be null).
  AppendStreamReactor(Sequencer* sequencer, VerifyPool* pool,
                      BatchVerifier verify, grpc::ByteBuffer* response,
                      NodeMetrics* metrics = nullptr);

  void OnReadDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  struct InFlight {
    uint64_t number;
    std::vector<Uuid> ids;
    bool done = false;
    ledger::AppendResult result;
  };

  // Admission, verification and submission of message `number`.
  void Process(v1::AppendBatchRequest request, uint64_t number);
  // True, and message settled (the call finished if it was the last
  // thing outstanding), if the stream already has an error: a message
  // that waited for the pool while the stream failed or was cancelled.
  bool DroppedAfterError();
  // Submits a verified batch, or waits for room and tries again.
  void SubmitOrWait(std::shared_ptr<ledger::VerifiedBatch> batch,
                    std::vector<Uuid> ids, uint64_t number);
  void OnBatchDone(uint64_t number, ledger::AppendResult result);
  // Records the stream's first error (batch `number`).
  void FailLocked(uint64_t number, absl::Status status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Settles finished batches at the front, in order.
  void SettleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts the next read if the stream may read now; otherwise returns.
  void MaybeReadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // True, and the call marked finished, when the stream should finish now;
  // the caller then calls Finish(FinalStatusLocked()) after unlocking.
  bool ShouldFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  grpc::Status FinalStatusLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Counts one message's outcome (metrics).
  void Count(absl::StatusCode code, size_t events) const {
    if (metrics_ != nullptr) {
      metrics_->RecordAppend(AppendRpc::kAppendStream, code, events);
    }
  }

  Sequencer* const sequencer_;
  VerifyPool* const pool_;
  const BatchVerifier verify_;
  grpc::ByteBuffer* const response_;
  NodeMetrics* const metrics_;
  grpc::ByteBuffer buffer_;  // the message being read

  Mutex mu_;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool client_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_number_ ABSL_GUARDED_BY(mu_) = 0;
  // Messages read and not yet settled: being verified, waiting for room,
  // or in the sequencer.
  size_t processing_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<InFlight> in_flight_ ABSL_GUARDED_BY(mu_);
  v1::AppendStreamResponse result_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  uint64_t error_batch_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t committed_events_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t later_batches_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t later_events_ ABSL_GUARDED_BY(mu_) = 0;
};

// The entries of an acknowledged batch, in the response's form; Internal
// if the result does not have one entry per event.
absl::Status AddEntryRefs(
    const ledger::AppendResult& result, const std::vector<Uuid>& ids,
    google::protobuf::RepeatedPtrField<v1::EntryRef>* out);

}  // namespace ledger::node
