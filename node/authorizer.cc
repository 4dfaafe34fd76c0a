#include "node/authorizer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "base/strings.h"
#include "node/log_limit.h"

namespace ledger::node {
namespace {

constexpr RoleSet kE = Bit(Role::kEmitter);
constexpr RoleSet kO = Bit(Role::kOfficer);
constexpr RoleSet kR = Bit(Role::kRegulator);
constexpr RoleSet kA = Bit(Role::kAdmin);
constexpr RoleSet kN = Bit(Role::kNode);
constexpr RoleSet Roles(RoleSet a, RoleSet b = 0, RoleSet c = 0,
                        RoleSet d = 0) {
  return static_cast<RoleSet>(a | b | c | d);
}

// The table of authorizer.h. A method missing here is answered
// UNIMPLEMENTED to every TLS caller: a new RPC is closed until it is added.
constexpr MethodRule kRules[] = {
    {"/ledger.v1.Ingest/Append", kE, true},
    {"/ledger.v1.Ingest/AppendBatch", kE, true},
    {"/ledger.v1.Ingest/AppendStream", kE, true},
    {"/ledger.v1.Ingest/GetPayloadKey", kE, true},
    {"/ledger.v1.Proof/GetCheckpoint", Roles(kE, kO, kR, kA), false},
    {"/ledger.v1.Proof/GetConsistencyProof", Roles(kE, kO, kR, kA), false},
    {"/ledger.v1.Proof/GetInclusionProof", Roles(kO, kR), true},
    {"/ledger.v1.Proof/GetReceipt", Roles(kE, kO, kR), true},
    {"/ledger.v1.Query/GetEntry", Roles(kO, kR), true},
    {"/ledger.v1.Query/GetEntries", Roles(kO, kR), true},
    {"/ledger.v1.Query/History", Roles(kO, kR), true},
    {"/ledger.v1.Query/LabelHistory", Roles(kO, kR), true},
    {"/ledger.v1.Query/WhoTouched", Roles(kO, kR), true},
    {"/ledger.v1.Query/ActorActivity", Roles(kO, kR), true},
    {"/ledger.v1.Query/Lineage", Roles(kO, kR), true},
    {"/ledger.v1.Query/CrossBorder", Roles(kO, kR), true},
    {"/ledger.v1.Query/Orphans", Roles(kO, kR), true},
    {"/ledger.v1.Query/RiskFindings", Roles(kO, kR), true},
    {"/ledger.v1.Query/GradeExplain", Roles(kO, kR), true},
    {"/ledger.v1.Query/RiskSummary", Roles(kO, kR), true},
    {"/ledger.v1.Admin/RegisterEmitterKey", kA, false},
    {"/ledger.v1.Admin/RevokeEmitterKey", kA, false},
    {"/ledger.v1.Admin/RotateEmitterKey", kA, false},
    {"/ledger.v1.Admin/EraseSubject", kA, false},
    {"/ledger.v1.Admin/SetRiskPolicy", kA, false},
    {"/ledger.v1.Admin/ListKeys", Roles(kO, kR, kA), true},
    {"/ledger.v1.Admin/GetNodeInfo", kAllRoles, false},
    // Served on the cluster listener only (node/cluster.h).
    {"/ledger.v1.Replication/Replicate", kN, false},
    {"/ledger.v1.Replication/Fetch", kN, false},
    {"/grpc.health.v1.Health/Check", kAllRoles, false},
    {"/grpc.health.v1.Health/Watch", kAllRoles, false},
    {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", kA,
     false},
    // The HTTP port (node/http_server.h). Checkpoints and hash tiles reveal
    // what consistency proofs do (hashes only); entry bundles hold every
    // tenant's events, so only a role that may read every tenant's entries
    // gets them (docs/decisions.md, "tlog-tiles over HTTP").
    {kHttpCheckpoint, Roles(kE, kO, kR, kA), false},
    {kHttpHashTile, Roles(kE, kO, kR, kA), false},
    {kHttpEntryBundle, kR, false},
    {kHttpMetrics, kAllRoles, false},
};

// Refusals are logged, but boundedly: a client can cause them at will.
LogLimiter& RefusalLog() {
  static LogLimiter* limiter = new LogLimiter(10, absl::Seconds(10));
  return *limiter;
}

// Client-supplied text (a method name, a tenant) fit for a message.
std::string Printable(std::string_view s) {
  std::string out(s.substr(0, 200));
  for (char& c : out) {
    if (c < 0x20 || c >= 0x7F) c = '?';
  }
  return out;
}

void LogRefusal(std::string_view what) {
  uint64_t suppressed = 0;
  if (!RefusalLog().Allow(&suppressed)) return;
  if (suppressed > 0) {
    spdlog::warn("refused: {} ({} more refusals not logged)", what, suppressed);
  } else {
    spdlog::warn("refused: {}", what);
  }
}

}  // namespace

absl::Span<const MethodRule> MethodRules() { return kRules; }

const MethodRule* FindMethodRule(std::string_view method) {
  for (const MethodRule& rule : kRules) {
    if (rule.method == method) return &rule;
  }
  return nullptr;
}

Authorizer::Authorizer(std::unique_ptr<AccessPolicy> policy,
                       AuthorizerOptions options, DenialRecorder* denials)
    : policy_(std::move(policy)), options_(options), denials_(denials) {
  if (policy_ == nullptr) return;
  buckets_ = std::make_unique<Bucket[]>(policy_->size());
  const int64_t now = options_.clock->NowNs();
  for (size_t i = 0; i < policy_->size(); ++i) {
    Bucket& bucket = buckets_[i];
    MutexLock lock(&bucket.mu);
    bucket.units =
        static_cast<int64_t>(options_.rate_limit_burst) * kUnitsPerToken;
    bucket.last_ns = now;
  }
}

Authorizer::~Authorizer() = default;

grpc::Status Authorizer::Process(const InputMetadata& auth_metadata,
                                 grpc::AuthContext* context,
                                 OutputMetadata* /*consumed_auth_metadata*/,
                                 OutputMetadata* /*response_metadata*/) {
  std::string_view method;
  if (auto it = auth_metadata.find(":path"); it != auth_metadata.end()) {
    method = std::string_view(it->second.data(), it->second.size());
  }
  return Admit(method, *context);
}

grpc::Status Authorizer::Admit(std::string_view method,
                               const grpc::AuthContext& peer) {
  if (policy_ == nullptr) return grpc::Status::OK;
  absl::Status s = AdmitCaller(method, policy_->Match(peer), [&peer] {
    return AccessPolicy::DescribePeer(peer);
  });
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      std::string(s.message()));
}

absl::Status Authorizer::AdmitHttp(std::string_view resource,
                                   absl::Span<const std::string> uris,
                                   std::string_view common_name) {
  if (policy_ == nullptr) return absl::OkStatus();
  return AdmitCaller(resource, policy_->Match(uris, common_name), [&] {
    return uris.empty() ? StrCat("cn ", Printable(common_name))
                        : StrCat("uri ", Printable(uris[0]));
  });
}

absl::Status Authorizer::AdmitCaller(
    std::string_view method, const Caller* caller,
    const std::function<std::string()>& describe_peer) {
  if (caller == nullptr) {
    ++unauthenticated_;
    const std::string who = describe_peer();
    LogRefusal(StrCat("a client whose certificate (", who,
                      ") is not in the access policy called ",
                      Printable(method)));
    return absl::UnauthenticatedError(
        StrCat("the client certificate (", who,
               ") is not in this node's access policy; ask the node's "
               "operator to add its SAN URI with a role"));
  }
  if (const int64_t wait_ms = TakeToken(*caller); wait_ms > 0) {
    ++rate_limited_;
    return absl::ResourceExhaustedError(
        StrCat(caller->identity, " exceeded its rate limit of ",
               options_.rate_limit_per_identity, " requests/s (burst ",
               options_.rate_limit_burst, "); retry in ", wait_ms, " ms"));
  }
  const MethodRule* rule = FindMethodRule(method);
  if (rule == nullptr) {
    return absl::UnimplementedError(
        StrCat("method ", Printable(method), " is not served by this node"));
  }
  if ((caller->roles & rule->roles) == 0) {
    Deny(*caller, method,
         StrCat("role ", RoleSetName(caller->roles), " may not call ", method,
                " (it is for ", RoleSetName(rule->roles), ")"));
    return absl::PermissionDeniedError(
        StrCat(caller->Describe(), " may not call ", method,
               ": it is for the role(s) ", RoleSetName(rule->roles)));
  }
  return absl::OkStatus();
}

const Caller* Authorizer::CallerOf(
    const grpc::ServerContextBase& context) const {
  if (policy_ == nullptr) return &InsecurePlaintextCaller();
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return nullptr;
  return policy_->Match(*auth);
}

absl::Status Authorizer::CheckTenant(const Caller& caller,
                                     std::string_view method,
                                     std::string_view tenant,
                                     std::string_view what) {
  if (caller.MaySee(tenant)) return absl::OkStatus();
  const std::string shown = Printable(tenant);
  Deny(caller, method,
       StrCat(what, " of tenant \"", shown, "\" (not the caller's)"));
  return absl::PermissionDeniedError(StrCat(
      caller.Describe(), " may not ", what, " of tenant \"", shown, "\": role ",
      RoleSetName(caller.roles), " is limited to its own tenants"));
}

absl::Status Authorizer::Refuse(const Caller& caller, std::string_view method,
                                absl::Status refusal) {
  if (refusal.ok() || !secure()) return refusal;
  Deny(caller, method, ToStd(refusal.message()));
  return refusal;
}

int64_t Authorizer::TakeToken(const Caller& caller) {
  if (options_.rate_limit_per_identity == 0) return 0;
  // ValidateTransport bounds both by 1e9, so nothing here overflows.
  const auto rate = static_cast<int64_t>(options_.rate_limit_per_identity);
  const int64_t capacity =
      static_cast<int64_t>(options_.rate_limit_burst) * kUnitsPerToken;
  Bucket& bucket = buckets_[caller.index];
  const int64_t now = options_.clock->NowNs();
  MutexLock lock(&bucket.mu);
  if (now > bucket.last_ns) {
    const int64_t elapsed = now - bucket.last_ns;
    bucket.units = elapsed >= capacity / rate
                       ? capacity
                       : std::min(capacity, bucket.units + elapsed * rate);
    bucket.last_ns = now;
  }
  if (bucket.units >= kUnitsPerToken) {
    bucket.units -= kUnitsPerToken;
    return 0;
  }
  const int64_t wait_ns = (kUnitsPerToken - bucket.units + rate - 1) / rate;
  return std::max<int64_t>(1, (wait_ns + 999'999) / 1'000'000);
}

void Authorizer::Deny(const Caller& caller, std::string_view method,
                      std::string_view reason) {
  ++denied_;
  if (DenialRecorder* d = denials_.load(std::memory_order_acquire)) {
    d->Record(caller, method, reason);
  }
  LogRefusal(StrCat(caller.identity, ": ", reason));
}

}  // namespace ledger::node
