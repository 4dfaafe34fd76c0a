#include "ledger/tlog_proof_extra.h"

#include "base/status_macros.h"
#include "base/strings.h"
#include "ledger/codec.h"

namespace ledger {
namespace {

// The smallest key entry: index, an empty entry, no proof hashes.
constexpr size_t kMinKeyEntryBytes = 8 + 4 + 4;

}  // namespace

std::string EncodeReceiptExtra(const ReceiptExtra& extra) {
  if (extra.key_entries.empty()) return extra.entry;
  Encoder e;
  e.PutRaw(kReceiptExtraMagic);
  e.PutBytes(extra.entry);
  e.PutU32(static_cast<uint32_t>(extra.key_entries.size()));
  for (const ProvenEntry& k : extra.key_entries) {
    e.PutU64(k.index);
    e.PutBytes(k.entry);
    e.PutU32(static_cast<uint32_t>(k.proof.size()));
    for (const crypto::Hash& h : k.proof) e.PutHash(h);
  }
  return e.Take();
}

absl::StatusOr<ReceiptExtra> DecodeReceiptExtra(std::string_view extra) {
  ReceiptExtra out;
  if (!extra.starts_with(kReceiptExtraMagic)) {
    out.entry = std::string(extra);
    return out;
  }
  Decoder d(extra);
  LEDGER_RETURN_IF_ERROR(
      d.GetRaw("magic and version", kReceiptExtraMagic.size()).status());
  LEDGER_ASSIGN_OR_RETURN(std::string_view entry,
                          d.GetBytes("entry", UINT32_MAX));
  out.entry = std::string(entry);
  LEDGER_ASSIGN_OR_RETURN(
      uint32_t count,
      d.GetCount("key_entries", kMaxKeyEntries, kMinKeyEntryBytes));
  if (count == 0) {
    return absl::InvalidArgumentError(
        "key_entries: must not be empty (a receipt without key evidence "
        "carries the entry bytes alone)");
  }
  out.key_entries.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    ProvenEntry& k = out.key_entries[i];
    const std::string field = StrCat("key_entries[", i, "]");
    LEDGER_ASSIGN_OR_RETURN(k.index, d.GetU64(StrCat(field, ".index")));
    LEDGER_ASSIGN_OR_RETURN(std::string_view bytes,
                            d.GetBytes(StrCat(field, ".entry"), UINT32_MAX));
    k.entry = std::string(bytes);
    LEDGER_ASSIGN_OR_RETURN(uint32_t hashes, d.GetCount(StrCat(field, ".proof"),
                                                        kMaxKeyEntryProofHashes,
                                                        crypto::kHashSize));
    k.proof.resize(hashes);
    for (crypto::Hash& h : k.proof) {
      LEDGER_ASSIGN_OR_RETURN(h, d.GetHash(StrCat(field, ".proof")));
    }
  }
  LEDGER_RETURN_IF_ERROR(d.Finish("receipt extra"));
  return out;
}

}  // namespace ledger
