#pragma once

// A verification report: the verdict on one artefact (a tlog-proof, a
// checkpoint, a consistency proof), the check that failed and why, and the
// fields learnt along the way. Printable as text for people or as one line
// of JSON for programs.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"

namespace ledger::verify {

// The names of the checks a report can fail, stable for programs to match.
inline constexpr std::string_view kCheckRead = "read";
inline constexpr std::string_view kCheckParse = "parse";
inline constexpr std::string_view kCheckCheckpoint = "checkpoint";
inline constexpr std::string_view kCheckOldCheckpoint = "old_checkpoint";
inline constexpr std::string_view kCheckNewCheckpoint = "new_checkpoint";
inline constexpr std::string_view kCheckOrigin = "origin";
inline constexpr std::string_view kCheckInclusion = "inclusion";
inline constexpr std::string_view kCheckEntry = "entry";
inline constexpr std::string_view kCheckIndex = "index";
inline constexpr std::string_view kCheckEvent = "event";
inline constexpr std::string_view kCheckEmitterKey = "emitter_key";
inline constexpr std::string_view kCheckEmitterSignature = "emitter_signature";
inline constexpr std::string_view kCheckKeyEvidence = "key_evidence";
inline constexpr std::string_view kCheckKeyValidity = "key_validity";
inline constexpr std::string_view kCheckConsistency = "consistency";

class Report {
 public:
  using Value =
      std::variant<std::string, uint64_t, bool, std::vector<std::string>>;

  // `kind` is "proof", "answer", "checkpoint" or "consistency"; `subject` names
  // what was verified (usually a file name).
  Report(std::string kind, std::string subject)
      : kind_(std::move(kind)), subject_(std::move(subject)) {}

  const std::string& kind() const { return kind_; }
  const std::string& subject() const { return subject_; }
  bool valid() const { return failed_check_.empty(); }
  // Empty while the report is valid.
  const std::string& failed_check() const { return failed_check_; }
  const std::string& reason() const { return reason_; }

  // Adds a field, or replaces the value of an existing one (keeping its
  // place). Fields print in the order they were first set.
  void Set(std::string_view key, Value value);
  // The field's value, or nullptr.
  const Value* Find(std::string_view key) const;
  const std::vector<std::pair<std::string, Value>>& fields() const {
    return fields_;
  }

  // Marks the report INVALID because `check` failed. Only the first failure
  // is kept: later checks depend on earlier ones.
  void Fail(std::string_view check, std::string_view reason);
  void Fail(std::string_view check, const absl::Status& status);

  // "VALID <kind> <subject>" or "INVALID <kind> <subject>", then one
  // "  key: value" line per field (the failed check and reason first).
  // Ends in a newline.
  std::string ToText() const;
  // One JSON object on one line, no trailing newline: kind, subject,
  // result ("VALID" / "INVALID"), failed_check and reason (INVALID only),
  // then the fields.
  std::string ToJson() const;

 private:
  std::string kind_;
  std::string subject_;
  std::string failed_check_;
  std::string reason_;
  std::vector<std::pair<std::string, Value>> fields_;
};

// `s` as a JSON string literal, quotes included. Bytes that are not valid
// UTF-8 become U+FFFD, so the output is always valid JSON.
std::string JsonQuote(std::string_view s);

}  // namespace ledger::verify
