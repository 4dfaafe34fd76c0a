#pragma once

// Tile serving over the node's HTTP port (c2sp.org/tlog-tiles): a node
// filled with `entries` events, then `connections` keep-alive HTTP(S)
// clients fetching one full tile in a closed loop, bounded by `requests`
// in all and by `max_seconds`. Each answer is checked (status 200 and a
// full tile's 8,192 bytes). With --tls the clients are the regulator's
// identity over mutual TLS, as a mirror would be.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tools/bench/scenario.h"

namespace ledger::bench {

struct TileBenchOptions {
  uint64_t entries = 4096;  // the ledger's size before the clients start
  int connections = 4;
  uint64_t requests = 200000;  // in all, at most
  double max_seconds = 10;
  // The resource fetched; the default is the first full level-0 tile.
  std::string path = "/tile/0/000";
};

// {tiles: {path, connections, requests, failed, seconds,
// requests_per_second, latency, first_error?}, fill_events_per_second}.
absl::StatusOr<nlohmann::json> TilesCommand(const BenchEnv& env,
                                            const TileBenchOptions& options);

}  // namespace ledger::bench
