// The ledger-node executable as an operator runs it: the machine-readable
// "listening on" line, graceful shutdown on SIGTERM, the keys subcommand,
// and its exit codes for bad configuration and a corrupted ledger.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <rocksdb/db.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "base/strings.h"
#include "crypto/key_file.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "ledger/v1/admin.grpc.pb.h"
#include "ledger/v1/ingest.grpc.pb.h"
#include "node/node_testing.h"
#include "tools/common/dev_certs.h"

extern char** environ;

namespace ledger::node {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
constexpr int kTimeoutMs = 60'000;

// A child process running ledger-node; stderr goes to a file.
class NodeProcess {
 public:
  NodeProcess(std::vector<std::string> args, const std::string& stderr_path) {
    int out[2];
    EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO,
                                     stderr_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    args.insert(args.begin(), LEDGER_NODE_BINARY);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    EXPECT_EQ(
        posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ),
        0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    stdout_ = out[0];
  }
  ~NodeProcess() {
    if (!exited_) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
    ::close(stdout_);
  }

  // The next stdout line, or nullopt at EOF or after the timeout.
  std::optional<std::string> ReadLine() {
    std::string line;
    for (;;) {
      pollfd p{stdout_, POLLIN, 0};
      if (::poll(&p, 1, kTimeoutMs) != 1) return std::nullopt;
      char c;
      if (::read(stdout_, &c, 1) != 1) return std::nullopt;
      if (c == '\n') return line;
      line.push_back(c);
    }
  }

  void Signal(int sig) { ::kill(pid_, sig); }

  // The exit code; -1 on timeout or death by signal.
  int Wait() {
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      int ready = ::poll(&p, 1, kTimeoutMs);
      ::close(pidfd);
      if (ready != 1) return -1;
    }
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) return -1;
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  int stdout_ = -1;
  bool exited_ = false;
};

class MainTest : public ::testing::Test {
 protected:
  std::string Stderr() {
    return crypto::ReadFileToString(stderr_).value_or("");
  }
  // Starts the node, returns its port from the "listening on" line.
  int Start(NodeProcess& node) {
    std::optional<std::string> line = node.ReadLine();
    EXPECT_TRUE(line.has_value()) << Stderr();
    const std::string prefix = "listening on 127.0.0.1:";
    EXPECT_EQ(line.value_or("").substr(0, prefix.size()), prefix);
    return std::atoi(line.value_or("").substr(prefix.size()).c_str());
  }
  // The health endpoint's port from the "health listening on" line, which
  // follows the "listening on" one.
  int StartHealth(NodeProcess& node) {
    std::optional<std::string> line = node.ReadLine();
    EXPECT_TRUE(line.has_value()) << Stderr();
    const std::string prefix = "health listening on 127.0.0.1:";
    EXPECT_EQ(line.value_or("").substr(0, prefix.size()), prefix);
    return std::atoi(line.value_or("").substr(prefix.size()).c_str());
  }
  std::vector<std::string> Args() {
    return {"--data",
            data_,
            "--listen",
            "127.0.0.1:0",
            "--origin",
            "ledger.test/main",
            "--insecure-plaintext"};
  }
  static std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::minutes(2));
    return context;
  }

  // Runs the node, registers the emitter key unless `registered`, appends
  // events first .. first+count-1 of kTenant one by one, and stops the
  // node with SIGINT (which issues a checkpoint covering them). Returns
  // the ledger size then. With `kill`, it stops the node with SIGKILL
  // instead (no final checkpoint).
  uint64_t RunAndAppend(int first, int count, bool registered,
                        std::vector<std::string> extra_args = {},
                        bool kill = false) {
    std::vector<std::string> args = Args();
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    NodeProcess node(std::move(args), stderr_);
    const int port = Start(node);
    EXPECT_GT(port, 0);
    auto channel = grpc::CreateChannel(StrCat("127.0.0.1:", port),
                                       grpc::InsecureChannelCredentials());
    auto admin = v1::Admin::NewStub(channel);
    auto ingest = v1::Ingest::NewStub(channel);
    if (!registered) {
      v1::RegisterEmitterKeyRequest request;
      request.set_verifier_key(emitter_.vkey());
      request.set_tenant(kTenant);
      request.set_producer("label-studio");
      v1::EntryRef ref;
      grpc::Status s =
          admin->RegisterEmitterKey(Context().get(), request, &ref);
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    for (int n = first; n < first + count; ++n) {
      v1::AppendResponse response;
      grpc::Status s =
          ingest->Append(Context().get(),
                         testing::SignedAppend(
                             emitter_.key, testing::MakeEventProto(kTenant, n)),
                         &response);
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    v1::NodeInfo info;
    grpc::Status s = admin->GetNodeInfo(Context().get(), {}, &info);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (kill) {
      node.Signal(SIGKILL);
      node.Wait();
    } else {
      node.Signal(SIGINT);
      EXPECT_EQ(node.Wait(), 0) << Stderr();
    }
    return info.size();
  }

  // Runs `ledger-node args...`; its exit code, stdout lines in `out`.
  int RunTool(std::vector<std::string> args, std::vector<std::string>* out) {
    NodeProcess tool(std::move(args), stderr_);
    while (std::optional<std::string> line = tool.ReadLine()) {
      out->push_back(*line);
    }
    return tool.Wait();
  }

  static constexpr char kTenant[] = "acme-ai";
  testing::EmitterKeyPair emitter_{"labelstudio", 0x51};

  testing::TempDir tmp_;
  std::string data_ = tmp_.path() + "/data";
  std::string stderr_ = tmp_.path() + "/stderr.log";
};

TEST_F(MainTest, ServesUntilSigtermThenExitsCleanly) {
  NodeProcess node(Args(), stderr_);
  int port = Start(node);
  ASSERT_GT(port, 0);
  auto admin = v1::Admin::NewStub(grpc::CreateChannel(
      StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(30));
  v1::NodeInfo info;
  grpc::Status s = admin->GetNodeInfo(&context, {}, &info);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(info.origin(), "ledger.test/main");
  EXPECT_EQ(info.size(), 2u);  // genesis, the cosigner key

  // The client stays connected: shutdown must not wait for it to leave.
  node.Signal(SIGTERM);
  EXPECT_EQ(node.Wait(), 0) << Stderr();
  EXPECT_THAT(Stderr(), HasSubstr("shutting down"));
  EXPECT_THAT(Stderr(), HasSubstr("log key ledger.test/main+"));

  NodeProcess keys({"keys", "--data", data_}, stderr_);
  std::optional<std::string> log_key = keys.ReadLine();
  std::optional<std::string> cosigner_key = keys.ReadLine();
  EXPECT_EQ(keys.Wait(), 0) << Stderr();
  EXPECT_EQ(log_key, info.note_verifier_keys(0));
  EXPECT_EQ(cosigner_key, info.note_verifier_keys(1));
}

TEST_F(MainTest, UnknownConfigKeyExitsWithUsageError) {
  std::string config = tmp_.path() + "/node.toml";
  std::ofstream(config) << "listen = \"127.0.0.1:0\"\ncheckpoint_intervl = 1\n";
  NodeProcess node({"--config", config, "--data", data_}, stderr_);
  EXPECT_EQ(node.Wait(), 2);
  EXPECT_THAT(Stderr(), HasSubstr("node.toml:2: checkpoint_intervl"));
}

TEST_F(MainTest, MissingDataDirExitsWithUsageError) {
  NodeProcess node({"--listen", "127.0.0.1:0", "--insecure-plaintext"},
                   stderr_);
  EXPECT_EQ(node.Wait(), 2);
  EXPECT_THAT(Stderr(), HasSubstr("data_dir: required"));
}

// Neither [tls] nor --insecure-plaintext: the node does not start, and
// says what to give it.
TEST_F(MainTest, NoTransportSecurityExitsWithUsageError) {
  NodeProcess node({"--data", data_, "--listen", "127.0.0.1:0"}, stderr_);
  EXPECT_EQ(node.Wait(), 2);
  EXPECT_THAT(Stderr(), HasSubstr("no transport security configured"));
  EXPECT_THAT(Stderr(), HasSubstr("[tls]"));
  EXPECT_THAT(Stderr(), HasSubstr("--insecure-plaintext"));
  EXPECT_FALSE(std::filesystem::exists(data_ + "/db"));
}

// The operator's way: a config file whose [tls] and [access] name files
// beside it (relative paths), client certificates of the same CA.
TEST_F(MainTest, ServesMutualTlsFromAConfigFile) {
  absl::StatusOr<devcerts::CertificateAuthority> ca =
      devcerts::CertificateAuthority::Create("main test CA");
  ASSERT_TRUE(ca.ok()) << ca.status();
  const std::string etc = tmp_.path() + "/etc";
  std::filesystem::create_directories(etc + "/tls");
  absl::StatusOr<devcerts::Pem> node_pem =
      ca->Issue(devcerts::NodeLeaf("node-1"));
  absl::StatusOr<devcerts::Pem> admin_pem =
      ca->Issue(devcerts::ClientLeaf("admin", "ops"));
  ASSERT_TRUE(node_pem.ok() && admin_pem.ok());
  ASSERT_TRUE(devcerts::WritePem(*node_pem, etc + "/tls/node.pem",
                                 etc + "/tls/node.key")
                  .ok());
  ASSERT_TRUE(
      devcerts::WriteFile(etc + "/tls/ca.pem", ca->pem().cert, 0644).ok());
  std::ofstream(etc + "/policy.toml")
      << "[[identity]]\nuri = \"" << devcerts::IdentityUri("admin", "ops")
      << "\"\nrole = \"admin\"\n";
  std::ofstream(etc + "/node.toml") << R"(listen = "127.0.0.1:0"
health_listen = "127.0.0.1:0"
[tls]
ca_file = "tls/ca.pem"
cert_file = "tls/node.pem"
key_file = "tls/node.key"
[access]
policy_file = "policy.toml"
)";
  {
    NodeProcess node({"--config", etc + "/node.toml", "--data", data_},
                     stderr_);
    const int port = Start(node);
    ASSERT_GT(port, 0) << Stderr();
    const int health_port = StartHealth(node);
    ASSERT_GT(health_port, 0) << Stderr();
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ca->pem().cert;
    options.pem_private_key = admin_pem->key;
    options.pem_cert_chain = admin_pem->cert;
    auto admin = v1::Admin::NewStub(grpc::CreateChannel(
        StrCat("127.0.0.1:", port), grpc::SslCredentials(options)));
    v1::NodeInfo info;
    grpc::Status s = admin->GetNodeInfo(Context().get(), {}, &info);
    EXPECT_TRUE(s.ok()) << s.error_message();
    // Plaintext is not served.
    auto plain = v1::Admin::NewStub(grpc::CreateChannel(
        StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
    s = plain->GetNodeInfo(Context().get(), {}, &info);
    EXPECT_EQ(s.error_code(), grpc::UNAVAILABLE) << s.error_message();

    // The health endpoint: the same mutual TLS.
    const std::string health_at = StrCat("127.0.0.1:", health_port);
    grpc::health::v1::HealthCheckResponse health;
    s = grpc::health::v1::Health::NewStub(
            grpc::CreateChannel(health_at, grpc::SslCredentials(options)))
            ->Check(Context().get(), {}, &health);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(health.status(), grpc::health::v1::HealthCheckResponse::SERVING);
    // A TLS client without a certificate: refused in the handshake.
    grpc::SslCredentialsOptions anonymous;
    anonymous.pem_root_certs = ca->pem().cert;
    s = grpc::health::v1::Health::NewStub(
            grpc::CreateChannel(health_at, grpc::SslCredentials(anonymous)))
            ->Check(Context().get(), {}, &health);
    EXPECT_EQ(s.error_code(), grpc::UNAVAILABLE) << s.error_message();
    s = grpc::health::v1::Health::NewStub(
            grpc::CreateChannel(health_at, grpc::InsecureChannelCredentials()))
            ->Check(Context().get(), {}, &health);
    EXPECT_EQ(s.error_code(), grpc::UNAVAILABLE) << s.error_message();
    // A certificate of the CA that the policy does not name: refused by the
    // access policy, as on the service port.
    absl::StatusOr<devcerts::Pem> stranger_pem =
        ca->Issue(devcerts::ClientLeaf("stranger", "elsewhere"));
    ASSERT_TRUE(stranger_pem.ok());
    grpc::SslCredentialsOptions stranger = options;
    stranger.pem_private_key = stranger_pem->key;
    stranger.pem_cert_chain = stranger_pem->cert;
    s = grpc::health::v1::Health::NewStub(
            grpc::CreateChannel(health_at, grpc::SslCredentials(stranger)))
            ->Check(Context().get(), {}, &health);
    EXPECT_EQ(s.error_code(), grpc::UNAUTHENTICATED) << s.error_message();
    node.Signal(SIGTERM);
    EXPECT_EQ(node.Wait(), 0) << Stderr();
    EXPECT_THAT(Stderr(), HasSubstr("mutual TLS; 1 identities"));
    EXPECT_THAT(Stderr(), Not(HasSubstr("PRIVATE KEY")));
  }
  // A key others may read: the node does not start, and says why.
  ASSERT_EQ(::chmod((etc + "/tls/node.key").c_str(), 0644), 0);
  NodeProcess refused({"--config", etc + "/node.toml", "--data", data_},
                      stderr_);
  EXPECT_EQ(refused.Wait(), 1);
  EXPECT_THAT(Stderr(), HasSubstr(etc + "/tls/node.key has mode 0644"));
  EXPECT_THAT(Stderr(), HasSubstr("chmod 600"));
  EXPECT_THAT(Stderr(), Not(HasSubstr("PRIVATE KEY")));
}

TEST_F(MainTest, HealthListenPrintsASecondLineAndServesHealth) {
  std::vector<std::string> args = Args();
  args.insert(args.end(), {"--health-listen", "127.0.0.1:0"});
  NodeProcess node(std::move(args), stderr_);
  const int port = Start(node);  // the first line is unchanged
  ASSERT_GT(port, 0) << Stderr();
  const int health_port = StartHealth(node);
  ASSERT_GT(health_port, 0) << Stderr();
  EXPECT_NE(health_port, port);
  for (const char* service : {"", "ledger.v1.Ingest"}) {
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse health;
    grpc::Status s =
        grpc::health::v1::Health::NewStub(
            grpc::CreateChannel(StrCat("127.0.0.1:", health_port),
                                grpc::InsecureChannelCredentials()))
            ->Check(Context().get(), request, &health);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(health.status(), grpc::health::v1::HealthCheckResponse::SERVING)
        << service;
  }
  node.Signal(SIGTERM);
  EXPECT_EQ(node.Wait(), 0) << Stderr();
  EXPECT_THAT(Stderr(),
              HasSubstr(StrCat("health listening on 127.0.0.1:", health_port)));

  // Its port taken (by the node's own service port, which a node started
  // on the same address would find in use): exit 1 naming the address.
  {
    NodeProcess holder(Args(), tmp_.path() + "/holder.log");
    const int taken = Start(holder);
    ASSERT_GT(taken, 0);
    std::vector<std::string> clash = {"--data",
                                      tmp_.path() + "/other",
                                      "--listen",
                                      "127.0.0.1:0",
                                      "--health-listen",
                                      StrCat("127.0.0.1:", taken),
                                      "--insecure-plaintext"};
    NodeProcess refused(std::move(clash), stderr_);
    EXPECT_EQ(refused.Wait(), 1);
    EXPECT_THAT(Stderr(), HasSubstr(StrCat("cannot listen on 127.0.0.1:", taken,
                                           " for the health endpoint "
                                           "(health_listen)")));
    holder.Signal(SIGTERM);
    EXPECT_EQ(holder.Wait(), 0);
  }
  // Not an address: a usage error.
  args = Args();
  args.insert(args.end(), {"--health-listen", "7401"});
  NodeProcess bad(std::move(args), stderr_);
  EXPECT_EQ(bad.Wait(), 2);
  EXPECT_THAT(Stderr(), HasSubstr("health_listen: \"7401\" is not host:port"));
}

TEST_F(MainTest, InsecurePlaintextLogsAWarning) {
  NodeProcess node(Args(), stderr_);
  ASSERT_GT(Start(node), 0);
  node.Signal(SIGTERM);
  EXPECT_EQ(node.Wait(), 0) << Stderr();
  EXPECT_THAT(Stderr(), HasSubstr("[warning]"));
  EXPECT_THAT(Stderr(), HasSubstr("WITHOUT TLS and WITHOUT authorization"));
}

TEST_F(MainTest, CorruptedLedgerIsRefusedWithExitCode3) {
  {
    NodeProcess node(Args(), stderr_);
    ASSERT_GT(Start(node), 0);
    node.Signal(SIGINT);
    ASSERT_EQ(node.Wait(), 0) << Stderr();
  }
  {  // Flip one byte of the genesis entry behind the ledger's back.
    const std::string db = data_ + "/db";
    std::vector<std::string> names;
    ASSERT_TRUE(
        rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), db, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const std::string& n : names)
      families.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(
        rocksdb::DB::Open(rocksdb::DBOptions(), db, families, &handles, &raw)
            .ok());
    std::unique_ptr<rocksdb::DB> rdb(raw);
    rocksdb::ColumnFamilyHandle* entries = nullptr;
    for (auto* h : handles) {
      if (h->GetName() == "entries") entries = h;
    }
    ASSERT_NE(entries, nullptr);
    std::unique_ptr<rocksdb::Iterator> it(
        rdb->NewIterator(rocksdb::ReadOptions(), entries));
    it->SeekToFirst();
    ASSERT_TRUE(it->Valid());
    std::string key = it->key().ToString();
    std::string value = it->value().ToString();
    value[value.size() / 2] ^= 1;
    it.reset();
    ASSERT_TRUE(rdb->Put(rocksdb::WriteOptions(), entries, key, value).ok());
    for (auto* h : handles) rdb->DestroyColumnFamilyHandle(h);
  }
  NodeProcess node(Args(), stderr_);
  EXPECT_EQ(node.Wait(), 3) << Stderr();
  EXPECT_THAT(Stderr(), HasSubstr("failed verification; refusing to serve"));
}

// The database restored from a copy older than the last checkpoint the
// node signed: refused, naming both sizes.
TEST_F(MainTest, DatabaseRolledBackBehindItsCheckpointExitsWithCode3) {
  const uint64_t old_size = RunAndAppend(1, 2, /*registered=*/false);
  const std::string db = data_ + "/db", aside = tmp_.path() + "/db.copy";
  std::filesystem::copy(db, aside, std::filesystem::copy_options::recursive);
  const uint64_t new_size = RunAndAppend(10, 3, /*registered=*/true);
  ASSERT_EQ(new_size, old_size + 3);
  std::filesystem::remove_all(db);
  std::filesystem::rename(aside, db);

  NodeProcess node(Args(), stderr_);
  EXPECT_EQ(node.Wait(), 3) << Stderr();
  EXPECT_THAT(Stderr(), HasSubstr("failed verification; refusing to serve"));
  EXPECT_THAT(Stderr(), HasSubstr(StrCat("the ledger holds ", old_size,
                                         " entries but this log already "
                                         "signed a checkpoint of size ",
                                         new_size)));
}

// Entries acknowledged after the last checkpoint are lost (a database one
// run behind, as a write-ahead log that lost a clean suffix would leave
// it): the rollback guard alone cannot see it, the acknowledged head can.
TEST_F(MainTest, DatabaseBehindItsAcknowledgedHeadExitsWithCode3) {
  const uint64_t old_size = RunAndAppend(1, 2, /*registered=*/false);
  const std::string db = data_ + "/db", aside = tmp_.path() + "/db.copy";
  std::filesystem::copy(db, aside, std::filesystem::copy_options::recursive);
  // No checkpoint after the start-up one: the three are acknowledged only.
  const std::string config = tmp_.path() + "/node.toml";
  std::ofstream(config) << "checkpoint_interval = \"1h\"\n"
                        << "empty_interval = \"1h\"\n";
  const uint64_t new_size = RunAndAppend(10, 3, /*registered=*/true,
                                         {"--config", config}, /*kill=*/true);
  ASSERT_EQ(new_size, old_size + 3);
  std::filesystem::remove_all(db);
  std::filesystem::rename(aside, db);

  NodeProcess node(Args(), stderr_);
  EXPECT_EQ(node.Wait(), 3) << Stderr();
  EXPECT_THAT(Stderr(), HasSubstr(StrCat("the ledger holds ", old_size,
                                         " entries but this node "
                                         "acknowledged ",
                                         new_size, " to its clients")));
  std::vector<std::string> out;
  EXPECT_EQ(RunTool({"verify", "--data", data_}, &out), 3) << Stderr();
}

// Damage below the last checkpoint, with start checking only the tail:
// the node starts serving, its scrub finds the damage, and it exits with
// code 3 naming the entries.
TEST_F(MainTest, DamageFoundByTheBackgroundScrubExitsWithCode3) {
  const uint64_t size = RunAndAppend(1, 5, /*registered=*/false);
  ASSERT_NO_FATAL_FAILURE(testing::FlipEntryBit(data_ + "/db", size - 2));
  const std::string config = tmp_.path() + "/node.toml";
  std::ofstream(config) << "full_check_max_entries = 0\n"
                        << "scrub_rate = 1000000000\n";
  std::vector<std::string> args = Args();
  args.insert(args.end(), {"--config", config});
  NodeProcess node(args, stderr_);
  EXPECT_GT(Start(node), 0);  // "listening on": start succeeded
  EXPECT_EQ(node.Wait(), 3) << Stderr();
  EXPECT_THAT(Stderr(), HasSubstr(StrCat("entries [", size - 2, ", ", size - 1,
                                         ") are corrupt")));
  EXPECT_THAT(Stderr(), HasSubstr("failed verification in the background "
                                  "scrub; refusing to serve it"));
}

// The provenance index families are checked and repaired like by_event_id.
TEST_F(MainTest, VerifyFindsAMissingTypeIndexRecordAndRepairRebuildsIt) {
  const uint64_t size = RunAndAppend(1, 3, /*registered=*/false);
  ASSERT_NO_FATAL_FAILURE(testing::DeleteTypeIndexRecord(
      data_ + "/db", kTenant, "annotation.created", size - 1));
  std::vector<std::string> out;
  EXPECT_EQ(RunTool({"verify", "--data", data_}, &out), 3) << Stderr();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_THAT(out[0], ::testing::StartsWith("INVALID: "));
  EXPECT_THAT(out[0],
              HasSubstr(StrCat("by_type record of type "
                               "'annotation.created' of tenant '",
                               kTenant, "' at entry ", size - 1, ": missing")));
  EXPECT_THAT(out[0], HasSubstr("repair-indexes"));
  {  // The node refuses it too.
    NodeProcess node(Args(), stderr_);
    EXPECT_EQ(node.Wait(), 3) << Stderr();
  }
  out.clear();
  EXPECT_EQ(RunTool({"repair-indexes", "--data", data_}, &out), 0) << Stderr();
  EXPECT_THAT(Stderr(), HasSubstr("rebuilt 1 derived records"));
  out.clear();
  EXPECT_EQ(RunTool({"verify", "--data", data_}, &out), 0) << Stderr();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_THAT(out[0],
              ::testing::StartsWith(StrCat("VALID: ", size, " entries")));
}

TEST_F(MainTest, VerifyFindsAMissingIndexRecordAndRepairRebuildsIt) {
  const uint64_t size = RunAndAppend(1, 3, /*registered=*/false);
  std::vector<std::string> out;
  ASSERT_EQ(RunTool({"verify", "--data", data_}, &out), 0) << Stderr();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_THAT(out[0], ::testing::StartsWith(
                          StrCat("VALID: ", size, " entries, root ")));

  ASSERT_NO_FATAL_FAILURE(
      testing::DeleteEventIdRecord(data_ + "/db", kTenant, 2));
  const std::string event_id =
      testing::MakeEventProto(kTenant, 2).event_id();  // the one deleted
  out.clear();
  EXPECT_EQ(RunTool({"verify", "--data", data_}, &out), 3) << Stderr();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_THAT(out[0], ::testing::StartsWith("INVALID: "));
  EXPECT_THAT(out[0],
              HasSubstr(StrCat("by_event_id record of event ", event_id)));
  EXPECT_THAT(out[0], HasSubstr("repair-indexes"));
  {  // The node refuses it too.
    NodeProcess node(Args(), stderr_);
    EXPECT_EQ(node.Wait(), 3) << Stderr();
  }

  out.clear();
  EXPECT_EQ(RunTool({"repair-indexes", "--data", data_}, &out), 0) << Stderr();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_THAT(out[0],
              ::testing::StartsWith(StrCat("VALID: ", size, " entries")));
  EXPECT_THAT(Stderr(), HasSubstr("rebuilt 1 derived records"));
  EXPECT_THAT(Stderr(), HasSubstr(event_id));

  out.clear();
  EXPECT_EQ(RunTool({"verify", "--data", data_}, &out), 0) << Stderr();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_THAT(out[0],
              ::testing::StartsWith(StrCat("VALID: ", size, " entries")));
  NodeProcess node(Args(), stderr_);
  EXPECT_GT(Start(node), 0);
  node.Signal(SIGTERM);
  EXPECT_EQ(node.Wait(), 0) << Stderr();
}

TEST_F(MainTest, VerifyOfAnUninitialisedDirectoryIsAUsageError) {
  std::vector<std::string> out;
  EXPECT_EQ(RunTool({"verify", "--data", data_}, &out), 2);
  EXPECT_THAT(Stderr(), HasSubstr("is not an initialised data directory"));
}

}  // namespace
}  // namespace ledger::node
