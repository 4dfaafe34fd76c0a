#include "node/rollback_guard.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/status_macros.h"
#include "base/strings.h"
#include "crypto/key_file.h"

namespace ledger::node {
namespace {

absl::Status Errno(std::string_view what, const std::string& path) {
  return absl::InternalError(
      StrCat("cannot ", what, " ", path, ": ", std::strerror(errno)));
}

absl::StatusOr<ledger::Checkpoint> BodyOf(std::string_view note) {
  // The body ends at the blank line before the signatures.
  const size_t end = note.find("\n\n");
  if (end == std::string_view::npos) {
    return absl::InvalidArgumentError("not a signed note");
  }
  return ledger::ParseCheckpointBody(note.substr(0, end + 1));
}

}  // namespace

absl::Status WriteFileDurably(const std::string& path,
                              std::string_view contents, int mode) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Errno("create", tmp);
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      absl::Status s = Errno("write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    absl::Status s = Errno("sync", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status s = Errno("rename over", path);
    ::unlink(tmp.c_str());
    return s;
  }
  const std::string dir = std::filesystem::path(path).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(),
                   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Errno("open directory", dir);
  const int rc = ::fsync(dfd);
  ::close(dfd);
  if (rc != 0) return Errno("sync directory", dir);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FileRollbackGuard>> FileRollbackGuard::Load(
    const std::string& path, absl::Span<const crypto::NoteVerifier> verifiers,
    std::string_view origin) {
  LEDGER_ASSIGN_OR_RETURN(std::string note, crypto::ReadFileToString(path));
  absl::StatusOr<ledger::VerifiedCheckpoint> vc =
      ledger::OpenCheckpoint(note, verifiers, origin);
  if (!vc.ok()) {
    return absl::DataLossError(
        StrCat(path,
               " (the rollback guard) does not hold a checkpoint this "
               "node signed: ",
               vc.status().message()));
  }
  return std::unique_ptr<FileRollbackGuard>(
      new FileRollbackGuard(path, vc->checkpoint));
}

absl::StatusOr<std::unique_ptr<FileRollbackGuard>> FileRollbackGuard::Create(
    const std::string& path, std::string_view note) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    return absl::AlreadyExistsError(StrCat(path, " exists"));
  }
  LEDGER_ASSIGN_OR_RETURN(ledger::Checkpoint checkpoint, BodyOf(note));
  LEDGER_RETURN_IF_ERROR(WriteFileDurably(path, note, 0600));
  return std::unique_ptr<FileRollbackGuard>(
      new FileRollbackGuard(path, std::move(checkpoint)));
}

std::optional<ledger::Checkpoint> FileRollbackGuard::last() const {
  MutexLock lock(&mu_);
  return last_;
}

absl::Status FileRollbackGuard::Record(std::string_view note,
                                       const ledger::Checkpoint& checkpoint) {
  MutexLock lock(&mu_);
  if (checkpoint.size < last_.size) {
    return absl::FailedPreconditionError(
        StrCat("refusing to record a checkpoint of size ", checkpoint.size,
               " after one of size ", last_.size));
  }
  LEDGER_RETURN_IF_ERROR(
      Annotate(WriteFileDurably(path_, note, 0600),
               "recording the checkpoint in the rollback guard"));
  last_ = checkpoint;
  return absl::OkStatus();
}

}  // namespace ledger::node
