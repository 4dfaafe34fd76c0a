#include "ledger/tlog_proof_keys.h"

#include <optional>
#include <utility>
#include <vector>

#include "base/status_macros.h"
#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "ledger/merkle.h"

namespace ledger {
namespace {

// The trusted Ed25519 log key whose entry key ID is `key_id`, or nullptr.
const crypto::NoteVerifier* FindLogKey(
    absl::Span<const crypto::NoteVerifier> log_keys, const Hash& key_id) {
  for (const crypto::NoteVerifier& v : log_keys) {
    if (v.type == crypto::NoteSigType::kEd25519 && KeyIdOf(v.key) == key_id) {
      return &v;
    }
  }
  return nullptr;
}

// Steps 1 and 2 for one key entry: its entry and event, authentic.
absl::StatusOr<std::pair<Entry, Event>> OpenKeyEntry(
    const ProvenEntry& proven, const Checkpoint& checkpoint,
    absl::Span<const crypto::NoteVerifier> log_keys) {
  LEDGER_RETURN_IF_ERROR(VerifyInclusion(crypto::HashLeaf(proven.entry),
                                         proven.index, checkpoint.size,
                                         proven.proof, checkpoint.root));
  LEDGER_ASSIGN_OR_RETURN(Entry entry, DecodeEntry(proven.entry));
  if (entry.index != proven.index) {
    return absl::DataLossError(StrCat("the entry says it is index ",
                                      entry.index, " but is proven at index ",
                                      proven.index));
  }
  LEDGER_ASSIGN_OR_RETURN(Event event, DecodeEvent(entry.event_bytes));
  if (!IsKeyEventType(event.type)) {
    return absl::InvalidArgumentError(
        StrCat("holds a ", event.type, " event, not a key event"));
  }
  const crypto::NoteVerifier* signer =
      FindLogKey(log_keys, entry.emitter.key_id);
  if (signer == nullptr) {
    return absl::DataLossError(
        StrCat("is signed by key ", KeyIdLabel(entry.emitter.key_id),
               ", which is not a trusted log key; key entries are signed by "
               "the log's node key"));
  }
  LEDGER_RETURN_IF_ERROR(VerifyEntrySignature(entry, signer->key));
  return std::pair<Entry, Event>(std::move(entry), std::move(event));
}

}  // namespace

absl::StatusOr<KeyEvidence> VerifyKeyEvidence(
    const ReceiptExtra& extra, const Checkpoint& checkpoint, const Entry& entry,
    const Event& event, absl::Span<const crypto::NoteVerifier> log_keys) {
  if (extra.key_entries.empty()) {
    return absl::FailedPreconditionError(
        "the receipt carries no key evidence (ask for it with `ledgerctl "
        "prove --key-evidence`)");
  }
  KeyInfo node;  // the signer ApplyKeyEvent expects: a node key
  node.role = KeyRole::kNode;
  std::vector<KeyInfo> registry;
  const auto find = [&](const Hash& id) -> std::optional<KeyInfo> {
    for (const KeyInfo& k : registry) {
      if (k.key_id == id) return k;
    }
    return std::nullopt;
  };
  KeyEvidence out;
  out.key_entries = extra.key_entries.size();
  std::vector<std::pair<Entry, Event>> opened;
  for (size_t i = 0; i < extra.key_entries.size(); ++i) {
    const ProvenEntry& proven = extra.key_entries[i];
    const std::string field =
        StrCat("key_entries[", i, "] (entry ", proven.index, ")");
    if (i > 0 && proven.index <= extra.key_entries[i - 1].index) {
      return absl::InvalidArgumentError(
          StrCat(field, ": key entries must be in increasing index order"));
    }
    absl::StatusOr<std::pair<Entry, Event>> e =
        OpenKeyEntry(proven, checkpoint, log_keys);
    if (!e.ok()) return Annotate(e.status(), field);
    const Event& key_event = e->second;
    if ((i == 0) != (key_event.type == "key.registered")) {
      return absl::InvalidArgumentError(
          StrCat(field, ": ",
                 i == 0 ? "the first key entry must be a key.registered"
                        : "only the first key entry may be a key.registered",
                 ", not a ", key_event.type));
    }
    absl::StatusOr<std::vector<KeyInfo>> changed = ApplyKeyEvent(
        key_event, node, proven.index, e->first.received_at_ns, find);
    if (!changed.ok()) return Annotate(changed.status(), field);
    for (KeyInfo& k : *changed) {
      bool replaced = false;
      for (KeyInfo& r : registry) {
        if (r.key_id == k.key_id) {
          r = k;
          replaced = true;
        }
      }
      if (!replaced) registry.push_back(std::move(k));
    }
    opened.push_back(*std::move(e));
  }
  std::optional<KeyInfo> key = find(entry.emitter.key_id);
  if (!key.has_value()) {
    return absl::InvalidArgumentError(StrCat(
        "the key entries do not define key ", KeyIdLabel(entry.emitter.key_id),
        ", which signed entry ", entry.index));
  }
  LEDGER_RETURN_IF_ERROR(CheckSignerMayWrite(
      *key, SignedFields{event.tenant, event.type, event.producer}, entry.index,
      entry.received_at_ns));
  LEDGER_RETURN_IF_ERROR(Annotate(VerifyEntrySignature(entry, key->public_key),
                                  StrCat("emitter key ", key->name)));
  out.key = *key;
  out.lineage_registered_at = extra.key_entries[0].index;
  for (const auto& [e, ev] : opened) {
    if (e.index != key->registered_at) continue;
    out.registered_by_type = ev.type;
    out.registered_at_ns = e.received_at_ns;
    out.registered_by = ev.actor.id;
    out.registered_by_role = ev.actor.role;
  }
  return out;
}

}  // namespace ledger
