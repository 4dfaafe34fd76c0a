#pragma once

// Real etcd members (Debian's /usr/bin/etcd) for the tests and ledger-bench:
// a cluster of `n` members on free loopback ports with its own data
// directory, started and waited for, and killed, stopped or restarted one by
// one. Every member is SIGKILLed when the cluster is destroyed. Readiness
// is checked with etcd's own KV API (proto/etcd), so that tools can link
// this without the node's etcd client.

#include <sys/types.h>

#include <csignal>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "tools/common/subprocess.h"

namespace ledger::subprocess {

// Client TLS with client certificates (peers stay plaintext): the
// members' files, and the credentials the cluster's own readiness checks
// use.
struct EtcdTls {
  std::string ca_file;
  std::string cert_file;  // with an IP SAN 127.0.0.1
  std::string key_file;
  std::shared_ptr<grpc::ChannelCredentials> client_credentials;
};

class EtcdCluster {
 public:
  // Starts `members` members with data under `dir` (which must exist) and
  // waits until each serves a linearizable read, within `timeout`.
  static absl::StatusOr<std::unique_ptr<EtcdCluster>> Start(
      const std::string& dir, int members,
      absl::Duration timeout = absl::Seconds(30),
      std::optional<EtcdTls> tls = std::nullopt);
  ~EtcdCluster();

  // "127.0.0.1:port" of every member, in member order.
  const std::vector<std::string>& endpoints() const { return endpoints_; }
  // etcd's member ID of member `i` (as in response headers).
  uint64_t member_id(int i) const { return member_ids_[i]; }
  // The index of the member with etcd member ID `id`; -1 if none.
  int MemberIndex(uint64_t id) const;
  // The process ID of member `i`; -1 while it is not running.
  pid_t pid(int i) const;

  // SIGKILL, and wait for the process.
  absl::Status Kill(int i);
  // Starts a killed member again on its ports and data, and waits until it
  // serves (which needs a quorum).
  absl::Status Restart(int i, absl::Duration timeout = absl::Seconds(30));
  // SIGSTOP / SIGCONT.
  absl::Status Pause(int i);
  absl::Status Resume(int i);

  // Runs etcdctl against member `i` with `args`; its stdout.
  absl::StatusOr<std::string> Etcdctl(int i,
                                      const std::vector<std::string>& args);

 private:
  EtcdCluster() = default;
  absl::Status Launch(int i);
  // A linearizable read through member `i` alone succeeds; its member ID.
  absl::StatusOr<uint64_t> WaitServing(int i, absl::Duration timeout);

  std::string dir_;
  std::string initial_cluster_;
  std::vector<std::string> endpoints_;
  std::vector<int> peer_ports_;
  std::vector<uint64_t> member_ids_;
  std::vector<std::optional<Process>> processes_;
  std::optional<EtcdTls> tls_;
};

}  // namespace ledger::subprocess
