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
  EXPECT_EQ(c->max_message_bytes, size_t{64} << 20);
  EXPECT_EQ(c->log_level, "info");
  EXPECT_EQ(c->limits.max_event_bytes, EventLimits{}.max_event_bytes);
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
  EXPECT_EQ(c->log_level, defaults->log_level);
  EXPECT_EQ(c->limits.max_event_bytes, defaults->limits.max_event_bytes);
  EXPECT_EQ(c->limits.max_refs, defaults->limits.max_refs);
  EXPECT_EQ(c->limits.max_payload_bytes, defaults->limits.max_payload_bytes);
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
log_level = "debug"

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
  EXPECT_EQ(c->log_level, "debug");
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
      {"[limits]\nmax_refs = 5000000000", "limits.max_refs: must be between"},
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
      {[](NodeConfig& c) { c.origin = "has space"; }, "origin:"},
      {[](NodeConfig& c) { c.node_name = "a+b"; }, "node_name:"},
      {[](NodeConfig& c) { c.node_name.clear(); }, "node_name:"},
      {[](NodeConfig& c) { c.log_level = "loud"; }, "log_level:"},
      {[](NodeConfig& c) { c.max_message_bytes = 10; }, "max_message_bytes"},
      {[](NodeConfig& c) { c.block_cache_bytes = 4096; },
       "block_cache_bytes: must be at least 1048576"},
  };
  for (const Case& c : cases) {
    NodeConfig config = good;
    c.mutate(config);
    absl::Status s = ValidateConfig(config);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.fragment;
    EXPECT_THAT(Message(s), HasSubstr(c.fragment));
  }
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
