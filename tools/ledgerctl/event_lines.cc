#include "tools/ledgerctl/event_lines.h"

#include <string>

#include "base/strings.h"
#include "nlohmann/json.hpp"
#include "node/convert.h"
#include "tools/ledgerctl/proto_json.h"

namespace ledger::ctl {

std::vector<NumberedLine> SplitLines(std::string_view text) {
  std::vector<NumberedLine> lines;
  uint64_t number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    ++number;
    std::string_view line = text.substr(start, end - start);
    if (!Trim(line).empty()) lines.push_back({number, line});
    start = end + 1;
  }
  return lines;
}

namespace {

constexpr std::string_view kPlaintextMember = "payload_plaintext";
constexpr std::string_view kSubjectMember = "data_subject";

// Takes payload_plaintext and data_subject out of the line's JSON object;
// `rest` is the line without them. Only called when the line mentions one.
absl::Status TakePlaintext(std::string_view text, PlaintextPayload* plain,
                           bool* has_plain, std::string* rest) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    // The Event parser says what is wrong with it.
    *rest = std::string(text);
    return absl::OkStatus();
  }
  const bool has_text = j.contains(kPlaintextMember);
  const bool has_subject = j.contains(kSubjectMember);
  if (has_text != has_subject) {
    return absl::InvalidArgumentError(
        StrCat(kPlaintextMember, " and ", kSubjectMember,
               " go together: the plaintext is encrypted under the data "
               "subject's key"));
  }
  if (has_text) {
    const nlohmann::json& text_value = j[std::string(kPlaintextMember)];
    const nlohmann::json& subject_value = j[std::string(kSubjectMember)];
    if (!text_value.is_string() || !subject_value.is_string()) {
      return absl::InvalidArgumentError(StrCat(
          kPlaintextMember, " and ", kSubjectMember, ": must be strings"));
    }
    if (j.contains("payload") && !j["payload"].is_null() &&
        j["payload"] != "") {
      return absl::InvalidArgumentError(
          StrCat("payload and ", kPlaintextMember,
                 " exclude each other: give the plaintext, ledgerctl "
                 "encrypts it into the payload"));
    }
    if (plain == nullptr) {
      return absl::InvalidArgumentError(
          StrCat(kPlaintextMember, ": only `ledgerctl append` encrypts it"));
    }
    plain->plaintext = text_value.get<std::string>();
    plain->data_subject = subject_value.get<std::string>();
    j.erase(std::string(kPlaintextMember));
    j.erase(std::string(kSubjectMember));
  }
  if (has_plain != nullptr) *has_plain = has_text;
  *rest = j.dump();
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseEventLine(const NumberedLine& line, v1::Event* proto,
                            Event* event, PlaintextPayload* plain,
                            bool* has_plain) {
  if (has_plain != nullptr) *has_plain = false;
  std::string_view text = line.text;
  std::string rest;
  // The common line has neither member: no second parse for it.
  if (text.find(kPlaintextMember) != std::string_view::npos ||
      text.find(kSubjectMember) != std::string_view::npos) {
    if (absl::Status s = TakePlaintext(text, plain, has_plain, &rest);
        !s.ok()) {
      return absl::InvalidArgumentError(
          StrCat("line ", line.number, ": ", ToStd(s.message())));
    }
    text = rest;
  }
  absl::Status parsed = ParseProtoJson(text, proto);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        StrCat("line ", line.number, ": ", ToStd(parsed.message())));
  }
  absl::StatusOr<Event> converted = node::EventFromProto(*proto);
  if (!converted.ok()) {
    return Annotate(converted.status(), StrCat("line ", line.number));
  }
  *event = *std::move(converted);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<EventLine>> ParseEventLines(std::string_view text) {
  std::vector<NumberedLine> lines = SplitLines(text);
  std::vector<EventLine> out(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    out[i].line = lines[i].number;
    absl::Status s = ParseEventLine(lines[i], &out[i].proto, &out[i].event,
                                    &out[i].plain, &out[i].has_plain);
    if (!s.ok()) return s;
  }
  return out;
}

}  // namespace ledger::ctl
