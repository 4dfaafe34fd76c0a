#include "gtest/gtest.h"
#include "tools/bench/suite.h"

namespace ledger::bench {
namespace {

using nlohmann::json;

json RunJson(const char* role, double eps, double p99_us = 1000) {
  return json{{"role", role},
              {"events_per_second", eps},
              {"latency", json{{"p99_us", p99_us}}}};
}

TEST(TargetsTest, RatiosUseTheBestOfEachSignatureMode) {
  json s;
  s["runs"] = json::array(
      {RunJson("batch_unary", 30000), RunJson("batch_stream", 40000),
       RunJson("event_unary_many", 5000), RunJson("event_stream", 6000),
       RunJson("latency_batch_open", 20000, 4000)});
  s["peers"] = json{{"raw_rocksdb", {{"events_per_second", 50000}}},
                    {"ed25519_event", {{"verifications_per_second", 10000}}},
                    {"postgres",
                     {{"best_chained", {{"rows_per_second", 8000}}},
                      {"many_clients_chained", {{"rows_per_second", 1000}}},
                      {"plain_at_best", {{"rows_per_second", 16000}}}}}};
  AddRatiosAndTargets(s);
  const json& r = s["ratios"];
  EXPECT_DOUBLE_EQ(r["batch_signed_vs_raw_rocksdb"].get<double>(), 0.8);
  EXPECT_DOUBLE_EQ(r["per_event_signed_vs_ed25519_ceiling"].get<double>(), 0.6);
  EXPECT_DOUBLE_EQ(r["ours_best_vs_postgres_chained_best"].get<double>(), 5);
  EXPECT_DOUBLE_EQ(r["ours_32x1_vs_postgres_chained_32x1"].get<double>(), 5);
  EXPECT_DOUBLE_EQ(r["postgres_plain_vs_chained_at_best"].get<double>(), 2);
  auto met = [&](std::string_view prefix) {
    for (const json& t : s["targets"]) {
      if (t["name"].get<std::string>().rfind(prefix, 0) == 0) {
        return t["met"].get<bool>();
      }
    }
    ADD_FAILURE() << "no target " << prefix;
    return false;
  };
  EXPECT_TRUE(met("batch-signed ingest vs raw RocksDB"));
  EXPECT_FALSE(met("per-event-signed ingest vs Ed25519"));
  EXPECT_TRUE(met("vs PostgreSQL hash-chained, both"));
  EXPECT_FALSE(met("vs PostgreSQL hash-chained, 32 clients"));
  EXPECT_TRUE(met("p99 acknowledgement at half of max throughput (us)"));
  EXPECT_FALSE(met("inclusion proof p99"));  // not measured: not met
}

}  // namespace
}  // namespace ledger::bench
