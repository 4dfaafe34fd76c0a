#pragma once

// Lineage rules for events being appended: the processing families must
// say what they read (inputs) and what they produced (outputs), and no
// output may be one of the inputs.
//
// These are an admission rule of a node, not part of validation
// (ValidateEvent): events already in a ledger that break them stay valid,
// and a verifier does not apply them to stored entries (ledger/FORMAT.md
// section 3.3, "by policy"). Pure functions of the event, no storage, so
// every front end that admits events (the gRPC ingest, a gateway) and
// every reader that wants to know whether an event would be admitted today
// apply the same rule.

#include <string_view>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "ledger/event.h"

namespace ledger {

// The types that must name their lineage, sorted: data.aggregated,
// data.cleaned, data.deidentified, data.filtered,
// data.transferred_cross_border, dataset.exported, dataset.version_created,
// prelabel.applied. (data.shared is not among them: it names a recipient,
// not data it produced.)
absl::Span<const std::string_view> LineageTypes();
// True if `type` is one of LineageTypes().
bool RequiresLineage(std::string_view type);

// OK, or InvalidArgument naming the field and what to do, for the first
// rule `event` breaks, in this order:
//
//  1. an event of a LineageTypes() type has at least one input:
//     "inputs: data.filtered must name at least one input ...";
//  2. such an event whose outcome is success has at least one output (a
//     failed run produced nothing, and is recorded all the same):
//     "outputs: data.filtered with outcome success must name at least one
//     output ...";
//  3. for every event, whatever its type, no output equals an input in
//     kind, id and version (a lineage edge from a version to itself):
//     "outputs[1]: dataset 'd' version 'v2' is also inputs[0] ...".
//
// Content hashes and item counts do not take part in rule 3. The cost is
// linear in the number of refs (up to EventLimits::max_refs each) up to a
// logarithmic factor.
absl::Status CheckLineage(const Event& event);

// CheckLineage for each event in order; the first refusal, its field path
// prefixed with the event's position: "events[3].inputs: ...".
absl::Status CheckBatchLineage(absl::Span<const Event> events);

}  // namespace ledger
