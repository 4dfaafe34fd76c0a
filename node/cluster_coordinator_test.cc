// ClusterCoordinator with its threads, in one process: three real ledgers,
// FakeEtcd, and a transport that calls the followers' Replicas directly
// (or fails, for a follower that is down). Checks what the sequencer relies
// on: Commit returns only once a majority holds the head and etcd has it,
// fails with Unavailable naming the followers when no majority answers, and
// with FailedPrecondition once the node is deposed; followers end with the
// leader's entries and serve up to the committed head. Checkpoints: a
// majority of the nodes cosign (each follower only what it holds as
// committed, with its own root), followers store the leader's checkpoints,
// and the leader asks for unknown follower keys to be registered.

#include <atomic>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "base/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/checkpoint.h"
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
  absl::StatusOr<CosignResponse> Cosign(const std::string& peer,
                                        const CosignRequest& request,
                                        absl::Duration) override {
    if (*down_.at(peer)) return absl::UnavailableError(peer + " is down");
    return replicas_.at(peer)->HandleCosign(request);
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
    for (int i = 0; i < 3; ++i) {
      const std::string name = StrCat("n", i + 1);
      crypto::Ed25519Seed seed{};
      seed.fill(static_cast<uint8_t>(0x70 + i));
      cosigners_.push_back(std::make_unique<crypto::NoteSigner>(
          StrCat(kOrigin, "/", name), crypto::NoteSigType::kCosignatureV1,
          crypto::Ed25519PrivateKey::FromSeed(seed)));
      LedgerOptions options;
      options.origin = kOrigin;
      options.checkpoint_verifiers = {log_signer_.verifier()};
      options.node_key = NodeKey();
      absl::StatusOr<std::unique_ptr<Ledger>> l =
          Ledger::Open(dir_ + "/" + name, options);
      ASSERT_TRUE(l.ok()) << l.status();
      ledgers_.push_back(*std::move(l));
      ReplicaOptions replica_options;
      replica_options.cosigner = cosigners_.back().get();
      replica_options.unix_seconds = [] { return uint64_t{1767225600}; };
      replicas_.push_back(std::make_unique<Replica>(ledgers_.back().get(), name,
                                                    replica_options));
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
    cluster_options.register_cosigner = [this](const std::string& peer,
                                               const crypto::NoteVerifier&) {
      absl::MutexLock lock(&asked_mu_);
      asked_.insert(peer);
    };
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

  // The leader's signed checkpoint of its committed head, as its sequencer
  // makes it.
  std::pair<std::string, Checkpoint> LeaderCheckpoint() {
    const ledger::Head head = cluster_->Committed();
    Checkpoint checkpoint{kOrigin, head.size, head.root, {}};
    const crypto::NoteSigner* signers[] = {&log_signer_, cosigners_[0].get()};
    return {
        crypto::SignNote(FormatCheckpointBody(checkpoint), signers, 1767225600),
        checkpoint};
  }

  std::vector<crypto::NoteVerifier> AllVerifiers() const {
    std::vector<crypto::NoteVerifier> out = {log_signer_.verifier()};
    for (const auto& c : cosigners_) out.push_back(c->verifier());
    return out;
  }

  std::string dir_;
  std::vector<std::unique_ptr<crypto::NoteSigner>> cosigners_;
  absl::Mutex asked_mu_;
  std::set<std::string> asked_ ABSL_GUARDED_BY(asked_mu_);
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

// A new leader's first commit stamps its epoch on the committed head it
// completed its log to; a majority held that head when it was committed,
// so followers far behind (here: down) do not hold it up.
TEST_F(ClusterCoordinatorTest,
       TheCommittedHeadIsCommittedAgainWithoutAMajority) {
  AppendEvents(2);
  ASSERT_TRUE(cluster_->Commit(ledgers_[0]->head()).ok());
  transport_.SetDown("n2", true);
  transport_.SetDown("n3", true);
  EXPECT_TRUE(cluster_->Commit(ledgers_[0]->head()).ok());
  AppendEvents(1);  // anything new still needs a majority
  EXPECT_EQ(cluster_->Commit(ledgers_[0]->head()).code(),
            absl::StatusCode::kUnavailable);
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

TEST_F(ClusterCoordinatorTest, CheckpointsCarryEveryNodesCosignature) {
  AppendEvents(4);
  ASSERT_TRUE(cluster_->Commit(ledgers_[0]->head()).ok());
  auto [note, checkpoint] = LeaderCheckpoint();
  absl::StatusOr<std::string> cosigned = cluster_->Cosign(note, checkpoint);
  ASSERT_TRUE(cosigned.ok()) << cosigned.status();
  absl::StatusOr<crypto::Note> parsed = crypto::ParseNote(*cosigned);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  absl::StatusOr<std::vector<crypto::VerifiedSignature>> verified =
      crypto::VerifyNote(*parsed, AllVerifiers());
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->size(), 4u) << *cosigned;  // log key and three nodes

  // Stored by the leader, it reaches the followers, which store it too.
  ASSERT_TRUE(ledgers_[0]->StoreCheckpoint(*cosigned).ok());
  for (int i = 1; i < 3; ++i) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!ledgers_[i]->LatestCheckpoint().has_value() &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    std::optional<StoredCheckpoint> stored = ledgers_[i]->LatestCheckpoint();
    ASSERT_TRUE(stored.has_value()) << "n" << i + 1;
    EXPECT_EQ(stored->note, *cosigned);
  }
  // Both followers' keys are unknown to the log: the leader asked for them.
  absl::MutexLock lock(&asked_mu_);
  EXPECT_EQ(asked_, (std::set<std::string>{"n2", "n3"}));
}

TEST_F(ClusterCoordinatorTest, CheckpointsNeedAMajorityOfSignatures) {
  AppendEvents(2);
  ASSERT_TRUE(cluster_->Commit(ledgers_[0]->head()).ok());
  transport_.SetDown("n3", true);
  auto [note, checkpoint] = LeaderCheckpoint();
  absl::StatusOr<std::string> cosigned = cluster_->Cosign(note, checkpoint);
  ASSERT_TRUE(cosigned.ok()) << cosigned.status();
  EXPECT_EQ(crypto::ParseNote(*cosigned)->signatures.size(), 3u);
  transport_.SetDown("n2", true);
  absl::StatusOr<std::string> alone = cluster_->Cosign(note, checkpoint);
  EXPECT_EQ(alone.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(alone.status().message(), HasSubstr("1 of 3 nodes"));
  EXPECT_THAT(alone.status().message(), HasSubstr("n3 is down"));
}

TEST_F(ClusterCoordinatorTest, AFollowerCosignsOnlyWhatItHoldsAsCommitted) {
  AppendEvents(2);
  ASSERT_TRUE(cluster_->Commit(ledgers_[0]->head()).ok());
  const ledger::Head committed = cluster_->Committed();
  // Written by the leader and committed later, after `committed`.
  AppendEvents(2);
  const ledger::Head written = ledgers_[0]->head();
  ASSERT_TRUE(cluster_->Commit(written).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (ledgers_[1]->head().size < written.size && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(ledgers_[1]->head(), written);

  CosignRequest request;
  request.epoch = etcd_->epoch();
  request.leader = "n1";
  request.committed = committed;
  // A follower told only of `committed` (a new Replica on n2's ledger)
  // refuses a checkpoint beyond it ...
  ReplicaOptions fresh_options;
  fresh_options.cosigner = cosigners_[1].get();
  Replica fresh(ledgers_[1].get(), "n2-again", fresh_options);
  request.checkpoint =
      FormatCheckpointBody(Checkpoint{kOrigin, written.size, written.root, {}});
  absl::StatusOr<CosignResponse> beyond = fresh.HandleCosign(request);
  EXPECT_EQ(beyond.status().code(), absl::StatusCode::kFailedPrecondition)
      << beyond.status();
  // ... a root other than its own at a committed size ...
  ledger::Hash wrong = committed.root;
  wrong[0] ^= 1;
  request.checkpoint =
      FormatCheckpointBody(Checkpoint{kOrigin, committed.size, wrong, {}});
  EXPECT_EQ(fresh.HandleCosign(request).status().code(),
            absl::StatusCode::kDataLoss);
  // ... another origin ...
  request.checkpoint = FormatCheckpointBody(
      Checkpoint{"other.example/log", committed.size, committed.root, {}});
  EXPECT_EQ(fresh.HandleCosign(request).status().code(),
            absl::StatusCode::kInvalidArgument);
  // ... or a stale leader.
  request.checkpoint = FormatCheckpointBody(
      Checkpoint{kOrigin, committed.size, committed.root, {}});
  CosignRequest stale = request;
  stale.epoch = etcd_->epoch() - 1;
  EXPECT_EQ(replicas_[1]->HandleCosign(stale).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // What it holds as committed it signs.
  absl::StatusOr<CosignResponse> ok = fresh.HandleCosign(request);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->cosigner_key,
            crypto::FormatVerifierKey(cosigners_[1]->verifier()));
}

}  // namespace
}  // namespace ledger::node
