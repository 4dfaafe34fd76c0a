#include "ledger/ledger.h"

#include <algorithm>
#include <cstdlib>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/sync.h"
#include "crypto/rfc6962.h"
#include "ledger/integrity.h"
#include "ledger/ledger_impl.h"
#include "ledger/merkle.h"
#include "ledger/schema.h"
#include "ledger/store.h"
#include "ledger/tile_tree.h"

namespace ledger {

Ledger::Ledger(LedgerOptions options, std::unique_ptr<Store> store)
    : options_(std::move(options)),
      store_(std::move(store)),
      keys_(std::make_unique<KeyRegistry>()),
      shred_(std::make_unique<ShredKeys>(*store_)),
      impl_(std::make_unique<Impl>()) {
  if (options_.tile_cache_slots > 0) {
    impl_->tile_cache = std::make_unique<TileCache>(options_.tile_cache_slots);
  }
  MutexLock lock(&impl_->risk_mu);
  impl_->risk = std::make_unique<risk::Engine>();
}

Ledger::~Ledger() = default;

Head Ledger::head() const {
  MutexLock lock(&impl_->mu);
  return impl_->head;
}

Head Ledger::written_head() const {
  MutexLock lock(&impl_->mu);
  return impl_->written;
}

absl::Status Ledger::Publish(const Head& head) {
  MutexLock publish_lock(&impl_->publish_mu);
  {
    MutexLock lock(&impl_->mu);
    if (head.size < impl_->head.size || head.size > impl_->written.size) {
      return absl::InternalError(StrCat("cannot publish size ", head.size,
                                        ": published ", impl_->head.size,
                                        ", written ", impl_->written.size));
    }
    // Nothing new: everything up to it is durable already.
    if (head.size == impl_->head.size) return absl::OkStatus();
  }
  LEDGER_RETURN_IF_ERROR(store_->SyncWal());
  MutexLock lock(&impl_->mu);
  impl_->head = head;
  return absl::OkStatus();
}

absl::Status Ledger::ResumeAfterNoSpace() { return store_->Resume(); }

uint64_t Ledger::SpaceNeededToResume() const {
  return store_->SpaceNeededToResume();
}

absl::StatusOr<std::string> Ledger::GetEntry(uint64_t index) const {
  const uint64_t size = head().size;
  if (index >= size) {
    return absl::OutOfRangeError(StrCat(
        "entry ", index, " does not exist; the ledger has ", size, " entries"));
  }
  LEDGER_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                          store_->Get(Cf::kEntries, EntryKey(index)));
  if (!bytes.has_value()) {
    return absl::DataLossError(StrCat("entry ", index, " is missing"));
  }
  return *std::move(bytes);
}

absl::StatusOr<std::vector<std::string>> Ledger::GetEntries(
    uint64_t begin, uint64_t end, size_t max_count) const {
  end = std::min(end, head().size);
  std::vector<std::string> out;
  if (begin >= end) return out;
  end = std::min<uint64_t>(end, begin + max_count);
  out.reserve(end - begin);
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(Cf::kEntries);
  const std::string first = Be64(begin);
  for (it->Seek(first); it->Valid() && out.size() < end - begin; it->Next()) {
    const uint64_t index = begin + out.size();
    if (it->key().ToStringView() != Be64(index)) {
      return absl::DataLossError(StrCat("entry ", index, " is missing"));
    }
    out.emplace_back(it->value().data(), it->value().size());
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "reading entries"));
  if (out.size() != end - begin) {
    return absl::DataLossError(
        StrCat("entry ", begin + out.size(), " is missing"));
  }
  return out;
}

absl::StatusOr<std::optional<EntryRef>> Ledger::FindEvent(
    std::string_view tenant, const Uuid& event_id) const {
  LEDGER_ASSIGN_OR_RETURN(
      std::optional<std::string> value,
      store_->Get(Cf::kByEventId, EventIdKey(tenant, event_id)));
  if (!value.has_value()) return std::nullopt;
  LEDGER_ASSIGN_OR_RETURN(EventIdRecord record, DecodeEventIdValue(*value));
  if (record.index >= head().size) {
    // Written but not yet published, or corrupt. The record and the head
    // record are written in one batch, so the head record read after it
    // covers every entry a sound record names.
    LEDGER_ASSIGN_OR_RETURN(std::optional<std::string> head_value,
                            store_->Get(Cf::kMeta, kMetaHeadKey));
    uint64_t written = 0;
    if (head_value.has_value()) {
      LEDGER_ASSIGN_OR_RETURN(HeadRecord h, DecodeHeadRecord(*head_value));
      written = h.size;
    }
    if (record.index < written) return std::nullopt;  // not yet published
    return absl::DataLossError(
        StrCat("the event index says event ", FormatUuid(event_id),
               " of tenant '", tenant, "' is entry ", record.index,
               " but the ledger has ", written, " entries"));
  }
  LEDGER_ASSIGN_OR_RETURN(std::string bytes, GetEntry(record.index));
  LEDGER_ASSIGN_OR_RETURN(Entry entry, DecodeEntry(bytes));
  // The record must point at this very event, never at another one.
  absl::StatusOr<EventHeader> header = PeekEventHeader(entry.event_bytes);
  if (!header.ok() || header->tenant != tenant ||
      header->event_id != event_id ||
      crypto::HashLeaf(entry.event_bytes) != record.event_hash) {
    return absl::DataLossError(StrCat(
        "the event index points event ", FormatUuid(event_id), " of tenant '",
        tenant, "' at entry ", record.index, ", which holds another event"));
  }
  return EntryRef{record.index, crypto::HashLeaf(bytes), entry.received_at_ns,
                  /*duplicate=*/false};
}

absl::StatusOr<Hash> Ledger::RootAt(uint64_t size) const {
  const uint64_t current = head().size;
  if (size > current) {
    return absl::OutOfRangeError(
        StrCat("tree size ", size, " exceeds the ledger size ", current));
  }
  TileReader reader(*store_, impl_->tile_cache.get());
  return ledger::RootAt(reader, size);
}

absl::StatusOr<std::string> Ledger::TlogHashTile(const TlogTile& tile,
                                                 uint64_t tree_size) const {
  const uint64_t current = head().size;
  if (tree_size > current) {
    return absl::OutOfRangeError(
        StrCat("tree size ", tree_size, " exceeds the ledger size ", current));
  }
  return ReadTlogHashTile(*store_, tile, tree_size);
}

StoreStats Ledger::store_stats() const {
  rocksdb::DB* db = store_->db();
  StoreStats out;
  uint64_t v = 0;
  if (db->GetIntProperty(rocksdb::DB::Properties::kIsWriteStopped, &v)) {
    out.write_stopped = v != 0;
  }
  db->GetIntProperty(rocksdb::DB::Properties::kActualDelayedWriteRate,
                     &out.delayed_write_rate);
  db->GetIntProperty(rocksdb::DB::Properties::kNumRunningCompactions,
                     &out.running_compactions);
  db->GetIntProperty(rocksdb::DB::Properties::kNumRunningFlushes,
                     &out.running_flushes);
  db->GetAggregatedIntProperty(rocksdb::DB::Properties::kCompactionPending,
                               &out.compaction_pending);
  db->GetAggregatedIntProperty(
      rocksdb::DB::Properties::kEstimatePendingCompactionBytes,
      &out.pending_compaction_bytes);
  db->GetAggregatedIntProperty(rocksdb::DB::Properties::kLiveSstFilesSize,
                               &out.live_sst_bytes);
  // The stall counters are only in each column family's statistics map.
  for (int cf = 0; cf < static_cast<int>(Cf::kCount); ++cf) {
    std::map<std::string, std::string> stats;
    if (!db->GetMapProperty(store_->handle(static_cast<Cf>(cf)),
                            rocksdb::DB::Properties::kCFStats, &stats)) {
      continue;
    }
    auto add = [&stats](const char* key, uint64_t* to) {
      auto it = stats.find(key);
      if (it == stats.end()) return;
      *to += std::strtoull(it->second.c_str(), nullptr, 10);
    };
    add("io_stalls.total_stop", &out.stall_stops);
    add("io_stalls.total_slowdown", &out.stall_slowdowns);
  }
  return out;
}

absl::StatusOr<std::vector<Hash>> Ledger::InclusionProof(uint64_t index,
                                                         uint64_t size) const {
  const uint64_t current = head().size;
  if (size > current) {
    return absl::OutOfRangeError(
        StrCat("tree size ", size, " exceeds the ledger size ", current));
  }
  TileReader reader(*store_, impl_->tile_cache.get());
  return ledger::InclusionProof(reader, index, size);
}

absl::StatusOr<std::vector<Hash>> Ledger::MultiInclusionProof(
    absl::Span<const uint64_t> indexes, uint64_t size) const {
  const uint64_t current = head().size;
  if (size > current) {
    return absl::OutOfRangeError(
        StrCat("tree size ", size, " exceeds the ledger size ", current));
  }
  TileReader reader(*store_, impl_->tile_cache.get());
  return ledger::MultiInclusionProof(reader, indexes, size);
}

absl::StatusOr<std::vector<Hash>> Ledger::ConsistencyProof(
    uint64_t old_size, uint64_t new_size) const {
  const uint64_t current = head().size;
  if (new_size > current) {
    return absl::OutOfRangeError(
        StrCat("tree size ", new_size, " exceeds the ledger size ", current));
  }
  TileReader reader(*store_, impl_->tile_cache.get());
  return ledger::ConsistencyProof(reader, old_size, new_size);
}

std::optional<StoredCheckpoint> Ledger::LatestCheckpoint() const {
  MutexLock lock(&impl_->mu);
  return impl_->latest_checkpoint;
}

absl::StatusOr<StoredCheckpoint> Ledger::GetCheckpoint(
    uint64_t sequence) const {
  LEDGER_ASSIGN_OR_RETURN(
      std::optional<std::string> value,
      store_->Get(Cf::kCheckpoints, CheckpointKey(sequence)));
  if (!value.has_value()) {
    return absl::NotFoundError(
        StrCat("no checkpoint with sequence number ", sequence));
  }
  if (value->size() < 8) {
    return absl::DataLossError(
        StrCat("checkpoint ", sequence, " record is truncated"));
  }
  return StoredCheckpoint{sequence, ReadBe64(*value), value->substr(8)};
}

absl::StatusOr<std::optional<StoredCheckpoint>> Ledger::CheckpointCovering(
    uint64_t size) const {
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(Cf::kCheckpoints);
  it->Seek(CheckpointSizeKey(size, 0));
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "reading checkpoints"));
  if (!it->Valid() || it->key().size() != 17 || it->key()[0] != 's') {
    return std::nullopt;
  }
  const uint64_t sequence = ReadBe64(it->key().ToStringView().substr(9));
  LEDGER_ASSIGN_OR_RETURN(StoredCheckpoint cp, GetCheckpoint(sequence));
  return cp;
}

absl::StatusOr<uint64_t> Ledger::StoreCheckpoint(std::string_view note) {
  LEDGER_ASSIGN_OR_RETURN(
      VerifiedCheckpoint vc,
      OpenCheckpoint(note, options_.checkpoint_verifiers, options_.origin));
  const Head current = head();
  if (vc.checkpoint.size > current.size) {
    return absl::InvalidArgumentError(
        StrCat("checkpoint size ", vc.checkpoint.size,
               " exceeds the ledger size ", current.size));
  }
  std::optional<StoredCheckpoint> latest = LatestCheckpoint();
  if (latest.has_value() && vc.checkpoint.size < latest->size) {
    return absl::FailedPreconditionError(
        StrCat("checkpoint size ", vc.checkpoint.size,
               " is smaller than the latest checkpoint's ", latest->size));
  }
  LEDGER_ASSIGN_OR_RETURN(Hash root, RootAt(vc.checkpoint.size));
  if (root != vc.checkpoint.root) {
    return absl::InvalidArgumentError(StrCat("checkpoint root for size ",
                                             vc.checkpoint.size,
                                             " does not match the ledger"));
  }
  const uint64_t sequence = latest.has_value() ? latest->sequence + 1 : 0;
  rocksdb::WriteBatch batch;
  batch.Put(store_->handle(Cf::kCheckpoints), CheckpointKey(sequence),
            Be64(vc.checkpoint.size) + std::string(note));
  batch.Put(store_->handle(Cf::kCheckpoints),
            CheckpointSizeKey(vc.checkpoint.size, sequence), "");
  LEDGER_RETURN_IF_ERROR(store_->Write(&batch));
  MutexLock lock(&impl_->mu);
  impl_->latest_checkpoint =
      StoredCheckpoint{sequence, vc.checkpoint.size, std::string(note)};
  return sequence;
}

absl::Status Ledger::TEST_Flush() {
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  for (int cf = 0; cf < static_cast<int>(Cf::kCount); ++cf) {
    handles.push_back(store_->handle(static_cast<Cf>(cf)));
  }
  rocksdb::FlushOptions options;
  options.wait = true;
  return FromRocks(store_->db()->Flush(options, handles), "flushing");
}

}  // namespace ledger
