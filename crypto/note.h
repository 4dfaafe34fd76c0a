#pragma once

// C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures (type
// 0x01) and timestamped Ed25519 cosignatures (type 0x04,
// c2sp.org/tlog-cosignature), plus the verifier-key ("vkey") and signer-key
// text forms used by the Go reference implementation.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "crypto/ed25519.h"

namespace ledger::crypto {

enum class NoteSigType : uint8_t {
  kEd25519 = 0x01,       // signs the note text
  kCosignatureV1 = 0x04  // signs "cosignature/v1\ntime T\n" || note text
};

// SHA-256(name || 0x0A || type || public key)[:4], big-endian.
uint32_t NoteKeyId(std::string_view name, NoteSigType type,
                   const Ed25519PublicKey& key);

// True iff `name` is a valid key name: non-empty, valid UTF-8, no spaces, no
// '+' and no control characters.
bool IsValidKeyName(std::string_view name);

struct NoteVerifier {
  std::string name;
  uint32_t key_id = 0;
  NoteSigType type = NoteSigType::kEd25519;
  Ed25519PublicKey key{};
};

// "<name>+<hex key id>+<base64(type || public key)>". The key ID must match
// the one computed from name, type and key.
absl::StatusOr<NoteVerifier> ParseVerifierKey(std::string_view vkey);
std::string FormatVerifierKey(const NoteVerifier& verifier);
// Parses one vkey per line; blank lines and lines starting with '#' are
// skipped. Error messages name the line.
absl::StatusOr<std::vector<NoteVerifier>> ParseVerifierKeys(
    std::string_view text);

class NoteSigner {
 public:
  NoteSigner(std::string name, NoteSigType type, Ed25519PrivateKey key);

  const std::string& name() const { return name_; }
  NoteSigType type() const { return type_; }
  uint32_t key_id() const { return key_id_; }
  const Ed25519PrivateKey& key() const { return key_; }
  NoteVerifier verifier() const;

  // The signature line "— <name> <base64>\n" over `text` (which must end in
  // a newline). `timestamp` (POSIX seconds) is used by cosignatures only.
  std::string SignatureLine(std::string_view text, uint64_t timestamp) const;

 private:
  std::string name_;
  NoteSigType type_;
  Ed25519PrivateKey key_;
  uint32_t key_id_;
};

// "PRIVATE+KEY+<name>+<hex key id>+<base64(type || seed)>".
absl::StatusOr<NoteSigner> ParseSignerKey(std::string_view skey);
std::string FormatSignerKey(const NoteSigner& signer);

struct NoteSignature {
  std::string name;
  uint32_t key_id = 0;
  std::string signature;  // the bytes after the 4-byte key ID
};

struct Note {
  std::string text;  // ends in "\n"; excludes the separating blank line
  std::vector<NoteSignature> signatures;
};

inline constexpr size_t kMaxNoteSignatures = 64;

// Splits a signed note into text and signature lines, checking the syntax of
// c2sp.org/signed-note; verifies nothing.
absl::StatusOr<Note> ParseNote(std::string_view note);
std::string FormatNote(const Note& note);

// Signs `text` (must end in "\n") with every signer; returns the whole note.
std::string SignNote(std::string_view text,
                     absl::Span<const NoteSigner* const> signers,
                     uint64_t timestamp);

struct VerifiedSignature {
  NoteVerifier verifier;
  std::optional<uint64_t> timestamp;  // cosignatures only
};

// Verifies every signature whose (name, key ID) matches a verifier; unknown
// signatures are ignored. DataLoss if a known signature does not verify,
// NotFound if no known signature is present.
absl::StatusOr<std::vector<VerifiedSignature>> VerifyNote(
    const Note& note, absl::Span<const NoteVerifier> verifiers);

}  // namespace ledger::crypto
