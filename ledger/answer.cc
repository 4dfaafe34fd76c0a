#include "ledger/answer.h"

#include <array>

#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "ledger/event.h"
#include "ledger/line_reader.h"
#include "ledger/merkle.h"

namespace ledger {
namespace {

constexpr std::string_view kQueryPrefix = "query ";
constexpr std::string_view kParamPrefix = "param ";
constexpr std::string_view kTenantPrefix = "tenant ";
constexpr std::string_view kSubjectPrefix = "subject ";
constexpr std::string_view kAsOfPrefix = "as-of ";
constexpr std::string_view kEntryPrefix = "entry ";
constexpr std::string_view kRowMark = "row";
constexpr std::string_view kLinkMark = "link";

struct KindName {
  AnswerKind kind;
  std::string_view name;
};
constexpr std::array<KindName, 8> kKindNames = {{
    {AnswerKind::kHistory, "history"},
    {AnswerKind::kLabelHistory, "label_history"},
    {AnswerKind::kWhoTouched, "who_touched"},
    {AnswerKind::kActorActivity, "actor_activity"},
    {AnswerKind::kUpstream, "upstream"},
    {AnswerKind::kDownstream, "downstream"},
    {AnswerKind::kCrossBorder, "cross_border"},
    {AnswerKind::kOrphans, "orphans"},
}};

absl::Status Malformed(int line_no, std::string_view what) {
  return absl::InvalidArgumentError(
      StrCat("answer line ", line_no, ": ", what));
}

// Text of a line value: at most kMaxAnswerTextBytes bytes, no control
// characters (which also keeps it on its line). Empty unless `allow_empty`.
absl::Status CheckText(std::string_view field, std::string_view value,
                       bool allow_empty) {
  if (value.empty() && !allow_empty) {
    return absl::InvalidArgumentError(StrCat(field, ": must not be empty"));
  }
  if (value.size() > kMaxAnswerTextBytes) {
    return absl::InvalidArgumentError(StrCat(field, ": ", value.size(),
                                             " bytes exceed the limit of ",
                                             kMaxAnswerTextBytes));
  }
  for (size_t i = 0; i < value.size(); ++i) {
    const auto c = static_cast<uint8_t>(value[i]);
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(
          StrCat(field, ": control character 0x",
                 crypto::HexEncode(value.substr(i, 1)), " at byte ", i));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckParamName(std::string_view name) {
  if (name.empty() || name.size() > kMaxAnswerParamNameBytes) {
    return absl::InvalidArgumentError(StrCat("param name: must have 1 to ",
                                             kMaxAnswerParamNameBytes,
                                             " bytes, got ", name.size()));
  }
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return absl::InvalidArgumentError(
          StrCat("param name ", QuoteForMessage(name),
                 ": only a-z, 0-9 and '_' are allowed"));
    }
  }
  return absl::OkStatus();
}

// The rules on the fields that hold together: the subject, the marks, the
// order of the entries and the counts.
absl::Status CheckSubjectRule(AnswerKind kind,
                              const std::optional<AnswerSubject>& subject) {
  if (IsSubjectQuery(kind) != subject.has_value()) {
    return absl::InvalidArgumentError(
        StrCat("subject: a ", AnswerKindName(kind), " answer ",
               IsSubjectQuery(kind) ? "must" : "must not", " name a subject"));
  }
  if (!subject.has_value()) return absl::OkStatus();
  if (kind == AnswerKind::kLabelHistory && subject->kind != LinkKind::kItem) {
    return absl::InvalidArgumentError(
        StrCat("subject: a label_history answer is about an item, not a ",
               LinkKindName(subject->kind)));
  }
  if (kind == AnswerKind::kActorActivity && subject->kind != LinkKind::kActor) {
    return absl::InvalidArgumentError(
        StrCat("subject: an actor_activity answer is about an actor, not a ",
               LinkKindName(subject->kind)));
  }
  return CheckText("subject id", subject->id, /*allow_empty=*/false);
}

absl::Status CheckEntryRule(AnswerKind kind, const AnswerEntry* previous,
                            const AnswerEntry& entry) {
  if (previous != nullptr && entry.index <= previous->index) {
    return absl::InvalidArgumentError(
        StrCat("entry ", entry.index, " follows entry ", previous->index,
               ": entries must be in increasing index order"));
  }
  if (!entry.row && !IsFilteredQuery(kind)) {
    return absl::InvalidArgumentError(
        StrCat("entry ", entry.index, ": a ", AnswerKindName(kind),
               " answer has rows only; 'link' marks belong to label_history"));
  }
  if (entry.bytes.empty()) {
    return absl::InvalidArgumentError(
        StrCat("entry ", entry.index, ": no entry bytes"));
  }
  return absl::OkStatus();
}

size_t MaxProofHashes(size_t entries) { return 64 * (entries + 1); }

const BackLink* FindBackLink(const Entry& entry, const AnswerSubject& subject) {
  for (const BackLink& b : entry.back_links) {
    if (b.kind == subject.kind && b.id == subject.id) return &b;
  }
  return nullptr;
}

std::string SubjectName(const Answer& a) {
  return StrCat(LinkKindName(a.subject->kind), " ",
                QuoteForMessage(a.subject->id), " of tenant ",
                QuoteForMessage(a.tenant));
}

std::string PreviousName(uint64_t previous) {
  return previous == kNoPrevious
             ? std::string("none (the subject's first entry)")
             : StrCat("entry ", previous);
}

}  // namespace

std::string_view AnswerKindName(AnswerKind kind) {
  for (const KindName& k : kKindNames) {
    if (k.kind == kind) return k.name;
  }
  return "unknown";
}

std::optional<AnswerKind> ParseAnswerKind(std::string_view name) {
  for (const KindName& k : kKindNames) {
    if (k.name == name) return k.kind;
  }
  return std::nullopt;
}

bool IsSubjectQuery(AnswerKind kind) {
  return kind == AnswerKind::kHistory || kind == AnswerKind::kLabelHistory ||
         kind == AnswerKind::kWhoTouched || kind == AnswerKind::kActorActivity;
}

bool IsFilteredQuery(AnswerKind kind) {
  return kind == AnswerKind::kLabelHistory;
}

bool IsLabelHistoryType(std::string_view type) {
  return type.starts_with("annotation.") || type.starts_with("review.") ||
         type == "prelabel.applied" || type == "ground_truth.set" ||
         type == "qa.sample_drawn" || type == "batch.released" ||
         type == "task.assigned";
}

namespace {

// Checks `a` against the file's rules and, unless `out` is null, writes it
// there.
absl::Status WriteAnswer(const Answer& a, std::string* out) {
  if (a.params.size() > kMaxAnswerParams) {
    return absl::InvalidArgumentError(StrCat("params: ", a.params.size(),
                                             " exceed the limit of ",
                                             kMaxAnswerParams));
  }
  const auto put = [out](auto&&... parts) {
    if (out != nullptr) StrAppend(out, parts...);
  };
  if (out != nullptr) {
    size_t size = a.checkpoint.size() + 256 + a.proof.size() * 45;
    for (const AnswerEntry& e : a.entries) size += e.bytes.size() / 3 * 4 + 32;
    out->reserve(size);
  }
  put(kAnswerHeader, "\n", kQueryPrefix, AnswerKindName(a.kind), "\n");
  for (const auto& [name, value] : a.params) {
    if (absl::Status s = CheckParamName(name); !s.ok()) return s;
    if (absl::Status s =
            CheckText(StrCat("param ", name), value, /*allow_empty=*/true);
        !s.ok()) {
      return s;
    }
    put(kParamPrefix, name, " ", value, "\n");
  }
  if (absl::Status s = CheckText("tenant", a.tenant, false); !s.ok()) return s;
  put(kTenantPrefix, a.tenant, "\n");
  if (absl::Status s = CheckSubjectRule(a.kind, a.subject); !s.ok()) return s;
  if (a.subject.has_value()) {
    put(kSubjectPrefix, LinkKindName(a.subject->kind), " ", a.subject->id,
        "\n");
  }
  put(kAsOfPrefix, a.as_of, "\n");
  if (a.entries.size() > kMaxAnswerEntries) {
    return absl::InvalidArgumentError(StrCat("entries: ", a.entries.size(),
                                             " exceed the limit of ",
                                             kMaxAnswerEntries));
  }
  for (size_t k = 0; k < a.entries.size(); ++k) {
    const AnswerEntry& e = a.entries[k];
    if (absl::Status s =
            CheckEntryRule(a.kind, k > 0 ? &a.entries[k - 1] : nullptr, e);
        !s.ok()) {
      return s;
    }
    if (out != nullptr) {
      put(kEntryPrefix, e.index, " ", e.row ? kRowMark : kLinkMark, " ",
          crypto::Base64Encode(e.bytes), "\n");
    }
  }
  if (a.proof.size() > MaxProofHashes(a.entries.size())) {
    return absl::InvalidArgumentError(
        StrCat("proof: ", a.proof.size(), " hashes exceed the limit of ",
               MaxProofHashes(a.entries.size()), " for ", a.entries.size(),
               " entries"));
  }
  if (out != nullptr) {
    for (const crypto::Hash& h : a.proof) put(crypto::Base64Encode(h), "\n");
  }
  if (a.checkpoint.empty()) {
    return absl::InvalidArgumentError("checkpoint: missing");
  }
  put("\n", a.checkpoint);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> EncodeAnswer(const Answer& a) {
  std::string out;
  if (absl::Status s = WriteAnswer(a, &out); !s.ok()) return s;
  return out;
}

absl::Status CheckAnswer(const Answer& a) { return WriteAnswer(a, nullptr); }

absl::StatusOr<Answer> ParseAnswer(std::string_view text) {
  LineReader reader(text);
  std::optional<std::string_view> line = reader.Next();
  if (!line.has_value() || *line != kAnswerHeader) {
    return Malformed(1, StrCat("the first line must be '", kAnswerHeader, "'"));
  }
  Answer a;
  line = reader.NextWith(kQueryPrefix);
  if (!line.has_value()) return Malformed(2, "expected 'query KIND'");
  std::optional<AnswerKind> kind = ParseAnswerKind(*line);
  if (!kind.has_value()) {
    return Malformed(2, StrCat("unknown query kind ", QuoteForMessage(*line)));
  }
  a.kind = *kind;
  while ((line = reader.NextWith(kParamPrefix)).has_value()) {
    if (a.params.size() == kMaxAnswerParams) {
      return Malformed(reader.line_no(),
                       StrCat("more than ", kMaxAnswerParams, " param lines"));
    }
    const size_t space = line->find(' ');
    if (space == std::string_view::npos) {
      return Malformed(reader.line_no(), "expected 'param NAME VALUE'");
    }
    std::string_view name = line->substr(0, space);
    std::string_view value = line->substr(space + 1);
    if (absl::Status s = CheckParamName(name); !s.ok()) {
      return Malformed(reader.line_no(), ToStd(s.message()));
    }
    if (absl::Status s = CheckText(StrCat("param ", name), value, true);
        !s.ok()) {
      return Malformed(reader.line_no(), ToStd(s.message()));
    }
    a.params.emplace_back(name, value);
  }
  line = reader.NextWith(kTenantPrefix);
  if (!line.has_value()) {
    return Malformed(reader.line_no() + 1, "expected 'tenant TENANT'");
  }
  if (absl::Status s = CheckText("tenant", *line, false); !s.ok()) {
    return Malformed(reader.line_no(), ToStd(s.message()));
  }
  a.tenant = std::string(*line);
  if ((line = reader.NextWith(kSubjectPrefix)).has_value()) {
    const size_t space = line->find(' ');
    std::optional<LinkKind> link = ParseLinkKindName(line->substr(0, space));
    if (space == std::string_view::npos || !link.has_value()) {
      return Malformed(reader.line_no(),
                       "expected 'subject KIND ID' with KIND one of dataset, "
                       "item, annotation, actor");
    }
    a.subject = AnswerSubject{*link, std::string(line->substr(space + 1))};
  }
  if (absl::Status s = CheckSubjectRule(a.kind, a.subject); !s.ok()) {
    return Malformed(reader.line_no() + (a.subject.has_value() ? 0 : 1),
                     ToStd(s.message()));
  }
  line = reader.NextWith(kAsOfPrefix);
  if (!line.has_value()) {
    return Malformed(reader.line_no() + 1, "expected 'as-of SIZE'");
  }
  std::optional<uint64_t> as_of = ParseCanonicalUint64(*line);
  if (!as_of.has_value()) {
    return Malformed(reader.line_no(),
                     "as-of must be a decimal number without sign or leading "
                     "zeros");
  }
  a.as_of = *as_of;
  while ((line = reader.NextWith(kEntryPrefix)).has_value()) {
    if (a.entries.size() == kMaxAnswerEntries) {
      return Malformed(reader.line_no(),
                       StrCat("more than ", kMaxAnswerEntries, " entries"));
    }
    std::vector<std::string_view> parts = Split(*line, ' ');
    std::optional<uint64_t> index;
    if (parts.size() == 3) index = ParseCanonicalUint64(parts[0]);
    if (!index.has_value() || (parts[1] != kRowMark && parts[1] != kLinkMark)) {
      return Malformed(reader.line_no(),
                       "expected 'entry INDEX row|link BASE64' with a decimal "
                       "index without sign or leading zeros");
    }
    absl::StatusOr<std::string> bytes = crypto::Base64Decode(parts[2]);
    if (!bytes.ok()) {
      return Malformed(reader.line_no(), "entry bytes are not standard base64");
    }
    AnswerEntry entry{*index, parts[1] == kRowMark, *std::move(bytes)};
    if (absl::Status s = CheckEntryRule(
            a.kind, a.entries.empty() ? nullptr : &a.entries.back(), entry);
        !s.ok()) {
      return Malformed(reader.line_no(), ToStd(s.message()));
    }
    a.entries.push_back(std::move(entry));
  }
  for (;;) {
    line = reader.Next();
    if (!line.has_value()) {
      return Malformed(reader.line_no() + 1,
                       "missing the empty line before the checkpoint");
    }
    if (line->empty()) break;
    if (a.proof.size() == MaxProofHashes(a.entries.size())) {
      return Malformed(
          reader.line_no(),
          StrCat("more than ", MaxProofHashes(a.entries.size()),
                 " proof hashes for ", a.entries.size(), " entries"));
    }
    absl::StatusOr<crypto::Hash> h = crypto::HashFromBase64(*line);
    if (!h.ok()) {
      return Malformed(reader.line_no(),
                       "expected a proof hash (standard base64 of 32 bytes), "
                       "an entry line in its place, or the empty line");
    }
    a.proof.push_back(*h);
  }
  if (reader.rest().empty()) {
    return Malformed(reader.line_no() + 1, "the checkpoint is missing");
  }
  a.checkpoint = std::string(reader.rest());
  return a;
}

bool AnswerVerification::ok() const {
  return !checks.empty() && failure() == nullptr;
}

const AnswerCheck* AnswerVerification::failure() const {
  for (const AnswerCheck& c : checks) {
    if (!c.ok) return &c;
  }
  return nullptr;
}

namespace {

// Runs the checks of FORMAT.md 12.3 after parsing, adding to `out`.
void Verify(const Answer& a, absl::Span<const crypto::NoteVerifier> verifiers,
            std::string_view origin, AnswerVerification& out) {
  auto pass = [&](std::string_view name, std::string detail) {
    out.checks.push_back({std::string(name), true, std::move(detail)});
  };
  auto fail = [&](std::string_view name, std::string detail) {
    out.checks.push_back({std::string(name), false, std::move(detail)});
  };

  // Checkpoint.
  absl::StatusOr<VerifiedCheckpoint> cp =
      OpenCheckpoint(a.checkpoint, verifiers, origin);
  if (!cp.ok()) {
    fail(kAnswerCheckCheckpoint, std::string(ToStd(cp.status().ToString())));
    return;
  }
  const Checkpoint& c = cp->checkpoint;
  std::vector<std::string> signers;
  for (const crypto::VerifiedSignature& s : cp->signatures) {
    signers.push_back(s.verifier.name);
  }
  std::string signed_by;
  for (size_t i = 0; i < signers.size(); ++i) {
    signed_by += StrCat(i > 0 ? ", " : "", signers[i]);
  }
  if (a.as_of > c.size) {
    fail(kAnswerCheckCheckpoint,
         StrCat("the answer is as of size ", a.as_of,
                " but its checkpoint covers only ", c.size, " entries"));
    return;
  }
  pass(kAnswerCheckCheckpoint,
       StrCat("origin ", c.origin, ", size ", c.size, ", root ",
              crypto::HexEncode(c.root), ", signed by ", signed_by));
  out.checkpoint = *cp;

  // Inclusion of every entry.
  std::vector<uint64_t> indexes;
  std::vector<crypto::Hash> leaves;
  indexes.reserve(a.entries.size());
  leaves.reserve(a.entries.size());
  for (const AnswerEntry& e : a.entries) {
    indexes.push_back(e.index);
    leaves.push_back(crypto::HashLeaf(e.bytes));
  }
  absl::StatusOr<crypto::Hash> root =
      RootFromMultiInclusionProof(indexes, leaves, c.size, a.proof);
  if (!root.ok()) {
    fail(kAnswerCheckInclusion, std::string(ToStd(root.status().ToString())));
    return;
  }
  if (*root != c.root) {
    fail(kAnswerCheckInclusion,
         StrCat("the entries and the ", a.proof.size(),
                " proof hashes lead to root ", crypto::HexEncode(*root),
                ", but the checkpoint's root is ", crypto::HexEncode(c.root),
                ": an entry or a proof hash was changed"));
    return;
  }
  pass(kAnswerCheckInclusion,
       StrCat(a.entries.size(), " entries with ", a.proof.size(),
              " proof hashes lead to the checkpoint's root"));

  // Each entry: its index, as-of, event and tenant.
  std::vector<Entry> entries;
  std::vector<std::string> types;
  entries.reserve(a.entries.size());
  for (const AnswerEntry& ae : a.entries) {
    absl::StatusOr<Entry> e = DecodeEntry(ae.bytes);
    if (!e.ok()) {
      fail(kAnswerCheckEntries,
           StrCat("entry ", ae.index, ": ", ToStd(e.status().message())));
      return;
    }
    if (e->index != ae.index) {
      fail(kAnswerCheckEntries, StrCat("the entry listed as index ", ae.index,
                                       " says it is index ", e->index));
      return;
    }
    if (ae.index >= a.as_of) {
      fail(kAnswerCheckEntries,
           StrCat("entry ", ae.index, " is not below the answer's as-of size ",
                  a.as_of));
      return;
    }
    absl::StatusOr<Event> ev = DecodeEvent(e->event_bytes);
    if (!ev.ok()) {
      fail(kAnswerCheckEntries, StrCat("entry ", ae.index, ": event: ",
                                       ToStd(ev.status().message())));
      return;
    }
    if (ev->tenant != a.tenant) {
      fail(kAnswerCheckEntries,
           StrCat("entry ", ae.index, " is of tenant ",
                  QuoteForMessage(ev->tenant), ", not of the answer's tenant ",
                  QuoteForMessage(a.tenant)));
      return;
    }
    types.push_back(ev->type);
    entries.push_back(*std::move(e));
  }
  pass(kAnswerCheckEntries,
       StrCat(entries.size(),
              " entries decode, name their indexes, lie below "
              "size ",
              a.as_of, " and are of tenant ", QuoteForMessage(a.tenant)));

  size_t rows = 0;
  for (const AnswerEntry& e : a.entries) rows += e.row ? 1 : 0;
  const std::string origin_text = StrCat(" (origin ", c.origin, ")");
  const std::string included =
      IsFilteredQuery(a.kind)
          ? StrCat("entries: ", rows, " rows and ", a.entries.size() - rows,
                   " further entries of the subject's chain, all included in "
                   "checkpoint of size ",
                   c.size, origin_text)
          : StrCat("entries: ", a.entries.size(),
                   " entries, all included in checkpoint of size ", c.size,
                   origin_text);

  if (!IsSubjectQuery(a.kind)) {
    out.proven.push_back(included);
    out.not_proven.push_back(
        StrCat("completeness: a ", AnswerKindName(a.kind),
               " answer carries no back-link chain, so that no matching "
               "entry below size ",
               a.as_of, " was left out is not proven"));
    out.not_proven.push_back(
        "selection: that each entry matches the query's parameters is not "
        "checked");
    return;
  }

  // The subject: a back-link in every entry, and the chain.
  const AnswerSubject& subject = *a.subject;
  std::vector<uint64_t> previous;
  for (size_t k = 0; k < entries.size(); ++k) {
    const BackLink* link = FindBackLink(entries[k], subject);
    if (link == nullptr) {
      fail(kAnswerCheckSubject,
           StrCat("entry ", a.entries[k].index, " has no back-link for ",
                  SubjectName(a), ": it is not about the subject"));
      return;
    }
    previous.push_back(link->previous);
  }
  pass(kAnswerCheckSubject,
       StrCat("every entry has a back-link for ", SubjectName(a)));

  for (size_t k = 1; k < entries.size(); ++k) {
    const uint64_t want = a.entries[k - 1].index;
    if (previous[k] != want) {
      fail(kAnswerCheckChain,
           StrCat("entry ", a.entries[k].index, "'s back-link for ",
                  SubjectName(a), " points at ", PreviousName(previous[k]),
                  ", but the entry listed before it is ", want,
                  ": entries about the subject between ", want, " and ",
                  a.entries[k].index, " are missing from the answer"));
      return;
    }
  }
  if (!entries.empty()) {
    pass(kAnswerCheckChain,
         StrCat("each entry's back-link points at the entry listed before it "
                "(",
                entries.size(), " entries from ", a.entries.front().index,
                " to ", a.entries.back().index, ")"));
  } else {
    pass(kAnswerCheckChain, "no entries: nothing to chain");
  }

  if (IsFilteredQuery(a.kind)) {
    for (size_t k = 0; k < entries.size(); ++k) {
      const bool want = IsLabelHistoryType(types[k]);
      if (a.entries[k].row != want) {
        fail(kAnswerCheckRows,
             StrCat("entry ", a.entries[k].index, " of type ", types[k],
                    " is marked '", a.entries[k].row ? kRowMark : kLinkMark,
                    "' but label_history ",
                    want ? "returns" : "does not return", " that type"));
        return;
      }
    }
    pass(kAnswerCheckRows,
         StrCat(rows,
                " rows are exactly the chain's entries of the label "
                "families"));
  }

  out.proven.push_back(included);
  if (entries.empty()) {
    out.not_proven.push_back(StrCat(
        "completeness: the answer has no entries; that ", SubjectName(a),
        " has none below size ", a.as_of, " is not provable with back-links"));
    return;
  }
  const uint64_t first = a.entries.front().index;
  const uint64_t last = a.entries.back().index;
  out.proven.push_back(StrCat("about: every entry is about ", SubjectName(a)));
  out.proven.push_back(StrCat("complete between index ", first, " and ", last,
                              ": no entry about ", SubjectName(a),
                              " between them was left out"));
  if (IsFilteredQuery(a.kind)) {
    out.proven.push_back(
        StrCat("filter: the ", rows,
               " rows are exactly the entries of that chain whose type is of "
               "the label families"));
  }
  if (previous.front() == kNoPrevious) {
    out.proven.push_back(
        StrCat("complete from the subject's first entry: entry ", first,
               " is the first entry about the subject"));
  } else {
    out.not_proven.push_back(
        StrCat("entries before index ", first,
               " not covered (the first returned entry's back-link points at "
               "entry ",
               previous.front(), ")"));
  }
  if (last + 1 < a.as_of) {
    out.not_proven.push_back(
        StrCat("entries after index ", last, " up to size ", a.as_of,
               " not covered (completeness after the last returned entry is "
               "not provable with back-links)"));
  }
}

}  // namespace

AnswerVerification VerifyAnswer(
    const Answer& answer, absl::Span<const crypto::NoteVerifier> verifiers,
    std::string_view origin) {
  AnswerVerification out;
  Verify(answer, verifiers, origin, out);
  if (out.failure() != nullptr) {
    out.proven.clear();
    out.not_proven.clear();
  }
  return out;
}

AnswerVerification VerifyAnswerText(
    std::string_view text, absl::Span<const crypto::NoteVerifier> verifiers,
    std::string_view origin) {
  absl::StatusOr<Answer> answer = ParseAnswer(text);
  if (!answer.ok()) {
    AnswerVerification out;
    out.checks.push_back({std::string(kAnswerCheckParse), false,
                          std::string(ToStd(answer.status().message()))});
    return out;
  }
  AnswerVerification out = VerifyAnswer(*answer, verifiers, origin);
  out.checks.insert(out.checks.begin(),
                    AnswerCheck{std::string(kAnswerCheckParse), true,
                                StrCat(kAnswerHeader, ", query ",
                                       AnswerKindName(answer->kind))});
  return out;
}

}  // namespace ledger
