#pragma once

// Human-readable forms of ledger values shared by ledger-verify and
// ledgerctl.

#include <cstdint>
#include <string>
#include <string_view>

#include "ledger/entry.h"
#include "ledger/event.h"

namespace ledger::verify {

// RFC 3339 in UTC, e.g. "2025-03-03T08:00:00Z", with 3, 6 or 9 fractional
// digits when the time is not a whole second (as the protobuf JSON mapping
// writes timestamps).
std::string FormatRfc3339(int64_t unix_ns);

// "unassessed", "low", "medium", "high", "critical".
std::string_view RiskGradeName(RiskGrade grade);
// "human", "service", "model".
std::string_view ActorKindName(ActorKind kind);
// "dataset", "item", "annotation", "actor".

}  // namespace ledger::verify
