#pragma once

// Mutual TLS for the benchmark, as a user's local ledger has it: a
// development CA and certificates made by deploy/dev-ca.sh (EC P-256, the
// emitter and officer of tenant kTenant), the access policy it writes, and
// per node a configuration with [tls] and [access].

#include <string>

#include "absl/status/statusor.h"
#include "tools/bench/node_process.h"

namespace ledger::bench {

// The certificates of one benchmark process, in a temporary directory
// under `work_dir` ("" = /tmp) removed on destruction and on a signal
// (unless `keep`).
class BenchTls {
 public:
  // Runs `dev_ca_script` (bash) --out DIR --tenant `tenant`.
  static absl::StatusOr<std::unique_ptr<BenchTls>> Create(
      const std::string& dev_ca_script, const std::string& work_dir,
      const std::string& tenant, bool keep);
  ~BenchTls();

  const std::string& dir() const { return dir_; }

  // Writes `node_dir`/node.toml for a node that uses these certificates
  // and their access policy, and returns the access to it: the emitter,
  // regulator and admin certificates as the benchmark's identities.
  absl::StatusOr<NodeAccess> AccessFor(const std::string& node_dir) const;

 private:
  BenchTls() = default;
  std::string dir_;
  bool keep_ = false;
  uint64_t cleanup_ = 0;
};

}  // namespace ledger::bench
