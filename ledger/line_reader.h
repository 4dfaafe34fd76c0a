#pragma once

// Reads the LF-terminated lines of a text format (tlog-proof receipts,
// answer files) off the front of the text, counting them for messages.
// Internal to ledger/.

#include <optional>
#include <string_view>

namespace ledger {

class LineReader {
 public:
  explicit LineReader(std::string_view text) : rest_(text) {}
  // The next line without its newline; nullopt if no complete line is left.
  std::optional<std::string_view> Next() {
    const size_t nl = rest_.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    std::string_view line = rest_.substr(0, nl);
    rest_.remove_prefix(nl + 1);
    ++line_no_;
    return line;
  }
  // The rest of the next line if it starts with `prefix` (consumed), else
  // nullopt (not consumed).
  std::optional<std::string_view> NextWith(std::string_view prefix) {
    const size_t nl = rest_.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    if (!rest_.substr(0, nl).starts_with(prefix)) return std::nullopt;
    return Next()->substr(prefix.size());
  }
  // What follows the lines read so far.
  std::string_view rest() const { return rest_; }
  // The number of the last line read (1-based); 0 before the first.
  int line_no() const { return line_no_; }

 private:
  std::string_view rest_;
  int line_no_ = 0;
};

}  // namespace ledger
