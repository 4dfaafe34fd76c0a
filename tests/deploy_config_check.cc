// deploy_config_check FILE...: reads each node configuration file the way
// `ledger-node --config FILE` does before it opens anything (LoadConfigFile:
// syntax, unknown keys, types; ValidateConfig; ValidateTransport) and prints
// one JSON line per file: {"file", "ok", "error"} and, when it is valid,
// "config" with the values as the node sees them (relative paths resolved
// against the file's folder), which tests/deploy_test.py compares across
// the nodes of a cluster. Exit 0 when every file is valid, 1 otherwise, 2
// without arguments.

#include <cstdio>
#include <string>

#include "base/strings.h"
#include "nlohmann/json.hpp"
#include "node/config.h"

namespace ledger::node {
namespace {

nlohmann::json ToJson(const NodeConfig& c) {
  nlohmann::json peers = nlohmann::json::array();
  for (const ClusterPeer& p : c.cluster.peers) {
    peers.push_back({{"name", p.name},
                     {"address", p.address},
                     {"cluster_address", p.cluster_address}});
  }
  return {
      {"data_dir", c.data_dir},
      {"listen", c.listen},
      {"health_listen", c.health_listen},
      {"http_listen", c.http_listen},
      {"origin", c.origin},
      {"node_name", c.node_name},
      {"insecure_plaintext", c.insecure_plaintext},
      {"tls_ca_file", c.tls_ca_file},
      {"tls_cert_file", c.tls_cert_file},
      {"tls_key_file", c.tls_key_file},
      {"access_policy_file", c.access_policy_file},
      {"cluster",
       {{"listen", c.cluster.listen},
        {"etcd_endpoints", c.cluster.etcd_endpoints},
        {"log_key_file", c.cluster.log_key_file},
        {"lease_ttl_seconds", absl::ToDoubleSeconds(c.cluster.lease_ttl)},
        {"commit_timeout_seconds",
         absl::ToDoubleSeconds(c.cluster.commit_timeout)},
        {"peers", peers}}},
  };
}

int Run(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: deploy_config_check FILE...\n");
    return 2;
  }
  bool all_ok = true;
  for (int i = 1; i < argc; ++i) {
    nlohmann::json line = {{"file", argv[i]}};
    absl::StatusOr<NodeConfig> config = LoadConfigFile(argv[i]);
    absl::Status s = config.status();
    if (s.ok()) s = ValidateConfig(*config);
    if (s.ok()) s = ValidateTransport(*config);
    line["ok"] = s.ok();
    if (s.ok()) {
      line["config"] = ToJson(*config);
    } else {
      line["error"] = std::string(ToStd(s.message()));
      all_ok = false;
    }
    std::printf("%s\n", line.dump().c_str());
  }
  return all_ok ? 0 : 1;
}

}  // namespace
}  // namespace ledger::node

int main(int argc, char** argv) { return ledger::node::Run(argc, argv); }
