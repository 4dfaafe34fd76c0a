#include "ledger/risk_policy.h"

#include <arpa/inet.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/status_macros.h"
#include "base/strings.h"
#include "ledger/event.h"

namespace ledger::risk {
namespace {

using absl::InvalidArgumentError;

// The event types each rule looks at unless the policy names others.
const std::vector<std::string>& DefaultTypes(int rule) {
  static const auto* defaults = [] {
    auto* d = new std::array<std::vector<std::string>, kRuleCount + 1>();
    (*d)[1] = {"dataset.exported", "data.shared"};
    (*d)[2] = {"data.transferred_cross_border"};
    (*d)[3] = {"data.transferred_cross_border"};
    (*d)[4] = {"annotation.created",   "annotation.updated",
               "annotation.submitted", "ground_truth.set",
               "review.accepted",      "review.rejected"};
    (*d)[5] = {"review.accepted", "review.rejected"};
    (*d)[6] = {"annotation.updated", "annotation.deleted"};
    (*d)[7] = {"item.viewed", "dataset.queried", "dataset.exported"};
    (*d)[8] = {"data.filtered",
               "data.cleaned",
               "data.deidentified",
               "data.aggregated",
               "dataset.exported",
               "data.shared",
               "data.transferred_cross_border",
               "prelabel.applied"};
    (*d)[15] = {"data.filtered",           "data.cleaned",
                "data.deidentified",       "data.aggregated",
                "dataset.version_created", "prelabel.applied",
                "annotation.created",      "dataset.exported"};
    return d;
  }();
  return (*defaults)[rule];
}

// Rules that have a `types` list.
bool HasTypes(int rule) { return !DefaultTypes(rule).empty(); }

class Parser {
 public:
  absl::Status Error(const toml::node& node, std::string_view path,
                     std::string_view what) const {
    return InvalidArgumentError(
        StrCat("line ", static_cast<uint64_t>(node.source().begin.line), ": ",
               path, ": ", what));
  }

  absl::Status String(const toml::node& node, std::string_view path,
                      std::string* out) const {
    const toml::value<std::string>* v = node.as_string();
    if (v == nullptr) return Error(node, path, "must be a string");
    *out = v->get();
    return absl::OkStatus();
  }

  absl::Status Bool(const toml::node& node, std::string_view path,
                    bool* out) const {
    const toml::value<bool>* v = node.as_boolean();
    if (v == nullptr) return Error(node, path, "must be true or false");
    *out = v->get();
    return absl::OkStatus();
  }

  absl::Status Int(const toml::node& node, std::string_view path, int64_t min,
                   int64_t* out) const {
    const toml::value<int64_t>* v = node.as_integer();
    if (v == nullptr) return Error(node, path, "must be an integer");
    if (v->get() < min) {
      return Error(node, path,
                   StrCat("must be at least ", min, ", got ", v->get()));
    }
    *out = v->get();
    return absl::OkStatus();
  }

  absl::Status Strings(const toml::node& node, std::string_view path,
                       std::vector<std::string>* out) const {
    const toml::array* a = node.as_array();
    if (a == nullptr) return Error(node, path, "must be an array of strings");
    out->clear();
    for (size_t i = 0; i < a->size(); ++i) {
      std::string s;
      LEDGER_RETURN_IF_ERROR(String((*a)[i], StrCat(path, "[", i, "]"), &s));
      out->push_back(std::move(s));
    }
    return absl::OkStatus();
  }

  absl::Status EventTypes(const toml::node& node, std::string_view path,
                          std::vector<std::string>* out) const {
    LEDGER_RETURN_IF_ERROR(Strings(node, path, out));
    const toml::array& a = *node.as_array();
    for (size_t i = 0; i < out->size(); ++i) {
      if (!IsKnownEventType((*out)[i])) {
        return Error(a[i], StrCat(path, "[", i, "]"),
                     StrCat("unknown event type ", QuoteForMessage((*out)[i])));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Flags(const toml::node& node, std::string_view path,
                     uint8_t* out) const {
    std::vector<std::string> names;
    LEDGER_RETURN_IF_ERROR(Strings(node, path, &names));
    *out = 0;
    for (size_t i = 0; i < names.size(); ++i) {
      uint8_t f = 0;
      if (!ParseFlags(names[i], &f) ||
          names[i].find(',') != std::string::npos || f == 0) {
        return Error((*node.as_array())[i], StrCat(path, "[", i, "]"),
                     StrCat("unknown flag ", QuoteForMessage(names[i]),
                            " (pi, sensitive_pi or minor)"));
      }
      *out |= f;
    }
    return absl::OkStatus();
  }

  absl::Status LevelOf(const toml::node& node, std::string_view path,
                       Level* out) const {
    std::string s;
    LEDGER_RETURN_IF_ERROR(String(node, path, &s));
    if (!ParseLevel(s, out)) {
      return Error(node, path,
                   StrCat("unknown level ", QuoteForMessage(s),
                          " (general, important or core)"));
    }
    return absl::OkStatus();
  }

  const toml::table* Table(const toml::node& node, std::string_view path,
                           absl::Status* status) const {
    const toml::table* t = node.as_table();
    if (t == nullptr) *status = Error(node, path, "must be a table");
    return t;
  }

  absl::Status Unknown(const toml::node& node, std::string_view path,
                       std::string_view known) const {
    return Error(node, path, StrCat("unknown key (known here: ", known, ")"));
  }

  absl::Status ParseCondition(const toml::node& node, std::string_view path,
                              Condition* c) const {
    absl::Status status;
    const toml::table* t = Table(node, path, &status);
    if (t == nullptr) return status;
    bool has_attribute = false;
    for (auto&& [k, v] : *t) {
      const std::string key(k.str());
      const std::string p = StrCat(path, ".", key);
      if (key == "attribute") {
        LEDGER_RETURN_IF_ERROR(String(v, p, &c->attribute));
        if (c->attribute.empty()) return Error(v, p, "must not be empty");
        has_attribute = true;
      } else if (key == "in") {
        LEDGER_RETURN_IF_ERROR(Strings(v, p, &c->in));
        if (c->in.empty()) return Error(v, p, "must not be empty");
      } else if (key == "at_least") {
        LEDGER_RETURN_IF_ERROR(Int(v, p, INT64_MIN, &c->at_least));
        c->has_at_least = true;
      } else if (key == "at_most") {
        LEDGER_RETURN_IF_ERROR(Int(v, p, INT64_MIN, &c->at_most));
        c->has_at_most = true;
      } else {
        return Unknown(v, p, "attribute, in, at_least, at_most");
      }
    }
    if (!has_attribute) return Error(node, path, "needs an attribute");
    if (c->in.empty() && !c->has_at_least && !c->has_at_most) {
      return Error(node, path, "needs in, at_least or at_most");
    }
    if (!c->in.empty() && (c->has_at_least || c->has_at_most)) {
      return Error(node, path, "takes either in or at_least/at_most");
    }
    return absl::OkStatus();
  }

  absl::Status ParseClassify(const toml::node& node, std::string_view path,
                             ClassifyRule* r) const {
    absl::Status status;
    const toml::table* t = Table(node, path, &status);
    if (t == nullptr) return status;
    bool has_level = false;
    for (auto&& [k, v] : *t) {
      const std::string key(k.str());
      const std::string p = StrCat(path, ".", key);
      if (key == "name") {
        LEDGER_RETURN_IF_ERROR(String(v, p, &r->name));
      } else if (key == "level") {
        LEDGER_RETURN_IF_ERROR(LevelOf(v, p, &r->level));
        has_level = true;
      } else if (key == "flags") {
        LEDGER_RETURN_IF_ERROR(Flags(v, p, &r->flags));
      } else if (key == "all") {
        const toml::array* a = v.as_array();
        if (a == nullptr || a->empty()) {
          return Error(v, p, "must be a non-empty array of conditions");
        }
        for (size_t i = 0; i < a->size(); ++i) {
          Condition c;
          LEDGER_RETURN_IF_ERROR(
              ParseCondition((*a)[i], StrCat(p, "[", i, "]"), &c));
          r->all.push_back(std::move(c));
        }
      } else {
        return Unknown(v, p, "name, level, flags, all");
      }
    }
    if (r->name.empty()) return Error(node, path, "needs a name");
    if (!has_level) return Error(node, path, "needs a level");
    if (r->all.empty()) return Error(node, path, "needs conditions (all)");
    return absl::OkStatus();
  }

  absl::Status ParseGrades(const toml::table& t, Policy* policy) const {
    for (auto&& [k, v] : t) {
      const std::string key(k.str());
      const std::string p = StrCat("grades.", key);
      if (key == "aggregation_subjects_threshold") {
        LEDGER_RETURN_IF_ERROR(
            Int(v, p, 0, &policy->aggregation_subjects_threshold));
      } else if (key == "deidentification_blocks") {
        LEDGER_RETURN_IF_ERROR(Flags(v, p, &policy->deidentification_blocks));
        if ((policy->deidentification_blocks & kMinor) != 0) {
          return Error(v, p, "may block only pi and sensitive_pi");
        }
      } else if (key == "classify") {
        const toml::array* a = v.as_array();
        if (a == nullptr) return Error(v, p, "must be an array of tables");
        for (size_t i = 0; i < a->size(); ++i) {
          ClassifyRule r;
          LEDGER_RETURN_IF_ERROR(
              ParseClassify((*a)[i], StrCat(p, "[", i, "]"), &r));
          policy->classify.push_back(std::move(r));
        }
      } else {
        return Unknown(v, p,
                       "aggregation_subjects_threshold, "
                       "deidentification_blocks, classify");
      }
    }
    return absl::OkStatus();
  }

  absl::Status ParseNetworks(const toml::node& node, std::string_view path,
                             std::vector<Network>* out) const {
    std::vector<std::string> texts;
    LEDGER_RETURN_IF_ERROR(Strings(node, path, &texts));
    for (size_t i = 0; i < texts.size(); ++i) {
      const std::string p = StrCat(path, "[", i, "]");
      const toml::node& item = (*node.as_array())[i];
      const std::string& text = texts[i];
      const size_t slash = text.find('/');
      const std::string addr = text.substr(0, slash);
      Network n;
      if (inet_pton(AF_INET, addr.c_str(), n.address.data()) == 1) {
        n.v6 = false;
      } else if (inet_pton(AF_INET6, addr.c_str(), n.address.data()) == 1) {
        n.v6 = true;
      } else {
        return Error(item, p,
                     StrCat(QuoteForMessage(text),
                            " is not an IPv4 or IPv6 network (CIDR)"));
      }
      const int max = n.v6 ? 128 : 32;
      n.prefix = max;
      if (slash != std::string::npos) {
        const std::string bits = text.substr(slash + 1);
        int value = 0;
        bool ok = !bits.empty() && bits.size() <= 3;
        for (char c : bits) {
          ok = ok && c >= '0' && c <= '9';
          value = value * 10 + (c - '0');
        }
        if (!ok || value > max) {
          return Error(item, p,
                       StrCat("prefix length of ", QuoteForMessage(text),
                              " must be 0 to ", max));
        }
        n.prefix = value;
      }
      out->push_back(n);
    }
    return absl::OkStatus();
  }

  absl::Status ParseRule(int rule, const toml::table& t, RulesConfig* r) const {
    const std::string base = StrCat("rules.R", rule);
    for (auto&& [k, v] : t) {
      const std::string key(k.str());
      const std::string p = StrCat(base, ".", key);
      if (key == "enabled") {
        LEDGER_RETURN_IF_ERROR(Bool(v, p, &r->enabled[rule]));
        continue;
      }
      if (key == "types" && HasTypes(rule)) {
        LEDGER_RETURN_IF_ERROR(EventTypes(v, p, &r->types[rule]));
        continue;
      }
      absl::Status s = ParseRuleNumber(rule, key, v, p, r);
      if (!absl::IsNotFound(s)) {
        LEDGER_RETURN_IF_ERROR(s);
        continue;
      }
      std::string known = "enabled";
      if (HasTypes(rule)) StrAppend(&known, ", types");
      for (std::string_view name : RuleKeys(rule))
        StrAppend(&known, ", ", name);
      return Unknown(v, p, known);
    }
    return absl::OkStatus();
  }

  static std::vector<std::string_view> RuleKeys(int rule) {
    switch (rule) {
      case 2:
        return {"assessment_valid_days"};
      case 3:
        return {"pi_persons_high", "pi_persons_critical",
                "sensitive_pi_persons_critical", "assessment_valid_days"};
      case 5:
        return {"annotate_types"};
      case 7:
        return {"baseline_days", "baseline_factor", "baseline_min_volume"};
      case 11:
        return {"window_seconds", "threshold"};
      case 12:
        return {"secure_networks"};
      case 14:
        return {"harmful_tags"};
      case 15:
        return {"max_illegal_share"};
      default:
        return {};
    }
  }

  // NotFound: not a key of this rule.
  absl::Status ParseRuleNumber(int rule, std::string_view key,
                               const toml::node& v, std::string_view p,
                               RulesConfig* r) const {
    const std::vector<std::string_view> keys = RuleKeys(rule);
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      return absl::NotFoundError(std::string(key));
    }
    if (key == "assessment_valid_days") {
      return Int(v, p, 1, &r->assessment_valid_days);
    }
    if (key == "pi_persons_high") return Int(v, p, 1, &r->pi_persons_high);
    if (key == "pi_persons_critical") {
      return Int(v, p, 1, &r->pi_persons_critical);
    }
    if (key == "sensitive_pi_persons_critical") {
      return Int(v, p, 1, &r->sensitive_pi_persons_critical);
    }
    if (key == "annotate_types") return EventTypes(v, p, &r->annotate_types);
    if (key == "baseline_days") return Int(v, p, 1, &r->baseline_days);
    if (key == "baseline_factor") return Int(v, p, 1, &r->baseline_factor);
    if (key == "baseline_min_volume") {
      return Int(v, p, 1, &r->baseline_min_volume);
    }
    if (key == "window_seconds") {
      return Int(v, p, 1, &r->failure_window_seconds);
    }
    if (key == "threshold") return Int(v, p, 1, &r->failure_threshold);
    if (key == "secure_networks") {
      return ParseNetworks(v, p, &r->secure_networks);
    }
    if (key == "harmful_tags") return Strings(v, p, &r->harmful_tags);
    // max_illegal_share
    const toml::value<double>* d = v.as_floating_point();
    const toml::value<int64_t>* i = v.as_integer();
    double share = d != nullptr   ? d->get()
                   : i != nullptr ? static_cast<double>(i->get())
                                  : -1;
    if ((d == nullptr && i == nullptr) || !std::isfinite(share) || share < 0 ||
        share > 1) {
      return Error(v, p, "must be a number from 0 to 1 (a share, 0.05 = 5%)");
    }
    r->max_illegal_share = share;
    return absl::OkStatus();
  }

  absl::Status ParseRules(const toml::table& t, RulesConfig* r) const {
    for (auto&& [k, v] : t) {
      const std::string key(k.str());
      const std::string p = StrCat("rules.", key);
      int rule = 0;
      if (key.size() >= 2 && key.size() <= 3 && key[0] == 'R' &&
          key[1] >= '1' && key[1] <= '9') {
        rule = key[1] - '0';
        if (key.size() == 3) {
          rule =
              key[2] >= '0' && key[2] <= '9' ? rule * 10 + (key[2] - '0') : 0;
        }
      }
      if (rule < 1 || rule > kRuleCount) {
        return Error(v, p, "unknown rule (R1 to R15)");
      }
      absl::Status status;
      const toml::table* rt = Table(v, p, &status);
      if (rt == nullptr) return status;
      LEDGER_RETURN_IF_ERROR(ParseRule(rule, *rt, r));
    }
    if (r->pi_persons_high > r->pi_persons_critical) {
      return InvalidArgumentError(
          StrCat("rules.R3: pi_persons_high (", r->pi_persons_high,
                 ") must not exceed pi_persons_critical (",
                 r->pi_persons_critical, ")"));
    }
    return absl::OkStatus();
  }
};

}  // namespace

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kGeneral:
      return "general";
    case Level::kImportant:
      return "important";
    case Level::kCore:
      return "core";
  }
  return "unknown";
}

bool ParseLevel(std::string_view text, Level* out) {
  if (text == "general") {
    *out = Level::kGeneral;
  } else if (text == "important") {
    *out = Level::kImportant;
  } else if (text == "core") {
    *out = Level::kCore;
  } else {
    return false;
  }
  return true;
}

std::string FlagsText(uint8_t flags) {
  std::string out;
  const auto add = [&](uint8_t f, std::string_view name) {
    if ((flags & f) == 0) return;
    if (!out.empty()) out += ',';
    out += name;
  };
  add(kPi, "pi");
  add(kSensitivePi, "sensitive_pi");
  add(kMinor, "minor");
  return out;
}

bool ParseFlags(std::string_view text, uint8_t* out) {
  *out = 0;
  if (text.empty()) return true;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string_view name = text.substr(
        start, comma == std::string_view::npos ? text.npos : comma - start);
    if (name == "pi") {
      *out |= kPi;
    } else if (name == "sensitive_pi") {
      *out |= kSensitivePi;
    } else if (name == "minor") {
      *out |= kMinor;
    } else {
      return false;
    }
    if (comma == std::string_view::npos) return true;
    start = comma + 1;
  }
}

bool InNetworks(const std::vector<Network>& networks, std::string_view ip) {
  std::array<uint8_t, 16> addr{};
  const std::string text(ip);
  bool v6 = false;
  if (inet_pton(AF_INET, text.c_str(), addr.data()) != 1) {
    if (inet_pton(AF_INET6, text.c_str(), addr.data()) != 1) return false;
    v6 = true;
  }
  for (const Network& n : networks) {
    if (n.v6 != v6) continue;
    const int full = n.prefix / 8;
    if (std::memcmp(addr.data(), n.address.data(), full) != 0) continue;
    const int rest = n.prefix % 8;
    if (rest != 0) {
      const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
      if ((addr[full] & mask) != (n.address[full] & mask)) continue;
    }
    return true;
  }
  return false;
}

bool RulesConfig::Has(int rule, std::string_view type) const {
  const std::vector<std::string>& list = types[rule];
  return std::find(list.begin(), list.end(), type) != list.end();
}

absl::StatusOr<Policy> ParsePolicy(std::string_view text) {
  toml::table table;
  try {
    table = toml::parse(text);
  } catch (const toml::parse_error& e) {
    return InvalidArgumentError(
        StrCat("line ", static_cast<uint64_t>(e.source().begin.line), ": ",
               e.description()));
  }
  Policy policy;
  for (int rule = 1; rule <= kRuleCount; ++rule) {
    policy.rules.enabled[rule] = true;
    policy.rules.types[rule] = DefaultTypes(rule);
  }
  policy.rules.annotate_types = {"annotation.created", "annotation.updated",
                                 "annotation.submitted"};
  policy.rules.harmful_tags = {"illegal", "harmful"};
  Parser parser;
  bool has_name = false;
  for (auto&& [k, v] : table) {
    const std::string key(k.str());
    if (key == "name") {
      LEDGER_RETURN_IF_ERROR(parser.String(v, key, &policy.name));
      has_name = true;
    } else if (key == "grades") {
      absl::Status status;
      const toml::table* t = parser.Table(v, key, &status);
      if (t == nullptr) return status;
      LEDGER_RETURN_IF_ERROR(parser.ParseGrades(*t, &policy));
    } else if (key == "rules") {
      absl::Status status;
      const toml::table* t = parser.Table(v, key, &status);
      if (t == nullptr) return status;
      LEDGER_RETURN_IF_ERROR(parser.ParseRules(*t, &policy.rules));
    } else {
      return parser.Unknown(v, key, "name, [grades], [rules]");
    }
  }
  if (!has_name || policy.name.empty()) {
    return InvalidArgumentError("line 1: name: the policy needs a name");
  }
  return policy;
}

}  // namespace ledger::risk
