#pragma once

// Authorization, in one place. Every call to a node serving mutual TLS
// passes Authorizer::Admit before anything else happens to it: gRPC runs
// it (as the server credentials' AuthMetadataProcessor) once the request's
// headers have arrived and before the request message is read or the
// method's handler runs, for every method, gRPC's health and reflection
// services included. Admit
//
//   1. maps the peer's certificate to a Caller through the access policy
//      (UNAUTHENTICATED for a certificate the policy does not know; such
//      calls are counted, not recorded);
//   2. takes a token from the caller's bucket (RESOURCE_EXHAUSTED with the
//      wait in the message past `rate_limit_per_identity` requests/s and
//      a burst of `rate_limit_burst`);
//   3. looks the method up in the table below (UNIMPLEMENTED for a method
//      the node does not serve) and refuses a caller none of whose roles
//      may call it: PERMISSION_DENIED naming the identity, its role and the
//      method, counted and recorded as an access.denied entry
//      (node/denial_recorder.h).
//
// Roles x methods (mirrored in README.md's security model):
//
//   method                                   emitter officer regul. admin node
//   Ingest.Append, AppendBatch, AppendStream  own*     -       -      -     -
//   Ingest.GetPayloadKey                      own*     -       -      -     -
//   Proof.GetCheckpoint, GetConsistencyProof  yes     yes     yes    yes    -
//   Proof.GetInclusionProof                    -      own*    yes     -     -
//   Proof.GetReceipt                          own*    own*    yes     -     -
//   Query.GetEntry, GetEntries                 -      own*    yes     -     -
//   Query.History, LabelHistory, WhoTouched,   -      own*    yes     -     -
//     ActorActivity, Lineage, CrossBorder,
//     Orphans (provenance), RiskFindings,
//     GradeExplain, RiskSummary (risk)
//   Admin.Register/Revoke/RotateEmitterKey     -       -       -     yes    -
//   Admin.EraseSubject                         -       -       -     yes    -
//   Admin.ListKeys                             -      own*    yes    yes    -
//   Admin.GetNodeInfo, grpc.health.v1.Health  yes     yes     yes    yes   yes
//   Replication.Replicate, Fetch (cluster      -       -       -      -    yes
//     listener only)
//   reflection (when enabled)                  -       -       -     yes    -
//   HTTP GET /checkpoint, /tile/<L>/<N>        yes     yes     yes    yes    -
//   HTTP GET /tile/entries/<N>                 -       -       yes     -     -
//   HTTP GET /metrics                          yes     yes     yes    yes   yes
//
// own*: the method is allowed, and what it touches is limited to the
// caller's own tenants. That needs the request (the events' tenant, the
// entry read), so the services check it with CheckTenant, the one helper
// for it, which refuses and records like Admit. An append the caller's
// role and tenant allow may still be refused for its signing key; the
// ingest service reports that through Refuse, which counts and records it
// the same way.
//
// With insecure_plaintext there is no TLS and no AuthMetadataProcessor:
// every caller is InsecurePlaintextCaller() (every role, every tenant) and
// nothing is checked or limited.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/types/span.h"
#include "base/sync.h"
#include "grpcpp/security/auth_metadata_processor.h"
#include "grpcpp/server_context.h"
#include "node/access_policy.h"
#include "node/clock.h"
#include "node/denial_recorder.h"

namespace ledger::node {

// One row of the table: a full method name ("/ledger.v1.Ingest/Append")
// and the roles that may call it; `own_tenants` marks the methods whose
// services limit emitters and officers to their tenants (CheckTenant).
struct MethodRule {
  std::string_view method;
  RoleSet roles;
  bool own_tenants;
};

// The rows of the HTTP port's resources (node/http_server.h).
inline constexpr std::string_view kHttpCheckpoint = "GET /checkpoint";
inline constexpr std::string_view kHttpHashTile = "GET /tile/<L>/<N>";
inline constexpr std::string_view kHttpEntryBundle = "GET /tile/entries/<N>";
inline constexpr std::string_view kHttpMetrics = "GET /metrics";

// The whole table, and one row of it (nullptr for a method not in it).
absl::Span<const MethodRule> MethodRules();
const MethodRule* FindMethodRule(std::string_view method);

struct AuthorizerOptions {
  // Requests per second and burst of each identity's token bucket; a rate
  // of 0 turns the limit off.
  uint64_t rate_limit_per_identity = 20'000;
  uint64_t rate_limit_burst = 40'000;
  // Measures the buckets. Not owned; must outlive the authorizer.
  const Clock* clock = nullptr;
};

class Authorizer final : public grpc::AuthMetadataProcessor {
 public:
  // `policy` null: the node serves insecure_plaintext. `denials` (not
  // owned, may be null in tests) records denied requests.
  Authorizer(std::unique_ptr<AccessPolicy> policy, AuthorizerOptions options,
             DenialRecorder* denials);
  ~Authorizer() override;

  // Whether calls are authenticated (mutual TLS with a policy).
  bool secure() const { return policy_ != nullptr; }

  // grpc::AuthMetadataProcessor: Admit() for the call's ":path". Runs on
  // the thread that read the headers, so it never blocks.
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& auth_metadata,
                       grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

  // The decision about a call of `method` by the TLS peer `peer` (see the
  // file comment). Thread-safe.
  grpc::Status Admit(std::string_view method, const grpc::AuthContext& peer);

  // The same decision for a request to the HTTP port: `resource` is one of
  // the kHttp* rows, `uris` and `common_name` the SAN URIs and subject CN
  // of the TLS peer's certificate. OK, Unauthenticated, ResourceExhausted
  // (rate limit) or PermissionDenied (counted and recorded as for gRPC).
  // Thread-safe.
  absl::Status AdmitHttp(std::string_view resource,
                         absl::Span<const std::string> uris,
                         std::string_view common_name);

  // Denials are recorded here from now on (before: counted only). For a
  // node whose recorder needs the ledger, which the authorizer must guard
  // (the HTTP port's metrics) before the ledger is open.
  void SetDenialRecorder(DenialRecorder* denials) {
    denials_.store(denials, std::memory_order_release);
  }

  // The caller of a call this node admitted, for its handler: the policy's
  // identity for the peer (the same answer Admit had), or the
  // insecure-plaintext caller. nullptr only for a peer the policy does not
  // know, which Admit never lets through.
  const Caller* CallerOf(const grpc::ServerContextBase& context) const;

  // The shared tenant check: OK if `caller` may see data of `tenant`
  // (Caller::MaySee); otherwise PermissionDenied naming the caller, `what`
  // it asked for and the tenant, counted and recorded like a denial by
  // Admit. `method` names the call in the record.
  absl::Status CheckTenant(const Caller& caller, std::string_view method,
                           std::string_view tenant, std::string_view what);

  // A call its method and tenant allow, refused by the service because the
  // caller lacks another authority it claims: for an append, the signing
  // key (the batch signature does not verify; the key is not registered,
  // revoked, rotated out, expired, not yet valid, or bound to another
  // tenant or producer). Counted and recorded like a denial by Admit, the
  // record's reason being `refusal`'s message (which names the key);
  // returns `refusal` unchanged. Not for bad input (a malformed event, an
  // occurred_at outside the window, an unknown field): that is no attempt
  // to act without authority, and it is neither counted nor recorded. With
  // insecure_plaintext nothing is counted or recorded (as CheckTenant,
  // which refuses nobody there).
  absl::Status Refuse(const Caller& caller, std::string_view method,
                      absl::Status refusal);

  // Counters for Admin.GetNodeInfo: requests refused for a role, a tenant
  // or a signing key (denied; CheckTenant, Refuse), for a certificate the
  // policy does not know (unauthenticated), for the rate limit (rate
  // limited).
  uint64_t denied_requests() const { return denied_.load(); }
  uint64_t unauthenticated_requests() const { return unauthenticated_.load(); }
  uint64_t rate_limited_requests() const { return rate_limited_.load(); }

 private:
  // Tokens are counted in billionths, so that refilling at `rate` tokens
  // per second adds `rate` units per nanosecond: exact integer arithmetic.
  struct Bucket {
    Mutex mu;
    int64_t units ABSL_GUARDED_BY(mu) = 0;
    int64_t last_ns ABSL_GUARDED_BY(mu) = 0;
  };
  static constexpr int64_t kUnitsPerToken = 1'000'000'000;

  // 0 if `caller` may make a request now, else the milliseconds until it
  // may.
  int64_t TakeToken(const Caller& caller);
  // Admit for a caller already matched (nullptr: the peer is not in the
  // policy; `describe_peer` says how its certificate presents itself).
  absl::Status AdmitCaller(std::string_view method, const Caller* caller,
                           const std::function<std::string()>& describe_peer);
  // Counts, records and describes a denial.
  void Deny(const Caller& caller, std::string_view method,
            std::string_view reason);

  const std::unique_ptr<AccessPolicy> policy_;
  const AuthorizerOptions options_;
  std::atomic<DenialRecorder*> denials_;
  // One per policy caller (Caller::index).
  std::unique_ptr<Bucket[]> buckets_;
  std::atomic<uint64_t> denied_{0};
  std::atomic<uint64_t> unauthenticated_{0};
  std::atomic<uint64_t> rate_limited_{0};
};

}  // namespace ledger::node
