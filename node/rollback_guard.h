#pragma once

// The rollback guard: the last checkpoint this node signed, kept outside
// RocksDB (and its write-ahead log) so that a database that lost entries
// cannot make the log sign a checkpoint contradicting one it published.
//
// The sequencer records every checkpoint here, durably, before the
// checkpoint is stored or served; it never signs a checkpoint smaller than
// or inconsistent with the recorded one; and on start the node refuses a
// ledger that does not hold the recorded checkpoint (LedgerOptions::
// signed_head). docs/decisions.md says what this does and does not cover.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "base/sync.h"
#include "crypto/note.h"
#include "ledger/checkpoint.h"
#include "ledger/ledger.h"

namespace ledger::node {

class RollbackGuard {
 public:
  virtual ~RollbackGuard() = default;
  // The last recorded checkpoint, if any.
  virtual std::optional<ledger::Checkpoint> last() const = 0;
  // Records `note` (a signed checkpoint note whose body is `checkpoint`)
  // durably. A checkpoint smaller than the recorded one is refused
  // (FailedPrecondition); the caller checks consistency.
  virtual absl::Status Record(std::string_view note,
                              const ledger::Checkpoint& checkpoint) = 0;
};

// The guard as a file holding the signed note, replaced atomically (write a
// temporary file, fsync it, rename it over, fsync the directory).
class FileRollbackGuard : public RollbackGuard {
 public:
  // Loads `path`: NotFound if it does not exist; DataLoss if it does not
  // hold a checkpoint note of `origin` that `verifiers` verify.
  static absl::StatusOr<std::unique_ptr<FileRollbackGuard>> Load(
      const std::string& path, absl::Span<const crypto::NoteVerifier> verifiers,
      std::string_view origin);
  // Creates `path` holding `note` (which must be a checkpoint note);
  // AlreadyExists if it exists.
  static absl::StatusOr<std::unique_ptr<FileRollbackGuard>> Create(
      const std::string& path, std::string_view note);

  std::optional<ledger::Checkpoint> last() const override;
  absl::Status Record(std::string_view note,
                      const ledger::Checkpoint& checkpoint) override;

 private:
  FileRollbackGuard(std::string path, ledger::Checkpoint last)
      : path_(std::move(path)), last_(std::move(last)) {}

  const std::string path_;
  mutable Mutex mu_;
  ledger::Checkpoint last_ ABSL_GUARDED_BY(mu_);
};

// The last head this node acknowledged to clients, kept beside the guard
// so that acknowledged entries no checkpoint covers yet are checked on
// start too (LedgerOptions::acknowledged_head). The sequencer records each
// published head here, synced, before it acknowledges the group.
class AckedHeadRecord {
 public:
  virtual ~AckedHeadRecord() = default;
  virtual absl::Status Record(const ledger::Head& head) = 0;
};

// The record as a file of two slots 4 KiB apart, written in place
// alternately and synced (fdatasync): a torn write damages one slot, and
// the other still holds the previous head. Each slot: "ackh", a sequence
// number, the size (both u64 little-endian), the root, and the first 16
// bytes of the SHA-256 of those 52 bytes.
class FileAckedHead : public AckedHeadRecord {
 public:
  // Opens `path`, creating it (empty) if missing. DataLoss if it exists
  // but neither slot is intact.
  static absl::StatusOr<std::unique_ptr<FileAckedHead>> Open(
      const std::string& path);
  ~FileAckedHead() override;

  // The head read at Open (none for a new file).
  const std::optional<ledger::Head>& at_open() const { return at_open_; }
  absl::Status Record(const ledger::Head& head) override;

 private:
  FileAckedHead(std::string path, int fd, uint64_t sequence,
                std::optional<ledger::Head> at_open)
      : path_(std::move(path)),
        fd_(fd),
        sequence_(sequence),
        at_open_(std::move(at_open)) {}

  const std::string path_;
  const int fd_;
  Mutex mu_;
  uint64_t sequence_ ABSL_GUARDED_BY(mu_);
  const std::optional<ledger::Head> at_open_;
};

// Writes `contents` to `path` atomically and durably: a temporary file in
// the same directory, fsynced, renamed over `path`, then the directory
// fsynced. Internal on failure, and `path` is then unchanged.
absl::Status WriteFileDurably(const std::string& path,
                              std::string_view contents, int mode);

}  // namespace ledger::node
