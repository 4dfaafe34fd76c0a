#include "gtest/gtest.h"
#include "tools/bench/cluster.h"

namespace ledger::bench {
namespace {

using nlohmann::json;

TEST(LeaderAddressFromRefusalTest, ReadsTheAddressAFollowerNames) {
  EXPECT_EQ(LeaderAddressFromRefusal("node n2 follows; the leader is n1 at "
                                     "127.0.0.1:7400: send appends there"),
            "127.0.0.1:7400");
  // gRPC may prefix the message; the address is still found.
  EXPECT_EQ(LeaderAddressFromRefusal(
                "append refused: node n3 follows; the leader is n2 at "
                "[::1]:9: send appends there"),
            "[::1]:9");
}

TEST(LeaderAddressFromRefusalTest, NothingWhenNoAddressIsNamed) {
  // A leader without a configured client address (not a peer).
  EXPECT_EQ(LeaderAddressFromRefusal(
                "node n2 follows; the leader is n9: send appends there"),
            std::nullopt);
  EXPECT_EQ(LeaderAddressFromRefusal("the cluster has no leader yet"),
            std::nullopt);
  EXPECT_EQ(
      LeaderAddressFromRefusal("the leader is n1 at : send appends there"),
      std::nullopt);
  EXPECT_EQ(LeaderAddressFromRefusal(""), std::nullopt);
}

TEST(MedianTest, OddEvenAndEmpty) {
  EXPECT_DOUBLE_EQ(Median({3, 1, 2}), 2);
  EXPECT_DOUBLE_EQ(Median({4, 1, 3, 2}), 2.5);
  EXPECT_DOUBLE_EQ(Median({}), 0);
}

json RunJson(const char* role, double eps, double p99_us) {
  return json{{"role", role},
              {"events_per_second", eps},
              {"latency", json{{"p99_us", p99_us}}}};
}

bool Met(const json& summary, std::string_view prefix) {
  for (const json& t : summary["targets"]) {
    if (t["name"].get<std::string>().rfind(prefix, 0) == 0) {
      return t["met"].get<bool>();
    }
  }
  ADD_FAILURE() << "no target " << prefix;
  return false;
}

TEST(ClusterTargetsTest, RatiosAndBounds) {
  json s;
  s["runs"] = json::array({RunJson("single_max", 40000, 900),
                           RunJson("single_half", 20000, 2000),
                           RunJson("cluster_max", 12000, 5000),
                           RunJson("cluster_half", 6000, 9000)});
  s["etcd"] = json{{"puts_per_second", 5000}};
  s["failover"] = json{{"median_seconds", 3.5},
                       {"worst_seconds", 5.0},
                       {"lease_ttl_seconds", 3.0},
                       {"measured_rounds", 10}};
  AddClusterTargets(s);
  EXPECT_DOUBLE_EQ(s["ratios"]["cluster_events_vs_etcd_puts"].get<double>(),
                   2.4);
  EXPECT_DOUBLE_EQ(s["ratios"]["cluster_vs_single_node"].get<double>(), 0.3);
  EXPECT_DOUBLE_EQ(
      s["ratios"]["cluster_p99_vs_single_p99_at_half_load"].get<double>(), 4.5);
  EXPECT_FALSE(Met(s, "cluster ingest vs etcd"));
  EXPECT_TRUE(Met(s, "cluster ingest vs single"));  // exactly 30%
  EXPECT_FALSE(Met(s, "failover"));
  EXPECT_FALSE(Met(s, "p99 acknowledgement"));

  s["etcd"]["puts_per_second"] = 4000;
  s["failover"]["median_seconds"] = 3.0;
  s["runs"][3]["latency"]["p99_us"] = 8000;
  AddClusterTargets(s);
  EXPECT_TRUE(Met(s, "cluster ingest vs etcd"));
  EXPECT_TRUE(Met(s, "failover"));
  EXPECT_TRUE(Met(s, "p99 acknowledgement"));
}

TEST(ClusterTargetsTest, MissingPartsAreNotMet) {
  json s;
  s["runs"] = json::array({RunJson("single_max", 40000, 900)});
  AddClusterTargets(s);
  ASSERT_EQ(s["targets"].size(), 4u);
  for (const json& t : s["targets"]) {
    EXPECT_FALSE(t["met"].get<bool>()) << t["name"];
    EXPECT_TRUE(t["measured"].is_null()) << t["name"];
  }
  EXPECT_TRUE(s["ratios"].empty());
}

TEST(ClusterOptionsTest, RefusesWhatCannotRun) {
  EXPECT_TRUE(ValidateClusterOptions(ClusterBenchOptions()).ok());
  ClusterBenchOptions o;
  o.failover_rate = 0;
  EXPECT_EQ(ValidateClusterOptions(o).code(),
            absl::StatusCode::kInvalidArgument);
  o = ClusterBenchOptions();
  o.clients = 0;
  EXPECT_FALSE(ValidateClusterOptions(o).ok());
  o = ClusterBenchOptions();
  o.failovers = 0;  // no failover part: fine
  EXPECT_TRUE(ValidateClusterOptions(o).ok());
}

}  // namespace
}  // namespace ledger::bench
