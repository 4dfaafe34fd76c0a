#pragma once

// Answer files (ledger/FORMAT.md section 12): the answer to a provenance
// query with everything an offline verifier needs to check it: the query,
// one signed checkpoint, every returned entry's bytes and one compact
// multi-leaf inclusion proof for all of them. For a query about one
// subject the back-links in the entries show, beyond inclusion, that no
// entry about the subject between the first and the last returned one was
// left out.
//
// Part of ledger_format (no RocksDB): ledger-verify links it. The builder,
// which reads a ledger, is in answer_builder.h.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "crypto/bytes.h"
#include "crypto/note.h"
#include "ledger/checkpoint.h"
#include "ledger/entry.h"

namespace ledger {

inline constexpr std::string_view kAnswerHeader = "ledger-answer/v1";
// Bounds a parser enforces (FORMAT.md 12.1).
inline constexpr size_t kMaxAnswerParams = 64;
inline constexpr size_t kMaxAnswerParamNameBytes = 64;
inline constexpr size_t kMaxAnswerTextBytes = 4096;
inline constexpr size_t kMaxAnswerEntries = 1'000'000;

// The query an answer answers (provenance queries, issue 12).
enum class AnswerKind {
  kHistory,        // every entry about a subject
  kLabelHistory,   // an item's entries of the label families (filtered)
  kWhoTouched,     // a subject's entries in a time window
  kActorActivity,  // an actor's entries in a time window
  kUpstream,
  kDownstream,
  kCrossBorder,
  kOrphans,
};

// "history", "label_history", "who_touched", "actor_activity", "upstream",
// "downstream", "cross_border", "orphans".
std::string_view AnswerKindName(AnswerKind kind);
std::optional<AnswerKind> ParseAnswerKind(std::string_view name);

// The four queries about one subject: their file names the subject and its
// entries follow the subject's back-link chain.
bool IsSubjectQuery(AnswerKind kind);
// label_history: its rows are a filtered subset of the chain, so the file
// carries the whole chain between its first and last row and marks the
// rows.
bool IsFilteredQuery(AnswerKind kind);

// The entry types label_history returns (its filter, FORMAT.md 12.4): the
// annotation and quality families. A verifier checks a label_history
// answer's row marks against it.
bool IsLabelHistoryType(std::string_view type);

struct AnswerSubject {
  LinkKind kind = LinkKind::kItem;
  std::string id;
  friend bool operator==(const AnswerSubject&, const AnswerSubject&) = default;
};

struct AnswerEntry {
  uint64_t index = 0;
  // A row of the answer, or (label_history only) a link of the subject's
  // chain between two rows that the query's filter left out.
  bool row = true;
  std::string bytes;  // the entry's bytes, as its leaf hash covers them
  friend bool operator==(const AnswerEntry&, const AnswerEntry&) = default;
};

struct Answer {
  AnswerKind kind = AnswerKind::kHistory;
  // The query's parameters as the caller stated them (name, value), in
  // order; reported, not interpreted.
  std::vector<std::pair<std::string, std::string>> params;
  std::string tenant;
  std::optional<AnswerSubject> subject;  // iff IsSubjectQuery(kind)
  // The ledger size the answer was computed at: only entries below it
  // counted.
  uint64_t as_of = 0;
  std::vector<AnswerEntry> entries;  // ascending index
  // The multi-leaf inclusion proof of every entry in the checkpoint's tree
  // (merkle.h MultiInclusionProof).
  std::vector<crypto::Hash> proof;
  std::string checkpoint;  // the signed checkpoint note, verbatim
  friend bool operator==(const Answer&, const Answer&) = default;
};

// The file text (FORMAT.md 12.1). InvalidArgument, naming the field, for
// an answer that ParseAnswer would reject (so a file that was written can
// always be read).
absl::StatusOr<std::string> EncodeAnswer(const Answer& answer);
// The checks of EncodeAnswer without writing the text.
absl::Status CheckAnswer(const Answer& answer);
// Strict parse: InvalidArgument naming the line ("answer line 7: ...") on
// any deviation from FORMAT.md 12.1. The checkpoint is kept verbatim and
// not checked here.
absl::StatusOr<Answer> ParseAnswer(std::string_view text);

// The checks of FORMAT.md 12.3, in order.
inline constexpr std::string_view kAnswerCheckParse = "parse";
inline constexpr std::string_view kAnswerCheckCheckpoint = "checkpoint";
inline constexpr std::string_view kAnswerCheckInclusion = "inclusion";
inline constexpr std::string_view kAnswerCheckEntries = "entries";
inline constexpr std::string_view kAnswerCheckSubject = "subject";
inline constexpr std::string_view kAnswerCheckChain = "chain";
inline constexpr std::string_view kAnswerCheckRows = "rows";

struct AnswerCheck {
  std::string name;  // one of kAnswerCheck*
  bool ok = false;
  // What was checked (ok) or why it failed, for a person.
  std::string detail;
};

struct AnswerVerification {
  // The checks run, in order; verification stops at the first failure.
  std::vector<AnswerCheck> checks;
  // Set once the checkpoint verified.
  std::optional<VerifiedCheckpoint> checkpoint;
  // What the file proves and what it does not, one sentence each (only
  // when every check passed; `proven` is empty otherwise).
  std::vector<std::string> proven;
  std::vector<std::string> not_proven;

  bool ok() const;
  // The failed check, or nullptr.
  const AnswerCheck* failure() const;
};

// Verifies an answer (FORMAT.md 12.3): the checkpoint with `verifiers` as
// receipts' are (OpenCheckpoint; `origin`, if non-empty, must match); the
// as-of against its size; the multi-leaf proof of every entry to its
// root; each entry decodes, names its listed index, lies below the as-of
// and holds an event of the answer's tenant; for a subject query each
// entry has a back-link for the subject and each back-link's `previous` is
// the entry listed before it; for label_history the rows are exactly the
// chain's entries of IsLabelHistoryType types.
AnswerVerification VerifyAnswer(
    const Answer& answer, absl::Span<const crypto::NoteVerifier> verifiers,
    std::string_view origin = "");
// ParseAnswer (check "parse"), then VerifyAnswer.
AnswerVerification VerifyAnswerText(
    std::string_view text, absl::Span<const crypto::NoteVerifier> verifiers,
    std::string_view origin = "");

}  // namespace ledger
