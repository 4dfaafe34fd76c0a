#pragma once

// The access policy: which client certificate is which caller, with which
// role and tenants. A TOML file of [[identity]] tables:
//
//   [[identity]]
//   uri = "spiffe://annotation-ledger/emitter/acme-labeler"  # a SAN URI
//   role = "emitter"     # emitter | officer | regulator | admin | node
//   tenants = ["acme"]   # emitter: exactly one; officer: one or more;
//                        # regulator, admin, node: none
//
// An identity names its certificate by `uri` (one of the certificate's SAN
// URIs, exact match) or, for a certificate without any SAN URI, by
// `common_name` (the subject's CN, exact match). The identity string the
// ledger records for a caller (the actor of the entries written at its
// request, and of access.denied entries) is the uri, or "cn:<common name>".
//
// What each role may call is the authorization table in node/authorizer.h.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "grpcpp/security/auth_context.h"

namespace ledger::node {

enum class Role : uint8_t {
  kEmitter = 1,
  kOfficer = 2,
  kRegulator = 4,
  kAdmin = 8,
  kNode = 16,
};
// A set of roles, one bit per Role.
using RoleSet = uint8_t;
inline constexpr RoleSet kAllRoles = 31;
inline constexpr RoleSet Bit(Role r) { return static_cast<RoleSet>(r); }

// "emitter", "officer", "regulator", "admin", "node".
std::string_view RoleName(Role role);
// "officer", or "emitter|admin" for several.
std::string RoleSetName(RoleSet roles);

// An authenticated caller. Callers from a policy have one role; the
// insecure-plaintext caller has all of them and every tenant.
struct Caller {
  std::string identity;
  RoleSet roles = 0;
  std::vector<std::string> tenants;  // in the policy's order
  bool all_tenants = false;
  // The caller's position in its policy, 0 .. size()-1 (per-caller state
  // is kept in arrays indexed by it); 0 for the insecure-plaintext caller.
  size_t index = 0;

  bool Has(Role role) const { return (roles & Bit(role)) != 0; }
  // Whether the caller may see data of `tenant` where a method is limited
  // to a caller's own tenants: its own tenants, or every tenant for a
  // regulator, an admin and the insecure-plaintext caller.
  bool MaySee(std::string_view tenant) const;
  // Whether the caller sees every tenant (see MaySee).
  bool SeesAllTenants() const;
  // "identity (role officer, tenants acme, beta)": how messages name it.
  std::string Describe() const;
  // The tenant of the access.denied entries recorded about the caller: its
  // first tenant, or "_ledger" if it has none.
  std::string_view RecordTenant() const;
};

// The caller of every request to a node serving insecure_plaintext: the
// identity "insecure-plaintext" with every role and every tenant.
const Caller& InsecurePlaintextCaller();

class AccessPolicy {
 public:
  // Parses and validates a policy; `source` (a file name) and the line
  // prefix every error, which names the identity and the field:
  // InvalidArgument for syntax errors, unknown keys, a missing or bad
  // role, tenants that do not fit the role, an identity named twice, a
  // policy without identities.
  static absl::StatusOr<AccessPolicy> Parse(std::string_view text,
                                            std::string_view source);
  // Reads and parses a file (NotFound if it is missing).
  static absl::StatusOr<AccessPolicy> Load(const std::string& path);

  AccessPolicy(AccessPolicy&&) = default;
  AccessPolicy& operator=(AccessPolicy&&) = default;

  // The caller a certificate maps to: the identity whose uri is the first
  // of `uris` (the certificate's SAN URIs, in its order) that has one, or,
  // for a certificate without SAN URIs, the identity with its subject CN.
  // nullptr if none. The pointer lives as long as the policy.
  const Caller* Match(absl::Span<const std::string> uris,
                      std::string_view common_name) const;
  // The same for a peer authenticated by gRPC's TLS: its "peer_uri" and
  // "x509_common_name" properties.
  const Caller* Match(const grpc::AuthContext& peer) const;

  // How a peer's certificate presents itself when no identity matches:
  // "uri <first SAN URI>" or "cn <CN>" (for messages and logs; bounded).
  static std::string DescribePeer(const grpc::AuthContext& peer);

  // The callers, in the file's order (caller(i).index == i).
  size_t size() const { return callers_.size(); }
  const Caller& caller(size_t i) const { return *callers_[i]; }

 private:
  AccessPolicy() = default;

  std::vector<std::unique_ptr<Caller>> callers_;
  absl::flat_hash_map<std::string, const Caller*> by_uri_;
  absl::flat_hash_map<std::string, const Caller*> by_common_name_;
};

}  // namespace ledger::node
