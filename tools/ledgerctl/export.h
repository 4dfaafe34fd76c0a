#pragma once

// `ledgerctl export-entries`: the log's entries up to its latest checkpoint
// as an entry export file (ledger/FORMAT.md section 16), and that
// checkpoint beside it, for offline checks (`ledger-verify grades`).

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "tools/ledgerctl/client.h"

namespace ledger::ctl {

// Writes entries [0, size of the latest checkpoint) to `out_file` and the
// checkpoint note to `checkpoint_file`; progress lines go to `progress`
// unless `quiet`. FailedPrecondition if the node skipped entries (the
// caller may not see every tenant).
absl::Status RunExportEntries(const ConnectionOptions& conn,
                              const std::string& out_file,
                              const std::string& checkpoint_file, bool quiet,
                              std::ostream& progress);

}  // namespace ledger::ctl
