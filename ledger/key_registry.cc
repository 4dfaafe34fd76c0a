#include "ledger/key_registry.h"

#include <algorithm>

#include "base/status_macros.h"
#include "base/strings.h"
#include "base/sync.h"
#include "crypto/note.h"
#include "ledger/codec.h"
#include "ledger/entry.h"

namespace ledger {
namespace {

constexpr std::string_view kAlgorithm = "key.algorithm";
constexpr std::string_view kPublicKey = "key.public_key";
constexpr std::string_view kId = "key.id";
constexpr std::string_view kName = "key.name";
constexpr std::string_view kRole = "key.role";
constexpr std::string_view kTenant = "key.tenant";
constexpr std::string_view kValidFrom = "key.valid_from";
constexpr std::string_view kValidUntil = "key.valid_until";
constexpr std::string_view kReason = "key.reason";

const std::string* FindAttribute(const Event& event, std::string_view key) {
  auto it = std::lower_bound(
      event.attributes.begin(), event.attributes.end(), key,
      [](const auto& kv, std::string_view k) { return kv.first < k; });
  if (it == event.attributes.end() || it->first != key) return nullptr;
  return &it->second;
}

absl::Status MissingAttribute(std::string_view key) {
  return absl::InvalidArgumentError(
      StrCat("attributes[\"", key, "\"]: required for key events"));
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

absl::StatusOr<Hash> KeyIdAttribute(const Event& event) {
  const std::string* id = FindAttribute(event, kId);
  if (id == nullptr) return MissingAttribute(kId);
  absl::StatusOr<std::string> raw = crypto::HexDecode(*id);
  if (!raw.ok() || raw->size() != crypto::kHashSize ||
      crypto::HexEncode(*raw) != *id) {
    return absl::InvalidArgumentError(
        StrCat("attributes[\"key.id\"]: must be 64 lowercase hex digits"));
  }
  return crypto::ToArray<crypto::kHashSize>(*raw, "key.id");
}

void SortAttributes(Event& event) {
  std::sort(event.attributes.begin(), event.attributes.end());
}

}  // namespace

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
             " is not registered; register it with `ledgerctl register-key`"));
}

absl::Status CheckSignerMayWrite(const KeyInfo& signer, std::string_view tenant,
                                 std::string_view type, int64_t t_ns) {
  LEDGER_RETURN_IF_ERROR(signer.CheckValidAt(t_ns));
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
  if (tenant != signer.tenant) {
    return absl::PermissionDeniedError(
        StrCat("tenant: emitter key ", KeyIdLabel(signer.key_id), " (",
               signer.name, ") may write only tenant \"", signer.tenant,
               "\", not \"", tenant, "\""));
  }
  if (IsLedgerInternalType(type)) {
    return absl::PermissionDeniedError(
        StrCat("type: \"", type,
               "\" is written by the ledger itself, not by emitters"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<KeyInfo>> ApplyKeyEvent(const Event& event,
                                                     const KeyInfo& signer,
                                                     uint64_t index,
                                                     int64_t received_at_ns,
                                                     KeyLookup find) {
  if (event.type != "key.registered" && event.type != "key.revoked") {
    return std::nullopt;
  }
  if (signer.role != KeyRole::kNode) {
    return absl::PermissionDeniedError(
        StrCat(event.type, " events can only be written by a ledger node"));
  }
  if (event.type == "key.registered") {
    LEDGER_ASSIGN_OR_RETURN(KeyInfo info, KeyInfoFromRegistration(event));
    if (find(info.key_id).has_value()) {
      return absl::AlreadyExistsError(
          StrCat("key ", KeyIdLabel(info.key_id), " is already registered"));
    }
    info.registered_at = index;
    return info;
  }
  LEDGER_ASSIGN_OR_RETURN(Hash id, KeyIdFromRevocation(event));
  std::optional<KeyInfo> info = find(id);
  if (!info.has_value()) {
    return absl::NotFoundError(
        StrCat("key ", KeyIdLabel(id), " is not registered"));
  }
  if (info->revoked_at_ns != 0) {
    return absl::FailedPreconditionError(
        StrCat("key ", KeyIdLabel(id), " is already revoked"));
  }
  const std::string expected_tenant = info->role == KeyRole::kEmitter
                                          ? info->tenant
                                          : std::string(kLedgerTenant);
  if (event.tenant != expected_tenant) {
    return absl::InvalidArgumentError(
        StrCat("tenant: must be the tenant of the revoked key (\"",
               expected_tenant, "\")"));
  }
  info->revoked_at_ns = received_at_ns;
  return info;
}

std::string KeyIdLabel(const crypto::Hash& key_id) {
  return crypto::HexEncode(key_id).substr(0, 16);
}

absl::Status KeyInfo::CheckValidAt(int64_t t_ns) const {
  const std::string who =
      StrCat("emitter key ", KeyIdLabel(key_id), " (", name, ")");
  if (revoked_at_ns != 0 && t_ns >= revoked_at_ns) {
    return absl::UnauthenticatedError(
        StrCat(who, " was revoked at ", revoked_at_ns, " ns"));
  }
  if (t_ns < valid_from_ns) {
    return absl::UnauthenticatedError(
        StrCat(who, " is not valid before ", valid_from_ns, " ns"));
  }
  if (valid_until_ns != 0 && t_ns >= valid_until_ns) {
    return absl::UnauthenticatedError(
        StrCat(who, " expired at ", valid_until_ns, " ns"));
  }
  return absl::OkStatus();
}

absl::StatusOr<KeyInfo> KeyInfoFromRegistration(const Event& event) {
  if (event.type != "key.registered") {
    return absl::InvalidArgumentError(
        StrCat("type: expected key.registered, got ", event.type));
  }
  KeyInfo info;
  const std::string* alg = FindAttribute(event, kAlgorithm);
  if (alg == nullptr) return MissingAttribute(kAlgorithm);
  if (*alg != "ed25519") {
    return absl::InvalidArgumentError(
        StrCat("attributes[\"key.algorithm\"]: only ed25519 is supported"));
  }
  const std::string* pub = FindAttribute(event, kPublicKey);
  if (pub == nullptr) return MissingAttribute(kPublicKey);
  absl::StatusOr<std::string> raw = crypto::Base64Decode(*pub);
  if (!raw.ok() || raw->size() != crypto::kEd25519PublicKeySize) {
    return absl::InvalidArgumentError(
        "attributes[\"key.public_key\"]: must be base64 of 32 bytes");
  }
  info.public_key =
      *crypto::ToArray<crypto::kEd25519PublicKeySize>(*raw, "public key");
  info.key_id = KeyIdOf(info.public_key);
  absl::StatusOr<Hash> id = KeyIdAttribute(event);
  if (!id.ok()) return id.status();
  if (*id != info.key_id) {
    return absl::InvalidArgumentError(
        "attributes[\"key.id\"]: does not match key.public_key");
  }
  const std::string* name = FindAttribute(event, kName);
  if (name == nullptr || name->empty()) return MissingAttribute(kName);
  if (!crypto::IsValidKeyName(*name)) {
    return absl::InvalidArgumentError(
        "attributes[\"key.name\"]: must be a valid note key name (no spaces, "
        "'+' or control characters)");
  }
  info.name = *name;
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
  } else if (*role == "node" || *role == "cosigner") {
    info.role = *role == "node" ? KeyRole::kNode : KeyRole::kCosigner;
    if (tenant != nullptr || event.tenant != kLedgerTenant) {
      return absl::InvalidArgumentError(StrCat(
          *role, " keys have no key.tenant and are registered in tenant ",
          kLedgerTenant));
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
  return KeyIdAttribute(event);
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

std::string EncodeKeyInfo(const KeyInfo& info) {
  Encoder e;
  e.PutU8(1);  // version
  e.PutHash(info.key_id);
  e.PutRaw(crypto::AsView(info.public_key));
  e.PutBytes(info.name);
  e.PutBytes(info.tenant);
  e.PutU8(static_cast<uint8_t>(info.role));
  e.PutI64(info.valid_from_ns);
  e.PutI64(info.valid_until_ns);
  e.PutI64(info.revoked_at_ns);
  e.PutU64(info.registered_at);
  return e.Take();
}

absl::StatusOr<KeyInfo> DecodeKeyInfo(std::string_view bytes) {
  absl::StatusOr<KeyInfo> info = [&]() -> absl::StatusOr<KeyInfo> {
    Decoder d(bytes);
    KeyInfo info;
    LEDGER_ASSIGN_OR_RETURN(uint8_t version, d.GetU8("version"));
    if (version != 1) return absl::InvalidArgumentError("unknown version");
    LEDGER_ASSIGN_OR_RETURN(info.key_id, d.GetHash("key_id"));
    LEDGER_ASSIGN_OR_RETURN(
        std::string_view pub,
        d.GetRaw("public_key", crypto::kEd25519PublicKeySize));
    LEDGER_ASSIGN_OR_RETURN(
        info.public_key,
        crypto::ToArray<crypto::kEd25519PublicKeySize>(pub, "public key"));
    LEDGER_ASSIGN_OR_RETURN(std::string_view name, d.GetBytes("name", 1 << 16));
    LEDGER_ASSIGN_OR_RETURN(std::string_view tenant,
                            d.GetBytes("tenant", 1 << 16));
    info.name = std::string(name);
    info.tenant = std::string(tenant);
    LEDGER_ASSIGN_OR_RETURN(uint8_t role, d.GetU8("role"));
    if (role < 1 || role > 3) return absl::InvalidArgumentError("bad role");
    info.role = static_cast<KeyRole>(role);
    LEDGER_ASSIGN_OR_RETURN(info.valid_from_ns, d.GetI64("valid_from"));
    LEDGER_ASSIGN_OR_RETURN(info.valid_until_ns, d.GetI64("valid_until"));
    LEDGER_ASSIGN_OR_RETURN(info.revoked_at_ns, d.GetI64("revoked_at"));
    LEDGER_ASSIGN_OR_RETURN(info.registered_at, d.GetU64("registered_at"));
    LEDGER_RETURN_IF_ERROR(d.Finish("key record"));
    return info;
  }();
  if (!info.ok()) {
    return absl::DataLossError(
        StrCat("stored key record is corrupt: ", info.status().message()));
  }
  return info;
}

std::optional<KeyInfo> KeyRegistry::Find(const crypto::Hash& key_id) const {
  MutexLock lock(&mu_);
  auto it = keys_.find(std::string(crypto::AsView(key_id)));
  if (it == keys_.end()) return std::nullopt;
  return it->second;
}

std::vector<KeyInfo> KeyRegistry::List() const {
  MutexLock lock(&mu_);
  std::vector<KeyInfo> out;
  out.reserve(keys_.size());
  for (const auto& [id, info] : keys_) out.push_back(info);
  std::sort(out.begin(), out.end(), [](const KeyInfo& a, const KeyInfo& b) {
    return a.registered_at < b.registered_at;
  });
  return out;
}

size_t KeyRegistry::size() const {
  MutexLock lock(&mu_);
  return keys_.size();
}

void KeyRegistry::Clear() {
  MutexLock lock(&mu_);
  keys_.clear();
}

void KeyRegistry::Put(const KeyInfo& info) {
  MutexLock lock(&mu_);
  keys_[std::string(crypto::AsView(info.key_id))] = info;
}

}  // namespace ledger
