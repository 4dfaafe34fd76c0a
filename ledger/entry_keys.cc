#include "ledger/entry_keys.h"

#include <algorithm>

#include "base/status_macros.h"
#include "base/strings.h"
#include "crypto/note.h"
#include "ledger/entry.h"

namespace ledger {
namespace {

constexpr std::string_view kAlgorithm = "key.algorithm";
constexpr std::string_view kPublicKey = "key.public_key";
constexpr std::string_view kId = "key.id";
constexpr std::string_view kName = "key.name";
constexpr std::string_view kRole = "key.role";
constexpr std::string_view kTenant = "key.tenant";
constexpr std::string_view kProducer = "key.producer";
constexpr std::string_view kValidFrom = "key.valid_from";
constexpr std::string_view kValidUntil = "key.valid_until";
constexpr std::string_view kReason = "key.reason";
// key.rotated: the new key.
constexpr std::string_view kNewAlgorithm = "key.new.algorithm";
constexpr std::string_view kNewId = "key.new.id";
constexpr std::string_view kNewName = "key.new.name";
constexpr std::string_view kNewPublicKey = "key.new.public_key";
constexpr std::string_view kNewValidUntil = "key.new.valid_until";

absl::Status MissingAttribute(std::string_view key) {
  return absl::InvalidArgumentError(
      StrCat("attributes[\"", key, "\"]: required for ", "key events"));
}

absl::StatusOr<int64_t> TimeAttribute(const Event& event,
                                      std::string_view key) {
  const std::string* v = FindAttribute(event, key);
  if (v == nullptr) return int64_t{0};
  std::optional<uint64_t> ns = ParseCanonicalUint64(*v);
  if (!ns.has_value() || *ns > uint64_t{INT64_MAX}) {
    return absl::InvalidArgumentError(
        StrCat("attributes[\"", key,
               "\"]: must be nanoseconds since the epoch in decimal"));
  }
  return static_cast<int64_t>(*ns);
}

absl::StatusOr<Hash> KeyIdAttribute(const Event& event, std::string_view key) {
  const std::string* id = FindAttribute(event, key);
  if (id == nullptr) return MissingAttribute(key);
  absl::StatusOr<std::string> raw = crypto::HexDecode(*id);
  if (!raw.ok() || raw->size() != crypto::kHashSize ||
      crypto::HexEncode(*raw) != *id) {
    return absl::InvalidArgumentError(
        StrCat("attributes[\"", key, "\"]: must be 64 lowercase hex digits"));
  }
  return crypto::ToArray<crypto::kHashSize>(*raw, key);
}

// The algorithm, public key, ID and note name of a key, from the attributes
// named by the four keys (key.registered's own, or key.rotated's new key).
absl::Status ParsePublicKey(const Event& event, std::string_view alg_key,
                            std::string_view pub_key, std::string_view id_key,
                            std::string_view name_key, KeyInfo& info) {
  const std::string* alg = FindAttribute(event, alg_key);
  if (alg == nullptr) return MissingAttribute(alg_key);
  if (*alg != "ed25519") {
    return absl::InvalidArgumentError(
        StrCat("attributes[\"", alg_key, "\"]: only ed25519 is supported"));
  }
  const std::string* pub = FindAttribute(event, pub_key);
  if (pub == nullptr) return MissingAttribute(pub_key);
  absl::StatusOr<std::string> raw = crypto::Base64Decode(*pub);
  if (!raw.ok() || raw->size() != crypto::kEd25519PublicKeySize) {
    return absl::InvalidArgumentError(
        StrCat("attributes[\"", pub_key, "\"]: must be base64 of 32 bytes"));
  }
  info.public_key =
      *crypto::ToArray<crypto::kEd25519PublicKeySize>(*raw, "public key");
  info.key_id = KeyIdOf(info.public_key);
  LEDGER_ASSIGN_OR_RETURN(Hash id, KeyIdAttribute(event, id_key));
  if (id != info.key_id) {
    return absl::InvalidArgumentError(
        StrCat("attributes[\"", id_key, "\"]: does not match ", pub_key));
  }
  const std::string* name = FindAttribute(event, name_key);
  if (name == nullptr || name->empty()) return MissingAttribute(name_key);
  if (!crypto::IsValidKeyName(*name)) {
    return absl::InvalidArgumentError(
        StrCat("attributes[\"", name_key,
               "\"]: must be a valid note key name (no spaces, '+' or "
               "control characters)"));
  }
  info.name = *name;
  return absl::OkStatus();
}

// key.producer: absent (any producer) or non-empty.
absl::StatusOr<std::string> ProducerAttribute(const Event& event) {
  const std::string* producer = FindAttribute(event, kProducer);
  if (producer == nullptr) return std::string();
  if (producer->empty()) {
    return absl::InvalidArgumentError(
        "attributes[\"key.producer\"]: must not be empty when present");
  }
  return *producer;
}

void SortAttributes(Event& event) {
  std::sort(event.attributes.begin(), event.attributes.end());
}

std::string Who(const KeyInfo& key) {
  return StrCat(KeyRoleName(key.role), " key ", KeyIdLabel(key.key_id), " (",
                key.name, ")");
}

std::string ProducerText(std::string_view producer) {
  return producer.empty() ? std::string("any producer")
                          : StrCat("producer \"", producer, "\"");
}

}  // namespace

bool IsKeyEventType(std::string_view type) {
  return type == "key.registered" || type == "key.rotated" ||
         type == "key.revoked";
}

bool ProducerMatches(std::string_view key_producer, std::string_view producer) {
  if (key_producer.empty() || producer == key_producer) return true;
  return producer.size() > key_producer.size() &&
         producer.starts_with(key_producer) &&
         producer[key_producer.size()] == '/';
}

absl::StatusOr<KeyInfo> ResolveSigner(const crypto::Hash& key_id,
                                      absl::Span<const Event> batch,
                                      bool ledger_empty, KeyLookup find) {
  if (std::optional<KeyInfo> key = find(key_id); key.has_value()) return *key;
  // Genesis: the first entry registers the node key that signs it.
  if (ledger_empty && batch.size() == 1 && batch[0].type == "key.registered") {
    absl::StatusOr<KeyInfo> info = KeyInfoFromRegistration(batch[0]);
    if (info.ok() && info->key_id == key_id && info->role == KeyRole::kNode) {
      return *info;
    }
  }
  return absl::UnauthenticatedError(
      StrCat("emitter key ", KeyIdLabel(key_id),
             " is not registered; register it with `ledgerctl register-key` "
             "(an admin: --pub KEY.pub --tenant T --producer P)"));
}

absl::Status KeyInfo::CheckValidAt(uint64_t index, int64_t t_ns) const {
  const std::string at =
      index == kNextIndex ? std::string("now") : StrCat("at entry ", index);
  if (index < registered_at) {
    return absl::UnauthenticatedError(
        StrCat(Who(*this), " was registered by entry ", registered_at,
               " and signs only entries after it, not entry ", index));
  }
  if (rotated_at != 0 && index > rotated_at) {
    return absl::UnauthenticatedError(StrCat(
        Who(*this), " was rotated out by entry ", rotated_at,
        " (key.rotated) and signs nothing after it; sign with its successor, "
        "key ",
        KeyIdLabel(rotated_to), " (the key given to `ledgerctl keys rotate`)"));
  }
  if (revoked_index != 0 && index > revoked_index) {
    return absl::UnauthenticatedError(
        StrCat(Who(*this), " was revoked by entry ", revoked_index,
               revoke_reason.empty() ? std::string()
                                     : StrCat(" (reason: ", revoke_reason, ")"),
               " and signs nothing after it; an admin registers a new key "
               "with `ledgerctl register-key`"));
  }
  if (t_ns < valid_from_ns) {
    return absl::UnauthenticatedError(StrCat(
        Who(*this), " is not valid ", at, " (time ", t_ns,
        " ns): its validity, set by entry ", registered_at, ", starts at ",
        valid_from_ns, " ns; wait until then or use another key"));
  }
  if (valid_until_ns != 0 && t_ns >= valid_until_ns) {
    return absl::UnauthenticatedError(StrCat(
        Who(*this), " expired at ", valid_until_ns,
        " ns (key.valid_until, set by entry ", registered_at,
        "); an admin replaces it with `ledgerctl keys rotate` or registers a "
        "new key"));
  }
  return absl::OkStatus();
}

bool StartsWithSignedField(std::string_view m) {
  return m.starts_with("tenant:") || m.starts_with("type:") ||
         m.starts_with("producer:");
}

absl::Status CheckSignerMayWrite(const KeyInfo& signer,
                                 const SignedFields& fields, uint64_t index,
                                 int64_t t_ns) {
  LEDGER_RETURN_IF_ERROR(signer.CheckValidAt(index, t_ns));
  switch (signer.role) {
    case KeyRole::kNode:
      return absl::OkStatus();
    case KeyRole::kCosigner:
      return absl::PermissionDeniedError(
          StrCat("key ", KeyIdLabel(signer.key_id), " (", signer.name,
                 ") is a checkpoint cosigner key and signs no entries"));
    case KeyRole::kEmitter:
      break;
  }
  if (fields.tenant != signer.tenant) {
    return absl::PermissionDeniedError(StrCat(
        "tenant: emitter key ", KeyIdLabel(signer.key_id), " (", signer.name,
        ") may write only tenant \"", signer.tenant, "\", not \"",
        fields.tenant, "\" (registered by entry ", signer.registered_at,
        "); sign with a key registered for that tenant"));
  }
  if (!ProducerMatches(signer.producer, fields.producer)) {
    return absl::PermissionDeniedError(StrCat(
        "producer: emitter key ", KeyIdLabel(signer.key_id), " (", signer.name,
        ") may sign only events of ", ProducerText(signer.producer), " (or \"",
        signer.producer, "/<version>\"), not \"", fields.producer,
        "\" (registered by entry ", signer.registered_at,
        "); sign with a key registered for that "
        "producer"));
  }
  if (IsLedgerInternalType(fields.type)) {
    return absl::PermissionDeniedError(
        StrCat("type: \"", fields.type,
               "\" is written by the ledger itself, not by emitters: emitter "
               "key ",
               KeyIdLabel(signer.key_id), " (", signer.name,
               ") may not sign it (key changes go through the Admin "
               "service)"));
  }
  return absl::OkStatus();
}

namespace {

// The registered emitter key a key.revoked or key.rotated event names, if
// the event is of its tenant (and, for key.rotated, its producer).
absl::StatusOr<KeyInfo> TargetKey(const Event& event, const Hash& id,
                                  KeyLookup find) {
  std::optional<KeyInfo> info = find(id);
  if (!info.has_value()) {
    return absl::NotFoundError(
        StrCat("key ", KeyIdLabel(id), " is not registered"));
  }
  const std::string expected_tenant = info->role == KeyRole::kEmitter
                                          ? info->tenant
                                          : std::string(kLedgerTenant);
  if (event.tenant != expected_tenant) {
    return absl::InvalidArgumentError(
        StrCat("tenant: must be the tenant of key ", KeyIdLabel(id), " (\"",
               expected_tenant, "\")"));
  }
  return *info;
}

absl::StatusOr<std::vector<KeyInfo>> ApplyRotation(const Event& event,
                                                   uint64_t index,
                                                   KeyLookup find) {
  LEDGER_ASSIGN_OR_RETURN(KeyRotation rotation, KeyRotationFromEvent(event));
  LEDGER_ASSIGN_OR_RETURN(KeyInfo old_key,
                          TargetKey(event, rotation.old_key_id, find));
  if (old_key.role != KeyRole::kEmitter) {
    return absl::FailedPreconditionError(
        StrCat(Who(old_key),
               " is not an emitter key; only emitter keys are "
               "rotated"));
  }
  if (old_key.rotated_at != 0) {
    return absl::FailedPreconditionError(StrCat(
        Who(old_key), " was already rotated out by entry ", old_key.rotated_at,
        "; rotate its successor, key ", KeyIdLabel(old_key.rotated_to)));
  }
  if (old_key.revoked_index != 0) {
    return absl::FailedPreconditionError(
        StrCat(Who(old_key), " was revoked by entry ", old_key.revoked_index,
               "; a revoked key is not rotated: register a new key"));
  }
  if (rotation.new_key.producer != old_key.producer) {
    return absl::InvalidArgumentError(StrCat(
        "attributes[\"key.producer\"]: must be the producer of key ",
        KeyIdLabel(old_key.key_id), " (", ProducerText(old_key.producer), ")"));
  }
  KeyInfo new_key = std::move(rotation.new_key);
  if (std::optional<KeyInfo> existing = find(new_key.key_id)) {
    return absl::AlreadyExistsError(StrCat(
        "key ", KeyIdLabel(new_key.key_id), " is already registered (by entry ",
        existing->registered_at, "); rotate to a new key"));
  }
  new_key.registered_at = index;
  new_key.rotated_from = old_key.key_id;
  old_key.rotated_at = index;
  old_key.rotated_to = new_key.key_id;
  return std::vector<KeyInfo>{std::move(old_key), std::move(new_key)};
}

}  // namespace

absl::StatusOr<std::vector<KeyInfo>> ApplyKeyEvent(const Event& event,
                                                   const KeyInfo& signer,
                                                   uint64_t index,
                                                   int64_t received_at_ns,
                                                   KeyLookup find) {
  if (!IsKeyEventType(event.type)) return std::vector<KeyInfo>();
  if (signer.role != KeyRole::kNode) {
    return absl::PermissionDeniedError(
        StrCat(event.type, " events can only be written by a ledger node"));
  }
  if (event.type == "key.registered") {
    LEDGER_ASSIGN_OR_RETURN(KeyInfo info, KeyInfoFromRegistration(event));
    if (std::optional<KeyInfo> existing = find(info.key_id)) {
      return absl::AlreadyExistsError(StrCat(
          "key ", KeyIdLabel(info.key_id), " is already registered (by entry ",
          existing->registered_at, ")"));
    }
    info.registered_at = index;
    return std::vector<KeyInfo>{std::move(info)};
  }
  if (event.type == "key.rotated") return ApplyRotation(event, index, find);
  LEDGER_ASSIGN_OR_RETURN(Hash id, KeyIdFromRevocation(event));
  LEDGER_ASSIGN_OR_RETURN(KeyInfo info, TargetKey(event, id, find));
  if (info.revoked_index != 0 || info.revoked_at_ns != 0) {
    return absl::FailedPreconditionError(StrCat(
        "key ", KeyIdLabel(id), " is already revoked",
        info.revoked_index != 0 ? StrCat(" (by entry ", info.revoked_index, ")")
                                : std::string()));
  }
  info.revoked_at_ns = received_at_ns;
  info.revoked_index = index;
  if (const std::string* reason = FindAttribute(event, kReason)) {
    info.revoke_reason = *reason;
  }
  return std::vector<KeyInfo>{std::move(info)};
}

std::string KeyIdLabel(const crypto::Hash& key_id) {
  return crypto::HexEncode(key_id).substr(0, 16);
}

absl::StatusOr<KeyInfo> KeyInfoFromRegistration(const Event& event) {
  if (event.type != "key.registered") {
    return absl::InvalidArgumentError(
        StrCat("type: expected key.registered, got ", event.type));
  }
  KeyInfo info;
  LEDGER_RETURN_IF_ERROR(
      ParsePublicKey(event, kAlgorithm, kPublicKey, kId, kName, info));
  const std::string* role = FindAttribute(event, kRole);
  if (role == nullptr) return MissingAttribute(kRole);
  const std::string* tenant = FindAttribute(event, kTenant);
  if (*role == "emitter") {
    info.role = KeyRole::kEmitter;
    if (tenant == nullptr || tenant->empty()) return MissingAttribute(kTenant);
    if (*tenant != event.tenant) {
      return absl::InvalidArgumentError(
          "attributes[\"key.tenant\"]: must equal the event's tenant");
    }
    info.tenant = *tenant;
    LEDGER_ASSIGN_OR_RETURN(info.producer, ProducerAttribute(event));
  } else if (*role == "node" || *role == "cosigner") {
    info.role = *role == "node" ? KeyRole::kNode : KeyRole::kCosigner;
    if (tenant != nullptr || event.tenant != kLedgerTenant) {
      return absl::InvalidArgumentError(StrCat(
          *role, " keys have no key.tenant and are registered in tenant ",
          kLedgerTenant));
    }
    if (FindAttribute(event, kProducer) != nullptr) {
      return absl::InvalidArgumentError(
          StrCat("attributes[\"key.producer\"]: ", *role,
                 " keys are not bound to a producer"));
    }
  } else {
    return absl::InvalidArgumentError(
        "attributes[\"key.role\"]: must be emitter, node or cosigner");
  }
  absl::StatusOr<int64_t> from = TimeAttribute(event, kValidFrom);
  if (!from.ok()) return from.status();
  absl::StatusOr<int64_t> until = TimeAttribute(event, kValidUntil);
  if (!until.ok()) return until.status();
  info.valid_from_ns = *from != 0 ? *from : event.occurred_at_ns;
  info.valid_until_ns = *until;
  if (info.valid_until_ns != 0 && info.valid_until_ns <= info.valid_from_ns) {
    return absl::InvalidArgumentError(
        "attributes[\"key.valid_until\"]: must be after key.valid_from");
  }
  return info;
}

absl::StatusOr<Hash> KeyIdFromRevocation(const Event& event) {
  if (event.type != "key.revoked") {
    return absl::InvalidArgumentError(
        StrCat("type: expected key.revoked, got ", event.type));
  }
  return KeyIdAttribute(event, kId);
}

absl::StatusOr<KeyRotation> KeyRotationFromEvent(const Event& event) {
  if (event.type != "key.rotated") {
    return absl::InvalidArgumentError(
        StrCat("type: expected key.rotated, got ", event.type));
  }
  KeyRotation out;
  LEDGER_ASSIGN_OR_RETURN(out.old_key_id, KeyIdAttribute(event, kId));
  KeyInfo& key = out.new_key;
  LEDGER_RETURN_IF_ERROR(ParsePublicKey(event, kNewAlgorithm, kNewPublicKey,
                                        kNewId, kNewName, key));
  if (key.key_id == out.old_key_id) {
    return absl::InvalidArgumentError(
        "attributes[\"key.new.id\"]: the new key must differ from the old");
  }
  key.role = KeyRole::kEmitter;
  const std::string* tenant = FindAttribute(event, kTenant);
  if (tenant == nullptr || tenant->empty()) return MissingAttribute(kTenant);
  if (*tenant != event.tenant) {
    return absl::InvalidArgumentError(
        "attributes[\"key.tenant\"]: must equal the event's tenant");
  }
  key.tenant = *tenant;
  LEDGER_ASSIGN_OR_RETURN(key.producer, ProducerAttribute(event));
  LEDGER_ASSIGN_OR_RETURN(key.valid_until_ns,
                          TimeAttribute(event, kNewValidUntil));
  key.valid_from_ns = event.occurred_at_ns;
  if (key.valid_until_ns != 0 && key.valid_until_ns <= key.valid_from_ns) {
    return absl::InvalidArgumentError(
        "attributes[\"key.new.valid_until\"]: must be after the event's "
        "occurred_at");
  }
  if (const std::string* reason = FindAttribute(event, kReason)) {
    out.reason = *reason;
  }
  return out;
}

Event KeyRegisteredEvent(const KeyInfo& info) {
  Event event;
  event.type = "key.registered";
  event.tenant =
      info.role == KeyRole::kEmitter ? info.tenant : std::string(kLedgerTenant);
  event.attributes = {
      {std::string(kAlgorithm), "ed25519"},
      {std::string(kPublicKey), crypto::Base64Encode(info.public_key)},
      {std::string(kId), crypto::HexEncode(KeyIdOf(info.public_key))},
      {std::string(kName), info.name},
      {std::string(kRole), std::string(KeyRoleName(info.role))},
  };
  if (info.role == KeyRole::kEmitter) {
    event.attributes.emplace_back(std::string(kTenant), info.tenant);
    if (!info.producer.empty()) {
      event.attributes.emplace_back(std::string(kProducer), info.producer);
    }
  }
  if (info.valid_from_ns != 0) {
    event.attributes.emplace_back(std::string(kValidFrom),
                                  StrCat(info.valid_from_ns));
  }
  if (info.valid_until_ns != 0) {
    event.attributes.emplace_back(std::string(kValidUntil),
                                  StrCat(info.valid_until_ns));
  }
  SortAttributes(event);
  return event;
}

Event KeyRevokedEvent(const KeyInfo& info, std::string_view reason) {
  Event event;
  event.type = "key.revoked";
  event.tenant =
      info.role == KeyRole::kEmitter ? info.tenant : std::string(kLedgerTenant);
  event.attributes = {{std::string(kId), crypto::HexEncode(info.key_id)}};
  if (!reason.empty()) {
    event.attributes.emplace_back(std::string(kReason), std::string(reason));
  }
  SortAttributes(event);
  return event;
}

Event KeyRotatedEvent(const KeyInfo& old_key, const KeyInfo& new_key,
                      std::string_view reason) {
  Event event;
  event.type = "key.rotated";
  event.tenant = old_key.tenant;
  event.attributes = {
      {std::string(kId), crypto::HexEncode(old_key.key_id)},
      {std::string(kNewAlgorithm), "ed25519"},
      {std::string(kNewId), crypto::HexEncode(KeyIdOf(new_key.public_key))},
      {std::string(kNewName), new_key.name},
      {std::string(kNewPublicKey), crypto::Base64Encode(new_key.public_key)},
      {std::string(kTenant), old_key.tenant},
  };
  if (!old_key.producer.empty()) {
    event.attributes.emplace_back(std::string(kProducer), old_key.producer);
  }
  if (new_key.valid_until_ns != 0) {
    event.attributes.emplace_back(std::string(kNewValidUntil),
                                  StrCat(new_key.valid_until_ns));
  }
  if (!reason.empty()) {
    event.attributes.emplace_back(std::string(kReason), std::string(reason));
  }
  SortAttributes(event);
  return event;
}

}  // namespace ledger
