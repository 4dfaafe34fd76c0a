#include "ledger/key_registry.h"

#include <algorithm>

#include "base/status_macros.h"
#include "base/strings.h"
#include "base/sync.h"
#include "ledger/codec.h"

namespace ledger {

namespace {

void EncodeV1Fields(const KeyInfo& info, Encoder& e) {
  e.PutHash(info.key_id);
  e.PutRaw(crypto::AsView(info.public_key));
  e.PutBytes(info.name);
  e.PutBytes(info.tenant);
  e.PutU8(static_cast<uint8_t>(info.role));
  e.PutI64(info.valid_from_ns);
  e.PutI64(info.valid_until_ns);
  e.PutI64(info.revoked_at_ns);
  e.PutU64(info.registered_at);
}

}  // namespace

std::string EncodeKeyInfoV1(const KeyInfo& info) {
  Encoder e;
  e.PutU8(1);  // version
  EncodeV1Fields(info, e);
  return e.Take();
}

std::string EncodeKeyInfo(const KeyInfo& info) {
  Encoder e;
  e.PutU8(2);  // version
  EncodeV1Fields(info, e);
  e.PutBytes(info.producer);
  e.PutU64(info.revoked_index);
  e.PutBytes(info.revoke_reason);
  e.PutU64(info.rotated_at);
  e.PutHash(info.rotated_to);
  e.PutHash(info.rotated_from);
  return e.Take();
}

absl::StatusOr<KeyInfo> DecodeKeyInfo(std::string_view bytes) {
  absl::StatusOr<KeyInfo> info = [&]() -> absl::StatusOr<KeyInfo> {
    Decoder d(bytes);
    KeyInfo info;
    LEDGER_ASSIGN_OR_RETURN(uint8_t version, d.GetU8("version"));
    if (version != 2) {
      return absl::InvalidArgumentError(
          StrCat("record version ", int{version}, " (this build reads 2)"));
    }
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
    LEDGER_ASSIGN_OR_RETURN(std::string_view producer,
                            d.GetBytes("producer", 1 << 16));
    info.producer = std::string(producer);
    LEDGER_ASSIGN_OR_RETURN(info.revoked_index, d.GetU64("revoked_index"));
    LEDGER_ASSIGN_OR_RETURN(std::string_view reason,
                            d.GetBytes("revoke_reason", 1 << 16));
    info.revoke_reason = std::string(reason);
    LEDGER_ASSIGN_OR_RETURN(info.rotated_at, d.GetU64("rotated_at"));
    LEDGER_ASSIGN_OR_RETURN(info.rotated_to, d.GetHash("rotated_to"));
    LEDGER_ASSIGN_OR_RETURN(info.rotated_from, d.GetHash("rotated_from"));
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

void KeyRegistry::Erase(const crypto::Hash& key_id) {
  MutexLock lock(&mu_);
  keys_.erase(std::string(crypto::AsView(key_id)));
}

}  // namespace ledger
