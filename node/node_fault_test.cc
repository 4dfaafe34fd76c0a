// The node over a file system that fails (ledger/fault_fs.h): a failed
// write-ahead-log sync fails it closed and says why; a full disk stops
// writes until there is room again, then they resume by themselves.
// Nothing that failed is acknowledged.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/strings.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "ledger/fault_fs.h"
#include "node/node.h"
#include "node/node_testing.h"

namespace ledger::node {
namespace {

using testing::EmitterKeyPair;
using ::testing::HasSubstr;
using testing::MakeEventProto;
using testing::SignedAppend;

constexpr char kTenant[] = "acme-ai";

class NodeFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = std::make_shared<ledger::testing::FaultFs>();
    env_ = ledger::testing::FaultFs::NewEnv(fs_);
    NodeConfig config;
    config.data_dir = dir_.path() + "/data";
    config.listen = "127.0.0.1:0";
    config.origin = "ledger.test/fault";
    config.log_level = "off";
    config.insecure_plaintext = true;
    NodeTestHooks hooks;
    hooks.env = env_.get();
    absl::StatusOr<std::unique_ptr<Node>> node =
        Node::Start(config, SystemClock::Default(), nullptr, hooks);
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = *std::move(node);
    channel_ = grpc::CreateChannel(StrCat("127.0.0.1:", node_->port()),
                                   grpc::InsecureChannelCredentials());
    ingest_ = v1::Ingest::NewStub(channel_);
    admin_ = v1::Admin::NewStub(channel_);
    query_ = v1::Query::NewStub(channel_);
    v1::RegisterEmitterKeyRequest request;
    request.set_verifier_key(emitter_.vkey());
    request.set_tenant(kTenant);
    request.set_producer("label-studio");
    v1::EntryRef ref;
    grpc::Status s = admin_->RegisterEmitterKey(Context().get(), request, &ref);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  void TearDown() override {
    fs_->ClearSyncFailures();
    fs_->ClearSpaceBudget();
    node_.reset();
  }

  static std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(60));
    return context;
  }
  grpc::Status Append(int n, v1::AppendResponse* response) {
    return ingest_->Append(
        Context().get(), SignedAppend(emitter_.key, MakeEventProto(kTenant, n)),
        response);
  }
  v1::NodeInfo Info() {
    v1::NodeInfo info;
    grpc::Status s = admin_->GetNodeInfo(Context().get(), {}, &info);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return info;
  }

  testing::TempDir dir_;
  std::shared_ptr<ledger::testing::FaultFs> fs_;
  std::unique_ptr<rocksdb::Env> env_;
  std::unique_ptr<Node> node_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Ingest::Stub> ingest_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::unique_ptr<v1::Query::Stub> query_;
  EmitterKeyPair emitter_{"labelstudio", 0x51};
};

TEST_F(NodeFaultTest, FailedWalSyncFailsTheNodeClosedAndSaysWhy) {
  v1::AppendResponse ok;
  ASSERT_TRUE(Append(1, &ok).ok());
  const uint64_t size = node_->ledger().head().size;

  fs_->FailSyncs("*.log");
  v1::AppendResponse failed;
  grpc::Status s = Append(2, &failed);
  EXPECT_EQ(s.error_code(), grpc::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("syncing the write-ahead log"));
  EXPECT_EQ(node_->ledger().head().size, size) << "nothing was published";
  EXPECT_EQ(node_->sequencer().state(), SequencerState::kFailed);

  // Fails closed: later appends are refused with the cause, even once the
  // disk works again (a failed fsync leaves the page cache unknown).
  fs_->ClearSyncFailures();
  s = Append(3, &failed);
  EXPECT_EQ(s.error_code(), grpc::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("stopped accepting writes"));
  const v1::NodeInfo info = Info();
  EXPECT_EQ(info.write_state(), "failed");
  EXPECT_THAT(info.write_error(), HasSubstr("syncing the write-ahead log"));
  // Reads go on: the acknowledged entry is served.
  v1::GetEntryRequest get;
  get.set_index(ok.entry().index());
  v1::Entry entry;
  grpc::Status g = query_->GetEntry(Context().get(), get, &entry);
  EXPECT_TRUE(g.ok()) << g.error_message();
}

TEST_F(NodeFaultTest, FullDiskStopsWritesUntilThereIsRoom) {
  v1::AppendResponse ok;
  ASSERT_TRUE(Append(1, &ok).ok());
  const uint64_t size = node_->ledger().head().size;

  fs_->SetSpaceBudget(0);
  v1::AppendResponse response;
  grpc::Status s = Append(2, &response);
  EXPECT_EQ(s.error_code(), grpc::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("disk is full"));
  EXPECT_THAT(s.error_message(), HasSubstr("MiB are free"));
  ASSERT_TRUE(node_->sequencer().WaitForState(SequencerState::kStorageFull,
                                              absl::Seconds(30)));
  EXPECT_EQ(node_->ledger().head().size, size);
  v1::NodeInfo info = Info();
  EXPECT_EQ(info.write_state(), "storage full");
  EXPECT_THAT(info.write_error(), HasSubstr("MiB"));
  // Still full: refused at once, nothing written.
  s = Append(3, &response);
  EXPECT_EQ(s.error_code(), grpc::UNAVAILABLE);
  EXPECT_EQ(node_->ledger().head().size, size);

  // Room again: the sequencer resumes by itself (it retries every second).
  fs_->ClearSpaceBudget();
  ASSERT_TRUE(node_->sequencer().WaitForState(SequencerState::kRunning,
                                              absl::Seconds(60)));
  s = Append(2, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(response.entry().duplicate()) << "the refused append was new";
  EXPECT_EQ(response.entry().index(), size);
  EXPECT_EQ(Info().write_state(), "running");
}

}  // namespace
}  // namespace ledger::node
