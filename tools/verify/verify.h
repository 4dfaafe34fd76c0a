#pragma once

// Offline verification with public keys only: c2sp.org/tlog-proof files
// (receipts), signed checkpoints, and consistency proofs between two
// checkpoints. Shared by ledger-verify and ledgerctl; depends on nothing but
// ledger_format and ledger_crypto (no gRPC, no protobuf, no RocksDB).
//
// Every function returns a Report: VALID, or INVALID naming the check that
// failed (report.h) and why. Nothing here returns early with an error
// status: a file that cannot be read is an INVALID report too.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "crypto/bytes.h"
#include "crypto/note.h"
#include "tools/verify/report.h"

namespace ledger::verify {

// What the verifier trusts.
struct Trust {
  // Note verifier keys of the log (its origin key and any node
  // cosigners), as printed by `ledgerctl keys --note`.
  std::vector<crypto::NoteVerifier> log_keys;
  // Emitter verifier keys (`ledgerctl keygen` .pub lines). Empty: emitter
  // signatures are not checked.
  std::vector<crypto::NoteVerifier> emitter_keys;
  // If non-empty, checkpoints must carry this origin.
  std::string origin;
};

// Reads verifier-key files (one key per line, '#' comments allowed) into a
// Trust. At least one log key file is required. InvalidArgument/NotFound
// naming the file on error.
absl::StatusOr<Trust> LoadTrust(
    const std::vector<std::string>& log_key_files,
    const std::vector<std::string>& emitter_key_files, std::string origin);

// Verifies a tlog-proof whose `extra` holds entry bytes, in order: parse;
// checkpoint signature (checkpoint); extra present and inclusion of its leaf
// hash at the proof's index (entry, inclusion); entry bytes decode (entry);
// entry index equals the proof index (index); event bytes decode (event);
// then, if the extra data carries key evidence (FORMAT.md 10.5), the key
// entries and what they define (key_evidence: inclusion, decoding, the log
// key's signatures, the replay; key_validity: the key may sign the event at
// its index; the emitter signature under the registered key), reporting
// the key's tenant, producer, registering entry, time and actor; then, if
// trust.emitter_keys is non-empty, a key whose KeyIdOf matches the entry's
// key ID (emitter_key) verifies the emitter signature (emitter_signature).
Report VerifyProof(std::string_view subject, std::string_view tlog_proof,
                   const Trust& trust);
Report VerifyProofFile(const std::string& path, const Trust& trust);

// Verifies an answer file (ledger/FORMAT.md section 12, ledger/answer.h):
// parse; checkpoint (signature with trust.log_keys, origin, as-of within
// its size); inclusion (the multi-leaf proof of every entry to the
// checkpoint's root); entries (each decodes, names its index, lies below
// the as-of, is of the answer's tenant); for a subject query subject (a
// back-link for it in every entry) and chain (each back-link points at
// the entry listed before it); for label_history rows (the row marks are
// the label filter). Reports one field per check passed ("check_NAME") and
// the numbered statements of what the file proves ("proven_N") and what
// it does not ("not_proven_N"). Emitter signatures are not checked.
Report VerifyAnswer(std::string_view subject, std::string_view text,
                    const Trust& trust);
Report VerifyAnswerFile(const std::string& path, const Trust& trust);

// Verifies a signed checkpoint note (checkpoint).
Report VerifyCheckpoint(std::string_view subject, std::string_view note,
                        const Trust& trust);
Report VerifyCheckpointFile(const std::string& path, const Trust& trust);

// Verifies that the tree of `new_note` extends the tree of `old_note`:
// both checkpoints (old_checkpoint, new_checkpoint), same origin (origin),
// the proof text parses (parse) and the RFC 9162 consistency proof holds
// (consistency).
Report VerifyConsistency(std::string_view subject, std::string_view old_note,
                         std::string_view new_note, std::string_view proof,
                         const Trust& trust);
Report VerifyConsistencyFiles(const std::string& old_path,
                              const std::string& new_path,
                              const std::string& proof_path,
                              const Trust& trust);

// Consistency-proof files: one base64 hash per line. Parsing skips blank
// lines and tolerates "\r\n"; errors name the line.
absl::StatusOr<std::vector<crypto::Hash>> ParseProofHashes(
    std::string_view text);
std::string FormatProofHashes(absl::Span<const crypto::Hash> hashes);

}  // namespace ledger::verify
