#include "ledger/risk_policy.h"

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ledger::risk {
namespace {

using ::testing::HasSubstr;

absl::Status ErrorOf(std::string_view text) {
  return ParsePolicy(text).status();
}

TEST(RiskPolicy, MinimalPolicyGetsTheDefaults) {
  absl::StatusOr<Policy> p = ParsePolicy("name = \"p\"\n");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->name, "p");
  for (int rule = 1; rule <= kRuleCount; ++rule) {
    EXPECT_TRUE(p->rules.enabled[rule]) << rule;
  }
  EXPECT_TRUE(p->rules.Has(1, "dataset.exported"));
  EXPECT_FALSE(p->rules.Has(1, "item.viewed"));
  EXPECT_EQ(p->rules.pi_persons_high, 100000);
  EXPECT_EQ(p->rules.pi_persons_critical, 1000000);
  EXPECT_EQ(p->rules.sensitive_pi_persons_critical, 10000);
  EXPECT_EQ(p->deidentification_blocks, kPi | kSensitivePi);
}

TEST(RiskPolicy, ReadsEverySection) {
  absl::StatusOr<Policy> p = ParsePolicy(R"(name = "full"
[grades]
aggregation_subjects_threshold = 500
deidentification_blocks = ["pi"]
[[grades.classify]]
name = "health"
level = "important"
flags = ["pi", "sensitive_pi"]
all = [{ attribute = "data.domain", in = ["health", "medical"] },
       { attribute = "data.subjects", at_least = 1000 }]
[rules.R1]
types = ["dataset.exported"]
[rules.R3]
pi_persons_high = 10
pi_persons_critical = 20
[rules.R7]
enabled = false
[rules.R12]
secure_networks = ["10.0.0.0/8", "2001:db8::/32", "192.168.1.7"]
[rules.R15]
max_illegal_share = 0.1
)");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->aggregation_subjects_threshold, 500);
  EXPECT_EQ(p->deidentification_blocks, kPi);
  ASSERT_EQ(p->classify.size(), 1u);
  EXPECT_EQ(p->classify[0].level, Level::kImportant);
  EXPECT_EQ(p->classify[0].flags, kPi | kSensitivePi);
  ASSERT_EQ(p->classify[0].all.size(), 2u);
  EXPECT_EQ(p->classify[0].all[1].at_least, 1000);
  EXPECT_FALSE(p->rules.Has(1, "data.shared"));
  EXPECT_EQ(p->rules.pi_persons_high, 10);
  EXPECT_FALSE(p->rules.enabled[7]);
  EXPECT_DOUBLE_EQ(p->rules.max_illegal_share, 0.1);
  const auto& nets = p->rules.secure_networks;
  EXPECT_TRUE(InNetworks(nets, "10.200.3.4"));
  EXPECT_FALSE(InNetworks(nets, "11.0.0.1"));
  EXPECT_TRUE(InNetworks(nets, "2001:db8:1::5"));
  EXPECT_FALSE(InNetworks(nets, "2001:db9::5"));
  EXPECT_TRUE(InNetworks(nets, "192.168.1.7"));
  EXPECT_FALSE(InNetworks(nets, "192.168.1.8"));
  EXPECT_FALSE(InNetworks(nets, "not an address"));
}

TEST(RiskPolicy, ErrorsNameTheLineAndTheField) {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      // malformed TOML
      {"name = \"p\"\n[rules\n", "line 2: "},
      // no name
      {"[rules.R1]\nenabled = true\n", "name: the policy needs a name"},
      // unknown rule
      {"name = \"p\"\n[rules.R16]\nenabled = true\n",
       "line 2: rules.R16: unknown rule (R1 to R15)"},
      {"name = \"p\"\n[rules.X1]\n", "rules.X1: unknown rule"},
      // unknown key of a rule
      {"name = \"p\"\n[rules.R9]\nthreshold = 3\n",
       "line 3: rules.R9.threshold: unknown key (known here: enabled)"},
      // bad threshold
      {"name = \"p\"\n[rules.R3]\npi_persons_high = -4\n",
       "line 3: rules.R3.pi_persons_high: must be at least 1, got -4"},
      // type mismatch
      {"name = \"p\"\n\n[rules.R11]\nthreshold = \"five\"\n",
       "line 4: rules.R11.threshold: must be an integer"},
      {"name = \"p\"\n[rules.R2]\nenabled = 1\n",
       "line 3: rules.R2.enabled: must be true or false"},
      {"name = \"p\"\n[rules.R1]\ntypes = [\"dataset.sold\"]\n",
       "line 3: rules.R1.types[0]: unknown event type 'dataset.sold'"},
      {"name = \"p\"\n[rules.R15]\nmax_illegal_share = 5\n",
       "line 3: rules.R15.max_illegal_share: must be a number from 0 to 1"},
      {"name = \"p\"\n[rules.R12]\nsecure_networks = [\"10.0.0.0/33\"]\n",
       "rules.R12.secure_networks[0]: prefix length of '10.0.0.0/33' must be "
       "0 to 32"},
      {"name = \"p\"\n[rules.R12]\nsecure_networks = [\"intranet\"]\n",
       "'intranet' is not an IPv4 or IPv6 network"},
      {"name = \"p\"\n[grades]\n[[grades.classify]]\nname = \"x\"\n"
       "level = \"secret\"\nall = [{ attribute = \"a\", in = [\"b\"] }]\n",
       "line 5: grades.classify[0].level: unknown level 'secret'"},
      {"name = \"p\"\n[grades]\n[[grades.classify]]\nname = \"x\"\n"
       "level = \"core\"\nall = [{ attribute = \"a\" }]\n",
       "grades.classify[0].all[0]: needs in, at_least or at_most"},
      {"name = \"p\"\n[grades]\ndeidentification_blocks = [\"minor\"]\n",
       "line 3: grades.deidentification_blocks: may block only pi and "
       "sensitive_pi"},
      {"name = \"p\"\ncolour = \"red\"\n",
       "line 2: colour: unknown key (known here: name, [grades], [rules])"},
      {"name = \"p\"\n[rules.R3]\npi_persons_high = 50\n"
       "pi_persons_critical = 10\n",
       "rules.R3: pi_persons_high (50) must not exceed pi_persons_critical"},
  };
  for (const Case& c : cases) {
    absl::Status s = ErrorOf(c.text);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << c.text << "\n" << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.error)) << c.text;
  }
}

TEST(RiskPolicy, LevelsAndFlagsRoundTrip) {
  for (Level l : {Level::kGeneral, Level::kImportant, Level::kCore}) {
    Level back;
    ASSERT_TRUE(ParseLevel(LevelName(l), &back));
    EXPECT_EQ(back, l);
  }
  EXPECT_LT(Level::kGeneral, Level::kImportant);
  EXPECT_LT(Level::kImportant, Level::kCore);
  for (uint8_t f = 0; f <= kAllFlags; ++f) {
    uint8_t back = 0xff;
    ASSERT_TRUE(ParseFlags(FlagsText(f), &back)) << FlagsText(f);
    EXPECT_EQ(back, f);
  }
  uint8_t out = 0;
  EXPECT_TRUE(ParseFlags("minor,pi", &out));
  EXPECT_EQ(out, kMinor | kPi);
  EXPECT_FALSE(ParseFlags("pi,,minor", &out));
  EXPECT_FALSE(ParseFlags("PI", &out));
}

TEST(RiskPolicy, TheShippedDefaultPolicyParses) {
  std::ifstream in(LEDGER_DEFAULT_POLICY);
  ASSERT_TRUE(in) << LEDGER_DEFAULT_POLICY;
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<Policy> p = ParsePolicy(text.str());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->classify.empty());
}

}  // namespace
}  // namespace ledger::risk
