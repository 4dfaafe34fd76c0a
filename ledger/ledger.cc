#include "ledger/ledger.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/sync.h"
#include "crypto/rfc6962.h"
#include "ledger/integrity.h"
#include "ledger/ledger_impl.h"
#include "ledger/ledger_keys.h"
#include "ledger/merkle.h"
#include "ledger/store.h"
#include "ledger/tile_tree.h"

namespace ledger {
namespace {

constexpr std::string_view kFormatVersion = "1";

}  // namespace

Ledger::Ledger(LedgerOptions options, std::unique_ptr<Store> store)
    : options_(std::move(options)),
      store_(std::move(store)),
      keys_(std::make_unique<KeyRegistry>()),
      impl_(std::make_unique<Impl>()) {
  if (options_.tile_cache_slots > 0) {
    impl_->tile_cache = std::make_unique<TileCache>(options_.tile_cache_slots);
  }
}

Ledger::~Ledger() = default;

absl::StatusOr<std::unique_ptr<Ledger>> Ledger::Open(const std::string& dir,
                                                     LedgerOptions options) {
  if (options.origin.empty() || !crypto::IsValidKeyName(options.origin)) {
    return absl::InvalidArgumentError(
        "the ledger origin must be a non-empty name without spaces or '+'");
  }
  // A Store opened on its own (peers, tests) gets the ledger's default.
  static_assert(StoreOptions{}.block_cache_bytes == kDefaultBlockCacheBytes);
  StoreOptions store_options;
  store_options.block_cache_bytes = options.block_cache_bytes;
  LEDGER_ASSIGN_OR_RETURN(std::unique_ptr<Store> store,
                          Store::Open(dir, store_options));

  LEDGER_ASSIGN_OR_RETURN(std::optional<std::string> origin,
                          store->Get(Cf::kMeta, kMetaOriginKey));
  if (!origin.has_value()) {
    rocksdb::WriteBatch batch;
    batch.Put(store->handle(Cf::kMeta), std::string(kMetaOriginKey),
              options.origin);
    batch.Put(store->handle(Cf::kMeta), std::string(kMetaFormatKey),
              std::string(kFormatVersion));
    LEDGER_RETURN_IF_ERROR(store->Write(&batch));
  } else if (*origin != options.origin) {
    return absl::FailedPreconditionError(
        StrCat("the database in ", dir, " holds the ledger of origin '",
               *origin, "', not '", options.origin, "'"));
  }
  LEDGER_ASSIGN_OR_RETURN(std::optional<std::string> format,
                          store->Get(Cf::kMeta, kMetaFormatKey));
  if (format != std::string(kFormatVersion)) {
    return absl::FailedPreconditionError(
        StrCat("the database in ", dir, " has storage format '",
               format.value_or("(none)"), "'; this build reads format ",
               kFormatVersion));
  }

  LEDGER_ASSIGN_OR_RETURN(RecoveredState state,
                          VerifyStoredLedger(*store, options));
  std::unique_ptr<Ledger> ledger(
      new Ledger(std::move(options), std::move(store)));
  for (const KeyInfo& key : state.keys) ledger->keys_->Put(key);
  ledger->impl_->tree = std::move(state.tree);
  ledger->impl_->last_received_at_ns = state.last_received_at_ns;
  {
    MutexLock lock(&ledger->impl_->mu);
    ledger->impl_->head = state.head;
    ledger->impl_->written = state.head;
    ledger->impl_->latest_checkpoint = std::move(state.latest_checkpoint);
  }
  return ledger;
}

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

absl::StatusOr<std::string> Ledger::GetEntry(uint64_t index) const {
  const uint64_t size = head().size;
  if (index >= size) {
    return absl::OutOfRangeError(StrCat(
        "entry ", index, " does not exist; the ledger has ", size, " entries"));
  }
  LEDGER_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                          store_->Get(Cf::kEntries, Be64(index)));
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
  if (value->size() != 8 + crypto::kHashSize) {
    return absl::DataLossError("event index record has the wrong length");
  }
  const uint64_t index = ReadBe64(*value);
  if (index >= head().size) return std::nullopt;  // not yet committed
  LEDGER_ASSIGN_OR_RETURN(std::string bytes, GetEntry(index));
  LEDGER_ASSIGN_OR_RETURN(Entry entry, DecodeEntry(bytes));
  return EntryRef{index, crypto::HashLeaf(bytes), entry.received_at_ns,
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

}  // namespace ledger
