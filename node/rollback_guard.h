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

// Writes `contents` to `path` atomically and durably: a temporary file in
// the same directory, fsynced, renamed over `path`, then the directory
// fsynced. Internal on failure, and `path` is then unchanged.
absl::Status WriteFileDurably(const std::string& path,
                              std::string_view contents, int mode);

}  // namespace ledger::node
