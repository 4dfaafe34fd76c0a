// ClusterCoordinator with its threads, in one process: three real ledgers,
// FakeEtcd, and a transport that calls the followers' Replicas directly
// (or fails, for a follower that is down). Checks what the sequencer relies
// on: Commit returns only once a majority holds the head and etcd has it,
// fails with Unavailable naming the followers when no majority answers, and
// with FailedPrecondition once the node is deposed; followers end with the
// leader's entries and serve up to the committed head.

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/ledger_testing.h"
#include "node/cluster.h"
#include "node/fake_etcd_testing.h"

namespace ledger::node {
namespace {

using ledger::format_testing::EmitterKey;
using ledger::format_testing::GenesisEvent;
using ledger::format_testing::kNewYear2026Ns;
using ledger::format_testing::NodeKey;
using ledger::testing::Annotation;
using ledger::testing::EmitterRegistration;
using ledger::testing::kOrigin;
using ledger::testing::SignedBatch;
using ::testing::HasSubstr;

// Calls the peers' Replicas in this process; a peer marked down fails.
class LocalTransport : public ReplicationTransport {
 public:
  void Add(const std::string& name, Replica* replica) {
    replicas_[name] = replica;
    down_[name] = std::make_unique<std::atomic<bool>>(false);
  }
  void SetDown(const std::string& name, bool down) { *down_[name] = down; }

  absl::StatusOr<ReplicateResponse> Replicate(const std::string& peer,
                                              const ReplicateRequest& request,
                                              absl::Duration) override {
    if (*down_.at(peer)) return absl::UnavailableError(peer + " is down");
    return replicas_.at(peer)->HandleReplicate(request);
  }
  absl::StatusOr<FetchResponse> Fetch(const std::string& peer,
                                      const FetchRequest& request,
                                      absl::Duration) override {
    if (*down_.at(peer)) return absl::UnavailableError(peer + " is down");
    return replicas_.at(peer)->HandleFetch(request);
  }

 private:
  std::map<std::string, Replica*> replicas_;
  std::map<std::string, std::unique_ptr<std::atomic<bool>>> down_;
};

class ClusterCoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cluster_coordinator_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    for (const char* name : {"n1", "n2", "n3"}) {
      LedgerOptions options;
      options.origin = kOrigin;
      options.checkpoint_verifiers = {log_signer_.verifier()};
      options.node_key = NodeKey();
      absl::StatusOr<std::unique_ptr<Ledger>> l =
          Ledger::Open(dir_ + "/" + name, options);
      ASSERT_TRUE(l.ok()) << l.status();
      ledgers_.push_back(*std::move(l));
      replicas_.push_back(
          std::make_unique<Replica>(ledgers_.back().get(), name));
      transport_.Add(name, replicas_.back().get());
    }
    EtcdCoordinatorOptions options;
    options.origin = kOrigin;
    options.node_name = "n1";
    options.commit_timeout = absl::Seconds(5);
    absl::StatusOr<std::unique_ptr<EtcdCoordinator>> etcd =
        EtcdCoordinator::Start(&etcd_kv_, options);
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = *std::move(etcd);
    ASSERT_TRUE(etcd_->Campaign().value_or(false));
    replicas_[0]->SetLeading(etcd_->epoch());
    ClusterCoordinatorOptions cluster_options;
    cluster_options.node_name = "n1";
    cluster_options.peers = {"n2", "n3"};
    cluster_options.commit_timeout = absl::Seconds(2);
    cluster_options.heartbeat = absl::Milliseconds(20);
    cluster_ = std::make_unique<ClusterCoordinator>(
        ledgers_[0].get(), replicas_[0].get(), etcd_.get(), &transport_,
        cluster_options);
    cluster_->Lead(etcd_->epoch());
    Append(SignedBatch({GenesisEvent()}, NodeKey()));
    Append(SignedBatch({EmitterRegistration()}, NodeKey()));
  }

  void TearDown() override {
    cluster_.reset();
    etcd_.reset();
    replicas_.clear();
    ledgers_.clear();
    std::filesystem::remove_all(dir_);
  }

  void Append(VerifiedBatch batch) {
    const VerifiedBatch* batches[] = {&batch};
    clock_ns_ += 1000;
    GroupResult g = ledgers_[0]->Append(batches, clock_ns_);
    ASSERT_TRUE(g.status.ok()) << g.status;
  }

  void AppendEvents(int count) {
    std::vector<Event> events;
    for (int i = 0; i < count; ++i) {
      events.push_back(Annotation(++event_number_));
    }
    Append(SignedBatch(std::move(events), EmitterKey()));
  }

  std::string dir_;
  crypto::NoteSigner log_signer_{kOrigin, crypto::NoteSigType::kEd25519,
                                 NodeKey()};
  std::vector<std::unique_ptr<Ledger>> ledgers_;
  std::vector<std::unique_ptr<Replica>> replicas_;
  LocalTransport transport_;
  FakeEtcd etcd_kv_;
  std::unique_ptr<EtcdCoordinator> etcd_;
  std::unique_ptr<ClusterCoordinator> cluster_;
  int64_t clock_ns_ = kNewYear2026Ns;
  int event_number_ = 100;
};

TEST_F(ClusterCoordinatorTest, CommitsOnceAMajorityHoldsTheHead) {
  for (int round = 0; round < 20; ++round) {
    AppendEvents(5);
    const ledger::Head head = ledgers_[0]->head();
    ASSERT_TRUE(cluster_->Commit(head).ok()) << "round " << round;
    EXPECT_EQ(etcd_->Committed(), head);
    EXPECT_EQ(cluster_->Committed(), head);
    // A majority: at least one follower holds it.
    const std::map<std::string, uint64_t> matched = cluster_->matched();
    EXPECT_TRUE(matched.at("n2") >= head.size || matched.at("n3") >= head.size);
  }
  // Both followers end with the leader's entries and, after the next
  // heartbeat, serve up to the committed head.
  const ledger::Head head = ledgers_[0]->head();
  for (int i = 1; i < 3; ++i) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (replicas_[i]->verified_committed().size < head.size &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    EXPECT_EQ(replicas_[i]->verified_committed(), head) << "n" << i + 1;
    EXPECT_EQ(ledgers_[i]->head(), head);
  }
}

TEST_F(ClusterCoordinatorTest, OneFollowerDownIsEnough) {
  transport_.SetDown("n3", true);
  AppendEvents(3);
  EXPECT_TRUE(cluster_->Commit(ledgers_[0]->head()).ok());
  transport_.SetDown("n3", false);
  AppendEvents(3);
  const ledger::Head head = ledgers_[0]->head();
  EXPECT_TRUE(cluster_->Commit(head).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (ledgers_[2]->head().size < head.size && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(ledgers_[2]->head(), head) << "n3 caught up";
}

TEST_F(ClusterCoordinatorTest, NoMajorityIsUnavailableAndCommitsNothing) {
  transport_.SetDown("n2", true);
  transport_.SetDown("n3", true);
  AppendEvents(2);
  const ledger::Head before = etcd_->Committed();
  absl::Status s = cluster_->Commit(ledgers_[0]->head());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(s.message(), HasSubstr("n2 holds"));
  EXPECT_THAT(s.message(), HasSubstr("n3 is down"));
  EXPECT_EQ(etcd_->Committed(), before);
}

TEST_F(ClusterCoordinatorTest, ADeposedLeaderCommitsNothing) {
  AppendEvents(2);
  ASSERT_TRUE(cluster_->Commit(ledgers_[0]->head()).ok());
  const ledger::Head before = etcd_->Committed();
  etcd_kv_.ExpireLease(etcd_->lease_id());
  AppendEvents(2);
  absl::Status s = cluster_->Commit(ledgers_[0]->head());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_EQ(etcd_->Committed(), before);
}

}  // namespace
}  // namespace ledger::node
