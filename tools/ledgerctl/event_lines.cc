#include "tools/ledgerctl/event_lines.h"

#include <string>

#include "base/strings.h"
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

absl::Status ParseEventLine(const NumberedLine& line, v1::Event* proto,
                            Event* event) {
  absl::Status parsed = ParseProtoJson(line.text, proto);
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
    absl::Status s = ParseEventLine(lines[i], &out[i].proto, &out[i].event);
    if (!s.ok()) return s;
  }
  return out;
}

}  // namespace ledger::ctl
