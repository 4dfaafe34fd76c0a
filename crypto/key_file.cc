#include "crypto/key_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/strings.h"

namespace ledger::crypto {
namespace {

absl::Status ErrnoStatus(std::string_view what, const std::string& path) {
  int err = errno;
  std::string msg = StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(msg);
  if (err == EEXIST) return absl::AlreadyExistsError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  return absl::InternalError(msg);
}

std::string OctalMode(mode_t mode) {
  std::string out = "0";
  for (int shift = 6; shift >= 0; shift -= 3) {
    out.push_back(static_cast<char>('0' + ((mode >> shift) & 7)));
  }
  return out;
}

}  // namespace

absl::Status WriteKeyFile(const std::string& path, std::string_view contents,
                          bool is_private) {
  const mode_t mode = is_private ? 0600 : 0644;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus("cannot create", path);
  // The umask may have cleared bits we want; it never adds any.
  if (::fchmod(fd, mode) != 0) {
    absl::Status s = ErrnoStatus("cannot chmod", path);
    ::close(fd);
    return s;
  }
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status s = ErrnoStatus("cannot write", path);
      ::close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    absl::Status s = ErrnoStatus("cannot fsync", path);
    ::close(fd);
    return s;
  }
  if (::close(fd) != 0) return ErrnoStatus("cannot close", path);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open", path);
  std::string out;
  struct stat st;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) {
    out.reserve(static_cast<size_t>(st.st_size));
  }
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status s = ErrnoStatus("cannot read", path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

absl::StatusOr<NoteSigner> ReadSignerKeyFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("cannot stat", path);
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(StrCat(
        "private key file ", path, " is accessible by group or others (mode ",
        OctalMode(st.st_mode), "); run: chmod 600 ", path));
  }
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  std::string_view line = Trim(*text);
  absl::StatusOr<NoteSigner> signer = ParseSignerKey(line);
  std::fill(text->begin(), text->end(), '\0');
  if (!signer.ok()) {
    return absl::InvalidArgumentError(
        StrCat(path, ": ", signer.status().message()));
  }
  return signer;
}

absl::StatusOr<std::vector<NoteVerifier>> ReadVerifierKeyFile(
    const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::vector<NoteVerifier>> keys = ParseVerifierKeys(*text);
  if (!keys.ok()) {
    return absl::InvalidArgumentError(
        StrCat(path, ": ", keys.status().message()));
  }
  if (keys->empty()) {
    return absl::InvalidArgumentError(
        StrCat(path, ": contains no verifier key"));
  }
  return keys;
}

}  // namespace ledger::crypto
