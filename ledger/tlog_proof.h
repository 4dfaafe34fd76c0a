#pragma once

// C2SP tlog-proof@v1 (c2sp.org/tlog-proof): an offline-verifiable proof that
// an entry is in a checkpointed tree. The ledger puts the entry bytes (the
// bytes the leaf hash covers), possibly with key evidence, in the `extra`
// line (tlog_proof_extra.h).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "crypto/bytes.h"
#include "crypto/note.h"
#include "ledger/checkpoint.h"

namespace ledger {

struct TlogProof {
  std::optional<std::string> extra;  // raw bytes (base64 on the wire)
  uint64_t index = 0;
  std::vector<crypto::Hash> proof;
  std::string checkpoint;  // the signed checkpoint note, verbatim
};

// An `extra` holding the empty string is written as "extra " (an empty
// base64 value) and parsed back as such.
std::string FormatTlogProof(const TlogProof& proof);
// Strict syntax check of c2sp.org/tlog-proof@v1 (at most 64 proof hashes).
// The checkpoint is everything after the empty line, kept verbatim and not
// checked here (VerifyTlogProof opens it). InvalidArgument naming the line.
absl::StatusOr<TlogProof> ParseTlogProof(std::string_view text);

struct VerifiedTlogProof {
  VerifiedCheckpoint checkpoint;
  uint64_t index = 0;
  crypto::Hash leaf_hash{};
};

// Verifies the checkpoint signature (OpenCheckpoint, whose errors are
// returned) and the inclusion of `leaf_hash` (or, if absent, the leaf hash
// of the entry in `extra`: HashLeaf of its entry bytes, tlog_proof_extra.h) at
// `index`. When both are present they must be equal (DataLoss otherwise).
// Key evidence in `extra` is not checked here (tlog_proof_keys.h).
// InvalidArgument if neither is available or the proof is malformed (wrong
// length, index >= size), DataLoss if the proof does not lead to the checkpoint
// root.
absl::StatusOr<VerifiedTlogProof> VerifyTlogProof(
    const TlogProof& proof, absl::Span<const crypto::NoteVerifier> verifiers,
    std::optional<crypto::Hash> leaf_hash = std::nullopt,
    std::string_view origin = "");

}  // namespace ledger
