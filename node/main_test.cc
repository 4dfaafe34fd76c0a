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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "base/strings.h"
#include "crypto/key_file.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "ledger/v1/admin.grpc.pb.h"
#include "node/node_testing.h"

extern char** environ;

namespace ledger::node {
namespace {

using ::testing::HasSubstr;
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
  std::vector<std::string> Args() {
    return {"--data",      data_,      "--listen",
            "127.0.0.1:0", "--origin", "ledger.test/main"};
  }

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
  NodeProcess node({"--listen", "127.0.0.1:0"}, stderr_);
  EXPECT_EQ(node.Wait(), 2);
  EXPECT_THAT(Stderr(), HasSubstr("data_dir: required"));
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

}  // namespace
}  // namespace ledger::node
