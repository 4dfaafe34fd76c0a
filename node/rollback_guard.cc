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
#include "crypto/sha256.h"

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

constexpr std::string_view kAckMagic = "ackh";
constexpr size_t kAckBodyBytes = 4 + 8 + 8 + 32;
constexpr size_t kAckSlotBytes = kAckBodyBytes + 16;
constexpr off_t kAckSlotStride = 4096;

void PutU64(uint64_t v, char* out) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (8 * i));
}

uint64_t GetU64(const char* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v |= static_cast<uint64_t>(static_cast<uint8_t>(in[i])) << (8 * i);
  }
  return v;
}

std::string EncodeAckSlot(uint64_t sequence, const ledger::Head& head) {
  std::string slot(kAckSlotBytes, '\0');
  std::memcpy(slot.data(), kAckMagic.data(), 4);
  PutU64(sequence, slot.data() + 4);
  PutU64(head.size, slot.data() + 12);
  std::memcpy(slot.data() + 20, head.root.data(), 32);
  const crypto::Hash check =
      crypto::Sha256Digest(std::string_view(slot.data(), kAckBodyBytes));
  std::memcpy(slot.data() + kAckBodyBytes, check.data(), 16);
  return slot;
}

// The slot's sequence number and head, if intact.
std::optional<std::pair<uint64_t, ledger::Head>> DecodeAckSlot(
    std::string_view slot) {
  if (slot.size() < kAckSlotBytes || slot.substr(0, 4) != kAckMagic) {
    return std::nullopt;
  }
  const crypto::Hash check =
      crypto::Sha256Digest(slot.substr(0, kAckBodyBytes));
  if (std::memcmp(check.data(), slot.data() + kAckBodyBytes, 16) != 0) {
    return std::nullopt;
  }
  ledger::Head head;
  head.size = GetU64(slot.data() + 12);
  std::memcpy(head.root.data(), slot.data() + 20, 32);
  return std::make_pair(GetU64(slot.data() + 4), head);
}

}  // namespace

absl::StatusOr<std::unique_ptr<FileAckedHead>> FileAckedHead::Open(
    const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("open", path);
  std::optional<std::pair<uint64_t, ledger::Head>> best;
  bool any_bytes = false;
  for (int i = 0; i < 2; ++i) {
    char buf[kAckSlotBytes];
    const ssize_t n = ::pread(fd, buf, sizeof(buf), i * kAckSlotStride);
    if (n < 0) {
      absl::Status s = Errno("read", path);
      ::close(fd);
      return s;
    }
    if (n > 0) any_bytes = true;
    auto slot = DecodeAckSlot(std::string_view(buf, static_cast<size_t>(n)));
    if (slot.has_value() && (!best.has_value() || slot->first > best->first)) {
      best = slot;
    }
  }
  if (any_bytes && !best.has_value()) {
    ::close(fd);
    return absl::DataLossError(
        StrCat(path,
               " (the last head this node acknowledged) is damaged in both "
               "of its slots; if the ledger itself is intact, remove the file "
               "to start without this check once"));
  }
  if (!any_bytes) {
    // New: make its directory entry durable before anything relies on it.
    const std::string dir = std::filesystem::path(path).parent_path().string();
    int dfd = ::open(dir.empty() ? "." : dir.c_str(),
                     O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  std::optional<ledger::Head> head;
  uint64_t sequence = 0;
  if (best.has_value()) {
    sequence = best->first;
    head = best->second;
  }
  return std::unique_ptr<FileAckedHead>(
      new FileAckedHead(path, fd, sequence, head));
}

FileAckedHead::~FileAckedHead() { ::close(fd_); }

absl::Status FileAckedHead::Record(const ledger::Head& head) {
  MutexLock lock(&mu_);
  const uint64_t sequence = sequence_ + 1;
  const std::string slot = EncodeAckSlot(sequence, head);
  const off_t offset = static_cast<off_t>(sequence % 2) * kAckSlotStride;
  if (::pwrite(fd_, slot.data(), slot.size(), offset) !=
      static_cast<ssize_t>(slot.size())) {
    return Errno("write", path_);
  }
  if (::fdatasync(fd_) != 0) return Errno("sync", path_);
  sequence_ = sequence;
  return absl::OkStatus();
}

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
