#pragma once

// `ledger-bench cluster`: the replicated cluster (docs/cluster.md) measured
// in one run on one machine against what bounds it:
//
//   1. a single-node ledger-node (no etcd) under the batch-signed
//      AppendBatch load of `ingest`, closed loop, then open loop at half of
//      its maximum (latency from each request's due time);
//   2. etcd's own put rate: a fresh 3-member etcd cluster (Debian's
//      /usr/bin/etcd on loopback), `etcd_clients` clients putting
//      `etcd_value_bytes` values under distinct keys, closed loop, spread
//      over the members;
//   3. three ledger-node processes in cluster mode on that etcd cluster:
//      the same load sent to the leader, closed loop, then open loop at
//      half of the cluster's maximum;
//   4. failover: under a paced load that follows the leader, the leader is
//      killed (SIGKILL); the time from the kill to the next acknowledged
//      append (by whichever node leads next) is measured; the killed node
//      is restarted as a follower and must catch up before the next kill.
//
// And the targets: cluster ingest >= 3x etcd's put rate and >= 30% of the
// single node; failover median <= 3 s; cluster p99 at half load <= 4x the
// single node's p99 at its half load.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tools/bench/scenario.h"

namespace ledger::bench {

struct ClusterBenchOptions {
  // The ingest runs (single node and cluster alike).
  uint64_t events = 50000;  // measured events per run
  uint64_t warmup_events = 2000;
  uint32_t batch_size = 100;
  int clients = 64;
  double max_seconds = 30;  // per run
  // etcd's put rate.
  uint64_t etcd_puts = 50000;
  uint64_t etcd_warmup_puts = 1000;
  int etcd_clients = 64;
  uint32_t etcd_value_bytes = 1024;
  double etcd_seconds = 20;
  // Failover.
  int failovers = 10;
  double lease_ttl_seconds = 3;  // [cluster] lease_ttl of every node
  double failover_rate = 20;     // requests/s of the load while killing
  int failover_clients = 4;
  double failover_timeout_seconds = 60;  // kill to acknowledgement, at most
  double catch_up_timeout_seconds = 120;
};

// InvalidArgument naming the option if `options` cannot run.
absl::Status ValidateClusterOptions(const ClusterBenchOptions& options);

// Runs everything above; the summary has "runs" (roles single_max,
// single_half, cluster_max, cluster_half), "etcd", "failover", "cluster",
// "ratios" and "targets". Every process and directory it made is gone
// when it returns (unless env.keep), on every path.
absl::StatusOr<nlohmann::json> RunClusterBench(
    const BenchEnv& env, const ClusterBenchOptions& options);

// The leader's client address in a follower's refusal of an append ("node
// n2 follows; the leader is n1 at 127.0.0.1:7400: send appends there");
// nullopt if the message names none (nobody leads yet, or another error).
std::optional<std::string> LeaderAddressFromRefusal(std::string_view message);

// The median of `values` (the mean of the middle two for an even count);
// 0 when empty.
double Median(std::vector<double> values);

// Adds "ratios" and "targets" to a cluster summary from its runs (by
// role), summary["etcd"]["puts_per_second"] and
// summary["failover"]["median_seconds"]; a target whose inputs are missing
// is not met, with a note.
void AddClusterTargets(nlohmann::json& summary);

}  // namespace ledger::bench
