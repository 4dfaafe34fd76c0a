#pragma once

// Emitter and node public keys, as registered by key.registered /
// key.revoked entries (ledger/FORMAT.md, "Key events"). The Ledger owns the
// registry and changes it only when it applies such entries; lookups are
// thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "base/sync.h"
#include "crypto/bytes.h"
#include "crypto/ed25519.h"
#include "ledger/event.h"

namespace ledger {

enum class KeyRole : uint8_t {
  kEmitter = 1,   // appends events of its tenant
  kNode = 2,      // a ledger node: signs ledger-internal events and, as the
                  // log key, checkpoints
  kCosigner = 3,  // a node's timestamped checkpoint cosigner; signs no entry
};

struct KeyInfo {
  crypto::Hash key_id{};
  crypto::Ed25519PublicKey public_key{};
  std::string name;
  std::string tenant;  // empty for node keys
  KeyRole role = KeyRole::kEmitter;
  int64_t valid_from_ns = 0;
  int64_t valid_until_ns = 0;  // 0: no end
  int64_t revoked_at_ns = 0;   // 0: not revoked
  uint64_t registered_at = 0;  // index of the key.registered entry
  friend bool operator==(const KeyInfo&, const KeyInfo&) = default;

  // Unauthenticated (with a message saying why) unless the key may sign at
  // time `t_ns`.
  absl::Status CheckValidAt(int64_t t_ns) const;
};

// "emitter", "node", "cosigner". (Inline: node/convert.cc uses it without
// linking the ledger library.)
inline std::string_view KeyRoleName(KeyRole role) {
  switch (role) {
    case KeyRole::kEmitter:
      return "emitter";
    case KeyRole::kNode:
      return "node";
    case KeyRole::kCosigner:
      return "cosigner";
  }
  return "unknown";
}

// Looks a key up by ID, seeing changes not yet stored (the group being
// appended, the entries re-read so far).
using KeyLookup =
    absl::FunctionRef<std::optional<KeyInfo>(const crypto::Hash& key_id)>;

// The rules below are the one definition of what key events mean and who
// may write what. The ledger applies them when it appends a batch, and the
// start-up check and the scrub apply the same functions when they re-read
// the entries, so the two cannot disagree.

// The key that signed a batch: the registered key `key_id`, or, for the
// genesis entry of an empty ledger (one key.registered event registering a
// node key whose ID is `key_id`), that key itself. Unauthenticated if the
// key is not registered.
absl::StatusOr<KeyInfo> ResolveSigner(const crypto::Hash& key_id,
                                      absl::Span<const Event> batch,
                                      bool ledger_empty, KeyLookup find);

// Whether `signer` may sign an event of `tenant` and `type` appended at
// `t_ns`: the key is valid
// then (Unauthenticated otherwise, saying why); a cosigner key signs no
// entry; an emitter key writes only its own tenant and no ledger-internal
// type (PermissionDenied naming the field, without a field-path prefix).
absl::Status CheckSignerMayWrite(const KeyInfo& signer, std::string_view tenant,
                                 std::string_view type, int64_t t_ns);

// The effect of appending `event` at `index` and `received_at_ns`, signed
// by `signer`: for key.registered the new key, for key.revoked the revoked
// key as it now is, nullopt for every other type. Only node keys write key
// events (PermissionDenied); a key is registered once (AlreadyExists); only
// a registered, unrevoked key is revoked (NotFound, FailedPrecondition), by
// an event of its own tenant (InvalidArgument).
absl::StatusOr<std::optional<KeyInfo>> ApplyKeyEvent(const Event& event,
                                                     const KeyInfo& signer,
                                                     uint64_t index,
                                                     int64_t received_at_ns,
                                                     KeyLookup find);

// Parses a key.registered event (ledger/FORMAT.md, "Key events"). Sets
// every field but registered_at. InvalidArgument naming the attribute.
absl::StatusOr<KeyInfo> KeyInfoFromRegistration(const Event& event);
// The first 8 bytes of a key ID in hex: how messages name a key.
std::string KeyIdLabel(const crypto::Hash& key_id);
// Parses a key.revoked event: the ID of the revoked key.
absl::StatusOr<crypto::Hash> KeyIdFromRevocation(const Event& event);

// The key.registered / key.revoked event for a key: type, tenant and
// attributes are set; the caller fills event_id, occurred_at, producer and
// actor. valid_from_ns 0 means "from occurred_at".
Event KeyRegisteredEvent(const KeyInfo& info);
Event KeyRevokedEvent(const KeyInfo& info, std::string_view reason);

// Serialization for the `keys` column family.
std::string EncodeKeyInfo(const KeyInfo& info);
absl::StatusOr<KeyInfo> DecodeKeyInfo(std::string_view bytes);

class KeyRegistry {
 public:
  std::optional<KeyInfo> Find(const crypto::Hash& key_id) const;
  std::vector<KeyInfo> List() const;
  size_t size() const;

  // For the Ledger only.
  void Put(const KeyInfo& info);
  void Clear();

 private:
  mutable Mutex mu_;
  absl::flat_hash_map<std::string, KeyInfo> keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ledger
