// The list queries of provenance.h (history, label_history, who_touched,
// actor_activity, cross_border), their page tokens, and what the graph
// queries (provenance_lineage.cc) share with them.

#include "ledger/provenance.h"

#include <algorithm>
#include <map>
#include <type_traits>
#include <utility>

#include "base/status_macros.h"
#include "base/strings.h"
#include "crypto/bytes.h"
#include "crypto/sha256.h"
#include "ledger/ledger.h"
#include "ledger/lineage_rules.h"
#include "ledger/provenance_internal.h"
#include "ledger/schema.h"

namespace ledger {

namespace provenance_internal {

absl::StatusOr<uint64_t> ResolveAsOf(const Ledger& ledger,
                                     std::optional<uint64_t> as_of) {
  const uint64_t size = ledger.head().size;
  if (!as_of.has_value()) return size;
  if (*as_of > size) {
    return absl::InvalidArgumentError(
        StrCat("as_of: ", *as_of, " is beyond the ledger's size ", size,
               "; ask for a size of at most ", size, " (or none: the head)"));
  }
  return *as_of;
}

namespace {

// Entries read per index scan.
constexpr size_t kChunk = 256;

// `entry`'s event bytes, after checking that it holds `index` and an event
// of `tenant`.
absl::StatusOr<std::string_view> CheckedEventBytes(std::string_view tenant,
                                                   uint64_t index,
                                                   const EntryHead& entry) {
  if (entry.index != index) {
    return absl::DataLossError(
        StrCat("entry ", index, " holds the index ", entry.index));
  }
  absl::StatusOr<std::string_view> of = DecodeEventTenant(entry.event_bytes);
  if (!of.ok()) {
    return absl::DataLossError(
        StrCat("entry ", index, " event: ", ToStd(of.status().message())));
  }
  if (*of != tenant) {
    // Only a damaged index leads to another tenant's entry: every key
    // starts with the tenant.
    return absl::DataLossError(
        StrCat("entry ", index, " is of tenant ", QuoteForMessage(*of),
               ", not ", QuoteForMessage(tenant),
               ", though an index of that tenant named it; run a full "
               "check (indexes are rebuilt with rebuild_indexes)"));
  }
  return entry.event_bytes;
}

// ReadStored (Row = StoredEntry) or ReadRows (Row = EntryRow).
template <typename Row>
absl::StatusOr<std::vector<Row>> ReadEntries(
    const Ledger& ledger, std::string_view tenant,
    absl::Span<const uint64_t> indexes) {
  LEDGER_ASSIGN_OR_RETURN(std::vector<std::string> bytes,
                          ledger.GetEntriesAt(indexes));
  if (bytes.size() != indexes.size()) {
    return absl::InternalError(
        StrCat("asked for ", indexes.size(), " entries, read ", bytes.size()));
  }
  std::vector<Row> rows(indexes.size());
  for (size_t i = 0; i < indexes.size(); ++i) {
    Row& row = rows[i];
    row.index = indexes[i];
    absl::StatusOr<EntryHead> head = DecodeEntryHead(bytes[i]);
    if (!head.ok()) {
      return absl::DataLossError(
          StrCat("entry ", row.index, ": ", ToStd(head.status().message())));
    }
    LEDGER_ASSIGN_OR_RETURN(std::string_view event_bytes,
                            CheckedEventBytes(tenant, row.index, *head));
    if constexpr (std::is_same_v<Row, EntryRow>) {
      absl::StatusOr<Event> event =
          DecodeEvent(event_bytes, UnboundedEventLimits());
      if (!event.ok()) {
        return absl::DataLossError(StrCat(
            "entry ", row.index, " event: ", ToStd(event.status().message())));
      }
      row.event = *std::move(event);
    }
    row.received_at_ns = head->received_at_ns;
    row.bytes = std::move(bytes[i]);
  }
  return rows;
}

}  // namespace

absl::StatusOr<std::vector<StoredEntry>> ReadStored(
    const Ledger& ledger, std::string_view tenant,
    absl::Span<const uint64_t> indexes) {
  return ReadEntries<StoredEntry>(ledger, tenant, indexes);
}

absl::StatusOr<std::vector<EntryRow>> ReadRows(
    const Ledger& ledger, std::string_view tenant,
    absl::Span<const uint64_t> indexes) {
  return ReadEntries<EntryRow>(ledger, tenant, indexes);
}

absl::Status ForEachEntry(
    const Ledger& ledger, Ledger::IndexScanner& scanner,
    std::string_view tenant, IndexFamily family, std::string_view prefix,
    uint64_t from, uint64_t below, bool reverse, size_t* budget,
    absl::FunctionRef<absl::Status()> exhausted,
    absl::FunctionRef<absl::StatusOr<bool>(EntryRow&)> visit) {
  while (from < below) {
    // One more than the budget allows tells a spent budget from the end.
    const size_t want = std::min(kChunk, *budget + 1);
    LEDGER_ASSIGN_OR_RETURN(
        std::vector<uint64_t> indexes,
        scanner.Scan(family, prefix, from, below, want, reverse));
    if (indexes.empty()) return absl::OkStatus();
    if (indexes.size() > *budget) return exhausted();
    *budget -= indexes.size();
    LEDGER_ASSIGN_OR_RETURN(std::vector<EntryRow> rows,
                            ReadRows(ledger, tenant, indexes));
    for (EntryRow& row : rows) {
      LEDGER_ASSIGN_OR_RETURN(bool more, visit(row));
      if (!more) return absl::OkStatus();
    }
    if (indexes.size() < want) return absl::OkStatus();
    if (reverse) {
      below = indexes.back();
    } else {
      from = indexes.back() + 1;
    }
  }
  return absl::OkStatus();
}

absl::Status CheckKeyPart(std::string_view field, std::string_view value,
                          bool required) {
  if (required && value.empty()) {
    return absl::InvalidArgumentError(StrCat(field, ": must not be empty"));
  }
  if (value.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        StrCat(field, ": ", QuoteForMessage(value),
               " holds a NUL byte, which no stored id or tenant holds"));
  }
  return absl::OkStatus();
}

std::string NodeText(const LineageNode& node) {
  std::string text = StrCat(LinkKindName(static_cast<LinkKind>(node.kind)), " ",
                            QuoteForMessage(node.id));
  if (!node.version.empty()) {
    text += StrCat(" version ", QuoteForMessage(node.version));
  }
  return text;
}

// ---- page tokens ----

static std::string_view QueryKindName(uint8_t kind) {
  switch (kind) {
    case kHistoryQuery:
      return "history";
    case kLabelHistoryQuery:
      return "label_history";
    case kWhoTouchedQuery:
      return "who_touched";
    case kActorActivityQuery:
      return "actor_activity";
    case kCrossBorderQuery:
      return "cross_border";
    case kRiskFindingsQuery:
      return "risk_findings";
  }
  return "unknown";
}

ParamHash& ParamHash::Add(std::string_view s) {
  text_ += Be64(s.size());
  text_.append(s);
  return *this;
}

ParamHash& ParamHash::Add(uint64_t v) {
  text_ += Be64(v);
  return *this;
}

std::string ParamHash::Finish() const {
  const Hash h = crypto::Sha256Digest(
      StrCat("annotation-ledger provenance page token\n", text_));
  return std::string(crypto::AsView(h).substr(0, 8));
}

// version || query kind || BE64(as_of) || BE64(next) || 8 bytes of hash.
constexpr uint8_t kTokenVersion = 1;
constexpr size_t kTokenBytes = 1 + 1 + 8 + 8 + 8;

static std::string Base64Url(std::string_view bytes) {
  std::string text = crypto::Base64Encode(bytes);
  while (!text.empty() && text.back() == '=') text.pop_back();
  for (char& c : text) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return text;
}

static std::optional<std::string> FromBase64Url(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string standard(text);
  for (char& c : standard) {
    if (c == '+' || c == '/' || c == '=') return std::nullopt;
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (standard.size() % 4 != 0) standard.push_back('=');
  absl::StatusOr<std::string> bytes = crypto::Base64Decode(standard);
  if (!bytes.ok()) return std::nullopt;
  return *std::move(bytes);
}

std::string EncodeToken(uint8_t kind, uint64_t as_of, uint64_t next,
                        std::string_view hash) {
  std::string bytes;
  bytes.push_back(static_cast<char>(kTokenVersion));
  bytes.push_back(static_cast<char>(kind));
  bytes += Be64(as_of);
  bytes += Be64(next);
  bytes.append(hash);
  return Base64Url(bytes);
}

absl::StatusOr<PageStart> StartPage(const Ledger& ledger, uint8_t kind,
                                    std::string_view hash,
                                    const PageRequest& page) {
  PageStart start;
  start.page_size = page.page_size == 0 ? kDefaultPageSize : page.page_size;
  if (start.page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(StrCat(
        "page_size: ", page.page_size, " is above the maximum ", kMaxPageSize));
  }
  if (page.page_token.empty()) {
    LEDGER_ASSIGN_OR_RETURN(start.as_of, ResolveAsOf(ledger, page.as_of));
    return start;
  }
  const std::optional<std::string> bytes = FromBase64Url(page.page_token);
  if (!bytes.has_value() || bytes->size() != kTokenBytes) {
    return absl::InvalidArgumentError(
        StrCat("page_token: ", QuoteForMessage(page.page_token),
               " is not a page token (send the next_page_token of the "
               "previous page unchanged, or none for the first page)"));
  }
  const auto version = static_cast<uint8_t>((*bytes)[0]);
  const auto token_kind = static_cast<uint8_t>((*bytes)[1]);
  if (version != kTokenVersion) {
    return absl::InvalidArgumentError(StrCat("page_token: version ", version,
                                             " is unknown (this node "
                                             "writes version ",
                                             kTokenVersion,
                                             "); start again without a "
                                             "token"));
  }
  if (token_kind != kind) {
    return absl::InvalidArgumentError(
        StrCat("page_token: belongs to a ", QueryKindName(token_kind),
               " query, not to ", QueryKindName(kind)));
  }
  if (std::string_view(*bytes).substr(18, 8) != hash) {
    return absl::InvalidArgumentError(StrCat(
        "page_token: belongs to a ", QueryKindName(kind),
        " query with other parameters (tenant, subject, filters, window or "
        "year); send the parameters of the first page"));
  }
  start.as_of = ReadBe64(std::string_view(*bytes).substr(2, 8));
  start.from = ReadBe64(std::string_view(*bytes).substr(10, 8));
  const uint64_t size = ledger.head().size;
  if (start.as_of > size || start.from > start.as_of) {
    return absl::InvalidArgumentError(StrCat(
        "page_token: names as_of ", start.as_of, " and position ", start.from,
        ", beyond the ledger's size ", size, " (a token of another ledger?)"));
  }
  if (page.as_of.has_value() && *page.as_of != start.as_of) {
    return absl::InvalidArgumentError(StrCat(
        "as_of: ", *page.as_of, " differs from the page token's ", start.as_of,
        "; send the same as_of as for the first page, "
        "or none"));
  }
  return start;
}

}  // namespace provenance_internal

namespace {

using provenance_internal::CheckKeyPart;
using provenance_internal::EncodeToken;
using provenance_internal::kActorActivityQuery;
using provenance_internal::kCrossBorderQuery;
using provenance_internal::kHistoryQuery;
using provenance_internal::kLabelHistoryQuery;
using provenance_internal::kWhoTouchedQuery;
using provenance_internal::PageStart;
using provenance_internal::ParamHash;
using provenance_internal::ReadRows;
using provenance_internal::ReadStored;
using provenance_internal::ResolveAsOf;
using provenance_internal::StartPage;

// The indexes of one page of `prefix` in [max(start.from, lo), hi), and
// the token of the next page (empty if none).
absl::StatusOr<std::vector<uint64_t>> PageOfIndexes(
    const Ledger& ledger, IndexFamily family, std::string_view prefix,
    const PageStart& start, uint64_t lo, uint64_t hi, uint8_t kind,
    std::string_view hash, std::string* next_token) {
  const uint64_t from = std::max(start.from, lo);
  std::vector<uint64_t> indexes;
  if (from < hi) {
    LEDGER_ASSIGN_OR_RETURN(
        indexes, ledger.ScanIndex(family, prefix, from, hi, start.page_size + 1,
                                  /*reverse=*/false));
  }
  next_token->clear();
  if (indexes.size() > start.page_size) {
    *next_token =
        EncodeToken(kind, start.as_of, indexes[start.page_size], hash);
    indexes.resize(start.page_size);
  }
  return indexes;
}

std::vector<ActorSummary> SummarizeActors(const std::vector<EntryRow>& rows) {
  std::map<std::string, ActorSummary> by_id;
  for (const EntryRow& row : rows) {
    auto [it, added] = by_id.try_emplace(row.event.actor.id);
    if (added) it->second.actor = row.event.actor;
    ++it->second.count;
    it->second.actions.push_back(row.event.type);
  }
  std::vector<ActorSummary> out;
  out.reserve(by_id.size());
  for (auto& [id, summary] : by_id) {
    std::sort(summary.actions.begin(), summary.actions.end());
    summary.actions.erase(
        std::unique(summary.actions.begin(), summary.actions.end()),
        summary.actions.end());
    out.push_back(std::move(summary));
  }
  return out;
}

// Days from 1970-01-01 to January 1 of `year` (proleptic Gregorian).
int64_t DaysBeforeYear(int64_t year) {
  auto leap_years_through = [](int64_t y) { return y / 4 - y / 100 + y / 400; };
  return 365 * (year - 1970) + leap_years_through(year - 1) -
         leap_years_through(1969);
}

constexpr int64_t kNsPerDay = int64_t{86'400} * 1'000'000'000;
constexpr int kFirstYear = 1970;
constexpr int kLastYear = 2261;  // its end, 2262-01-01, fits in int64 ns

}  // namespace

std::string_view ReviewOutcomeName(ReviewOutcome outcome) {
  switch (outcome) {
    case ReviewOutcome::kNone:
      return "";
    case ReviewOutcome::kAccepted:
      return "accepted";
    case ReviewOutcome::kRejected:
      return "rejected";
    case ReviewOutcome::kReopened:
      return "reopened";
  }
  return "";
}

bool IsRunEndState(std::string_view state) {
  return state == "completed" || state == "failed" || state == "aborted";
}

bool EndsRun(const Event& event) {
  const std::string* state = FindAttribute(event, kRunStateAttribute);
  if (state != nullptr) return IsRunEndState(*state);
  return RequiresLineage(event.type);
}

bool RegistersSource(const Event& event) {
  if (event.type != "dataset.registered") return false;
  const std::string* source = FindAttribute(event, "source");
  return source != nullptr && !source->empty();
}

absl::StatusOr<HistoryAnswer> Provenance::History(
    std::string_view tenant, LinkKind kind, std::string_view id,
    const PageRequest& page) const {
  LEDGER_RETURN_IF_ERROR(CheckKeyPart("tenant", tenant, true));
  LEDGER_RETURN_IF_ERROR(CheckKeyPart("id", id, true));
  const std::string hash = ParamHash(kHistoryQuery)
                               .Add(tenant)
                               .Add(static_cast<uint64_t>(kind))
                               .Add(id)
                               .Finish();
  LEDGER_ASSIGN_OR_RETURN(PageStart start,
                          StartPage(ledger_, kHistoryQuery, hash, page));
  HistoryAnswer answer;
  answer.as_of = start.as_of;
  LEDGER_ASSIGN_OR_RETURN(
      std::vector<uint64_t> indexes,
      PageOfIndexes(ledger_, IndexFamily::kBySubject,
                    SubjectIndexPrefix(kind, tenant, id), start, 0, start.as_of,
                    kHistoryQuery, hash, &answer.next_page_token));
  LEDGER_ASSIGN_OR_RETURN(answer.entries, ReadStored(ledger_, tenant, indexes));
  return answer;
}

absl::StatusOr<TouchAnswer> Provenance::Touched(
    uint8_t query_kind, std::string_view tenant, LinkKind kind,
    std::string_view id, TimeWindow window, const PageRequest& page) const {
  LEDGER_RETURN_IF_ERROR(CheckKeyPart("tenant", tenant, true));
  LEDGER_RETURN_IF_ERROR(CheckKeyPart("id", id, true));
  if (window.t0_ns > window.t1_ns) {
    return absl::InvalidArgumentError(StrCat("window: t0 ", window.t0_ns,
                                             " ns is after t1 ", window.t1_ns,
                                             " ns; the window is [t0, t1)"));
  }
  const std::string hash = ParamHash(query_kind)
                               .Add(tenant)
                               .Add(static_cast<uint64_t>(kind))
                               .Add(id)
                               .Add(static_cast<uint64_t>(window.t0_ns))
                               .Add(static_cast<uint64_t>(window.t1_ns))
                               .Finish();
  LEDGER_ASSIGN_OR_RETURN(PageStart start,
                          StartPage(ledger_, query_kind, hash, page));
  TouchAnswer answer;
  answer.as_of = start.as_of;
  LEDGER_ASSIGN_OR_RETURN(answer.first_index, ledger_.FirstIndexAtOrAfter(
                                                  window.t0_ns, start.as_of));
  LEDGER_ASSIGN_OR_RETURN(
      answer.end_index, ledger_.FirstIndexAtOrAfter(window.t1_ns, start.as_of));
  LEDGER_ASSIGN_OR_RETURN(
      std::vector<uint64_t> indexes,
      PageOfIndexes(ledger_, IndexFamily::kBySubject,
                    SubjectIndexPrefix(kind, tenant, id), start,
                    answer.first_index, answer.end_index, query_kind, hash,
                    &answer.next_page_token));
  LEDGER_ASSIGN_OR_RETURN(answer.entries, ReadRows(ledger_, tenant, indexes));
  answer.actors = SummarizeActors(answer.entries);
  return answer;
}

absl::StatusOr<TouchAnswer> Provenance::WhoTouched(
    std::string_view tenant, LinkKind kind, std::string_view id,
    TimeWindow window, const PageRequest& page) const {
  return Touched(kWhoTouchedQuery, tenant, kind, id, window, page);
}

absl::StatusOr<TouchAnswer> Provenance::ActorActivity(
    std::string_view tenant, std::string_view actor_id, TimeWindow window,
    const PageRequest& page) const {
  return Touched(kActorActivityQuery, tenant, LinkKind::kActor, actor_id,
                 window, page);
}

absl::StatusOr<LabelHistoryAnswer> Provenance::LabelHistory(
    std::string_view tenant, std::string_view item_id,
    const PageRequest& page) const {
  LEDGER_RETURN_IF_ERROR(CheckKeyPart("tenant", tenant, true));
  LEDGER_RETURN_IF_ERROR(CheckKeyPart("item_id", item_id, true));
  const std::string hash =
      ParamHash(kLabelHistoryQuery).Add(tenant).Add(item_id).Finish();
  LEDGER_ASSIGN_OR_RETURN(PageStart start,
                          StartPage(ledger_, kLabelHistoryQuery, hash, page));
  LabelHistoryAnswer answer;
  answer.as_of = start.as_of;
  const std::string prefix =
      SubjectIndexPrefix(LinkKind::kItem, tenant, item_id);
  // Reads the item's entries from start.from on, keeping the label rows,
  // until the page is full or kMaxScannedPerPage entries were read.
  size_t budget = kMaxScannedPerPage;
  uint64_t next = start.from;
  bool spent = false;
  Ledger::IndexScanner scanner(ledger_);
  LEDGER_RETURN_IF_ERROR(provenance_internal::ForEachEntry(
      ledger_, scanner, tenant, IndexFamily::kBySubject, prefix, start.from,
      start.as_of,
      /*reverse=*/false, &budget,
      [&] {
        spent = true;
        return absl::OkStatus();
      },
      [&](EntryRow& row) -> absl::StatusOr<bool> {
        next = row.index + 1;
        if (!IsLabelHistoryType(row.event.type)) return true;
        LabelRow out;
        out.index = row.index;
        out.received_at_ns = row.received_at_ns;
        out.occurred_at_ns = row.event.occurred_at_ns;
        out.type = row.event.type;
        out.actor = row.event.actor;
        for (const SubjectRef& s : row.event.subjects) {
          if (s.kind == SubjectKind::kAnnotation) {
            out.annotation_ids.push_back(s.id);
          }
        }
        if (out.type == "review.accepted")
          out.review = ReviewOutcome::kAccepted;
        if (out.type == "review.rejected")
          out.review = ReviewOutcome::kRejected;
        if (out.type == "review.reopened")
          out.review = ReviewOutcome::kReopened;
        if (out.type == "prelabel.applied") {
          const std::string* model = FindAttribute(row.event, "model");
          if (row.event.actor.kind == ActorKind::kModel) {
            out.prelabel_model = row.event.actor.id;
          } else if (model != nullptr) {
            out.prelabel_model = *model;
          }
        }
        if (const std::string* label = FindAttribute(row.event, "label")) {
          out.label = *label;
        }
        answer.rows.push_back(std::move(out));
        if (answer.rows.size() < start.page_size) return true;
        spent = true;  // the page is full: maybe more after it
        return false;
      }));
  if (spent && next < start.as_of) {
    LEDGER_ASSIGN_OR_RETURN(
        std::vector<uint64_t> rest,
        scanner.Scan(IndexFamily::kBySubject, prefix, next, start.as_of, 1,
                     /*reverse=*/false));
    if (!rest.empty()) {
      answer.next_page_token =
          EncodeToken(kLabelHistoryQuery, start.as_of, rest[0], hash);
    }
  }
  return answer;
}

absl::StatusOr<CrossBorderAnswer> Provenance::CrossBorder(
    std::string_view tenant, int year, const PageRequest& page) const {
  LEDGER_RETURN_IF_ERROR(CheckKeyPart("tenant", tenant, true));
  if (year < kFirstYear || year > kLastYear) {
    return absl::InvalidArgumentError(StrCat("year: ", year, " is outside [",
                                             kFirstYear, ", ", kLastYear, "]"));
  }
  const std::string hash = ParamHash(kCrossBorderQuery)
                               .Add(tenant)
                               .Add(static_cast<uint64_t>(year))
                               .Finish();
  LEDGER_ASSIGN_OR_RETURN(PageStart start,
                          StartPage(ledger_, kCrossBorderQuery, hash, page));
  CrossBorderAnswer answer;
  answer.as_of = start.as_of;
  LEDGER_ASSIGN_OR_RETURN(
      uint64_t lo, ledger_.FirstIndexAtOrAfter(DaysBeforeYear(year) * kNsPerDay,
                                               start.as_of));
  LEDGER_ASSIGN_OR_RETURN(
      uint64_t hi, ledger_.FirstIndexAtOrAfter(
                       DaysBeforeYear(year + 1) * kNsPerDay, start.as_of));
  LEDGER_ASSIGN_OR_RETURN(
      std::vector<uint64_t> indexes,
      PageOfIndexes(ledger_, IndexFamily::kByType,
                    TypeIndexPrefix(tenant, "data.transferred_cross_border"),
                    start, lo, hi, kCrossBorderQuery, hash,
                    &answer.next_page_token));
  LEDGER_ASSIGN_OR_RETURN(std::vector<EntryRow> rows,
                          ReadRows(ledger_, tenant, indexes));
  for (EntryRow& row : rows) {
    TransferRow t;
    t.index = row.index;
    t.received_at_ns = row.received_at_ns;
    t.occurred_at_ns = row.event.occurred_at_ns;
    t.actor = std::move(row.event.actor);
    t.sent = std::move(row.event.inputs);
    t.outputs = std::move(row.event.outputs);
    t.region = std::move(row.event.region);
    t.purpose = std::move(row.event.purpose);
    t.attributes = std::move(row.event.attributes);
    answer.transfers.push_back(std::move(t));
  }
  return answer;
}

}  // namespace ledger
