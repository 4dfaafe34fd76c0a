// Ledger::DiscardAfter: takes back entries the replicated cluster wrote but
// never committed (docs/cluster.md), with everything derived from them, in
// one write. The contract is in ledger.h.
//
// What the discarded entries left, and how it goes:
//   entries, by_event_id,  deleted record by record (each index family key
//   index families         ends with the entry's index: no other entry
//                          shares it)
//   subject_heads          each subject's head as it was before them: the
//                          back-link of the oldest discarded entry naming it
//   keys                   the key events of [0, size) replayed
//                          (ApplyKeyEvent, as Open's full check does); the
//                          records that differ rewritten or deleted
//   tree                   tiles beyond the right edge at `size` deleted,
//                          the partial tiles cut back to that edge (a stored
//                          prefix never changes, so the rest is as a ledger
//                          of `size` entries stores it)
//   meta                   the head and digest records as at `size`
//   shred_keys             the erasure records of discarded key.erased
//                          entries (the keys stay destroyed)
//   risk engine            replayed from entries [0, size) in the same pass
//                          as the keys

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/sync.h"
#include "crypto/rfc6962.h"
#include "ledger/ledger.h"
#include "ledger/ledger_impl.h"
#include "ledger/risk_findings.h"
#include "ledger/schema.h"
#include "ledger/store.h"
#include "ledger/tile_tree.h"

namespace ledger {
namespace {

struct DiscardedEntry {
  Entry entry;
  Event event;
};

// Reads entries [begin, end) back, decoded.
absl::StatusOr<std::vector<DiscardedEntry>> ReadDiscarded(const Store& store,
                                                          uint64_t begin,
                                                          uint64_t end) {
  std::vector<DiscardedEntry> out;
  out.reserve(end - begin);
  std::unique_ptr<rocksdb::Iterator> it =
      store.NewIterator(Cf::kEntries, nullptr, /*fill_cache=*/false);
  uint64_t index = begin;
  for (it->Seek(EntryKey(begin)); it->Valid() && index < end;
       it->Next(), ++index) {
    if (it->key().ToStringView() != EntryKey(index)) break;
    absl::StatusOr<Entry> entry = DecodeEntry(it->value().ToStringView());
    absl::StatusOr<Event> event =
        entry.ok() ? DecodeEvent(entry->event_bytes, UnboundedEventLimits())
                   : absl::StatusOr<Event>(entry.status());
    if (!event.ok()) {
      return absl::DataLossError(
          StrCat("entry ", index, " does not decode (reading the entries to ",
                 "discard): ", event.status().message()));
    }
    if (entry->index != index) {
      return absl::DataLossError(StrCat("entry ", index, " says it is entry ",
                                        entry->index,
                                        " (reading the entries to discard)"));
    }
    out.push_back(DiscardedEntry{*std::move(entry), *std::move(event)});
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "reading entries"));
  if (index < end) {
    return absl::DataLossError(StrCat(
        "entry ", index, " is missing (reading the entries to discard)"));
  }
  return out;
}

}  // namespace

absl::Status Ledger::DiscardAfter(uint64_t size) {
  Impl& im = *impl_;
  Head written;
  std::optional<StoredCheckpoint> checkpoint;
  {
    MutexLock lock(&im.mu);
    written = im.written;
    checkpoint = im.latest_checkpoint;
  }
  if (size > written.size) {
    return absl::FailedPreconditionError(
        StrCat("cannot discard the entries from ", size,
               " on: the ledger has written only ", written.size, " entries"));
  }
  if (checkpoint.has_value() && size < checkpoint->size) {
    return absl::FailedPreconditionError(StrCat(
        "cannot discard the entries from ", size, " on: the stored checkpoint ",
        checkpoint->sequence, " signs the tree of ", checkpoint->size,
        " entries, and a ledger without them would contradict it; discard "
        "only to a size of ",
        checkpoint->size, " or more"));
  }
  if (size == written.size) return absl::OkStatus();

  // 1. One pass over [0, size): the keys those entries define, the risk
  //    engine after them, and the ledger clock at `size`.
  absl::flat_hash_map<std::string, KeyInfo> keys;
  const auto find = [&](const Hash& id) -> std::optional<KeyInfo> {
    auto it = keys.find(std::string(crypto::AsView(id)));
    if (it == keys.end()) return std::nullopt;
    return it->second;
  };
  int64_t last_received_at_ns = 0;
  const EntryVisitor replay = [&](uint64_t index, const Entry& entry,
                                  const Event& event) -> absl::Status {
    last_received_at_ns = entry.received_at_ns;
    if (!IsKeyEventType(event.type)) return absl::OkStatus();
    absl::StatusOr<KeyInfo> signer = ResolveSigner(
        entry.emitter.key_id,
        entry.emitter.batch_size == 1 ? absl::Span<const Event>(&event, 1)
                                      : absl::Span<const Event>(),
        index == 0 && keys.empty(), find);
    absl::StatusOr<std::vector<KeyInfo>> changed =
        signer.ok()
            ? ApplyKeyEvent(event, *signer, index, entry.received_at_ns, find)
            : signer.status();
    if (!changed.ok()) {
      return absl::DataLossError(StrCat(
          "entry ", index, " could not have been appended: ",
          changed.status().message(), " (replaying the key events of [0, ",
          size, ") to discard the entries after them)"));
    }
    for (KeyInfo& info : *changed) {
      keys[std::string(crypto::AsView(info.key_id))] = std::move(info);
    }
    return absl::OkStatus();
  };
  RiskFindingsIndex findings;
  LEDGER_ASSIGN_OR_RETURN(
      std::unique_ptr<risk::Engine> engine,
      ReplayRisk(size, /*check=*/false, &replay, &findings));
  if (!engine->unrecorded().empty()) {
    const risk::Propagation& p = engine->unrecorded().front();
    return absl::FailedPreconditionError(StrCat(
        "cannot discard the entries from ", size,
        " on: that would split the group of entry ", p.record.index,
        ", which propagated data grades recorded by grade.propagated entries "
        "at ",
        size,
        " or later; discard the whole group (to a size at or below its first "
        "entry) or none of it"));
  }

  // 2. The discarded entries, and what they derived.
  LEDGER_ASSIGN_OR_RETURN(std::vector<DiscardedEntry> gone,
                          ReadDiscarded(*store_, size, written.size));
  rocksdb::WriteBatch wb;
  IndexDigests digests = im.digests;

  std::vector<std::string> id_keys;
  id_keys.reserve(gone.size());
  for (const DiscardedEntry& d : gone) {
    wb.Delete(store_->handle(Cf::kEntries), EntryKey(d.entry.index));
    id_keys.push_back(EventIdKey(d.event.tenant, d.event.event_id));
  }
  LEDGER_ASSIGN_OR_RETURN(std::vector<std::optional<std::string>> stored_ids,
                          store_->MultiGet(Cf::kByEventId, id_keys));
  for (size_t i = 0; i < gone.size(); ++i) {
    const std::string value = EventIdValue(
        gone[i].entry.index, crypto::HashLeaf(gone[i].entry.event_bytes));
    if (stored_ids[i] != value) {
      return absl::DataLossError(
          StrCat("the event index record of entry ", gone[i].entry.index,
                 " (event ", FormatUuid(gone[i].event.event_id), ") is ",
                 stored_ids[i].has_value() ? "wrong" : "missing",
                 "; refusing to discard. Rebuild the indexes with `ledger-node "
                 "repair-indexes --data DIR`"));
    }
    wb.Delete(store_->handle(Cf::kByEventId), id_keys[i]);
    digests.by_event_id.Remove(id_keys[i], value);
  }

  if (options_.provenance_indexes) {
    IndexFamilyKeys index_keys;
    for (const DiscardedEntry& d : gone) {
      AddIndexKeys(d.event, d.entry.index, index_keys);
    }
    index_keys.SortUnique();
    const std::pair<const IndexKeys*, Cf> families[] = {
        {&index_keys.by_subject, Cf::kBySubject},
        {&index_keys.by_type, Cf::kByType},
        {&index_keys.by_run, Cf::kByRun},
        {&index_keys.lineage, Cf::kLineage}};
    crypto::MultisetHash* const family_digests[] = {
        &digests.by_subject, &digests.by_type, &digests.by_run,
        &digests.lineage};
    for (size_t f = 0; f < std::size(families); ++f) {
      const IndexKeys& family = *families[f].first;
      rocksdb::ColumnFamilyHandle* handle = store_->handle(families[f].second);
      for (size_t k = 0; k < family.size(); ++k) {
        const std::string_view key = family[k];
        wb.Delete(handle, rocksdb::Slice(key.data(), key.size()));
        family_digests[f]->Remove(key, "");
      }
    }
  }

  // Newest first: the last back-link seen for a subject is the oldest
  // discarded entry's, whose `previous` is the head before the discarded
  // entries; the first seen names the head they left.
  std::vector<std::string> head_keys;
  std::vector<uint64_t> newest;
  std::vector<uint64_t> restored;
  {
    absl::flat_hash_map<std::string, size_t> slot;
    for (auto d = gone.rbegin(); d != gone.rend(); ++d) {
      for (const BackLink& link : d->entry.back_links) {
        std::string key = SubjectHeadKey(link.kind, d->event.tenant, link.id);
        auto [it, inserted] = slot.emplace(key, head_keys.size());
        if (inserted) {
          head_keys.push_back(std::move(key));
          newest.push_back(d->entry.index);
          restored.push_back(link.previous);
        }
        restored[it->second] = link.previous;
      }
    }
  }
  LEDGER_ASSIGN_OR_RETURN(std::vector<std::optional<std::string>> heads,
                          store_->MultiGet(Cf::kSubjectHeads, head_keys));
  for (size_t k = 0; k < head_keys.size(); ++k) {
    const std::string value = Be64(newest[k]);
    if (heads[k] != value ||
        (restored[k] != kNoPrevious && restored[k] >= size)) {
      return absl::DataLossError(
          StrCat("the subject_heads record ", crypto::HexEncode(head_keys[k]),
                 " does not name entry ", newest[k],
                 ", the latest about its subject; refusing to discard. "
                 "Rebuild the indexes with `ledger-node repair-indexes "
                 "--data DIR`"));
    }
    digests.subject_heads.Remove(head_keys[k], value);
    if (restored[k] == kNoPrevious) {
      wb.Delete(store_->handle(Cf::kSubjectHeads), head_keys[k]);
    } else {
      const std::string before = Be64(restored[k]);
      wb.Put(store_->handle(Cf::kSubjectHeads), head_keys[k], before);
      digests.subject_heads.Add(head_keys[k], before);
    }
  }

  // The key records: those of the registry that the replay defines
  // otherwise, or not at all.
  std::vector<KeyInfo> key_puts;
  std::vector<Hash> key_erases;
  for (const KeyInfo& now : keys_->List()) {
    const std::string id(crypto::AsView(now.key_id));
    auto it = keys.find(id);
    if (it != keys.end() && it->second == now) continue;
    digests.keys.Remove(id, EncodeKeyInfo(now));
    if (it == keys.end()) {
      wb.Delete(store_->handle(Cf::kKeys), id);
      key_erases.push_back(now.key_id);
    }
  }
  for (const auto& [id, info] : keys) {
    const std::optional<KeyInfo> now = keys_->Find(info.key_id);
    if (now == info) continue;
    const std::string value = EncodeKeyInfo(info);
    wb.Put(store_->handle(Cf::kKeys), id, value);
    digests.keys.Add(id, value);
    key_puts.push_back(info);
  }

  for (const DiscardedEntry& d : gone) {
    if (d.event.type != "key.erased") continue;
    LEDGER_ASSIGN_OR_RETURN(PayloadKeyId id, ErasedKeyIdOf(d.event));
    LEDGER_RETURN_IF_ERROR(shred_->AddErasureRemoval(
        PayloadKeyErasure{id, d.event.tenant, d.entry.index}, &wb));
  }

  // The tree: at each tile level, the tiles of a tree of `size` leaves are
  // a prefix of those stored now.
  LEDGER_ASSIGN_OR_RETURN(TileTree tree,
                          TileTree::Load(*store_, size, /*at_head=*/false));
  std::vector<std::pair<int, uint64_t>> uncached;  // complete tiles gone
  for (int t = 0; t < kMaxTileLevels; ++t) {
    const int shift = t * kTileHeight;
    const uint64_t old_nodes = written.size >> shift;
    if (old_nodes == 0) break;
    const uint64_t new_nodes = size >> shift;
    const uint64_t old_tiles = (old_nodes + kTileWidth - 1) / kTileWidth;
    const uint64_t full = new_nodes / kTileWidth;
    const uint64_t width = new_nodes % kTileWidth;
    for (uint64_t x = full + (width > 0 ? 1 : 0); x < old_tiles; ++x) {
      wb.Delete(store_->handle(Cf::kTree), TileKey(t, x));
    }
    if (width > 0) {
      LEDGER_ASSIGN_OR_RETURN(std::optional<std::string> tile,
                              store_->Get(Cf::kTree, TileKey(t, full)));
      if (!tile.has_value() || tile->size() < width * crypto::kHashSize) {
        return absl::DataLossError(StrCat(
            "tree tile (level ", t, ", index ", full, ") should hold ", width,
            " hashes or more for a tree of ", written.size, " entries"));
      }
      tile->resize(width * crypto::kHashSize);
      wb.Put(store_->handle(Cf::kTree), TileKey(t, full), *tile);
    }
    for (uint64_t x = full; t >= 1 && x < old_nodes / kTileWidth; ++x) {
      uncached.emplace_back(t, x);
    }
  }

  const Head head{size, tree.Root(),
                  gone.front().entry.prev_chain_hash};  // of entry size - 1
  if (size == 0) {
    // An empty ledger has no head record.
    wb.Delete(store_->handle(Cf::kMeta), std::string(kMetaHeadKey));
  } else {
    wb.Put(store_->handle(Cf::kMeta), std::string(kMetaHeadKey),
           EncodeHeadRecord(HeadRecord{size, head.root, head.chain_hash,
                                       last_received_at_ns}));
  }
  wb.Put(store_->handle(Cf::kMeta), std::string(kMetaIndexDigestKey),
         EncodeIndexDigests(digests));

  // 3. One write; then the in-memory state follows.
  MutexLock publish_lock(&im.publish_mu);
  LEDGER_RETURN_IF_ERROR(
      Annotate(store_->Write(&wb),
               StrCat("discarding entries [", size, ", ", written.size, ")")));
  for (const Hash& id : key_erases) keys_->Erase(id);
  for (const KeyInfo& info : key_puts) keys_->Put(info);
  im.tree = std::move(tree);
  im.last_received_at_ns = last_received_at_ns;
  im.digests = digests;
  if (im.tile_cache != nullptr) {
    for (const auto& [t, x] : uncached) im.tile_cache->Erase(t, x);
  }
  {
    MutexLock lock(&im.mu);
    im.written = head;
    if (im.head.size > size) im.head = head;
  }
  MutexLock risk_lock(&im.risk_mu);
  im.risk = std::move(engine);
  im.findings = std::move(findings);
  im.risk_stale = false;
  return absl::OkStatus();
}

}  // namespace ledger
