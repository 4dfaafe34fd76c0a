#include "node/ingest_service.h"

#include <deque>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "crypto/bytes.h"
#include "ledger/key_registry.h"
#include "node/convert.h"
#include "node/grpc_status.h"

namespace ledger::node {
namespace {

// A single Append has one event: name it "event", not "events[0]".
absl::Status ForSingleEvent(const absl::Status& status) {
  std::string_view message = ToStd(status.message());
  constexpr std::string_view kBatchName = "events[0]";
  if (message.substr(0, kBatchName.size()) != kBatchName) return status;
  return absl::Status(status.code(),
                      StrCat("event", message.substr(kBatchName.size())));
}

// ValidateEvent names the C++ field; clients know the proto's.
absl::Status InProtoTerms(const absl::Status& status) {
  std::string message(ToStd(status.message()));
  constexpr std::string_view kCxx = ".occurred_at_ns:";
  if (size_t at = message.find(kCxx); at != std::string::npos) {
    message.replace(at, kCxx.size(), ".occurred_at:");
    return absl::Status(status.code(), message);
  }
  return status;
}

absl::StatusOr<std::vector<Event>> ConvertEvents(
    const google::protobuf::RepeatedPtrField<v1::Event>& protos) {
  std::vector<Event> events;
  events.reserve(protos.size());
  for (int i = 0; i < protos.size(); ++i) {
    absl::StatusOr<Event> event = EventFromProto(protos[i]);
    if (!event.ok()) {
      // A field path, as VerifyBatch writes it: "events[2].actor.kind: ...".
      return absl::Status(
          event.status().code(),
          StrCat("events[", i, "].", ToStd(event.status().message())));
    }
    events.push_back(*std::move(event));
  }
  return events;
}

// What an emitter key may write; the ledger checks the same on append, we
// check first to name the offending event.
absl::Status CheckPermissions(const KeyInfo& key,
                              const std::vector<Event>& events) {
  if (key.role != KeyRole::kEmitter) return absl::OkStatus();
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].tenant != key.tenant) {
      return absl::PermissionDeniedError(
          StrCat("events[", i, "].tenant: emitter key ", KeyIdLabel(key.key_id),
                 " may write only tenant \"", key.tenant, "\", not \"",
                 events[i].tenant, "\""));
    }
    if (IsLedgerInternalType(events[i].type)) {
      return absl::PermissionDeniedError(
          StrCat("events[", i, "].type: \"", events[i].type,
                 "\" is written by the ledger itself, not by emitters"));
    }
  }
  return absl::OkStatus();
}

std::vector<Uuid> EventIds(const ledger::VerifiedBatch& batch) {
  std::vector<Uuid> ids;
  ids.reserve(batch.size());
  for (const Event& e : batch.events()) ids.push_back(e.event_id);
  return ids;
}

absl::Status AddRefs(const ledger::AppendResult& result,
                     const std::vector<Uuid>& ids,
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

}  // namespace

absl::StatusOr<ledger::VerifiedBatch> IngestService::Verify(
    const google::protobuf::RepeatedPtrField<v1::Event>& protos,
    bool has_signature, const v1::EmitterSignature& sig) const {
  if (protos.empty()) {
    return absl::InvalidArgumentError("events: must not be empty");
  }
  if (static_cast<uint64_t>(protos.size()) > ledger::kMaxBatchSize) {
    return absl::InvalidArgumentError(
        StrCat("events: ", protos.size(), " events exceed the limit of ",
               ledger::kMaxBatchSize, " per batch; split the batch"));
  }
  if (!has_signature || (sig.key_id().empty() && sig.signature().empty())) {
    return absl::UnauthenticatedError(
        "request is not signed: signature.key_id and signature.signature "
        "are required (sign with the emitter's registered key)");
  }
  absl::StatusOr<crypto::Hash> key_id =
      crypto::ToArray<crypto::kHashSize>(sig.key_id(), "signature.key_id");
  if (!key_id.ok()) return key_id.status();
  absl::StatusOr<crypto::Ed25519Signature> signature =
      crypto::ToArray<crypto::kEd25519SignatureSize>(sig.signature(),
                                                     "signature.signature");
  if (!signature.ok()) return signature.status();

  std::optional<KeyInfo> key = ctx_.ledger->keys().Find(*key_id);
  if (!key.has_value()) {
    return absl::UnauthenticatedError(
        StrCat("emitter key ", KeyIdLabel(*key_id),
               " is not registered; register it with `ledgerctl "
               "register-key`"));
  }
  absl::StatusOr<std::vector<Event>> events = ConvertEvents(protos);
  if (!events.ok()) return events.status();
  // Signature before permissions: who may write what is not disclosed to
  // a caller who does not hold the key.
  absl::StatusOr<ledger::VerifiedBatch> batch =
      VerifyBatch(*std::move(events), *key_id, key->public_key, *signature,
                  ctx_.ledger->limits());
  if (!batch.ok()) return InProtoTerms(batch.status());
  // Names the key and says why (revoked, expired, not yet valid).
  if (absl::Status s = key->CheckValidAt(ctx_.clock->NowNs()); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckPermissions(*key, batch->events()); !s.ok()) {
    return s;
  }
  return batch;
}

grpc::ServerUnaryReactor* IngestService::Append(
    grpc::CallbackServerContext* context, const v1::AppendRequest* request,
    v1::AppendResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  google::protobuf::RepeatedPtrField<v1::Event> events;
  *events.Add() = request->event();
  absl::StatusOr<ledger::VerifiedBatch> batch =
      Verify(events, request->has_signature(), request->signature());
  if (!batch.ok()) {
    reactor->Finish(ToGrpcStatus(ForSingleEvent(batch.status())));
    return reactor;
  }
  std::vector<Uuid> ids = EventIds(*batch);
  ctx_.sequencer->Submit(*std::move(batch))
      ->OnDone([reactor, response,
                ids = std::move(ids)](ledger::AppendResult result) {
        google::protobuf::RepeatedPtrField<v1::EntryRef> refs;
        if (absl::Status s = AddRefs(result, ids, &refs); !s.ok()) {
          reactor->Finish(ToGrpcStatus(ForSingleEvent(s)));
          return;
        }
        *response->mutable_entry() = std::move(refs[0]);
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* IngestService::AppendBatch(
    grpc::CallbackServerContext* context, const v1::AppendBatchRequest* request,
    v1::AppendBatchResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<ledger::VerifiedBatch> batch =
      Verify(request->events(), request->has_signature(), request->signature());
  if (!batch.ok()) {
    reactor->Finish(ToGrpcStatus(batch.status()));
    return reactor;
  }
  std::vector<Uuid> ids = EventIds(*batch);
  ctx_.sequencer->Submit(*std::move(batch))
      ->OnDone([reactor, response,
                ids = std::move(ids)](ledger::AppendResult result) {
        reactor->Finish(
            ToGrpcStatus(AddRefs(result, ids, response->mutable_entries())));
      });
  return reactor;
}

namespace {

// One stream's batches that were submitted and not yet settled, oldest
// first, and what became of the settled ones.
class StreamPipeline {
 public:
  explicit StreamPipeline(v1::AppendStreamResponse* response)
      : response_(response) {}

  void Add(std::shared_ptr<PendingAppend> pending, std::vector<Uuid> ids) {
    in_flight_.push_back(InFlight{std::move(pending), std::move(ids), next_});
    ++next_;
  }
  // A batch rejected before it reached the sequencer.
  void Reject(const absl::Status& status) {
    if (error_.ok()) {
      error_ = status;
      error_batch_ = next_;
    }
    ++next_;
  }
  // Settles finished batches; waits for the oldest while more than `limit`
  // are in flight.
  void Settle(size_t limit) {
    while (!in_flight_.empty() &&
           (in_flight_.size() > limit || in_flight_.front().pending->done())) {
      SettleOldest();
    }
  }
  bool failed() const { return !error_.ok(); }
  grpc::Status Finish();

 private:
  struct InFlight {
    std::shared_ptr<PendingAppend> pending;
    std::vector<Uuid> ids;
    uint64_t number;
  };
  void SettleOldest();

  v1::AppendStreamResponse* response_;
  std::deque<InFlight> in_flight_;
  uint64_t next_ = 0;
  absl::Status error_;
  uint64_t error_batch_ = 0;
  uint64_t events_ = 0;  // committed before the error
  uint64_t later_batches_ = 0;
  uint64_t later_events_ = 0;
};

void StreamPipeline::SettleOldest() {
  InFlight batch = std::move(in_flight_.front());
  in_flight_.pop_front();
  ledger::AppendResult result = batch.pending->Wait();
  // Batches settle in order, but a batch rejected by Verify() sets the error
  // while earlier ones may still be in flight.
  if (error_.ok() || batch.number < error_batch_) {
    absl::Status s = AddRefs(result, batch.ids, response_->mutable_entries());
    if (s.ok()) {
      events_ += batch.ids.size();
      response_->set_batches(response_->batches() + 1);
    } else {
      error_ = s;
      error_batch_ = batch.number;
    }
  } else if (result.status.ok()) {
    ++later_batches_;
    later_events_ += batch.ids.size();
  }
}

grpc::Status StreamPipeline::Finish() {
  Settle(0);
  if (error_.ok()) return grpc::Status::OK;
  std::string message = StrCat("batch ", error_batch_,
                               " rejected: ", ToStd(error_.message()), "; ");
  if (error_batch_ == 0) {
    message += "no batch of this stream was committed";
  } else {
    message += StrCat("the ", error_batch_, " earlier batches (", events_,
                      " events) are committed");
  }
  if (later_batches_ > 0) {
    message += StrCat("; ", later_batches_, " later batches (", later_events_,
                      " events) already in flight were committed too "
                      "(resending them is safe: they are acknowledged as "
                      "duplicates)");
  }
  return grpc::Status(static_cast<grpc::StatusCode>(error_.code()), message);
}

}  // namespace

grpc::Status IngestService::AppendStream(
    grpc::ServerContext*, grpc::ServerReader<v1::AppendBatchRequest>* reader,
    v1::AppendStreamResponse* response) {
  StreamPipeline pipeline(response);
  v1::AppendBatchRequest request;
  while (!pipeline.failed() && reader->Read(&request)) {
    pipeline.Settle(kMaxStreamBatchesInFlight - 1);
    if (pipeline.failed()) break;
    absl::StatusOr<ledger::VerifiedBatch> batch =
        Verify(request.events(), request.has_signature(), request.signature());
    if (!batch.ok()) {
      pipeline.Reject(batch.status());
      break;
    }
    std::vector<Uuid> ids = EventIds(*batch);
    pipeline.Add(ctx_.sequencer->Submit(*std::move(batch)), std::move(ids));
  }
  return pipeline.Finish();
}

}  // namespace ledger::node
