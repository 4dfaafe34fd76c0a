#pragma once

// Key evidence in a receipt (ledger/FORMAT.md section 10.5): the key
// entries of the key that signed the proven entry (its registration, any
// rotations that led to it, and its end if the checkpoint covers it), each
// with an inclusion proof in the receipt's checkpoint. A verifier that
// trusts only the log's key learns from them which tenant and producer the
// key was registered for, when and by whom, and checks the entry's
// signature with it, with the ledger's own rules (entry_keys.h).

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "crypto/note.h"
#include "ledger/checkpoint.h"
#include "ledger/entry.h"
#include "ledger/entry_keys.h"
#include "ledger/event.h"
#include "ledger/tlog_proof_extra.h"

namespace ledger {

// What the key entries show.
struct KeyEvidence {
  // The key that signed the entry, as the key entries define it up to the
  // checkpoint (its later rotation or revocation included).
  KeyInfo key;
  // The entry that registered it (key.registered, or key.rotated for a
  // key that replaced another): type, ledger time and actor.
  std::string registered_by_type;
  int64_t registered_at_ns = 0;
  std::string registered_by;       // the entry's actor.id
  std::string registered_by_role;  // its actor.role
  // The original key.registered entry of the rotation lineage.
  uint64_t lineage_registered_at = 0;
  size_t key_entries = 0;
};

// Verifies the key entries of `extra` for `entry` (whose event is `event`),
// already proven included in `checkpoint`:
//   1. each key entry's index is below the checkpoint's size, the indexes
//      increase, and its inclusion proof leads to the checkpoint's root
//      (DataLoss otherwise);
//   2. each decodes, names its own index, and carries a key event signed
//      by a trusted Ed25519 key of the log (`log_keys`, type 0x01) whose
//      signature verifies (DataLoss / InvalidArgument);
//   3. the first is a key.registered, every other a key.rotated or
//      key.revoked; replayed in order with ApplyKeyEvent from an empty
//      registry they define the entry's signing key (InvalidArgument, or
//      ApplyKeyEvent's error);
//   4. the key may sign the event at the entry's index and received_at
//      (CheckSignerMayWrite: Unauthenticated, PermissionDenied), and the
//      entry's emitter signature verifies under it (DataLoss).
// FailedPrecondition if `extra` carries no key entries.
absl::StatusOr<KeyEvidence> VerifyKeyEvidence(
    const ReceiptExtra& extra, const Checkpoint& checkpoint, const Entry& entry,
    const Event& event, absl::Span<const crypto::NoteVerifier> log_keys);

}  // namespace ledger
