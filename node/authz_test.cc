// A whole node over mutual TLS with an access policy: every role against
// every RPC, the TLS layer's refusals, the attacks of an anonymous or
// other-tenant client, denial records, counters and the rate limit.
// Certificates come from tools/common/dev_certs.h.

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/strings.h"
#include "crypto/bytes.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/unknown_field_set.h"
#include "ledger/entry.h"
#include "ledger/entry_keys.h"
#include "node/authz_testing.h"
#include "node/log_limit.h"
#include "node/node_testing.h"
#include "tools/common/dev_certs.h"

namespace ledger::node {
namespace {

using testing::AuthzFixture;
using testing::Client;
using testing::Context;
using testing::EmitterKeyPair;
using ::testing::HasSubstr;
using testing::Identity;
using testing::kAcme;
using testing::kBeta;
using testing::KeyIdBytes;
using testing::kWait;
using testing::MakeEventProto;
using ::testing::Not;
using testing::SignedBatch;

// The fixture (node/authz_testing.h): identities of two tenants and every
// role, their keys registered, one event of each tenant.
class AuthzTest : public AuthzFixture {};

// ---- The matrix: every role x every RPC ----

// The table of the access design, written out independently of the node's
// own (node/authorizer.cc): method -> roles allowed.
const std::map<std::string, std::set<std::string>>& ExpectedTable() {
  static const auto* table = new std::map<std::string, std::set<std::string>>{
      {"Ingest.Append", {"emitter"}},
      {"Ingest.AppendBatch", {"emitter"}},
      {"Ingest.AppendStream", {"emitter"}},
      {"Ingest.GetPayloadKey", {"emitter"}},
      {"Proof.GetCheckpoint", {"emitter", "officer", "regulator", "admin"}},
      {"Proof.GetConsistencyProof",
       {"emitter", "officer", "regulator", "admin"}},
      {"Proof.GetInclusionProof", {"officer", "regulator"}},
      {"Proof.GetReceipt", {"emitter", "officer", "regulator"}},
      {"Query.GetEntry", {"officer", "regulator"}},
      {"Query.GetEntries", {"officer", "regulator"}},
      {"Query.History", {"officer", "regulator"}},
      {"Query.LabelHistory", {"officer", "regulator"}},
      {"Query.WhoTouched", {"officer", "regulator"}},
      {"Query.ActorActivity", {"officer", "regulator"}},
      {"Query.Lineage", {"officer", "regulator"}},
      {"Query.CrossBorder", {"officer", "regulator"}},
      {"Query.Orphans", {"officer", "regulator"}},
      {"Query.RiskFindings", {"officer", "regulator"}},
      {"Query.GradeExplain", {"officer", "regulator"}},
      {"Query.RiskSummary", {"officer", "regulator"}},
      {"Admin.RegisterEmitterKey", {"admin"}},
      {"Admin.RevokeEmitterKey", {"admin"}},
      {"Admin.EraseSubject", {"admin"}},
      {"Admin.SetRiskPolicy", {"admin"}},
      {"Admin.RotateEmitterKey", {"admin"}},
      {"Admin.ListKeys", {"officer", "regulator", "admin"}},
      {"Admin.GetNodeInfo",
       {"emitter", "officer", "regulator", "admin", "node"}},
      {"Health.Check", {"emitter", "officer", "regulator", "admin", "node"}},
      {"Reflection.ServerReflectionInfo", {"admin"}},
  };
  return *table;
}

TEST_F(AuthzTest, EveryRoleAgainstEveryRpc) {
  // Each call as the identity would make it: its own tenant's data where
  // the method is limited to tenants. An allowed call must not be
  // PERMISSION_DENIED and, where that is cheap, must succeed; `ok` is the
  // code an allowed call gives.
  struct Rpc {
    std::string name;
    std::function<grpc::Status(Client&, const Identity&)> call;
    grpc::StatusCode ok = grpc::OK;
  };
  auto own_key = [this](const Identity& id) -> const EmitterKeyPair& {
    return id.tenant == kBeta ? key_beta_ : key_acme_;
  };
  auto own_tenant = [](const Identity& id) {
    return id.tenant.empty() ? std::string(kAcme) : id.tenant;
  };
  auto own_index = [this](const Identity& id) {
    return id.tenant == kBeta ? beta_index_ : acme_index_;
  };
  int fresh_key = 0;
  const std::vector<Rpc> rpcs = {
      {"Ingest.Append",
       [&](Client& c, const Identity& id) {
         v1::AppendResponse r;
         return Append(c, own_key(id), own_tenant(id), &r);
       }},
      {"Ingest.AppendBatch",
       [&](Client& c, const Identity& id) {
         v1::AppendBatchResponse r;
         return c.ingest->AppendBatch(
             Context().get(),
             SignedBatch(own_key(id).key,
                         {MakeEventProto(own_tenant(id), next_++),
                          MakeEventProto(own_tenant(id), next_++)}),
             &r);
       }},
      {"Ingest.AppendStream",
       [&](Client& c, const Identity& id) {
         auto context = Context();
         v1::AppendStreamResponse r;
         auto writer = c.ingest->AppendStream(context.get(), &r);
         writer->Write(SignedBatch(own_key(id).key,
                                   {MakeEventProto(own_tenant(id), next_++)}));
         writer->WritesDone();
         return writer->Finish();
       }},
      {"Ingest.GetPayloadKey",
       [&](Client& c, const Identity& id) {
         v1::GetPayloadKeyRequest q;
         q.set_tenant(own_tenant(id));
         q.set_data_subject("user:matrix");
         v1::PayloadKey r;
         return c.ingest->GetPayloadKey(Context().get(), q, &r);
       }},
      {"Proof.GetCheckpoint",
       [&](Client& c, const Identity&) {
         v1::Checkpoint r;
         return c.proof->GetCheckpoint(Context().get(), {}, &r);
       }},
      {"Proof.GetConsistencyProof",
       [&](Client& c, const Identity&) {
         v1::GetConsistencyProofRequest q;
         q.set_old_size(1);
         v1::ConsistencyProof r;
         return c.proof->GetConsistencyProof(Context().get(), q, &r);
       }},
      {"Proof.GetInclusionProof",
       [&](Client& c, const Identity& id) {
         v1::GetInclusionProofRequest q;
         q.set_index(own_index(id));
         v1::InclusionProof r;
         return c.proof->GetInclusionProof(Context().get(), q, &r);
       }},
      {"Proof.GetReceipt",
       [&](Client& c, const Identity& id) {
         v1::GetReceiptRequest q;
         q.set_index(own_index(id));
         v1::Receipt r;
         return c.proof->GetReceipt(Context().get(), q, &r);
       }},
      {"Query.GetEntry",
       [&](Client& c, const Identity& id) {
         v1::GetEntryRequest q;
         q.set_index(own_index(id));
         v1::Entry r;
         return c.query->GetEntry(Context().get(), q, &r);
       }},
      {"Query.GetEntries",
       [&](Client& c, const Identity&) {
         auto context = Context();
         auto reader = c.query->GetEntries(context.get(), {});
         v1::Entry e;
         while (reader->Read(&e)) {
         }
         return reader->Finish();
       }},
      // The provenance queries, about the caller's own tenant.
      {"Query.History",
       [&](Client& c, const Identity& id) {
         v1::HistoryRequest q;
         q.set_tenant(own_tenant(id));
         q.mutable_subject()->set_kind("item");
         q.mutable_subject()->set_id("matrix-item");
         v1::HistoryResponse r;
         return c.query->History(Context().get(), q, &r);
       }},
      {"Query.LabelHistory",
       [&](Client& c, const Identity& id) {
         v1::LabelHistoryRequest q;
         q.set_tenant(own_tenant(id));
         q.set_item_id("matrix-item");
         v1::LabelHistoryResponse r;
         return c.query->LabelHistory(Context().get(), q, &r);
       }},
      {"Query.WhoTouched",
       [&](Client& c, const Identity& id) {
         v1::WhoTouchedRequest q;
         q.set_tenant(own_tenant(id));
         q.mutable_subject()->set_kind("dataset");
         q.mutable_subject()->set_id("matrix-dataset");
         q.mutable_window()->mutable_t0()->set_seconds(0);
         q.mutable_window()->mutable_t1()->set_seconds(4'000'000'000);
         v1::TouchResponse r;
         return c.query->WhoTouched(Context().get(), q, &r);
       }},
      {"Query.ActorActivity",
       [&](Client& c, const Identity& id) {
         v1::ActorActivityRequest q;
         q.set_tenant(own_tenant(id));
         q.set_actor_id("matrix-actor");
         q.mutable_window()->mutable_t0()->set_seconds(0);
         q.mutable_window()->mutable_t1()->set_seconds(4'000'000'000);
         v1::TouchResponse r;
         return c.query->ActorActivity(Context().get(), q, &r);
       }},
      {"Query.Lineage",
       [&](Client& c, const Identity& id) {
         v1::LineageRequest q;
         q.set_tenant(own_tenant(id));
         q.mutable_node()->set_kind(v1::SUBJECT_KIND_DATASET);
         q.mutable_node()->set_id("matrix-dataset");
         q.set_direction(v1::LINEAGE_DIRECTION_UPSTREAM);
         q.set_depth(2);
         v1::LineageResponse r;
         return c.query->Lineage(Context().get(), q, &r);
       }},
      {"Query.CrossBorder",
       [&](Client& c, const Identity& id) {
         v1::CrossBorderRequest q;
         q.set_tenant(own_tenant(id));
         q.set_year(2026);
         v1::CrossBorderResponse r;
         return c.query->CrossBorder(Context().get(), q, &r);
       }},
      {"Query.Orphans",
       [&](Client& c, const Identity& id) {
         v1::OrphansRequest q;
         q.set_tenant(own_tenant(id));
         v1::OrphansResponse r;
         return c.query->Orphans(Context().get(), q, &r);
       }},
      {"Query.RiskFindings",
       [&](Client& c, const Identity& id) {
         v1::RiskFindingsRequest q;
         q.set_tenant(own_tenant(id));
         q.set_min_level(v1::RISK_GRADE_HIGH);
         v1::RiskFindingsResponse r;
         return c.query->RiskFindings(Context().get(), q, &r);
       }},
      {"Query.GradeExplain",
       [&](Client& c, const Identity& id) {
         v1::GradeExplainRequest q;
         q.set_tenant(own_tenant(id));
         q.set_dataset_id("matrix-dataset");
         v1::GradeExplainResponse r;
         return c.query->GradeExplain(Context().get(), q, &r);
       }},
      {"Query.RiskSummary",
       [&](Client& c, const Identity& id) {
         v1::RiskSummaryRequest q;
         q.set_tenant(own_tenant(id));
         v1::RiskSummaryResponse r;
         return c.query->RiskSummary(Context().get(), q, &r);
       }},
      {"Admin.RegisterEmitterKey",
       [&](Client& c, const Identity&) {
         EmitterKeyPair key(StrCat("fresh-", fresh_key),
                            static_cast<uint8_t>(0x80 + fresh_key));
         ++fresh_key;
         return Register(c, key, kAcme);
       }},
      {"Admin.RevokeEmitterKey",
       [&](Client& c, const Identity&) {
         v1::RevokeEmitterKeyRequest q;
         q.set_key_id(std::string(32, '\x07'));  // no such key
         v1::EntryRef r;
         return c.admin->RevokeEmitterKey(Context().get(), q, &r);
       },
       grpc::NOT_FOUND},
      {"Admin.EraseSubject",
       [&](Client& c, const Identity&) {
         v1::EraseSubjectRequest q;
         q.set_tenant(kAcme);
         q.set_data_subject("user:never-seen");  // no payload key
         q.set_reason("matrix");
         v1::EraseSubjectResponse r;
         return c.admin->EraseSubject(Context().get(), q, &r);
       },
       grpc::NOT_FOUND},
      {"Admin.SetRiskPolicy",
       [&](Client& c, const Identity&) {
         v1::SetRiskPolicyRequest q;
         q.set_text("name = \"matrix\"\n[rules.R99]\n");  // invalid
         v1::SetRiskPolicyResponse r;
         return c.admin->SetRiskPolicy(Context().get(), q, &r);
       },
       grpc::INVALID_ARGUMENT},
      {"Admin.RotateEmitterKey",
       [&](Client& c, const Identity&) {
         v1::RotateEmitterKeyRequest q;
         q.set_key_id(std::string(32, '\x07'));  // no such key
         q.set_new_verifier_key(EmitterKeyPair("rotated", 0x7e).vkey());
         v1::EntryRef r;
         return c.admin->RotateEmitterKey(Context().get(), q, &r);
       },
       grpc::NOT_FOUND},
      {"Admin.ListKeys",
       [&](Client& c, const Identity&) {
         v1::ListKeysResponse r;
         return c.admin->ListKeys(Context().get(), {}, &r);
       }},
      {"Admin.GetNodeInfo",
       [&](Client& c, const Identity&) {
         v1::NodeInfo r;
         return c.admin->GetNodeInfo(Context().get(), {}, &r);
       }},
      {"Health.Check",
       [&](Client& c, const Identity&) {
         grpc::health::v1::HealthCheckResponse r;
         return c.health->Check(Context().get(), {}, &r);
       }},
      // Reflection is off by default: the admin gets past authorization
      // and finds no such service.
      {"Reflection.ServerReflectionInfo",
       [&](Client& c, const Identity&) {
         return c.Raw(
             "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
             "");
       },
       grpc::UNIMPLEMENTED},
  };
  ASSERT_EQ(rpcs.size(), ExpectedTable().size());
  for (const Identity& id : identities_) {
    if (!id.in_policy) continue;
    for (const Rpc& rpc : rpcs) {
      SCOPED_TRACE(StrCat(id.label, " -> ", rpc.name));
      const std::set<std::string>& allowed = ExpectedTable().at(rpc.name);
      grpc::Status s = rpc.call(As(id.label), id);
      if (allowed.contains(id.role)) {
        EXPECT_EQ(s.error_code(), rpc.ok) << s.error_message();
      } else {
        EXPECT_EQ(s.error_code(), grpc::PERMISSION_DENIED) << s.error_message();
        // Names who, in which role, and what.
        const std::string who = id.uri.empty() ? "cn:legacy-auditor" : id.uri;
        EXPECT_THAT(s.error_message(), HasSubstr(who));
        EXPECT_THAT(s.error_message(), HasSubstr("role " + id.role));
        EXPECT_THAT(s.error_message(), HasSubstr("may not call /"));
      }
    }
  }
}

// Every RPC of the ledger.v1 services has a row in the node's table (a
// method without one is closed to every TLS caller).
TEST(AuthorizerTableTest, EveryLedgerRpcHasARule) {
  for (const char* service : {"ledger.v1.Ingest", "ledger.v1.Proof",
                              "ledger.v1.Query", "ledger.v1.Admin"}) {
    const google::protobuf::ServiceDescriptor* d =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            service);
    ASSERT_NE(d, nullptr) << service;
    for (int i = 0; i < d->method_count(); ++i) {
      const std::string method =
          StrCat("/", service, "/", d->method(i)->name());
      EXPECT_NE(FindMethodRule(method), nullptr) << method;
    }
  }
}

// ---- The TLS layer ----

class AuthzTlsTest : public AuthzTest {};

TEST_F(AuthzTlsTest, ClientsWithoutAValidCertificateAreRefusedAtTheHandshake) {
  absl::StatusOr<devcerts::CertificateAuthority> other =
      devcerts::CertificateAuthority::Create("someone else's CA");
  ASSERT_TRUE(other.ok());
  absl::StatusOr<devcerts::Pem> foreign =
      other->Issue(devcerts::ClientLeaf("admin", "ops"));  // a policy URI
  ASSERT_TRUE(foreign.ok());
  devcerts::LeafSpec spec = devcerts::ClientLeaf("admin", "ops");
  spec.validity = devcerts::Expired();
  absl::StatusOr<devcerts::Pem> expired = ca_->Issue(spec);
  ASSERT_TRUE(expired.ok());

  const uint64_t logged_before = GrpcLogLimiter().allowed();
  const uint64_t size = node_->ledger().head().size;
  struct Case {
    std::string name;
    const devcerts::Pem* pem;
  };
  for (const Case& c :
       {Case{"no certificate", nullptr}, Case{"another CA", &*foreign},
        Case{"expired", &*expired}}) {
    SCOPED_TRACE(c.name);
    for (int attempt = 0; attempt < 10; ++attempt) {
      Client client = Connect(node_->port(), c.pem, ca_->pem().cert);
      v1::NodeInfo info;
      grpc::Status s = client.admin->GetNodeInfo(Context().get(), {}, &info);
      EXPECT_EQ(s.error_code(), grpc::UNAVAILABLE) << s.error_message();
      v1::RegisterEmitterKeyRequest request;
      request.set_verifier_key(EmitterKeyPair("intruder", 0x66).vkey());
      request.set_tenant(kAcme);
      request.set_producer("label-studio");
      v1::EntryRef ref;
      s = client.admin->RegisterEmitterKey(Context().get(), request, &ref);
      EXPECT_EQ(s.error_code(), grpc::UNAVAILABLE) << s.error_message();
    }
  }
  // Nothing reached the node: no entry, no counter, no denial.
  EXPECT_EQ(node_->ledger().head().size, size);
  EXPECT_EQ(node_->authorizer().denied_requests(), 0u);
  EXPECT_EQ(node_->authorizer().unauthenticated_requests(), 0u);
  // 30 refused connections (each retried by gRPC) logged at a bounded
  // rate: at most the limiter's 20 lines per 10 s (and twice that if the
  // test straddled two windows).
  EXPECT_LE(GrpcLogLimiter().allowed() - logged_before, 40u);
}

// A raw TLS client: the node negotiates TLS 1.3 and requires the client's
// certificate.
TEST_F(AuthzTlsTest, HandshakeIsTls13) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  ASSERT_NE(ctx, nullptr);
  auto load_cert = [](const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    return cert;
  };
  X509* ca = load_cert(ca_->pem().cert);
  X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
  X509_free(ca);
  const devcerts::Pem& pem = Id("regulator").pem;
  X509* cert = load_cert(pem.cert);
  BIO* key_bio =
      BIO_new_mem_buf(pem.key.data(), static_cast<int>(pem.key.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  BIO_free(key_bio);
  ASSERT_EQ(SSL_CTX_use_certificate(ctx, cert), 1);
  ASSERT_EQ(SSL_CTX_use_PrivateKey(ctx, key), 1);
  X509_free(cert);
  EVP_PKEY_free(key);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof(kAlpn));

  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(node_->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  EXPECT_EQ(SSL_connect(ssl), 1);
  EXPECT_EQ(SSL_version(ssl), TLS1_3_VERSION);
  EXPECT_EQ(SSL_get_verify_result(ssl), X509_V_OK);
  SSL_shutdown(ssl);
  SSL_free(ssl);
  close(fd);
  SSL_CTX_free(ctx);
  ERR_clear_error();
}

TEST_F(AuthzTlsTest, CertificateOfTheCaButNotInThePolicyIsUnauthenticated) {
  const uint64_t size = node_->ledger().head().size;
  v1::NodeInfo info;
  grpc::Status s =
      As("stranger").admin->GetNodeInfo(Context().get(), {}, &info);
  EXPECT_EQ(s.error_code(), grpc::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr(Id("stranger").uri));
  EXPECT_THAT(s.error_message(), HasSubstr("not in this node's access policy"));
  s = Register(As("stranger"), EmitterKeyPair("x", 0x67), kAcme);
  EXPECT_EQ(s.error_code(), grpc::UNAUTHENTICATED);
  // Counted, not recorded.
  EXPECT_EQ(node_->authorizer().unauthenticated_requests(), 2u);
  ASSERT_TRUE(node_->denial_recorder()->Flush(kWait));
  EXPECT_EQ(node_->ledger().head().size, size);
  v1::NodeInfo by_admin;
  ASSERT_TRUE(
      As("admin").admin->GetNodeInfo(Context().get(), {}, &by_admin).ok());
  EXPECT_EQ(by_admin.unauthenticated_requests(), 2u);
  EXPECT_EQ(by_admin.denied_requests(), 0u);
}

TEST_F(AuthzTlsTest, CommonNameIdentifiesACertificateWithoutSanUri) {
  v1::GetEntryRequest q;
  q.set_index(beta_index_);
  v1::Entry entry;
  grpc::Status s =
      As("cn-regulator").query->GetEntry(Context().get(), q, &entry);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(entry.event().tenant(), kBeta);
  v1::NodeInfo info;
  s = As("cn-regulator").admin->GetNodeInfo(Context().get(), {}, &info);
  EXPECT_TRUE(s.ok());
  s = Register(As("cn-regulator"), EmitterKeyPair("y", 0x68), kAcme);
  EXPECT_EQ(s.error_code(), grpc::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("cn:legacy-auditor"));
}

TEST_F(AuthzTlsTest, UnknownMethodIsUnimplemented) {
  grpc::Status s = As("admin").Raw("/ledger.v1.Admin/NoSuchMethod", "");
  EXPECT_EQ(s.error_code(), grpc::UNIMPLEMENTED) << s.error_message();
  EXPECT_EQ(node_->authorizer().denied_requests(), 0u);
}

// ---- The attacks ----

// An emitter (or officer) registers a key, for its own or another tenant:
// refused, and the ledger keeps no such key.
TEST_F(AuthzTest, OnlyAnAdminRegistersKeys) {
  EmitterKeyPair rogue("rogue", 0x70);
  for (const char* label : {"emitter-acme", "officer-acme", "regulator"}) {
    for (const char* tenant : {kAcme, kBeta}) {
      grpc::Status s = Register(As(label), rogue, tenant);
      EXPECT_EQ(s.error_code(), grpc::PERMISSION_DENIED) << label;
    }
  }
  EXPECT_FALSE(node_->ledger().keys().Find(rogue.key_id()).has_value());
  // A key nobody registered signs nothing.
  v1::AppendResponse response;
  grpc::Status s = Append(As("emitter-acme"), rogue, kAcme, &response);
  EXPECT_EQ(s.error_code(), grpc::UNAUTHENTICATED);
}

// An emitter revokes another tenant's key (which would lock it out for
// good): refused; the key goes on signing.
TEST_F(AuthzTest, OtherTenantsKeyCannotBeRevoked) {
  v1::RevokeEmitterKeyRequest request;
  request.set_key_id(KeyIdBytes(key_beta_));
  request.set_reason("mine now");
  v1::EntryRef ref;
  for (const char* label : {"emitter-acme", "officer-beta", "regulator"}) {
    grpc::Status s =
        As(label).admin->RevokeEmitterKey(Context().get(), request, &ref);
    EXPECT_EQ(s.error_code(), grpc::PERMISSION_DENIED) << label;
  }
  std::optional<KeyInfo> key = node_->ledger().keys().Find(key_beta_.key_id());
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->revoked_at_ns, 0);
  AppendAs("emitter-beta", key_beta_, kBeta);
}

// An emitter writes events of another tenant: refused whatever key signs
// them, even that tenant's own (stolen) key.
TEST_F(AuthzTest, EmitterWritesOnlyItsOwnTenant) {
  const uint64_t size = node_->ledger().head().size;
  for (const EmitterKeyPair* key : {&key_acme_, &key_beta_}) {
    v1::AppendResponse one;
    grpc::Status s = Append(As("emitter-acme"), *key, kBeta, &one);
    EXPECT_EQ(s.error_code(), grpc::PERMISSION_DENIED);
    EXPECT_THAT(s.error_message(), HasSubstr("event: "));
    EXPECT_THAT(s.error_message(), HasSubstr(Id("emitter-acme").uri));
    EXPECT_THAT(s.error_message(), HasSubstr("tenant \"beta\""));
    // A batch with one foreign event among its own.
    v1::AppendBatchResponse batch;
    s = As("emitter-acme")
            .ingest->AppendBatch(
                Context().get(),
                SignedBatch(key->key, {MakeEventProto(kAcme, next_++),
                                       MakeEventProto(kBeta, next_++)}),
                &batch);
    EXPECT_EQ(s.error_code(), grpc::PERMISSION_DENIED);
    EXPECT_THAT(s.error_message(), HasSubstr("events[1]: "));
    // And a stream.
    auto context = Context();
    v1::AppendStreamResponse streamed;
    auto writer =
        As("emitter-acme").ingest->AppendStream(context.get(), &streamed);
    writer->Write(SignedBatch(key->key, {MakeEventProto(kBeta, next_++)}));
    writer->WritesDone();
    s = writer->Finish();
    EXPECT_EQ(s.error_code(), grpc::PERMISSION_DENIED);
    EXPECT_THAT(s.error_message(), HasSubstr("batch 0 rejected"));
  }
  ASSERT_TRUE(node_->denial_recorder()->Flush(kWait));
  // Only the denial record was added.
  EXPECT_EQ(EntriesOfType("annotation.created").size(), 2u);
  EXPECT_EQ(node_->ledger().head().size, size + 1);
}

// The recorded requester is the certificate's identity. A client that
// still sends the removed requested_by field (number 5) is told the node
// does not know it, and nothing is written; sent without it, the
// registration, a rotation and a revocation record their caller.
TEST_F(AuthzTest, RequesterIsTheAuthenticatedIdentity) {
  EmitterKeyPair key("new-acme", 0x71);
  v1::RegisterEmitterKeyRequest request;
  request.set_verifier_key(key.vkey());
  request.set_tenant(kAcme);
  request.set_producer("label-studio");
  request.GetReflection()->MutableUnknownFields(&request)->AddLengthDelimited(
      5, "mallory");
  v1::EntryRef ref;
  const uint64_t size = node_->ledger().head().size;
  grpc::Status s =
      As("admin").admin->RegisterEmitterKey(Context().get(), request, &ref);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("unknown field 5"));
  EXPECT_EQ(node_->ledger().head().size, size);
  request.GetReflection()->MutableUnknownFields(&request)->Clear();
  s = As("admin").admin->RegisterEmitterKey(Context().get(), request, &ref);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EmitterKeyPair successor("new-acme-2", 0x73);
  v1::RotateEmitterKeyRequest rotate;
  rotate.set_key_id(KeyIdBytes(key));
  rotate.set_new_verifier_key(successor.vkey());
  v1::EntryRef rotated;
  s = As("admin").admin->RotateEmitterKey(Context().get(), rotate, &rotated);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::RevokeEmitterKeyRequest revoke;
  revoke.set_key_id(KeyIdBytes(successor));
  v1::EntryRef revoked;
  s = As("admin").admin->RevokeEmitterKey(Context().get(), revoke, &revoked);
  ASSERT_TRUE(s.ok()) << s.error_message();
  for (uint64_t index : {ref.index(), rotated.index(), revoked.index()}) {
    v1::GetEntryRequest q;
    q.set_index(index);
    v1::Entry entry;
    ASSERT_TRUE(
        As("regulator").query->GetEntry(Context().get(), q, &entry).ok());
    EXPECT_EQ(entry.event().actor().id(), Id("admin").uri);
    EXPECT_EQ(entry.event().actor().role(), "admin");
    EXPECT_THAT(entry.entry_bytes(), Not(HasSubstr("mallory")));
  }
}

// Payload keys go to emitters of their own tenant only; only an admin
// erases a data subject, and the key.erased entry's actor is the admin's
// authenticated identity.
TEST_F(AuthzTest, PayloadKeysAndErasureFollowRolesAndTenants) {
  auto get_key = [](Client& c, const std::string& tenant, v1::PayloadKey* key) {
    v1::GetPayloadKeyRequest q;
    q.set_tenant(tenant);
    q.set_data_subject("user:jane");
    return c.ingest->GetPayloadKey(Context().get(), q, key);
  };
  v1::PayloadKey key;
  grpc::Status s = get_key(As("emitter-acme"), kBeta, &key);
  EXPECT_EQ(s.error_code(), grpc::PERMISSION_DENIED) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr(Id("emitter-acme").uri));
  EXPECT_THAT(s.error_message(), HasSubstr("tenant \"beta\""));
  EXPECT_TRUE(key.key().empty());
  s = get_key(As("emitter-beta"), kBeta, &key);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const std::string key_id = key.key_id();

  v1::EraseSubjectRequest erase;
  erase.set_tenant(kBeta);
  erase.set_data_subject("user:jane");
  erase.set_reason("DSR-17");
  v1::EraseSubjectResponse erased;
  for (const char* label : {"emitter-beta", "officer-beta", "regulator"}) {
    s = As(label).admin->EraseSubject(Context().get(), erase, &erased);
    EXPECT_EQ(s.error_code(), grpc::PERMISSION_DENIED) << label;
  }
  // Not erased: the emitter gets the same key again.
  v1::PayloadKey again;
  ASSERT_TRUE(get_key(As("emitter-beta"), kBeta, &again).ok());
  EXPECT_EQ(again.key_id(), key_id);

  s = As("admin").admin->EraseSubject(Context().get(), erase, &erased);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(erased.key_id(), key_id);
  v1::GetEntryRequest q;
  q.set_index(erased.entry().index());
  v1::Entry entry;
  ASSERT_TRUE(As("regulator").query->GetEntry(Context().get(), q, &entry).ok());
  EXPECT_EQ(entry.event().type(), "key.erased");
  EXPECT_EQ(entry.event().actor().id(), Id("admin").uri);
  EXPECT_EQ(entry.event().actor().role(), "admin");
  s = get_key(As("emitter-beta"), kBeta, &again);
  EXPECT_EQ(s.error_code(), grpc::FAILED_PRECONDITION) << s.error_message();
}

// An officer (or emitter) reads another tenant's entries, proofs,
// receipts and keys: refused, or filtered out of a listing.
TEST_F(AuthzTest, OfficerReadsOnlyItsOwnTenants) {
  Client& officer = As("officer-acme");
  {
    v1::GetEntryRequest q;
    q.set_index(beta_index_);
    v1::Entry entry;
    grpc::Status s = officer.query->GetEntry(Context().get(), q, &entry);
    EXPECT_EQ(s.error_code(), grpc::PERMISSION_DENIED);
    EXPECT_THAT(s.error_message(),
                HasSubstr(StrCat("read entry ", beta_index_)));
    // By event key: refused before the lookup, so nothing is disclosed
    // about whether the event exists.
    for (int n : {1001, 999999}) {  // beta's event, and none
      q.mutable_event()->set_tenant(kBeta);
      q.mutable_event()->set_event_id(MakeEventProto(kBeta, n).event_id());
      s = officer.query->GetEntry(Context().get(), q, &entry);
      EXPECT_EQ(s.error_code(), grpc::PERMISSION_DENIED);
    }
    q.set_index(acme_index_);
    EXPECT_TRUE(officer.query->GetEntry(Context().get(), q, &entry).ok());
  }
  {
    v1::GetInclusionProofRequest q;
    q.set_index(beta_index_);
    v1::InclusionProof proof;
    EXPECT_EQ(officer.proof->GetInclusionProof(Context().get(), q, &proof)
                  .error_code(),
              grpc::PERMISSION_DENIED);
  }
  for (const char* label : {"officer-acme", "emitter-acme"}) {
    v1::GetReceiptRequest q;
    q.set_index(beta_index_);
    v1::Receipt receipt;
    EXPECT_EQ(
        As(label).proof->GetReceipt(Context().get(), q, &receipt).error_code(),
        grpc::PERMISSION_DENIED)
        << label;
    q.mutable_event()->set_tenant(kBeta);
    q.mutable_event()->set_event_id(MakeEventProto(kBeta, 1001).event_id());
    EXPECT_EQ(
        As(label).proof->GetReceipt(Context().get(), q, &receipt).error_code(),
        grpc::PERMISSION_DENIED)
        << label;
  }
  {
    v1::ListKeysResponse keys;
    ASSERT_TRUE(officer.admin->ListKeys(Context().get(), {}, &keys).ok());
    std::set<std::string> tenants;
    for (const v1::KeyInfo& k : keys.keys()) {
      if (k.role() == "emitter") tenants.insert(k.tenant());
    }
    EXPECT_EQ(tenants, std::set<std::string>{kAcme});
    ASSERT_TRUE(
        As("regulator").admin->ListKeys(Context().get(), {}, &keys).ok());
    tenants.clear();
    for (const v1::KeyInfo& k : keys.keys()) {
      if (k.role() == "emitter") tenants.insert(k.tenant());
    }
    EXPECT_EQ(tenants, (std::set<std::string>{kAcme, kBeta}));
  }
  {
    auto context = Context();
    auto reader = officer.query->GetEntries(context.get(), {});
    v1::Entry e;
    std::set<std::string> tenants;
    int count = 0;
    while (reader->Read(&e)) {
      tenants.insert(e.event().tenant());
      ++count;
    }
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_EQ(tenants, std::set<std::string>{kAcme});
    EXPECT_GE(count, 2);  // the key registration and the event
  }
}

// An officer asks the provenance queries about another tenant: refused
// whatever the subject, and recorded as access.denied; its own tenant is
// answered.
TEST_F(AuthzTest, ProvenanceQueriesOfAnotherTenantAreRefusedAndRecorded) {
  Client& officer = As("officer-acme");
  v1::HistoryRequest q;
  q.set_tenant(kBeta);
  q.mutable_subject()->set_kind("actor");
  q.mutable_subject()->set_id("anyone");
  v1::HistoryResponse r;
  grpc::Status s = officer.query->History(Context().get(), q, &r);
  EXPECT_EQ(s.error_code(), grpc::PERMISSION_DENIED) << s.error_message();
  EXPECT_TRUE(r.entries().empty());
  v1::LineageRequest lq;
  lq.set_tenant(kBeta);
  lq.mutable_node()->set_kind(v1::SUBJECT_KIND_DATASET);
  lq.mutable_node()->set_id("d");
  lq.set_direction(v1::LINEAGE_DIRECTION_DOWNSTREAM);
  v1::LineageResponse lr;
  EXPECT_EQ(officer.query->Lineage(Context().get(), lq, &lr).error_code(),
            grpc::PERMISSION_DENIED);
  v1::OrphansRequest oq;
  oq.set_tenant(kBeta);
  v1::OrphansResponse orr;
  EXPECT_EQ(officer.query->Orphans(Context().get(), oq, &orr).error_code(),
            grpc::PERMISSION_DENIED);
  // The denials are recorded as an access.denied entry: the first entry
  // is written as soon as the recorder's thread runs, and names the latest
  // denial by then (History if it ran at once, Lineage or Orphans if it
  // ran late, as under load); the rest of the interval goes into the next.
  ASSERT_TRUE(node_->denial_recorder()->Flush(kWait));
  bool recorded = false;
  for (const v1::Entry& e : EntriesOfType("access.denied")) {
    const std::string method = Attribute(e, "method");
    recorded = recorded || (e.event().actor().id() == Id("officer-acme").uri &&
                            (method == "/ledger.v1.Query/History" ||
                             method == "/ledger.v1.Query/Lineage" ||
                             method == "/ledger.v1.Query/Orphans"));
  }
  EXPECT_TRUE(recorded);
  q.set_tenant(kAcme);
  s = officer.query->History(Context().get(), q, &r);
  EXPECT_TRUE(s.ok()) << s.error_message();
  // A regulator may ask about any tenant.
  q.set_tenant(kBeta);
  s = As("regulator").query->History(Context().get(), q, &r);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

// The risk queries: an officer of another tenant and an emitter are
// refused; the officer's own tenant and a regulator are answered; no
// tenant is INVALID_ARGUMENT naming the field.
TEST_F(AuthzTest, RiskQueriesAreForOfficersOfTheTenantAndRegulators) {
  v1::RiskFindingsRequest q;
  q.set_tenant(kBeta);
  v1::RiskFindingsResponse r;
  EXPECT_EQ(As("officer-acme")
                .query->RiskFindings(Context().get(), q, &r)
                .error_code(),
            grpc::PERMISSION_DENIED);
  v1::GradeExplainRequest eq;
  eq.set_tenant(kBeta);
  eq.set_dataset_id("d");
  v1::GradeExplainResponse er;
  EXPECT_EQ(As("officer-acme")
                .query->GradeExplain(Context().get(), eq, &er)
                .error_code(),
            grpc::PERMISSION_DENIED);
  v1::RiskSummaryRequest sq;
  sq.set_tenant(kAcme);
  v1::RiskSummaryResponse sr;
  EXPECT_EQ(As("emitter-acme")
                .query->RiskSummary(Context().get(), sq, &sr)
                .error_code(),
            grpc::PERMISSION_DENIED);
  grpc::Status s =
      As("officer-acme").query->RiskSummary(Context().get(), sq, &sr);
  EXPECT_TRUE(s.ok()) << s.error_message();
  s = As("regulator").query->GradeExplain(Context().get(), eq, &er);
  EXPECT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(er.path_size(), 1);  // an unknown dataset: no grade
  EXPECT_FALSE(er.path(0).has_grade());
  q.clear_tenant();
  s = As("regulator").query->RiskFindings(Context().get(), q, &r);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("tenant: required"));
}

// ---- Denials recorded, rate limited; counters ----

TEST_F(AuthzTest, DenialsBecomeRateLimitedAccessDeniedEntries) {
  v1::RegisterEmitterKeyRequest request;
  request.set_verifier_key(EmitterKeyPair("rogue", 0x72).vkey());
  request.set_tenant(kBeta);
  request.set_producer("label-studio");
  v1::EntryRef ref;
  grpc::Status s =
      As("emitter-acme")
          .admin->RegisterEmitterKey(Context().get(), request, &ref);
  ASSERT_EQ(s.error_code(), grpc::PERMISSION_DENIED);
  ASSERT_TRUE(node_->denial_recorder()->Flush(kWait));
  std::vector<v1::Entry> denied = EntriesOfType("access.denied");
  ASSERT_EQ(denied.size(), 1u);
  EXPECT_EQ(denied[0].event().tenant(), kAcme);
  EXPECT_EQ(denied[0].event().actor().id(), Id("emitter-acme").uri);
  EXPECT_EQ(denied[0].event().actor().role(), "emitter");
  EXPECT_EQ(Attribute(denied[0], "method"),
            "/ledger.v1.Admin/RegisterEmitterKey");
  EXPECT_THAT(Attribute(denied[0], "reason"), HasSubstr("role emitter"));
  EXPECT_EQ(Attribute(denied[0], "count"), "1");
  EXPECT_EQ(denied[0].event().outcome().status(), v1::OUTCOME_STATUS_FAILURE);
  EXPECT_EQ(denied[0].key_id(),
            std::string(crypto::AsView(
                KeyIdOf(node_->identity().log_signer.key().public_key()))));

  // A flood within the interval adds no entry ...
  for (int i = 0; i < 25; ++i) {
    s = As("emitter-acme")
            .admin->RegisterEmitterKey(Context().get(), request, &ref);
    ASSERT_EQ(s.error_code(), grpc::PERMISSION_DENIED);
  }
  v1::GetEntryRequest foreign;
  foreign.set_index(beta_index_);
  v1::Entry entry;
  ASSERT_EQ(As("officer-acme")
                .query->GetEntry(Context().get(), foreign, &entry)
                .error_code(),
            grpc::PERMISSION_DENIED);
  ASSERT_TRUE(node_->denial_recorder()->Flush(kWait));
  denied = EntriesOfType("access.denied");
  ASSERT_EQ(denied.size(), 2u);  // the officer's first denial
  EXPECT_EQ(denied[1].event().actor().id(), Id("officer-acme").uri);
  EXPECT_EQ(Attribute(denied[1], "method"), "/ledger.v1.Query/GetEntry");
  EXPECT_THAT(Attribute(denied[1], "reason"),
              HasSubstr(StrCat("read entry ", beta_index_, " of tenant")));

  // ... until the interval has passed: then one entry counts them all.
  access_clock_.Advance(
      absl::ToInt64Nanoseconds(config_.access_denied_interval));
  ASSERT_TRUE(node_->denial_recorder()->Flush(kWait));
  denied = EntriesOfType("access.denied");
  ASSERT_EQ(denied.size(), 3u);
  EXPECT_EQ(denied[2].event().actor().id(), Id("emitter-acme").uri);
  EXPECT_EQ(Attribute(denied[2], "count"), "25");

  v1::NodeInfo info;
  ASSERT_TRUE(As("admin").admin->GetNodeInfo(Context().get(), {}, &info).ok());
  EXPECT_EQ(info.denied_requests(), 27u);
  EXPECT_EQ(info.unauthenticated_requests(), 0u);
}

// ---- Starting ----

TEST_F(AuthzTest, PrivateKeyReadableByOthersIsRefusedAtStart) {
  StopNode();
  const std::string key = config_.tls_key_file;
  for (mode_t mode : {0644, 0640, 0604, 0660}) {
    SCOPED_TRACE(mode);
    ASSERT_EQ(chmod(key.c_str(), mode), 0);
    absl::Status s = TryStartNode();
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(key));
    EXPECT_THAT(std::string(s.message()), HasSubstr("chmod 600"));
    EXPECT_THAT(std::string(s.message()), Not(HasSubstr("PRIVATE KEY")));
  }
  ASSERT_EQ(chmod(key.c_str(), 0600), 0);
  EXPECT_TRUE(TryStartNode().ok());
}

TEST_F(AuthzTest, TlsMistakesAreNamedAtStart) {
  StopNode();
  struct Case {
    std::string name;
    std::function<void(NodeConfig&)> change;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"key of another certificate",
       [&](NodeConfig& c) {
         absl::StatusOr<devcerts::Pem> other =
             ca_->Issue(devcerts::NodeLeaf("node-9"));
         ASSERT_TRUE(other.ok());
         ASSERT_TRUE(
             devcerts::WriteFile(tls_dir_ + "/other.key", other->key, 0600)
                 .ok());
         c.tls_key_file = tls_dir_ + "/other.key";
       },
       "is not the key of the first certificate"},
      {"no CA certificate",
       [&](NodeConfig& c) { c.tls_ca_file = config_.tls_key_file; },
       "tls.ca_file"},
      {"missing policy",
       [&](NodeConfig& c) { c.access_policy_file = tls_dir_ + "/none.toml"; },
       "access policy"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    NodeConfig saved = config_;
    c.change(config_);
    absl::Status s = TryStartNode();
    EXPECT_FALSE(s.ok());
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.message)) << s;
    EXPECT_THAT(std::string(s.message()), Not(HasSubstr("PRIVATE KEY")));
    config_ = saved;
  }
}

// ---- The rate limit ----

class AuthzRateLimitTest : public AuthzTest {
 protected:
  void Configure(NodeConfig& config) override {
    config.rate_limit_per_identity = 1;
    config.rate_limit_burst = 3;
    // SetUp's own calls: two registrations by the admin and one append by
    // each emitter; the test starts from a fresh minute.
  }
};

TEST_F(AuthzRateLimitTest, IdentityOverItsRateIsToldWhenToRetry) {
  access_clock_.Advance(60'000'000'000);  // every bucket full again
  for (int i = 0; i < 3; ++i) {
    v1::NodeInfo info;
    ASSERT_TRUE(
        As("regulator").admin->GetNodeInfo(Context().get(), {}, &info).ok())
        << i;
  }
  v1::NodeInfo info;
  grpc::Status s =
      As("regulator").admin->GetNodeInfo(Context().get(), {}, &info);
  EXPECT_EQ(s.error_code(), grpc::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(), HasSubstr(Id("regulator").uri));
  EXPECT_THAT(s.error_message(), HasSubstr("retry in 1000 ms"));
  // Other identities are not affected.
  EXPECT_TRUE(As("admin").admin->GetNodeInfo(Context().get(), {}, &info).ok());
  EXPECT_EQ(info.rate_limited_requests(), 1u);
  // A second later, one more request.
  access_clock_.Advance(1'000'000'000);
  EXPECT_TRUE(
      As("regulator").admin->GetNodeInfo(Context().get(), {}, &info).ok());
  s = As("regulator").admin->GetNodeInfo(Context().get(), {}, &info);
  EXPECT_EQ(s.error_code(), grpc::RESOURCE_EXHAUSTED);
  // Limited requests are not denials: nothing is recorded.
  EXPECT_EQ(node_->authorizer().denied_requests(), 0u);
}

// ---- Reflection, when enabled, is for the admin only ----

class AuthzReflectionTest : public AuthzTest {
 protected:
  void Configure(NodeConfig& config) override { config.reflection = true; }
};

TEST_F(AuthzReflectionTest, OnlyTheAdminReflects) {
  const std::string method =
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
  grpc::Status s = As("regulator").Raw(method, "");
  EXPECT_EQ(s.error_code(), grpc::PERMISSION_DENIED) << s.error_message();
  s = As("admin").Raw(method, "");
  EXPECT_NE(s.error_code(), grpc::PERMISSION_DENIED) << s.error_message();
  EXPECT_NE(s.error_code(), grpc::UNIMPLEMENTED) << s.error_message();
}

// ---- Idle connections are closed ----

class AuthzIdleTest : public AuthzTest {
 protected:
  void Configure(NodeConfig& config) override {
    config.idle_timeout = absl::Milliseconds(300);
  }
};

TEST_F(AuthzIdleTest, IdleConnectionIsClosedByTheNode) {
  Client& c = As("regulator");
  v1::NodeInfo info;
  ASSERT_TRUE(c.admin->GetNodeInfo(Context().get(), {}, &info).ok());
  ASSERT_EQ(c.channel->GetState(false), GRPC_CHANNEL_READY);
  // The node closes the connection (GOAWAY); the channel goes idle.
  ASSERT_TRUE(c.channel->WaitForStateChange(
      GRPC_CHANNEL_READY,
      std::chrono::system_clock::now() + std::chrono::seconds(60)));
  EXPECT_NE(c.channel->GetState(false), GRPC_CHANNEL_READY);
  // And the next call connects again.
  EXPECT_TRUE(c.admin->GetNodeInfo(Context().get(), {}, &info).ok());
}

// ---- Appends refused for their signing key are denials too ----

// An emitter's appends that its role and tenant allow but its signing key
// does not: a revoked key (Append) and a forged signature (AppendStream).
// Each is answered as without the record, counted, and becomes an
// access.denied entry naming the identity, the method and the key; bad
// input in between (a malformed signature) is neither.
TEST_F(AuthzTest, AppendsRefusedForTheirSigningKeyAreRecorded) {
  const std::string acme_uri = Id("emitter-acme").uri;
  EmitterKeyPair old_key("acme-old", 0x74);
  v1::EntryRef registered;
  ASSERT_TRUE(Register(As("admin"), old_key, kAcme, &registered).ok());
  v1::RevokeEmitterKeyRequest revoke;
  revoke.set_key_id(KeyIdBytes(old_key));
  revoke.set_reason("laptop lost");
  v1::EntryRef revoked;
  ASSERT_TRUE(As("admin")
                  .admin->RevokeEmitterKey(Context().get(), revoke, &revoked)
                  .ok());
  ASSERT_EQ(node_->authorizer().denied_requests(), 0u);
  const uint64_t size = node_->ledger().head().size;

  // The revoked key, unary Append.
  v1::AppendResponse one;
  grpc::Status s = Append(As("emitter-acme"), old_key, kAcme, &one);
  EXPECT_EQ(s.error_code(), grpc::UNAUTHENTICATED);
  const std::string revoked_reason =
      StrCat("emitter key ", KeyIdLabel(old_key.key_id()),
             " (acme-old) was revoked by entry ", revoked.index(),
             " (reason: laptop lost)");
  EXPECT_THAT(s.error_message(), HasSubstr(revoked_reason));
  ASSERT_TRUE(node_->denial_recorder()->Flush(kWait));
  std::vector<v1::Entry> denied = EntriesOfType("access.denied");
  ASSERT_EQ(denied.size(), 1u);
  EXPECT_EQ(denied[0].event().tenant(), kAcme);
  EXPECT_EQ(denied[0].event().actor().id(), acme_uri);
  EXPECT_EQ(denied[0].event().actor().role(), "emitter");
  EXPECT_EQ(Attribute(denied[0], "method"), "/ledger.v1.Ingest/Append");
  EXPECT_THAT(Attribute(denied[0], "reason"), HasSubstr(revoked_reason));
  EXPECT_EQ(Attribute(denied[0], "count"), "1");

  // Bad input: refused, not a denial.
  v1::AppendBatchRequest malformed =
      SignedBatch(key_acme_.key, {MakeEventProto(kAcme, next_++)});
  malformed.mutable_signature()->mutable_signature()->resize(63);
  v1::AppendBatchResponse batch;
  s = As("emitter-acme")
          .ingest->AppendBatch(Context().get(), malformed, &batch);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT) << s.error_message();

  // A forged signature under its own key, on a stream.
  v1::AppendBatchRequest forged =
      SignedBatch(key_acme_.key, {MakeEventProto(kAcme, next_++)});
  (*forged.mutable_signature()->mutable_signature())[5] ^= 0x01;
  auto context = Context();
  v1::AppendStreamResponse streamed;
  auto writer =
      As("emitter-acme").ingest->AppendStream(context.get(), &streamed);
  writer->Write(forged);
  writer->WritesDone();
  s = writer->Finish();
  EXPECT_EQ(s.error_code(), grpc::UNAUTHENTICATED) << s.error_message();
  const std::string forged_reason =
      StrCat("batch signature does not verify for key ",
             KeyIdLabel(key_acme_.key_id()));
  EXPECT_THAT(s.error_message(), HasSubstr(forged_reason));
  EXPECT_EQ(node_->authorizer().denied_requests(), 2u);

  // Within the interval the second denial waits; after it, its entry.
  ASSERT_TRUE(node_->denial_recorder()->Flush(kWait));
  ASSERT_EQ(EntriesOfType("access.denied").size(), 1u);
  access_clock_.Advance(
      absl::ToInt64Nanoseconds(config_.access_denied_interval));
  ASSERT_TRUE(node_->denial_recorder()->Flush(kWait));
  denied = EntriesOfType("access.denied");
  ASSERT_EQ(denied.size(), 2u);
  EXPECT_EQ(denied[1].event().actor().id(), acme_uri);
  EXPECT_EQ(Attribute(denied[1], "method"), "/ledger.v1.Ingest/AppendStream");
  EXPECT_THAT(Attribute(denied[1], "reason"), HasSubstr(forged_reason));
  EXPECT_EQ(Attribute(denied[1], "count"), "1");
  // Nothing else was written.
  EXPECT_EQ(node_->ledger().head().size, size + 2);
}

}  // namespace
}  // namespace ledger::node
