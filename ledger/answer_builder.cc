#include "ledger/answer_builder.h"

#include "base/status_macros.h"
#include "base/strings.h"
#include "ledger/entry.h"
#include "ledger/event.h"

namespace ledger {
namespace {

// The back-link of `entry` for the subject; InvalidArgument if it has none
// (the request named an entry that is not about the subject).
absl::StatusOr<uint64_t> PreviousAbout(const Entry& entry,
                                       const AnswerSubject& subject) {
  for (const BackLink& b : entry.back_links) {
    if (b.kind == subject.kind && b.id == subject.id) return b.previous;
  }
  return absl::InvalidArgumentError(
      StrCat("indexes: entry ", entry.index, " has no back-link for ",
             LinkKindName(subject.kind), " ", QuoteForMessage(subject.id)));
}

// For a filtered answer: the chain of the subject from the last row back
// to the first, with each entry's bytes, ascending, rows marked.
absl::StatusOr<std::vector<AnswerEntry>> ReadChain(const Ledger& ledger,
                                                   const AnswerRequest& r) {
  std::vector<AnswerEntry> chain;
  if (r.indexes.empty()) return chain;
  const uint64_t first = r.indexes.front();
  size_t next_row = r.indexes.size();  // rows still to meet, walking back
  uint64_t at = r.indexes.back();
  for (;;) {
    LEDGER_ASSIGN_OR_RETURN(std::string bytes, ledger.GetEntry(at));
    LEDGER_ASSIGN_OR_RETURN(Entry entry, DecodeEntry(bytes));
    const bool row = next_row > 0 && r.indexes[next_row - 1] == at;
    if (row) --next_row;
    chain.push_back(AnswerEntry{at, row, std::move(bytes)});
    LEDGER_ASSIGN_OR_RETURN(uint64_t previous,
                            PreviousAbout(entry, *r.subject));
    if (at == first) break;
    // A row the walk stepped over is not on the chain.
    if (previous == kNoPrevious || previous >= at ||
        (next_row > 0 && previous < r.indexes[next_row - 1])) {
      return absl::InvalidArgumentError(StrCat(
          "indexes: entry ", r.indexes[next_row - 1],
          " is not on the back-link chain of ", LinkKindName(r.subject->kind),
          " ", QuoteForMessage(r.subject->id), " of tenant ",
          QuoteForMessage(r.tenant), " that leads back from entry ",
          r.indexes.back()));
    }
    at = previous;
  }
  return std::vector<AnswerEntry>(chain.rbegin(), chain.rend());
}

}  // namespace

absl::StatusOr<Answer> BuildAnswer(const Ledger& ledger,
                                   const AnswerRequest& r) {
  const uint64_t head = ledger.head().size;
  if (r.as_of > head) {
    return absl::InvalidArgumentError(
        StrCat("as_of: ", r.as_of, " is beyond the ledger's size ", head));
  }
  for (size_t k = 0; k < r.indexes.size(); ++k) {
    if (r.indexes[k] >= r.as_of) {
      return absl::InvalidArgumentError(StrCat(
          "indexes: entry ", r.indexes[k], " is not below as_of ", r.as_of));
    }
    if (k > 0 && r.indexes[k] <= r.indexes[k - 1]) {
      return absl::InvalidArgumentError(StrCat("indexes: must increase, got ",
                                               r.indexes[k - 1], " then ",
                                               r.indexes[k]));
    }
  }
  if (IsSubjectQuery(r.kind) != r.subject.has_value()) {
    return absl::InvalidArgumentError(
        StrCat("subject: a ", AnswerKindName(r.kind), " answer ",
               IsSubjectQuery(r.kind) ? "needs" : "takes no", " subject"));
  }
  LEDGER_ASSIGN_OR_RETURN(std::optional<StoredCheckpoint> cp,
                          ledger.CheckpointCovering(r.as_of));
  if (!cp.has_value()) {
    std::optional<StoredCheckpoint> latest = ledger.LatestCheckpoint();
    return absl::UnavailableError(StrCat(
        "no checkpoint covers size ", r.as_of, " yet (the latest is of size ",
        latest.has_value() ? StrCat(latest->size) : std::string("none"),
        "); retry after the next checkpoint"));
  }

  Answer a;
  a.kind = r.kind;
  a.params = r.params;
  a.tenant = r.tenant;
  a.subject = r.subject;
  a.as_of = r.as_of;
  a.checkpoint = cp->note;
  if (IsFilteredQuery(r.kind)) {
    LEDGER_ASSIGN_OR_RETURN(a.entries, ReadChain(ledger, r));
  } else {
    std::vector<std::string> bytes = r.bytes;
    if (bytes.empty()) {
      LEDGER_ASSIGN_OR_RETURN(bytes, ledger.GetEntriesAt(r.indexes));
    } else if (bytes.size() != r.indexes.size()) {
      return absl::InvalidArgumentError(StrCat("bytes: ", bytes.size(),
                                               " entries for ",
                                               r.indexes.size(), " indexes"));
    }
    a.entries.reserve(r.indexes.size());
    for (size_t k = 0; k < r.indexes.size(); ++k) {
      a.entries.push_back(AnswerEntry{r.indexes[k], true, std::move(bytes[k])});
    }
  }
  std::vector<uint64_t> all;
  all.reserve(a.entries.size());
  for (const AnswerEntry& e : a.entries) all.push_back(e.index);
  LEDGER_ASSIGN_OR_RETURN(a.proof, ledger.MultiInclusionProof(all, cp->size));
  // The file must be writable: the text rules of the params and names.
  LEDGER_RETURN_IF_ERROR(CheckAnswer(a));
  return a;
}

}  // namespace ledger
