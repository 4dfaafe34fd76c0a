#include "node/admin_service.h"

#include <spdlog/spdlog.h>

#include <optional>
#include <set>
#include <string>
#include <utility>

#include "base/status_macros.h"
#include "base/strings.h"
#include "crypto/bytes.h"
#include "crypto/note.h"
#include "crypto/sha256.h"
#include "ledger/entry.h"
#include "ledger/key_registry.h"
#include "ledger/risk_engine.h"
#include "node/convert.h"
#include "node/grpc_status.h"
#include "node/input_bounds.h"
#include "node/ledger_events.h"
#include "node/payloads.h"

#ifndef LEDGER_NODE_VERSION
#define LEDGER_NODE_VERSION "dev"
#endif

namespace ledger::node {
namespace {

// A peer the access policy does not know (Admit lets none through).
grpc::Status Unknown() {
  return grpc::Status(
      grpc::StatusCode::UNAUTHENTICATED,
      "the client certificate is not in this node's access policy");
}

}  // namespace

absl::StatusOr<v1::EntryRef> AdminService::AppendLedgerEvent(
    Event event, const Caller& caller) {
  // The actor is who asked, as authenticated: the identity of the client
  // certificate in the access policy.
  StampLedgerEvent(ctx_.clock->NowNs(), caller.identity, "admin", &event);
  LEDGER_RETURN_IF_ERROR(ValidateEvent(event, ctx_.ledger->limits()));
  const Uuid event_id = event.event_id;
  LEDGER_ASSIGN_OR_RETURN(
      VerifiedBatch batch,
      SignWithNodeKey(std::move(event), *ctx_.identity, ctx_.ledger->limits()));
  AppendResult result = ctx_.sequencer->Append(std::move(batch));
  LEDGER_RETURN_IF_ERROR(result.status);
  if (result.entries.size() != 1) {
    return absl::InternalError("ledger acknowledged no entry");
  }
  return EntryRefToProto(result.entries[0], event_id);
}

absl::StatusOr<v1::EntryRef> AdminService::Register(
    const Caller& caller, const v1::RegisterEmitterKeyRequest& request) {
  LEDGER_RETURN_IF_ERROR(CheckNoUnknownFields(request));
  absl::StatusOr<crypto::NoteVerifier> vkey =
      crypto::ParseVerifierKey(Trim(request.verifier_key()));
  if (!vkey.ok()) {
    return Annotate(vkey.status(),
                    "verifier_key (expected name+keyid+base64, the .pub file "
                    "of `ledgerctl keygen`)");
  }
  if (vkey->type != crypto::NoteSigType::kEd25519) {
    return absl::InvalidArgumentError(
        StrCat("verifier_key: must be an Ed25519 key (type 0x01), got type 0x0",
               static_cast<int>(vkey->type)));
  }
  if (request.tenant() == kLedgerTenant) {
    return absl::InvalidArgumentError(
        StrCat("tenant: \"", kLedgerTenant,
               "\" is reserved for the ledger's own keys"));
  }
  if (request.producer().empty()) {
    return absl::InvalidArgumentError(
        "producer: required: the platform the key signs events for, as in "
        "the events' producer field (e.g. \"label-studio\", which also "
        "admits \"label-studio/1.13.1\")");
  }
  KeyInfo info;
  info.public_key = vkey->key;
  info.key_id = KeyIdOf(vkey->key);
  info.name = vkey->name;
  info.tenant = request.tenant();
  info.producer = request.producer();
  info.role = KeyRole::kEmitter;
  info.valid_from_ns = ctx_.clock->NowNs();
  if (request.has_valid_from()) {
    LEDGER_ASSIGN_OR_RETURN(info.valid_from_ns,
                            TimestampToNs(request.valid_from(), "valid_from"));
  }
  if (request.has_valid_until()) {
    LEDGER_ASSIGN_OR_RETURN(
        info.valid_until_ns,
        TimestampToNs(request.valid_until(), "valid_until"));
    if (info.valid_until_ns <= info.valid_from_ns) {
      return absl::InvalidArgumentError(
          "valid_until: must be after valid_from (which defaults to now)");
    }
  }
  if (info.valid_from_ns <= 0) {
    return absl::InvalidArgumentError("valid_from: must be after 1970");
  }
  if (std::optional<KeyInfo> existing = ctx_.ledger->keys().Find(info.key_id);
      existing.has_value()) {
    return absl::AlreadyExistsError(
        StrCat("emitter key ", KeyIdLabel(info.key_id), " (", existing->name,
               ") is already registered for tenant \"", existing->tenant,
               "\" by entry ", existing->registered_at));
  }
  return AppendLedgerEvent(KeyRegisteredEvent(info), caller);
}

absl::StatusOr<v1::EntryRef> AdminService::Revoke(
    const Caller& caller, const v1::RevokeEmitterKeyRequest& request) {
  LEDGER_RETURN_IF_ERROR(CheckNoUnknownFields(request));
  LEDGER_ASSIGN_OR_RETURN(
      crypto::Hash key_id,
      crypto::ToArray<crypto::kHashSize>(request.key_id(), "key_id"));
  std::optional<KeyInfo> key = ctx_.ledger->keys().Find(key_id);
  if (!key.has_value()) {
    return absl::NotFoundError(
        StrCat("emitter key ", KeyIdLabel(key_id), " is not registered"));
  }
  if (key->role != KeyRole::kEmitter) {
    return absl::FailedPreconditionError(
        StrCat("key ", KeyIdLabel(key_id),
               " is a node key; node keys are not revoked here"));
  }
  if (key->revoked_at_ns != 0) {
    return absl::FailedPreconditionError(StrCat(
        "emitter key ", KeyIdLabel(key_id), " was already revoked by ",
        "entry ", key->revoked_index, " (at ", key->revoked_at_ns, " ns)"));
  }
  return AppendLedgerEvent(KeyRevokedEvent(*key, request.reason()), caller);
}

absl::StatusOr<v1::EraseSubjectResponse> AdminService::Erase(
    const Caller& caller, const v1::EraseSubjectRequest& request) {
  LEDGER_RETURN_IF_ERROR(CheckNoUnknownFields(request));
  LEDGER_RETURN_IF_ERROR(CheckEmitterTenant(request.tenant()));
  LEDGER_RETURN_IF_ERROR(CheckDataSubject(request.data_subject()));
  if (Trim(request.reason()).empty()) {
    return absl::InvalidArgumentError(
        "reason: required (it is recorded in the key.erased entry), e.g. the "
        "erasure request's reference");
  }
  absl::StatusOr<PayloadKeyLookup> found =
      ctx_.ledger->payload_keys().FindForSubject(request.tenant(),
                                                 request.data_subject());
  if (absl::IsNotFound(found.status())) {
    return absl::NotFoundError(
        StrCat("tenant '", request.tenant(),
               "' has no payload key for this data subject: nothing of it is "
               "encrypted in the ledger, so there is nothing to erase"));
  }
  LEDGER_RETURN_IF_ERROR(found.status());
  if (found->erasure.has_value()) {
    return absl::FailedPreconditionError(StrCat(
        "the data subject's payload key ",
        PayloadKeyIdHex(found->erasure->key_id),
        " was already erased by the key.erased entry ", found->erasure->entry));
  }
  const PayloadKeyId key_id = found->key->key_id;
  crypto::Wipe(found->key->key);
  // The actor is the admin who asks, as authenticated. The event names
  // the key, never the subject.
  absl::StatusOr<v1::EntryRef> appended = AppendLedgerEvent(
      KeyErasedEvent(request.tenant(), key_id, request.reason()), caller);
  if (!appended.ok()) {
    // The reason is the event's second attribute value.
    std::string_view message = ToStd(appended.status().message());
    constexpr std::string_view kReasonField = "attributes[1].value";
    if (!message.starts_with(kReasonField)) return appended.status();
    return absl::Status(appended.status().code(),
                        StrCat("reason", message.substr(kReasonField.size())));
  }
  v1::EntryRef entry = *std::move(appended);
  // The key died with the entry's write; now get its bytes out of
  // RocksDB's files. A failure here leaves them in files that compaction
  // will rewrite later: worth an operator's attention, but the erasure
  // itself is done and recorded.
  if (absl::Status s = ctx_.ledger->PurgeErasedKeys(); !s.ok()) {
    spdlog::error(
        "payload key {} is erased (entry {}) but purging it from the "
        "database files failed: {}",
        PayloadKeyIdHex(key_id), entry.index(), ToStd(s.message()));
  }
  v1::EraseSubjectResponse response;
  *response.mutable_entry() = std::move(entry);
  response.set_key_id(std::string(crypto::AsView(key_id)));
  return response;
}

absl::StatusOr<v1::SetRiskPolicyResponse> AdminService::SetPolicy(
    const Caller& caller, const v1::SetRiskPolicyRequest& request) {
  LEDGER_RETURN_IF_ERROR(CheckNoUnknownFields(request));
  const std::string& text = request.text();
  if (size_t cr = text.find('\r'); cr != std::string::npos) {
    return absl::InvalidArgumentError(
        StrCat("text: carriage return at byte ", cr,
               "; a policy has LF line ends (convert the file, e.g. with "
               "dos2unix)"));
  }
  if (absl::StatusOr<risk::Policy> policy = risk::ParsePolicy(text);
      !policy.ok()) {
    return absl::InvalidArgumentError(
        StrCat("text: ", policy.status().message()));
  }
  Event event;
  event.type = "policy.changed";
  event.tenant = std::string(kLedgerTenant);
  event.attributes = risk::PolicyAttributes(text);
  LEDGER_ASSIGN_OR_RETURN(v1::EntryRef ref,
                          AppendLedgerEvent(std::move(event), caller));
  v1::SetRiskPolicyResponse response;
  const std::string sha = crypto::HexEncode(crypto::Sha256Digest(text));
  // The entry's own number (later policies may have followed it).
  response.set_policy_version(ctx_.ledger->PolicyVersionOf(ref.index()));
  response.set_sha256(sha);
  *response.mutable_entry() = std::move(ref);
  return response;
}

grpc::Status AdminService::SetRiskPolicy(
    grpc::ServerContext* context, const v1::SetRiskPolicyRequest* request,
    v1::SetRiskPolicyResponse* response) {
  const Caller* caller = ctx_.authorizer->CallerOf(*context);
  if (caller == nullptr) return Unknown();
  absl::StatusOr<v1::SetRiskPolicyResponse> set = SetPolicy(*caller, *request);
  if (!set.ok()) return ToGrpcStatus(set.status(), *request);
  *response = *std::move(set);
  return grpc::Status::OK;
}

grpc::Status AdminService::EraseSubject(grpc::ServerContext* context,
                                        const v1::EraseSubjectRequest* request,
                                        v1::EraseSubjectResponse* response) {
  const Caller* caller = ctx_.authorizer->CallerOf(*context);
  if (caller == nullptr) return Unknown();
  absl::StatusOr<v1::EraseSubjectResponse> erased = Erase(*caller, *request);
  if (!erased.ok()) return ToGrpcStatus(erased.status(), *request);
  *response = *std::move(erased);
  return grpc::Status::OK;
}

absl::StatusOr<v1::EntryRef> AdminService::Rotate(
    const Caller& caller, const v1::RotateEmitterKeyRequest& request) {
  LEDGER_RETURN_IF_ERROR(CheckNoUnknownFields(request));
  LEDGER_ASSIGN_OR_RETURN(
      crypto::Hash key_id,
      crypto::ToArray<crypto::kHashSize>(request.key_id(), "key_id"));
  std::optional<KeyInfo> old_key = ctx_.ledger->keys().Find(key_id);
  if (!old_key.has_value()) {
    return absl::NotFoundError(
        StrCat("key_id: emitter key ", KeyIdLabel(key_id),
               " is not registered; register the new key with `ledgerctl "
               "register-key` instead"));
  }
  if (old_key->role != KeyRole::kEmitter) {
    return absl::FailedPreconditionError(StrCat(
        "key_id: key ", KeyIdLabel(key_id), " is a ",
        KeyRoleName(old_key->role), " key; only emitter keys are rotated"));
  }
  if (old_key->rotated_at != 0) {
    return absl::FailedPreconditionError(StrCat(
        "key_id: emitter key ", KeyIdLabel(key_id),
        " was already rotated out by entry ", old_key->rotated_at, " to key ",
        KeyIdLabel(old_key->rotated_to), "; rotate that key instead"));
  }
  if (old_key->revoked_at_ns != 0) {
    return absl::FailedPreconditionError(StrCat(
        "key_id: emitter key ", KeyIdLabel(key_id), " was revoked by entry ",
        old_key->revoked_index,
        "; a revoked key is not rotated: register a new key with `ledgerctl "
        "register-key`"));
  }
  absl::StatusOr<crypto::NoteVerifier> vkey =
      crypto::ParseVerifierKey(Trim(request.new_verifier_key()));
  if (!vkey.ok()) {
    return Annotate(vkey.status(),
                    "new_verifier_key (expected name+keyid+base64, the .pub "
                    "file of `ledgerctl keygen`)");
  }
  if (vkey->type != crypto::NoteSigType::kEd25519) {
    return absl::InvalidArgumentError(StrCat(
        "new_verifier_key: must be an Ed25519 key (type 0x01), got type 0x0",
        static_cast<int>(vkey->type)));
  }
  KeyInfo new_key;
  new_key.public_key = vkey->key;
  new_key.key_id = KeyIdOf(vkey->key);
  new_key.name = vkey->name;
  if (std::optional<KeyInfo> existing =
          ctx_.ledger->keys().Find(new_key.key_id);
      existing.has_value()) {
    return absl::AlreadyExistsError(
        StrCat("new_verifier_key: key ", KeyIdLabel(new_key.key_id), " (",
               existing->name, ") is already registered by entry ",
               existing->registered_at, "; rotate to a freshly generated key"));
  }
  if (request.has_new_valid_until()) {
    LEDGER_ASSIGN_OR_RETURN(
        new_key.valid_until_ns,
        TimestampToNs(request.new_valid_until(), "new_valid_until"));
    if (new_key.valid_until_ns <= ctx_.clock->NowNs()) {
      return absl::InvalidArgumentError(
          "new_valid_until: must be in the future");
    }
  }
  return AppendLedgerEvent(KeyRotatedEvent(*old_key, new_key, request.reason()),
                           caller);
}

grpc::Status AdminService::RegisterEmitterKey(
    grpc::ServerContext* context, const v1::RegisterEmitterKeyRequest* request,
    v1::EntryRef* response) {
  const Caller* caller = ctx_.authorizer->CallerOf(*context);
  if (caller == nullptr) return Unknown();
  absl::StatusOr<v1::EntryRef> ref = Register(*caller, *request);
  if (!ref.ok()) return ToGrpcStatus(ref.status(), *request);
  *response = *std::move(ref);
  return grpc::Status::OK;
}

grpc::Status AdminService::RevokeEmitterKey(
    grpc::ServerContext* context, const v1::RevokeEmitterKeyRequest* request,
    v1::EntryRef* response) {
  const Caller* caller = ctx_.authorizer->CallerOf(*context);
  if (caller == nullptr) return Unknown();
  absl::StatusOr<v1::EntryRef> ref = Revoke(*caller, *request);
  if (!ref.ok()) return ToGrpcStatus(ref.status(), *request);
  *response = *std::move(ref);
  return grpc::Status::OK;
}

grpc::Status AdminService::RotateEmitterKey(
    grpc::ServerContext* context, const v1::RotateEmitterKeyRequest* request,
    v1::EntryRef* response) {
  const Caller* caller = ctx_.authorizer->CallerOf(*context);
  if (caller == nullptr) return Unknown();
  absl::StatusOr<v1::EntryRef> ref = Rotate(*caller, *request);
  if (!ref.ok()) return ToGrpcStatus(ref.status(), *request);
  *response = *std::move(ref);
  return grpc::Status::OK;
}

grpc::Status AdminService::ListKeys(grpc::ServerContext* context,
                                    const v1::ListKeysRequest*,
                                    v1::ListKeysResponse* response) {
  const Caller* caller = ctx_.authorizer->CallerOf(*context);
  if (caller == nullptr) return Unknown();
  for (const KeyInfo& info : ctx_.ledger->keys().List()) {
    // A caller limited to its tenants sees their emitter keys, and the
    // node's own keys (public: GetNodeInfo gives them to everyone).
    if (info.role == KeyRole::kEmitter && !caller->MaySee(info.tenant)) {
      continue;
    }
    v1::KeyInfo* key = response->add_keys();
    *key = KeyInfoToProto(info);
    key->set_producer(info.producer);
    key->set_revoked_index(info.revoked_index);
    key->set_revoke_reason(info.revoke_reason);
    key->set_rotated_at(info.rotated_at);
    if (info.rotated_at != 0) {
      key->set_rotated_to(std::string(crypto::AsView(info.rotated_to)));
    }
    if (info.rotated_from != crypto::Hash{}) {
      key->set_rotated_from(std::string(crypto::AsView(info.rotated_from)));
    }
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::GetNodeInfo(grpc::ServerContext*,
                                       const v1::GetNodeInfoRequest*,
                                       v1::NodeInfo* response) {
  response->set_origin(ctx_.identity->origin);
  std::set<std::string> listed;
  for (const crypto::NoteVerifier& v : ctx_.identity->verifiers()) {
    std::string vkey = crypto::FormatVerifierKey(v);
    listed.insert(vkey);
    response->add_note_verifier_keys(std::move(vkey));
  }
  // In a cluster the other nodes' cosigner keys too (the log registers
  // them), so that a checkpoint's every signature can be checked.
  for (const KeyInfo& info : ctx_.ledger->keys().List()) {
    if (info.role != KeyRole::kCosigner || info.revoked_index != 0 ||
        !crypto::IsValidKeyName(info.name)) {
      continue;
    }
    crypto::NoteVerifier v;
    v.name = info.name;
    v.type = crypto::NoteSigType::kCosignatureV1;
    v.key = info.public_key;
    v.key_id = crypto::NoteKeyId(v.name, v.type, v.key);
    std::string vkey = crypto::FormatVerifierKey(v);
    if (listed.insert(vkey).second) {
      response->add_note_verifier_keys(std::move(vkey));
    }
  }
  response->set_size(ctx_.coordinator->Committed().size);
  response->set_version(LEDGER_NODE_VERSION);
  response->set_node_key_id(std::string(
      crypto::AsView(KeyIdOf(ctx_.identity->log_signer.key().public_key()))));
  response->set_write_state(
      std::string(SequencerStateName(ctx_.sequencer->state())));
  response->set_write_error(
      std::string(ToStd(ctx_.sequencer->write_status().message())));
  response->set_denied_requests(ctx_.authorizer->denied_requests());
  response->set_unauthenticated_requests(
      ctx_.authorizer->unauthenticated_requests());
  response->set_rate_limited_requests(ctx_.authorizer->rate_limited_requests());
  return grpc::Status::OK;
}

}  // namespace ledger::node
