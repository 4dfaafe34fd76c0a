#include "tools/bench/bench_tls.h"

#include <chrono>
#include <fstream>

#include "base/strings.h"
#include "tools/bench/cleanup.h"
#include "tools/common/subprocess.h"

namespace ledger::bench {

absl::StatusOr<std::unique_ptr<BenchTls>> BenchTls::Create(
    const std::string& dev_ca_script, const std::string& work_dir,
    const std::string& tenant, bool keep) {
  std::unique_ptr<BenchTls> tls(new BenchTls());
  tls->keep_ = keep;
  tls->dir_ = MakeTempDir(work_dir, "ledger-bench-tls");
  if (tls->dir_.empty()) {
    return absl::InternalError("cannot create a temporary directory");
  }
  const std::string dir = tls->dir_;
  if (!keep) tls->cleanup_ = RegisterCleanup([dir] { RemoveTree(dir); });
  absl::StatusOr<subprocess::RunResult> r = subprocess::Run(
      {"/bin/bash", dev_ca_script, "--out", dir, "--tenant", tenant, "--quiet"},
      std::chrono::seconds(120));
  if (!r.ok()) return Annotate(r.status(), dev_ca_script);
  if (r->exit_code != 0) {
    return absl::InternalError(
        StrCat(dev_ca_script, " exited with ", r->exit_code, ": ", r->err));
  }
  return tls;
}

BenchTls::~BenchTls() {
  UnregisterCleanup(cleanup_);
  if (!keep_ && !dir_.empty()) RemoveTree(dir_);
}

namespace {

// A TOML basic string.
std::string TomlString(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

absl::StatusOr<NodeAccess> BenchTls::AccessFor(
    const std::string& node_dir) const {
  NodeAccess access;
  access.config_file = node_dir + "/node.toml";
  std::ofstream config(access.config_file, std::ios::trunc);
  config << "# ledger-bench: the node over mutual TLS with authorization.\n"
         << "[tls]\n"
         << "ca_file = " << TomlString(dir_ + "/ca.pem") << "\n"
         << "cert_file = " << TomlString(dir_ + "/node/node-1.pem") << "\n"
         << "key_file = " << TomlString(dir_ + "/node/node-1.key") << "\n"
         << "[access]\n"
         << "policy_file = " << TomlString(dir_ + "/access-policy.toml")
         << "\n";
  config.close();
  if (!config) {
    return absl::InternalError(StrCat("cannot write ", access.config_file));
  }
  const auto role = [&](const std::string& name) {
    client_tls::ClientSettings s;
    s.ca = dir_ + "/ca.pem";
    s.cert = StrCat(dir_, "/", name, ".pem");
    s.key = StrCat(dir_, "/", name, ".key");
    return s;
  };
  access.emitter = role("emitter");
  access.regulator = role("regulator");
  access.admin = role("admin");
  return access;
}

}  // namespace ledger::bench
