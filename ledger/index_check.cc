#include "ledger/index_check.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <iterator>

#include "absl/container/flat_hash_map.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "ledger/integrity.h"
#include "ledger/store.h"

namespace ledger {
namespace {

// Entries read per by_event_id MultiGet.
constexpr size_t kChunk = 16384;

std::string DescribeEventIdKey(std::string_view key) {
  const size_t zero = key.find('\0');
  if (zero == std::string_view::npos || key.size() != zero + 17) {
    return StrCat("by_event_id record ", crypto::HexEncode(key));
  }
  Uuid id;
  std::copy(key.begin() + zero + 1, key.end(), id.begin());
  return StrCat("by_event_id record of event ", FormatUuid(id), " of tenant '",
                key.substr(0, zero), "'");
}

std::string DescribeSubjectKey(std::string_view key) {
  const size_t zero = key.find('\0');
  if (key.empty() || zero == std::string_view::npos || key[0] < 1 ||
      key[0] > 4) {
    return StrCat("subject_heads record ", crypto::HexEncode(key));
  }
  return StrCat("subject_heads record of ",
                LinkKindName(static_cast<LinkKind>(key[0])), " '",
                key.substr(zero + 1), "' of tenant '", key.substr(1, zero - 1),
                "'");
}

std::string DescribeIndex(const std::optional<std::string>& value) {
  if (!value.has_value()) return "missing";
  if (value->size() >= 8) return StrCat("entry ", ReadBe64(*value));
  return StrCat(value->size(), " bytes");
}

class Checker {
 public:
  Checker(Store& store, uint64_t size, bool repair)
      : store_(store), size_(size), repair_(repair) {}

  absl::Status CheckEventIds();
  absl::Status CheckExtraEventIds();
  absl::Status CheckSubjectHeads();
  absl::Status CheckKeys(const std::vector<KeyInfo>& keys);
  // by_subject, by_type, by_run and lineage against the entries.
  absl::Status CheckIndexFamilies();
  absl::Status Finish();

  DerivedCheck result;

 private:
  void Wrong(std::string what) {
    ++result.wrong;
    if (result.problems.size() < DerivedCheck::kMaxReported) {
      result.problems.push_back(std::move(what));
    }
  }
  absl::Status CompareEventIdChunk(std::vector<std::string>& keys,
                                   std::vector<std::string>& values);
  // The records of family `cf` that no entry defines.
  absl::Status CheckExtraIndexRecords(Cf cf);

  Store& store_;
  const uint64_t size_;
  const bool repair_;
  uint64_t expected_event_ids_ = 0;
  absl::flat_hash_map<std::string, uint64_t> heads_;
  rocksdb::WriteBatch fixes_;
};

absl::Status Checker::CompareEventIdChunk(std::vector<std::string>& keys,
                                          std::vector<std::string>& values) {
  LEDGER_ASSIGN_OR_RETURN(std::vector<std::optional<std::string>> stored,
                          store_.MultiGet(Cf::kByEventId, keys));
  for (size_t i = 0; i < keys.size(); ++i) {
    if (stored[i] == values[i]) continue;
    Wrong(StrCat(DescribeEventIdKey(keys[i]), ": ", DescribeIndex(stored[i]),
                 ", expected entry ", ReadBe64(values[i]),
                 stored[i].has_value() && stored[i]->size() >= 8 &&
                         ReadBe64(*stored[i]) == ReadBe64(values[i])
                     ? " (event hash differs)"
                     : ""));
    if (repair_) fixes_.Put(store_.handle(Cf::kByEventId), keys[i], values[i]);
  }
  keys.clear();
  values.clear();
  return absl::OkStatus();
}

absl::Status Checker::CheckEventIds() {
  std::vector<std::string> keys, values;
  std::unique_ptr<rocksdb::Iterator> it =
      store_.NewIterator(Cf::kEntries, nullptr, /*fill_cache=*/false);
  uint64_t index = 0;
  for (it->SeekToFirst(); it->Valid() && index < size_; it->Next(), ++index) {
    LEDGER_ASSIGN_OR_RETURN(Entry entry,
                            DecodeEntry(it->value().ToStringView()));
    LEDGER_ASSIGN_OR_RETURN(EventHeader header,
                            PeekEventHeader(entry.event_bytes));
    keys.push_back(EventIdKey(header.tenant, header.event_id));
    values.push_back(EventIdValue(index, crypto::HashLeaf(entry.event_bytes)));
    ++expected_event_ids_;
    for (const BackLink& link : entry.back_links) {
      heads_[SubjectHeadKey(link.kind, header.tenant, link.id)] = index;
    }
    if (keys.size() == kChunk) {
      LEDGER_RETURN_IF_ERROR(CompareEventIdChunk(keys, values));
    }
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "scanning entries"));
  return CompareEventIdChunk(keys, values);
}

// Records that no entry defines: each names an entry, which must hold that
// very event. Only needed when the counts differ.
absl::Status Checker::CheckExtraEventIds() {
  uint64_t stored = 0;
  std::unique_ptr<rocksdb::Iterator> it =
      store_.NewIterator(Cf::kByEventId, nullptr, /*fill_cache=*/false);
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++stored;
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "scanning by_event_id"));
  if (stored == expected_event_ids_) return absl::OkStatus();
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string key = it->key().ToString();
    const std::string_view value = it->value().ToStringView();
    bool valid = false;
    if (value.size() == 8 + crypto::kHashSize && ReadBe64(value) < size_) {
      LEDGER_ASSIGN_OR_RETURN(
          std::optional<std::string> bytes,
          store_.Get(Cf::kEntries, EntryKey(ReadBe64(value))));
      absl::StatusOr<Entry> entry =
          bytes.has_value()
              ? DecodeEntry(*bytes)
              : absl::StatusOr<Entry>(absl::NotFoundError("missing"));
      if (entry.ok()) {
        absl::StatusOr<EventHeader> header =
            PeekEventHeader(entry->event_bytes);
        valid =
            header.ok() && EventIdKey(header->tenant, header->event_id) == key;
      }
    }
    if (valid) continue;
    Wrong(StrCat(DescribeEventIdKey(key), ": names entry ",
                 value.size() >= 8 ? StrCat(ReadBe64(value)) : "(none)",
                 ", which does not hold that event"));
    if (repair_) fixes_.Delete(store_.handle(Cf::kByEventId), key);
  }
  return FromRocks(it->status(), "scanning by_event_id");
}

absl::Status Checker::CheckSubjectHeads() {
  absl::flat_hash_map<std::string, uint64_t> unseen = heads_;
  std::unique_ptr<rocksdb::Iterator> it =
      store_.NewIterator(Cf::kSubjectHeads, nullptr, /*fill_cache=*/false);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string key = it->key().ToString();
    const std::string value = it->value().ToString();
    auto found = heads_.find(key);
    if (found == heads_.end()) {
      Wrong(StrCat(DescribeSubjectKey(key), ": names ", DescribeIndex(value),
                   " but no entry is about that subject"));
      if (repair_) fixes_.Delete(store_.handle(Cf::kSubjectHeads), key);
      continue;
    }
    unseen.erase(key);
    if (value == Be64(found->second)) continue;
    Wrong(StrCat(DescribeSubjectKey(key), ": names ", DescribeIndex(value),
                 ", expected entry ", found->second));
    if (repair_) {
      fixes_.Put(store_.handle(Cf::kSubjectHeads), key, Be64(found->second));
    }
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "scanning subject_heads"));
  std::vector<std::pair<std::string, uint64_t>> missing(unseen.begin(),
                                                        unseen.end());
  std::sort(missing.begin(), missing.end());
  for (const auto& [key, index] : missing) {
    Wrong(StrCat(DescribeSubjectKey(key), ": missing, expected entry ", index));
    if (repair_) fixes_.Put(store_.handle(Cf::kSubjectHeads), key, Be64(index));
  }
  return absl::OkStatus();
}

absl::Status Checker::CheckKeys(const std::vector<KeyInfo>& keys) {
  absl::flat_hash_map<std::string, std::string> expected;
  for (const KeyInfo& k : keys) {
    expected[std::string(crypto::AsView(k.key_id))] = EncodeKeyInfo(k);
  }
  std::unique_ptr<rocksdb::Iterator> it = store_.NewIterator(Cf::kKeys);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string key = it->key().ToString();
    auto found = expected.find(key);
    const std::string label = crypto::HexEncode(key).substr(0, 16);
    if (found == expected.end()) {
      Wrong(StrCat("key record ", label, ": no entry registers that key"));
      if (repair_) fixes_.Delete(store_.handle(Cf::kKeys), key);
      continue;
    }
    if (it->value().ToStringView() != found->second) {
      Wrong(StrCat("key record ", label, ": does not match the key entries"));
      if (repair_) fixes_.Put(store_.handle(Cf::kKeys), key, found->second);
    }
    expected.erase(found);
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "scanning keys"));
  for (const auto& [key, value] : expected) {
    Wrong(StrCat("key record ", crypto::HexEncode(key).substr(0, 16),
                 ": missing"));
    if (repair_) fixes_.Put(store_.handle(Cf::kKeys), key, value);
  }
  return absl::OkStatus();
}

absl::Status Checker::Finish() {
  if (!repair_) return absl::OkStatus();
  if (fixes_.Count() > 0) {
    LEDGER_RETURN_IF_ERROR(store_.Write(&fixes_));
  }
  LEDGER_ASSIGN_OR_RETURN(IndexDigests digests, DigestDerivedFamilies(store_));
  rocksdb::WriteBatch batch;
  batch.Put(store_.handle(Cf::kMeta), std::string(kMetaIndexDigestKey),
            EncodeIndexDigests(digests));
  return store_.Write(&batch);
}

absl::Status DigestFamily(const Store& store, Cf cf,
                          const rocksdb::Snapshot* snapshot,
                          crypto::MultisetHash* out) {
  std::unique_ptr<rocksdb::Iterator> it =
      store.NewIterator(cf, snapshot, /*fill_cache=*/false);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out->Add(it->key().ToStringView(), it->value().ToStringView());
  }
  return FromRocks(it->status(), "reading an index");
}

// The index families, with their digests, in Cf order.
constexpr Cf kIndexFamilies[] = {Cf::kBySubject, Cf::kByType, Cf::kByRun,
                                 Cf::kLineage};

const IndexKeys& KeysOf(const IndexFamilyKeys& keys, Cf cf) {
  switch (cf) {
    case Cf::kBySubject:
      return keys.by_subject;
    case Cf::kByType:
      return keys.by_type;
    case Cf::kByRun:
      return keys.by_run;
    default:
      return keys.lineage;
  }
}

crypto::MultisetHash& DigestOf(IndexDigests& digests, Cf cf) {
  switch (cf) {
    case Cf::kBySubject:
      return digests.by_subject;
    case Cf::kByType:
      return digests.by_type;
    case Cf::kByRun:
      return digests.by_run;
    default:
      return digests.lineage;
  }
}

std::string_view CfName(Cf cf) {
  return ColumnFamilyNames()[static_cast<int>(cf)];
}

// Reads entries [0, size) in chunks of kChunk and hands each chunk's index
// keys (sorted, each once) to `chunk`, with the index one past the chunk.
absl::Status ForEachIndexChunk(
    const Store& store, uint64_t size,
    const std::function<absl::Status(const IndexFamilyKeys&, uint64_t)>&
        chunk) {
  IndexFamilyKeys keys;
  std::unique_ptr<rocksdb::Iterator> it =
      store.NewIterator(Cf::kEntries, nullptr, /*fill_cache=*/false);
  uint64_t index = 0;
  const EventLimits limits = UnboundedEventLimits();
  for (it->SeekToFirst(); it->Valid() && index < size; it->Next(), ++index) {
    if (it->key().ToStringView() != EntryKey(index)) {
      return absl::DataLossError(StrCat("entry ", index, " is missing"));
    }
    LEDGER_ASSIGN_OR_RETURN(Entry entry,
                            DecodeEntry(it->value().ToStringView()));
    LEDGER_ASSIGN_OR_RETURN(Event event,
                            DecodeEvent(entry.event_bytes, limits));
    AddIndexKeys(event, index, keys);
    if ((index + 1) % kChunk == 0) {
      keys.SortUnique();
      LEDGER_RETURN_IF_ERROR(chunk(keys, index + 1));
      keys.Clear();
    }
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "scanning entries"));
  if (index < size) {
    return absl::DataLossError(StrCat("entry ", index, " is missing"));
  }
  keys.SortUnique();
  return chunk(keys, index);
}

}  // namespace

namespace {

// "by_type record of type 'x' of tenant 't' at entry 7", or the key in hex
// if it does not have the family's layout.
std::string DescribeIndexKey(Cf cf, std::string_view key) {
  const std::string raw =
      StrCat(CfName(cf), " record ", crypto::HexEncode(key));
  if (key.size() < 8 + 2) return raw;
  const uint64_t index = IndexOfIndexKey(key);
  std::string_view body = key.substr(0, key.size() - 8);
  if (body.back() != '\0') return raw;
  body.remove_suffix(1);
  // The 0x00-separated parts of the body.
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    const size_t zero = body.find('\0', start);
    parts.push_back(body.substr(start, zero - start));
    if (zero == std::string_view::npos) break;
    start = zero + 1;
  }
  const auto lead = [](std::string_view part) {
    return part.empty() ? '\0' : part[0];
  };
  const std::string at = StrCat(" at entry ", index);
  switch (cf) {
    case Cf::kBySubject: {
      const char kind = lead(parts[0]);
      if (parts.size() != 2 || kind < 1 || kind > 4) return raw;
      return StrCat("by_subject record of ",
                    LinkKindName(static_cast<LinkKind>(kind)), " '", parts[1],
                    "' of tenant '", parts[0].substr(1), "'", at);
    }
    case Cf::kByType:
      if (parts.size() != 2) return raw;
      return StrCat("by_type record of type '", parts[1], "' of tenant '",
                    parts[0], "'", at);
    case Cf::kByRun: {
      const char role = lead(parts[0]);
      if (parts.size() != 2 || (role != 'r' && role != 'p')) return raw;
      return StrCat("by_run record of ", role == 'r' ? "run" : "parent run",
                    " '", parts[1], "' of tenant '", parts[0].substr(1), "'",
                    at);
    }
    default: {
      const char role = lead(parts[0]);
      if (parts.size() != 3 || parts[1].empty() ||
          (role != 'i' && role != 'o' && role != 's') || parts[1][0] < 1 ||
          parts[1][0] > 3) {
        return raw;
      }
      return StrCat("lineage record (",
                    role == 'i'   ? "input"
                    : role == 'o' ? "output"
                                  : "subject",
                    ") of ", LinkKindName(static_cast<LinkKind>(parts[1][0])),
                    " '", parts[1].substr(1), "' version '", parts[2],
                    "' of tenant '", parts[0].substr(1), "'", at);
    }
  }
}

absl::Status Checker::CheckIndexFamilies() {
  uint64_t expected[std::size(kIndexFamilies)] = {};
  bool missing[std::size(kIndexFamilies)] = {};
  LEDGER_RETURN_IF_ERROR(ForEachIndexChunk(
      store_, size_,
      [&](const IndexFamilyKeys& keys, uint64_t) -> absl::Status {
        for (size_t f = 0; f < std::size(kIndexFamilies); ++f) {
          const Cf cf = kIndexFamilies[f];
          const IndexKeys& family = KeysOf(keys, cf);
          std::vector<std::string> wanted;
          wanted.reserve(family.size());
          for (size_t k = 0; k < family.size(); ++k) {
            wanted.emplace_back(family[k]);
          }
          expected[f] += wanted.size();
          LEDGER_ASSIGN_OR_RETURN(std::vector<std::optional<std::string>> got,
                                  store_.MultiGet(cf, wanted));
          for (size_t k = 0; k < wanted.size(); ++k) {
            if (got[k].has_value() && got[k]->empty()) continue;
            if (!got[k].has_value()) missing[f] = true;
            Wrong(StrCat(DescribeIndexKey(cf, wanted[k]),
                         got[k].has_value() ? StrCat(": holds ", got[k]->size(),
                                                     " bytes, expected none")
                                            : std::string(": missing")));
            if (repair_) fixes_.Put(store_.handle(cf), wanted[k], "");
          }
        }
        return absl::OkStatus();
      }));
  for (size_t f = 0; f < std::size(kIndexFamilies); ++f) {
    const Cf cf = kIndexFamilies[f];
    uint64_t stored = 0;
    {
      std::unique_ptr<rocksdb::Iterator> it =
          store_.NewIterator(cf, nullptr, /*fill_cache=*/false);
      for (it->SeekToFirst(); it->Valid(); it->Next()) ++stored;
      LEDGER_RETURN_IF_ERROR(
          FromRocks(it->status(), StrCat("scanning ", CfName(cf))));
    }
    // Equal counts and nothing missing: no record is extra.
    if (stored != expected[f] || missing[f]) {
      LEDGER_RETURN_IF_ERROR(CheckExtraIndexRecords(cf));
    }
  }
  return absl::OkStatus();
}

// Each record names an entry by its last 8 bytes: the record is extra
// unless that entry defines it.
absl::Status Checker::CheckExtraIndexRecords(Cf cf) {
  std::unique_ptr<rocksdb::Iterator> it =
      store_.NewIterator(cf, nullptr, /*fill_cache=*/false);
  IndexFamilyKeys defined;
  uint64_t defined_for = kNoPrevious;
  const EventLimits limits = UnboundedEventLimits();
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = it->key().ToStringView();
    const uint64_t index = IndexOfIndexKey(key);
    bool valid = false;
    if (index < size_) {
      if (index != defined_for) {
        defined.Clear();
        defined_for = index;
        LEDGER_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                                store_.Get(Cf::kEntries, EntryKey(index)));
        if (bytes.has_value()) {
          absl::StatusOr<Entry> entry = DecodeEntry(*bytes);
          absl::StatusOr<Event> event =
              entry.ok() ? DecodeEvent(entry->event_bytes, limits)
                         : absl::StatusOr<Event>(entry.status());
          if (event.ok()) AddIndexKeys(*event, index, defined);
          defined.SortUnique();
        }
      }
      const IndexKeys& keys = KeysOf(defined, cf);
      for (size_t k = 0; k < keys.size() && !valid; ++k) {
        valid = keys[k] == key;
      }
    }
    if (valid) continue;
    Wrong(StrCat(DescribeIndexKey(cf, key),
                 index < size_
                     ? ": that entry does not define it"
                     : StrCat(": the ledger has ", size_, " entries")));
    if (repair_) fixes_.Delete(store_.handle(cf), it->key());
  }
  return FromRocks(it->status(), StrCat("scanning ", CfName(cf)));
}

}  // namespace

absl::StatusOr<IndexDigests> BuildIndexFamilies(
    Store& store, uint64_t size,
    const std::function<void(std::string_view)>& progress) {
  // Whatever the families hold (nothing, unless an earlier upgrade was cut
  // short) goes first.
  for (Cf cf : kIndexFamilies) {
    rocksdb::WriteBatch batch;
    std::unique_ptr<rocksdb::Iterator> it =
        store.NewIterator(cf, nullptr, /*fill_cache=*/false);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      batch.Delete(store.handle(cf), it->key());
    }
    LEDGER_RETURN_IF_ERROR(
        FromRocks(it->status(), StrCat("reading ", CfName(cf))));
    if (batch.Count() > 0) LEDGER_RETURN_IF_ERROR(store.Write(&batch));
  }
  if (progress) {
    progress(
        StrCat("building the index families (by_subject, by_type, "
               "by_run, lineage) from ",
               size, " entries"));
  }
  IndexDigests digests;
  auto last_report = std::chrono::steady_clock::now();
  LEDGER_RETURN_IF_ERROR(ForEachIndexChunk(
      store, size,
      [&](const IndexFamilyKeys& keys, uint64_t done) -> absl::Status {
        rocksdb::WriteBatch batch;
        for (Cf cf : kIndexFamilies) {
          const IndexKeys& family = KeysOf(keys, cf);
          crypto::MultisetHash& digest = DigestOf(digests, cf);
          for (size_t k = 0; k < family.size(); ++k) {
            const std::string_view key = family[k];
            batch.Put(store.handle(cf), rocksdb::Slice(key.data(), key.size()),
                      rocksdb::Slice());
            digest.Add(key, "");
          }
        }
        LEDGER_RETURN_IF_ERROR(store.WriteNoSync(&batch));
        if (progress && done < size &&
            std::chrono::steady_clock::now() - last_report >
                std::chrono::seconds(2)) {
          last_report = std::chrono::steady_clock::now();
          progress(StrCat("indexed ", done, " of ", size, " entries"));
        }
        return absl::OkStatus();
      }));
  // Durable before the format record says the families exist.
  LEDGER_RETURN_IF_ERROR(store.SyncWal());
  if (progress) {
    progress(StrCat(
        "built the index families: by_subject ", digests.by_subject.count(),
        " records, by_type ", digests.by_type.count(), ", by_run ",
        digests.by_run.count(), ", lineage ", digests.lineage.count()));
  }
  return digests;
}

absl::StatusOr<IndexDigests> DigestDerivedFamilies(
    const Store& store, const rocksdb::Snapshot* snapshot) {
  IndexDigests d;
  LEDGER_RETURN_IF_ERROR(
      DigestFamily(store, Cf::kByEventId, snapshot, &d.by_event_id));
  LEDGER_RETURN_IF_ERROR(
      DigestFamily(store, Cf::kSubjectHeads, snapshot, &d.subject_heads));
  LEDGER_RETURN_IF_ERROR(DigestFamily(store, Cf::kKeys, snapshot, &d.keys));
  LEDGER_RETURN_IF_ERROR(
      DigestFamily(store, Cf::kBySubject, snapshot, &d.by_subject));
  LEDGER_RETURN_IF_ERROR(
      DigestFamily(store, Cf::kByType, snapshot, &d.by_type));
  LEDGER_RETURN_IF_ERROR(DigestFamily(store, Cf::kByRun, snapshot, &d.by_run));
  LEDGER_RETURN_IF_ERROR(
      DigestFamily(store, Cf::kLineage, snapshot, &d.lineage));
  return d;
}

std::string DifferingFamilies(const IndexDigests& digests,
                              const IndexDigests& expected) {
  std::string out;
  const auto compare = [&](std::string_view name, const crypto::MultisetHash& a,
                           const crypto::MultisetHash& b) {
    if (a == b) return;
    out.append(StrCat(out.empty() ? "" : ", ", name));
    if (a.count() != b.count()) {
      out.append(
          StrCat(" (", a.count(), " records, expected ", b.count(), ")"));
    }
  };
  compare("by_event_id", digests.by_event_id, expected.by_event_id);
  compare("subject_heads", digests.subject_heads, expected.subject_heads);
  compare("keys", digests.keys, expected.keys);
  compare("by_subject", digests.by_subject, expected.by_subject);
  compare("by_type", digests.by_type, expected.by_type);
  compare("by_run", digests.by_run, expected.by_run);
  compare("lineage", digests.lineage, expected.lineage);
  return out;
}

absl::StatusOr<DerivedCheck> CheckDerivedFamilies(
    Store& store, uint64_t size, const std::vector<KeyInfo>& keys, bool repair,
    bool check_keys) {
  Checker checker(store, size, repair);
  LEDGER_RETURN_IF_ERROR(checker.CheckEventIds());
  LEDGER_RETURN_IF_ERROR(checker.CheckExtraEventIds());
  LEDGER_RETURN_IF_ERROR(checker.CheckSubjectHeads());
  if (check_keys) LEDGER_RETURN_IF_ERROR(checker.CheckKeys(keys));
  LEDGER_RETURN_IF_ERROR(checker.CheckIndexFamilies());
  LEDGER_RETURN_IF_ERROR(checker.Finish());
  return std::move(checker.result);
}

}  // namespace ledger
