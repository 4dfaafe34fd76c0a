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
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ledger/entry.h"
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

// A grade that lineage gave a dataset version (basis "propagated" or
// "aggregated") at entry `cause`, under a policy. The ledger records each in
// a grade.propagated entry of its own (PropagationEvent) in the same group
// as the cause, after the group's other entries.
inline constexpr std::string_view kPropagatedType = "grade.propagated";

struct Propagation {
  std::string tenant;
  std::string id;
  std::string version;
  GradeRecord record;  // record.index == cause
  int64_t cause_received_at_ns = 0;
};

// The grade.propagated event that records `p` (ledger/FORMAT.md section 15):
// a pure function of `p`, so every replica and verifier builds the same
// bytes. Its event_id is derived from the cause index and the dataset.
Event PropagationEvent(const Propagation& p);

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

// A lineage input of a dataset version: the input version whose grade
// flows into it, through the edge that entry `edge_index` recorded.
struct GradeInput {
  std::string id;
  std::string version;  // empty: the dataset's version-less grade
  uint64_t edge_index = 0;
  uint8_t blocked_flags = 0;  // flags the edge does not carry
  bool raises = false;        // an aggregation past the threshold
  friend bool operator==(const GradeInput&, const GradeInput&) = default;
};

class Engine {
 public:
  Engine();
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Grades the entry at `index` (the next one: indexes must increase by
  // one from the first entry applied) and updates the state with it. A
  // grade.propagated entry records the oldest unrecorded propagation
  // (CheckNext says whether it is that one's) and changes nothing else; it
  // is graded low without reasons under a policy.
  Assessment Apply(const Event& event, uint64_t index, int64_t received_at_ns);

  // Before Apply of the entry at `index`: whether it is consistent with the
  // grade.propagated records the ledger owes. A grade.propagated entry must
  // be PropagationEvent() of the oldest unrecorded propagation; any other
  // entry may follow unrecorded propagations only within their cause's
  // group (the same received_at). DataLoss naming the entries otherwise.
  absl::Status CheckNext(const Event& event, uint64_t index,
                         int64_t received_at_ns) const;
  // After the last entry: DataLoss if some propagation is not recorded.
  absl::Status CheckComplete() const;
  // The propagations that no grade.propagated entry recorded yet, oldest
  // first. Applying their PropagationEvent()s, in order, records them.
  const std::deque<Propagation>& unrecorded() const;

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
  // The lineage inputs, recorded at or before entry `as_of`, of the
  // dataset version whose grade GradeAt(tenant, id, version, as_of) is
  // (the version's own, or its dataset's version-less grade), in the
  // order they were recorded.
  std::vector<GradeInput> GradeInputs(std::string_view tenant,
                                      std::string_view id,
                                      std::string_view version,
                                      uint64_t as_of) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Replays a stored entry through `engine` as the ledger applied it:
// CheckNext, then Apply, then compares the risk, reasons and policy version
// the entry stores with what the engine gives. DataLoss naming the entry
// and both values if they differ (the engine has applied it all the same).
absl::Status ReplayEntry(Engine& engine, const Entry& entry,
                         const Event& event);

}  // namespace ledger::risk
