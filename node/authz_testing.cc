#include "node/authz_testing.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <utility>

#include "base/strings.h"
#include "crypto/bytes.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "node/convert.h"
#include "spdlog/spdlog.h"

namespace ledger::node::testing {

namespace fs = std::filesystem;

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::minutes(2));
  return context;
}

std::string KeyIdBytes(const EmitterKeyPair& key) {
  return std::string(crypto::AsView(key.key_id()));
}

grpc::Status Client::Raw(const std::string& method,
                         const std::string& request) {
  grpc::GenericStub stub(channel);
  auto context = Context();
  grpc::CompletionQueue cq;
  grpc::Slice slice(request);
  grpc::ByteBuffer buffer(&slice, 1);
  auto call = stub.PrepareUnaryCall(context.get(), method, buffer, &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  EXPECT_TRUE(cq.Next(&tag, &ok));
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

void AuthzFixture::SetUp() {
  absl::StatusOr<devcerts::CertificateAuthority> ca =
      devcerts::CertificateAuthority::Create("ledger test CA");
  ASSERT_TRUE(ca.ok()) << ca.status();
  ca_.emplace(*std::move(ca));
  tls_dir_ = dir_.path() + "/tls";
  fs::create_directories(tls_dir_);
  absl::StatusOr<devcerts::Pem> node = ca_->Issue(devcerts::NodeLeaf("node-1"));
  ASSERT_TRUE(node.ok()) << node.status();
  ASSERT_TRUE(
      devcerts::WritePem(*node, tls_dir_ + "/node.pem", tls_dir_ + "/node.key")
          .ok());
  ASSERT_TRUE(
      devcerts::WriteFile(tls_dir_ + "/ca.pem", ca_->pem().cert, 0644).ok());

  AddIdentity("emitter-acme", "emitter", "acme-labeler", kAcme);
  AddIdentity("emitter-beta", "emitter", "beta-labeler", kBeta);
  AddIdentity("officer-acme", "officer", "acme-compliance", kAcme);
  AddIdentity("officer-beta", "officer", "beta-compliance", kBeta);
  AddIdentity("regulator", "regulator", "cac", "");
  AddIdentity("admin", "admin", "ops", "");
  AddIdentity("node", "node", "node-2", "");
  AddIdentity("stranger", "admin", "stranger", "", /*in_policy=*/false);
  std::string policy;
  for (const Identity& id : identities_) {
    if (!id.in_policy) continue;
    policy += StrCat("[[identity]]\nuri = \"", id.uri, "\"\nrole = \"", id.role,
                     "\"\n");
    if (!id.tenant.empty())
      policy += StrCat("tenants = [\"", id.tenant, "\"]\n");
    policy += "\n";
  }
  // A certificate without SAN URIs, matched by its common name.
  devcerts::LeafSpec cn_only;
  cn_only.common_name = "legacy-auditor";
  absl::StatusOr<devcerts::Pem> legacy = ca_->Issue(cn_only);
  ASSERT_TRUE(legacy.ok()) << legacy.status();
  identities_.push_back(
      Identity{"cn-regulator", "regulator", "", *legacy, "", true});
  policy +=
      "[[identity]]\ncommon_name = \"legacy-auditor\"\nrole = "
      "\"regulator\"\n";
  std::ofstream(tls_dir_ + "/access-policy.toml") << policy;

  config_.data_dir = dir_.path() + "/data";
  config_.listen = "127.0.0.1:0";
  config_.origin = "ledger.test/authz";
  config_.log_level = "warn";
  config_.tls_ca_file = tls_dir_ + "/ca.pem";
  config_.tls_cert_file = tls_dir_ + "/node.pem";
  config_.tls_key_file = tls_dir_ + "/node.key";
  config_.access_policy_file = tls_dir_ + "/access-policy.toml";
  Configure(config_);
  absl::Status started = TryStartNode();
  ASSERT_TRUE(started.ok()) << started;

  // Each tenant's emitter key, registered by the admin, and one entry of
  // each tenant, covered by a checkpoint.
  ASSERT_EQ(Register(As("admin"), key_acme_, kAcme).error_code(), grpc::OK);
  ASSERT_EQ(Register(As("admin"), key_beta_, kBeta).error_code(), grpc::OK);
  acme_index_ = AppendAs("emitter-acme", key_acme_, kAcme);
  beta_index_ = AppendAs("emitter-beta", key_beta_, kBeta);
  ASSERT_TRUE(
      node_->sequencer().WaitForCheckpoint(node_->ledger().head().size, kWait));
}

void AuthzFixture::TearDown() {
  clients_.clear();
  node_.reset();
}

absl::Status AuthzFixture::TryStartNode() {
  spdlog::set_level(spdlog::level::from_str(config_.log_level));
  NodeTestHooks hooks;
  hooks.access_clock = &access_clock_;
  absl::StatusOr<std::unique_ptr<Node>> node =
      Node::Start(config_, SystemClock::Default(), nullptr, hooks);
  if (!node.ok()) return node.status();
  node_ = *std::move(node);
  return absl::OkStatus();
}

void AuthzFixture::StopNode() {
  clients_.clear();
  node_.reset();
}

void AuthzFixture::AddIdentity(const std::string& label,
                               const std::string& role, const std::string& name,
                               const std::string& tenant, bool in_policy) {
  absl::StatusOr<devcerts::Pem> pem =
      ca_->Issue(devcerts::ClientLeaf(role, name));
  ASSERT_TRUE(pem.ok()) << pem.status();
  identities_.push_back(Identity{label, role, tenant, *pem,
                                 devcerts::IdentityUri(role, name), in_policy});
}

const Identity& AuthzFixture::Id(const std::string& label) const {
  for (const Identity& id : identities_) {
    if (id.label == label) return id;
  }
  ADD_FAILURE() << "no identity " << label;
  return identities_.front();
}

Client AuthzFixture::Connect(int port, const devcerts::Pem* pem,
                             const std::string& ca_pem) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ca_pem;
  if (pem != nullptr) {
    options.pem_private_key = pem->key;
    options.pem_cert_chain = pem->cert;
  }
  Client c;
  c.channel = grpc::CreateChannel(StrCat("127.0.0.1:", port),
                                  grpc::SslCredentials(options));
  c.ingest = v1::Ingest::NewStub(c.channel);
  c.proof = v1::Proof::NewStub(c.channel);
  c.query = v1::Query::NewStub(c.channel);
  c.admin = v1::Admin::NewStub(c.channel);
  c.health = grpc::health::v1::Health::NewStub(c.channel);
  return c;
}

Client& AuthzFixture::As(const std::string& label) {
  auto it = clients_.find(label);
  if (it == clients_.end()) {
    it = clients_
             .emplace(label,
                      Connect(node_->port(), &Id(label).pem, ca_->pem().cert))
             .first;
  }
  return it->second;
}

grpc::Status AuthzFixture::Register(Client& c, const EmitterKeyPair& key,
                                    const std::string& tenant,
                                    v1::EntryRef* ref) {
  v1::RegisterEmitterKeyRequest request;
  request.set_verifier_key(key.vkey());
  request.set_tenant(tenant);
  request.set_producer("label-studio");
  v1::EntryRef unused;
  return c.admin->RegisterEmitterKey(Context().get(), request,
                                     ref != nullptr ? ref : &unused);
}

grpc::Status AuthzFixture::Append(Client& c, const EmitterKeyPair& key,
                                  const std::string& tenant,
                                  v1::AppendResponse* response) {
  return c.ingest->Append(
      Context().get(), SignedAppend(key.key, MakeEventProto(tenant, next_++)),
      response);
}

uint64_t AuthzFixture::AppendAs(const std::string& label,
                                const EmitterKeyPair& key,
                                const std::string& tenant) {
  v1::AppendResponse response;
  grpc::Status s = Append(As(label), key, tenant, &response);
  EXPECT_TRUE(s.ok()) << label << ": " << s.error_message();
  return response.entry().index();
}

std::vector<v1::Entry> AuthzFixture::AllEntries() {
  std::vector<v1::Entry> out;
  const uint64_t size = node_->ledger().head().size;
  absl::StatusOr<std::vector<std::string>> bytes =
      node_->ledger().GetEntries(0, size, size);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  if (!bytes.ok()) return out;
  for (const std::string& b : *bytes) {
    absl::StatusOr<v1::Entry> entry = EntryToProto(b);
    EXPECT_TRUE(entry.ok()) << entry.status();
    if (entry.ok()) out.push_back(*std::move(entry));
  }
  return out;
}

std::vector<v1::Entry> AuthzFixture::EntriesOfType(const std::string& type) {
  std::vector<v1::Entry> out;
  for (v1::Entry& entry : AllEntries()) {
    if (entry.event().type() == type) out.push_back(std::move(entry));
  }
  return out;
}

std::string AuthzFixture::Attribute(const v1::Entry& entry,
                                    const std::string& key) {
  auto it = entry.event().attributes().find(key);
  return it == entry.event().attributes().end() ? "" : it->second;
}

}  // namespace ledger::node::testing
