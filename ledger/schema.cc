#include "ledger/schema.h"

#include "base/status_macros.h"
#include "ledger/codec.h"

namespace ledger {

const std::vector<std::string>& ColumnFamilyNames() {
  static const std::vector<std::string> kNames = {
      "entries", "tree", "checkpoints",   "by_event_id",
      "keys",    "meta", "subject_heads", "shred_keys"};
  return kNames;
}

std::string Be64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

uint64_t ReadBe64(std::string_view bytes) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(bytes[i]);
  return v;
}

std::string EventIdKey(std::string_view tenant, const Uuid& id) {
  std::string key(tenant);
  key.push_back('\0');
  key.append(reinterpret_cast<const char*>(id.data()), id.size());
  return key;
}

std::string EventIdValue(uint64_t index, const Hash& event_hash) {
  std::string value = Be64(index);
  value.append(crypto::AsView(event_hash));
  return value;
}

absl::StatusOr<EventIdRecord> DecodeEventIdValue(std::string_view value) {
  if (value.size() != 8 + crypto::kHashSize) {
    return absl::DataLossError(StrCat("a by_event_id record has ", value.size(),
                                      " bytes, not ", 8 + crypto::kHashSize));
  }
  EventIdRecord record;
  record.index = ReadBe64(value);
  std::copy(value.begin() + 8, value.end(), record.event_hash.begin());
  return record;
}

std::string SubjectHeadKey(LinkKind kind, std::string_view tenant,
                           std::string_view id) {
  std::string key(1, static_cast<char>(kind));
  key.append(tenant);
  key.push_back('\0');
  key.append(id);
  return key;
}

// (Built by appending: GCC 12 at -O3 warns -Wrestrict on "q" + string.)
std::string CheckpointKey(uint64_t sequence) {
  std::string key = "q";
  key.append(Be64(sequence));
  return key;
}

std::string CheckpointSizeKey(uint64_t size, uint64_t sequence) {
  std::string key = "s";
  key.append(Be64(size));
  key.append(Be64(sequence));
  return key;
}

std::string EncodeHeadRecord(const HeadRecord& record) {
  Encoder e;
  e.PutU64(record.size);
  e.PutHash(record.root);
  e.PutHash(record.chain_hash);
  e.PutI64(record.last_received_at_ns);
  return e.Take();
}

absl::StatusOr<HeadRecord> DecodeHeadRecord(std::string_view value) {
  if (value.size() != 8 + 2 * crypto::kHashSize + 8) {
    return absl::DataLossError("the head record has the wrong length");
  }
  Decoder d(value);
  HeadRecord record;
  LEDGER_ASSIGN_OR_RETURN(record.size, d.GetU64("size"));
  LEDGER_ASSIGN_OR_RETURN(record.root, d.GetHash("root"));
  LEDGER_ASSIGN_OR_RETURN(record.chain_hash, d.GetHash("chain"));
  LEDGER_ASSIGN_OR_RETURN(record.last_received_at_ns, d.GetI64("received_at"));
  return record;
}

std::string EncodeIndexDigests(const IndexDigests& digests) {
  return digests.by_event_id.Encode() + digests.subject_heads.Encode() +
         digests.keys.Encode();
}

absl::StatusOr<IndexDigests> DecodeIndexDigests(std::string_view value) {
  constexpr size_t n = crypto::MultisetHash::kEncodedSize;
  if (value.size() != 3 * n) {
    return absl::DataLossError("the index digest record has the wrong length");
  }
  IndexDigests d;
  LEDGER_ASSIGN_OR_RETURN(d.by_event_id,
                          crypto::MultisetHash::Decode(value.substr(0, n)));
  LEDGER_ASSIGN_OR_RETURN(d.subject_heads,
                          crypto::MultisetHash::Decode(value.substr(n, n)));
  LEDGER_ASSIGN_OR_RETURN(d.keys,
                          crypto::MultisetHash::Decode(value.substr(2 * n)));
  return d;
}

}  // namespace ledger
