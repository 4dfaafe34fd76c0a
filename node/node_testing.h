#pragma once

// Test helpers for node/: temporary directories, emitter keys, events and
// signatures as a platform would build them, and a fixture running a real
// Node on 127.0.0.1:0 with stubs for every service. For tests only.

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "crypto/ed25519.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/channel.h"
#include "ledger/event.h"
#include "ledger/v1/admin.grpc.pb.h"
#include "ledger/v1/ingest.grpc.pb.h"
#include "ledger/v1/proof.grpc.pb.h"
#include "ledger/v1/query.grpc.pb.h"
#include "node/clock.h"
#include "node/config.h"
#include "node/node.h"

namespace ledger::node::testing {

// A fresh directory under $TEST_TMPDIR or /tmp, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// An emitter key pair, deterministic in `seed_byte`.
struct EmitterKeyPair {
  EmitterKeyPair(std::string name, uint8_t seed_byte);
  std::string name;
  crypto::Ed25519PrivateKey key;
  // The verifier-key text of the .pub file ("name+keyid+base64").
  std::string vkey() const;
  crypto::Hash key_id() const;
};

// Where MakeEventProto's occurred_at times start: 30 days before the start
// of the UTC day the process first asked, fixed for the process (inside a
// node's default occurred_at window).
int64_t TestEpochSeconds();

// A valid "annotation.created" event of `tenant`; `n` makes the event_id
// and the content unique; it occurred at TestEpochSeconds() + n.
v1::Event MakeEventProto(std::string_view tenant, int n);
// The same as a ledger event (for code below the RPC boundary).
Event MakeEvent(std::string_view tenant, int n);

// The emitter signature over `events` (their canonical bytes), as a
// platform computes it. The events must convert (EventFromProto).
v1::EmitterSignature SignEvents(
    const crypto::Ed25519PrivateKey& key,
    const google::protobuf::RepeatedPtrField<v1::Event>& events);
v1::AppendRequest SignedAppend(const crypto::Ed25519PrivateKey& key,
                               v1::Event event);
v1::AppendBatchRequest SignedBatch(const crypto::Ed25519PrivateKey& key,
                                   std::vector<v1::Event> events);

// Tampering with a stopped node's database behind the ledger's back, as a
// failing disk or a careless operator would (test failures if it cannot).
// Flips one bit in the middle of entry `index`.
void FlipEntryBit(const std::string& db_dir, uint64_t index);
// Deletes the by_event_id record of event `n` of `tenant` (numbered as
// MakeEvent numbers them).
void DeleteEventIdRecord(const std::string& db_dir, std::string_view tenant,
                         int n);
// Deletes the by_type record of entry `index` of type `type` of `tenant`.
void DeleteTypeIndexRecord(const std::string& db_dir, std::string_view tenant,
                           std::string_view type, uint64_t index);

// A running node (system clock, data in a TempDir, origin
// "ledger.test/node") and a client channel to it.
class NodeFixture : public ::testing::Test {
 protected:
  static constexpr char kTenant[] = "acme-ai";

  void SetUp() override;
  void TearDown() override;
  // Adjusts the configuration before SetUp starts the node.
  virtual void Configure(NodeConfig&) {}

  // Config for the next StartNode(); tests may adjust it first.
  NodeConfig& config() { return config_; }
  void StartNode();
  // As StartNode, but returns why the node did not start.
  absl::Status TryStartNode();
  void StopNode();

  // Registers `key` for `tenant` through the Admin service.
  v1::EntryRef RegisterKey(const EmitterKeyPair& key,
                           const std::string& tenant = kTenant);
  uint64_t LedgerSize() { return node_->ledger().head().size; }
  // A client context with a 2 min deadline (sanitizer builds are slow).
  static std::unique_ptr<grpc::ClientContext> Context();
  // Appends events first .. first+count-1 of kTenant as one batch signed by
  // emitter_ (registered by the caller); OK or why not.
  grpc::Status AppendEvents(int first, int count);
  // What the standard health service says about `service` ("" for the
  // node): "SERVING", "NOT_SERVING", ..., or the RPC's error. With a
  // health endpoint of its own (config health_listen), both are asked and
  // a difference is reported: "service port: X; health endpoint: Y".
  std::string Health(const std::string& service);
  // What one of the two says (`health_endpoint`: the health-only server's).
  std::string HealthAt(bool health_endpoint, const std::string& service);
  // Admin.GetNodeInfo (a test failure if the call fails).
  v1::NodeInfo GetNodeInfo();

  TempDir dir_;
  NodeConfig config_;
  // Given to Node::Start by the next StartNode().
  std::function<void(const absl::Status&)> on_data_loss_;
  std::unique_ptr<Node> node_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Ingest::Stub> ingest_;
  std::unique_ptr<v1::Proof::Stub> proof_;
  std::unique_ptr<v1::Query::Stub> query_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
  // With health_listen: a channel to the health endpoint.
  std::shared_ptr<grpc::Channel> health_channel_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_endpoint_;
  EmitterKeyPair emitter_{"labelstudio", 0x51};
};

}  // namespace ledger::node::testing
