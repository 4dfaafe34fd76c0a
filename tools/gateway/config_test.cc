#include "tools/gateway/config.h"

#include "gtest/gtest.h"

namespace ledger::gateway {
namespace {

TEST(GatewayConfigTest, ReadsEveryKeyAndResolvesFilesAgainstItsFolder) {
  absl::StatusOr<GatewayConfig> c = ParseGatewayConfig(
      R"(listen = "0.0.0.0:9000"
tenant = "demo"
producer = "gw"
emitter_key = "keys/gateway.key"
node_profile = "/etc/ledger/gateway.profile"
node_address = "10.1.2.3:7400"
cvat_secret_file = "cvat.secret"
label_studio_token_file = "ls.token"
openlineage_type = "data.cleaned"
threads = 4
senders = 3
max_batch_events = 500
max_body_bytes = 65536
timeout_seconds = 2.5
)",
      "/srv/gw/gateway.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen, "0.0.0.0:9000");
  EXPECT_EQ(c->tenant, "demo");
  EXPECT_EQ(c->producer, "gw");
  EXPECT_EQ(c->emitter_key, "/srv/gw/keys/gateway.key");
  EXPECT_EQ(c->node_profile, "/etc/ledger/gateway.profile");
  EXPECT_EQ(c->node_address, "10.1.2.3:7400");
  EXPECT_EQ(c->cvat_secret_file, "/srv/gw/cvat.secret");
  EXPECT_EQ(c->label_studio_token_file, "/srv/gw/ls.token");
  EXPECT_EQ(c->openlineage_type, "data.cleaned");
  EXPECT_EQ(c->threads, 4);
  EXPECT_EQ(c->senders, 3);
  EXPECT_EQ(c->max_batch_events, 500);
  EXPECT_EQ(c->max_body_bytes, 65536);
  EXPECT_DOUBLE_EQ(c->timeout_seconds, 2.5);
}

TEST(GatewayConfigTest, RefusesUnknownKeysWrongTypesAndRanges) {
  const std::pair<std::string, std::string> cases[] = {
      {"tenat = \"demo\"", "gw.toml:1: tenat: unknown key"},
      {"\n\nthreads = 0", "gw.toml:3: threads: must be an integer from 1"},
      {"tenant = 5", "gw.toml:1: tenant: must be a non-empty string"},
      {"timeout_seconds = -1", "gw.toml:1: timeout_seconds"},
      {"tenant = ", "gw.toml:1: "},
  };
  for (const auto& [text, want] : cases) {
    absl::StatusOr<GatewayConfig> c = ParseGatewayConfig(text, "gw.toml");
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(c.status().message().substr(0, want.size()), want) << c.status();
  }
}

TEST(GatewayConfigTest, SplitsHostAndPort) {
  absl::StatusOr<std::pair<std::string, int>> a =
      SplitHostPort("127.0.0.1:8480", "listen");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->first, "127.0.0.1");
  EXPECT_EQ(a->second, 8480);
  absl::StatusOr<std::pair<std::string, int>> b =
      SplitHostPort("[::1]:0", "listen");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->first, "::1");
  EXPECT_EQ(b->second, 0);
  EXPECT_FALSE(SplitHostPort("localhost", "listen").ok());
  EXPECT_FALSE(SplitHostPort("h:70000", "listen").ok());
  EXPECT_FALSE(SplitHostPort(":80", "listen").ok());
}

}  // namespace
}  // namespace ledger::gateway
