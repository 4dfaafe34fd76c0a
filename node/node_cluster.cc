// A cluster node's life (docs/cluster.md): connect to etcd, serve
// replication, follow, campaign, and on winning complete the log, commit it
// and start the sequencer. A leader that stops leading steps down by
// ending its process (on_deposed): its sequencer has written groups that
// will never be committed, and a restart as a follower is the one way back
// that is simple enough to trust.

#include <pthread.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "ledger/checkpoint.h"
#include "ledger/key_registry.h"
#include "node/etcd_client.h"
#include "node/ledger_events.h"
#include "node/node.h"
#include "spdlog/spdlog.h"

namespace ledger::node {
namespace {

// Replication requests carry whole groups (up to max_group_events events).
constexpr size_t kClusterMessageBytes = size_t{512} << 20;

std::shared_ptr<grpc::ChannelCredentials> PeerCredentials(
    const std::optional<TlsMaterial>& tls) {
  if (!tls.has_value()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = tls->ca_pem;
  ssl.pem_private_key = tls->key_pem;
  ssl.pem_cert_chain = tls->cert_chain_pem;
  return grpc::SslCredentials(ssl);
}

}  // namespace

void Node::RegisterPeerCosigner(const std::string& node_name,
                                const std::string& peer,
                                const crypto::NoteVerifier& cosigner) {
  absl::StatusOr<VerifiedBatch> batch = CosignerRegistration(
      cosigner.name, cosigner.key, node_name, absl::ToUnixNanos(absl::Now()));
  if (!batch.ok()) {
    spdlog::warn("cluster: registering {}'s cosigner key {}: {}", peer,
                 cosigner.name, ToStd(batch.status().message()));
    return;
  }
  // Not waited for: the replication thread that asks goes on, and asks
  // again a second later if the key is still unknown then.
  sequencer_->Submit(*std::move(batch));
  spdlog::info("cluster: registering {}'s cosigner key {} in the log", peer,
               cosigner.name);
}

bool Node::leading() const {
  MutexLock lock(&cluster_mu_);
  return leading_;
}

absl::Status Node::OpenCluster(const NodeConfig& config,
                               const std::optional<TlsMaterial>& tls) {
  const ClusterConfig& c = config.cluster;
  EtcdClientOptions etcd_options;
  etcd_options.endpoints = c.etcd_endpoints;
  if (!c.etcd_ca_file.empty()) {
    LEDGER_ASSIGN_OR_RETURN(
        TlsMaterial etcd_tls,
        LoadTlsFiles(c.etcd_ca_file, c.etcd_cert_file, c.etcd_key_file));
    etcd_options.credentials = PeerCredentials(etcd_tls);
    etcd_options.tls_target_name = c.etcd_tls_name;
    if (etcd_options.tls_target_name.empty()) {
      // The first endpoint's host.
      etcd_options.tls_target_name =
          c.etcd_endpoints[0].substr(0, c.etcd_endpoints[0].rfind(':'));
    }
  }
  LEDGER_ASSIGN_OR_RETURN(std::unique_ptr<EtcdClient> client,
                          EtcdClient::Create(etcd_options));
  etcd_client_ = std::move(client);
  EtcdCoordinatorOptions coordinator_options;
  coordinator_options.origin = identity_->origin;
  coordinator_options.node_name = config.node_name;
  coordinator_options.lease_ttl = c.lease_ttl;
  coordinator_options.commit_timeout = c.commit_timeout;
  spdlog::info("cluster: connecting to etcd ({} members, {})",
               c.etcd_endpoints.size(),
               c.etcd_ca_file.empty() ? "plaintext" : "mutual TLS");
  LEDGER_ASSIGN_OR_RETURN(
      etcd_, EtcdCoordinator::Start(etcd_client_.get(), coordinator_options));
  ReplicaOptions replica_options;
  replica_options.cosigner = &identity_->cosigner;
  // A follower keeps the leader's checkpoints as its own: in its rollback
  // guard first (as the sequencer does), then in the ledger.
  replica_options.store_checkpoint = [this](std::string_view note) {
    absl::StatusOr<VerifiedCheckpoint> opened =
        OpenCheckpoint(note, identity_->verifiers(), identity_->origin);
    if (!opened.ok()) return opened.status();
    LEDGER_RETURN_IF_ERROR(guard_->Record(note, opened->checkpoint));
    LEDGER_RETURN_IF_ERROR(ledger_->StoreCheckpoint(note).status());
    sequencer_->CheckpointStored(opened->checkpoint.size);
    return absl::OkStatus();
  };
  replica_ = std::make_unique<Replica>(ledger_.get(), config.node_name,
                                       replica_options);
  replica_->ObserveCommitted(etcd_->Committed());
  etcd_->SetHeadListener([replica = replica_.get()](const HeadRecord& record) {
    replica->ObserveCommitted(record.head);
  });
  std::map<std::string, std::string> addresses;
  std::vector<std::string> peers;
  for (const ClusterPeer& p : c.peers) {
    addresses[p.name] = p.cluster_address;
    peers.push_back(p.name);
  }
  transport_ = std::make_unique<GrpcReplicationTransport>(
      addresses, PeerCredentials(tls), kClusterMessageBytes);
  ClusterCoordinatorOptions options;
  options.node_name = config.node_name;
  options.peers = peers;
  options.commit_timeout = c.commit_timeout;
  options.register_cosigner = [this, node_name = config.node_name](
                                  const std::string& peer,
                                  const crypto::NoteVerifier& cosigner) {
    RegisterPeerCosigner(node_name, peer, cosigner);
  };
  auto cluster = std::make_unique<ClusterCoordinator>(
      ledger_.get(), replica_.get(), etcd_.get(), transport_.get(), options);
  cluster_ = cluster.get();
  coordinator_ = std::move(cluster);

  replication_service_ = std::make_unique<ReplicationService>(replica_.get());
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  ServerOptions server_options;
  server_options.tls = tls;
  server_options.authorizer = authorizer_;
  builder.AddListeningPort(c.listen, ServerCredentialsFor(server_options),
                           &cluster_port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(kClusterMessageBytes));
  builder.SetMaxSendMessageSize(static_cast<int>(kClusterMessageBytes));
  builder.RegisterService(replication_service_.get());
  cluster_server_ = builder.BuildAndStart();
  if (cluster_server_ == nullptr || cluster_port_ == 0) {
    return absl::UnavailableError(
        StrCat("cannot listen on cluster.listen ", c.listen,
               " (address in use, or not an address of this host?)"));
  }
  spdlog::info("cluster: replication listening on port {}; {} peers",
               cluster_port_, peers.size());
  return absl::OkStatus();
}

void Node::StopCluster() {
  {
    MutexLock lock(&cluster_mu_);
    cluster_stop_ = true;
  }
  if (cluster_thread_.joinable()) cluster_thread_.join();
  if (cluster_ != nullptr) cluster_->Stop();
  if (cluster_server_ != nullptr) {
    cluster_server_->Shutdown(std::chrono::system_clock::now());
  }
  if (etcd_ != nullptr && etcd_->is_leader()) {
    absl::Status s = etcd_->Resign();
    if (!s.ok()) spdlog::warn("cluster: resigning: {}", ToStd(s.message()));
  }
}

absl::Status Node::BecomeLeader(const NodeConfig& config, const Clock* clock,
                                bool* started) {
  *started = false;
  const ledger::Head committed = etcd_->Committed();
  std::vector<std::string> peers;
  for (const ClusterPeer& p : config.cluster.peers) peers.push_back(p.name);
  spdlog::info(
      "cluster: elected with epoch {}; completing the log ({} entries) to the "
      "committed head of {}",
      etcd_->epoch(), ledger_->head().size, committed.size);
  LEDGER_RETURN_IF_ERROR(replica_->CatchUp(
      committed, etcd_->epoch(), peers,
      [this](const std::string& peer, const FetchRequest& request) {
        return transport_->Fetch(peer, request, absl::Seconds(10));
      }));
  replica_->SetLeading(etcd_->epoch());
  *started = true;
  cluster_->Lead(etcd_->epoch());
  if (ledger_->head().size == 0) {
    LEDGER_RETURN_IF_ERROR(
        AppendGenesis(*ledger_, *identity_, config.node_name, clock->NowNs()));
    spdlog::info("cluster: new ledger: genesis entry registers the log key");
  }
  LEDGER_RETURN_IF_ERROR(RegisterCosigner(config, clock));
  // Like a Raft leader's first entry: commit what this leader holds before
  // it serves, so that its view is the cluster's.
  LEDGER_RETURN_IF_ERROR(cluster_->Commit(ledger_->head()));
  LEDGER_RETURN_IF_ERROR(
      Annotate(sequencer_->Start(), "issuing the start-up checkpoint"));
  spdlog::info("cluster: leading with epoch {} at {} entries", etcd_->epoch(),
               ledger_->head().size);
  return absl::OkStatus();
}

void Node::RunCluster(const NodeConfig& config, const Clock* clock) {
  std::map<std::string, std::string> client_addresses;
  for (const ClusterPeer& p : config.cluster.peers) {
    client_addresses[p.name] = p.address;
  }
  LeaderInfo announced;
  auto stopping = [this] {
    MutexLock lock(&cluster_mu_);
    return cluster_stop_;
  };
  auto pause = [this](absl::Duration d) {
    MutexLock lock(&cluster_mu_);
    cluster_mu_.AwaitWithTimeout([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                                     cluster_mu_) { return cluster_stop_; },
                                 d);
  };
  while (!stopping()) {
    const LeaderInfo leader = etcd_->leader();
    if (leader.epoch != 0 && leader.node_name != config.node_name &&
        !(leader == announced)) {
      announced = leader;
      auto it = client_addresses.find(leader.node_name);
      const std::string where =
          it == client_addresses.end() ? "" : StrCat(" at ", it->second);
      {
        MutexLock lock(&cluster_mu_);
        leader_address_ = it == client_addresses.end() ? "" : it->second;
      }
      spdlog::info("cluster: following {} (epoch {})", leader.node_name,
                   leader.epoch);
      sequencer_->SetNotStartedReason(absl::UnavailableError(
          StrCat("node ", config.node_name, " follows; the leader is ",
                 leader.node_name, where, ": send appends there")));
    }
    if (leader.epoch == 0) {
      absl::StatusOr<bool> won = etcd_->Campaign();
      if (!won.ok()) {
        spdlog::warn("cluster: campaign: {}", ToStd(won.status().message()));
      } else if (*won) {
        bool started = false;
        absl::Status became = BecomeLeader(config, clock, &started);
        if (became.ok()) {
          MutexLock lock(&cluster_mu_);
          leading_ = true;
          leader_address_.clear();
          break;
        }
        spdlog::error("cluster: cannot lead: {}", ToStd(became.message()));
        if (!started) {
          // Nothing was started yet: resign and let another node (or a
          // later attempt) lead.
          absl::Status s = etcd_->Resign();
          if (!s.ok()) spdlog::warn("cluster: resign: {}", ToStd(s.message()));
          replica_->SetFollowing();
          pause(config.cluster.lease_ttl);
          continue;
        }
        if (on_deposed_) on_deposed_(became);
        return;
      }
    }
    pause(absl::Milliseconds(200));
  }
  // Leading: until deposed or stopped.
  while (!stopping()) {
    if (!etcd_->is_leader()) {
      absl::Status why = etcd_->deposed_status();
      if (why.ok()) why = absl::FailedPreconditionError("no longer leader");
      spdlog::error(
          "cluster: stepped down ({}); appends are refused until this node "
          "restarts as a follower",
          ToStd(why.message()));
      sequencer_->StopAccepting();
      {
        MutexLock lock(&cluster_mu_);
        leading_ = false;
      }
      if (on_deposed_) on_deposed_(why);
      return;
    }
    pause(absl::Milliseconds(100));
  }
}

}  // namespace ledger::node
