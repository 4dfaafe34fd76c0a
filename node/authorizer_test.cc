// The authorizer's decisions without a network: a peer is a fake
// AuthContext with the properties gRPC's TLS would give it.

#include "node/authorizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "base/strings.h"

namespace ledger::node {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kMs = 1'000'000;

class FakePeer : public grpc::AuthContext {
 public:
  FakePeer(std::vector<std::string> uris, std::string common_name) {
    properties_["peer_uri"] = std::move(uris);
    if (!common_name.empty()) {
      properties_["x509_common_name"] = {std::move(common_name)};
    }
  }
  bool IsPeerAuthenticated() const override { return true; }
  std::vector<grpc::string_ref> GetPeerIdentity() const override {
    return FindPropertyValues("peer_uri");
  }
  std::string GetPeerIdentityPropertyName() const override {
    return "peer_uri";
  }
  std::vector<grpc::string_ref> FindPropertyValues(
      const std::string& name) const override {
    std::vector<grpc::string_ref> out;
    auto it = properties_.find(name);
    if (it == properties_.end()) return out;
    for (const std::string& v : it->second) out.emplace_back(v);
    return out;
  }
  grpc::AuthPropertyIterator begin() const override { return Iterator(); }
  grpc::AuthPropertyIterator end() const override { return Iterator(); }
  void AddProperty(const std::string&, const grpc::string_ref&) override {}
  bool SetPeerIdentityPropertyName(const std::string&) override {
    return false;
  }

 private:
  struct Iterator : grpc::AuthPropertyIterator {};
  std::map<std::string, std::vector<std::string>> properties_;
};

constexpr char kPolicy[] = R"(
[[identity]]
uri = "spiffe://annotation-ledger/emitter/a"
role = "emitter"
tenants = ["acme"]

[[identity]]
uri = "spiffe://annotation-ledger/officer/o"
role = "officer"
tenants = ["acme"]

[[identity]]
uri = "spiffe://annotation-ledger/admin/x"
role = "admin"
)";

class AuthorizerTest : public ::testing::Test {
 protected:
  void Make(uint64_t rate, uint64_t burst) {
    absl::StatusOr<AccessPolicy> policy = AccessPolicy::Parse(kPolicy, "p");
    ASSERT_TRUE(policy.ok()) << policy.status();
    recorder_ = std::make_unique<DenialRecorder>(
        &clock_, DenialRecorderOptions{},
        [](Event) { return absl::OkStatus(); });
    AuthorizerOptions options;
    options.rate_limit_per_identity = rate;
    options.rate_limit_burst = burst;
    options.clock = &clock_;
    authorizer_ = std::make_unique<Authorizer>(
        std::make_unique<AccessPolicy>(*std::move(policy)), options,
        recorder_.get());
  }
  void SetUp() override { Make(20'000, 40'000); }

  FakeClock clock_;
  std::unique_ptr<DenialRecorder> recorder_;  // not started: counts only
  std::unique_ptr<Authorizer> authorizer_;
  const FakePeer emitter_{{"spiffe://annotation-ledger/emitter/a"}, "a"};
  const FakePeer officer_{{"spiffe://annotation-ledger/officer/o"}, "o"};
  const FakePeer admin_{{"spiffe://annotation-ledger/admin/x"}, "x"};
};

TEST_F(AuthorizerTest, RolesAgainstTheTable) {
  EXPECT_TRUE(authorizer_->Admit("/ledger.v1.Ingest/Append", emitter_).ok());
  EXPECT_TRUE(
      authorizer_->Admit("/ledger.v1.Admin/RegisterEmitterKey", admin_).ok());
  EXPECT_TRUE(
      authorizer_->Admit("/grpc.health.v1.Health/Check", officer_).ok());
  grpc::Status s = authorizer_->Admit("/ledger.v1.Ingest/Append", officer_);
  EXPECT_EQ(s.error_code(), grpc::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(),
            "spiffe://annotation-ledger/officer/o (role officer, tenant acme) "
            "may not call /ledger.v1.Ingest/Append: it is for the role(s) "
            "emitter");
  s = authorizer_->Admit("/ledger.v1.Admin/RevokeEmitterKey", emitter_);
  EXPECT_EQ(s.error_code(), grpc::PERMISSION_DENIED);
  EXPECT_EQ(authorizer_->denied_requests(), 2u);
  EXPECT_EQ(recorder_->denials(), 2u);
}

TEST_F(AuthorizerTest, HttpResourcesByRoleAsDecided) {
  const std::vector<std::string> emitter = {
      "spiffe://annotation-ledger/emitter/a"};
  const std::vector<std::string> officer = {
      "spiffe://annotation-ledger/officer/o"};
  const std::vector<std::string> admin = {"spiffe://annotation-ledger/admin/x"};
  // Checkpoint, hash tiles and metrics: every role of this policy.
  for (const auto* uris : {&emitter, &officer, &admin}) {
    EXPECT_TRUE(authorizer_->AdmitHttp(kHttpCheckpoint, *uris, "").ok());
    EXPECT_TRUE(authorizer_->AdmitHttp(kHttpHashTile, *uris, "").ok());
    EXPECT_TRUE(authorizer_->AdmitHttp(kHttpMetrics, *uris, "").ok());
  }
  // Entry bundles hold every tenant's events: none of these roles.
  for (const auto* uris : {&emitter, &officer, &admin}) {
    absl::Status s = authorizer_->AdmitHttp(kHttpEntryBundle, *uris, "");
    EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
    EXPECT_THAT(std::string(s.message()),
                HasSubstr("may not call GET /tile/entries/<N>: it is for the "
                          "role(s) regulator"));
  }
  EXPECT_EQ(authorizer_->denied_requests(), 3u);
  EXPECT_EQ(recorder_->denials(), 3u);
  // A certificate the policy does not know, by URI or by CN.
  absl::Status s = authorizer_->AdmitHttp(
      kHttpMetrics, {"spiffe://annotation-ledger/regulator/z"}, "");
  EXPECT_TRUE(absl::IsUnauthenticated(s)) << s;
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("uri spiffe://annotation-ledger/regulator/z"));
  s = authorizer_->AdmitHttp(kHttpMetrics, {}, "somebody");
  EXPECT_THAT(std::string(s.message()), HasSubstr("cn somebody"));
  EXPECT_EQ(authorizer_->unauthenticated_requests(), 2u);
}

TEST_F(AuthorizerTest, HttpRequestsShareTheIdentitysRateLimit) {
  Make(1, 3);
  const std::vector<std::string> admin = {"spiffe://annotation-ledger/admin/x"};
  EXPECT_TRUE(authorizer_->Admit("/ledger.v1.Admin/GetNodeInfo", admin_).ok());
  EXPECT_TRUE(authorizer_->AdmitHttp(kHttpMetrics, admin, "").ok());
  EXPECT_TRUE(authorizer_->AdmitHttp(kHttpCheckpoint, admin, "").ok());
  absl::Status s = authorizer_->AdmitHttp(kHttpHashTile, admin, "");
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_EQ(authorizer_->rate_limited_requests(), 1u);
}

TEST_F(AuthorizerTest, UnknownPeersAreUnauthenticatedAndNotRecorded) {
  const FakePeer stranger({"spiffe://annotation-ledger/admin/z"}, "z");
  grpc::Status s = authorizer_->Admit("/ledger.v1.Admin/GetNodeInfo", stranger);
  EXPECT_EQ(s.error_code(), grpc::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(),
              HasSubstr("uri spiffe://annotation-ledger/admin/z"));
  // No SAN URI and an unknown CN; and nothing at all.
  EXPECT_EQ(
      authorizer_->Admit("/ledger.v1.Admin/GetNodeInfo", FakePeer({}, "q"))
          .error_code(),
      grpc::UNAUTHENTICATED);
  EXPECT_EQ(authorizer_->Admit("/ledger.v1.Admin/GetNodeInfo", FakePeer({}, ""))
                .error_code(),
            grpc::UNAUTHENTICATED);
  EXPECT_EQ(authorizer_->unauthenticated_requests(), 3u);
  EXPECT_EQ(authorizer_->denied_requests(), 0u);
  EXPECT_EQ(recorder_->denials(), 0u);
}

TEST_F(AuthorizerTest, UnknownOrMissingMethodIsNotServed) {
  grpc::Status s = authorizer_->Admit("/ledger.v1.Admin/Nope", admin_);
  EXPECT_EQ(s.error_code(), grpc::UNIMPLEMENTED);
  EXPECT_THAT(s.error_message(), HasSubstr("/ledger.v1.Admin/Nope"));
  EXPECT_EQ(authorizer_->Admit("", admin_).error_code(), grpc::UNIMPLEMENTED);
  EXPECT_EQ(authorizer_->Admit("/a\n\x01", admin_).error_message(),
            "method /a?? is not served by this node");
}

TEST_F(AuthorizerTest, ProcessTakesTheMethodFromThePath) {
  grpc::AuthMetadataProcessor::InputMetadata metadata;
  metadata.emplace(":path", "/ledger.v1.Admin/RegisterEmitterKey");
  grpc::AuthMetadataProcessor::OutputMetadata consumed, response;
  FakePeer peer = emitter_;
  EXPECT_EQ(
      authorizer_->Process(metadata, &peer, &consumed, &response).error_code(),
      grpc::PERMISSION_DENIED);
  metadata.clear();
  metadata.emplace(":path", "/ledger.v1.Ingest/AppendBatch");
  EXPECT_TRUE(authorizer_->Process(metadata, &peer, &consumed, &response).ok());
  EXPECT_TRUE(consumed.empty());
  EXPECT_TRUE(response.empty());
}

TEST_F(AuthorizerTest, TokenBucketPerIdentity) {
  Make(10, 3);  // 10 requests/s, bursts of 3
  const std::string method = "/ledger.v1.Admin/GetNodeInfo";
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(authorizer_->Admit(method, admin_).ok());
  grpc::Status s = authorizer_->Admit(method, admin_);
  EXPECT_EQ(s.error_code(), grpc::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(),
              HasSubstr("spiffe://annotation-ledger/admin/x exceeded its rate "
                        "limit of 10 requests/s (burst 3); retry in 100 ms"));
  // Another identity has its own bucket.
  EXPECT_TRUE(authorizer_->Admit(method, officer_).ok());
  // 40 ms later: 0.4 of a token, 60 ms to go.
  clock_.Advance(40 * kMs);
  s = authorizer_->Admit(method, admin_);
  EXPECT_THAT(s.error_message(), HasSubstr("retry in 60 ms"));
  clock_.Advance(60 * kMs);  // exactly one token again
  EXPECT_TRUE(authorizer_->Admit(method, admin_).ok());
  // A long pause refills up to the burst, not beyond.
  clock_.Advance(3600 * 1000 * kMs);
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(authorizer_->Admit(method, admin_).ok());
  EXPECT_FALSE(authorizer_->Admit(method, admin_).ok());
  EXPECT_EQ(authorizer_->rate_limited_requests(), 3u);
  EXPECT_EQ(authorizer_->denied_requests(), 0u);
  // Rate 0: no limit.
  Make(0, 1);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(authorizer_->Admit(method, admin_).ok());
  }
}

TEST_F(AuthorizerTest, CheckTenantRefusesAndRecordsOtherTenants) {
  absl::StatusOr<AccessPolicy> policy = AccessPolicy::Parse(kPolicy, "p");
  ASSERT_TRUE(policy.ok());
  const Caller& officer = policy->caller(1);
  EXPECT_TRUE(authorizer_
                  ->CheckTenant(officer, "/ledger.v1.Query/GetEntry", "acme",
                                "read entry 3")
                  .ok());
  absl::Status s = authorizer_->CheckTenant(
      officer, "/ledger.v1.Query/GetEntry", "beta", "read entry 4");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(std::string(s.message()),
            "spiffe://annotation-ledger/officer/o (role officer, tenant acme) "
            "may not read entry 4 of tenant \"beta\": role officer is limited "
            "to its own tenants");
  EXPECT_EQ(authorizer_->denied_requests(), 1u);
  EXPECT_EQ(recorder_->denials(), 1u);
  // An admin sees every tenant's keys.
  EXPECT_TRUE(authorizer_
                  ->CheckTenant(policy->caller(2), "/ledger.v1.Admin/ListKeys",
                                "beta", "list keys")
                  .ok());
}

TEST_F(AuthorizerTest, RefuseCountsAndRecordsAndReturnsTheStatus) {
  absl::StatusOr<AccessPolicy> policy = AccessPolicy::Parse(kPolicy, "p");
  ASSERT_TRUE(policy.ok());
  const Caller& emitter = policy->caller(0);
  const absl::Status refusal = absl::UnauthenticatedError(
      "batch signature does not verify for key 0123456789abcdef...");
  absl::Status s =
      authorizer_->Refuse(emitter, "/ledger.v1.Ingest/AppendBatch", refusal);
  EXPECT_EQ(s, refusal);
  EXPECT_EQ(authorizer_->denied_requests(), 1u);
  EXPECT_EQ(recorder_->denials(), 1u);
  // OK is no refusal.
  EXPECT_TRUE(
      authorizer_->Refuse(emitter, "/ledger.v1.Ingest/Append", absl::OkStatus())
          .ok());
  EXPECT_EQ(authorizer_->denied_requests(), 1u);
}

TEST(InsecureAuthorizerTest, RefuseNeitherCountsNorRecords) {
  FakeClock clock;
  DenialRecorder recorder(&clock, DenialRecorderOptions{},
                          [](Event) { return absl::OkStatus(); });
  AuthorizerOptions options;
  options.clock = &clock;
  Authorizer authorizer(nullptr, options, &recorder);
  const absl::Status refusal =
      absl::UnauthenticatedError("emitter key 0123456789abcdef is revoked");
  EXPECT_EQ(authorizer.Refuse(InsecurePlaintextCaller(),
                              "/ledger.v1.Ingest/Append", refusal),
            refusal);
  EXPECT_EQ(authorizer.denied_requests(), 0u);
  EXPECT_EQ(recorder.denials(), 0u);
}

TEST(InsecureAuthorizerTest, AdmitsEverything) {
  FakeClock clock;
  AuthorizerOptions options;
  options.clock = &clock;
  Authorizer authorizer(nullptr, options, nullptr);
  EXPECT_FALSE(authorizer.secure());
  FakePeer nobody({}, "");
  EXPECT_TRUE(
      authorizer.Admit("/ledger.v1.Admin/RegisterEmitterKey", nobody).ok());
  EXPECT_TRUE(authorizer.Admit("/anything", nobody).ok());
}

}  // namespace
}  // namespace ledger::node
