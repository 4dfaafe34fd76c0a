#include "tools/verify/report.h"

#include "base/strings.h"

namespace ledger::verify {
namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if there is none.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  const uint8_t c = byte(0);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) {
    n = 2, cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(k) & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

std::string ValueToJson(const Report::Value& value) {
  if (const auto* s = std::get_if<std::string>(&value)) return JsonQuote(*s);
  if (const auto* n = std::get_if<uint64_t>(&value)) return StrCat(*n);
  if (const auto* b = std::get_if<bool>(&value)) return StrCat(*b);
  const auto& list = std::get<std::vector<std::string>>(value);
  std::string out = "[";
  for (size_t i = 0; i < list.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += JsonQuote(list[i]);
  }
  out.push_back(']');
  return out;
}

std::string ValueToText(const Report::Value& value) {
  if (const auto* s = std::get_if<std::string>(&value)) return *s;
  if (const auto* n = std::get_if<uint64_t>(&value)) return StrCat(*n);
  if (const auto* b = std::get_if<bool>(&value)) return StrCat(*b);
  const auto& list = std::get<std::vector<std::string>>(value);
  std::string out;
  for (size_t i = 0; i < list.size(); ++i) {
    if (i > 0) out += ", ";
    out += list[i];
  }
  return out;
}

}  // namespace

void Report::Set(std::string_view key, Value value) {
  for (auto& [k, v] : fields_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  fields_.emplace_back(std::string(key), std::move(value));
}

const Report::Value* Report::Find(std::string_view key) const {
  for (const auto& [k, v] : fields_) {
    if (k == key) return &v;
  }
  return nullptr;
}

void Report::Fail(std::string_view check, std::string_view reason) {
  if (!failed_check_.empty()) return;
  failed_check_ = std::string(check);
  reason_ = std::string(reason);
}

void Report::Fail(std::string_view check, const absl::Status& status) {
  Fail(check, ToStd(status.message()));
}

std::string Report::ToText() const {
  std::string out =
      StrCat(valid() ? "VALID " : "INVALID ", kind_, " ", subject_, "\n");
  if (!valid()) {
    out += StrCat("  failed check: ", failed_check_, "\n");
    out += StrCat("  reason: ", reason_, "\n");
  }
  for (const auto& [key, value] : fields_) {
    out += StrCat("  ", key, ": ", ValueToText(value), "\n");
  }
  return out;
}

std::string Report::ToJson() const {
  std::string out = StrCat(
      "{\"kind\":", JsonQuote(kind_), ",\"subject\":", JsonQuote(subject_),
      ",\"result\":", valid() ? "\"VALID\"" : "\"INVALID\"");
  if (!valid()) {
    out += StrCat(",\"failed_check\":", JsonQuote(failed_check_),
                  ",\"reason\":", JsonQuote(reason_));
  }
  for (const auto& [key, value] : fields_) {
    out += StrCat(",", JsonQuote(key), ":", ValueToJson(value));
  }
  out.push_back('}');
  return out;
}

std::string JsonQuote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
  return out;
}

}  // namespace ledger::verify
