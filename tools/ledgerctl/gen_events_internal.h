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
