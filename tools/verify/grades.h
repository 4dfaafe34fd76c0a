#pragma once

// `ledger-verify grades`: recomputes, offline, the risk grade, reasons and
// policy version of every entry of an entry export file (ledger/FORMAT.md
// section 16) and the grade.propagated entries the ledger owed, and reports
// every entry whose stored values differ. With a checkpoint, it also shows
// that the file holds exactly the log's first entries: the RFC 6962 root of
// the file's first checkpoint-size entries must be the signed one.
//
// Links ledger_format and ledger_risk only (no gRPC, protobuf or RocksDB).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "tools/verify/report.h"
#include "tools/verify/verify.h"

namespace ledger::verify {

inline constexpr std::string_view kCheckChain = "chain";
inline constexpr std::string_view kCheckGrades = "grades";
inline constexpr std::string_view kCheckRoot = "root";

// The first line of an entry export file.
inline constexpr std::string_view kEntriesFileMagic =
    "annotation-ledger entries 1\n";
// Entries longer than this are refused by the reader (a corrupt length
// would otherwise make it allocate gigabytes).
inline constexpr uint32_t kMaxExportedEntryBytes = 16u << 20;

// Appends one entry's record (BE32 length || bytes) to `out`.
void AppendEntryRecord(std::string_view entry_bytes, std::string* out);

struct GradesOptions {
  // A signed checkpoint note: the file must hold at least its size entries
  // and their root must be its root (checked with the trust's log keys).
  std::optional<std::string> checkpoint;
  // List mismatches only for entries from this index on (the replay
  // always starts at entry 0: grades depend on every earlier entry).
  uint64_t report_from = 0;
  // At most this many mismatching entries are listed (all are counted).
  size_t max_listed = 20;
  // Called every 100,000 entries with the number replayed so far.
  std::function<void(uint64_t)> progress;
};

// Verifies the entry export file at `path`: read and parse (read, parse),
// each entry decodes with its position as index (entry, index, event), the
// chain links each entry to the one before (chain), the checkpoint if
// given (checkpoint, root), and every entry's risk fields and the
// grade.propagated records (grades). A grade mismatch does not stop the
// replay: the report counts them all and lists the first ones.
Report VerifyGradesFile(const std::string& path, const GradesOptions& options,
                        const Trust& trust);

}  // namespace ledger::verify
