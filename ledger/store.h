#pragma once

// The RocksDB database behind a ledger: one column family per concern
// (ledger/schema.h). Every write is one WriteBatch. Internal to ledger/: the
// Ledger class is the public face.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "ledger/schema.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace ledger {

struct StoreOptions {
  size_t block_cache_bytes = size_t{1} << 30;
  // Every file operation goes through this Env (tests pass one that injects
  // faults; see ledger/fault_fs.h). nullptr: the default Env. Not owned; it
  // must outlive the Store.
  rocksdb::Env* env = nullptr;
};

class Store {
 public:
  // Opens the database in `dir`, creating it if there is none. Before
  // RocksDB replays its write-ahead log, checks that the file system has
  // kOpenReserveBytes free for what opening writes (a new manifest, log and
  // write-ahead log; recovery replays into memory and avoids flushing), and
  // fails with ResourceExhausted naming the bytes needed otherwise, having
  // written nothing. So a start that fails for lack of space leaves nothing
  // behind that makes the next one need more.
  static absl::StatusOr<std::unique_ptr<Store>> Open(
      const std::string& dir, const StoreOptions& options);
  static constexpr uint64_t kOpenReserveBytes = uint64_t{64} << 20;
  ~Store();

  // Applies `batch` atomically and durably (WAL fsync) before returning.
  absl::Status Write(rocksdb::WriteBatch* batch);
  // Applies `batch` atomically without waiting for the WAL fsync: readers
  // see it at once, a crash may lose it (and every later write) until
  // SyncWal() returns.
  absl::Status WriteNoSync(rocksdb::WriteBatch* batch);
  // Makes every write that returned before this call durable. Safe to call
  // concurrently with writes.
  absl::Status SyncWal();

  // After a write failed for lack of space (ResourceExhausted), clears
  // RocksDB's background error once the file system has room again (the
  // failed write changed nothing). FailedPrecondition while there is still
  // too little space, with the bytes needed; other errors are returned as
  // RocksDB reports them.
  absl::Status Resume();
  // Bytes the store needs free to resume writing after a failure for lack
  // of space: the reserve plus what the memtables would flush.
  uint64_t SpaceNeededToResume() const;

  // A consistent view for long reads (the scrub): pass snapshot() to Get and
  // NewIterator. Released on destruction.
  class Snapshot {
   public:
    explicit Snapshot(const Store& store);
    ~Snapshot();
    Snapshot(const Snapshot&) = delete;
    Snapshot& operator=(const Snapshot&) = delete;
    const rocksdb::Snapshot* get() const { return snapshot_; }

   private:
    rocksdb::DB* db_;
    const rocksdb::Snapshot* snapshot_;
  };

  absl::StatusOr<std::optional<std::string>> Get(
      Cf cf, std::string_view key,
      const rocksdb::Snapshot* snapshot = nullptr) const;
  // One result per key, in order.
  absl::StatusOr<std::vector<std::optional<std::string>>> MultiGet(
      Cf cf, absl::Span<const std::string> keys) const;
  // A total-order iterator; with `snapshot`, over that view. `fill_cache`
  // false keeps a long scan from evicting what proofs read.
  std::unique_ptr<rocksdb::Iterator> NewIterator(
      Cf cf, const rocksdb::Snapshot* snapshot = nullptr,
      bool fill_cache = true) const;
  // An iterator over one index family (by_subject, by_type, by_run,
  // lineage) for keys that share the prefix of the key each Seek or
  // SeekForPrev is given: all but its last 8 bytes (the entry index). Files
  // and memtables whose prefix filter rules the prefix out are skipped; past
  // the prefix the iterator is no longer Valid().
  std::unique_ptr<rocksdb::Iterator> NewIndexPrefixIterator(Cf cf) const;

  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* handle(Cf cf) const {
    return handles_[static_cast<int>(cf)];
  }

 private:
  Store() = default;
  std::string dir_;
  rocksdb::Env* env_ = nullptr;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* default_handle_ = nullptr;
};

// RocksDB status -> absl::Status with `context`: corruption is DataLoss, a
// full file system ResourceExhausted, other I/O errors Unavailable; never
// InvalidArgument (that code is for callers' bad input).
absl::Status FromRocks(const rocksdb::Status& status, std::string_view context);

}  // namespace ledger
