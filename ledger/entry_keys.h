#pragma once

// What key events mean (ledger/FORMAT.md section 8): key.registered,
// key.rotated and key.revoked, the keys they define, and who may sign what.
// Pure functions of the events, in ledger_format, so that the ledger (when
// it appends and when it re-reads its entries) and an offline verifier
// (replaying the key entries a receipt carries) apply the same rules.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
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

// The index of an entry not yet appended: later than every stored entry.
inline constexpr uint64_t kNextIndex = std::numeric_limits<uint64_t>::max();

struct KeyInfo {
  crypto::Hash key_id{};
  crypto::Ed25519PublicKey public_key{};
  std::string name;
  std::string tenant;  // empty for node keys
  KeyRole role = KeyRole::kEmitter;
  int64_t valid_from_ns = 0;
  int64_t valid_until_ns = 0;  // 0: no end
  int64_t revoked_at_ns = 0;   // 0: not revoked
  // Index of the entry that registered the key: its key.registered, or the
  // key.rotated that introduced it.
  uint64_t registered_at = 0;
  // Emitter keys: the producer (event field `producer`) the key signs for,
  // see ProducerMatches. Empty: any producer (keys registered before keys
  // were bound to producers).
  std::string producer;
  // Index of the key.revoked entry; 0: not revoked (entry 0 is genesis).
  uint64_t revoked_index = 0;
  std::string revoke_reason;
  // Index of the key.rotated entry that replaced it, and its successor;
  // 0 / zeros: not rotated out.
  uint64_t rotated_at = 0;
  crypto::Hash rotated_to{};
  // The key it replaced, if a key.rotated registered it; zeros otherwise.
  crypto::Hash rotated_from{};
  friend bool operator==(const KeyInfo&, const KeyInfo&) = default;

  // Unauthenticated unless the key may sign the entry at `index` appended
  // at `t_ns` (kNextIndex: the next entry): registered before it, not
  // revoked or rotated out at an earlier index, and t_ns within
  // [valid_from, valid_until). The message names the key, the entry that
  // ended (or began) its validity, and what to do.
  absl::Status CheckValidAt(uint64_t index, int64_t t_ns) const;
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

// key.registered, key.rotated or key.revoked.
bool IsKeyEventType(std::string_view type);

// Whether an event of `producer` may be signed by a key bound to
// `key_producer`: the key has no producer, or the two are equal, or the
// event's producer is the key's followed by "/" and anything (a version:
// a key for "label-studio" signs "label-studio/1.13.1").
bool ProducerMatches(std::string_view key_producer, std::string_view producer);

// Looks a key up by ID, seeing changes not yet stored (the group being
// appended, the entries re-read so far).
using KeyLookup =
    absl::FunctionRef<std::optional<KeyInfo>(const crypto::Hash& key_id)>;

// The key that signed a batch: the registered key `key_id`, or, for the
// genesis entry of an empty ledger (one key.registered event registering a
// node key whose ID is `key_id`), that key itself. Unauthenticated if the
// key is not registered.
absl::StatusOr<KeyInfo> ResolveSigner(const crypto::Hash& key_id,
                                      absl::Span<const Event> batch,
                                      bool ledger_empty, KeyLookup find);

// The fields of an event that decide whether a key may sign it.
struct SignedFields {
  std::string_view tenant;
  std::string_view type;
  std::string_view producer;
};

// Whether `signer` may sign an event with `fields` appended at `index`
// (kNextIndex: not yet appended) and `t_ns`: the key is valid then
// (CheckValidAt, Unauthenticated); a cosigner key signs no entry; an
// emitter key writes only its own tenant and producer and no
// ledger-internal type (PermissionDenied, the message starting with the
// field: "tenant: ...", "producer: ...", "type: ...").
absl::Status CheckSignerMayWrite(const KeyInfo& signer,
                                 const SignedFields& fields, uint64_t index,
                                 int64_t t_ns);

// True for the PermissionDenied messages of CheckSignerMayWrite that start
// with a field name (callers prefix the event's path).
bool StartsWithSignedField(std::string_view message);

// The effect of appending key event `event` at `index` and
// `received_at_ns`, signed by `signer`: the keys it adds or changes, in
// order (key.registered: the new key; key.revoked: the revoked key as it
// now is; key.rotated: the old key, now rotated out, then the new key);
// empty for every other type. Only node keys write key events
// (PermissionDenied); a key is registered once (AlreadyExists); only a
// registered emitter key is rotated or revoked (NotFound), not twice and
// not a rotated-out one rotated again (FailedPrecondition), by an event of
// its own tenant and producer (InvalidArgument). This is the one
// definition of what key events do: the ledger applies it when it appends
// and when it re-reads its entries, and verifiers when they replay them.
absl::StatusOr<std::vector<KeyInfo>> ApplyKeyEvent(const Event& event,
                                                   const KeyInfo& signer,
                                                   uint64_t index,
                                                   int64_t received_at_ns,
                                                   KeyLookup find);

// Parses a key.registered event (ledger/FORMAT.md, "Key events"). Sets
// every field but registered_at. InvalidArgument naming the attribute.
absl::StatusOr<KeyInfo> KeyInfoFromRegistration(const Event& event);
// Parses a key.revoked event: the ID of the revoked key.
absl::StatusOr<crypto::Hash> KeyIdFromRevocation(const Event& event);

// A parsed key.rotated event.
struct KeyRotation {
  crypto::Hash old_key_id{};
  // The new key: tenant, producer, name, public key, validity; role
  // emitter, registered_at and rotated_from not set.
  KeyInfo new_key;
  std::string reason;
};
absl::StatusOr<KeyRotation> KeyRotationFromEvent(const Event& event);

// The first 8 bytes of a key ID in hex: how messages name a key.
std::string KeyIdLabel(const crypto::Hash& key_id);

// The key events for a key: type, tenant and attributes are set; the
// caller fills event_id, occurred_at, producer and actor. valid_from_ns 0
// means "from occurred_at". KeyRotatedEvent takes the new key's public
// key, name and valid_until_ns from `new_key`, and the tenant and producer
// from `old_key`.
Event KeyRegisteredEvent(const KeyInfo& info);
Event KeyRevokedEvent(const KeyInfo& info, std::string_view reason);
Event KeyRotatedEvent(const KeyInfo& old_key, const KeyInfo& new_key,
                      std::string_view reason);

}  // namespace ledger
