#include "ledger/fault_fs.h"

#include <fnmatch.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include "base/strings.h"

namespace ledger::testing {
namespace {

std::string_view BaseName(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool Matches(const std::string& pattern, std::string_view path) {
  return !pattern.empty() &&
         fnmatch(pattern.c_str(), std::string(BaseName(path)).c_str(), 0) == 0;
}

}  // namespace

// Counts what is appended and synced, and asks the file system first.
class FaultFs::WritableFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  WritableFile(FaultFs* fs, std::string fname,
               std::unique_ptr<rocksdb::FSWritableFile> target, uint64_t size)
      : FSWritableFileOwnerWrapper(std::move(target)),
        fs_(fs),
        fname_(std::move(fname)),
        size_(size) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data,
                           const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = fs_->BeforeAppend(data.size());
    if (s.ok()) s = target()->Append(data, options, dbg);
    if (s.ok()) Appended(size_ + data.size());
    return s;
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data,
                           const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = fs_->BeforeAppend(data.size());
    if (s.ok()) s = target()->Append(data, options, info, dbg);
    if (s.ok()) Appended(size_ + data.size());
    return s;
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data,
                                     uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = fs_->BeforeAppend(data.size());
    if (s.ok()) s = target()->PositionedAppend(data, offset, options, dbg);
    if (s.ok()) Appended(std::max(size_, offset + data.size()));
    return s;
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data,
                                     uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     const rocksdb::DataVerificationInfo& info,
                                     rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = fs_->BeforeAppend(data.size());
    if (s.ok()) {
      s = target()->PositionedAppend(data, offset, options, info, dbg);
    }
    if (s.ok()) Appended(std::max(size_, offset + data.size()));
    return s;
  }
  rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = fs_->BeforeAppend(0);
    if (s.ok()) s = target()->Truncate(size, options, dbg);
    if (s.ok()) {
      size_ = size;
      fs_->AfterTruncate(fname_, size);
    }
    return s;
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                         rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = fs_->BeforeSync(fname_);
    if (s.ok()) s = target()->Sync(options, dbg);
    if (s.ok()) fs_->AfterSync(fname_);
    return s;
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = fs_->BeforeSync(fname_);
    if (s.ok()) s = target()->Fsync(options, dbg);
    if (s.ok()) fs_->AfterSync(fname_);
    return s;
  }
  // Starts write-back of a range; makes nothing durable here.
  rocksdb::IOStatus RangeSync(uint64_t offset, uint64_t nbytes,
                              const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = fs_->BeforeAppend(0);
    if (s.ok()) s = target()->RangeSync(offset, nbytes, options, dbg);
    return s;
  }

 private:
  void Appended(uint64_t end) {
    size_ = end;
    fs_->AfterAppend(fname_, end);
  }

  FaultFs* const fs_;
  const std::string fname_;
  uint64_t size_;  // bytes in the file (one writer per file)
};

// Fails reads while the file system says so.
class FaultFs::RandomAccessFile
    : public rocksdb::FSRandomAccessFileOwnerWrapper {
 public:
  RandomAccessFile(const FaultFs* fs, std::string fname,
                   std::unique_ptr<rocksdb::FSRandomAccessFile> target)
      : FSRandomAccessFileOwnerWrapper(std::move(target)),
        fs_(fs),
        fname_(std::move(fname)) {}

  rocksdb::IOStatus Read(uint64_t offset, size_t n,
                         const rocksdb::IOOptions& options,
                         rocksdb::Slice* result, char* scratch,
                         rocksdb::IODebugContext* dbg) const override {
    rocksdb::IOStatus s = fs_->BeforeRead(fname_);
    if (!s.ok()) {
      *result = rocksdb::Slice();
      return s;
    }
    return target()->Read(offset, n, options, result, scratch, dbg);
  }
  rocksdb::IOStatus MultiRead(rocksdb::FSReadRequest* reqs, size_t num_reqs,
                              const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = fs_->BeforeRead(fname_);
    if (!s.ok()) {
      for (size_t i = 0; i < num_reqs; ++i) {
        reqs[i].status = s;
        reqs[i].result = rocksdb::Slice();
      }
      return s;
    }
    return target()->MultiRead(reqs, num_reqs, options, dbg);
  }
  // Through Read above (the wrapper would hand it to the target directly).
  rocksdb::IOStatus ReadAsync(
      rocksdb::FSReadRequest& req, const rocksdb::IOOptions& options,
      std::function<void(const rocksdb::FSReadRequest&, void*)> cb,
      void* cb_arg, void** io_handle, rocksdb::IOHandleDeleter* del_fn,
      rocksdb::IODebugContext* dbg) override {
    return FSRandomAccessFile::ReadAsync(req, options, std::move(cb), cb_arg,
                                         io_handle, del_fn, dbg);
  }

 private:
  const FaultFs* const fs_;
  const std::string fname_;
};

FaultFs::FaultFs() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}

FaultFs::~FaultFs() = default;

std::unique_ptr<rocksdb::Env> FaultFs::NewEnv(
    const std::shared_ptr<FaultFs>& fs) {
  return rocksdb::NewCompositeEnv(fs);
}

void FaultFs::FailSyncs(std::string pattern, int times) {
  MutexLock lock(&mu_);
  sync_pattern_ = std::move(pattern);
  syncs_to_fail_ = times;
  failed_syncs_ = 0;
}

void FaultFs::ClearSyncFailures() {
  MutexLock lock(&mu_);
  sync_pattern_.clear();
  syncs_to_fail_ = 0;
}

int FaultFs::failed_syncs() const {
  MutexLock lock(&mu_);
  return failed_syncs_;
}

void FaultFs::SetSpaceBudget(uint64_t bytes) {
  MutexLock lock(&mu_);
  budget_set_ = true;
  budget_ = bytes;
  written_since_budget_ = 0;
  refused_appends_ = 0;
}

void FaultFs::ClearSpaceBudget() {
  MutexLock lock(&mu_);
  budget_set_ = false;
}

int FaultFs::refused_appends() const {
  MutexLock lock(&mu_);
  return refused_appends_;
}

void FaultFs::FailReads(std::string pattern) {
  MutexLock lock(&mu_);
  read_pattern_ = std::move(pattern);
  failed_reads_ = 0;
}

void FaultFs::ClearReadFailures() {
  MutexLock lock(&mu_);
  read_pattern_.clear();
}

int FaultFs::failed_reads() const {
  MutexLock lock(&mu_);
  return failed_reads_;
}

void FaultFs::SetActive(bool active) {
  MutexLock lock(&mu_);
  active_ = active;
}

absl::Status FaultFs::DropUnsyncedData() {
  MutexLock lock(&mu_);
  // The default file system is the local one (and does not truncate by
  // name): its paths are ours.
  for (const auto& [fname, state] : files_) {
    std::error_code ec;
    const std::filesystem::path path(fname);
    if (!std::filesystem::exists(path, ec)) continue;  // deleted since
    const uintmax_t size = std::filesystem::file_size(path, ec);
    if (!ec && size > state.synced) {
      std::filesystem::resize_file(path, state.synced, ec);
    }
    if (ec) {
      return absl::InternalError(
          StrCat("dropping the unsynced data of ", fname, ": ", ec.message()));
    }
  }
  files_.clear();
  return absl::OkStatus();
}

rocksdb::IOStatus FaultFs::CheckActive(std::string_view op) const {
  if (active_) return rocksdb::IOStatus::OK();
  return rocksdb::IOStatus::IOError(
      StrCat(op, ": the file system is inactive (simulated power cut)"));
}

rocksdb::IOStatus FaultFs::BeforeAppend(uint64_t bytes) {
  MutexLock lock(&mu_);
  if (rocksdb::IOStatus s = CheckActive("write"); !s.ok()) return s;
  if (!budget_set_) return rocksdb::IOStatus::OK();
  if (written_since_budget_ + bytes > budget_) {
    ++refused_appends_;
    return rocksdb::IOStatus::NoSpace(
        StrCat("simulated full disk: ", budget_ - written_since_budget_,
               " bytes left, ", bytes, " to write"));
  }
  written_since_budget_ += bytes;
  return rocksdb::IOStatus::OK();
}

void FaultFs::AfterAppend(const std::string& fname, uint64_t end) {
  MutexLock lock(&mu_);
  FileState& state = files_[fname];
  state.size = std::max(state.size, end);
}

rocksdb::IOStatus FaultFs::BeforeSync(const std::string& fname) {
  MutexLock lock(&mu_);
  if (rocksdb::IOStatus s = CheckActive("sync"); !s.ok()) return s;
  if (syncs_to_fail_ == 0 || !Matches(sync_pattern_, fname)) {
    return rocksdb::IOStatus::OK();
  }
  if (syncs_to_fail_ > 0) --syncs_to_fail_;
  ++failed_syncs_;
  return rocksdb::IOStatus::IOError("injected sync failure", fname);
}

void FaultFs::AfterSync(const std::string& fname) {
  MutexLock lock(&mu_);
  FileState& state = files_[fname];
  state.synced = state.size;
}

void FaultFs::AfterTruncate(const std::string& fname, uint64_t size) {
  MutexLock lock(&mu_);
  FileState& state = files_[fname];
  state.size = size;
  state.synced = std::min(state.synced, size);
}

rocksdb::IOStatus FaultFs::BeforeRead(const std::string& fname) const {
  MutexLock lock(&mu_);
  if (!Matches(read_pattern_, fname)) return rocksdb::IOStatus::OK();
  ++failed_reads_;
  return rocksdb::IOStatus::IOError("injected read failure", fname);
}

rocksdb::IOStatus FaultFs::NewWritableFile(
    const std::string& fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result,
    rocksdb::IODebugContext* dbg) {
  {
    MutexLock lock(&mu_);
    if (rocksdb::IOStatus s = CheckActive("create"); !s.ok()) return s;
  }
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = target()->NewWritableFile(fname, options, &file, dbg);
  if (!s.ok()) return s;
  {
    MutexLock lock(&mu_);
    files_[fname] = FileState{};
  }
  *result = std::make_unique<WritableFile>(this, fname, std::move(file), 0);
  return s;
}

rocksdb::IOStatus FaultFs::ReopenWritableFile(
    const std::string& fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result,
    rocksdb::IODebugContext* dbg) {
  {
    MutexLock lock(&mu_);
    if (rocksdb::IOStatus s = CheckActive("reopen"); !s.ok()) return s;
  }
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s =
      target()->ReopenWritableFile(fname, options, &file, dbg);
  if (!s.ok()) return s;
  uint64_t size = 0;
  s = target()->GetFileSize(fname, options.io_options, &size, dbg);
  if (!s.ok()) return s;
  {
    MutexLock lock(&mu_);
    // What was there before we saw the file counts as durable.
    files_.try_emplace(fname, FileState{size, size});
  }
  *result = std::make_unique<WritableFile>(this, fname, std::move(file), size);
  return s;
}

rocksdb::IOStatus FaultFs::ReuseWritableFile(
    const std::string& fname, const std::string& old_fname,
    const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result,
    rocksdb::IODebugContext* dbg) {
  {
    MutexLock lock(&mu_);
    if (rocksdb::IOStatus s = CheckActive("reuse"); !s.ok()) return s;
  }
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s =
      target()->ReuseWritableFile(fname, old_fname, options, &file, dbg);
  if (!s.ok()) return s;
  {
    MutexLock lock(&mu_);
    files_.erase(old_fname);
    files_[fname] = FileState{};
  }
  *result = std::make_unique<WritableFile>(this, fname, std::move(file), 0);
  return s;
}

rocksdb::IOStatus FaultFs::NewRandomAccessFile(
    const std::string& fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSRandomAccessFile>* result,
    rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSRandomAccessFile> file;
  rocksdb::IOStatus s =
      target()->NewRandomAccessFile(fname, options, &file, dbg);
  if (!s.ok()) return s;
  *result = std::make_unique<RandomAccessFile>(this, fname, std::move(file));
  return s;
}

rocksdb::IOStatus FaultFs::RenameFile(const std::string& src,
                                      const std::string& dst,
                                      const rocksdb::IOOptions& options,
                                      rocksdb::IODebugContext* dbg) {
  {
    MutexLock lock(&mu_);
    if (rocksdb::IOStatus s = CheckActive("rename"); !s.ok()) return s;
  }
  rocksdb::IOStatus s = target()->RenameFile(src, dst, options, dbg);
  if (!s.ok()) return s;
  MutexLock lock(&mu_);
  files_.erase(dst);
  if (auto it = files_.find(src); it != files_.end()) {
    FileState state = it->second;
    files_.erase(it);
    files_[dst] = state;
  }
  return s;
}

rocksdb::IOStatus FaultFs::DeleteFile(const std::string& fname,
                                      const rocksdb::IOOptions& options,
                                      rocksdb::IODebugContext* dbg) {
  {
    MutexLock lock(&mu_);
    if (rocksdb::IOStatus s = CheckActive("delete"); !s.ok()) return s;
  }
  rocksdb::IOStatus s = target()->DeleteFile(fname, options, dbg);
  if (!s.ok()) return s;
  MutexLock lock(&mu_);
  files_.erase(fname);
  return s;
}

rocksdb::IOStatus FaultFs::GetFreeSpace(const std::string& path,
                                        const rocksdb::IOOptions& options,
                                        uint64_t* free_bytes,
                                        rocksdb::IODebugContext* dbg) {
  rocksdb::IOStatus s = target()->GetFreeSpace(path, options, free_bytes, dbg);
  MutexLock lock(&mu_);
  if (!budget_set_) return s;
  const uint64_t left =
      budget_ > written_since_budget_ ? budget_ - written_since_budget_ : 0;
  *free_bytes = s.ok() ? std::min(*free_bytes, left) : left;
  return rocksdb::IOStatus::OK();
}

}  // namespace ledger::testing
