#include "node/ingest_service.h"

#include <deque>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "crypto/bytes.h"
#include "ledger/key_registry.h"
#include "ledger/lineage_rules.h"
#include "node/append_stream.h"
#include "node/convert.h"
#include "node/grpc_status.h"
#include "node/input_bounds.h"
#include "node/payloads.h"

namespace ledger::node {
namespace {

// Method names for the access.denied record (authorizer.h's table).
constexpr std::string_view kAppend = "/ledger.v1.Ingest/Append";
constexpr std::string_view kAppendBatch = "/ledger.v1.Ingest/AppendBatch";
constexpr std::string_view kAppendStream = "/ledger.v1.Ingest/AppendStream";
constexpr std::string_view kGetPayloadKey = "/ledger.v1.Ingest/GetPayloadKey";

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

// What the key may write (the ledger's own rule, key_registry.h); the
// ledger checks it again on append, we check first to name the event.
absl::Status CheckPermissions(const KeyInfo& key,
                              const std::vector<Event>& events, int64_t now) {
  for (size_t i = 0; i < events.size(); ++i) {
    absl::Status s = CheckSignerMayWrite(
        key, SignedFields{events[i].tenant, events[i].type, events[i].producer},
        kNextIndex, now);
    if (s.ok()) continue;
    if (absl::IsUnauthenticated(s)) return s;  // names the key
    const std::string_view m = ToStd(s.message());
    const bool field = StartsWithSignedField(m);
    return absl::Status(s.code(),
                        StrCat("events[", i, "]", field ? "." : ": ", m));
  }
  return absl::OkStatus();
}

std::vector<Uuid> EventIds(const ledger::VerifiedBatch& batch) {
  std::vector<Uuid> ids;
  ids.reserve(batch.size());
  for (const Event& e : batch.events()) ids.push_back(e.event_id);
  return ids;
}

}  // namespace

absl::StatusOr<ledger::VerifiedBatch> IngestService::Verify(
    const Caller* caller, std::string_view method,
    const google::protobuf::RepeatedPtrField<v1::Event>& protos,
    bool has_signature, const v1::EmitterSignature& sig) const {
  if (caller == nullptr) {
    return absl::UnauthenticatedError(
        "the client certificate is not in this node's access policy");
  }
  // Who may write which tenant: the caller's identity, before anything
  // else (the key's own tenant is checked below, after its signature).
  for (int i = 0; i < protos.size(); ++i) {
    const std::string& tenant = protos[i].tenant();
    if (caller->MaySee(tenant)) continue;
    absl::Status s =
        ctx_.authorizer->CheckTenant(*caller, method, tenant, "write events");
    return absl::Status(s.code(),
                        StrCat("events[", i, "]: ", ToStd(s.message())));
  }
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

  // A refusal for the signing key is an attempt to write without its
  // authority: counted and recorded (Authorizer::Refuse), in the words the
  // client gets (a single Append's "event"). Bad input is neither.
  auto refuse_for_key = [&](const absl::Status& s) {
    return ctx_.authorizer->Refuse(*caller, method,
                                   method == kAppend ? ForSingleEvent(s) : s);
  };
  std::optional<KeyInfo> key = ctx_.ledger->keys().Find(*key_id);
  if (!key.has_value()) {
    return refuse_for_key(absl::UnauthenticatedError(
        StrCat("emitter key ", KeyIdLabel(*key_id),
               " is not registered; register it with `ledgerctl "
               "register-key` (an admin: --pub KEY.pub --tenant T "
               "--producer P)")));
  }
  absl::StatusOr<std::vector<Event>> events = ConvertEvents(protos);
  if (!events.ok()) return events.status();
  // Signature before permissions: who may write what is not disclosed to
  // a caller who does not hold the key.
  absl::StatusOr<ledger::VerifiedBatch> batch =
      VerifyBatch(*std::move(events), *key_id, key->public_key, *signature,
                  ctx_.ledger->limits());
  if (!batch.ok()) {
    // Unauthenticated: the signature does not verify (VerifyBatch's
    // contract); anything else is a malformed event.
    if (absl::IsUnauthenticated(batch.status())) {
      return refuse_for_key(batch.status());
    }
    return InProtoTerms(batch.status());
  }
  // Names the key and says why (revoked, expired, not yet valid), then
  // the first event the key may not write.
  const int64_t now_ns = ctx_.clock->NowNs();
  if (absl::Status s = CheckPermissions(*key, batch->events(), now_ns);
      !s.ok()) {
    return refuse_for_key(s);
  }
  // Admission policy, not validation: the ledger's own checks do not
  // depend on a clock.
  if (absl::Status s =
          CheckOccurredAt(batch->events(), now_ns, ctx_.occurred_at_window);
      !s.ok()) {
    return s;
  }
  // Processing events name what they read and produced (the coming
  // lineage queries follow these edges); refused here, not in validation,
  // so entries stored before the rule keep verifying.
  if (absl::Status s = CheckBatchLineage(batch->events()); !s.ok()) {
    return s;
  }
  // Personal data only encrypted, under a key of the event's tenant that
  // is not erased, bound to its event. (An event admitted here just before
  // its key's key.erased entry is sequenced may land after it; its payload
  // is then as unreadable as every other under that key.)
  if (absl::Status s =
          CheckPayloads(ctx_.ledger->payload_keys(), batch->events());
      !s.ok()) {
    return s;
  }
  return batch;
}

grpc::Status IngestService::GetPayloadKey(
    grpc::ServerContext* context, const v1::GetPayloadKeyRequest* request,
    v1::PayloadKey* response) {
  const Caller* caller = ctx_.authorizer->CallerOf(*context);
  if (caller == nullptr) {
    return ToGrpcStatus(absl::UnauthenticatedError(
        "the client certificate is not in this node's access policy"));
  }
  // An emitter gets keys of its own tenant only (the key encrypts what it
  // may write), before the tenant's form is even looked at.
  if (!caller->MaySee(request->tenant())) {
    return ToGrpcStatus(ctx_.authorizer->CheckTenant(
        *caller, kGetPayloadKey, request->tenant(), "get payload keys"));
  }
  if (absl::Status s = CheckEmitterTenant(request->tenant()); !s.ok()) {
    return ToGrpcStatus(s, *request);
  }
  if (absl::Status s = CheckDataSubject(request->data_subject()); !s.ok()) {
    return ToGrpcStatus(s, *request);
  }
  absl::StatusOr<PayloadKey> key = ctx_.ledger->payload_keys().GetOrCreate(
      request->tenant(), request->data_subject(), ctx_.clock->NowNs());
  if (!key.ok()) return ToGrpcStatus(key.status());
  response->set_key_id(std::string(crypto::AsView(key->key_id)));
  response->set_key(std::string(crypto::AsView(key->key)));
  response->set_tenant(key->tenant);
  crypto::Wipe(key->key);
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* IngestService::Append(
    grpc::CallbackServerContext* context, const v1::AppendRequest* request,
    v1::AppendResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!Admit(context, reactor, *request, AppendRpc::kAppend, 1)) {
    return reactor;
  }
  // One event: verified here, on gRPC's thread. Its one signature costs
  // about what the call itself does, and a hop to the pool (at its lower
  // priority) cost per-event ingest 17% in the benchmark (docs/decisions.md).
  google::protobuf::RepeatedPtrField<v1::Event> events;
  *events.Add() = request->event();
  absl::StatusOr<ledger::VerifiedBatch> batch =
      Verify(ctx_.authorizer->CallerOf(*context), kAppend, events,
             request->has_signature(), request->signature());
  if (!batch.ok()) {
    Finish(reactor, AppendRpc::kAppend, 1,
           ToGrpcStatus(ForSingleEvent(batch.status()), *request));
    return reactor;
  }
  std::vector<Uuid> ids = EventIds(*batch);
  SubmitWhenRoom(context, reactor, AppendRpc::kAppend, *std::move(batch),
                 [this, reactor, response,
                  ids = std::move(ids)](ledger::AppendResult result) {
                   google::protobuf::RepeatedPtrField<v1::EntryRef> refs;
                   if (absl::Status s = AddEntryRefs(result, ids, &refs);
                       !s.ok()) {
                     Finish(reactor, AppendRpc::kAppend, 1,
                            ToGrpcStatus(ForSingleEvent(s)));
                     return;
                   }
                   *response->mutable_entry() = std::move(refs[0]);
                   Finish(reactor, AppendRpc::kAppend, 1, grpc::Status::OK);
                 });
  return reactor;
}

grpc::ServerUnaryReactor* IngestService::AppendBatch(
    grpc::CallbackServerContext* context, const v1::AppendBatchRequest* request,
    v1::AppendBatchResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const size_t events = static_cast<size_t>(request->events_size());
  if (!Admit(context, reactor, *request, AppendRpc::kAppendBatch, events)) {
    return reactor;
  }
  const Caller* caller = ctx_.authorizer->CallerOf(*context);
  verify_pool_.Schedule([this, context, reactor, caller, request, response,
                         events] {
    if (Abandoned(context, reactor, AppendRpc::kAppendBatch, events)) return;
    // The node may have stopped accepting (shutdown, a failure) while the
    // call waited: refused without verifying. A full queue is not a reason
    // here; the verified batch waits for room (SubmitWhenRoom).
    if (absl::Status s =
            ctx_.sequencer->CheckAdmission(events, request->ByteSizeLong());
        !s.ok() && !absl::IsResourceExhausted(s)) {
      Refuse(context, reactor, AppendRpc::kAppendBatch, events, s);
      return;
    }
    absl::StatusOr<ledger::VerifiedBatch> batch =
        Verify(caller, kAppendBatch, request->events(),
               request->has_signature(), request->signature());
    if (!batch.ok()) {
      Finish(reactor, AppendRpc::kAppendBatch, events,
             ToGrpcStatus(batch.status(), *request));
      return;
    }
    std::vector<Uuid> ids = EventIds(*batch);
    SubmitWhenRoom(context, reactor, AppendRpc::kAppendBatch, *std::move(batch),
                   [this, reactor, response, events,
                    ids = std::move(ids)](ledger::AppendResult result) {
                     Finish(reactor, AppendRpc::kAppendBatch, events,
                            ToGrpcStatus(AddEntryRefs(
                                result, ids, response->mutable_entries())));
                   });
  });
  return reactor;
}

bool IngestService::Admit(grpc::CallbackServerContext* context,
                          grpc::ServerUnaryReactor* reactor,
                          const google::protobuf::Message& request,
                          AppendRpc rpc, size_t events) {
  if (absl::Status s =
          ctx_.sequencer->CheckAdmission(events, request.ByteSizeLong());
      !s.ok()) {
    Refuse(context, reactor, rpc, events, s);
    return false;
  }
  if (absl::Status s = CheckNoUnknownFields(request); !s.ok()) {
    Finish(reactor, rpc, events, ToGrpcStatus(s, request));
    return false;
  }
  return true;
}

void IngestService::SubmitWhenRoom(
    grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
    AppendRpc rpc, ledger::VerifiedBatch batch,
    absl::AnyInvocable<void(ledger::AppendResult) &&> done) {
  const size_t events = batch.size();
  size_t bytes = 0;
  for (const std::string& b : batch.event_bytes()) bytes += b.size();
  std::shared_ptr<PendingAppend> pending;
  absl::Status s = ctx_.sequencer->TrySubmit(std::move(batch), &pending);
  if (absl::IsResourceExhausted(s)) {
    // Received, parsed and verified: wait for room rather than have the
    // client send it all again (TrySubmit left `batch` whole).
    ctx_.sequencer->WhenSpace(
        events, bytes,
        [this, context, reactor, rpc, events, batch = std::move(batch),
         done = std::move(done)]() mutable {
          if (Abandoned(context, reactor, rpc, events)) return;
          SubmitWhenRoom(context, reactor, rpc, std::move(batch),
                         std::move(done));
        });
    return;
  }
  if (!s.ok()) {
    Refuse(context, reactor, rpc, events, s);
    return;
  }
  pending->OnDone(std::move(done));
}

bool IngestService::Abandoned(grpc::CallbackServerContext* context,
                              grpc::ServerUnaryReactor* reactor, AppendRpc rpc,
                              size_t events) const {
  if (!context->IsCancelled()) return false;
  Finish(reactor, rpc, events,
         grpc::Status(grpc::StatusCode::CANCELLED,
                      "the call was cancelled while it waited; "
                      "nothing was appended"));
  return true;
}

void IngestService::Refuse(grpc::CallbackServerContext* context,
                           grpc::ServerUnaryReactor* reactor, AppendRpc rpc,
                           size_t events, const absl::Status& status) const {
  if (absl::IsResourceExhausted(status)) {
    context->AddTrailingMetadata("grpc-retry-pushback-ms",
                                 StrCat(ctx_.sequencer->RetryAfterMs()));
  }
  Finish(reactor, rpc, events, ToGrpcStatus(status));
}

void IngestService::Finish(grpc::ServerUnaryReactor* reactor, AppendRpc rpc,
                           size_t events, grpc::Status status) const {
  if (ctx_.metrics != nullptr) {
    ctx_.metrics->RecordAppend(
        rpc, static_cast<absl::StatusCode>(status.error_code()), events);
  }
  reactor->Finish(std::move(status));
}

grpc::ServerReadReactor<grpc::ByteBuffer>* IngestService::AppendStream(
    grpc::CallbackServerContext* context, grpc::ByteBuffer* response) {
  // The caller is the connection's: resolved once for the whole stream.
  const Caller* caller = ctx_.authorizer->CallerOf(*context);
  return new AppendStreamReactor(
      ctx_.sequencer, &verify_pool_,
      [this, caller](const v1::AppendBatchRequest& request)
          -> absl::StatusOr<ledger::VerifiedBatch> {
        if (absl::Status s = CheckNoUnknownFields(request); !s.ok()) return s;
        return Verify(caller, kAppendStream, request.events(),
                      request.has_signature(), request.signature());
      },
      response, ctx_.metrics);
}

}  // namespace ledger::node
