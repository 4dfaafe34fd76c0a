#include "tools/verify/grades.h"

#include <cstdio>
#include <memory>
#include <vector>

#include "base/strings.h"
#include "crypto/bytes.h"
#include "crypto/rfc6962.h"
#include "ledger/checkpoint.h"
#include "ledger/entry.h"
#include "ledger/event.h"
#include "ledger/merkle.h"
#include "ledger/risk_engine.h"

namespace ledger::verify {
namespace {

constexpr uint64_t kProgressEvery = 100'000;

// Reads an entry export file record by record through a large buffer.
class EntriesFile {
 public:
  static absl::StatusOr<EntriesFile> Open(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
      return absl::NotFoundError(StrCat("cannot open ", path));
    }
    EntriesFile file(f);
    std::string magic(kEntriesFileMagic.size(), '\0');
    if (std::fread(magic.data(), 1, magic.size(), f) != magic.size() ||
        magic != kEntriesFileMagic) {
      return absl::InvalidArgumentError(
          StrCat(path, " is not an entry export file (it must start with ",
                 QuoteForMessage(kEntriesFileMagic),
                 "; `ledgerctl export-entries` writes one)"));
    }
    return file;
  }

  // The next entry's bytes into `out`; false at the end of the file.
  absl::StatusOr<bool> Next(std::string* out) {
    unsigned char len[4];
    const size_t got = std::fread(len, 1, 4, file_.get());
    if (got == 0 && std::feof(file_.get())) return false;
    if (got != 4) {
      return absl::InvalidArgumentError(
          StrCat("record ", records_, ": the file ends inside its length"));
    }
    const uint32_t n = uint32_t{len[0]} << 24 | uint32_t{len[1]} << 16 |
                       uint32_t{len[2]} << 8 | uint32_t{len[3]};
    if (n > kMaxExportedEntryBytes) {
      return absl::InvalidArgumentError(
          StrCat("record ", records_, ": length ", n, " exceeds ",
                 kMaxExportedEntryBytes, " bytes"));
    }
    out->resize(n);
    if (std::fread(out->data(), 1, n, file_.get()) != n) {
      return absl::InvalidArgumentError(StrCat(
          "record ", records_, ": the file ends inside its ", n, " bytes"));
    }
    ++records_;
    return true;
  }

 private:
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  explicit EntriesFile(std::FILE* f) : file_(f) {
    std::setvbuf(f, nullptr, _IOFBF, 1 << 20);
  }

  std::unique_ptr<std::FILE, Closer> file_;
  uint64_t records_ = 0;
};

}  // namespace

void AppendEntryRecord(std::string_view entry_bytes, std::string* out) {
  const auto n = static_cast<uint32_t>(entry_bytes.size());
  const char len[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                       static_cast<char>(n >> 8), static_cast<char>(n)};
  out->append(len, 4);
  out->append(entry_bytes);
}

Report VerifyGradesFile(const std::string& path, const GradesOptions& options,
                        const Trust& trust) {
  Report report("grades", path);
  std::optional<VerifiedCheckpoint> cp;
  if (options.checkpoint.has_value()) {
    absl::StatusOr<VerifiedCheckpoint> opened =
        OpenCheckpoint(*options.checkpoint, trust.log_keys, trust.origin);
    if (!opened.ok()) {
      report.Fail(kCheckCheckpoint, opened.status());
      return report;
    }
    cp = *std::move(opened);
    report.Set("origin", cp->checkpoint.origin);
    report.Set("tree_size", cp->checkpoint.size);
    report.Set("root_hash", crypto::HexEncode(cp->checkpoint.root));
  }
  absl::StatusOr<EntriesFile> file = EntriesFile::Open(path);
  if (!file.ok()) {
    report.Fail(absl::IsNotFound(file.status()) ? kCheckRead : kCheckParse,
                file.status());
    return report;
  }

  constexpr uint32_t kMax = ~uint32_t{0};
  const EventLimits limits{kMax, kMax, kMax, kMax, kMax, kMax};
  risk::Engine engine;
  CompactRange tree;
  Hash chain{};
  uint64_t index = 0;
  uint64_t graded = 0;
  uint64_t propagated = 0;
  uint64_t mismatches = 0;
  std::vector<std::string> listed;
  // One entry, its event and their bytes at a time, reused: their strings
  // and lists keep their capacity from entry to entry.
  std::string bytes;
  Entry entry;
  Event event;
  for (;; ++index) {
    absl::StatusOr<bool> more = file->Next(&bytes);
    if (!more.ok()) {
      report.Fail(kCheckParse, more.status());
      return report;
    }
    if (!*more) break;
    if (absl::Status s = DecodeEntryInto(bytes, &entry); !s.ok()) {
      report.Fail(kCheckEntry, StrCat("entry ", index, ": ", s.message()));
      return report;
    }
    if (entry.index != index) {
      report.Fail(kCheckIndex,
                  StrCat("record ", index, " holds entry ", entry.index,
                         "; the file must hold "
                         "the log's entries from 0 in order"));
      return report;
    }
    if (entry.prev_chain_hash != chain) {
      report.Fail(kCheckChain,
                  StrCat("entry ", index,
                         " does not link to the entry before it (its "
                         "prev_chain_hash is not that entry's chain hash)"));
      return report;
    }
    const Hash leaf = crypto::HashLeaf(bytes);
    chain = ChainHash(chain, leaf);
    if (cp.has_value() && index < cp->checkpoint.size) {
      tree.Append(leaf);
      if (tree.size() == cp->checkpoint.size &&
          tree.Root() != cp->checkpoint.root) {
        report.Fail(
            kCheckRoot,
            StrCat("the first ", cp->checkpoint.size, " entries have root ",
                   crypto::HexEncode(tree.Root()), ", not the checkpoint's"));
        return report;
      }
    }
    if (absl::Status s = DecodeEventInto(entry.event_bytes, limits, &event);
        !s.ok()) {
      report.Fail(kCheckEvent, StrCat("entry ", index, ": ", s.message()));
      return report;
    }
    if (entry.policy_version != 0) ++graded;
    if (event.type == risk::kPropagatedType) ++propagated;
    if (absl::Status s = risk::ReplayEntry(engine, entry, event); !s.ok()) {
      ++mismatches;
      if (index >= options.report_from && listed.size() < options.max_listed) {
        listed.emplace_back(ToStd(s.message()));
      }
    }
    if (options.progress && (index + 1) % kProgressEvery == 0) {
      options.progress(index + 1);
    }
  }
  report.Set("entries", index);
  report.Set("graded", graded);
  report.Set("grade_propagated_entries", propagated);
  report.Set("policies", static_cast<uint64_t>(engine.policy_version()));
  report.Set("chain_hash", crypto::HexEncode(chain));
  if (cp.has_value() && index < cp->checkpoint.size) {
    report.Fail(kCheckRoot, StrCat("the file holds ", index,
                                   " entries, fewer than the checkpoint's ",
                                   cp->checkpoint.size));
    return report;
  }
  if (absl::Status s = engine.CheckComplete(); !s.ok()) {
    ++mismatches;
    if (listed.size() < options.max_listed) {
      listed.emplace_back(ToStd(s.message()));
    }
  }
  report.Set("mismatches", mismatches);
  if (mismatches > 0) {
    report.Set("mismatch", listed);
    report.Fail(kCheckGrades,
                StrCat(mismatches,
                       " differences from what the policies give (stored "
                       "grades, grade.propagated records); the first: ",
                       listed.empty() ? std::string("(before --from)")
                                      : listed.front()));
  }
  return report;
}

}  // namespace ledger::verify
