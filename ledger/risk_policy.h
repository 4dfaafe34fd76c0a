#pragma once

// The risk policy (docs/risk-rules.md): the data-grade classification
// rules, the propagation options and the parameters of risk rules R1-R15,
// as a TOML document. A policy takes effect through a `policy.changed`
// entry that carries its text (ledger/FORMAT.md section 13), so the node,
// its replicas and ledger-verify parse the very same bytes with the same
// parser: nothing here may depend on anything but the text.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ledger::risk {

// GB/T 43697 levels, ordered: a higher value is the stricter level.
enum class Level : uint8_t { kGeneral = 1, kImportant = 2, kCore = 3 };
std::string_view LevelName(Level level);
// "general", "important" or "core"; false otherwise.
bool ParseLevel(std::string_view text, Level* out);

// Flags beside the level, as a bit set.
enum Flag : uint8_t { kPi = 1, kSensitivePi = 2, kMinor = 4 };
inline constexpr uint8_t kAllFlags = kPi | kSensitivePi | kMinor;
// "pi,sensitive_pi" (canonical order pi, sensitive_pi, minor); "" for none.
std::string FlagsText(uint8_t flags);
// Comma-separated flag names, any order, no spaces; "" is no flag.
bool ParseFlags(std::string_view text, uint8_t* out);

// One condition on a dataset event's attribute. `in`: the value is one of
// the strings; `at_least` / `at_most`: the value is a decimal integer in
// that bound. A missing or unparsable attribute fails the condition.
struct Condition {
  std::string attribute;
  std::vector<std::string> in;
  bool has_at_least = false;
  int64_t at_least = 0;
  bool has_at_most = false;
  int64_t at_most = 0;
};

// A classification rule: when every condition holds for a
// dataset.registered or dataset.version_created event, its datasets get at
// least `level` and the `flags`.
struct ClassifyRule {
  std::string name;
  std::vector<Condition> all;
  Level level = Level::kGeneral;
  uint8_t flags = 0;
};

// A set of IPv4 or IPv6 networks (CIDR).
struct Network {
  bool v6 = false;
  std::array<uint8_t, 16> address{};
  int prefix = 0;
};
// Whether `ip` (textual IPv4 or IPv6) lies in one of `networks`; false for
// text that is not an address.
bool InNetworks(const std::vector<Network>& networks, std::string_view ip);

// Rule ids R1..R15.
inline constexpr int kRuleCount = 15;

struct RulesConfig {
  // Per rule, [1..15]: whether it runs, and the event types it looks at
  // (docs/risk-rules.md says which rules have a `types` list).
  std::array<bool, kRuleCount + 1> enabled{};
  std::array<std::vector<std::string>, kRuleCount + 1> types;
  // R3: persons sent abroad per tenant and calendar year.
  int64_t pi_persons_high = 100'000;
  int64_t pi_persons_critical = 1'000'000;
  int64_t sensitive_pi_persons_critical = 10'000;
  // R2, R3: how long a CAC security assessment stays valid.
  int64_t assessment_valid_days = 3 * 365;
  // R5: the annotating types (its `types` are the reviewing ones).
  std::vector<std::string> annotate_types;
  // R7: reads and exports per actor and UTC day of ledger time, against
  // the mean of the previous `baseline_days` days.
  int64_t baseline_days = 14;
  int64_t baseline_factor = 10;
  int64_t baseline_min_volume = 1000;
  // R11: failed attempts in a window of ledger time.
  int64_t failure_window_seconds = 3600;
  int64_t failure_threshold = 5;
  // R12: the declared secure environment; empty turns R12 off.
  std::vector<Network> secure_networks;
  // R14: review issue tags that discard a batch.
  std::vector<std::string> harmful_tags;
  // R15: largest share of illegal content a source may have recorded.
  double max_illegal_share = 0.05;

  bool Has(int rule, std::string_view type) const;
};

struct Policy {
  std::string name;  // the policy's own label (free text)
  std::vector<ClassifyRule> classify;
  // Propagation: which flags an approved data.deidentified edge with a
  // method blocks, and the subject count from which an aggregation raises
  // general to important (0: never).
  uint8_t deidentification_blocks = kPi | kSensitivePi;
  int64_t aggregation_subjects_threshold = 1'000'000;
  RulesConfig rules;
};

// Parses and checks a policy. Errors are InvalidArgument naming the line
// and the key: "line 12: rules.R3.pi_persons_high: must be a positive
// integer, got -4"; unknown keys and rule names are errors.
absl::StatusOr<Policy> ParsePolicy(std::string_view text);

}  // namespace ledger::risk
