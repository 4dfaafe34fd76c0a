#pragma once

// The RocksDB database behind a ledger: one column family per concern
// (DESIGN.md section 4). Every write is one WriteBatch. Internal to
// ledger/: the Ledger class is the public face.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace ledger {

enum class Cf : int {
  kEntries = 0,   // BE64(index) -> entry bytes
  kTree,          // u8 tile level || BE64(tile index) -> 1..16 hashes
  kCheckpoints,   // "q" BE64(seq) -> BE64(size) || note; "s" BE64(size)
                  // BE64(seq)
  kByEventId,     // tenant 0x00 uuid16 -> BE64(index) || event hash
  kKeys,          // key id -> serialized KeyInfo (derived from key entries)
  kMeta,          // "head", "origin", "format"
  kSubjectHeads,  // u8 kind || tenant 0x00 id -> BE64(last index)
  kCount,
};

struct StoreOptions {
  size_t block_cache_bytes = size_t{1} << 30;
};

class Store {
 public:
  static absl::StatusOr<std::unique_ptr<Store>> Open(
      const std::string& dir, const StoreOptions& options);
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

  absl::StatusOr<std::optional<std::string>> Get(Cf cf,
                                                 std::string_view key) const;
  // One result per key, in order.
  absl::StatusOr<std::vector<std::optional<std::string>>> MultiGet(
      Cf cf, absl::Span<const std::string> keys) const;
  std::unique_ptr<rocksdb::Iterator> NewIterator(Cf cf) const;

  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* handle(Cf cf) const {
    return handles_[static_cast<int>(cf)];
  }

  // The column family names, in Cf order (for tools and tests that open the
  // database directly).
  static const std::vector<std::string>& ColumnFamilyNames();

 private:
  Store() = default;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* default_handle_ = nullptr;
};

// RocksDB status -> absl::Status with `context`; corruption is DataLoss.
absl::Status FromRocks(const rocksdb::Status& status, std::string_view context);

// Big-endian 8-byte encoding used for ordered keys.
std::string Be64(uint64_t v);
uint64_t ReadBe64(std::string_view bytes);  // first 8 bytes

}  // namespace ledger
