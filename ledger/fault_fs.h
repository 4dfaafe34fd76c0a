#pragma once

// A RocksDB file system for tests that fails on demand: syncs that report an
// I/O error, a disk that fills up, reads that fail, and a power cut that
// loses whatever was written but not synced. It wraps the default file
// system; pass FaultFs::NewEnv(fs) as LedgerOptions::env (or
// StoreOptions::env). For tests only: it is built into ledger_testing_fs,
// which no product target links.
//
// Faults are matched against a file's base name with a shell pattern
// (fnmatch(3)): "*.log" is the write-ahead log, "*.sst" the table files,
// "MANIFEST-*" the manifest.
//
// The power cut follows the classic recipe: SetActive(false) at the moment
// of the cut (every later write, sync, rename and delete fails, so nothing
// the database does while it shuts down reaches the disk), close the
// database, then DropUnsyncedData() cuts every file written through this
// file system back to what its last Sync or Fsync made durable. Only file
// contents are modelled: a file created and never synced is cut to zero
// bytes rather than removed, and renames and deletes take effect at once
// (as if every directory sync succeeded).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "base/sync.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

namespace ledger::testing {

class FaultFs : public rocksdb::FileSystemWrapper {
 public:
  // A fault that fires until it is cleared.
  static constexpr int kUntilCleared = -1;

  FaultFs();
  ~FaultFs() override;

  static const char* kClassName() { return "LedgerFaultFs"; }
  const char* Name() const override { return kClassName(); }

  // An Env that does its file operations through `fs` and everything else
  // (threads, clock) as the default Env does. `fs` must outlive it.
  static std::unique_ptr<rocksdb::Env> NewEnv(
      const std::shared_ptr<FaultFs>& fs);

  // ---- failing syncs ----

  // The next `times` Sync/Fsync calls on files whose name matches `pattern`
  // fail with an I/O error and sync nothing (kUntilCleared: all of them
  // until ClearSyncFailures). Replaces an earlier sync fault.
  void FailSyncs(std::string pattern, int times = kUntilCleared);
  void ClearSyncFailures();
  // How many syncs have failed since the fault was set.
  int failed_syncs() const;

  // ---- a full disk ----

  // From now on at most `bytes` more may be written, over all files: an
  // append that would go past that fails with IOStatus::NoSpace and writes
  // nothing, and GetFreeSpace reports what is left of the budget (or less,
  // if the real file system has less).
  void SetSpaceBudget(uint64_t bytes);
  // Writes go through again; GetFreeSpace reports the real free space.
  void ClearSpaceBudget();
  // Appends refused for lack of space since the budget was set.
  int refused_appends() const;

  // ---- failing reads ----

  // Read and MultiRead of random-access files (table files, for RocksDB)
  // whose name matches `pattern` fail with an I/O error until cleared.
  // Files already open are affected too.
  void FailReads(std::string pattern);
  void ClearReadFailures();
  int failed_reads() const;

  // ---- power cut ----

  // Inactive: every write, sync, file creation, rename and delete fails
  // with an I/O error, as after the machine lost power. Active again: the
  // file system works normally (call DropUnsyncedData first).
  void SetActive(bool active);
  // Truncates every file written through this file system since it was
  // made to the size it had at its last successful Sync or Fsync (zero if
  // never synced), and forgets them. Call it with the database closed.
  absl::Status DropUnsyncedData();

  // ---- rocksdb::FileSystem ----

  rocksdb::IOStatus NewWritableFile(
      const std::string& fname, const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* result,
      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(
      const std::string& fname, const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* result,
      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(
      const std::string& fname, const std::string& old_fname,
      const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* result,
      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewRandomAccessFile(
      const std::string& fname, const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSRandomAccessFile>* result,
      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& dst,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& fname,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus GetFreeSpace(const std::string& path,
                                 const rocksdb::IOOptions& options,
                                 uint64_t* free_bytes,
                                 rocksdb::IODebugContext* dbg) override;

 private:
  class WritableFile;
  class RandomAccessFile;

  // What this file system knows of a file it wrote.
  struct FileState {
    uint64_t size = 0;    // bytes written through us
    uint64_t synced = 0;  // durable: size at the last successful sync
  };

  // For the files' wrappers; each takes mu_.
  rocksdb::IOStatus BeforeAppend(uint64_t bytes);
  void AfterAppend(const std::string& fname, uint64_t end);
  rocksdb::IOStatus BeforeSync(const std::string& fname);
  void AfterSync(const std::string& fname);
  void AfterTruncate(const std::string& fname, uint64_t size);
  rocksdb::IOStatus BeforeRead(const std::string& fname) const;
  rocksdb::IOStatus CheckActive(std::string_view op) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable Mutex mu_;
  bool active_ ABSL_GUARDED_BY(mu_) = true;
  absl::flat_hash_map<std::string, FileState> files_ ABSL_GUARDED_BY(mu_);

  std::string sync_pattern_ ABSL_GUARDED_BY(mu_);  // empty: no fault
  int syncs_to_fail_ ABSL_GUARDED_BY(mu_) = 0;
  int failed_syncs_ ABSL_GUARDED_BY(mu_) = 0;

  bool budget_set_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t budget_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t written_since_budget_ ABSL_GUARDED_BY(mu_) = 0;
  int refused_appends_ ABSL_GUARDED_BY(mu_) = 0;

  std::string read_pattern_ ABSL_GUARDED_BY(mu_);  // empty: no fault
  mutable int failed_reads_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ledger::testing
