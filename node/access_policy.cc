#include "node/access_policy.h"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include "base/strings.h"
#include "crypto/key_file.h"
#include "ledger/event.h"

namespace ledger::node {
namespace {

constexpr std::array<Role, 5> kRoles = {Role::kEmitter, Role::kOfficer,
                                        Role::kRegulator, Role::kAdmin,
                                        Role::kNode};
// The identity strings end up in entries (actor.id, at most
// EventLimits::max_string_bytes) and in messages.
constexpr size_t kMaxIdentityBytes = 512;
constexpr size_t kMaxTenantBytes = 128;  // as in ledger/FORMAT.md 3.2

absl::string_view Absl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role r : kRoles) {
    if (RoleName(r) == name) return r;
  }
  return std::nullopt;
}

// Printable ASCII; spaces only where `allow_space`.
bool IsPrintable(std::string_view s, bool allow_space) {
  return std::all_of(s.begin(), s.end(), [allow_space](char c) {
    return (c > 0x20 && c < 0x7F) || (allow_space && c == ' ');
  });
}

// [A-Za-z0-9][A-Za-z0-9._-]{0,127}, the tenant syntax of events.
bool IsTenantName(std::string_view s) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
  };
  if (s.empty() || s.size() > kMaxTenantBytes || !alnum(s[0])) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return alnum(c) || c == '.' || c == '_' || c == '-';
  });
}

uint64_t Line(const toml::node& node) {
  return static_cast<uint64_t>(node.source().begin.line);
}

// Builds one Caller from an [[identity]] table; errors are
// "<source>:<line>: identity[<n>].<field>: ...".
class IdentityParser {
 public:
  IdentityParser(std::string_view source, size_t n, const toml::table& table)
      : source_(source), n_(n), table_(table) {}

  absl::StatusOr<Caller> Parse(std::string* uri, std::string* common_name) {
    std::optional<Role> role;
    bool has_tenants = false;
    Caller caller;
    for (auto&& [key, node] : table_) {
      const std::string_view k = key.str();
      if (k == "uri" || k == "common_name") {
        const auto* v = node.as_string();
        if (v == nullptr) return Error(node, k, "must be a string");
        std::string& out = k == "uri" ? *uri : *common_name;
        out = v->get();
        if (out.empty()) return Error(node, k, "must not be empty");
        if (out.size() > kMaxIdentityBytes) {
          return Error(node, k,
                       StrCat("longer than ", kMaxIdentityBytes, " bytes"));
        }
        if (!IsPrintable(out, k == "common_name")) {
          return Error(node, k,
                       "must be printable ASCII (no control characters"
                       " or non-ASCII bytes; a uri has no spaces)");
        }
      } else if (k == "role") {
        const auto* v = node.as_string();
        if (v == nullptr) return Error(node, k, "must be a string");
        role = ParseRole(v->get());
        if (!role.has_value()) {
          return Error(node, k,
                       StrCat("\"", v->get(),
                              "\" is not a role (emitter, officer, regulator, "
                              "admin, node)"));
        }
      } else if (k == "tenants") {
        has_tenants = true;
        const toml::array* list = node.as_array();
        if (list == nullptr) {
          return Error(node, k, "must be a list of tenant names");
        }
        for (const toml::node& t : *list) {
          const auto* v = t.as_string();
          if (v == nullptr || !IsTenantName(v->get())) {
            return Error(t, k,
                         "each tenant must match [A-Za-z0-9][A-Za-z0-9._-]* "
                         "(at most 128 characters), as event tenants do");
          }
          if (std::find(caller.tenants.begin(), caller.tenants.end(),
                        v->get()) != caller.tenants.end()) {
            return Error(t, k, StrCat("\"", v->get(), "\" is listed twice"));
          }
          caller.tenants.push_back(v->get());
        }
      } else {
        return Error(node, k,
                     "unknown key (known: uri, common_name, role, tenants)");
      }
    }
    if (uri->empty() == common_name->empty()) {
      return Error(table_, "uri",
                   "give exactly one of uri (a SAN URI of the certificate) "
                   "and common_name (its subject CN, for a certificate "
                   "without SAN URIs)");
    }
    if (!role.has_value()) {
      return Error(table_, "role",
                   "required (emitter, officer, regulator, admin, node)");
    }
    caller.roles = Bit(*role);
    caller.identity = uri->empty() ? StrCat("cn:", *common_name) : *uri;
    const size_t tenants = caller.tenants.size();
    const toml::node& at = has_tenants ? *table_.get("tenants") : table_;
    switch (*role) {
      case Role::kEmitter:
        if (tenants != 1) {
          return Error(
              at, "tenants",
              StrCat("an emitter writes exactly one tenant; got ", tenants));
        }
        break;
      case Role::kOfficer:
        if (tenants == 0) {
          return Error(at, "tenants", "an officer needs one or more tenants");
        }
        break;
      case Role::kRegulator:
      case Role::kAdmin:
      case Role::kNode:
        if (has_tenants) {
          return Error(at, "tenants",
                       StrCat("a ", RoleName(*role),
                              " is not limited to tenants; remove the list"));
        }
        break;
    }
    return caller;
  }

 private:
  absl::Status Error(const toml::node& node, std::string_view field,
                     std::string_view what) const {
    return absl::InvalidArgumentError(StrCat(
        source_, ":", Line(node), ": identity[", n_, "].", field, ": ", what));
  }

  std::string_view source_;
  size_t n_;
  const toml::table& table_;
};

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kEmitter:
      return "emitter";
    case Role::kOfficer:
      return "officer";
    case Role::kRegulator:
      return "regulator";
    case Role::kAdmin:
      return "admin";
    case Role::kNode:
      return "node";
  }
  return "unknown";
}

std::string RoleSetName(RoleSet roles) {
  std::string out;
  for (Role r : kRoles) {
    if ((roles & Bit(r)) == 0) continue;
    if (!out.empty()) out += "|";
    out += RoleName(r);
  }
  return out.empty() ? "none" : out;
}

bool Caller::MaySee(std::string_view tenant) const {
  if (SeesAllTenants()) return true;
  return std::find(tenants.begin(), tenants.end(), tenant) != tenants.end();
}

bool Caller::SeesAllTenants() const {
  return all_tenants || Has(Role::kRegulator) || Has(Role::kAdmin);
}

std::string Caller::Describe() const {
  std::string out = StrCat(identity, " (role ", RoleSetName(roles));
  if (all_tenants) {
    out += ", every tenant";
  } else if (!tenants.empty()) {
    out += tenants.size() == 1 ? ", tenant " : ", tenants ";
    for (size_t i = 0; i < tenants.size(); ++i) {
      out += StrCat(i == 0 ? "" : ", ", tenants[i]);
    }
  }
  return out + ")";
}

std::string_view Caller::RecordTenant() const {
  return tenants.empty() ? kLedgerTenant : std::string_view(tenants[0]);
}

const Caller& InsecurePlaintextCaller() {
  static const Caller* caller = [] {
    auto* c = new Caller;
    c->identity = "insecure-plaintext";
    c->roles = kAllRoles;
    c->all_tenants = true;
    return c;
  }();
  return *caller;
}

absl::StatusOr<AccessPolicy> AccessPolicy::Parse(std::string_view text,
                                                 std::string_view source) {
  toml::table table;
  // toml++ reports syntax errors by exception; they stop here.
  try {
    table = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(
        StrCat(source, ":", static_cast<uint64_t>(e.source().begin.line), ": ",
               e.description()));
  }
  AccessPolicy policy;
  for (auto&& [key, node] : table) {
    if (key.str() != "identity") {
      return absl::InvalidArgumentError(
          StrCat(source, ":", Line(node), ": ", key.str(),
                 ": unknown key (the policy is a list of [[identity]] "
                 "tables)"));
    }
    const toml::array* identities = node.as_array();
    if (identities == nullptr) {
      return absl::InvalidArgumentError(
          StrCat(source, ":", Line(node),
                 ": identity: must be a list of tables ([[identity]])"));
    }
    for (const toml::node& entry : *identities) {
      const size_t n = policy.callers_.size();
      const toml::table* t = entry.as_table();
      if (t == nullptr) {
        return absl::InvalidArgumentError(StrCat(
            source, ":", Line(entry), ": identity[", n, "]: must be a table"));
      }
      std::string uri, common_name;
      absl::StatusOr<Caller> caller =
          IdentityParser(source, n, *t).Parse(&uri, &common_name);
      if (!caller.ok()) return caller.status();
      caller->index = n;
      auto& index = uri.empty() ? policy.by_common_name_ : policy.by_uri_;
      const std::string& name = uri.empty() ? common_name : uri;
      if (auto it = index.find(Absl(name)); it != index.end()) {
        return absl::InvalidArgumentError(
            StrCat(source, ":", Line(*t), ": identity[", n, "].",
                   uri.empty() ? "common_name" : "uri", ": \"", name,
                   "\" is already identity[", it->second->index,
                   "]; a certificate maps to one identity"));
      }
      policy.callers_.push_back(std::make_unique<Caller>(*std::move(caller)));
      index.emplace(name, policy.callers_.back().get());
    }
  }
  if (policy.callers_.empty()) {
    return absl::InvalidArgumentError(
        StrCat(source,
               ": the policy names no identity, so no client could call the "
               "node; add [[identity]] tables (uri, role, tenants)"));
  }
  return policy;
}

absl::StatusOr<AccessPolicy> AccessPolicy::Load(const std::string& path) {
  absl::StatusOr<std::string> text = crypto::ReadFileToString(path);
  if (!text.ok()) return Annotate(text.status(), "access policy");
  return Parse(*text, path);
}

const Caller* AccessPolicy::Match(absl::Span<const std::string> uris,
                                  std::string_view common_name) const {
  for (const std::string& uri : uris) {
    if (auto it = by_uri_.find(Absl(uri)); it != by_uri_.end()) {
      return it->second;
    }
  }
  if (!uris.empty() || common_name.empty()) return nullptr;
  auto it = by_common_name_.find(Absl(common_name));
  return it == by_common_name_.end() ? nullptr : it->second;
}

const Caller* AccessPolicy::Match(const grpc::AuthContext& peer) const {
  // Called for every call (twice: Admit, and the handler's CallerOf), so
  // the properties are looked up in place, not copied.
  const std::vector<grpc::string_ref> uris =
      peer.FindPropertyValues("peer_uri");
  for (const grpc::string_ref& uri : uris) {
    auto it = by_uri_.find(absl::string_view(uri.data(), uri.size()));
    if (it != by_uri_.end()) return it->second;
  }
  if (!uris.empty()) return nullptr;
  for (const grpc::string_ref& cn :
       peer.FindPropertyValues("x509_common_name")) {
    auto it = by_common_name_.find(absl::string_view(cn.data(), cn.size()));
    return it == by_common_name_.end() ? nullptr : it->second;
  }
  return nullptr;
}

std::string AccessPolicy::DescribePeer(const grpc::AuthContext& peer) {
  auto bounded = [](const grpc::string_ref& v) {
    std::string s(v.data(), std::min<size_t>(v.size(), 200));
    for (char& c : s) {
      if (c < 0x20 || c >= 0x7F) c = '?';
    }
    return s;
  };
  for (const grpc::string_ref& v : peer.FindPropertyValues("peer_uri")) {
    return StrCat("uri ", bounded(v));
  }
  for (const grpc::string_ref& v :
       peer.FindPropertyValues("x509_common_name")) {
    return StrCat("cn ", bounded(v));
  }
  return "no certificate identity";
}

}  // namespace ledger::node
