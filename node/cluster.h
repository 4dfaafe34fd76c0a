#pragma once

// The replicated cluster's runtime (docs/cluster.md): the node-to-node
// gRPC service and its client, and ClusterCoordinator, the Coordinator of a
// cluster node. The decisions are in node/replication.h (what to send, what
// to take) and node/etcd_coordinator.h (who leads, what is committed); this
// file adds threads, deadlines and the network.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/sync.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "ledger/v1/cluster.grpc.pb.h"
#include "node/coordinator.h"
#include "node/etcd_coordinator.h"
#include "node/replication.h"

namespace ledger::node {

// Calls to the other nodes of the cluster.
class ReplicationTransport {
 public:
  virtual ~ReplicationTransport() = default;
  virtual absl::StatusOr<ReplicateResponse> Replicate(
      const std::string& peer, const ReplicateRequest& request,
      absl::Duration timeout) = 0;
  virtual absl::StatusOr<FetchResponse> Fetch(const std::string& peer,
                                              const FetchRequest& request,
                                              absl::Duration timeout) = 0;
  virtual absl::StatusOr<CosignResponse> Cosign(const std::string& peer,
                                                const CosignRequest& request,
                                                absl::Duration timeout) = 0;
};

// ReplicationTransport over ledger.v1.Replication: one channel per peer.
class GrpcReplicationTransport : public ReplicationTransport {
 public:
  // `addresses`: peer name -> its cluster address.
  GrpcReplicationTransport(
      const std::map<std::string, std::string>& addresses,
      std::shared_ptr<grpc::ChannelCredentials> credentials,
      size_t max_message_bytes);
  absl::StatusOr<ReplicateResponse> Replicate(const std::string& peer,
                                              const ReplicateRequest& request,
                                              absl::Duration timeout) override;
  absl::StatusOr<FetchResponse> Fetch(const std::string& peer,
                                      const FetchRequest& request,
                                      absl::Duration timeout) override;
  absl::StatusOr<CosignResponse> Cosign(const std::string& peer,
                                        const CosignRequest& request,
                                        absl::Duration timeout) override;

 private:
  // NotFound for a name that is not a peer.
  absl::StatusOr<v1::Replication::Stub*> Stub(const std::string& peer) const;
  std::map<std::string, std::unique_ptr<v1::Replication::Stub>> stubs_;
};

// The server side: hands requests to the node's Replica.
class ReplicationService final : public v1::Replication::Service {
 public:
  explicit ReplicationService(Replica* replica) : replica_(replica) {}
  grpc::Status Replicate(grpc::ServerContext* context,
                         const v1::ReplicateRequest* request,
                         v1::ReplicateResponse* response) override;
  grpc::Status Fetch(grpc::ServerContext* context,
                     const v1::FetchRequest* request,
                     v1::FetchResponse* response) override;
  grpc::Status Cosign(grpc::ServerContext* context,
                      const v1::CosignRequest* request,
                      v1::CosignResponse* response) override;

 private:
  Replica* const replica_;
};

// Wire conversions (exposed for tests).
v1::ReplicateRequest ToProto(const ReplicateRequest& request);
absl::StatusOr<ReplicateRequest> FromProto(const v1::ReplicateRequest& request);

struct ClusterCoordinatorOptions {
  std::string node_name;
  std::vector<std::string> peers;
  // How long Commit waits for a majority to hold the head before it fails
  // with Unavailable (the sequencer then stops: the node steps down).
  absl::Duration commit_timeout = absl::Seconds(10);
  // Deadline of one Replicate call.
  absl::Duration request_timeout = absl::Seconds(5);
  // An idle leader sends each follower an empty request this often (the
  // committed head travels with it).
  absl::Duration heartbeat = absl::Milliseconds(200);
  // Deadline of one Cosign call (the sequencer's writer waits for them).
  absl::Duration cosign_timeout = absl::Seconds(2);
  // Called (on a replication thread, at most once a second per follower)
  // while a follower's cosigner key is not registered in the log; the node
  // appends its key.registered entry. Empty: nothing is registered.
  std::function<void(const std::string& peer,
                     const crypto::NoteVerifier& cosigner)>
      register_cosigner;
  ReplicationLeaderOptions leader;
};

// The Coordinator of a cluster node. Following: Commit is refused and
// Committed() is the largest committed head this node holds
// (Replica::verified_committed). Leading (after Lead): one thread per
// follower streams it the entries this node has made durable, and Commit
// waits until a majority holds the head, then commits it in etcd (fenced by
// the epoch). While the sequencer's publisher waits in Commit, its writer
// goes on writing the next groups; the next Commit carries all of them, so
// the cluster pays one replication round and one etcd transaction per set
// of groups, not per batch.
class ClusterCoordinator : public Coordinator {
 public:
  // Borrows everything.
  ClusterCoordinator(const ledger::Ledger* ledger, Replica* replica,
                     EtcdCoordinator* etcd, ReplicationTransport* transport,
                     ClusterCoordinatorOptions options);
  ~ClusterCoordinator() override;  // Stop()

  // This node won the election with `epoch` and its log is complete up to
  // the committed head: start replicating to the followers.
  void Lead(int64_t epoch);
  // Stops the replication threads (idempotent).
  void Stop();

  absl::Status Commit(const ledger::Head& head) override;
  ledger::Head Committed() const override;
  bool WaitForCommitted(uint64_t size, absl::Duration timeout) const override;
  // Asks every follower to cosign `checkpoint` (in parallel, within
  // cosign_timeout) and adds each cosignature that verifies with the key the
  // follower names; Unavailable, naming each follower's answer, unless a
  // majority of the nodes (this one included) signed.
  absl::StatusOr<std::string> Cosign(
      std::string note, const ledger::Checkpoint& checkpoint) override;

  // For logs and metrics: what each follower holds (leading only).
  std::map<std::string, uint64_t> matched() const;

 private:
  void PeerLoop(const std::string& peer);
  void Bump();
  // A follower named its cosigner key: ask for it to be registered if the
  // log does not know it (rate-limited per follower).
  void NoteCosignerKey(const std::string& peer, const std::string& vkey,
                       absl::Time* last_asked);

  const ledger::Ledger* const ledger_;
  Replica* const replica_;
  EtcdCoordinator* const etcd_;
  ReplicationTransport* const transport_;
  const ClusterCoordinatorOptions options_;

  mutable Mutex mu_;
  std::unique_ptr<ReplicationLeader> leader_ ABSL_GUARDED_BY(mu_);
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;  // bumped on any progress
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, absl::Status> peer_status_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;  // Lead and Stop only
};

}  // namespace ledger::node
