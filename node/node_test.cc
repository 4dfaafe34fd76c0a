// A whole node in-process: the start refusals that keep it from serving a
// ledger that lost or changed what it signed, the health of its write path,
// and the background scrub.

#include "node/node.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/strings.h"
#include "base/sync.h"
#include "crypto/key_file.h"
#include "node/data_dir.h"
#include "node/node_testing.h"

namespace ledger::node {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::MakeEventProto;
using testing::SignedAppend;

constexpr absl::Duration kWait = absl::Seconds(60);

std::string Message(const absl::Status& s) {
  return std::string(ToStd(s.message()));
}

class NodeTest : public testing::NodeFixture {
 protected:
  // Every node here has a health endpoint of its own, so every Health()
  // below asks both it and the service port, and fails on a difference.
  void Configure(NodeConfig& c) override { c.health_listen = "127.0.0.1:0"; }

  DataDirLayout Layout() const { return DataDirLayout(config_.data_dir); }

  bool Stored(int n) {
    absl::StatusOr<std::optional<EntryRef>> found = node_->ledger().FindEvent(
        kTenant, testing::MakeEvent(kTenant, n).event_id);
    EXPECT_TRUE(found.ok()) << found.status();
    return found.ok() && found->has_value();
  }
};

// ---- Start refusals ----

// The database was restored from a copy older than the last checkpoint the
// node signed (a backup, a snapshot of the disk): serving it would sign a
// checkpoint that contradicts the published one.
TEST_F(NodeTest, DatabaseRolledBackBehindTheGuardIsRefused) {
  RegisterKey(emitter_);
  ASSERT_TRUE(AppendEvents(1, 5).ok());
  const uint64_t old_size = LedgerSize();
  StopNode();  // the final checkpoint covers old_size
  const std::string aside = config_.data_dir + "/db.copy";
  fs::copy(Layout().db, aside, fs::copy_options::recursive);

  StartNode();
  ASSERT_TRUE(AppendEvents(100, 7).ok());
  const uint64_t new_size = LedgerSize();
  StopNode();  // and this one new_size
  ASSERT_GT(new_size, old_size);
  fs::remove_all(Layout().db);
  fs::rename(aside, Layout().db);

  absl::Status s = TryStartNode();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(Message(s), HasSubstr(StrCat("the ledger holds ", old_size,
                                           " entries but this log already "
                                           "signed a checkpoint of size ",
                                           new_size)));
  EXPECT_THAT(Message(s), HasSubstr(StrCat("entries [", old_size, ", ",
                                           new_size, ") are lost")));
}

TEST_F(NodeTest, DeletedDatabaseBesideItsKeysIsRefused) {
  const uint64_t size = LedgerSize();  // checkpointed at start
  StopNode();
  fs::remove_all(Layout().db);
  for (int attempt = 0; attempt < 2; ++attempt) {  // and stays refused
    absl::Status s = TryStartNode();
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_THAT(Message(s),
                HasSubstr(StrCat("the ledger holds 0 entries but this log "
                                 "already signed a checkpoint of size ",
                                 size)));
  }
}

TEST_F(NodeTest, MissingGuardBesideACurrentLedgerIsRefused) {
  StopNode();
  ASSERT_TRUE(fs::remove(Layout().guard));
  absl::Status s = TryStartNode();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(Message(s), HasSubstr(Layout().guard));
  EXPECT_THAT(Message(s), HasSubstr("is missing"));
  EXPECT_THAT(Message(s), HasSubstr("Restore it from a backup"));
  EXPECT_FALSE(fs::exists(Layout().guard));  // not silently recreated
}

TEST_F(NodeTest, TamperedGuardIsRefused) {
  StopNode();
  std::string note = *crypto::ReadFileToString(Layout().guard);
  // The size line (the body's second) changed: the signature breaks.
  const size_t line = note.find('\n') + 1;
  note[line] = note[line] == '9' ? '8' : '9';
  std::ofstream(Layout().guard, std::ios::trunc) << note;
  absl::Status s = TryStartNode();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(Message(s), HasSubstr("last-checkpoint.note (the rollback "
                                    "guard) does not hold a checkpoint"));
}

// A crash while the first start created keys/ leaves keys.new/ half
// written (and the origin file): the next start creates keys/ afresh.
TEST_F(NodeTest, KeysLeftHalfWrittenByACrashDoNotBlockTheFirstStart) {
  StopNode();
  config().data_dir = dir_.path() + "/fresh";
  const DataDirLayout layout(config().data_dir);
  fs::create_directories(layout.keys_staging);
  std::ofstream(layout.origin_file) << config().origin << "\n";
  std::ofstream(layout.keys_staging + "/node.key") << "half a key";
  std::ofstream(layout.keys_staging + "/junk") << "junk";

  StartNode();
  EXPECT_EQ(LedgerSize(), 2u);  // genesis and the cosigner key
  EXPECT_FALSE(fs::exists(layout.keys_staging));
  EXPECT_TRUE(fs::exists(layout.guard));
  EXPECT_EQ(Health(""), "SERVING");
  StopNode();
  StartNode();  // and it opens as any other
  EXPECT_EQ(LedgerSize(), 2u);
}

// ---- Health ----

TEST_F(NodeTest, HealthyNodeServesBothHealthNames) {
  EXPECT_EQ(Health(""), "SERVING");
  EXPECT_EQ(Health("ledger.v1.Ingest"), "SERVING");
  v1::NodeInfo info = GetNodeInfo();
  EXPECT_EQ(info.write_state(), "running");
  EXPECT_EQ(info.write_error(), "");
}

TEST_F(NodeTest, CommitFailureTakesOnlyTheWritePathOutOfService) {
  RegisterKey(emitter_);
  const uint64_t before = LedgerSize();
  node_->sequencer().FailCommitsForTesting(
      absl::UnavailableError("the replication quorum is lost"));
  v1::AppendResponse response;
  grpc::Status s = ingest_->Append(
      Context().get(), SignedAppend(emitter_.key, MakeEventProto(kTenant, 1)),
      &response);
  EXPECT_EQ(s.error_code(), grpc::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("the replication quorum is lost"));

  EXPECT_EQ(Health("ledger.v1.Ingest"), "NOT_SERVING");
  EXPECT_EQ(Health(""), "SERVING");  // reads go on
  v1::NodeInfo info = GetNodeInfo();
  EXPECT_EQ(info.write_state(), "failed");
  EXPECT_THAT(info.write_error(), HasSubstr("the replication quorum is lost"));
  EXPECT_EQ(info.size(), before);  // never committed

  s = AppendEvents(2, 1);
  EXPECT_EQ(s.error_code(), grpc::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("stopped accepting writes"));
}

TEST_F(NodeTest, DataLossTakesTheWholeNodeOutOfService) {
  RegisterKey(emitter_);
  node_->sequencer().ReportDataLoss(
      absl::DataLossError("entries [1, 2) are corrupt"));
  EXPECT_EQ(Health("ledger.v1.Ingest"), "NOT_SERVING");
  EXPECT_EQ(Health(""), "NOT_SERVING");
  v1::NodeInfo info = GetNodeInfo();
  EXPECT_EQ(info.write_state(), "failed");
  EXPECT_THAT(info.write_error(), HasSubstr("entries [1, 2) are corrupt"));
  const uint64_t before = LedgerSize();
  grpc::Status s = AppendEvents(1, 1);
  EXPECT_EQ(s.error_code(), grpc::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("found corrupt data"));
  EXPECT_EQ(LedgerSize(), before);
}

// ---- The health endpoint of its own (health_listen) ----

using HealthRequest = grpc::health::v1::HealthCheckRequest;
using HealthResponse = grpc::health::v1::HealthCheckResponse;

HealthRequest HealthOf(const std::string& service) {
  HealthRequest request;
  request.set_service(service);
  return request;
}

TEST_F(NodeTest, HealthEndpointServesHealthAloneOnAPortOfItsOwn) {
  ASSERT_NE(node_->health_port(), 0);
  EXPECT_NE(node_->health_port(), node_->port());
  EXPECT_EQ(HealthAt(true, ""), "SERVING");
  EXPECT_EQ(HealthAt(true, "ledger.v1.Ingest"), "SERVING");
  // A name neither knows: NOT_FOUND from both, as gRPC's own service says.
  EXPECT_THAT(HealthAt(false, "ledger.v1.Nothing"), HasSubstr("error 5:"));
  EXPECT_THAT(HealthAt(true, "ledger.v1.Nothing"), HasSubstr("error 5:"));
  // No other service there.
  auto admin = v1::Admin::NewStub(health_channel_);
  v1::NodeInfo info;
  grpc::Status s = admin->GetNodeInfo(Context().get(), {}, &info);
  EXPECT_EQ(s.error_code(), grpc::UNIMPLEMENTED) << s.error_message();
}

// Reads `watch` until it says `status` (gRPC's health service may repeat
// an unchanged status; at most 20 messages); false if the stream ends first.
bool WatchUntil(grpc::ClientReader<HealthResponse>& watch,
                HealthResponse::ServingStatus status) {
  HealthResponse r;
  for (int i = 0; i < 20 && watch.Read(&r); ++i) {
    if (r.status() == status) return true;
  }
  return false;
}

// Watch on the health endpoint: the write path going down, then the node
// shutting down (NOT_SERVING before the stream ends).
TEST_F(NodeTest, HealthEndpointWatchFollowsTheWritePathAndShutdown) {
  RegisterKey(emitter_);
  std::unique_ptr<grpc::ClientContext> ingest_context = Context();
  std::unique_ptr<grpc::ClientContext> node_context = Context();
  auto ingest_watch = health_endpoint_->Watch(ingest_context.get(),
                                              HealthOf("ledger.v1.Ingest"));
  auto node_watch = health_endpoint_->Watch(node_context.get(), HealthOf(""));
  ASSERT_TRUE(WatchUntil(*ingest_watch, HealthResponse::SERVING));
  ASSERT_TRUE(WatchUntil(*node_watch, HealthResponse::SERVING));

  node_->sequencer().FailCommitsForTesting(
      absl::UnavailableError("the replication quorum is lost"));
  EXPECT_EQ(AppendEvents(1, 1).error_code(), grpc::UNAVAILABLE);
  EXPECT_TRUE(WatchUntil(*ingest_watch, HealthResponse::NOT_SERVING));
  EXPECT_EQ(Health("ledger.v1.Ingest"), "NOT_SERVING");  // both ports
  EXPECT_EQ(Health(""), "SERVING");

  std::thread stopper([this] { node_->Shutdown(); });
  EXPECT_TRUE(WatchUntil(*node_watch, HealthResponse::NOT_SERVING));
  EXPECT_FALSE(WatchUntil(*node_watch, HealthResponse::SERVING));  // ended
  EXPECT_FALSE(node_watch->Finish().ok());
  stopper.join();
}

TEST_F(NodeTest, HealthEndpointThatCannotBindRefusesStart) {
  StopNode();
  // A port taken by a listening socket (gRPC does not share it:
  // SO_REUSEPORT is off).
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string taken = StrCat("127.0.0.1:", ntohs(addr.sin_port));

  config().health_listen = taken;
  absl::Status s = TryStartNode();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(Message(s), HasSubstr(StrCat("cannot listen on ", taken,
                                           " for the health endpoint "
                                           "(health_listen)")));
  config().health_listen = "localhost";
  s = TryStartNode();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(Message(s), HasSubstr("health_listen: \"localhost\" is not "
                                    "host:port"));
  close(fd);
  config().health_listen = "127.0.0.1:0";
  StartNode();  // nothing of the failed starts is left in the way
  EXPECT_EQ(Health(""), "SERVING");
}

// ---- The background scrub ----

class NodeScrubTest : public NodeTest {
 protected:
  // Records what the node reports.
  void ExpectDataLossReports() {
    on_data_loss_ = [this](const absl::Status& cause) {
      MutexLock lock(&mu_);
      reports_.push_back(cause);
    };
  }
  // The first report, waiting up to kWait for it.
  absl::Status AwaitReport() {
    MutexLock lock(&mu_);
    auto reported = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !reports_.empty();
    };
    if (!mu_.AwaitWithTimeout(reported, kWait)) return absl::OkStatus();
    return reports_.front();
  }
  size_t reports() {
    MutexLock lock(&mu_);
    return reports_.size();
  }

  Mutex mu_;
  std::vector<absl::Status> reports_ ABSL_GUARDED_BY(mu_);
};

// Start checks only what the last checkpoint does not cover
// (full_check_max_entries = 0): damage below it is the scrub's to find.
TEST_F(NodeScrubTest, DamageBelowTheLastCheckpointIsFoundAfterStart) {
  RegisterKey(emitter_);
  ASSERT_TRUE(AppendEvents(1, 20).ok());
  StopNode();  // the final checkpoint covers all of it
  ASSERT_NO_FATAL_FAILURE(testing::FlipEntryBit(Layout().db, 7));

  config().full_check_max_entries = 0;
  config().scrub_rate = 1'000'000'000;
  ExpectDataLossReports();
  StartNode();  // the damage is older than the checkpoint: start succeeds
  absl::Status cause = AwaitReport();
  EXPECT_EQ(cause.code(), absl::StatusCode::kDataLoss) << cause;
  EXPECT_THAT(Message(cause), HasSubstr("entries [7, 8) are corrupt"));

  EXPECT_EQ(Health(""), "NOT_SERVING");
  EXPECT_EQ(Health("ledger.v1.Ingest"), "NOT_SERVING");
  v1::NodeInfo info = GetNodeInfo();
  EXPECT_EQ(info.write_state(), "failed");
  EXPECT_THAT(info.write_error(), HasSubstr("entries [7, 8) are corrupt"));
  const uint64_t before = LedgerSize();
  grpc::Status s = AppendEvents(500, 1);
  EXPECT_EQ(s.error_code(), grpc::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("entries [7, 8) are corrupt"));
  EXPECT_EQ(LedgerSize(), before);
  EXPECT_FALSE(Stored(500));
  EXPECT_EQ(reports(), 1u);  // once
}

TEST_F(NodeScrubTest, IntactLedgerScrubsClean) {
  RegisterKey(emitter_);
  ASSERT_TRUE(AppendEvents(1, 20).ok());
  StopNode();
  config().full_check_max_entries = 0;
  config().scrub_rate = 1'000'000'000;
  ExpectDataLossReports();
  StartNode();
  ASSERT_TRUE(node_->scrubber().WaitForCompleted(1, kWait));
  EXPECT_EQ(reports(), 0u);
  EXPECT_EQ(Health(""), "SERVING");
  EXPECT_EQ(Health("ledger.v1.Ingest"), "SERVING");
}

}  // namespace
}  // namespace ledger::node
