#pragma once

// Shared by gen_events.cc and gen_workflow.cc only: the names and constants
// of the simulated annotation project.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/strings.h"
#include "ledger/v1/event.pb.h"

namespace ledger::ctl::gen_internal {

inline constexpr uint64_t kItemsPerChunk = 20;
inline constexpr uint64_t kAnnotators = 8;
inline constexpr uint64_t kReviewers = 3;

inline constexpr std::array<std::string_view, 4> kProjects = {
    "street-scenes", "retail-shelves", "clinical-notes", "speech-commands"};
// The people outside the annotation team: the data protection officer
// grades data, files assessments and approves de-identification; the
// data security officer approves exports; the ML engineer exports.
inline constexpr std::string_view kDpo = "dpo-01";
inline constexpr std::string_view kDso = "dso-01";
inline constexpr std::string_view kMlEngineer = "ml-engineer-01";
// A vendor's contractor who annotates now and then without having taken
// the course (kUntrainedPerMille).
inline constexpr std::string_view kTempAnnotator = "annotator-temp-01";

// Violations of the rules of docs/risk-rules.md that the generator
// injects, at these rates, drawn from the seeded stream like everything
// else, so that a graded run shows findings among mostly low entries.
// Besides these, the pilot release (the first) exports without an
// approval: on a core project that is R1 (critical) in every run.
//
// R4: an item assigned to kTempAnnotator, who has no training (per mille
// of items).
inline constexpr uint64_t kUntrainedPerMille = 15;
// R5: the annotator accepts their own item in place of the reviewer (per
// mille of items).
inline constexpr uint64_t kSelfReviewPerMille = 10;
// R6: the annotator edits an item after its acceptance without a reopen
// (per mille of items).
inline constexpr uint64_t kEditAfterAcceptPerMille = 10;
// R13: a batch after the first is released without its QA sample (per
// cent of batches).
inline constexpr uint64_t kUnsampledReleasePercent = 8;
// R1: a release after the pilot exports without an approval (per cent of
// releases; a finding on core projects only).
inline constexpr uint64_t kUnapprovedExportPercent = 5;
// R2: a transfer of important data names the standard contract instead of
// the CAC security assessment (per cent of transfers of important data).
inline constexpr uint64_t kContractOnlyTransferPercent = 10;

inline constexpr std::string_view kLabelStudio = "label-studio/1.12.1";
inline constexpr std::string_view kPipeline = "airflow/2.9.1";
inline constexpr std::string_view kPlatform = "annotation-platform/3.2.0";

inline std::string Numbered(std::string_view prefix, uint64_t n, size_t width) {
  std::string digits = StrCat(n);
  if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
  return StrCat(prefix, digits);
}

inline std::string Annotator(uint64_t n) {
  return Numbered("annotator-", n, 2);
}
inline std::string Reviewer(uint64_t n) { return Numbered("reviewer-", n, 2); }
inline std::string ItemId(uint64_t n) { return Numbered("item-", n, 6); }
inline std::string AnnotationId(uint64_t item, uint64_t revision) {
  return StrCat(Numbered("anno-", item, 6), "-r", revision);
}

inline void SetAttr(v1::Event& e, std::string_view key,
                    std::string_view value) {
  (*e.mutable_attributes())[std::string(key)] = std::string(value);
}

}  // namespace ledger::ctl::gen_internal
