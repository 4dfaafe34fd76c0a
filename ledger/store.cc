#include "ledger/store.h"

#include <filesystem>

#include "base/strings.h"
#include "rocksdb/cache.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/listener.h"
#include "rocksdb/memtablerep.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"

namespace ledger {
namespace {

// How a column family's blocks are compressed.
enum class Compression {
  kLz4ZstdBottom,  // LZ4, and ZSTD at the bottom level
  kLz4,            // LZ4 at every level
  kNone,
};

// Which bloom filters a column family has.
enum class Filter {
  kNone,
  kMemtableKeys,  // whole keys, in the memtable only
  kKeys,          // whole keys, in files and the memtable
  kPrefixes,      // WithoutEntryIndex prefixes, in files and the memtable
};

// Leaves resuming after an error that stops writes (a full disk) to
// Store::Resume. RocksDB would otherwise start its own recovery, which
// polls the free space every few seconds, and while that waits DB::Resume()
// answers Busy: Resume() could not resume writing once there is room.
class NoAutomaticResume : public rocksdb::EventListener {
 public:
  const char* Name() const override { return "LedgerNoAutomaticResume"; }
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/,
                            rocksdb::Status bg_error,
                            bool* auto_recovery) override {
    if (bg_error.severity() >= rocksdb::Status::Severity::kHardError) {
      *auto_recovery = false;
    }
  }
};

// The prefix of an index family key (ledger/schema.h): all but its last 8
// bytes, the BE64 entry index, which the records of one subject, type, run
// or lineage node share. Keys of fewer bytes (only damaged records) are
// outside the domain.
class WithoutEntryIndex : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "LedgerWithoutEntryIndex"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), key.size() - 8);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return key.size() >= 8;
  }
};

bool IsIndexFamily(std::string_view name) {
  return name == "by_subject" || name == "by_type" || name == "by_run" ||
         name == "lineage";
}

}  // namespace

absl::Status FromRocks(const rocksdb::Status& status,
                       std::string_view context) {
  if (status.ok()) return absl::OkStatus();
  std::string msg = StrCat(context, ": ", status.ToString());
  if (status.IsCorruption()) return absl::DataLossError(msg);
  if (status.IsNoSpace()) return absl::ResourceExhaustedError(msg);
  if (status.IsNotFound()) return absl::NotFoundError(msg);
  if (status.IsIOError() || status.IsBusy() || status.IsTimedOut() ||
      status.IsTryAgain()) {
    return absl::UnavailableError(msg);
  }
  if (status.IsInvalidArgument()) return absl::FailedPreconditionError(msg);
  return absl::InternalError(msg);
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(
    const std::string& dir, const StoreOptions& options) {
  rocksdb::Env* env =
      options.env != nullptr ? options.env : rocksdb::Env::Default();
  // Room for what opening writes, checked before anything is written.
  uint64_t free_bytes = 0;
  // (Constructed, never assigned from a literal: GCC 12 at -O2 warns
  // falsely about overlapping copies there, -Wrestrict, GCC bug 105329.)
  const std::string parent = std::filesystem::path(dir).parent_path().string();
  const std::string probe = env->FileExists(dir).ok() ? dir
                            : parent.empty()          ? std::string(".")
                                                      : parent;
  if (env->GetFreeSpace(probe, &free_bytes).ok() &&
      free_bytes < kOpenReserveBytes) {
    return absl::ResourceExhaustedError(StrCat(
        "cannot open the database in ", dir, ": opening needs ",
        kOpenReserveBytes >> 20, " MiB free and the file system has ",
        free_bytes >> 20, " MiB (", free_bytes, " bytes); free at least ",
        (kOpenReserveBytes - free_bytes + 0xfffff) >> 20,
        " MiB and start again (nothing was written)"));
  }
  rocksdb::Options db_options;
  db_options.env = env;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.paranoid_checks = true;
  // A damaged record in the middle of the write-ahead log is an error, not
  // the silent end of recovery (the default, point-in-time recovery, stops
  // there and drops everything after it). A torn record at the very end,
  // what a crash during a write leaves, is tolerated: it was never
  // acknowledged. A log cut at a record boundary cannot be told from a
  // shorter log; the node's rollback guard catches that (docs/decisions.md).
  db_options.wal_recovery_mode =
      rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  // Replay the log into memory instead of flushing it to new files, so
  // opening needs little space (kOpenReserveBytes) whatever the log's size.
  db_options.avoid_flush_during_recovery = true;
  db_options.IncreaseParallelism(2);
  db_options.max_background_jobs = 2;
  db_options.max_total_wal_size = 256 << 20;
  // Appends are synced per batch; large memtables keep flushes rare.
  db_options.db_write_buffer_size = 256 << 20;
  // Flushes and compactions write their files out 1 MiB at a time instead
  // of leaving the kernel a burst of dirty pages that the next WAL sync
  // then waits behind (BENCHMARKS.md: the half-load tail over a long run).
  db_options.bytes_per_sync = 1 << 20;
  // Required by the hash memtables below; one thread writes anyway.
  db_options.allow_concurrent_memtable_write = false;
  db_options.listeners.push_back(std::make_shared<NoAutomaticResume>());

  std::shared_ptr<rocksdb::Cache> cache =
      rocksdb::NewLRUCache(options.block_cache_bytes);
  auto family_options = [&](Filter filter, bool random_keys,
                            size_t write_buffer, Compression compression) {
    rocksdb::ColumnFamilyOptions cf;
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = cache;
    table.cache_index_and_filter_blocks = true;
    switch (filter) {
      case Filter::kNone:
        break;
      case Filter::kMemtableKeys:
        // Queries read entries at scattered indexes; a bloom filter on the
        // memtable answers most of them "not here" without a search of its
        // large skiplist (most entries are in files).
        cf.memtable_whole_key_filtering = true;
        cf.memtable_prefix_bloom_size_ratio = 0.02;
        break;
      case Filter::kKeys:
        table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
        table.whole_key_filtering = true;
        // A bloom filter on the memtable too: nearly every event_id and
        // many subjects an append looks up are absent, and without it each
        // miss is a full skiplist search.
        cf.memtable_whole_key_filtering = true;
        cf.memtable_prefix_bloom_size_ratio = 0.05;
        break;
      case Filter::kPrefixes:
        // A query seeks one prefix (a subject, type, run or lineage node)
        // at a time: prefix filters in the files and the memtable let a
        // seek skip those that hold none of its records
        // (NewIndexPrefixIterator).
        table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
        table.whole_key_filtering = false;
        cf.prefix_extractor = std::make_shared<WithoutEntryIndex>();
        cf.memtable_prefix_bloom_size_ratio = 0.05;
        break;
    }
    if (random_keys) {
      // Event ids and subjects arrive in random order: a hash table of
      // small skiplists instead of one large skiplist, whose inserts were
      // the sequencer's largest cost. The "prefix" is the whole key; these
      // families are read by point lookups (iterators ask for total order).
      cf.prefix_extractor.reset(rocksdb::NewNoopTransform());
      cf.memtable_factory.reset(rocksdb::NewHashSkipListRepFactory(1 << 20));
    }
    cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    cf.write_buffer_size = write_buffer;
    switch (compression) {
      case Compression::kLz4ZstdBottom:
        cf.compression = rocksdb::kLZ4Compression;
        cf.bottommost_compression = rocksdb::kZSTD;
        break;
      case Compression::kLz4:
        cf.compression = rocksdb::kLZ4Compression;
        break;
      case Compression::kNone:
        cf.compression = rocksdb::kNoCompression;
        break;
    }
    return cf;
  };

  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  families.emplace_back(rocksdb::kDefaultColumnFamilyName,
                        family_options(Filter::kNone, false, 4 << 20,
                                       Compression::kLz4ZstdBottom));
  const std::vector<std::string>& names = ledger::ColumnFamilyNames();
  for (size_t i = 0; i < names.size(); ++i) {
    const bool random =
        names[i] == "by_event_id" || names[i] == "subject_heads";
    const bool point = random || names[i] == "keys" || names[i] == "shred_keys";
    const size_t buffer = names[i] == "entries" ? (128 << 20) : (32 << 20);
    // Entries: one compression at every level. Their keys only grow, so a
    // flushed file never overlaps the files below it and RocksDB moves it
    // down the levels without rewriting it, but only where input and
    // output compression are the same: with ZSTD at the bottom every entry
    // was compressed and written once more (BENCHMARKS.md; ZSTD saved ~5%
    // of their size over LZ4). Tree tiles are hashes: they do not compress.
    Compression compression = Compression::kLz4ZstdBottom;
    if (names[i] == "entries") compression = Compression::kLz4;
    if (names[i] == "tree") compression = Compression::kNone;
    Filter filter = Filter::kNone;
    if (point) filter = Filter::kKeys;
    if (names[i] == "entries") filter = Filter::kMemtableKeys;
    if (IsIndexFamily(names[i])) filter = Filter::kPrefixes;
    rocksdb::ColumnFamilyOptions cf =
        family_options(filter, random, buffer, compression);
    families.emplace_back(names[i], std::move(cf));
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      rocksdb::DB::Open(db_options, dir, families, &handles, &raw);
  if (!s.ok()) return FromRocks(s, StrCat("cannot open database in ", dir));
  std::unique_ptr<Store> store(new Store());
  store->dir_ = dir;
  store->env_ = env;
  store->db_.reset(raw);
  store->default_handle_ = handles[0];
  store->handles_.assign(handles.begin() + 1, handles.end());
  return store;
}

Store::~Store() {
  if (!db_) return;
  for (rocksdb::ColumnFamilyHandle* h : handles_) {
    db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
  db_->DestroyColumnFamilyHandle(default_handle_).PermitUncheckedError();
  db_->Close().PermitUncheckedError();
}

absl::Status Store::Write(rocksdb::WriteBatch* batch) {
  rocksdb::WriteOptions options;
  options.sync = true;
  return FromRocks(db_->Write(options, batch), "write failed");
}

absl::Status Store::WriteNoSync(rocksdb::WriteBatch* batch) {
  rocksdb::WriteOptions options;
  options.sync = false;
  return FromRocks(db_->Write(options, batch), "write failed");
}

absl::Status Store::SyncWal() {
  return FromRocks(db_->SyncWAL(), "syncing the write-ahead log failed");
}

absl::Status Store::Resume() {
  uint64_t free_bytes = 0;
  const uint64_t needed = SpaceNeededToResume();
  if (env_->GetFreeSpace(dir_, &free_bytes).ok() && free_bytes < needed) {
    return absl::FailedPreconditionError(StrCat(
        "the file system holding ", dir_, " has ", free_bytes >> 20,
        " MiB free; writing resumes once ", needed >> 20, " MiB are free"));
  }
  return FromRocks(db_->Resume(), "resuming writes");
}

uint64_t Store::SpaceNeededToResume() const {
  uint64_t memtables = 0;
  db_->GetAggregatedIntProperty("rocksdb.cur-size-all-mem-tables", &memtables);
  return kOpenReserveBytes + memtables;
}

Store::Snapshot::Snapshot(const Store& store)
    : db_(store.db_.get()), snapshot_(db_->GetSnapshot()) {}

Store::Snapshot::~Snapshot() { db_->ReleaseSnapshot(snapshot_); }

absl::StatusOr<std::optional<std::string>> Store::Get(
    Cf cf, std::string_view key, const rocksdb::Snapshot* snapshot) const {
  std::string value;
  rocksdb::ReadOptions read;
  read.snapshot = snapshot;
  rocksdb::Status s = db_->Get(read, handle(cf),
                               rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) return FromRocks(s, "read failed");
  return value;
}

absl::StatusOr<std::vector<std::optional<std::string>>> Store::MultiGet(
    Cf cf, absl::Span<const std::string> keys) const {
  std::vector<std::optional<std::string>> out(keys.size());
  if (keys.empty()) return out;
  std::vector<rocksdb::Slice> slices;
  slices.reserve(keys.size());
  for (const std::string& k : keys) slices.emplace_back(k);
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), handle(cf), keys.size(), slices.data(),
                values.data(), statuses.data());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return FromRocks(statuses[i], "read failed");
    out[i] = values[i].ToString();
  }
  return out;
}

std::unique_ptr<rocksdb::Iterator> Store::NewIndexPrefixIterator(Cf cf) const {
  rocksdb::ReadOptions read;
  read.prefix_same_as_start = true;
  return std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(read, handle(cf)));
}

std::unique_ptr<rocksdb::Iterator> Store::NewIterator(
    Cf cf, const rocksdb::Snapshot* snapshot, bool fill_cache) const {
  rocksdb::ReadOptions read;
  read.total_order_seek = true;
  read.snapshot = snapshot;
  read.fill_cache = fill_cache;
  if (!fill_cache) read.readahead_size = 4 << 20;
  return std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(read, handle(cf)));
}

}  // namespace ledger
