#include "ledger/lineage_rules.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "ledger/entry.h"

namespace ledger {
namespace {

// Sorted (a test checks) for binary search.
constexpr std::array<std::string_view, 8> kLineageTypes = {
    "data.aggregated",
    "data.cleaned",
    "data.deidentified",
    "data.filtered",
    "data.transferred_cross_border",
    "dataset.exported",
    "dataset.version_created",
    "prelabel.applied",
};

// A subject's kind as the API spells it; SubjectKind and LinkKind share
// their values (entry.cc's back-links convert the same way).
std::string_view KindName(SubjectKind kind) {
  return LinkKindName(static_cast<LinkKind>(kind));
}

// What makes two refs the same node of the lineage graph.
auto Identity(const SubjectRef& r) { return std::tie(r.kind, r.id, r.version); }

// Up to this many input x output pairs are compared directly: one or a few
// refs each is the common case, and needs no allocation.
constexpr size_t kDirectPairs = 256;

// The first (output, input) position pair with equal identities, in output
// order; {-1, -1} if none.
std::pair<int64_t, int64_t> FindSelfLoop(const Event& e) {
  const std::vector<SubjectRef>& in = e.inputs;
  const std::vector<SubjectRef>& out = e.outputs;
  if (in.size() * out.size() <= kDirectPairs) {
    for (size_t o = 0; o < out.size(); ++o) {
      for (size_t i = 0; i < in.size(); ++i) {
        if (Identity(out[o]) == Identity(in[i])) {
          return {static_cast<int64_t>(o), static_cast<int64_t>(i)};
        }
      }
    }
    return {-1, -1};
  }
  // Input positions sorted by identity (stable: the first equal input is
  // the one reported), then one binary search per output.
  std::vector<size_t> order(in.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto less = [&](size_t a, size_t b) {
    return Identity(in[a]) < Identity(in[b]);
  };
  std::stable_sort(order.begin(), order.end(), less);
  for (size_t o = 0; o < out.size(); ++o) {
    auto it = std::lower_bound(order.begin(), order.end(), o,
                               [&](size_t i, size_t output) {
                                 return Identity(in[i]) < Identity(out[output]);
                               });
    if (it != order.end() && Identity(in[*it]) == Identity(out[o])) {
      return {static_cast<int64_t>(o), static_cast<int64_t>(*it)};
    }
  }
  return {-1, -1};
}

}  // namespace

absl::Span<const std::string_view> LineageTypes() { return kLineageTypes; }

bool RequiresLineage(std::string_view type) {
  return std::binary_search(kLineageTypes.begin(), kLineageTypes.end(), type);
}

absl::Status CheckLineage(const Event& event) {
  if (RequiresLineage(event.type)) {
    if (event.inputs.empty()) {
      return absl::InvalidArgumentError(StrCat(
          "inputs: ", event.type,
          " must name at least one input (what the action read): add the "
          "dataset, item or annotation versions it read to inputs"));
    }
    if (event.outputs.empty() &&
        event.outcome.status != OutcomeStatus::kFailure) {
      return absl::InvalidArgumentError(StrCat(
          "outputs: ", event.type,
          " with outcome success must name at least one output (what the "
          "action produced): add the versions it wrote to outputs, or record "
          "a run that produced nothing with outcome failure"));
    }
  }
  if (auto [o, i] = FindSelfLoop(event); o >= 0) {
    const SubjectRef& r = event.outputs[static_cast<size_t>(o)];
    return absl::InvalidArgumentError(StrCat(
        "outputs[", o, "]: ", KindName(r.kind), " ", QuoteForMessage(r.id),
        " version ", QuoteForMessage(r.version), " is also inputs[", i,
        "]: an action cannot produce the version it read (a lineage edge "
        "from a version to itself); give what it produced a new version"));
  }
  return absl::OkStatus();
}

absl::Status CheckBatchLineage(absl::Span<const Event> events) {
  for (size_t n = 0; n < events.size(); ++n) {
    absl::Status s = CheckLineage(events[n]);
    if (s.ok()) continue;
    return absl::Status(s.code(),
                        StrCat("events[", n, "].", ToStd(s.message())));
  }
  return absl::OkStatus();
}

}  // namespace ledger
