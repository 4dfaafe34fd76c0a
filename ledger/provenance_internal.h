#pragma once

// What provenance.cc and provenance_lineage.cc share. Internal to ledger/.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "ledger/ledger.h"
#include "ledger/provenance.h"

namespace ledger::provenance_internal {

// The as_of a query runs at: `as_of`, or head().size if unset;
// InvalidArgument naming both numbers if it is beyond the head.
absl::StatusOr<uint64_t> ResolveAsOf(const Ledger& ledger,
                                     std::optional<uint64_t> as_of);

// Reads the entries at `indexes` (ascending or not) and checks each: it
// must hold its index and an event of `tenant` (DataLoss otherwise: the
// index that led here is damaged). Decodes only the fields it checks.
absl::StatusOr<std::vector<StoredEntry>> ReadStored(
    const Ledger& ledger, std::string_view tenant,
    absl::Span<const uint64_t> indexes);

// ReadStored, and each entry's event decoded.
absl::StatusOr<std::vector<EntryRow>> ReadRows(
    const Ledger& ledger, std::string_view tenant,
    absl::Span<const uint64_t> indexes);

// Calls `visit` for each entry of `prefix` in `family` with an index in
// [from, below), ascending (descending with `reverse`), reading them in
// chunks, until `visit` returns false or an error. Each entry read takes one
// from `*budget`; when the budget is spent and entries remain, returns
// `exhausted()` (a ResourceExhausted naming the bound). Scans through
// `scanner`, which a query keeps for all its scans.
absl::Status ForEachEntry(
    const Ledger& ledger, Ledger::IndexScanner& scanner,
    std::string_view tenant, IndexFamily family, std::string_view prefix,
    uint64_t from, uint64_t below, bool reverse, size_t* budget,
    absl::FunctionRef<absl::Status()> exhausted,
    absl::FunctionRef<absl::StatusOr<bool>(EntryRow&)> visit);

// InvalidArgument "<field>: ..." if `value` is empty (when `required`) or
// holds a 0x00 byte (which no stored id holds: it separates key parts).
absl::Status CheckKeyPart(std::string_view field, std::string_view value,
                          bool required);

// A subject's kind and id (and version) for messages: "dataset 'd'".
std::string NodeText(const LineageNode& node);

// ---- page tokens (provenance.cc; the risk queries use them too) ----

// The query a token belongs to (its second byte).
enum QueryKind : uint8_t {
  kHistoryQuery = 1,
  kLabelHistoryQuery = 2,
  kWhoTouchedQuery = 3,
  kActorActivityQuery = 4,
  kCrossBorderQuery = 5,
  kRiskFindingsQuery = 6,
};

// The parameters of a query, hashed into its tokens: a token answers only
// the query it came from.
class ParamHash {
 public:
  explicit ParamHash(uint8_t kind) { text_.push_back(static_cast<char>(kind)); }
  ParamHash& Add(std::string_view s);
  ParamHash& Add(uint64_t v);
  // 8 bytes of a hash of the kind and the parameters.
  std::string Finish() const;

 private:
  std::string text_;
};

// Where a page starts.
struct PageStart {
  uint64_t as_of = 0;
  uint64_t from = 0;  // the first index the page may return
  size_t page_size = 0;
};

// A page token: base64url of version || query kind || BE64(as_of) ||
// BE64(next) || `hash` (ParamHash::Finish).
std::string EncodeToken(uint8_t kind, uint64_t as_of, uint64_t next,
                        std::string_view hash);

// Where the page of a `kind` query with parameter hash `hash` starts: the
// first page at page.as_of (ResolveAsOf), a later one where its token
// says. InvalidArgument naming page_size, page_token or as_of.
absl::StatusOr<PageStart> StartPage(const Ledger& ledger, uint8_t kind,
                                    std::string_view hash,
                                    const PageRequest& page);

}  // namespace ledger::provenance_internal
