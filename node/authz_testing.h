#pragma once

// A whole node over mutual TLS with an access policy, for tests: a test CA
// (tools/common/dev_certs.h), a certificate per identity, the node
// in-process on 127.0.0.1:0 and a client per identity. For tests only.
//
// The policy's identities, by label (role, tenant):
//   emitter-acme, emitter-beta    emitter of acme, of beta
//   officer-acme, officer-beta    officer of acme, of beta
//   regulator, admin, node        their role, no tenant
//   cn-regulator                  a regulator matched by common name (its
//                                 certificate has no SAN URI)
// and "stranger": an admin certificate of the CA the policy does not name.
//
// SetUp registers each tenant's emitter key (key_acme_, key_beta_, as the
// admin), appends one event of each tenant (acme_index_, beta_index_) and
// waits for a checkpoint covering them. The authorizer's rate buckets and
// the denial recorder measure time on access_clock_, a FakeClock that
// moves only when a test moves it.

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "node/clock.h"
#include "node/config.h"
#include "node/node.h"
#include "node/node_testing.h"
#include "tools/common/dev_certs.h"

namespace ledger::node::testing {

inline constexpr char kAcme[] = "acme";
inline constexpr char kBeta[] = "beta";
// How long a test waits for the node (sanitizer builds are slow).
inline constexpr absl::Duration kWait = absl::Seconds(60);

// A client context with a 2 min deadline.
std::unique_ptr<grpc::ClientContext> Context();

// The 32 bytes of `key`'s ID, as requests carry it.
std::string KeyIdBytes(const EmitterKeyPair& key);

// A client of the node under one certificate (or none). The stubs are
// thread-safe.
struct Client {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Ingest::Stub> ingest;
  std::unique_ptr<v1::Proof::Stub> proof;
  std::unique_ptr<v1::Query::Stub> query;
  std::unique_ptr<v1::Admin::Stub> admin;
  std::unique_ptr<grpc::health::v1::Health::Stub> health;

  // A call by full method name with raw request bytes (for methods
  // without a stub here: reflection, unknown methods).
  grpc::Status Raw(const std::string& method, const std::string& request);
};

// An identity of the test's policy (or, for `in_policy` false, a
// certificate of the test CA that the policy does not name).
struct Identity {
  std::string label;   // "emitter-acme"
  std::string role;    // emitter, officer, regulator, admin, node
  std::string tenant;  // the identity's tenant; "" for none
  devcerts::Pem pem;
  std::string uri;
  bool in_policy = true;
};

class AuthzFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Adjusts config_ before SetUp starts the node.
  virtual void Configure(NodeConfig&) {}

  absl::Status TryStartNode();
  void StopNode();

  void AddIdentity(const std::string& label, const std::string& role,
                   const std::string& name, const std::string& tenant,
                   bool in_policy = true);
  const Identity& Id(const std::string& label) const;

  // A client with `pem` (none: no client certificate) trusting `ca_pem`.
  static Client Connect(int port, const devcerts::Pem* pem,
                        const std::string& ca_pem);
  // The client of identity `label`, connected on first use. Not
  // thread-safe (the map): take the clients before starting threads.
  Client& As(const std::string& label);

  grpc::Status Register(Client& c, const EmitterKeyPair& key,
                        const std::string& tenant, v1::EntryRef* ref = nullptr);
  // Appends the next event of `tenant` (next_), signed by `key`.
  grpc::Status Append(Client& c, const EmitterKeyPair& key,
                      const std::string& tenant, v1::AppendResponse* response);
  // Appends one event of `tenant` as `label`; its index.
  uint64_t AppendAs(const std::string& label, const EmitterKeyPair& key,
                    const std::string& tenant);

  // Every entry of the ledger, decoded; of `type` only.
  std::vector<v1::Entry> AllEntries();
  std::vector<v1::Entry> EntriesOfType(const std::string& type);

  static std::string Attribute(const v1::Entry& entry, const std::string& key);

  TempDir dir_;
  std::string tls_dir_;
  std::optional<devcerts::CertificateAuthority> ca_;
  std::vector<Identity> identities_;
  NodeConfig config_;
  FakeClock access_clock_;
  std::unique_ptr<Node> node_;
  std::map<std::string, Client> clients_;
  EmitterKeyPair key_acme_{"acme-key", 0x21};
  EmitterKeyPair key_beta_{"beta-key", 0x42};
  uint64_t acme_index_ = 0;
  uint64_t beta_index_ = 0;
  int next_ = 1000;
};

}  // namespace ledger::node::testing
