// Client profiles, flag precedence and the checks of the files; the
// certificates come from deploy/dev-ca.sh, as a user gets them (expired
// and future ones from tools/common/dev_certs.h), and a real gRPC server
// over mutual TLS accepts or refuses the resulting clients.

#include "tools/common/client_tls.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "base/strings.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tools/common/dev_certs.h"
#include "tools/common/subprocess.h"

#ifndef LEDGER_DEV_CA_SCRIPT
#error "LEDGER_DEV_CA_SCRIPT must name deploy/dev-ca.sh"
#endif

namespace ledger::client_tls {
namespace {

using ::testing::HasSubstr;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs dev-ca.sh --out `dir` once per test suite directory.
void RunDevCa(const std::string& dir) {
  absl::StatusOr<subprocess::RunResult> r = subprocess::Run(
      {"/bin/bash", LEDGER_DEV_CA_SCRIPT, "--out", dir, "--quiet"},
      std::chrono::seconds(120));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit_code, 0) << r->err;
}

class ClientTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/client_tls_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = new std::string(tmpl);
    RunDevCa(*root_ + "/ca");
    RunDevCa(*root_ + "/other-ca");
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*root_);
    delete root_;
    root_ = nullptr;
  }
  void SetUp() override {
    dir_ =
        StrCat(*root_, "/",
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }

  static std::string Ca(const std::string& file) {
    return StrCat(*root_, "/ca/", file);
  }
  static std::string OtherCa(const std::string& file) {
    return StrCat(*root_, "/other-ca/", file);
  }
  static ClientSettings Tls(const std::string& role) {
    ClientSettings s;
    s.address = "127.0.0.1:1";
    s.ca = Ca("ca.pem");
    s.cert = Ca(role + ".pem");
    s.key = Ca(role + ".key");
    return s;
  }

  static std::string* root_;
  std::string dir_;
};
std::string* ClientTlsTest::root_ = nullptr;

TEST_F(ClientTlsTest, ProfileResolvesPathsAgainstItsDirectory) {
  const std::string path = dir_ + "/emitter.profile";
  absl::StatusOr<ClientProfile> p = ParseClientProfile(
      "address = \"localhost:7401\"\n"
      "ca = \"ca.pem\"\n"
      "cert = \"sub/emitter.pem\"\n"
      "key = \"/abs/emitter.key\"\n",
      path);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->address, "localhost:7401");
  EXPECT_EQ(p->ca, dir_ + "/ca.pem");
  EXPECT_EQ(p->cert, dir_ + "/sub/emitter.pem");
  EXPECT_EQ(p->key, "/abs/emitter.key");
  EXPECT_FALSE(p->insecure_plaintext);
  EXPECT_EQ(p->path, path);
}

TEST_F(ClientTlsTest, ProfileErrorsNameTheLineAndKey) {
  struct Case {
    std::string text, expected;
  };
  const Case cases[] = {
      {"address = \"a:1\"\ncertificate = \"x.pem\"\n",
       "p.profile:2: certificate: unknown key (known: address, ca, cert, key, "
       "insecure_plaintext)"},
      {"ca = 7\n", "p.profile:1: ca: must be a non-empty string"},
      {"key = \"\"\n", "p.profile:1: key: must be a non-empty string"},
      {"insecure_plaintext = \"yes\"\n",
       "p.profile:1: insecure_plaintext: must be true or false"},
      {"ca = \"ca.pem\"\ninsecure_plaintext = true\n",
       "p.profile:2: insecure_plaintext: true together with ca, cert or key"},
      {"address = \n", "p.profile:1: "},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ClientProfile> p = ParseClientProfile(c.text, "p.profile");
    ASSERT_FALSE(p.ok()) << c.text;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(p.status().message()), HasSubstr(c.expected))
        << c.text;
  }
}

TEST_F(ClientTlsTest, NothingGivenRefusesAndSaysWhatIsMissing) {
  absl::StatusOr<ClientSettings> s =
      ResolveClientSettings(ClientFlags(), "127.0.0.1:7400", nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string m(s.status().message());
  EXPECT_THAT(m, HasSubstr("missing: --ca, --cert, --key"));
  EXPECT_THAT(m, HasSubstr("--profile"));
  EXPECT_THAT(m, HasSubstr("LEDGER_PROFILE"));
  EXPECT_THAT(m, HasSubstr("--insecure-plaintext"));
}

TEST_F(ClientTlsTest, FlagsOverrideTheProfile) {
  const std::string path = dir_ + "/admin.profile";
  WriteFile(path,
            "address = \"10.0.0.1:7400\"\nca = \"ca.pem\"\n"
            "cert = \"admin.pem\"\nkey = \"admin.key\"\n");
  ClientFlags flags;
  flags.profile = path;
  absl::StatusOr<ClientSettings> s =
      ResolveClientSettings(flags, "127.0.0.1:7400", nullptr);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->address, "10.0.0.1:7400");
  EXPECT_EQ(s->cert, dir_ + "/admin.pem");
  EXPECT_EQ(s->profile, path);

  flags.address = "127.0.0.1:9";
  flags.cert = "mine.pem";  // relative to the working directory
  s = ResolveClientSettings(flags, "127.0.0.1:7400", nullptr);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->address, "127.0.0.1:9");
  EXPECT_EQ(s->ca, dir_ + "/ca.pem");
  EXPECT_EQ(s->cert, "mine.pem");
  EXPECT_EQ(s->key, dir_ + "/admin.key");
}

TEST_F(ClientTlsTest, EnvironmentProfileAppliesUnlessAProfileFlagIsGiven) {
  const std::string env = dir_ + "/env.profile";
  const std::string flag = dir_ + "/flag.profile";
  WriteFile(env, "ca = \"e-ca.pem\"\ncert = \"e.pem\"\nkey = \"e.key\"\n");
  WriteFile(flag, "ca = \"f-ca.pem\"\ncert = \"f.pem\"\nkey = \"f.key\"\n");
  absl::StatusOr<ClientSettings> s =
      ResolveClientSettings(ClientFlags(), "127.0.0.1:7400", env.c_str());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->cert, dir_ + "/e.pem");
  EXPECT_EQ(s->address, "127.0.0.1:7400");
  ClientFlags flags;
  flags.profile = flag;
  s = ResolveClientSettings(flags, "127.0.0.1:7400", env.c_str());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->cert, dir_ + "/f.pem");
  // An empty variable is no profile.
  s = ResolveClientSettings(ClientFlags(), "127.0.0.1:7400", "");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ClientTlsTest, MissingProfileSaysWhereItsNameCameFrom) {
  ClientFlags flags;
  flags.profile = dir_ + "/nope.profile";
  absl::StatusOr<ClientSettings> s =
      ResolveClientSettings(flags, "127.0.0.1:7400", nullptr);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("--profile"));
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("nope.profile"));
  const std::string env = dir_ + "/gone.profile";
  s = ResolveClientSettings(ClientFlags(), "127.0.0.1:7400", env.c_str());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("LEDGER_PROFILE"));
}

TEST_F(ClientTlsTest, PlaintextOnlyWhenAskedAndNeverMixedWithCertificates) {
  ClientFlags flags;
  flags.insecure_plaintext = true;
  absl::StatusOr<ClientSettings> s =
      ResolveClientSettings(flags, "127.0.0.1:7400", nullptr);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->insecure_plaintext);
  absl::StatusOr<Endpoint> e = MakeEndpoint(*s);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_FALSE(e->tls);
  EXPECT_EQ(e->identity, "");

  flags.key = "x.key";
  s = ResolveClientSettings(flags, "127.0.0.1:7400", nullptr);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()),
              HasSubstr("--insecure-plaintext cannot be combined"));

  // A plaintext profile; a TLS flag turns it into mTLS, which then needs
  // all three files.
  const std::string path = dir_ + "/plain.profile";
  WriteFile(path, "address = \"127.0.0.1:7\"\ninsecure_plaintext = true\n");
  ClientFlags from_profile;
  from_profile.profile = path;
  s = ResolveClientSettings(from_profile, "127.0.0.1:7400", nullptr);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->insecure_plaintext);
  EXPECT_EQ(s->address, "127.0.0.1:7");
  from_profile.cert = "c.pem";
  s = ResolveClientSettings(from_profile, "127.0.0.1:7400", nullptr);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()),
              HasSubstr("missing: --ca, --key"));
}

TEST_F(ClientTlsTest, DevCaFilesMakeAnEndpointWithTheCertificateIdentity) {
  absl::StatusOr<Endpoint> e = MakeEndpoint(Tls("emitter"));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(e->tls);
  EXPECT_NE(e->credentials, nullptr);
  EXPECT_EQ(e->identity, "spiffe://annotation-ledger/emitter/demo");
  e = MakeEndpoint(Tls("admin"));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->identity, "spiffe://annotation-ledger/admin/local");

  // The profile dev-ca.sh wrote, through the flag.
  ClientFlags flags;
  flags.profile = Ca("regulator.profile");
  e = ResolveEndpoint(flags, "unused:1");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->address, "127.0.0.1:7400");
  EXPECT_EQ(e->identity, "spiffe://annotation-ledger/regulator/local");
}

TEST_F(ClientTlsTest, ReadableKeyIsRefusedWithTheFix) {
  const std::string key = dir_ + "/emitter.key";
  std::filesystem::copy_file(Ca("emitter.key"), key);
  ASSERT_EQ(chmod(key.c_str(), 0640), 0);
  ClientSettings s = Tls("emitter");
  s.key = key;
  absl::StatusOr<Endpoint> e = MakeEndpoint(s);
  EXPECT_EQ(e.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(e.status().message()),
              HasSubstr("readable by group or others (mode 0640); run: "
                        "chmod 600 " +
                        key));
  ASSERT_EQ(chmod(key.c_str(), 0600), 0);
  EXPECT_TRUE(MakeEndpoint(s).ok());
}

TEST_F(ClientTlsTest, UnusableFilesAreNamed) {
  ClientSettings s = Tls("emitter");
  s.ca = dir_ + "/missing-ca.pem";
  absl::StatusOr<Endpoint> e = MakeEndpoint(s);
  EXPECT_EQ(e.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(e.status().message()), HasSubstr("CA file " + s.ca));

  s = Tls("emitter");
  s.cert = dir_ + "/not-a-cert.pem";
  WriteFile(s.cert, "hello\n");
  e = MakeEndpoint(s);
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(e.status().message()),
              HasSubstr("holds no PEM certificate"));

  s = Tls("emitter");
  s.key = dir_ + "/garbage.key";
  WriteFile(s.key,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE "
            "KEY-----\n");
  ASSERT_EQ(chmod(s.key.c_str(), 0600), 0);
  e = MakeEndpoint(s);
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(e.status().message()),
              HasSubstr("not an unencrypted PEM private key"));

  s = Tls("emitter");
  s.key = Ca("admin.key");
  e = MakeEndpoint(s);
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(e.status().message()),
              HasSubstr("does not belong to certificate " + s.cert));
}

TEST_F(ClientTlsTest, CertificateOutsideItsValidityIsRefused) {
  absl::StatusOr<devcerts::CertificateAuthority> ca =
      devcerts::CertificateAuthority::Create("test CA");
  ASSERT_TRUE(ca.ok()) << ca.status();
  devcerts::LeafSpec spec = devcerts::ClientLeaf("emitter", "old");
  spec.validity = devcerts::Expired();
  absl::StatusOr<devcerts::Pem> expired = ca->Issue(spec);
  ASSERT_TRUE(expired.ok()) << expired.status();
  ClientSettings s = Tls("emitter");
  s.cert = dir_ + "/expired.pem";
  s.key = dir_ + "/expired.key";
  ASSERT_TRUE(devcerts::WritePem(*expired, s.cert, s.key).ok());
  absl::StatusOr<Endpoint> e = MakeEndpoint(s);
  EXPECT_EQ(e.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(e.status().message()), HasSubstr("expired on"));

  spec.validity = devcerts::NotYetValid();
  absl::StatusOr<devcerts::Pem> future = ca->Issue(spec);
  ASSERT_TRUE(future.ok()) << future.status();
  s.cert = dir_ + "/future.pem";
  s.key = dir_ + "/future.key";
  ASSERT_TRUE(devcerts::WritePem(*future, s.cert, s.key).ok());
  e = MakeEndpoint(s);
  EXPECT_EQ(e.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(e.status().message()), HasSubstr("not valid before"));
}

TEST_F(ClientTlsTest, AddClientFlagsRegistersTheSharedFlags) {
  CLI::App app;
  ClientFlags flags;
  AddClientFlags(&app, &flags);
  app.parse(
      "--insecure-plaintext --key k.pem --cert c.pem --ca ca.pem "
      "--profile p.profile",
      false);
  EXPECT_TRUE(flags.insecure_plaintext);
  EXPECT_EQ(flags.key, "k.pem");
  EXPECT_EQ(flags.cert, "c.pem");
  EXPECT_EQ(flags.ca, "ca.pem");
  EXPECT_EQ(flags.profile, "p.profile");
  EXPECT_FALSE(flags.address.has_value());
}

// Answers every health check SERVING.
class Healthy : public grpc::health::v1::Health::Service {
  grpc::Status Check(grpc::ServerContext*,
                     const grpc::health::v1::HealthCheckRequest*,
                     grpc::health::v1::HealthCheckResponse* response) override {
    response->set_status(grpc::health::v1::HealthCheckResponse::SERVING);
    return grpc::Status::OK;
  }
};

// A gRPC server requiring client certificates, with the node certificate
// of `ca_dir`, serving the health service.
class MtlsServer {
 public:
  explicit MtlsServer(const std::string& ca_dir) {
    grpc::SslServerCredentialsOptions options(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    options.pem_root_certs = ReadText(ca_dir + "/ca.pem");
    options.pem_key_cert_pairs.push_back(
        {ReadText(ca_dir + "/node/node-1.key"),
         ReadText(ca_dir + "/node/node-1.pem")});
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(options),
                             &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~MtlsServer() {
    if (server_) server_->Shutdown();
  }
  int port() const { return port_; }
  bool started() const { return server_ != nullptr && port_ > 0; }

 private:
  Healthy service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

grpc::Status Check(const Endpoint& endpoint) {
  auto stub = grpc::health::v1::Health::NewStub(CreateChannel(endpoint));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  return stub->Check(&ctx, request, &response);
}

TEST_F(ClientTlsTest, MutualTlsAgainstARealServer) {
  MtlsServer server(*root_ + "/ca");
  ASSERT_TRUE(server.started());
  const std::string address = StrCat("127.0.0.1:", server.port());
  for (const char* role : {"admin", "regulator", "emitter", "officer"}) {
    ClientSettings s = Tls(role);
    s.address = address;
    absl::StatusOr<Endpoint> e = MakeEndpoint(s);
    ASSERT_TRUE(e.ok()) << e.status();
    grpc::Status status = Check(*e);
    EXPECT_TRUE(status.ok()) << role << ": " << status.error_message();
  }
  // The node certificate names localhost too.
  ClientSettings by_name = Tls("emitter");
  by_name.address = StrCat("localhost:", server.port());
  absl::StatusOr<Endpoint> e = MakeEndpoint(by_name);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(Check(*e).ok());

  // A client certificate of another CA: the handshake fails.
  ClientSettings other;
  other.address = address;
  other.ca = Ca("ca.pem");
  other.cert = OtherCa("emitter.pem");
  other.key = OtherCa("emitter.key");
  e = MakeEndpoint(other);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(Check(*e).error_code(), grpc::StatusCode::UNAVAILABLE);

  // A client that trusts another CA refuses the server.
  ClientSettings distrust = Tls("emitter");
  distrust.address = address;
  distrust.ca = OtherCa("ca.pem");
  e = MakeEndpoint(distrust);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(Check(*e).error_code(), grpc::StatusCode::UNAVAILABLE);

  // Plaintext against a TLS server gets nowhere.
  ClientSettings plain;
  plain.address = address;
  plain.insecure_plaintext = true;
  e = MakeEndpoint(plain);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(Check(*e).error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace ledger::client_tls
