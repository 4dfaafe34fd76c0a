#include "tools/gateway/json_fields.h"

#include <algorithm>

#include "absl/time/time.h"
#include "base/strings.h"
#include "ledger/lineage_rules.h"

namespace ledger::gateway {
namespace {

// The deepest nesting of `body`, counting brackets outside strings; stops
// counting once past `limit`. Runs before the parser so that no parser or
// destructor recursion ever sees a deeper document.
int NestingDepth(std::string_view body, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

std::string TypeName(const Json& j) { return std::string(j.type_name()); }

}  // namespace

absl::StatusOr<Json> ParseObject(std::string_view body) {
  if (body.empty()) return absl::InvalidArgumentError("body: is empty");
  if (NestingDepth(body, kMaxJsonDepth) > kMaxJsonDepth) {
    return absl::InvalidArgumentError(
        StrCat("body: JSON nested deeper than ", kMaxJsonDepth, " levels"));
  }
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return absl::InvalidArgumentError("body: is not valid JSON");
  }
  if (!j.is_object()) {
    return absl::InvalidArgumentError(
        StrCat("body: must be a JSON object, not ", TypeName(j)));
  }
  return j;
}

const Json* Member(const Json& j, std::string_view key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::StatusOr<std::string> RequiredString(const Json& j, std::string_view key,
                                           std::string_view path) {
  const Json* v = Member(j, key);
  if (v == nullptr)
    return absl::InvalidArgumentError(StrCat(path, ": is missing"));
  if (!v->is_string()) {
    return absl::InvalidArgumentError(
        StrCat(path, ": must be a string, not ", TypeName(*v)));
  }
  return v->get<std::string>();
}

absl::StatusOr<std::optional<std::string>> OptionalString(
    const Json& j, std::string_view key, std::string_view path) {
  if (Member(j, key) == nullptr) return std::optional<std::string>();
  absl::StatusOr<std::string> s = RequiredString(j, key, path);
  if (!s.ok()) return s.status();
  return std::optional<std::string>(std::move(*s));
}

absl::StatusOr<std::optional<std::string>> OptionalId(const Json& j,
                                                      std::string_view key,
                                                      std::string_view path) {
  const Json* v = Member(j, key);
  if (v == nullptr) return std::optional<std::string>();
  if (v->is_number_unsigned()) {
    return std::optional<std::string>(StrCat(v->get<uint64_t>()));
  }
  if (v->is_number_integer() && v->get<int64_t>() >= 0) {
    return std::optional<std::string>(StrCat(v->get<int64_t>()));
  }
  if (v->is_string() && !v->get_ref<const std::string&>().empty()) {
    return std::optional<std::string>(v->get<std::string>());
  }
  return absl::InvalidArgumentError(StrCat(
      path, ": must be a non-negative integer or a non-empty string, not ",
      v->dump().substr(0, 64)));
}

absl::StatusOr<std::string> RequiredId(const Json& j, std::string_view key,
                                       std::string_view path) {
  absl::StatusOr<std::optional<std::string>> id = OptionalId(j, key, path);
  if (!id.ok()) return id.status();
  if (!id->has_value()) {
    return absl::InvalidArgumentError(StrCat(path, ": is missing"));
  }
  return std::move(**id);
}

absl::StatusOr<int64_t> ParseTimeNs(std::string_view text,
                                    std::string_view path) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(text), &t, &err)) {
    return absl::InvalidArgumentError(StrCat(
        path, ": ", QuoteForMessage(text),
        " is not an RFC 3339 time such as 2026-05-01T12:00:00.5Z (", err, ")"));
  }
  const int64_t ns = absl::ToUnixNanos(t);
  if (ns <= 0) {
    return absl::InvalidArgumentError(
        StrCat(path, ": ", QuoteForMessage(text), " is not after 1970"));
  }
  return ns;
}

absl::StatusOr<std::optional<int64_t>> OptionalTime(const Json& j,
                                                    std::string_view key,
                                                    std::string_view path) {
  absl::StatusOr<std::optional<std::string>> s = OptionalString(j, key, path);
  if (!s.ok()) return s.status();
  if (!s->has_value()) return std::optional<int64_t>();
  absl::StatusOr<int64_t> ns = ParseTimeNs(**s, path);
  if (!ns.ok()) return ns.status();
  return std::optional<int64_t>(*ns);
}

std::string TruncateUtf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t n = max_bytes;
  // Back up over continuation bytes (10xxxxxx) to a character start.
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return std::string(text.substr(0, n));
}

void SortAttributes(Event& event) {
  std::sort(event.attributes.begin(), event.attributes.end());
}

absl::Status CheckMapped(const std::vector<Event>& events,
                         const EventLimits& limits) {
  for (size_t i = 0; i < events.size(); ++i) {
    absl::Status s = ValidateEvent(events[i], limits);
    if (s.ok()) s = CheckLineage(events[i]);
    if (!s.ok()) {
      return absl::FailedPreconditionError(
          StrCat("events[", i, "].", s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace ledger::gateway
