#include "ledger/tlog_proof.h"

#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "ledger/line_reader.h"
#include "ledger/merkle.h"
#include "ledger/tlog_proof_extra.h"

namespace ledger {
namespace {

constexpr std::string_view kHeader = "c2sp.org/tlog-proof@v1";
constexpr std::string_view kExtraPrefix = "extra ";
constexpr std::string_view kIndexPrefix = "index ";
// An inclusion proof in a tree of at most 2^64 leaves has at most 64 hashes.
constexpr size_t kMaxProofHashes = 64;

absl::Status Malformed(int line_no, std::string_view what) {
  return absl::InvalidArgumentError(
      StrCat("tlog-proof line ", line_no, ": ", what));
}

}  // namespace

std::string FormatTlogProof(const TlogProof& proof) {
  std::string out = StrCat(kHeader, "\n");
  if (proof.extra.has_value()) {
    out.append(StrCat(kExtraPrefix, crypto::Base64Encode(*proof.extra), "\n"));
  }
  out.append(StrCat(kIndexPrefix, proof.index, "\n"));
  for (const crypto::Hash& h : proof.proof) {
    out.append(StrCat(crypto::Base64Encode(h), "\n"));
  }
  out.push_back('\n');
  out.append(proof.checkpoint);
  return out;
}

absl::StatusOr<TlogProof> ParseTlogProof(std::string_view text) {
  LineReader reader(text);
  std::optional<std::string_view> line = reader.Next();
  if (!line.has_value() || *line != kHeader) {
    return Malformed(1, StrCat("the first line must be '", kHeader, "'"));
  }
  TlogProof out;
  line = reader.Next();
  if (line.has_value() && line->starts_with(kExtraPrefix)) {
    absl::StatusOr<std::string> extra =
        crypto::Base64Decode(line->substr(kExtraPrefix.size()));
    if (!extra.ok()) {
      return Malformed(reader.line_no(), "extra data is not standard base64");
    }
    out.extra = *std::move(extra);
    line = reader.Next();
  }
  if (!line.has_value() || !line->starts_with(kIndexPrefix)) {
    return Malformed(reader.line_no() + (line.has_value() ? 0 : 1),
                     "expected 'index N'");
  }
  std::optional<uint64_t> index =
      ParseCanonicalUint64(line->substr(kIndexPrefix.size()));
  if (!index.has_value()) {
    return Malformed(reader.line_no(),
                     "index must be a decimal number without sign or leading "
                     "zeros");
  }
  out.index = *index;
  for (;;) {
    line = reader.Next();
    if (!line.has_value()) {
      return Malformed(reader.line_no() + 1,
                       "missing the empty line before the checkpoint");
    }
    if (line->empty()) break;
    if (out.proof.size() == kMaxProofHashes) {
      return Malformed(reader.line_no(), StrCat("more than ", kMaxProofHashes,
                                                " inclusion proof hashes"));
    }
    absl::StatusOr<crypto::Hash> h = crypto::HashFromBase64(*line);
    if (!h.ok()) {
      return Malformed(reader.line_no(),
                       "inclusion proof hash must be standard base64 of 32 "
                       "bytes");
    }
    out.proof.push_back(*h);
  }
  if (reader.rest().empty()) {
    return Malformed(reader.line_no() + 1, "the checkpoint is missing");
  }
  out.checkpoint = std::string(reader.rest());
  return out;
}

absl::StatusOr<VerifiedTlogProof> VerifyTlogProof(
    const TlogProof& proof, absl::Span<const crypto::NoteVerifier> verifiers,
    std::optional<crypto::Hash> leaf_hash, std::string_view origin) {
  if (proof.extra.has_value()) {
    absl::StatusOr<ReceiptExtra> extra = DecodeReceiptExtra(*proof.extra);
    if (!extra.ok()) return Annotate(extra.status(), "tlog-proof extra data");
    const crypto::Hash extra_hash = crypto::HashLeaf(extra->entry);
    if (leaf_hash.has_value() && *leaf_hash != extra_hash) {
      return absl::DataLossError(StrCat("tlog-proof extra data hashes to leaf ",
                                        crypto::HexEncode(extra_hash),
                                        ", expected ",
                                        crypto::HexEncode(*leaf_hash)));
    }
    if (!leaf_hash.has_value()) leaf_hash = extra_hash;
  }
  if (!leaf_hash.has_value()) {
    return absl::InvalidArgumentError(
        "tlog-proof has no extra data and no leaf hash was given");
  }
  absl::StatusOr<VerifiedCheckpoint> checkpoint =
      OpenCheckpoint(proof.checkpoint, verifiers, origin);
  if (!checkpoint.ok()) return Annotate(checkpoint.status(), "tlog-proof");
  if (absl::Status s =
          VerifyInclusion(*leaf_hash, proof.index, checkpoint->checkpoint.size,
                          proof.proof, checkpoint->checkpoint.root);
      !s.ok()) {
    return Annotate(s, "tlog-proof");
  }
  VerifiedTlogProof out;
  out.checkpoint = *std::move(checkpoint);
  out.index = proof.index;
  out.leaf_hash = *leaf_hash;
  return out;
}

}  // namespace ledger
