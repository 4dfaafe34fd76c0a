#pragma once

// A running single-node ledger: data directory, rollback guard, verified
// ledger, genesis, local coordinator, sequencer, gRPC server and background
// scrub, started and stopped in the right order. main() and the in-process
// tests use it alike.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/sync.h"
#include "ledger/ledger.h"
#include "node/access_policy.h"
#include "node/authorizer.h"
#include "node/clock.h"
#include "node/cluster.h"
#include "node/config.h"
#include "node/coordinator.h"
#include "node/data_dir.h"
#include "node/denial_recorder.h"
#include "node/http_server.h"
#include "node/metrics.h"
#include "node/rollback_guard.h"
#include "node/scrubber.h"
#include "node/sequencer.h"
#include "node/server.h"
#include "node/tls_files.h"
#include "rocksdb/env.h"

namespace ledger::node {

// Seams for tests; production leaves them empty.
struct NodeTestHooks {
  // Every file operation of the ledger's store goes through this Env
  // (ledger/fault_fs.h injects faults). Not owned.
  rocksdb::Env* env = nullptr;
  // The clock of the per-identity rate limit and of the access.denied
  // interval (default: the node's clock). Not owned.
  const Clock* access_clock = nullptr;
  // A cluster node that led and no longer does (its lease expired, another
  // node was elected, or its commits failed) calls this once, from its
  // cluster thread; it has stopped accepting appends and must be restarted
  // to follow (docs/cluster.md, "Stepping down"). nullptr: it only stops
  // accepting appends.
  std::function<void(const absl::Status&)> on_deposed;
};

class Node {
 public:
  // Validates `config` (transport security included: with [tls] the
  // certificate files and the access policy are read and checked before
  // anything else; with insecure_plaintext a WARNING says so), opens (or
  // creates) the data directory and its rollback guard, opens and verifies
  // the ledger (DataLoss if it does not verify, or holds less than the
  // guard: the node must not serve), appends the genesis entry to an empty
  // ledger and registers the cosigner key, issues a checkpoint if none
  // covers the head, then serves on config.listen (mutual TLS and the
  // access policy, or plaintext) and health alone on config.health_listen
  // if set (Unavailable naming the address if either cannot bind), and
  // starts the scrub. `on_data_loss` is called (once, from a background
  // thread) if damage is found later, by the scrub or by the sequencer's
  // rollback guard check: by then the node refuses writes, signs nothing
  // more and reports NOT_SERVING, and should be stopped.
  // `clock` must outlive the node.
  static absl::StatusOr<std::unique_ptr<Node>> Start(
      const NodeConfig& config, const Clock* clock = SystemClock::Default(),
      std::function<void(const absl::Status&)> on_data_loss = nullptr,
      NodeTestHooks hooks = {});
  ~Node();  // Shutdown()

  // The port the server is bound to.
  int port() const { return server_->port(); }
  // The health endpoint's port (config.health_listen); 0 without one.
  int health_port() const { return server_->health_port(); }
  // The HTTP port (config.http_listen: tlog-tiles and /metrics); 0 without
  // one.
  int http_port() const { return http_ != nullptr ? http_->port() : 0; }
  NodeMetrics& metrics() { return *metrics_; }
  const NodeIdentity& identity() const { return *identity_; }
  ledger::Ledger& ledger() { return *ledger_; }
  Sequencer& sequencer() { return *sequencer_; }
  Scrubber& scrubber() { return *scrubber_; }
  const Coordinator& coordinator() const { return *coordinator_; }
  // The cluster address's port (config.cluster.listen); 0 for a single node.
  int cluster_port() const { return cluster_port_; }
  // A cluster node: whether it leads now.
  bool leading() const;
  Authorizer& authorizer() { return *authorizer_; }
  // Null when the node serves insecure_plaintext (nothing is denied).
  DenialRecorder* denial_recorder() { return denials_.get(); }

  // Refuses new appends (Unavailable "node is shutting down"), gives calls
  // in flight `grace` to finish, appends everything queued, issues a final
  // checkpoint and stops the sequencer. The ledger stays open for reads
  // until destruction. Idempotent; call from one thread.
  void Shutdown(absl::Duration grace = absl::Seconds(10));

 private:
  Node() = default;
  absl::Status Open(const NodeConfig& config, const Clock* clock,
                    const NodeTestHooks& hooks);
  // The TLS material and access policy of `config` ([tls], [access]), or
  // nothing for insecure_plaintext.
  absl::Status LoadTransport(const NodeConfig& config,
                             std::optional<TlsMaterial>* tls,
                             std::unique_ptr<AccessPolicy>* policy);
  // The rollback guard, or for a data directory written before there was
  // one (storage format 1), one made from its last checkpoint.
  absl::Status OpenGuard(const DataDirLayout& layout, bool* legacy);
  absl::Status AdoptLegacyGuard(const DataDirLayout& layout);
  // Registers this node's cosigner key in the ledger if it is not.
  absl::Status RegisterCosigner(const NodeConfig& config, const Clock* clock);
  // The key.registered batch of a cosigner key (role cosigner, valid from
  // `now_ns`), signed with the log's node key.
  absl::StatusOr<VerifiedBatch> CosignerRegistration(
      const std::string& name, const crypto::Ed25519PublicKey& public_key,
      const std::string& node_name, int64_t now_ns) const;
  // Leader: appends the key.registered entry of a follower's cosigner key
  // (signed with the log's node key), without waiting for it.
  void RegisterPeerCosigner(const std::string& node_name,
                            const std::string& peer,
                            const crypto::NoteVerifier& cosigner);
  // Health of the write path, from the sequencer's state.
  void OnSequencerState(SequencerState state, const absl::Status& reason);
  void OnDataLoss(const absl::Status& cause);

  // The cluster (node_cluster.cc, docs/cluster.md). OpenCluster connects to
  // etcd and starts the replication listener; the cluster thread
  // (RunCluster) campaigns, follows, and on winning completes the log
  // (BecomeLeader) and starts the sequencer.
  absl::Status OpenCluster(const NodeConfig& config,
                           const std::optional<TlsMaterial>& tls);
  void RunCluster(const NodeConfig& config, const Clock* clock);
  // `*started`: the log was complete and replication began (a failure
  // after that cannot be undone in-process: the node steps down).
  absl::Status BecomeLeader(const NodeConfig& config, const Clock* clock,
                            bool* started);
  void StopCluster();

  std::function<void(const absl::Status&)> on_data_loss_;
  // First: everything below records into it.
  std::unique_ptr<NodeMetrics> metrics_;
  std::unique_ptr<NodeIdentity> identity_;
  std::unique_ptr<RollbackGuard> guard_;
  std::unique_ptr<FileAckedHead> acked_head_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<Coordinator> coordinator_;
  // A cluster node's parts (all null for a single node). Declared before
  // the sequencer, which uses the coordinator, and destroyed after it.
  std::unique_ptr<EtcdKv> etcd_client_;
  std::unique_ptr<EtcdCoordinator> etcd_;
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<ReplicationTransport> transport_;
  ClusterCoordinator* cluster_ = nullptr;  // owned by coordinator_
  std::unique_ptr<ReplicationService> replication_service_;
  std::unique_ptr<grpc::Server> cluster_server_;
  int cluster_port_ = 0;
  std::function<void(const absl::Status&)> on_deposed_;
  std::thread cluster_thread_;
  mutable Mutex cluster_mu_;
  bool cluster_stop_ ABSL_GUARDED_BY(cluster_mu_) = false;
  bool leading_ ABSL_GUARDED_BY(cluster_mu_) = false;
  // The client address of the leader this follower follows ("": none).
  std::string leader_address_ ABSL_GUARDED_BY(cluster_mu_);
  std::unique_ptr<Sequencer> sequencer_;
  // Declared before server_, so destroyed after it: gRPC calls the
  // authorizer until the server is gone.
  std::unique_ptr<DenialRecorder> denials_;
  std::shared_ptr<Authorizer> authorizer_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<Scrubber> scrubber_;
  // Last: destroyed first, it reads the ledger and the sequencer.
  std::unique_ptr<HttpServer> http_;
  bool shut_down_ = false;

  Mutex health_mu_;
  Server* health_server_ ABSL_GUARDED_BY(health_mu_) = nullptr;
  bool ingest_serving_ ABSL_GUARDED_BY(health_mu_) = false;
  bool data_loss_ ABSL_GUARDED_BY(health_mu_) = false;
};

}  // namespace ledger::node
