#include "ledger/checkpoint.h"

#include <cassert>

#include "base/check.h"
#include "base/strings.h"

namespace ledger {
namespace {

// Printable for an error message: at most 64 bytes, quoted.
std::string Quote(std::string_view s) {
  constexpr size_t kMax = 64;
  if (s.size() > kMax) return StrCat("'", s.substr(0, kMax), "...'");
  return StrCat("'", s, "'");
}

// Control characters other than newline are not allowed in a note
// (c2sp.org/signed-note); a standalone body is held to the same rule.
absl::Status CheckNoControlChars(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\n') || c == 0x7F) {
      return absl::InvalidArgumentError(
          StrCat("checkpoint contains control character 0x",
                 crypto::HexEncode(text.substr(i, 1)), " at byte ", i));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string FormatCheckpointBody(const Checkpoint& checkpoint) {
  LEDGER_CHECK(!checkpoint.origin.empty() &&
                   checkpoint.origin.find('\n') == std::string::npos,
               "a checkpoint origin is one non-empty line");
  std::string out = StrCat(checkpoint.origin, "\n", checkpoint.size, "\n",
                           crypto::Base64Encode(checkpoint.root), "\n");
  for (const std::string& line : checkpoint.extensions) {
    LEDGER_CHECK(!line.empty() && line.find('\n') == std::string::npos,
                 "a checkpoint extension is one non-empty line");
    out.append(line);
    out.push_back('\n');
  }
  return out;
}

absl::StatusOr<Checkpoint> ParseCheckpointBody(std::string_view text) {
  if (text.empty() || text.back() != '\n') {
    return absl::InvalidArgumentError(
        "checkpoint text must end with a newline");
  }
  if (absl::Status s = CheckNoControlChars(text); !s.ok()) return s;
  text.remove_suffix(1);
  std::vector<std::string_view> lines = Split(text, '\n');
  if (lines.size() < 3) {
    return absl::InvalidArgumentError(
        StrCat("checkpoint must have at least 3 lines (origin, tree size, "
               "root hash), got ",
               lines.size()));
  }
  Checkpoint out;
  if (lines[0].empty()) {
    return absl::InvalidArgumentError("checkpoint origin line is empty");
  }
  out.origin = std::string(lines[0]);
  std::optional<uint64_t> size = ParseCanonicalUint64(lines[1]);
  if (!size.has_value()) {
    return absl::InvalidArgumentError(
        StrCat("checkpoint tree size must be a decimal number without sign "
               "or leading zeros, got ",
               Quote(lines[1])));
  }
  out.size = *size;
  absl::StatusOr<crypto::Hash> root = crypto::HashFromBase64(lines[2]);
  if (!root.ok()) {
    return absl::InvalidArgumentError(
        StrCat("checkpoint root hash must be standard base64 of 32 bytes, got ",
               Quote(lines[2]), " (", root.status().message(), ")"));
  }
  out.root = *root;
  for (size_t i = 3; i < lines.size(); ++i) {
    if (lines[i].empty()) {
      return absl::InvalidArgumentError(
          StrCat("checkpoint extension line ", i + 1, " is empty"));
    }
    out.extensions.emplace_back(lines[i]);
  }
  return out;
}

absl::StatusOr<VerifiedCheckpoint> OpenCheckpoint(
    std::string_view note, absl::Span<const crypto::NoteVerifier> verifiers,
    std::string_view origin) {
  absl::StatusOr<crypto::Note> parsed = crypto::ParseNote(note);
  if (!parsed.ok()) return Annotate(parsed.status(), "checkpoint note");
  absl::StatusOr<Checkpoint> checkpoint = ParseCheckpointBody(parsed->text);
  if (!checkpoint.ok()) return checkpoint.status();
  if (!origin.empty() && checkpoint->origin != origin) {
    return absl::InvalidArgumentError(StrCat("checkpoint is for origin ",
                                             Quote(checkpoint->origin),
                                             ", expected ", Quote(origin)));
  }
  absl::StatusOr<std::vector<crypto::VerifiedSignature>> signatures =
      crypto::VerifyNote(*parsed, verifiers);
  if (!signatures.ok()) {
    return Annotate(signatures.status(),
                    StrCat("checkpoint of ", Quote(checkpoint->origin),
                           " at size ", checkpoint->size));
  }
  bool log_signed = false;
  for (const crypto::VerifiedSignature& sig : *signatures) {
    if (sig.verifier.type == crypto::NoteSigType::kEd25519 &&
        sig.verifier.name == checkpoint->origin) {
      log_signed = true;
    }
  }
  if (!log_signed) {
    return absl::NotFoundError(StrCat(
        "checkpoint of ", Quote(checkpoint->origin), " at size ",
        checkpoint->size,
        " carries no verified Ed25519 signature by a trusted key named after "
        "its origin (",
        signatures->size(), " other trusted signatures verified)"));
  }
  VerifiedCheckpoint out;
  out.checkpoint = *std::move(checkpoint);
  out.note = std::string(note);
  out.signatures = *std::move(signatures);
  return out;
}

}  // namespace ledger
