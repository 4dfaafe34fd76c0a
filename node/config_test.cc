#include "node/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "base/strings.h"

namespace ledger::node {
namespace {

using ::testing::HasSubstr;

std::string Message(const absl::Status& s) {
  return std::string(ToStd(s.message()));
}

TEST(ConfigTest, EmptyFileGivesDefaults) {
  absl::StatusOr<NodeConfig> c = ParseConfig("", "node.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen, "127.0.0.1:7400");
  EXPECT_EQ(c->node_name, "node-1");
  EXPECT_EQ(c->origin, "");
  EXPECT_EQ(c->checkpoint_interval, absl::Seconds(1));
  EXPECT_EQ(c->empty_interval, absl::Seconds(60));
  EXPECT_EQ(c->max_group_events, 20000u);
  EXPECT_EQ(c->max_message_bytes, size_t{16} << 20);
  EXPECT_EQ(c->grpc_memory_bytes, size_t{256} << 20);
  EXPECT_EQ(c->log_level, "info");
  EXPECT_EQ(c->limits.max_event_bytes, EventLimits{}.max_event_bytes);
}

// A cluster node's [cluster] table, with TLS to etcd; and what is refused.
TEST(ConfigTest, ClusterTable) {
  constexpr char kBase[] = R"(
data_dir = "/d"
origin = "example.org/log"
node_name = "n1"
[cluster]
listen = "127.0.0.1:7411"
etcd_endpoints = ["127.0.0.1:2379", "127.0.0.1:2389"]
log_key_file = "log.key"
lease_ttl = "3s"
[[cluster.peers]]
name = "n2"
address = "127.0.0.1:7420"
cluster_address = "127.0.0.1:7421"
)";
  absl::StatusOr<NodeConfig> c = ParseConfig(kBase, "/etc/n1.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->cluster.enabled());
  EXPECT_EQ(c->cluster.etcd_endpoints.size(), 2u);
  EXPECT_EQ(c->cluster.lease_ttl, absl::Seconds(3));
  EXPECT_EQ(c->cluster.log_key_file, "/etc/log.key");
  ASSERT_EQ(c->cluster.peers.size(), 1u);
  EXPECT_EQ(c->cluster.peers[0].cluster_address, "127.0.0.1:7421");
  EXPECT_TRUE(ValidateConfig(*c).ok()) << ValidateConfig(*c);
  EXPECT_TRUE(c->cluster.etcd_ca_file.empty());

  c = ParseConfig(StrCat(kBase, R"(
[cluster]
)"),
                  "/etc/n1.toml");
  EXPECT_FALSE(c.ok());  // a table defined twice is TOML's error

  // TLS to etcd: file paths relative to the config file.
  std::string tls(kBase);
  tls.insert(tls.find("lease_ttl"),
             "etcd_ca_file = \"etcd-ca.pem\"\n"
             "etcd_cert_file = \"n1-etcd.pem\"\n"
             "etcd_key_file = \"n1-etcd.key\"\n"
             "etcd_tls_name = \"etcd.local\"\n");
  c = ParseConfig(tls, "/etc/n1.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->cluster.etcd_ca_file, "/etc/etcd-ca.pem");
  EXPECT_EQ(c->cluster.etcd_cert_file, "/etc/n1-etcd.pem");
  EXPECT_EQ(c->cluster.etcd_key_file, "/etc/n1-etcd.key");
  EXPECT_EQ(c->cluster.etcd_tls_name, "etcd.local");
  EXPECT_TRUE(ValidateConfig(*c).ok()) << ValidateConfig(*c);

  std::string partial(kBase);
  partial.insert(partial.find("lease_ttl"), "etcd_ca_file = \"ca.pem\"\n");
  c = ParseConfig(partial, "/etc/n1.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(Message(ValidateConfig(*c)), HasSubstr("needs all three"));

  std::string name_only(kBase);
  name_only.insert(name_only.find("lease_ttl"), "etcd_tls_name = \"x\"\n");
  c = ParseConfig(name_only, "/etc/n1.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(Message(ValidateConfig(*c)),
              HasSubstr("etcd_tls_name is set but TLS to etcd is not"));

  std::string unknown(kBase);
  unknown.insert(unknown.find("lease_ttl"), "etcd_tls = true\n");
  c = ParseConfig(unknown, "/etc/n1.toml");
  EXPECT_THAT(Message(c.status()), HasSubstr("etcd_tls_name)"));
}

// The example shipped for operators parses, and states the defaults.
TEST(ConfigTest, ShippedExampleParsesToTheDefaults) {
  std::ifstream in(LEDGER_DEPLOY_CONFIG);
  ASSERT_TRUE(in.good()) << LEDGER_DEPLOY_CONFIG;
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<NodeConfig> c = ParseConfig(text.str(), "ledger-node.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<NodeConfig> defaults = ParseConfig("", "node.toml");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(c->data_dir, "/var/lib/annotation-ledger");
  EXPECT_EQ(c->listen, defaults->listen);
  EXPECT_EQ(c->node_name, defaults->node_name);
  EXPECT_EQ(c->checkpoint_interval, defaults->checkpoint_interval);
  EXPECT_EQ(c->empty_interval, defaults->empty_interval);
  EXPECT_EQ(c->max_group_events, defaults->max_group_events);
  EXPECT_EQ(c->max_message_bytes, defaults->max_message_bytes);
  EXPECT_EQ(c->block_cache_bytes, defaults->block_cache_bytes);
  EXPECT_EQ(c->max_queued_events, defaults->max_queued_events);
  EXPECT_EQ(c->max_queued_bytes, defaults->max_queued_bytes);
  EXPECT_EQ(c->grpc_memory_bytes, defaults->grpc_memory_bytes);
  EXPECT_EQ(c->full_check_max_entries, defaults->full_check_max_entries);
  EXPECT_EQ(c->scrub_rate, defaults->scrub_rate);
  EXPECT_EQ(c->scrub_interval, defaults->scrub_interval);
  EXPECT_EQ(c->log_level, defaults->log_level);
  EXPECT_EQ(c->max_future_skew, defaults->max_future_skew);
  EXPECT_EQ(c->max_event_age, defaults->max_event_age);
  EXPECT_EQ(c->limits.max_event_bytes, defaults->limits.max_event_bytes);
  EXPECT_EQ(c->limits.max_refs, defaults->limits.max_refs);
  EXPECT_EQ(c->limits.max_payload_bytes, defaults->limits.max_payload_bytes);
  EXPECT_EQ(c->insecure_plaintext, defaults->insecure_plaintext);
  EXPECT_EQ(c->idle_timeout, defaults->idle_timeout);
  EXPECT_EQ(c->reflection, defaults->reflection);
  EXPECT_EQ(c->rate_limit_per_identity, defaults->rate_limit_per_identity);
  EXPECT_EQ(c->rate_limit_burst, defaults->rate_limit_burst);
  EXPECT_EQ(c->access_denied_interval, defaults->access_denied_interval);
  EXPECT_EQ(c->provenance.max_depth, defaults->provenance.max_depth);
  EXPECT_EQ(c->provenance.max_nodes, defaults->provenance.max_nodes);
  EXPECT_EQ(c->provenance.max_edges, defaults->provenance.max_edges);
  // Mutual TLS, with files beside the config (relative to its directory).
  EXPECT_EQ(c->tls_ca_file, "tls/ca.pem");
  EXPECT_EQ(c->tls_cert_file, "tls/node.pem");
  EXPECT_EQ(c->tls_key_file, "tls/node.key");
  EXPECT_EQ(c->access_policy_file, "access-policy.toml");
  EXPECT_TRUE(ValidateTransport(*c).ok());
}

// Every key the parser knows is set in the shipped example (uncommented,
// at its default, or commented out with an explanation).
TEST(ConfigTest, ShippedExampleMentionsEveryKey) {
  std::ifstream in(LEDGER_DEPLOY_CONFIG);
  std::stringstream text;
  text << in.rdbuf();
  for (const char* key : {"data_dir",
                          "listen",
                          "health_listen",
                          "http_listen",
                          "origin",
                          "node_name",
                          "checkpoint_interval",
                          "empty_interval",
                          "max_group_events",
                          "max_message_bytes",
                          "block_cache_bytes",
                          "max_queued_events",
                          "max_queued_bytes",
                          "grpc_memory_bytes",
                          "full_check_max_entries",
                          "scrub_rate",
                          "scrub_interval",
                          "log_level",
                          "max_future_skew",
                          "max_event_age",
                          "insecure_plaintext",
                          "idle_timeout",
                          "reflection",
                          "rate_limit_per_identity",
                          "rate_limit_burst",
                          "access_denied_interval",
                          "provenance_max_depth",
                          "provenance_max_nodes",
                          "provenance_max_edges",
                          "ca_file",
                          "cert_file",
                          "key_file",
                          "policy_file"}) {
    EXPECT_THAT(text.str(),
                ::testing::AnyOf(HasSubstr(StrCat("\n", key, " = ")),
                                 HasSubstr(StrCat("\n# ", key, " = "))))
        << key;
  }
  EXPECT_THAT(text.str(), HasSubstr("\n[limits]\n"));
  EXPECT_THAT(text.str(), HasSubstr("\n[tls]\n"));
  EXPECT_THAT(text.str(), HasSubstr("\n[access]\n"));
}

TEST(ConfigTest, ParsesTransportKeys) {
  absl::StatusOr<NodeConfig> c =
      ParseConfig(R"(
insecure_plaintext = false
idle_timeout = "90s"
reflection = true
rate_limit_per_identity = 100
rate_limit_burst = 200
access_denied_interval = "1m"

[tls]
ca_file = "tls/ca.pem"
cert_file = "/etc/ledger/node.pem"
key_file = "node.key"

[access]
policy_file = "policy.toml"
)",
                  "/etc/annotation-ledger/node.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->insecure_plaintext);
  EXPECT_EQ(c->idle_timeout, absl::Seconds(90));
  EXPECT_TRUE(c->reflection);
  EXPECT_EQ(c->rate_limit_per_identity, 100u);
  EXPECT_EQ(c->rate_limit_burst, 200u);
  EXPECT_EQ(c->access_denied_interval, absl::Minutes(1));
  // Relative to the config file's directory; absolute as given.
  EXPECT_EQ(c->tls_ca_file, "/etc/annotation-ledger/tls/ca.pem");
  EXPECT_EQ(c->tls_cert_file, "/etc/ledger/node.pem");
  EXPECT_EQ(c->tls_key_file, "/etc/annotation-ledger/node.key");
  EXPECT_EQ(c->access_policy_file, "/etc/annotation-ledger/policy.toml");
  EXPECT_TRUE(c->tls_configured());
  EXPECT_TRUE(ValidateTransport(*c).ok());
}

TEST(ConfigTest, TransportMustBeChosen) {
  NodeConfig neither;
  absl::Status s = ValidateTransport(neither);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(s), HasSubstr("no transport security configured"));
  EXPECT_THAT(Message(s), HasSubstr("[tls]"));
  EXPECT_THAT(Message(s), HasSubstr("insecure_plaintext = true"));
  EXPECT_THAT(Message(s), HasSubstr("--insecure-plaintext"));

  NodeConfig insecure;
  ConfigOverrides flag;
  flag.insecure_plaintext = true;
  ApplyOverrides(flag, &insecure);
  EXPECT_TRUE(ValidateTransport(insecure).ok());

  NodeConfig tls;
  tls.tls_ca_file = "ca.pem";
  tls.tls_cert_file = "node.pem";
  tls.tls_key_file = "node.key";
  s = ValidateTransport(tls);
  EXPECT_THAT(Message(s), HasSubstr("access.policy_file: required"));
  tls.access_policy_file = "p.toml";
  EXPECT_TRUE(ValidateTransport(tls).ok());

  NodeConfig both = tls;
  both.insecure_plaintext = true;
  s = ValidateTransport(both);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(s), HasSubstr("are both set"));

  NodeConfig partial;
  partial.tls_ca_file = "ca.pem";
  partial.access_policy_file = "p.toml";
  EXPECT_THAT(Message(ValidateTransport(partial)),
              HasSubstr("ca_file, cert_file and key_file are all required"));

  NodeConfig limits = tls;
  limits.rate_limit_burst = 0;
  EXPECT_THAT(Message(ValidateTransport(limits)),
              HasSubstr("rate_limit_burst"));
}

TEST(ConfigTest, TransportKeyErrorsNameKeyAndLine) {
  struct Case {
    const char* toml;
    const char* fragment;
  } cases[] = {
      {"insecure_plaintext = \"yes\"",
       "n.toml:1: insecure_plaintext: must be true or false"},
      {"reflection = 1", "reflection: must be true or false"},
      {"idle_timeout = 0", "idle_timeout: must be positive"},
      {"[tls]\nca_file = \"ca.pem\"\n",
       "n.toml:1: [tls] needs ca_file, cert_file and key_file"},
      {"[tls]\nca = \"ca.pem\"\n", "n.toml:2: tls.ca: unknown key"},
      {"[tls]\nca_file = \"\"\n", "tls.ca_file: must not be empty"},
      {"[access]\npolicy = \"p\"\n", "access.policy: unknown key"},
      {"tls = 1", "tls: must be a table"},
      {"rate_limit_burst = 0", "rate_limit_burst: must be between 1"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<NodeConfig> config = ParseConfig(c.toml, "n.toml");
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument)
        << c.toml;
    EXPECT_THAT(Message(config.status()), HasSubstr(c.fragment)) << c.toml;
  }
}

TEST(ConfigTest, ParsesEveryKey) {
  absl::StatusOr<NodeConfig> c = ParseConfig(R"(
data_dir = "/var/lib/ledger"
listen = "0.0.0.0:7401"
origin = "ledger.example.com/annotations"
node_name = "node-2"
checkpoint_interval = "500ms"
empty_interval = 30
max_group_events = 5000
max_message_bytes = 1048576
block_cache_bytes = 1073741824
max_queued_events = 5000
max_queued_bytes = 2097152
grpc_memory_bytes = 134217728
full_check_max_entries = 0
scrub_rate = 0
scrub_interval = "90m"
log_level = "debug"
max_future_skew = "30s"
max_event_age = "7d"
provenance_max_depth = 8
provenance_max_nodes = 500
provenance_max_edges = 2000

[limits]
max_event_bytes = 131072
max_string_bytes = 2048
max_attribute_value_bytes = 8192
max_refs = 10
max_attributes = 64
max_payload_bytes = 1024
)",
                                             "node.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->data_dir, "/var/lib/ledger");
  EXPECT_EQ(c->listen, "0.0.0.0:7401");
  EXPECT_EQ(c->origin, "ledger.example.com/annotations");
  EXPECT_EQ(c->node_name, "node-2");
  EXPECT_EQ(c->checkpoint_interval, absl::Milliseconds(500));
  EXPECT_EQ(c->empty_interval, absl::Seconds(30));
  EXPECT_EQ(c->max_group_events, 5000u);
  EXPECT_EQ(c->max_message_bytes, 1048576u);
  EXPECT_EQ(c->block_cache_bytes, 1073741824u);
  EXPECT_EQ(c->max_queued_events, 5000u);
  EXPECT_EQ(c->max_queued_bytes, 2097152u);
  EXPECT_EQ(c->grpc_memory_bytes, 134217728u);
  EXPECT_EQ(c->full_check_max_entries, 0u);  // 0 allowed: tail only
  EXPECT_EQ(c->scrub_rate, 0u);              // 0 allowed: no scrub
  EXPECT_EQ(c->scrub_interval, absl::Minutes(90));
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_EQ(c->max_future_skew, absl::Seconds(30));
  EXPECT_EQ(c->max_event_age, absl::Hours(7 * 24));
  EXPECT_EQ(c->provenance.max_depth, 8u);
  EXPECT_EQ(c->provenance.max_nodes, 500u);
  EXPECT_EQ(c->provenance.max_edges, 2000u);
  EXPECT_EQ(c->limits.max_event_bytes, 131072u);
  EXPECT_EQ(c->limits.max_string_bytes, 2048u);
  EXPECT_EQ(c->limits.max_attribute_value_bytes, 8192u);
  EXPECT_EQ(c->limits.max_refs, 10u);
  EXPECT_EQ(c->limits.max_attributes, 64u);
  EXPECT_EQ(c->limits.max_payload_bytes, 1024u);
  EXPECT_TRUE(ValidateConfig(*c).ok());
}

TEST(ConfigTest, FractionalSecondsAreADuration) {
  absl::StatusOr<NodeConfig> c =
      ParseConfig("checkpoint_interval = 0.25\n", "node.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->checkpoint_interval, absl::Milliseconds(250));
}

TEST(ConfigTest, ProvenanceBoundsDefaultToTheDesignedValues) {
  absl::StatusOr<NodeConfig> c = ParseConfig("", "node.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->provenance.max_depth, 16u);
  EXPECT_EQ(c->provenance.max_nodes, 10'000u);
  EXPECT_EQ(c->provenance.max_edges, 50'000u);
  // Each key alone changes its bound only.
  c = ParseConfig("provenance_max_nodes = 7\n", "node.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->provenance.max_depth, 16u);
  EXPECT_EQ(c->provenance.max_nodes, 7u);
  EXPECT_EQ(c->provenance.max_edges, 50'000u);
}

TEST(ConfigTest, OccurredAtWindowDefaultsAndDays) {
  absl::StatusOr<NodeConfig> c = ParseConfig("", "node.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->max_future_skew, absl::Minutes(5));
  EXPECT_EQ(c->max_event_age, absl::Hours(400 * 24));
  c = ParseConfig("max_event_age = \"1.5d\"\nmax_future_skew = 90\n",
                  "node.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->max_event_age, absl::Hours(36));
  EXPECT_EQ(c->max_future_skew, absl::Seconds(90));
}

TEST(ConfigTest, FileValuesOverrideTheBase) {
  NodeConfig base;
  base.data_dir = "/base";
  base.node_name = "base-node";
  absl::StatusOr<NodeConfig> c =
      ParseConfig("node_name = \"file-node\"\n", "node.toml", base);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->data_dir, "/base");
  EXPECT_EQ(c->node_name, "file-node");
}

TEST(ConfigTest, UnknownKeyIsAnErrorNamingKeyAndLine) {
  absl::StatusOr<NodeConfig> c =
      ParseConfig("listen = \"127.0.0.1:1\"\nlisten_port = 7400\n", "n.toml");
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(c.status()), HasSubstr("n.toml:2: listen_port"));
  EXPECT_THAT(Message(c.status()), HasSubstr("unknown key"));
}

TEST(ConfigTest, UnknownLimitIsAnError) {
  absl::StatusOr<NodeConfig> c =
      ParseConfig("[limits]\nmax_events = 3\n", "n.toml");
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(c.status()), HasSubstr("limits.max_events"));
}

TEST(ConfigTest, WrongTypesAreErrors) {
  struct Case {
    const char* toml;
    const char* fragment;
  } cases[] = {
      {"listen = 7400", "listen: must be a string"},
      {"max_group_events = \"many\"", "max_group_events: must be an integer"},
      {"max_group_events = 0", "max_group_events: must be between 1"},
      {"max_group_events = -5", "max_group_events: must be between 1"},
      {"checkpoint_interval = \"soon\"", "is not a duration"},
      {"checkpoint_interval = 0", "checkpoint_interval: must be positive"},
      {"empty_interval = \"-1s\"", "empty_interval: must be positive"},
      {"empty_interval = true", "empty_interval: must be a number"},
      {"limits = 3", "limits: must be a table"},
      {"max_queued_events = 0", "max_queued_events: must be between 1"},
      {"max_queued_bytes = -1", "max_queued_bytes: must be between 1"},
      {"grpc_memory_bytes = \"1G\"", "grpc_memory_bytes: must be an integer"},
      {"full_check_max_entries = -1",
       "full_check_max_entries: must be between 0"},
      {"scrub_rate = -1", "scrub_rate: must be between 0"},
      {"scrub_rate = 1.5", "scrub_rate: must be an integer"},
      {"scrub_interval = 0", "scrub_interval: must be positive"},
      {"scrub_interval = \"daily\"", "is not a duration"},
      {"max_future_skew = 0", "max_future_skew: must be positive"},
      {"max_future_skew = \"-5m\"", "max_future_skew: must be positive"},
      {"max_event_age = \"d\"", "max_event_age: \"d\" is not a duration"},
      {"max_event_age = \"4 d\"", "is not a duration"},
      {"max_event_age = \"-1d\"", "max_event_age: must be positive"},
      {"max_event_age = \"400days\"", "is not a duration"},
      {"[limits]\nmax_refs = 5000000000", "limits.max_refs: must be between"},
      {"provenance_max_depth = 0", "provenance_max_depth: must be between 1"},
      {"provenance_max_depth = 5000000000",
       "provenance_max_depth: must be between 1 and 4294967295"},
      {"provenance_max_nodes = -1", "provenance_max_nodes: must be between 1"},
      {"provenance_max_edges = \"many\"",
       "provenance_max_edges: must be an integer"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<NodeConfig> config = ParseConfig(c.toml, "n.toml");
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument)
        << c.toml;
    EXPECT_THAT(Message(config.status()), HasSubstr(c.fragment)) << c.toml;
  }
}

TEST(ConfigTest, SyntaxErrorNamesTheLine) {
  absl::StatusOr<NodeConfig> c =
      ParseConfig("listen = \"a:1\"\nnode_name = \n", "bad.toml");
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(c.status()), HasSubstr("bad.toml:2:"));
}

TEST(ConfigTest, MissingFileIsNotFound) {
  absl::StatusOr<NodeConfig> c = LoadConfigFile("/nonexistent/node.toml");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(c.status()), HasSubstr("/nonexistent/node.toml"));
}

TEST(ConfigTest, OverridesReplaceOnlyWhatIsSet) {
  NodeConfig c;
  c.data_dir = "/file";
  c.listen = "127.0.0.1:1";
  ConfigOverrides o;
  o.listen = "127.0.0.1:0";
  o.origin = "example.org/log";
  ApplyOverrides(o, &c);
  EXPECT_EQ(c.data_dir, "/file");
  EXPECT_EQ(c.listen, "127.0.0.1:0");
  EXPECT_EQ(c.origin, "example.org/log");
  EXPECT_EQ(c.node_name, "node-1");
}

TEST(ConfigTest, ValidateRejectsUnusableSettings) {
  NodeConfig good;
  good.data_dir = "/d";
  ASSERT_TRUE(ValidateConfig(good).ok());
  struct Case {
    void (*mutate)(NodeConfig&);
    const char* fragment;
  } cases[] = {
      {[](NodeConfig& c) { c.data_dir.clear(); }, "data_dir: required"},
      {[](NodeConfig& c) { c.listen = "7400"; }, "is not host:port"},
      {[](NodeConfig& c) { c.listen = "host:70000"; }, "is not host:port"},
      {[](NodeConfig& c) { c.listen = ":7400"; }, "is not host:port"},
      {[](NodeConfig& c) { c.health_listen = "7401"; },
       "health_listen: \"7401\" is not host:port"},
      {[](NodeConfig& c) { c.health_listen = "127.0.0.1:99999"; },
       "health_listen: \"127.0.0.1:99999\" is not host:port"},
      {[](NodeConfig& c) { c.http_listen = "7402"; },
       "http_listen: \"7402\" is not host:port"},
      {[](NodeConfig& c) { c.http_listen = c.listen; },
       "http_listen: \"127.0.0.1:7400\" is also listen"},
      {[](NodeConfig& c) { c.health_listen = c.listen; },
       "is the service address (listen) too"},
      {[](NodeConfig& c) { c.origin = "has space"; }, "origin:"},
      {[](NodeConfig& c) { c.node_name = "a+b"; }, "node_name:"},
      {[](NodeConfig& c) { c.node_name.clear(); }, "node_name:"},
      {[](NodeConfig& c) { c.log_level = "loud"; }, "log_level:"},
      {[](NodeConfig& c) { c.max_message_bytes = 10; }, "max_message_bytes"},
      {[](NodeConfig& c) { c.block_cache_bytes = 4096; },
       "block_cache_bytes: must be at least 1048576"},
      {[](NodeConfig& c) { c.max_queued_events = 0; },
       "max_queued_events must be positive"},
      {[](NodeConfig& c) { c.max_queued_bytes = 1000; },
       "max_queued_bytes at least 1048576"},
      {[](NodeConfig& c) {
         c.max_message_bytes = 8 << 20;
         c.grpc_memory_bytes = 4 << 20;
       },
       "grpc_memory_bytes (4194304) must be at least max_message_bytes "
       "(8388608)"},
  };
  for (const Case& c : cases) {
    NodeConfig config = good;
    c.mutate(config);
    absl::Status s = ValidateConfig(config);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.fragment;
    EXPECT_THAT(Message(s), HasSubstr(c.fragment));
  }
}

TEST(ConfigTest, HealthListenIsOffByDefaultAndSetByFileOrFlag) {
  absl::StatusOr<NodeConfig> c = ParseConfig("", "n.toml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->health_listen, "");
  c = ParseConfig("health_listen = \"0.0.0.0:7401\"\n", "n.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->health_listen, "0.0.0.0:7401");
  ConfigOverrides o;
  o.health_listen = "127.0.0.1:0";
  ApplyOverrides(o, &*c);
  EXPECT_EQ(c->health_listen, "127.0.0.1:0");
  c->data_dir = "/d";
  EXPECT_TRUE(ValidateConfig(*c).ok());
  // Both on port 0: two different free ports.
  c->listen = "127.0.0.1:0";
  EXPECT_TRUE(ValidateConfig(*c).ok());
  c = ParseConfig("health_listen = 7401\n", "n.toml");
  EXPECT_THAT(Message(c.status()),
              HasSubstr("n.toml:1: health_listen: must be a string"));
}

TEST(ConfigTest, SplitHostPortHandlesIpv6) {
  absl::StatusOr<std::pair<std::string, uint16_t>> hp =
      SplitHostPort("[::1]:7400");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->first, "[::1]");
  EXPECT_EQ(hp->second, 7400);
  hp = SplitHostPort("127.0.0.1:0");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->second, 0);
}

}  // namespace
}  // namespace ledger::node
