#pragma once

// Builds answer files (answer.h, FORMAT.md section 12) from a ledger: the
// caller (the query engine or the gRPC layer) has run the query and gives
// the indexes it returned; the builder picks the checkpoint, reads the
// entries, adds the subject's chain for a filtered answer and computes the
// multi-leaf proof from the stored tree. It runs no query itself.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "ledger/answer.h"
#include "ledger/ledger.h"

namespace ledger {

struct AnswerRequest {
  AnswerKind kind = AnswerKind::kHistory;
  // The query's parameters as text (name, value), written to the file as
  // given (names [a-z0-9_], values without control characters).
  std::vector<std::pair<std::string, std::string>> params;
  std::string tenant;
  // Required for a subject query (IsSubjectQuery), absent otherwise.
  std::optional<AnswerSubject> subject;
  // The rows the query returned: strictly increasing, each below as_of.
  // For history, who_touched and actor_activity a consecutive run of the
  // subject's back-link chain (every entry about it between the first and
  // the last), or the file will not verify.
  std::vector<uint64_t> indexes;
  // Optional, for every query but label_history: the entry bytes at
  // `indexes` as the query read them, so BuildAnswer need not read them
  // again. Empty: read from the ledger. (Bytes that are not the ledger's
  // make a file that does not verify.)
  std::vector<std::string> bytes;
  // The ledger size the query was computed at (at most head().size).
  uint64_t as_of = 0;
};

// Builds the answer: the checkpoint is the first stored checkpoint of size
// >= as_of (as a receipt's, FORMAT.md 10.2: the same request gives the same
// file); the entries are read as stored; for label_history the subject's
// back-link chain from the last row back to the first is read and every
// entry of it that is not a row is added, marked 'link' (a row that is not
// on that chain is InvalidArgument). Errors: InvalidArgument for a bad
// request (naming the field and value: as_of beyond the head, unsorted or
// too-large indexes, a subject missing or not allowed), Unavailable when no
// stored checkpoint covers as_of yet (retry after the next checkpoint),
// the ledger's errors otherwise (OutOfRange, DataLoss).
absl::StatusOr<Answer> BuildAnswer(const Ledger& ledger,
                                   const AnswerRequest& request);

}  // namespace ledger
