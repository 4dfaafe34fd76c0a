#pragma once

// The risk engine (docs/risk-rules.md): data grades per dataset version,
// their propagation along lineage, and the risk of every entry under rules
// R1-R15 of the policy in force. It is a pure function of the entries in
// index order: Apply() reads the entry's event, its index and its
// received_at, and the state earlier entries left; no clock, no
// randomness, no iteration order of a hash table reaches a result. The
// ledger applies it to every entry it appends and stores the assessment in
// the entry; ledger-verify applies it to the same entries and compares.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ledger/event.h"
#include "ledger/risk_policy.h"

namespace ledger::risk {

// The entry's risk.grade values (ledger/FORMAT.md section 4).
enum class Risk : uint8_t {
  kUnassessed = 0,
  kLow = 1,
  kMedium = 2,
  kHigh = 3,
  kCritical = 4
};
std::string_view RiskName(Risk risk);

struct Assessment {
  Risk risk = Risk::kUnassessed;
  std::vector<std::string> reasons;
  uint32_t policy_version = 0;
  friend bool operator==(const Assessment&, const Assessment&) = default;
};

// One grade of a dataset version, from entry `index` on.
struct GradeRecord {
  uint64_t index = 0;
  Level level = Level::kGeneral;
  uint8_t flags = 0;
  // "assigned", "changed", "classified: <rule>", "unclassified",
  // "propagated" or "aggregated".
  std::string basis;
  // Propagated: the input versions ("id@version") it came from, and the
  // entries that recorded those edges.
  std::vector<std::string> propagated_from;
  std::vector<uint64_t> evidence;
};

// Attribute keys of a policy.changed event (ledger/FORMAT.md section 13).
inline constexpr std::string_view kPolicySha256Attribute = "policy.sha256";
inline constexpr std::string_view kPolicyTextAttribute = "policy.text.";

// The policy.changed event's policy text (its `policy.text.NNN` chunks in
// order) after checking the sha256 attribute and parsing it.
absl::StatusOr<Policy> PolicyOfEvent(const Event& event,
                                     std::string* text = nullptr);
// The attributes that carry `text` (chunks of at most 4,096 bytes, split on
// UTF-8 character boundaries, and its SHA-256), sorted by key.
std::vector<std::pair<std::string, std::string>> PolicyAttributes(
    std::string_view text);

class Engine {
 public:
  Engine();
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Grades the entry at `index` (the next one: indexes must increase by
  // one from the first entry applied) and updates the state with it.
  Assessment Apply(const Event& event, uint64_t index, int64_t received_at_ns);

  // The version of the policy in force for the next entry (0: none) and
  // the index of the entry that set it.
  uint32_t policy_version() const;
  std::optional<uint64_t> policy_index() const;
  // The number of policies whose policy.changed entry is at or before
  // `index`: the number of the policy an entry there sets, or the version
  // in force right after it.
  uint32_t PoliciesUpTo(uint64_t index) const;

  // The grade of dataset (tenant, id, version) in force at entry `as_of`
  // (the latest record with index <= as_of), falling back to the dataset's
  // version-less grade; nullopt if it had none then.
  std::optional<GradeRecord> GradeAt(std::string_view tenant,
                                     std::string_view id,
                                     std::string_view version,
                                     uint64_t as_of) const;
  // Every grade the dataset version ever had, oldest first.
  std::vector<GradeRecord> GradeHistory(std::string_view tenant,
                                        std::string_view id,
                                        std::string_view version) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace ledger::risk
