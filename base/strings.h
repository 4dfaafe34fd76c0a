#pragma once

// Small string helpers. Debian's Abseil is built with its own
// absl::string_view (not std::string_view), so absl::StrCat and friends do
// not accept std::string_view; our code uses std::string_view and these.

#include <charconv>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ledger {

namespace strings_internal {
inline void Append(std::string& out, std::string_view s) { out.append(s); }
inline void Append(std::string& out, const char* s) { out.append(s); }
inline void Append(std::string& out, const std::string& s) { out.append(s); }
inline void Append(std::string& out, absl::string_view s) {
  out.append(s.data(), s.size());
}
inline void Append(std::string& out, char c) { out.push_back(c); }
template <std::integral T>
requires(!std::same_as<T, char> &&
         !std::same_as<T, bool>) void Append(std::string& out, T v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  // (pointer, length), not the iterator pair: GCC 12 at -O2 and above warns
  // falsely about overlapping copies (-Wrestrict, GCC bug 105329) in the
  // iterator overload, which goes through basic_string::_M_replace.
  out.append(buf, static_cast<size_t>(r.ptr - buf));
}
inline void Append(std::string& out, bool b) {
  out.append(b ? "true" : "false");
}
}  // namespace strings_internal

// Concatenates strings, characters and integers.
template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  (strings_internal::Append(out, args), ...);
  return out;
}

// Appends strings, characters and integers to `*out`.
template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  (strings_internal::Append(*out, args), ...);
}

// Splits on `sep`; keeps empty pieces.
std::vector<std::string_view> Split(std::string_view s, char sep);

// Removes ASCII whitespace at both ends.
std::string_view Trim(std::string_view s);

// Parses a decimal uint64 with no sign, no spaces and no leading zeros
// (except "0" itself).
std::optional<uint64_t> ParseCanonicalUint64(std::string_view s);

// Returns `status` with "context: " prepended to its message (same code).
absl::Status Annotate(const absl::Status& status, std::string_view context);

inline std::string_view ToStd(absl::string_view s) {
  return std::string_view(s.data(), s.size());
}

}  // namespace ledger
