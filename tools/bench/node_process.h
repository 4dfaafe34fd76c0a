#pragma once

// A `ledger-node` child process for the benchmark: started on
// 127.0.0.1:0 with a fresh data directory, its port read from the
// "listening on" line (and, with a health endpoint of its own, that port
// from the "health listening on" line), its CPU time read from /proc,
// stopped with SIGTERM (SIGKILL if it does not exit). Plus the few RPCs the
// benchmark needs besides the load itself, and the endpoints (plaintext or
// mutual TLS) of the roles the benchmark acts in.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/note.h"
#include "ledger/v1/admin.grpc.pb.h"
#include "ledger/v1/proof.grpc.pb.h"
#include "tools/bench/workload.h"
#include "tools/common/client_tls.h"
#include "tools/common/subprocess.h"

namespace ledger::bench {

// How the benchmark reaches its node. Plaintext (no config_file): the node
// runs with --insecure-plaintext. Mutual TLS: the node runs with
// `config_file` ([tls] and [access], bench_tls.h) and the benchmark acts
// as three identities of its access policy.
struct NodeAccess {
  std::string config_file;
  // Client settings; the address is set once the node's port is known.
  client_tls::ClientSettings emitter;    // the load: appends
  client_tls::ClientSettings regulator;  // checkpoints, proofs, entries, keys
  client_tls::ClientSettings admin;      // registers the emitter key
  bool tls() const { return !config_file.empty(); }
};

struct NodeOptions {
  std::string binary;    // path of ledger-node
  std::string data_dir;  // created by the node if missing
  std::string log_path;  // the node's stderr
  std::string log_level = "warn";
  double start_timeout_seconds = 120;  // opening verifies the whole ledger
  NodeAccess access;                   // default: plaintext
  // Also serve health alone on a port of its own (--health-listen).
  bool health_endpoint = false;
  // Also serve the HTTP port (--http-listen: tlog-tiles, /metrics).
  bool http_endpoint = false;
  // The client API's address: a port chosen by the node by default; a
  // cluster node's is fixed, since its peers' configurations name it.
  std::string listen = "127.0.0.1:0";
  // A configuration file of the node's own settings (a cluster node's
  // origin, node_name and [cluster]); plaintext only: with mutual TLS the
  // access configuration is the node's configuration file.
  std::string config_file;
};

class NodeProcess {
 public:
  static absl::StatusOr<std::unique_ptr<NodeProcess>> Start(
      const NodeOptions& options);
  ~NodeProcess();  // kills a node still running

  const std::string& target() const { return target_; }  // "127.0.0.1:PORT"
  // The health endpoint's "127.0.0.1:PORT"; "" without one.
  const std::string& health_target() const { return health_target_; }
  // The HTTP port's "127.0.0.1:PORT"; "" without one.
  const std::string& http_target() const { return http_target_; }
  // The reader's client files (ca, cert, key), for clients other than
  // gRPC's (the HTTP port with mutual TLS).
  const client_tls::ClientSettings& reader_settings() const {
    return options_.access.regulator;
  }
  pid_t pid() const { return process_.pid(); }
  const std::string& data_dir() const { return options_.data_dir; }
  bool tls() const { return options_.access.tls(); }
  // The load's identity (an emitter of kTenant), and the reader's (a
  // regulator: checkpoints, proofs, entries); the same plaintext endpoint
  // without TLS.
  const client_tls::Endpoint& emitter_endpoint() const { return emitter_; }
  const client_tls::Endpoint& reader_endpoint() const { return reader_; }
  // The health endpoint as the reader (same credentials, its own port);
  // meaningful only with a health_target().
  client_tls::Endpoint health_endpoint() const {
    client_tls::Endpoint e = reader_;
    e.address = health_target_;
    return e;
  }
  // A channel as the reader.
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }

  // utime + stime of the node so far, in seconds.
  absl::StatusOr<double> CpuSeconds() const;
  // The same, split: {user, system}.
  absl::StatusOr<std::pair<double, double>> CpuTimes() const;

  // Registers `emitter` (an Ed25519 note signer) for `tenant` and
  // `producer` (the workload's events are label-studio's).
  absl::Status RegisterEmitterKey(const crypto::NoteSigner& emitter,
                                  const std::string& tenant,
                                  const std::string& producer = "label-studio");
  // The payload key of `subject` of `tenant` (Ingest.GetPayloadKey).
  absl::StatusOr<PayloadSeal> GetPayloadKey(const std::string& tenant,
                                            const std::string& subject);
  // Every registered key (node and emitters).
  absl::StatusOr<std::vector<v1::KeyInfo>> ListKeys();
  absl::StatusOr<v1::NodeInfo> GetNodeInfo(double timeout_seconds = 30);
  // Waits until a checkpoint covers at least `min_size` entries.
  absl::StatusOr<v1::Checkpoint> WaitForCheckpoint(uint64_t min_size,
                                                   double timeout_seconds);

  // Waits until the node uses less than `cpu_fraction` of a core over a
  // 250 ms window (background flushes and compactions done), at most
  // `max_seconds`; returns whether it got there.
  bool WaitUntilIdle(double max_seconds, double cpu_fraction = 0.05) const;

  // SIGTERM and wait; the node's exit code.
  absl::StatusOr<int> Stop(double timeout_seconds = 60);
  // SIGKILL (kill -9) and wait until the process is gone.
  absl::Status Kill();
  // Whether the process is still alive (not exited, not a zombie): a
  // deposed cluster leader ends its own process.
  bool Running() const;

 private:
  NodeProcess(NodeOptions options, subprocess::Process process);
  NodeOptions options_;
  subprocess::Process process_;
  std::string target_;
  client_tls::Endpoint emitter_, reader_, admin_;
  std::string health_target_;
  std::string http_target_;
  std::shared_ptr<grpc::Channel> channel_;
  bool stopped_ = false;
};

// Bytes of every file under `dir` (apparent sizes).
uint64_t DirectoryBytes(const std::string& dir);

// CPU seconds {utime, stime} of process `pid` from /proc/PID/stat.
absl::StatusOr<std::pair<double, double>> ProcessCpuTimes(pid_t pid);
// CPU seconds (utime + stime) of each live thread of `pid` by thread ID,
// with the thread's name, from /proc/PID/task/*/stat.
struct ThreadCpu {
  std::string name;
  double seconds = 0;
};
std::map<pid_t, ThreadCpu> ProcessThreadCpu(pid_t pid);
// CPU seconds per thread name spent between two ProcessThreadCpu snapshots
// (threads that ended in between are missing).
std::map<std::string, double> ThreadCpuDelta(
    const std::map<pid_t, ThreadCpu>& before,
    const std::map<pid_t, ThreadCpu>& after);

// CPU seconds of this process (all threads).
double SelfCpuSeconds();

}  // namespace ledger::bench
