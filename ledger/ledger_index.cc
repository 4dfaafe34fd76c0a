// Ledger reads of the index families (by_subject, by_type, by_run,
// lineage; ledger/schema.h): what the provenance queries are built on.
// Every read stops at head().size: records of entries written but not yet
// published are skipped like the entries themselves.

#include <algorithm>

#include "base/status_macros.h"
#include "base/strings.h"
#include "ledger/ledger.h"
#include "ledger/schema.h"
#include "ledger/store.h"

namespace ledger {
namespace {

Cf FamilyCf(IndexFamily family) {
  switch (family) {
    case IndexFamily::kBySubject:
      return Cf::kBySubject;
    case IndexFamily::kByType:
      return Cf::kByType;
    case IndexFamily::kByRun:
      return Cf::kByRun;
    case IndexFamily::kLineage:
      return Cf::kLineage;
  }
  return Cf::kBySubject;
}

std::string_view FamilyName(IndexFamily family) {
  return ColumnFamilyNames()[static_cast<int>(FamilyCf(family))];
}

// The key just past every key that starts with `prefix` + `id` + 0x00 (ids
// hold no control characters, so 0x01 sorts before any longer id).
std::string PastId(std::string_view prefix, std::string_view id) {
  std::string key(prefix);
  key.append(id);
  key.push_back('\x01');
  return key;
}

}  // namespace

absl::StatusOr<std::vector<uint64_t>> Ledger::ScanIndex(
    IndexFamily family, std::string_view prefix, uint64_t from, uint64_t below,
    size_t max_count, bool reverse) const {
  return IndexScanner(*this).Scan(family, prefix, from, below, max_count,
                                  reverse);
}

Ledger::IndexScanner::IndexScanner(const Ledger& ledger) : ledger_(ledger) {}

Ledger::IndexScanner::~IndexScanner() = default;

absl::StatusOr<std::vector<uint64_t>> Ledger::IndexScanner::Scan(
    IndexFamily family, std::string_view prefix, uint64_t from, uint64_t below,
    size_t max_count, bool reverse) {
  below = std::min(below, ledger_.head().size);
  std::vector<uint64_t> out;
  if (from >= below || max_count == 0) return out;
  std::unique_ptr<rocksdb::Iterator>& it =
      prefix_iterators_[static_cast<int>(family)];
  if (it == nullptr) {
    it = ledger_.store_->NewIndexPrefixIterator(FamilyCf(family));
  }
  const size_t key_size = prefix.size() + 8;
  // A key of this prefix: exactly prefix || BE64 (a longer id or version
  // never starts with the prefix's final 0x00, but be strict).
  const auto index_of =
      [&](const rocksdb::Slice& key) -> std::optional<uint64_t> {
    const std::string_view k = key.ToStringView();
    if (k.size() != key_size || !k.starts_with(prefix)) return std::nullopt;
    return ReadBe64(k.substr(prefix.size()));
  };
  std::string bound(prefix);
  if (!reverse) {
    bound.append(Be64(from));
    for (it->Seek(bound); it->Valid() && out.size() < max_count; it->Next()) {
      if (!it->key().ToStringView().starts_with(prefix)) break;
      const std::optional<uint64_t> index = index_of(it->key());
      if (!index.has_value()) continue;
      if (*index >= below) break;
      out.push_back(*index);
    }
  } else {
    bound.append(Be64(below - 1));
    for (it->SeekForPrev(bound); it->Valid() && out.size() < max_count;
         it->Prev()) {
      if (!it->key().ToStringView().starts_with(prefix)) break;
      const std::optional<uint64_t> index = index_of(it->key());
      if (!index.has_value()) continue;
      if (*index < from) break;
      out.push_back(*index);
    }
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(
      it->status(), StrCat("reading the ", FamilyName(family), " index")));
  return out;
}

absl::StatusOr<std::vector<std::string>> Ledger::ListIndexIds(
    IndexFamily family, std::string_view prefix, std::string_view start_after,
    size_t max_count) const {
  return IndexScanner(*this).ListIds(family, prefix, start_after, max_count);
}

absl::StatusOr<std::vector<std::string>> Ledger::IndexScanner::ListIds(
    IndexFamily family, std::string_view prefix, std::string_view start_after,
    size_t max_count) {
  const uint64_t size = ledger_.head().size;
  std::vector<std::string> out;
  if (max_count == 0 || size == 0) return out;
  std::unique_ptr<rocksdb::Iterator>& it = iterators_[static_cast<int>(family)];
  if (it == nullptr) it = ledger_.store_->NewIterator(FamilyCf(family));
  if (start_after.empty()) {
    it->Seek(rocksdb::Slice(prefix.data(), prefix.size()));
  } else {
    it->Seek(PastId(prefix, start_after));
  }
  while (it->Valid() && out.size() < max_count) {
    const std::string_view key = it->key().ToStringView();
    if (!key.starts_with(prefix)) break;
    const size_t zero = key.find('\0', prefix.size());
    if (zero == std::string_view::npos || key.size() < zero + 1 + 8) {
      // Not a key of this layout (a damaged record): step over it.
      it->Next();
      continue;
    }
    const std::string_view id = key.substr(prefix.size(), zero - prefix.size());
    if (IndexOfIndexKey(key) < size) {
      out.emplace_back(id);
      it->Seek(PastId(prefix, id));
    } else {
      // A record of an unpublished entry: the id counts only if another of
      // its records is of a published one (these are few: the unpublished
      // tail's).
      it->Next();
    }
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(
      it->status(), StrCat("reading the ", FamilyName(family), " index")));
  return out;
}

absl::StatusOr<std::vector<std::string>> Ledger::GetEntriesAt(
    absl::Span<const uint64_t> indexes) const {
  const uint64_t size = head().size;
  std::vector<std::string> keys;
  keys.reserve(indexes.size());
  for (uint64_t index : indexes) {
    if (index >= size) {
      return absl::OutOfRangeError(StrCat("entry ", index,
                                          " does not exist; the ledger has ",
                                          size, " entries"));
    }
    keys.push_back(EntryKey(index));
  }
  LEDGER_ASSIGN_OR_RETURN(std::vector<std::optional<std::string>> found,
                          store_->MultiGet(Cf::kEntries, keys));
  std::vector<std::string> out;
  out.reserve(found.size());
  for (size_t i = 0; i < found.size(); ++i) {
    if (!found[i].has_value()) {
      return absl::DataLossError(StrCat("entry ", indexes[i], " is missing"));
    }
    out.push_back(*std::move(found[i]));
  }
  return out;
}

absl::StatusOr<uint64_t> Ledger::FirstIndexAtOrAfter(int64_t t_ns,
                                                     uint64_t size) const {
  const uint64_t current = head().size;
  if (size > current) {
    return absl::OutOfRangeError(
        StrCat("size ", size, " exceeds the ledger size ", current));
  }
  // Invariant: every entry below `lo` is earlier than t_ns, every entry
  // from `hi` on is not.
  uint64_t lo = 0, hi = size;
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    LEDGER_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                            store_->Get(Cf::kEntries, EntryKey(mid)));
    if (!bytes.has_value()) {
      return absl::DataLossError(StrCat("entry ", mid, " is missing"));
    }
    LEDGER_ASSIGN_OR_RETURN(Entry entry, DecodeEntry(*bytes));
    if (entry.received_at_ns < t_ns) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

}  // namespace ledger
