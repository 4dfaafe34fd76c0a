#pragma once

// The storage layout of a ledger, in one place: the RocksDB column families,
// the encoding of every key and of every value that is not an entry or a
// checkpoint note. Internal to ledger/ (and tools that open a database
// directly); docs/architecture.md describes it in prose.
//
// Format versions (meta "format"):
//   "1"  the first layout.
//   "2"  adds meta "index_digest": the digests of the derived families
//        (by_event_id, subject_heads, keys), kept up to date by every
//        append and checked on every start. A format-1 database is
//        upgraded on open: its derived families are checked against the
//        entries and the digests written.
//   "3"  key records of version 2 (EncodeKeyInfo: producer, revocation
//        index and reason, rotation). A format-1 or -2 database is
//        upgraded on open with a full check: each key record must be the
//        version-1 record of the key the entries define, and is rewritten.
//
// Column family        key                              value
// entries              BE64(index)                      entry bytes (FORMAT.md
// 4) tree                 u8 tile level || BE64(tile idx)  1..16 hashes
// (tile_tree.h) checkpoints          "q" BE64(seq) BE64(size) || note
//                      "s" BE64(size) BE64(seq)         "" (find by size)
// by_event_id          tenant 0x00 uuid16               BE64(index) || event
// hash keys                 key id (32)                      EncodeKeyInfo
// (key_registry.h) meta                 "head" HeadRecord
//                      "origin"                         the origin
//                      "format"                         "1", "2" or "3"
//                      "index_digest"                   IndexDigests
// subject_heads        u8 link kind || tenant 0x00 id   BE64(last index)
// shred_keys           "h"                              32-byte secret of
//                                                       the subject hashes
//                      's' || subject hash (32)         payload key id (16)
//                      'k' || payload key id (16)       the key (shred_keys.h)
//                      'e' || payload key id (16)       its erasure
//
// entries, tree and checkpoints are the record; by_event_id, subject_heads
// and keys are derived from the entries and can be rebuilt from them. Every
// append writes all families in one WriteBatch. shred_keys holds secrets
// that no entry holds (payload keys, ledger/shred_keys.h): it is neither
// record nor derived and has no digest; an erasure ('e', and the key's 'k'
// deleted) is written in the WriteBatch of its key.erased entry. A
// database from before it gets the family, empty, when it is opened (the
// storage format is unchanged).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/bytes.h"
#include "crypto/multiset_hash.h"
#include "ledger/entry.h"
#include "ledger/event.h"

namespace ledger {

enum class Cf : int {
  kEntries = 0,
  kTree,
  kCheckpoints,
  kByEventId,
  kKeys,
  kMeta,
  kSubjectHeads,
  kShredKeys,
  kCount,
};

// The column family names, in Cf order.
const std::vector<std::string>& ColumnFamilyNames();

// The format this build writes, and the oldest it opens (and upgrades).
inline constexpr std::string_view kFormatVersion = "3";
inline constexpr std::string_view kOldestFormatVersion = "1";

inline constexpr std::string_view kMetaHeadKey = "head";
inline constexpr std::string_view kMetaOriginKey = "origin";
inline constexpr std::string_view kMetaFormatKey = "format";
inline constexpr std::string_view kMetaIndexDigestKey = "index_digest";

// Big-endian 8-byte encoding used for ordered keys.
std::string Be64(uint64_t v);
uint64_t ReadBe64(std::string_view bytes);  // first 8 bytes

// entries: BE64(index).
inline std::string EntryKey(uint64_t index) { return Be64(index); }

// by_event_id: tenant 0x00 uuid16 -> BE64(index) || event leaf hash.
std::string EventIdKey(std::string_view tenant, const Uuid& id);
std::string EventIdValue(uint64_t index, const Hash& event_hash);
struct EventIdRecord {
  uint64_t index = 0;
  Hash event_hash{};
};
// DataLoss if the value has the wrong length.
absl::StatusOr<EventIdRecord> DecodeEventIdValue(std::string_view value);

// subject_heads: kind tenant 0x00 id -> BE64(index of the latest entry).
std::string SubjectHeadKey(LinkKind kind, std::string_view tenant,
                           std::string_view id);

// checkpoints: "q" BE64(seq) -> BE64(size) || note; "s" BE64(size) BE64(seq)
// -> "".
std::string CheckpointKey(uint64_t sequence);
std::string CheckpointSizeKey(uint64_t size, uint64_t sequence);

// meta "head": BE64(size) || root || chain hash || BE64(received_at_ns of the
// last entry), 80 bytes.
struct HeadRecord {
  uint64_t size = 0;
  Hash root{};
  Hash chain_hash{};
  int64_t last_received_at_ns = 0;
};
std::string EncodeHeadRecord(const HeadRecord& record);
absl::StatusOr<HeadRecord> DecodeHeadRecord(std::string_view value);

// meta "index_digest": one MultisetHash per derived family, over its
// (key, value) records: by_event_id || subject_heads || keys (72 bytes).
struct IndexDigests {
  crypto::MultisetHash by_event_id;
  crypto::MultisetHash subject_heads;
  crypto::MultisetHash keys;
  friend bool operator==(const IndexDigests&, const IndexDigests&) = default;
};
std::string EncodeIndexDigests(const IndexDigests& digests);
absl::StatusOr<IndexDigests> DecodeIndexDigests(std::string_view value);

}  // namespace ledger
