#include "gtest/gtest.h"
#include "tools/bench/proofs.h"
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

TEST(TargetsTest, ProofTargetsNameTheRpcFloor) {
  json s;
  s["proofs"] = json{{"tree_size", 1500},
                     {"inclusion", {{"latency", {{"p99_us", 150.0}}}}},
                     {"consistency", {{"latency", {{"p99_us", 320.0}}}}},
                     {"rpc_floor", {{"latency", {{"p99_us", 123.7}}}}}};
  AddRatiosAndTargets(s);
  int proof_targets = 0;
  for (const json& t : s["targets"]) {
    const std::string name = t["name"].get<std::string>();
    if (name.find("proof p99") == std::string::npos) continue;
    ++proof_targets;
    EXPECT_NE(t["note"].get<std::string>().find(
                  "at 1500 entries (the 10M figure is `ledger-bench growth`); "
                  "the RPC refused at once: p99 123 us"),
              std::string::npos)
        << t["note"];
    EXPECT_EQ(t["met"].get<bool>(), name.rfind("inclusion", 0) == 0) << name;
  }
  EXPECT_EQ(proof_targets, 2);

  EXPECT_EQ(RpcFloorNote(json{{"inclusion", {}}}), "");  // no floor measured
}

TEST(TargetsTest, CeilingsKeepTheFasterSample) {
  json before{{"raw_rocksdb", {{"events_per_second", 60000}, {"groups", 1}}},
              {"ed25519_batch", {{"verifications_per_second", 20000}}},
              {"ed25519_event", {{"verifications_per_second", 16000}}}};
  json after{{"raw_rocksdb", {{"events_per_second", 50000}, {"groups", 2}}},
             {"ed25519_batch", {{"verifications_per_second", 21000}}},
             {"ed25519_event", {{"verifications_per_second", 22000}}}};
  json c = FasterCeilings(before, after);
  EXPECT_EQ(c["raw_rocksdb"]["events_per_second"], 60000);
  EXPECT_EQ(c["raw_rocksdb"]["groups"], 1);  // the whole faster sample
  EXPECT_EQ(c["raw_rocksdb"]["samples_per_second"],
            json::array({60000, 50000}));
  EXPECT_EQ(c["ed25519_batch"]["verifications_per_second"], 21000);
  EXPECT_EQ(c["ed25519_event"]["verifications_per_second"], 22000);
  EXPECT_EQ(c["ed25519_event"]["samples_per_second"],
            json::array({16000, 22000}));

  // The ratio uses the faster ceiling.
  json s;
  s["runs"] = json::array({RunJson("event_stream", 17600)});
  s["peers"] = c;
  AddRatiosAndTargets(s);
  EXPECT_DOUBLE_EQ(s["ratios"]["per_event_signed_vs_ed25519_ceiling"], 0.8);

  // A ceiling only one sample has is kept as it is.
  json partial = FasterCeilings(json::object(), after);
  EXPECT_EQ(partial["ed25519_event"]["verifications_per_second"], 22000);
  EXPECT_FALSE(partial["ed25519_event"].contains("samples_per_second"));
}

}  // namespace
}  // namespace ledger::bench
