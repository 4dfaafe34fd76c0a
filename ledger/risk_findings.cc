#include "ledger/risk_findings.h"

#include <algorithm>

#include "base/strings.h"

namespace ledger {
namespace {

std::optional<risk::Risk> LevelOfName(std::string_view name) {
  if (name == "medium") return risk::Risk::kMedium;
  if (name == "high") return risk::Risk::kHigh;
  if (name == "critical") return risk::Risk::kCritical;
  return std::nullopt;
}

// "i,j,k" as indexes; nullopt if any is not a decimal number.
std::optional<std::vector<uint64_t>> ParseIndexes(std::string_view text) {
  std::vector<uint64_t> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view part = text.substr(start, comma - start);
    if (part.empty() || part.size() > 19) return std::nullopt;
    uint64_t v = 0;
    for (char c : part) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    out.push_back(v);
    start = comma + 1;
  }
  return out;
}

}  // namespace

std::optional<int> ParseRiskRule(std::string_view rule) {
  if (rule.size() < 2 || rule.size() > 3 || rule[0] != 'R') {
    return std::nullopt;
  }
  int n = 0;
  for (char c : rule.substr(1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  if (n < 1 || n > kMaxRiskRule || rule[1] == '0') return std::nullopt;
  return n;
}

RiskReason ParseRiskReason(std::string_view reason) {
  RiskReason out;
  out.raw = std::string(reason);
  const size_t space = reason.find(' ');
  const size_t colon = reason.find(": ");
  if (space == std::string_view::npos || colon == std::string_view::npos ||
      colon < space || !ParseRiskRule(reason.substr(0, space)).has_value()) {
    out.text = out.raw;
    return out;
  }
  out.rule = std::string(reason.substr(0, space));
  out.level = std::string(reason.substr(space + 1, colon - space - 1));
  std::string_view text = reason.substr(colon + 2);
  constexpr std::string_view kEvidence = " [evidence ";
  const size_t ev = text.rfind(kEvidence);
  if (ev != std::string_view::npos && text.back() == ']') {
    std::optional<std::vector<uint64_t>> indexes = ParseIndexes(text.substr(
        ev + kEvidence.size(), text.size() - 1 - ev - kEvidence.size()));
    if (indexes.has_value()) {
      out.evidence = *std::move(indexes);
      text = text.substr(0, ev);
    }
  }
  out.text = std::string(text);
  return out;
}

RuleLevels RuleLevelsOf(const std::vector<std::string>& reasons) {
  RuleLevels levels = 0;
  for (const std::string& reason : reasons) {
    const size_t space = reason.find(' ');
    const size_t colon = reason.find(": ");
    if (space == std::string::npos || colon == std::string::npos ||
        colon < space) {
      continue;
    }
    const std::optional<int> rule =
        ParseRiskRule(std::string_view(reason).substr(0, space));
    const std::optional<risk::Risk> level = LevelOfName(
        std::string_view(reason).substr(space + 1, colon - space - 1));
    if (!rule.has_value() || !level.has_value()) continue;
    const int shift = 2 * (*rule - 1);
    const uint64_t code = static_cast<uint64_t>(*level) - 1;  // 1, 2, 3
    const uint64_t now = (levels >> shift) & 3;
    if (code > now) levels = (levels & ~(uint64_t{3} << shift)) | code << shift;
  }
  return levels;
}

risk::Risk RuleLevel(RuleLevels levels, int rule) {
  if (rule < 1 || rule > kMaxRiskRule) return risk::Risk::kLow;
  const uint64_t code = (levels >> (2 * (rule - 1))) & 3;
  return static_cast<risk::Risk>(code + 1);
}

void RiskFindingsIndex::Add(uint64_t index, std::string_view tenant,
                            std::string_view actor, risk::Risk risk,
                            RuleLevels rules) {
  auto it = tenants_.find(tenant);
  if (it == tenants_.end())
    it = tenants_.try_emplace(std::string(tenant)).first;
  Tenant& t = it->second;
  if (!t.runs.empty() && t.runs.back().end == index) {
    ++t.runs.back().end;
  } else {
    const uint64_t before =
        t.runs.empty()
            ? 0
            : t.runs.back().before + t.runs.back().end - t.runs.back().begin;
    t.runs.push_back(Run{index, index + 1, before});
  }
  if (risk != risk::Risk::kUnassessed && !first_assessed_.has_value()) {
    first_assessed_ = index;
  }
  size_ = index + 1;
  if (risk < risk::Risk::kMedium) return;
  t.findings.push_back(RiskFinding{index, risk, rules, std::string(actor)});
  ++findings_;
}

namespace {

std::vector<RiskFinding>::const_iterator FirstAtOrAfter(
    const std::vector<RiskFinding>& findings, uint64_t index) {
  return std::lower_bound(
      findings.begin(), findings.end(), index,
      [](const RiskFinding& f, uint64_t i) { return f.index < i; });
}

}  // namespace

std::vector<RiskFinding> RiskFindingsIndex::Find(
    std::string_view tenant, const RiskFindingsFilter& filter, uint64_t from,
    uint64_t below, size_t max_count, size_t max_scanned,
    std::optional<uint64_t>* resume) const {
  std::vector<RiskFinding> out;
  if (resume != nullptr) resume->reset();
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return out;
  const std::vector<RiskFinding>& findings = it->second.findings;
  size_t scanned = 0;
  for (auto f = FirstAtOrAfter(findings, from);
       f != findings.end() && f->index < below && out.size() < max_count; ++f) {
    if (scanned++ == max_scanned) {
      if (resume != nullptr) *resume = f->index;
      break;
    }
    if (f->risk < filter.min_level) continue;
    if (filter.rule != 0 &&
        RuleLevel(f->rules, filter.rule) < risk::Risk::kMedium) {
      continue;
    }
    if (!filter.actor.empty() && f->actor != filter.actor) continue;
    out.push_back(*f);
  }
  return out;
}

uint64_t RiskFindingsIndex::CountEntries(const Tenant& t, uint64_t from,
                                         uint64_t below) {
  // The tenant's entries before `index`.
  const auto before = [&t](uint64_t index) -> uint64_t {
    auto run =
        std::upper_bound(t.runs.begin(), t.runs.end(), index,
                         [](uint64_t i, const Run& r) { return i < r.begin; });
    if (run == t.runs.begin()) return 0;
    --run;
    return run->before + std::min(index, run->end) - run->begin;
  };
  if (from >= below) return 0;
  return before(below) - before(from);
}

RiskCounts RiskFindingsIndex::Count(std::string_view tenant, uint64_t from,
                                    uint64_t below) const {
  RiskCounts counts;
  auto it = tenants_.find(tenant);
  if (it == tenants_.end() || from >= below) return counts;
  const Tenant& t = it->second;
  counts.entries = CountEntries(t, from, below);
  const uint64_t assessed_from = first_assessed_.value_or(below);
  counts.unassessed =
      CountEntries(t, from, std::min(below, std::max(from, assessed_from)));
  for (auto f = FirstAtOrAfter(t.findings, from);
       f != t.findings.end() && f->index < below; ++f) {
    switch (f->risk) {
      case risk::Risk::kMedium:
        ++counts.medium;
        break;
      case risk::Risk::kHigh:
        ++counts.high;
        break;
      default:
        ++counts.critical;
        break;
    }
    for (RuleLevels levels = f->rules; levels != 0;) {
      const int bit = __builtin_ctzll(levels) & ~1;
      const int rule = bit / 2 + 1;
      switch (RuleLevel(f->rules, rule)) {
        case risk::Risk::kMedium:
          ++counts.rules[rule].medium;
          break;
        case risk::Risk::kHigh:
          ++counts.rules[rule].high;
          break;
        default:
          ++counts.rules[rule].critical;
          break;
      }
      levels &= ~(uint64_t{3} << bit);
    }
  }
  counts.low = counts.entries - counts.unassessed - counts.medium -
               counts.high - counts.critical;
  return counts;
}

}  // namespace ledger
