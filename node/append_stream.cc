#include "node/append_stream.h"

#include <utility>

#include "base/check.h"
#include "base/strings.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "node/convert.h"
#include "node/grpc_status.h"
#include "node/request_guard.h"

namespace ledger::node {

absl::Status AddEntryRefs(
    const ledger::AppendResult& result, const std::vector<Uuid>& ids,
    google::protobuf::RepeatedPtrField<v1::EntryRef>* out) {
  if (!result.status.ok()) return result.status;
  if (result.entries.size() != ids.size()) {
    return absl::InternalError(StrCat("ledger acknowledged ",
                                      result.entries.size(), " of ", ids.size(),
                                      " events"));
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    *out->Add() = EntryRefToProto(result.entries[i], ids[i]);
  }
  return absl::OkStatus();
}

// Every path below follows one rule so that the reactor is never touched
// after it may have been deleted: change state under the lock, decide there
// whether the call finishes (ShouldFinishLocked marks it), release the
// lock, and then call Finish as the last thing. A thread that did not
// decide to finish touches nothing after releasing the lock.

AppendStreamReactor::AppendStreamReactor(Sequencer* sequencer, VerifyPool* pool,
                                         BatchVerifier verify,
                                         grpc::ByteBuffer* response,
                                         NodeMetrics* metrics)
    : sequencer_(sequencer),
      pool_(pool),
      verify_(std::move(verify)),
      response_(response),
      metrics_(metrics) {
  MutexLock lock(&mu_);
  reading_ = true;
  StartRead(&buffer_);
}

void AppendStreamReactor::OnDone() { delete this; }

void AppendStreamReactor::OnCancel() {
  bool finish = false;
  grpc::Status status;
  {
    MutexLock lock(&mu_);
    client_done_ = true;
    if (error_.ok()) {
      FailLocked(next_number_, absl::CancelledError("the client cancelled"));
    }
    finish = ShouldFinishLocked();
    if (finish) status = FinalStatusLocked();
  }
  if (finish) Finish(status);
}

void AppendStreamReactor::OnReadDone(bool ok) {
  v1::AppendBatchRequest request;
  uint64_t number = 0;
  bool process = false, finish = false;
  grpc::Status status;
  {
    MutexLock lock(&mu_);
    reading_ = false;
    if (finished_) return;
    if (!ok) {
      client_done_ = true;
    } else if (!error_.ok()) {
      // Read before the error was known; not processed.
    } else {
      number = next_number_++;
      TakeProtobufParseError();  // nothing left from an earlier parse
      grpc::Status parsed =
          grpc::SerializationTraits<v1::AppendBatchRequest>::Deserialize(
              &buffer_, &request);
      if (!parsed.ok()) {
        Count(absl::StatusCode::kInvalidArgument, 0);
        FailLocked(
            number,
            absl::InvalidArgumentError(StrCat(
                "message ", number, " of the stream: ",
                UnparsableRequestMessage("/ledger.v1.Ingest/AppendStream",
                                         TakeProtobufParseError()))));
      } else {
        ++processing_;
        process = true;
      }
    }
    if (!process) {
      finish = ShouldFinishLocked();
      if (finish) status = FinalStatusLocked();
    }
  }
  if (process) {
    // processing_ keeps the call (and this reactor) alive meanwhile.
    pool_->Schedule([this, request = std::move(request), number]() mutable {
      Process(std::move(request), number);
    });
  } else if (finish) {
    Finish(status);
  }
}

void AppendStreamReactor::Process(v1::AppendBatchRequest request,
                                  uint64_t number) {
  // The stream failed or was cancelled while this message waited for the
  // pool: it is not verified, let alone appended.
  if (DroppedAfterError()) return;
  // Cheap checks first: a full or failed node does not spend CPU on
  // verifying what it would refuse.
  const size_t events = static_cast<size_t>(request.events_size());
  absl::Status admission =
      sequencer_->CheckAdmission(events, request.ByteSizeLong());
  absl::StatusOr<ledger::VerifiedBatch> batch =
      absl::IsResourceExhausted(admission) || admission.ok()
          ? verify_(request)
          : absl::StatusOr<ledger::VerifiedBatch>(admission);
  if (!batch.ok()) {
    Count(batch.status().code(), events);
    bool finish = false;
    grpc::Status status;
    {
      MutexLock lock(&mu_);
      --processing_;
      FailLocked(number, batch.status());
      finish = ShouldFinishLocked();
      if (finish) status = FinalStatusLocked();
    }
    if (finish) Finish(status);
    return;
  }
  std::vector<Uuid> ids;
  ids.reserve(batch->size());
  for (const Event& e : batch->events()) ids.push_back(e.event_id);
  SubmitOrWait(std::make_shared<ledger::VerifiedBatch>(*std::move(batch)),
               std::move(ids), number);
}

bool AppendStreamReactor::DroppedAfterError() {
  bool finish = false;
  grpc::Status status;
  {
    MutexLock lock(&mu_);
    if (error_.ok()) return false;
    --processing_;
    finish = ShouldFinishLocked();
    if (finish) status = FinalStatusLocked();
  }
  if (finish) Finish(status);
  return true;
}

void AppendStreamReactor::SubmitOrWait(
    std::shared_ptr<ledger::VerifiedBatch> batch, std::vector<Uuid> ids,
    uint64_t number) {
  std::shared_ptr<PendingAppend> pending;
  const size_t events = batch->size();
  size_t bytes = 0;
  for (const std::string& b : batch->event_bytes()) bytes += b.size();
  absl::Status admitted = sequencer_->TrySubmit(std::move(*batch), &pending);
  if (absl::IsResourceExhausted(admitted)) {
    // Flow control: nothing more is read until this batch is in.
    sequencer_->WhenSpace(
        events, bytes, [this, batch, ids = std::move(ids), number]() mutable {
          SubmitOrWait(std::move(batch), std::move(ids), number);
        });
    return;
  }
  bool finish = false;
  grpc::Status status;
  {
    MutexLock lock(&mu_);
    if (!admitted.ok()) {
      Count(admitted.code(), events);
      --processing_;
      FailLocked(number, admitted);
      finish = ShouldFinishLocked();
      if (finish) status = FinalStatusLocked();
    } else {
      in_flight_.push_back(InFlight{number, std::move(ids), false, {}});
      MaybeReadLocked();
    }
  }
  if (finish) {
    Finish(status);
    return;
  }
  if (pending != nullptr) {
    pending->OnDone([this, number](ledger::AppendResult result) {
      OnBatchDone(number, std::move(result));
    });
  }
}

void AppendStreamReactor::OnBatchDone(uint64_t number,
                                      ledger::AppendResult result) {
  bool finish = false;
  grpc::Status status;
  {
    MutexLock lock(&mu_);
    for (InFlight& f : in_flight_) {
      if (f.number == number) {
        f.done = true;
        f.result = std::move(result);
        break;
      }
    }
    SettleLocked();
    MaybeReadLocked();
    finish = ShouldFinishLocked();
    if (finish) status = FinalStatusLocked();
  }
  if (finish) Finish(status);
}

void AppendStreamReactor::FailLocked(uint64_t number, absl::Status status) {
  if (!error_.ok()) return;
  error_ = std::move(status);
  error_batch_ = number;
}

void AppendStreamReactor::SettleLocked() {
  while (!in_flight_.empty() && in_flight_.front().done) {
    InFlight f = std::move(in_flight_.front());
    in_flight_.pop_front();
    --processing_;
    Count(f.result.status.code(), f.ids.size());
    // Batches settle in order, but a batch rejected before the sequencer
    // sets the error while earlier ones may still be in flight.
    if (error_.ok() || f.number < error_batch_) {
      absl::Status s = AddEntryRefs(f.result, f.ids, result_.mutable_entries());
      if (s.ok()) {
        committed_events_ += f.ids.size();
        result_.set_batches(result_.batches() + 1);
      } else {
        error_ = s;
        error_batch_ = f.number;
      }
    } else if (f.result.status.ok()) {
      ++later_batches_;
      later_events_ += f.ids.size();
    }
  }
}

void AppendStreamReactor::MaybeReadLocked() {
  // Read on only when every message read so far is in the sequencer (none
  // waits for room or verification) and the stream has room in flight.
  if (reading_ || client_done_ || finished_ || !error_.ok() ||
      processing_ != in_flight_.size() || processing_ >= kMaxInFlight) {
    return;
  }
  reading_ = true;
  StartRead(&buffer_);
}

bool AppendStreamReactor::ShouldFinishLocked() {
  if (finished_ || processing_ != 0) return false;
  // After an error the stream ends even with a read outstanding (gRPC
  // completes it with ok = false).
  if (error_.ok() && (!client_done_ || reading_)) return false;
  finished_ = true;
  return true;
}

grpc::Status AppendStreamReactor::FinalStatusLocked() {
  if (error_.ok()) {
    const std::string bytes = result_.SerializeAsString();
    grpc::Slice slice(bytes);
    *response_ = grpc::ByteBuffer(&slice, 1);
    return grpc::Status::OK;
  }
  std::string message = StrCat("batch ", error_batch_,
                               " rejected: ", ToStd(error_.message()), "; ");
  if (result_.batches() == 0) {
    message += "no batch of this stream was committed";
  } else {
    message += StrCat("the ", result_.batches(), " earlier batches (",
                      committed_events_, " events) are committed");
  }
  if (later_batches_ > 0) {
    message += StrCat("; ", later_batches_, " later batches (", later_events_,
                      " events) already in flight were committed too "
                      "(resending them is safe: they are acknowledged as "
                      "duplicates)");
  }
  // A field violation (BadRequest details) names the field in the
  // rejected message, whose number the message gives.
  return ToGrpcStatus(error_, *v1::AppendBatchRequest::descriptor(),
                      std::move(message));
}

}  // namespace ledger::node
