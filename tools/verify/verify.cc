#include "tools/verify/verify.h"

#include <algorithm>
#include <optional>

#include "base/strings.h"
#include "crypto/key_file.h"
#include "crypto/rfc6962.h"
#include "ledger/answer.h"
#include "ledger/checkpoint.h"
#include "ledger/entry.h"
#include "ledger/event.h"
#include "ledger/merkle.h"
#include "ledger/tlog_proof.h"
#include "ledger/tlog_proof_extra.h"
#include "ledger/tlog_proof_keys.h"
#include "tools/verify/format.h"

namespace ledger::verify {
namespace {

// Adds the fields of a verified checkpoint, each key prefixed by `prefix`.
void AddCheckpointFields(Report& report, const VerifiedCheckpoint& cp,
                         std::string_view prefix) {
  if (prefix.empty()) report.Set("origin", cp.checkpoint.origin);
  report.Set(StrCat(prefix, "tree_size"), cp.checkpoint.size);
  report.Set(StrCat(prefix, "root_hash"),
             crypto::HexEncode(cp.checkpoint.root));
  std::vector<std::string> signers;
  std::optional<uint64_t> cosigned_at;
  for (const crypto::VerifiedSignature& sig : cp.signatures) {
    signers.push_back(sig.verifier.name);
    if (sig.timestamp.has_value()) {
      cosigned_at = std::max(cosigned_at.value_or(0), *sig.timestamp);
    }
  }
  report.Set(StrCat(prefix, "signed_by"), std::move(signers));
  if (cosigned_at.has_value()) {
    report.Set(
        StrCat(prefix, "cosigned_at"),
        FormatRfc3339(static_cast<int64_t>(*cosigned_at) * 1'000'000'000));
  }
}

void AddEntryFields(Report& report, const Entry& entry) {
  report.Set("received_at", FormatRfc3339(entry.received_at_ns));
  report.Set("key_id", crypto::HexEncode(entry.emitter.key_id));
  report.Set("batch_size", uint64_t{entry.emitter.batch_size});
  report.Set("batch_index", uint64_t{entry.emitter.batch_index});
  report.Set("risk", std::string(RiskGradeName(entry.risk.grade)));
  if (!entry.risk.reasons.empty()) {
    report.Set("risk_reasons", entry.risk.reasons);
  }
  report.Set("policy_version", uint64_t{entry.policy_version});
  report.Set("prev_chain_hash", crypto::HexEncode(entry.prev_chain_hash));
}

void AddEventFields(Report& report, const Event& event) {
  report.Set("event_id", FormatUuid(event.event_id));
  report.Set("tenant", event.tenant);
  report.Set("type", event.type);
  report.Set("occurred_at", FormatRfc3339(event.occurred_at_ns));
  report.Set("producer", event.producer);
  report.Set("actor",
             StrCat(ActorKindName(event.actor.kind), ":", event.actor.id));
}

// The emitter key whose ID the entry names, or nullptr.
const crypto::NoteVerifier* FindEmitterKey(const Trust& trust,
                                           const Hash& key_id) {
  for (const crypto::NoteVerifier& v : trust.emitter_keys) {
    if (KeyIdOf(v.key) == key_id) return &v;
  }
  return nullptr;
}

// Checks the emitter signature of `entry` when emitter keys are trusted.
void CheckEmitter(Report& report, const Entry& entry, const Trust& trust) {
  if (trust.emitter_keys.empty()) {
    report.Set("emitter_signature", "not checked (no emitter keys given)");
    return;
  }
  const crypto::NoteVerifier* key = FindEmitterKey(trust, entry.emitter.key_id);
  if (key == nullptr) {
    report.Fail(kCheckEmitterKey,
                StrCat("entry is signed by key ",
                       crypto::HexEncode(entry.emitter.key_id),
                       ", which is none of the ", trust.emitter_keys.size(),
                       " emitter keys given"));
    return;
  }
  report.Set("emitter_key", key->name);
  absl::Status s = VerifyEntrySignature(entry, key->key);
  if (!s.ok()) {
    report.Fail(kCheckEmitterSignature,
                Annotate(s, StrCat("emitter key ", key->name)));
    return;
  }
  report.Set("emitter_signature", "verified");
}

// Checks the key evidence of a receipt and reports what it shows about the
// key that signed the entry: for whom, when and by whom it was registered,
// and what became of it up to the checkpoint.
void CheckKeyEvidence(Report& report, const ReceiptExtra& extra,
                      const VerifiedCheckpoint& cp, const Entry& entry,
                      const Event& event, const Trust& trust) {
  absl::StatusOr<KeyEvidence> evidence =
      VerifyKeyEvidence(extra, cp.checkpoint, entry, event, trust.log_keys);
  if (!evidence.ok()) {
    const bool rule = absl::IsUnauthenticated(evidence.status()) ||
                      absl::IsPermissionDenied(evidence.status());
    report.Fail(rule ? kCheckKeyValidity : kCheckKeyEvidence,
                evidence.status());
    return;
  }
  const KeyInfo& key = evidence->key;
  report.Set("key_evidence", StrCat("verified (", evidence->key_entries,
                                    " key entries included in the "
                                    "checkpoint)"));
  report.Set("emitter_key", key.name);
  report.Set("key_tenant", key.tenant);
  report.Set("key_producer",
             key.producer.empty() ? std::string("(any)") : key.producer);
  report.Set("key_registered_by_entry", key.registered_at);
  report.Set("key_registered_by_type", evidence->registered_by_type);
  report.Set("key_registered_at", FormatRfc3339(evidence->registered_at_ns));
  report.Set("key_registered_by",
             evidence->registered_by_role.empty()
                 ? evidence->registered_by
                 : StrCat(evidence->registered_by, " (",
                          evidence->registered_by_role, ")"));
  if (key.rotated_from != Hash{}) {
    report.Set("key_replaced", crypto::HexEncode(key.rotated_from));
  }
  std::string later = "neither rotated out nor revoked up to the checkpoint";
  if (key.rotated_at != 0) {
    later = StrCat("rotated out by entry ", key.rotated_at, " to key ",
                   crypto::HexEncode(key.rotated_to));
  }
  if (key.revoked_index != 0) {
    later = StrCat(key.rotated_at != 0 ? later + "; " : std::string(),
                   "revoked by entry ", key.revoked_index,
                   key.revoke_reason.empty()
                       ? std::string()
                       : StrCat(" (reason: ", key.revoke_reason, ")"));
  }
  report.Set("key_valid_at_entry", StrCat("yes; after it: ", later));
  report.Set("emitter_signature", "verified (key from its registration)");
}

std::string ReadError(const absl::Status& status) {
  return std::string(ToStd(status.message()));
}

}  // namespace

absl::StatusOr<Trust> LoadTrust(
    const std::vector<std::string>& log_key_files,
    const std::vector<std::string>& emitter_key_files, std::string origin) {
  if (log_key_files.empty()) {
    return absl::InvalidArgumentError("no log key file given");
  }
  Trust trust;
  trust.origin = std::move(origin);
  for (const std::string& path : log_key_files) {
    absl::StatusOr<std::vector<crypto::NoteVerifier>> keys =
        crypto::ReadVerifierKeyFile(path);
    if (!keys.ok()) return keys.status();
    trust.log_keys.insert(trust.log_keys.end(), keys->begin(), keys->end());
  }
  for (const std::string& path : emitter_key_files) {
    absl::StatusOr<std::vector<crypto::NoteVerifier>> keys =
        crypto::ReadVerifierKeyFile(path);
    if (!keys.ok()) return keys.status();
    trust.emitter_keys.insert(trust.emitter_keys.end(), keys->begin(),
                              keys->end());
  }
  return trust;
}

Report VerifyProof(std::string_view subject, std::string_view tlog_proof,
                   const Trust& trust) {
  Report report("proof", std::string(subject));
  absl::StatusOr<TlogProof> proof = ParseTlogProof(tlog_proof);
  if (!proof.ok()) {
    report.Fail(kCheckParse, proof.status());
    return report;
  }
  absl::StatusOr<VerifiedCheckpoint> cp =
      OpenCheckpoint(proof->checkpoint, trust.log_keys, trust.origin);
  if (!cp.ok()) {
    report.Fail(kCheckCheckpoint, cp.status());
    return report;
  }
  AddCheckpointFields(report, *cp, "");
  report.Set("index", proof->index);
  if (!proof->extra.has_value()) {
    report.Fail(kCheckEntry,
                "the proof has no extra line, so it carries no entry bytes");
    return report;
  }
  absl::StatusOr<ReceiptExtra> extra = DecodeReceiptExtra(*proof->extra);
  if (!extra.ok()) {
    report.Fail(kCheckEntry, Annotate(extra.status(), "extra data"));
    return report;
  }
  report.Set("leaf_hash", crypto::HexEncode(crypto::HashLeaf(extra->entry)));
  absl::StatusOr<VerifiedTlogProof> included =
      VerifyTlogProof(*proof, trust.log_keys, std::nullopt, trust.origin);
  if (!included.ok()) {
    report.Fail(kCheckInclusion, included.status());
    return report;
  }
  absl::StatusOr<Entry> entry = DecodeEntry(extra->entry);
  if (!entry.ok()) {
    report.Fail(kCheckEntry, Annotate(entry.status(), "entry bytes"));
    return report;
  }
  if (entry->index != proof->index) {
    report.Fail(kCheckIndex, StrCat("the entry says it is index ", entry->index,
                                    " but is proven at index ", proof->index));
    return report;
  }
  AddEntryFields(report, *entry);
  absl::StatusOr<Event> event = DecodeEvent(entry->event_bytes);
  if (!event.ok()) {
    report.Fail(kCheckEvent, Annotate(event.status(), "event bytes"));
    return report;
  }
  AddEventFields(report, *event);
  if (!extra->key_entries.empty()) {
    CheckKeyEvidence(report, *extra, *cp, *entry, *event, trust);
    // Pinned emitter keys, if given, are checked as well.
    if (report.valid() && !trust.emitter_keys.empty()) {
      CheckEmitter(report, *entry, trust);
    }
    return report;
  }
  CheckEmitter(report, *entry, trust);
  return report;
}

Report VerifyProofFile(const std::string& path, const Trust& trust) {
  absl::StatusOr<std::string> text = crypto::ReadFileToString(path);
  if (!text.ok()) {
    Report report("proof", path);
    report.Fail(kCheckRead, ReadError(text.status()));
    return report;
  }
  return VerifyProof(path, *text, trust);
}

Report VerifyAnswer(std::string_view subject, std::string_view text,
                    const Trust& trust) {
  Report report("answer", std::string(subject));
  absl::StatusOr<Answer> answer = ParseAnswer(text);
  if (!answer.ok()) {
    report.Fail(kCheckParse, answer.status());
    return report;
  }
  std::string query(AnswerKindName(answer->kind));
  for (size_t i = 0; i < answer->params.size(); ++i) {
    query += StrCat(i == 0 ? " (" : ", ", answer->params[i].first, "=",
                    answer->params[i].second);
  }
  if (!answer->params.empty()) query += ")";
  report.Set("query", query);
  report.Set("tenant", answer->tenant);
  if (answer->subject.has_value()) {
    report.Set("subject", StrCat(LinkKindName(answer->subject->kind), " ",
                                 answer->subject->id));
  }
  report.Set("as_of", answer->as_of);
  report.Set("entries", uint64_t{answer->entries.size()});
  const AnswerVerification v =
      ledger::VerifyAnswer(*answer, trust.log_keys, trust.origin);
  if (v.checkpoint.has_value()) AddCheckpointFields(report, *v.checkpoint, "");
  for (const AnswerCheck& check : v.checks) {
    if (!check.ok) {
      report.Fail(check.name, check.detail);
      return report;
    }
    report.Set(StrCat("check_", check.name), StrCat("ok: ", check.detail));
  }
  for (size_t i = 0; i < v.proven.size(); ++i) {
    report.Set(StrCat("proven_", i + 1), v.proven[i]);
  }
  for (size_t i = 0; i < v.not_proven.size(); ++i) {
    report.Set(StrCat("not_proven_", i + 1), v.not_proven[i]);
  }
  report.Set("emitter_signatures", "not checked");
  return report;
}

Report VerifyAnswerFile(const std::string& path, const Trust& trust) {
  absl::StatusOr<std::string> text = crypto::ReadFileToString(path);
  if (!text.ok()) {
    Report report("answer", path);
    report.Fail(kCheckRead, ReadError(text.status()));
    return report;
  }
  return VerifyAnswer(path, *text, trust);
}

Report VerifyCheckpoint(std::string_view subject, std::string_view note,
                        const Trust& trust) {
  Report report("checkpoint", std::string(subject));
  absl::StatusOr<VerifiedCheckpoint> cp =
      OpenCheckpoint(note, trust.log_keys, trust.origin);
  if (!cp.ok()) {
    report.Fail(kCheckCheckpoint, cp.status());
    return report;
  }
  AddCheckpointFields(report, *cp, "");
  return report;
}

Report VerifyCheckpointFile(const std::string& path, const Trust& trust) {
  absl::StatusOr<std::string> note = crypto::ReadFileToString(path);
  if (!note.ok()) {
    Report report("checkpoint", path);
    report.Fail(kCheckRead, ReadError(note.status()));
    return report;
  }
  return VerifyCheckpoint(path, *note, trust);
}

Report VerifyConsistency(std::string_view subject, std::string_view old_note,
                         std::string_view new_note, std::string_view proof,
                         const Trust& trust) {
  Report report("consistency", std::string(subject));
  absl::StatusOr<VerifiedCheckpoint> old_cp =
      OpenCheckpoint(old_note, trust.log_keys, trust.origin);
  if (!old_cp.ok()) {
    report.Fail(kCheckOldCheckpoint, old_cp.status());
    return report;
  }
  absl::StatusOr<VerifiedCheckpoint> new_cp =
      OpenCheckpoint(new_note, trust.log_keys, trust.origin);
  if (!new_cp.ok()) {
    report.Fail(kCheckNewCheckpoint, new_cp.status());
    return report;
  }
  report.Set("origin", new_cp->checkpoint.origin);
  AddCheckpointFields(report, *old_cp, "old_");
  AddCheckpointFields(report, *new_cp, "new_");
  if (old_cp->checkpoint.origin != new_cp->checkpoint.origin) {
    report.Fail(kCheckOrigin,
                StrCat("the checkpoints are of different logs: \"",
                       old_cp->checkpoint.origin, "\" and \"",
                       new_cp->checkpoint.origin, "\""));
    return report;
  }
  absl::StatusOr<std::vector<crypto::Hash>> hashes = ParseProofHashes(proof);
  if (!hashes.ok()) {
    report.Fail(kCheckParse, Annotate(hashes.status(), "consistency proof"));
    return report;
  }
  report.Set("proof_hashes", uint64_t{hashes->size()});
  absl::Status s = ledger::VerifyConsistency(
      old_cp->checkpoint.size, new_cp->checkpoint.size, *hashes,
      old_cp->checkpoint.root, new_cp->checkpoint.root);
  if (!s.ok()) report.Fail(kCheckConsistency, s);
  return report;
}

Report VerifyConsistencyFiles(const std::string& old_path,
                              const std::string& new_path,
                              const std::string& proof_path,
                              const Trust& trust) {
  const std::string subject = StrCat(old_path, " -> ", new_path);
  std::string texts[3];
  const std::string* paths[3] = {&old_path, &new_path, &proof_path};
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::string> text = crypto::ReadFileToString(*paths[i]);
    if (!text.ok()) {
      Report report("consistency", subject);
      report.Fail(kCheckRead, ReadError(text.status()));
      return report;
    }
    texts[i] = *std::move(text);
  }
  return VerifyConsistency(subject, texts[0], texts[1], texts[2], trust);
}

absl::StatusOr<std::vector<crypto::Hash>> ParseProofHashes(
    std::string_view text) {
  std::vector<crypto::Hash> hashes;
  std::vector<std::string_view> lines = Split(text, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty()) continue;
    absl::StatusOr<crypto::Hash> h = crypto::HashFromBase64(line);
    if (!h.ok()) return Annotate(h.status(), StrCat("line ", i + 1));
    hashes.push_back(*h);
  }
  return hashes;
}

std::string FormatProofHashes(absl::Span<const crypto::Hash> hashes) {
  std::string out;
  out.reserve(hashes.size() * 45);
  for (const crypto::Hash& h : hashes) {
    out += crypto::Base64Encode(h);
    out.push_back('\n');
  }
  return out;
}

}  // namespace ledger::verify
