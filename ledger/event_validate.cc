// ValidateEvent and the event-type taxonomy (ledger/FORMAT.md section 3;
// ledger/FORMAT.md, "Validation").

#include <algorithm>
#include <array>

#include "base/strings.h"
#include "ledger/event.h"

namespace ledger {
namespace {

// ledger/FORMAT.md section 3.2 with the a|b|c shorthand expanded. Sorted
// (checked by a test through IsKnownEventType) for binary search.
constexpr std::array<std::string_view, 55> kEventTypes = {
    "access.denied",
    "annotation.created",
    "annotation.deleted",
    "annotation.skipped",
    "annotation.submitted",
    "annotation.updated",
    "approval.granted",
    "batch.released",
    "checkpoint.issued",
    "consent.recorded",
    "data.aggregated",
    "data.cleaned",
    "data.deidentified",
    "data.filtered",
    "data.shared",
    "data.transferred_cross_border",
    "dataset.exported",
    "dataset.queried",
    "dataset.registered",
    "dataset.version_created",
    "export_assessment.filed",
    "grade.assigned",
    "grade.changed",
    "grade.propagated",
    "ground_truth.set",
    "guideline.versioned",
    "issue.opened",
    "issue.resolved",
    "item.deleted",
    "item.imported",
    "item.viewed",
    "key.erased",
    "key.registered",
    "key.revoked",
    "key.rotated",
    "label_schema.changed",
    "legal_hold.set",
    "logging.stopped",
    "nda.signed",
    "pia.recorded",
    "policy.changed",
    "prelabel.applied",
    "project.updated",
    "qa.metrics_recorded",
    "qa.sample_drawn",
    "qualification.granted",
    "qualification.revoked",
    "retention.disposed",
    "review.accepted",
    "review.rejected",
    "review.reopened",
    "role.granted",
    "role.revoked",
    "task.assigned",
    "training.completed",
};

constexpr std::array<std::string_view, 8> kLedgerInternalTypes = {
    "access.denied",  "checkpoint.issued", "grade.propagated", "key.erased",
    "key.registered", "key.revoked",       "key.rotated",      "policy.changed",
};

constexpr size_t kMaxTenantBytes = 128;

// A field path built only when an error is reported: "name",
// "list[index]" or "list[index].name".
struct Path {
  explicit Path(std::string_view name) : name(name) {}
  Path(std::string_view list, size_t index, std::string_view name)
      : list(list), index(index), name(name) {}

  std::string_view list;
  size_t index = 0;
  std::string_view name;

  std::string str() const {
    if (list.empty()) return std::string(name);
    if (name.empty()) return StrCat(list, "[", index, "]");
    return StrCat(list, "[", index, "].", name);
  }
};

template <typename... Args>
absl::Status Invalid(const Path& path, const Args&... what) {
  return absl::InvalidArgumentError(StrCat(path.str(), ": ", what...));
}

// Quotes untrusted text for an error message: printable ASCII as is, other
// bytes as \xNN, at most 64 bytes of input.
std::string Quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < 64; ++i) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\' && c != '\'') {
      out.push_back(static_cast<char>(c));
    } else {
      out.append({'\\', 'x', kHex[c >> 4], kHex[c & 0xF]});
    }
  }
  if (s.size() > 64) out.append("...");
  out.push_back('\'');
  return out;
}

// "U+XXXX" for a code point below U+10000.
std::string CodePoint(uint32_t cp) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  return {'U',
          '+',
          kHex[(cp >> 12) & 0xF],
          kHex[(cp >> 8) & 0xF],
          kHex[(cp >> 4) & 0xF],
          kHex[cp & 0xF]};
}

// What is wrong with code point `cp` in text of event bytes appended now
// (ledger/FORMAT.md section 2.3), or nullptr if nothing: the Unicode
// Bidi_Control characters, which reorder what a reader sees, and the line
// and paragraph separators, which break a line in many views.
const char* AppendOnlyViolation(uint32_t cp) {
  switch (cp) {
    case 0x061C:  // ARABIC LETTER MARK
    case 0x200E:  // LEFT-TO-RIGHT MARK
    case 0x200F:  // RIGHT-TO-LEFT MARK
    case 0x202A:  // LEFT-TO-RIGHT EMBEDDING
    case 0x202B:  // RIGHT-TO-LEFT EMBEDDING
    case 0x202C:  // POP DIRECTIONAL FORMATTING
    case 0x202D:  // LEFT-TO-RIGHT OVERRIDE
    case 0x202E:  // RIGHT-TO-LEFT OVERRIDE
    case 0x2066:  // LEFT-TO-RIGHT ISOLATE
    case 0x2067:  // RIGHT-TO-LEFT ISOLATE
    case 0x2068:  // FIRST STRONG ISOLATE
    case 0x2069:  // POP DIRECTIONAL ISOLATE
      return "bidirectional formatting character ";
    case 0x2028:
      return "line separator ";
    case 0x2029:
      return "paragraph separator ";
    default:
      return nullptr;
  }
}

// Checks that `s` is valid UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF) without control characters (Unicode
// category Cc: U+0000-U+001F, U+007F-U+009F). `multiline` also allows TAB
// and LF. TextRules::kAppend also refuses the characters of
// AppendOnlyViolation.
absl::Status CheckText(const Path& path, std::string_view s, bool multiline,
                       TextRules rules) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    const uint8_t b = p[i];
    if (b >= 0x20 && b < 0x7F) {  // printable ASCII, the common case
      ++i;
      continue;
    }
    if (b < 0x80) {
      if (multiline && (b == '\t' || b == '\n')) {
        ++i;
        continue;
      }
      return Invalid(path, "control character ", CodePoint(b), " at byte ", i);
    }
    size_t len = 0;
    uint32_t cp = 0;
    uint32_t min = 0;
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2, cp = b & 0x1F, min = 0x80;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3, cp = b & 0x0F, min = 0x800;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4, cp = b & 0x07, min = 0x10000;
    } else {
      return Invalid(path, "invalid UTF-8 at byte ", i);
    }
    if (n - i < len) return Invalid(path, "invalid UTF-8 at byte ", i);
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) {
        return Invalid(path, "invalid UTF-8 at byte ", i);
      }
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return Invalid(path, "invalid UTF-8 at byte ", i);
    }
    if (cp <= 0x9F) {
      return Invalid(path, "control character ", CodePoint(cp), " at byte ", i);
    }
    if (rules == TextRules::kAppend) {
      if (const char* what = AppendOnlyViolation(cp)) {
        return Invalid(path, what, CodePoint(cp), " at byte ", i);
      }
    }
    i += len;
  }
  return absl::OkStatus();
}

absl::Status CheckString(const Path& path, std::string_view s, uint32_t max,
                         bool required, TextRules rules,
                         bool multiline = false) {
  if (required && s.empty()) return Invalid(path, "must not be empty");
  if (s.size() > max) {
    return Invalid(path, s.size(), " bytes exceed the limit of ", max);
  }
  return CheckText(path, s, multiline, rules);
}

absl::Status CheckRefs(std::string_view list,
                       const std::vector<SubjectRef>& refs,
                       const EventLimits& limits, TextRules rules) {
  if (refs.size() > limits.max_refs) {
    return Invalid(Path(list), refs.size(), " items exceed the limit of ",
                   limits.max_refs);
  }
  for (size_t i = 0; i < refs.size(); ++i) {
    const SubjectRef& r = refs[i];
    const auto kind = static_cast<uint8_t>(r.kind);
    if (kind < 1 || kind > 3) {
      return Invalid({list, i, "kind"}, "unknown value ", int{kind});
    }
    absl::Status s = CheckString({list, i, "id"}, r.id, limits.max_string_bytes,
                                 true, rules);
    if (s.ok()) {
      s = CheckString({list, i, "version"}, r.version, limits.max_string_bytes,
                      false, rules);
    }
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

bool IsTenantChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

absl::Status CheckTenant(std::string_view tenant) {
  if (tenant.empty()) return Invalid(Path("tenant"), "must not be empty");
  if (tenant == kLedgerTenant) return absl::OkStatus();
  const bool ok = tenant.size() <= kMaxTenantBytes && IsTenantChar(tenant[0]) &&
                  tenant[0] != '.' && tenant[0] != '_' && tenant[0] != '-' &&
                  std::all_of(tenant.begin(), tenant.end(), IsTenantChar);
  if (ok) return absl::OkStatus();
  return Invalid(Path("tenant"),
                 "must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}, got ",
                 Quote(tenant));
}

}  // namespace

absl::Status ValidateEvent(const Event& e, const EventLimits& limits,
                           TextRules rules) {
  const uint32_t max_str = limits.max_string_bytes;
  // Checks run in field declaration order; the first failure is reported
  // and later checks are skipped.
  absl::Status s;
  auto text = [&](std::string_view name, const std::string& value,
                  bool required) {
    if (s.ok()) s = CheckString(Path(name), value, max_str, required, rules);
  };
  auto check = [&](bool ok, std::string_view name, auto&&... what) {
    if (s.ok() && !ok) s = Invalid(Path(name), what...);
  };
  auto valid_enum = [](auto v, int max) {
    return static_cast<int>(v) >= 1 && static_cast<int>(v) <= max;
  };
  check(std::any_of(e.event_id.begin(), e.event_id.end(),
                    [](uint8_t b) { return b != 0; }),
        "event_id", "must not be the nil UUID");
  text("type", e.type, true);
  if (s.ok() && !IsKnownEventType(e.type)) {
    s = Invalid(Path("type"), "unknown event type ", Quote(e.type));
  }
  check(e.schema_version >= 1, "schema_version", "must be at least 1");
  check(e.occurred_at_ns > 0, "occurred_at_ns",
        "must be after the Unix epoch, got ", e.occurred_at_ns);
  text("producer", e.producer, true);
  if (s.ok()) s = CheckTenant(e.tenant);
  text("project", e.project, false);
  check(valid_enum(e.actor.kind, 3), "actor.kind", "unknown value ",
        static_cast<int>(e.actor.kind));
  text("actor.id", e.actor.id, true);
  text("actor.role", e.actor.role, false);
  text("on_behalf_of", e.on_behalf_of, false);
  text("source.ip", e.source.ip, false);
  text("source.session", e.source.session, false);
  text("source.request_id", e.source.request_id, false);
  if (s.ok()) s = CheckRefs("subjects", e.subjects, limits, rules);
  if (s.ok()) s = CheckRefs("inputs", e.inputs, limits, rules);
  if (s.ok()) s = CheckRefs("outputs", e.outputs, limits, rules);
  check(valid_enum(e.outcome.status, 2), "outcome.status", "unknown value ",
        static_cast<int>(e.outcome.status));
  text("outcome.error_code", e.outcome.error_code, false);
  text("region", e.region, false);
  text("purpose", e.purpose, false);
  text("run_id", e.run_id, false);
  text("parent_run_id", e.parent_run_id, false);
  check(e.attributes.size() <= limits.max_attributes, "attributes",
        e.attributes.size(), " items exceed the limit of ",
        limits.max_attributes);
  for (size_t i = 0; s.ok() && i < e.attributes.size(); ++i) {
    const auto& [key, value] = e.attributes[i];
    s = CheckString({"attributes", i, "key"}, key, max_str, true, rules);
    if (s.ok() && i > 0 && !(e.attributes[i - 1].first < key)) {
      s = Invalid({"attributes", i, "key"},
                  key == e.attributes[i - 1].first
                      ? "duplicate key "
                      : "keys must be in strictly increasing byte order, got ",
                  Quote(key));
    }
    if (s.ok()) {
      s = CheckString({"attributes", i, "value"}, value,
                      limits.max_attribute_value_bytes, false, rules,
                      /*multiline=*/true);
    }
  }
  check(e.payload.size() <= limits.max_payload_bytes, "payload",
        e.payload.size(), " bytes exceed the limit of ",
        limits.max_payload_bytes);
  if (!s.ok()) return s;
  const size_t size = EncodedEventSize(e);
  if (size > limits.max_event_bytes) {
    return absl::InvalidArgumentError(
        StrCat("event: canonical encoding of ", size,
               " bytes exceeds the limit of ", limits.max_event_bytes));
  }
  return absl::OkStatus();
}

bool IsKnownEventType(std::string_view type) {
  return std::binary_search(kEventTypes.begin(), kEventTypes.end(), type);
}

std::string QuoteForMessage(std::string_view text) { return Quote(text); }

bool IsLedgerInternalType(std::string_view type) {
  return std::binary_search(kLedgerInternalTypes.begin(),
                            kLedgerInternalTypes.end(), type);
}

}  // namespace ledger
