#include "tools/ledgerctl/export.h"

#include <fstream>

#include "base/strings.h"
#include "ledger/v1/proof.grpc.pb.h"
#include "ledger/v1/query.grpc.pb.h"
#include "tools/verify/grades.h"

namespace ledger::ctl {
namespace {

constexpr uint64_t kProgressEvery = 100'000;

}  // namespace

absl::Status RunExportEntries(const ConnectionOptions& conn,
                              const std::string& out_file,
                              const std::string& checkpoint_file, bool quiet,
                              std::ostream& progress) {
  auto proof = NewStub<v1::Proof>(conn);
  if (!proof.ok()) return proof.status();
  auto query = NewStub<v1::Query>(conn);
  if (!query.ok()) return query.status();
  v1::Checkpoint cp;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline(conn));
    v1::GetCheckpointRequest request;
    absl::Status s = FromGrpc((*proof)->GetCheckpoint(&ctx, request, &cp));
    if (!s.ok()) return s;
  }
  std::ofstream out(out_file, std::ios::binary | std::ios::trunc);
  if (!out) return absl::NotFoundError(StrCat("cannot write ", out_file));
  out << verify::kEntriesFileMagic;
  std::string buffer;
  uint64_t next = 0;
  while (next < cp.size()) {
    // Each call streams at most the node's per-call bound; a fresh
    // deadline per call keeps a long export alive.
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline(conn));
    v1::GetEntriesRequest request;
    request.set_start(next);
    request.set_end(cp.size());
    std::unique_ptr<grpc::ClientReader<v1::Entry>> reader =
        (*query)->GetEntries(&ctx, request);
    const uint64_t before = next;
    v1::Entry entry;
    while (reader->Read(&entry)) {
      if (entry.index() != next) {
        ctx.TryCancel();
        reader->Finish().ok();
        return absl::FailedPreconditionError(
            StrCat("the node skipped entries ", next, " to ", entry.index() - 1,
                   ": an export needs a client that may see every tenant (an "
                   "officer or regulator certificate)"));
      }
      buffer.clear();
      verify::AppendEntryRecord(entry.entry_bytes(), &buffer);
      out << buffer;
      ++next;
      if (!quiet && next % kProgressEvery == 0) {
        progress << "exported " << next << " of " << cp.size() << " entries\n"
                 << std::flush;
      }
    }
    absl::Status s = FromGrpc(reader->Finish());
    if (!s.ok()) return s;
    if (next == before) {
      return absl::FailedPreconditionError(StrCat(
          "the node returned no entry at index ", next, " of ", cp.size(),
          ": an export needs a client that may see every "
          "tenant (an officer or regulator certificate)"));
    }
  }
  out.close();
  if (!out) return absl::DataLossError(StrCat("writing ", out_file, " failed"));
  std::ofstream note(checkpoint_file, std::ios::binary | std::ios::trunc);
  note << cp.note();
  note.close();
  if (!note) {
    return absl::DataLossError(StrCat("writing ", checkpoint_file, " failed"));
  }
  if (!quiet) {
    progress << "exported entries 0 to " << cp.size() << " (exclusive) to "
             << out_file << " and their checkpoint to " << checkpoint_file
             << "\n"
             << std::flush;
  }
  return absl::OkStatus();
}

}  // namespace ledger::ctl
