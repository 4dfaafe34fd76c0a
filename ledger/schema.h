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
//   "4"  the index families by_subject, by_type, by_run and lineage, with
//        their digests in "index_digest" (168 bytes instead of 72). A
//        database of format 1 to 3 is upgraded on open with a full check:
//        the four families are built from the entries.
//
// Column family  key                               value
// entries        BE64(index)                       entry bytes (FORMAT.md 4)
// tree           u8 tile level || BE64(tile idx)   1..16 hashes (tile_tree.h)
// checkpoints    "q" BE64(seq)                     BE64(size) || note
//                "s" BE64(size) BE64(seq)          "" (find by size)
// by_event_id    tenant 0x00 uuid16                BE64(index) || event hash
// keys           key id (32)                       EncodeKeyInfo
// meta           "head"                            HeadRecord
//                "origin"                          the origin
//                "format"                          "1" to "4"
//                "index_digest"                    IndexDigests
// subject_heads  u8 link kind || tenant 0x00 id    BE64(last index)
// by_subject     u8 link kind || tenant 0x00 id    "" (one per back-link)
//                || 0x00 || BE64(index)
// by_type        tenant 0x00 type 0x00 BE64(index) "" (every entry)
// by_run         u8 'r' or 'p' || tenant 0x00 run  "" (run_id, parent_run_id)
//                || 0x00 || BE64(index)
// lineage        u8 'i', 'o' or 's' || tenant 0x00 "" (inputs, outputs,
//                || u8 kind || id 0x00 version        versioned subjects)
//                || 0x00 || BE64(index)
// shred_keys     "h"                               32-byte secret of the
//                                                  subject hashes
//                's' || subject hash (32)          payload key id (16)
//                'k' || payload key id (16)        the key (shred_keys.h)
//                'e' || payload key id (16)        its erasure
//
// entries, tree and checkpoints are the record; by_event_id, subject_heads,
// keys, by_subject, by_type, by_run and lineage are derived from the
// entries and can be rebuilt from them. Every append writes all families
// in one WriteBatch. shred_keys holds secrets
// that no entry holds (payload keys, ledger/shred_keys.h): it is neither
// record nor derived and has no digest; an erasure ('e', and the key's 'k'
// deleted) is written in the WriteBatch of its key.erased entry. A
// database from before it gets the family, empty, when it is opened (the
// storage format is unchanged).

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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
  kBySubject,
  kByType,
  kByRun,
  kLineage,
  kCount,
};

// The column family names, in Cf order.
const std::vector<std::string>& ColumnFamilyNames();

// The format this build writes, and the oldest it opens (and upgrades).
inline constexpr std::string_view kFormatVersion = "4";
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

// ---- The index families (format 4). Every value is empty; every key ends
// with BE64(index) of the entry it indexes, so the records of one prefix
// are in index order (and, as ledger time never decreases with the index,
// in time order). Ids and tenants never hold 0x00 (validation forbids
// control characters), which makes it a safe separator.

// by_subject: u8 link kind || tenant 0x00 id 0x00 || BE64(index), one
// record per back-link (SubjectKeys) of the entry. By actor: kActor.
std::string SubjectIndexPrefix(LinkKind kind, std::string_view tenant,
                               std::string_view id);
// by_type: tenant 0x00 type 0x00 || BE64(index), for every entry.
std::string TypeIndexPrefix(std::string_view tenant, std::string_view type);
// by_run: u8 role || tenant 0x00 run id 0x00 || BE64(index): 'r' for the
// event's run_id, 'p' for its parent_run_id (each if not empty).
enum class RunRole : char { kRun = 'r', kParent = 'p' };
std::string RunIndexPrefix(RunRole role, std::string_view tenant,
                           std::string_view run_id);
// lineage: u8 role || tenant 0x00 || u8 subject kind || id 0x00 version
// 0x00 || BE64(index): 'i' for each input, 'o' for each output, 's' for
// each subject whose version is not empty. A lineage node is (kind, id,
// version). The edges input -> output of an entry are the pairs of its
// 'i' and 'o' records (docs/decisions.md: not stored as their product).
enum class LineageRole : char { kInput = 'i', kOutput = 'o', kSubject = 's' };
std::string LineagePrefix(LineageRole role, std::string_view tenant,
                          SubjectKind kind, std::string_view id,
                          std::string_view version);

// Keys of one family, packed in one buffer: no allocation per key.
class IndexKeys {
 public:
  void Reserve(size_t keys, size_t bytes);
  // Appends one key made of `parts` followed by BE64(index).
  void Add(std::initializer_list<std::string_view> parts, uint64_t index);
  // Sorts the keys and drops duplicates.
  void SortUnique();
  void Clear();
  size_t size() const { return spans_.size(); }
  size_t bytes() const { return buffer_.size(); }
  std::string_view operator[](size_t i) const {
    return std::string_view(buffer_).substr(spans_[i].first, spans_[i].second);
  }

 private:
  std::string buffer_;
  std::vector<std::pair<uint32_t, uint32_t>> spans_;  // offset, length
};

// The keys of the four index families, in Cf order of the families.
struct IndexFamilyKeys {
  IndexKeys by_subject;
  IndexKeys by_type;
  IndexKeys by_run;
  IndexKeys lineage;
  void SortUnique();
  void Clear();
};

// Limits no stored event exceeds: the index families are derived from
// whatever the entries hold, under whichever limits applied when each was
// appended.
EventLimits UnboundedEventLimits();

// Adds the index records of the entry at `index` holding `event` (unsorted;
// duplicates within the entry are dropped by SortUnique).
void AddIndexKeys(const Event& event, uint64_t index, IndexFamilyKeys& out);

// The index (last 8 bytes) of an index family key; kNoPrevious if the key is
// shorter than that.
uint64_t IndexOfIndexKey(std::string_view key);

// meta "index_digest": one MultisetHash per derived family, over its
// (key, value) records: by_event_id || subject_heads || keys || by_subject
// || by_type || by_run || lineage (168 bytes; formats 2 and 3 stored the
// first three, 72 bytes).
struct IndexDigests {
  crypto::MultisetHash by_event_id;
  crypto::MultisetHash subject_heads;
  crypto::MultisetHash keys;
  crypto::MultisetHash by_subject;
  crypto::MultisetHash by_type;
  crypto::MultisetHash by_run;
  crypto::MultisetHash lineage;
  friend bool operator==(const IndexDigests&, const IndexDigests&) = default;
};
std::string EncodeIndexDigests(const IndexDigests& digests);
// The record of format 4 (168 bytes); DataLoss otherwise.
absl::StatusOr<IndexDigests> DecodeIndexDigests(std::string_view value);
// The record of formats 2 and 3 (72 bytes): the index families' digests
// are left empty.
absl::StatusOr<IndexDigests> DecodeIndexDigestsV2(std::string_view value);

}  // namespace ledger
