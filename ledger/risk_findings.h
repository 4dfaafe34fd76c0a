#pragma once

// The ledger's in-memory index of risk findings (docs/queries.md, "Risk
// queries"): per tenant, the entries graded medium or above (index, actor,
// risk and the level each rule gave), ascending by index, and the index
// ranges of the tenant's entries (to count its low entries in a window).
// Built from the entries when the ledger opens (Ledger::LoadRisk) and
// extended by each group once it is written, so it never holds an entry
// the store does not: a group that failed left nothing here.
//
// Not thread-safe: the ledger guards it with its risk mutex. Memory: about
// 56 bytes per finding (plus an actor id longer than 15 bytes), and 24 bytes
// per run of consecutive entries of one tenant.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/risk_engine.h"

namespace ledger {

// One reason of an entry, parsed (docs/risk-rules.md, "Reasons"):
// "R<n> <level>: <text>[ [evidence i,j]]" or "R<n> not evaluable: <text>".
struct RiskReason {
  std::string raw;
  std::string rule;   // "R1" ... ; empty if the text does not parse
  std::string level;  // "medium", "high", "critical" or "not evaluable"
  std::string text;   // the explanation, without the evidence
  std::vector<uint64_t> evidence;
  friend bool operator==(const RiskReason&, const RiskReason&) = default;
};
RiskReason ParseRiskReason(std::string_view reason);

// The rules (1 ... kMaxRiskRule) an index entry can name.
inline constexpr int kMaxRiskRule = 32;

// The rule number of "R<n>" (1 ... kMaxRiskRule), or nullopt.
std::optional<int> ParseRiskRule(std::string_view rule);

// Per rule, the level its reasons gave an entry: 2 bits per rule (bits
// 2(n-1) and 2(n-1)+1 for rule n): 0 none or not evaluable, 1 medium, 2
// high, 3 critical.
using RuleLevels = uint64_t;
RuleLevels RuleLevelsOf(const std::vector<std::string>& reasons);
// The level rule `rule` has in `levels` (kLow: none).
risk::Risk RuleLevel(RuleLevels levels, int rule);

struct RiskFinding {
  uint64_t index = 0;
  risk::Risk risk = risk::Risk::kMedium;
  RuleLevels rules = 0;
  std::string actor;  // the event's actor id
  friend bool operator==(const RiskFinding&, const RiskFinding&) = default;
};

// What a findings query keeps.
struct RiskFindingsFilter {
  risk::Risk min_level = risk::Risk::kMedium;  // medium, high or critical
  int rule = 0;       // 0: any; else entries with a reason of that rule
  std::string actor;  // empty: any
};

// Counts over a range of a tenant's entries.
struct RiskCounts {
  uint64_t entries = 0;     // the tenant's entries in the range
  uint64_t unassessed = 0;  // graded before the first policy
  uint64_t low = 0;
  uint64_t medium = 0;
  uint64_t high = 0;
  uint64_t critical = 0;
  // Per rule number (index 0 unused): entries whose reasons of that rule
  // gave medium, high and critical.
  struct Rule {
    uint64_t medium = 0;
    uint64_t high = 0;
    uint64_t critical = 0;
    friend bool operator==(const Rule&, const Rule&) = default;
  };
  std::vector<Rule> rules = std::vector<Rule>(kMaxRiskRule + 1);
  friend bool operator==(const RiskCounts&, const RiskCounts&) = default;
};

class RiskFindingsIndex {
 public:
  // Adds the entry at `index`, which must be above every index added so
  // far.
  void Add(uint64_t index, std::string_view tenant, std::string_view actor,
           risk::Risk risk, const std::vector<std::string>& reasons) {
    Add(index, tenant, actor, risk, RuleLevelsOf(reasons));
  }
  void Add(uint64_t index, std::string_view tenant, std::string_view actor,
           risk::Risk risk, RuleLevels rules);

  // The tenant's findings that pass `filter` with index in [from, below),
  // ascending, at most `max_count`, looking at no more than `max_scanned`
  // findings: if it stopped there, `*resume` (if given) is set to the
  // index of the next finding to look at, else to nullopt.
  std::vector<RiskFinding> Find(
      std::string_view tenant, const RiskFindingsFilter& filter, uint64_t from,
      uint64_t below, size_t max_count, size_t max_scanned = SIZE_MAX,
      std::optional<uint64_t>* resume = nullptr) const;

  // Counts over the tenant's entries with index in [from, below).
  RiskCounts Count(std::string_view tenant, uint64_t from,
                   uint64_t below) const;

  // Entries added (all tenants) and findings held.
  uint64_t size() const { return size_; }
  uint64_t findings() const { return findings_; }

  friend bool operator==(const RiskFindingsIndex&,
                         const RiskFindingsIndex&) = default;

 private:
  // [begin, end) of consecutive entries of one tenant, with the number of
  // the tenant's entries before `begin`.
  struct Run {
    uint64_t begin = 0;
    uint64_t end = 0;
    uint64_t before = 0;
    friend bool operator==(const Run&, const Run&) = default;
  };
  struct Tenant {
    std::vector<RiskFinding> findings;
    std::vector<Run> runs;
    friend bool operator==(const Tenant&, const Tenant&) = default;
  };
  // The tenant's entries with index in [from, below).
  static uint64_t CountEntries(const Tenant& t, uint64_t from, uint64_t below);

  std::map<std::string, Tenant, std::less<>> tenants_;
  // The first entry graded under a policy (every entry before it is
  // unassessed); nullopt while there is none.
  std::optional<uint64_t> first_assessed_;
  uint64_t size_ = 0;
  uint64_t findings_ = 0;
};

}  // namespace ledger
