#pragma once

// Checkpoints: C2SP tlog-checkpoint note bodies ("origin\nsize\nroot\n").
// The ledger writes no extension lines (see docs/decisions.md).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "crypto/bytes.h"
#include "crypto/note.h"

namespace ledger {

struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  crypto::Hash root{};
  std::vector<std::string> extensions;  // accepted when parsing, never written
  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

// "origin\nsize\nbase64(root)\n" plus any extension lines, each followed
// by "\n". The origin and every extension must be non-empty and contain no
// newline (asserted).
std::string FormatCheckpointBody(const Checkpoint& checkpoint);
// Strict parse of a checkpoint note text (c2sp.org/tlog-checkpoint): a
// non-empty origin, a decimal size without sign or leading zeros, standard
// base64 of a 32-byte root, non-empty extension lines, a final newline and
// no control characters. InvalidArgument naming the bad line otherwise.
absl::StatusOr<Checkpoint> ParseCheckpointBody(std::string_view text);

struct VerifiedCheckpoint {
  Checkpoint checkpoint;
  std::string note;  // the whole signed note, verbatim
  std::vector<crypto::VerifiedSignature> signatures;
};

// Parses a signed checkpoint note and verifies it with `verifiers`: at
// least one signature of type Ed25519 (0x01) whose key name equals the
// origin must verify; cosignatures from known keys must verify too.
// `origin`, if non-empty, must match. InvalidArgument for malformed notes
// or another origin, DataLoss for a failed signature, NotFound when no
// trusted log signature is present (unknown signatures are ignored).
absl::StatusOr<VerifiedCheckpoint> OpenCheckpoint(
    std::string_view note, absl::Span<const crypto::NoteVerifier> verifiers,
    std::string_view origin = "");

}  // namespace ledger
