#include "node/access_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/strings.h"

namespace ledger::node {
namespace {

using ::testing::HasSubstr;

std::string Message(const absl::Status& s) {
  return std::string(ToStd(s.message()));
}

constexpr char kPolicy[] = R"(# Who may do what.
[[identity]]
uri = "spiffe://annotation-ledger/emitter/acme-labeler"
role = "emitter"
tenants = ["acme"]

[[identity]]
uri = "spiffe://annotation-ledger/officer/compliance"
role = "officer"
tenants = ["acme", "beta"]

[[identity]]
uri = "spiffe://annotation-ledger/regulator/cac"
role = "regulator"

[[identity]]
common_name = "legacy auditor"
role = "admin"
)";

TEST(AccessPolicyTest, MapsCertificatesToCallers) {
  absl::StatusOr<AccessPolicy> policy = AccessPolicy::Parse(kPolicy, "p.toml");
  ASSERT_TRUE(policy.ok()) << policy.status();
  ASSERT_EQ(policy->size(), 4u);

  const Caller* emitter = policy->Match(
      std::vector<std::string>{
          "spiffe://annotation-ledger/emitter/acme-labeler"},
      "acme-labeler");
  ASSERT_NE(emitter, nullptr);
  EXPECT_EQ(emitter->identity,
            "spiffe://annotation-ledger/emitter/acme-labeler");
  EXPECT_TRUE(emitter->Has(Role::kEmitter));
  EXPECT_FALSE(emitter->Has(Role::kOfficer));
  EXPECT_EQ(emitter->tenants, std::vector<std::string>{"acme"});
  EXPECT_EQ(emitter->index, 0u);
  EXPECT_TRUE(emitter->MaySee("acme"));
  EXPECT_FALSE(emitter->MaySee("beta"));
  EXPECT_EQ(emitter->RecordTenant(), "acme");

  // The first SAN URI with an identity wins; others are ignored.
  const Caller* officer = policy->Match(
      std::vector<std::string>{"spiffe://elsewhere/x",
                               "spiffe://annotation-ledger/officer/compliance"},
      "");
  ASSERT_NE(officer, nullptr);
  EXPECT_EQ(officer->index, 1u);
  EXPECT_TRUE(officer->MaySee("beta"));
  EXPECT_FALSE(officer->SeesAllTenants());
  EXPECT_EQ(officer->Describe(),
            "spiffe://annotation-ledger/officer/compliance (role officer, "
            "tenants acme, beta)");

  const Caller* regulator = policy->Match(
      std::vector<std::string>{"spiffe://annotation-ledger/regulator/cac"}, "");
  ASSERT_NE(regulator, nullptr);
  EXPECT_TRUE(regulator->SeesAllTenants());
  EXPECT_EQ(regulator->RecordTenant(), "_ledger");

  // A common name identifies only a certificate without SAN URIs.
  const Caller* admin = policy->Match({}, "legacy auditor");
  ASSERT_NE(admin, nullptr);
  EXPECT_EQ(admin->identity, "cn:legacy auditor");
  EXPECT_EQ(policy->Match(std::vector<std::string>{"spiffe://other/x"},
                          "legacy auditor"),
            nullptr);
  EXPECT_EQ(policy->Match({}, "someone"), nullptr);
  EXPECT_EQ(policy->Match({}, ""), nullptr);
  // Exact matches only.
  EXPECT_EQ(
      policy->Match(
          std::vector<std::string>{"spiffe://annotation-ledger/regulator/CAC"},
          ""),
      nullptr);
  EXPECT_EQ(
      policy->Match(
          std::vector<std::string>{"spiffe://annotation-ledger/regulator/cac/"},
          ""),
      nullptr);
}

TEST(AccessPolicyTest, InsecurePlaintextCallerMayDoEverything) {
  const Caller& c = InsecurePlaintextCaller();
  EXPECT_EQ(c.identity, "insecure-plaintext");
  for (Role r : {Role::kEmitter, Role::kOfficer, Role::kRegulator, Role::kAdmin,
                 Role::kNode}) {
    EXPECT_TRUE(c.Has(r));
  }
  EXPECT_TRUE(c.MaySee("anything"));
}

TEST(AccessPolicyTest, ErrorsNameTheLineTheIdentityAndTheField) {
  struct Case {
    std::string text;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"x = 1\n", "p.toml:1: x: unknown key"},
      {"", "names no identity"},
      {"[[identity]]\nuri = \"spiffe://a/b\"\n",
       "p.toml:1: identity[0].role: required"},
      {"[[identity]]\nuri = \"spiffe://a/b\"\nrole = \"boss\"\n",
       "p.toml:3: identity[0].role: \"boss\" is not a role"},
      {"[[identity]]\nrole = \"admin\"\n",
       "identity[0].uri: give exactly one of uri"},
      {"[[identity]]\nuri = \"spiffe://a/b\"\ncommon_name = \"b\"\nrole = "
       "\"admin\"\n",
       "identity[0].uri: give exactly one of uri"},
      {"[[identity]]\nuri = \"spiffe://a/b\"\nrole = \"emitter\"\n"
       "tenants = [\"a\", \"b\"]\n",
       "p.toml:4: identity[0].tenants: an emitter writes exactly one tenant; "
       "got 2"},
      {"[[identity]]\nuri = \"spiffe://a/b\"\nrole = \"emitter\"\n",
       "identity[0].tenants: an emitter writes exactly one tenant; got 0"},
      {"[[identity]]\nuri = \"spiffe://a/b\"\nrole = \"officer\"\n"
       "tenants = []\n",
       "identity[0].tenants: an officer needs one or more tenants"},
      {"[[identity]]\nuri = \"spiffe://a/b\"\nrole = \"regulator\"\n"
       "tenants = [\"a\"]\n",
       "p.toml:4: identity[0].tenants: a regulator is not limited to tenants"},
      {"[[identity]]\nuri = \"spiffe://a/b\"\nrole = \"emitter\"\n"
       "tenants = [\"acme ai\"]\n",
       "identity[0].tenants: each tenant must match"},
      {"[[identity]]\nuri = \"spiffe://a/b\"\nrole = \"emitter\"\n"
       "tenants = [\"_ledger\"]\n",
       "identity[0].tenants: each tenant must match"},
      {"[[identity]]\nuri = \"spiffe://a/b\"\nrole = \"officer\"\n"
       "tenants = [\"a\", \"a\"]\n",
       "identity[0].tenants: \"a\" is listed twice"},
      {"[[identity]]\nuri = \"spiffe://a b\"\nrole = \"admin\"\n",
       "p.toml:2: identity[0].uri: must be printable ASCII"},
      {"[[identity]]\nuri = \"\"\nrole = \"admin\"\n",
       "identity[0].uri: must not be empty"},
      {"[[identity]]\nuri = \"spiffe://a/b\"\nrole = \"admin\"\nteam = 1\n",
       "p.toml:4: identity[0].team: unknown key"},
      {"[[identity]]\nuri = \"spiffe://a/b\"\nrole = \"admin\"\n\n"
       "[[identity]]\nuri = \"spiffe://a/b\"\nrole = \"regulator\"\n",
       "p.toml:5: identity[1].uri: \"spiffe://a/b\" is already identity[0]"},
      {"[[identity]]\nuri = \"spiffe://a/b\nrole = \"admin\"\n", "p.toml:2:"},
      {"identity = \"x\"\n", "identity: must be a list of tables"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<AccessPolicy> policy = AccessPolicy::Parse(c.text, "p.toml");
    EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument)
        << c.text;
    EXPECT_THAT(Message(policy.status()), HasSubstr(c.message)) << c.text;
  }
}

TEST(AccessPolicyTest, MissingFileIsNotFound) {
  absl::StatusOr<AccessPolicy> policy =
      AccessPolicy::Load("/nonexistent/access-policy.toml");
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(policy.status()), HasSubstr("access policy"));
}

TEST(AccessPolicyTest, RoleNames) {
  EXPECT_EQ(RoleSetName(Bit(Role::kOfficer)), "officer");
  EXPECT_EQ(RoleSetName(
                static_cast<RoleSet>(Bit(Role::kEmitter) | Bit(Role::kAdmin))),
            "emitter|admin");
  EXPECT_EQ(RoleSetName(0), "none");
}

}  // namespace
}  // namespace ledger::node
