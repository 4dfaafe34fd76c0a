// The etcd client and EtcdCoordinator against real etcd processes
// (Debian's etcd-server) on loopback: KV and transactions, lease keep-alive
// and loss, watches across broken streams and compaction, failover in a
// 3-member cluster, election, fencing and a commit whose reply was lost.
// Every wait is on a condition with a deadline.

#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "base/strings.h"
#include "base/sync.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node/etcd_client.h"
#include "node/etcd_coordinator.h"
#include "tests/etcd_cluster.h"
#include "tools/common/dev_certs.h"

namespace ledger::testing {
namespace {

using node::EtcdClient;
using node::EtcdClientOptions;
using node::EtcdCompare;
using node::EtcdCoordinator;
using node::EtcdCoordinatorOptions;
using node::EtcdEvent;
using node::EtcdKv;
using node::EtcdOp;
using node::EtcdTxn;
using ::testing::HasSubstr;

constexpr char kOrigin[] = "ledger.test/etcd";

// A fresh directory, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/etcd_test.XXXXXX";
    if (const char* t = getenv("TEST_TMPDIR")) {
      tmpl = StrCat(t, "/etcd_test.XXXXXX");
    }
    path_ = mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~TempDir() {
    if (!path_.empty())
      (void)Run({"rm", "-rf", path_}, std::chrono::seconds(30));
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<EtcdClient> NewClient(const std::vector<std::string>& endpoints,
                                      bool shuffle = true) {
  EtcdClientOptions options;
  options.endpoints = endpoints;
  options.shuffle = shuffle;
  absl::StatusOr<std::unique_ptr<EtcdClient>> c = EtcdClient::Create(options);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? std::move(*c) : nullptr;
}

// What a watch delivered, for tests to wait on.
class WatchLog {
 public:
  node::EtcdWatchCallbacks Callbacks() {
    return {[this](const std::vector<EtcdEvent>& events) {
              MutexLock lock(&mu_);
              for (const EtcdEvent& e : events) values_.push_back(e.kv.value);
            },
            [this](int64_t revision) {
              MutexLock lock(&mu_);
              compactions_.push_back(revision);
            }};
  }
  // Waits until `n` values arrived; returns all of them.
  std::vector<std::string> WaitFor(size_t n, absl::Duration timeout) {
    MutexLock lock(&mu_);
    mu_.AwaitWithTimeout([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                             mu_) { return values_.size() >= n; },
                         timeout);
    return values_;
  }
  std::vector<int64_t> WaitForCompaction(absl::Duration timeout) {
    MutexLock lock(&mu_);
    mu_.AwaitWithTimeout([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                             mu_) { return !compactions_.empty(); },
                         timeout);
    return compactions_;
  }

 private:
  Mutex mu_;
  std::vector<std::string> values_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> compactions_ ABSL_GUARDED_BY(mu_);
};

// The status a keep-alive reported, once.
class LossLog {
 public:
  std::function<void(const absl::Status&)> Callback() {
    return [this](const absl::Status& s) {
      MutexLock lock(&mu_);
      lost_ = s;
    };
  }
  std::optional<absl::Status> WaitFor(absl::Duration timeout) {
    MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(
        [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return lost_.has_value(); },
        timeout);
    return lost_;
  }

 private:
  Mutex mu_;
  std::optional<absl::Status> lost_ ABSL_GUARDED_BY(mu_);
};

// Polls `cond` until it holds or `timeout` passes (conditions on state
// that other threads change without telling us, such as a coordinator's).
template <typename Cond>
bool Eventually(Cond cond, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!cond()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));  // a poll interval, not a wait
  }
  return true;
}

std::string Values(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) StrAppend(&out, s, " ");
  return out;
}

ledger::Head HeadOfSize(uint64_t size) {
  ledger::Head h;
  h.size = size;
  h.root.fill(static_cast<uint8_t>(size));
  h.chain_hash.fill(static_cast<uint8_t>(size + 7));
  return h;
}

// An EtcdKv in front of a real client that can lose the reply of the next
// transaction (after etcd applied it), drop the next one (never sent), and
// keep its watches and keep-alives silent (a process that does not notice
// it was deposed).
class FaultyEtcd : public EtcdKv {
 public:
  explicit FaultyEtcd(EtcdKv* real) : real_(real) {}

  void LoseNextTxnReply() { lose_reply_ = true; }
  void DropNextTxn() { drop_ = true; }
  void Silence() { silent_ = true; }

  absl::StatusOr<node::EtcdGetResult> Get(const std::string& key) override {
    return real_->Get(key);
  }
  absl::StatusOr<int64_t> Put(const std::string& key, const std::string& value,
                              int64_t lease) override {
    return real_->Put(key, value, lease);
  }
  absl::StatusOr<node::EtcdTxnResult> Txn(const EtcdTxn& txn) override {
    if (drop_.exchange(false)) {
      return absl::UnavailableError("injected: connection cut before send");
    }
    absl::StatusOr<node::EtcdTxnResult> r = real_->Txn(txn);
    if (r.ok() && lose_reply_.exchange(false)) {
      return absl::UnavailableError("injected: reply lost");
    }
    return r;
  }
  absl::StatusOr<node::EtcdLease> LeaseGrant(absl::Duration ttl) override {
    return real_->LeaseGrant(ttl);
  }
  absl::Status LeaseRevoke(int64_t lease) override {
    return real_->LeaseRevoke(lease);
  }
  std::unique_ptr<node::EtcdTask> KeepAlive(
      const node::EtcdLease& lease,
      std::function<void(const absl::Status&)> on_lost) override {
    if (silent_) return std::make_unique<node::EtcdTask>();
    return real_->KeepAlive(lease, std::move(on_lost));
  }
  std::unique_ptr<node::EtcdTask> Watch(
      const std::string& key, int64_t start_revision,
      node::EtcdWatchCallbacks callbacks) override {
    if (silent_) return std::make_unique<node::EtcdTask>();
    return real_->Watch(key, start_revision, std::move(callbacks));
  }

 private:
  EtcdKv* const real_;
  std::atomic<bool> lose_reply_{false};
  std::atomic<bool> drop_{false};
  std::atomic<bool> silent_{false};
};

std::unique_ptr<EtcdCoordinator> NewCoordinator(
    EtcdKv* etcd, const std::string& name,
    absl::Duration lease_ttl = absl::Seconds(2)) {
  EtcdCoordinatorOptions options;
  options.origin = kOrigin;
  options.node_name = name;
  options.lease_ttl = lease_ttl;
  absl::StatusOr<std::unique_ptr<EtcdCoordinator>> c =
      EtcdCoordinator::Start(etcd, options);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? std::move(*c) : nullptr;
}

class EtcdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    absl::StatusOr<std::unique_ptr<EtcdCluster>> c =
        EtcdCluster::Start(dir_.path(), 1);
    ASSERT_TRUE(c.ok()) << c.status();
    etcd_ = std::move(*c);
    client_ = NewClient(etcd_->endpoints());
    ASSERT_NE(client_, nullptr);
  }

  TempDir dir_;
  std::unique_ptr<EtcdCluster> etcd_;
  std::unique_ptr<EtcdClient> client_;
};

TEST_F(EtcdTest, RejectsEndpointsItCannotDial) {
  for (const std::vector<std::string>& bad :
       std::vector<std::vector<std::string>>{
           {},
           {"localhost:2379"},
           {"127.0.0.1"},
           {"127.0.0.1:0"},
           {"127.0.0.1:2379", "127.0.0.1:65536"}}) {
    EtcdClientOptions options;
    options.endpoints = bad;
    absl::StatusOr<std::unique_ptr<EtcdClient>> c = EtcdClient::Create(options);
    EXPECT_TRUE(absl::IsInvalidArgument(c.status())) << c.status();
  }
}

TEST_F(EtcdTest, KvAndTxnBasics) {
  absl::StatusOr<node::EtcdGetResult> missing = client_->Get("k");
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_FALSE(missing->kv.has_value());
  EXPECT_EQ(missing->member_id, etcd_->member_id(0));

  absl::StatusOr<int64_t> put = client_->Put("k", "v1");
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_GT(*put, missing->revision);
  absl::StatusOr<node::EtcdGetResult> got = client_->Get("k");
  ASSERT_TRUE(got.ok() && got->kv.has_value());
  EXPECT_EQ(got->kv->value, "v1");
  EXPECT_EQ(got->kv->create_revision, *put);
  EXPECT_EQ(got->kv->mod_revision, *put);
  EXPECT_EQ(got->kv->version, 1);

  // Compare-and-swap on the mod revision: the first applies, the second
  // (same base) fails and its failure branch reads the key.
  EtcdTxn cas;
  cas.compares.push_back(
      {EtcdCompare::Target::kMod, EtcdCompare::Result::kEqual, "k", *put, ""});
  cas.success.push_back(EtcdOp::Put("k", "v2"));
  cas.failure.push_back(EtcdOp::Get("k"));
  absl::StatusOr<node::EtcdTxnResult> first = client_->Txn(cas);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->succeeded);
  EXPECT_EQ(first->revision, *put + 1);
  absl::StatusOr<node::EtcdTxnResult> second = client_->Txn(cas);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->succeeded);
  ASSERT_EQ(second->gets.size(), 1u);
  ASSERT_TRUE(second->gets[0].has_value());
  EXPECT_EQ(second->gets[0]->value, "v2");
  EXPECT_EQ(second->gets[0]->version, 2);

  // Value and version compares, a delete, a missing key's create revision.
  EtcdTxn del;
  del.compares.push_back(
      {EtcdCompare::Target::kValue, EtcdCompare::Result::kEqual, "k", 0, "v2"});
  del.compares.push_back({EtcdCompare::Target::kVersion,
                          EtcdCompare::Result::kGreater, "k", 1, ""});
  del.success.push_back(EtcdOp::Delete("k"));
  del.success.push_back(EtcdOp::Get("k"));
  absl::StatusOr<node::EtcdTxnResult> deleted = client_->Txn(del);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_TRUE(deleted->succeeded);
  ASSERT_EQ(deleted->gets.size(), 1u);
  EXPECT_FALSE(deleted->gets[0].has_value());
  EtcdTxn create;
  create.compares.push_back(
      {EtcdCompare::Target::kCreate, EtcdCompare::Result::kEqual, "k", 0, ""});
  create.success.push_back(EtcdOp::Put("k", "v3"));
  absl::StatusOr<node::EtcdTxnResult> created = client_->Txn(create);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->succeeded);

  // A put with a lease that does not exist: etcd's NotFound, named.
  absl::StatusOr<int64_t> bad = client_->Put("k", "v", 12345);
  EXPECT_TRUE(absl::IsNotFound(bad.status())) << bad.status();
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr(etcd_->endpoints()[0]));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("Put k"));
}

TEST_F(EtcdTest, KeepAliveHoldsTheLeaseAndReportsItsRevocation) {
  absl::StatusOr<node::EtcdLease> lease = client_->LeaseGrant(absl::Seconds(2));
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_GE(lease->ttl, absl::Seconds(2));
  ASSERT_TRUE(client_->Put("leased", "x", lease->id).ok());
  LossLog loss;
  std::unique_ptr<node::EtcdTask> keep =
      client_->KeepAlive(*lease, loss.Callback());
  // Well past the TTL the lease (and its key) is still there.
  EXPECT_FALSE(loss.WaitFor(lease->ttl * 2 + absl::Seconds(1)).has_value());
  absl::StatusOr<node::EtcdGetResult> got = client_->Get("leased");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->kv.has_value());
  // Revoked elsewhere: the next renewal answers TTL 0.
  ASSERT_TRUE(client_->LeaseRevoke(lease->id).ok());
  std::optional<absl::Status> lost =
      loss.WaitFor(lease->ttl + absl::Seconds(3));
  ASSERT_TRUE(lost.has_value());
  EXPECT_TRUE(absl::IsNotFound(*lost)) << *lost;
  EXPECT_THAT(std::string(lost->message()), HasSubstr("TTL 0"));
  EXPECT_FALSE(client_->Get("leased")->kv.has_value());
  // Revoking it again: NotFound.
  EXPECT_TRUE(absl::IsNotFound(client_->LeaseRevoke(lease->id)));
}

TEST_F(EtcdTest, KeepAliveReportsALeaseItCannotRenewBeforeItExpires) {
  absl::StatusOr<node::EtcdLease> lease = client_->LeaseGrant(absl::Seconds(2));
  ASSERT_TRUE(lease.ok()) << lease.status();
  LossLog loss;
  std::unique_ptr<node::EtcdTask> keep =
      client_->KeepAlive(*lease, loss.Callback());
  const absl::Time paused = absl::Now();
  ASSERT_TRUE(etcd_->Pause(0).ok());
  std::optional<absl::Status> lost =
      loss.WaitFor(lease->ttl + absl::Seconds(3));
  const absl::Duration took = absl::Now() - paused;
  ASSERT_TRUE(etcd_->Resume(0).ok());
  ASSERT_TRUE(lost.has_value());
  EXPECT_TRUE(absl::IsDeadlineExceeded(*lost)) << *lost;
  EXPECT_THAT(std::string(lost->message()), HasSubstr("before it expired"));
  // Reported no later than the TTL after the member stopped answering.
  EXPECT_LE(took, lease->ttl + absl::Milliseconds(500));
}

TEST_F(EtcdTest, WatchDeliversFromARevisionAndReportsCompaction) {
  std::vector<int64_t> revisions;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<int64_t> r = client_->Put("w", StrCat("v", i));
    ASSERT_TRUE(r.ok()) << r.status();
    revisions.push_back(*r);
  }
  {
    // From the third write's revision: v2, v3, v4, then new writes.
    WatchLog log;
    std::unique_ptr<node::EtcdTask> watch =
        client_->Watch("w", revisions[2], log.Callbacks());
    ASSERT_TRUE(client_->Put("w", "v5").ok());
    ASSERT_TRUE(client_->Put("other", "x").ok());
    EXPECT_EQ(log.WaitFor(4, absl::Seconds(5)),
              (std::vector<std::string>{"v2", "v3", "v4", "v5"}));
  }
  // Compact past the first writes: a watch from revision 1 is told, and
  // resumes from the compaction revision.
  ASSERT_TRUE(etcd_->Etcdctl(0, {"compact", StrCat(revisions[3])}).ok());
  WatchLog log;
  std::unique_ptr<node::EtcdTask> watch =
      client_->Watch("w", revisions[0], log.Callbacks());
  EXPECT_EQ(log.WaitForCompaction(absl::Seconds(5)),
            (std::vector<int64_t>{revisions[3]}));
  EXPECT_EQ(log.WaitFor(3, absl::Seconds(5)),
            (std::vector<std::string>{"v3", "v4", "v5"}));
}

TEST_F(EtcdTest, WatchReopensAfterTheMemberRestarts) {
  // From the next revision, not "from now": the stream is opened on the
  // watch's thread, possibly after the first put.
  absl::StatusOr<node::EtcdGetResult> now = client_->Get("r");
  ASSERT_TRUE(now.ok()) << now.status();
  WatchLog log;
  std::unique_ptr<node::EtcdTask> watch =
      client_->Watch("r", now->revision + 1, log.Callbacks());
  ASSERT_TRUE(client_->Put("r", "before").ok());
  ASSERT_EQ(log.WaitFor(1, absl::Seconds(5)).size(), 1u);
  ASSERT_TRUE(etcd_->Kill(0).ok());
  ASSERT_TRUE(etcd_->Restart(0).ok());
  absl::Status put;
  ASSERT_TRUE(Eventually(
      [&] { return (put = client_->Put("r", "after").status()).ok(); },
      absl::Seconds(10)))
      << put;
  EXPECT_EQ(log.WaitFor(2, absl::Seconds(10)),
            (std::vector<std::string>{"before", "after"}));
}

TEST_F(EtcdTest, ElectionResignationAndRevokedLease) {
  auto client_b = NewClient(etcd_->endpoints());
  auto a = NewCoordinator(client_.get(), "a");
  auto b = NewCoordinator(client_b.get(), "b");
  ASSERT_TRUE(a && b);
  ASSERT_EQ(a->Campaign().value_or(false), true);
  ASSERT_EQ(b->Campaign().value_or(true), false);
  const int64_t first = a->epoch();
  absl::StatusOr<node::EtcdGetResult> key =
      client_->Get(node::EtcdLeaderKey(kOrigin));
  ASSERT_TRUE(key.ok() && key->kv.has_value());
  EXPECT_EQ(key->kv->create_revision, first);
  EXPECT_EQ(key->kv->value, "a");
  EXPECT_EQ(b->leader(), (node::LeaderInfo{"a", first}));

  // Commits reach the follower through its watch.
  for (uint64_t size : {3, 8}) ASSERT_TRUE(a->Commit(HeadOfSize(size)).ok());
  EXPECT_TRUE(Eventually([&] { return b->Committed() == HeadOfSize(8); },
                         absl::Seconds(5)));

  // Resign: b sees the key go, wins with a higher epoch, a follows.
  ASSERT_TRUE(a->Resign().ok());
  EXPECT_TRUE(
      Eventually([&] { return b->leader().epoch == 0; }, absl::Seconds(5)));
  ASSERT_EQ(b->Campaign().value_or(false), true);
  const int64_t second = b->epoch();
  EXPECT_GT(second, first);
  EXPECT_TRUE(Eventually(
      [&] {
        return a->leader() == node::LeaderInfo{"b", second};
      },
      absl::Seconds(5)));
  ASSERT_TRUE(b->Commit(HeadOfSize(9)).ok());

  // b's lease revoked (as when it expires): b is deposed, a wins.
  ASSERT_TRUE(client_->LeaseRevoke(b->lease_id()).ok());
  EXPECT_TRUE(Eventually([&] { return !b->is_leader(); }, absl::Seconds(5)));
  EXPECT_TRUE(absl::IsFailedPrecondition(b->deposed_status()))
      << b->deposed_status();
  EXPECT_TRUE(
      Eventually([&] { return a->leader().epoch == 0; }, absl::Seconds(5)));
  ASSERT_EQ(a->Campaign().value_or(false), true);
  EXPECT_GT(a->epoch(), second);
  EXPECT_EQ(a->Committed(), HeadOfSize(9));
  EXPECT_TRUE(absl::IsFailedPrecondition(b->Commit(HeadOfSize(10))));
}

// A leader that hears nothing from etcd (a paused process: no watch, no
// keep-alive) is fenced by etcd itself when it commits after its lease
// ended and another was elected.
TEST_F(EtcdTest, DeposedLeaderThatDidNotNoticeIsFenced) {
  FaultyEtcd zombie_etcd(client_.get());
  zombie_etcd.Silence();
  auto client_b = NewClient(etcd_->endpoints());
  auto a = NewCoordinator(&zombie_etcd, "a", absl::Seconds(10));
  auto b = NewCoordinator(client_b.get(), "b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Campaign().value_or(false));
  ASSERT_TRUE(a->Commit(HeadOfSize(4)).ok());
  const int64_t old_epoch = a->epoch();
  ASSERT_TRUE(client_b->LeaseRevoke(a->lease_id()).ok());
  EXPECT_TRUE(
      Eventually([&] { return b->leader().epoch == 0; }, absl::Seconds(5)));
  ASSERT_TRUE(b->Campaign().value_or(false));
  const int64_t new_epoch = b->epoch();
  const std::string head_key = node::EtcdHeadKey(kOrigin);
  const std::string before = client_->Get(head_key)->kv->value;
  EXPECT_TRUE(a->is_leader());  // it has not noticed

  absl::Status s = a->Commit(HeadOfSize(5));
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_EQ(s.message(), StrCat("no longer leader: epoch ", old_epoch,
                                " superseded by ", new_epoch));
  EXPECT_EQ(client_->Get(head_key)->kv->value, before);
  EXPECT_FALSE(a->is_leader());
  ASSERT_TRUE(b->Commit(HeadOfSize(5)).ok());
  EXPECT_EQ(b->committed_record().epoch, new_epoch);
}

TEST_F(EtcdTest, CommitWhoseReplyWasLostIsDecidedByTheWriteId) {
  FaultyEtcd faulty(client_.get());
  auto a = NewCoordinator(&faulty, "a");
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->Campaign().value_or(false));
  ASSERT_TRUE(a->Commit(HeadOfSize(1)).ok());
  const std::string head_key = node::EtcdHeadKey(kOrigin);
  const int64_t version = client_->Get(head_key)->kv->version;

  faulty.LoseNextTxnReply();  // applied by etcd, reply lost
  ASSERT_TRUE(a->Commit(HeadOfSize(2)).ok());
  absl::StatusOr<node::EtcdGetResult> got = client_->Get(head_key);
  ASSERT_TRUE(got.ok() && got->kv.has_value());
  EXPECT_EQ(got->kv->version, version + 1);  // written once
  EXPECT_EQ(node::DecodeHeadRecord(got->kv->value)->head, HeadOfSize(2));

  faulty.DropNextTxn();  // never reached etcd: sent again
  ASSERT_TRUE(a->Commit(HeadOfSize(3)).ok());
  got = client_->Get(head_key);
  ASSERT_TRUE(got.ok() && got->kv.has_value());
  EXPECT_EQ(got->kv->version, version + 2);
  EXPECT_EQ(node::DecodeHeadRecord(got->kv->value)->head, HeadOfSize(3));
  EXPECT_EQ(a->Committed(), HeadOfSize(3));
}

// Three members; the member the client talks to is killed: reads, writes,
// the watch and the coordinator go on through the others. Then the member
// a fresh client talks to hangs (SIGSTOP), and the client leaves it.
TEST(EtcdClusterTest, FailoverWhenTheMemberInUseIsKilled) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  absl::StatusOr<std::unique_ptr<EtcdCluster>> started =
      EtcdCluster::Start(dir.path(), 3);
  ASSERT_TRUE(started.ok()) << started.status();
  EtcdCluster& etcd = **started;
  auto client = NewClient(etcd.endpoints(), /*shuffle=*/false);
  absl::StatusOr<node::EtcdGetResult> got = client->Get("x");
  ASSERT_TRUE(got.ok()) << got.status();
  // Normally m0 (no shuffle); a slow start may have moved the client on.
  const int used = etcd.MemberIndex(got->member_id);
  ASSERT_GE(used, 0);
  std::vector<std::string> others;
  for (int i = 0; i < 3; ++i) {
    if (i != used) others.push_back(etcd.endpoints()[i]);
  }
  auto writer = NewClient(others);

  WatchLog log;
  std::unique_ptr<node::EtcdTask> watch =
      client->Watch("x", got->revision + 1, log.Callbacks());
  // A TTL well above an etcd leader election (the killed member may be
  // etcd's leader; renewals fail until another is elected), with room for
  // a loaded machine and a TSan build.
  auto a = NewCoordinator(client.get(), "a", absl::Seconds(10));
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->Campaign().value_or(false));
  ASSERT_TRUE(a->Commit(HeadOfSize(1)).ok());
  ASSERT_TRUE(writer->Put("x", "0").ok());
  ASSERT_EQ(log.WaitFor(1, absl::Seconds(5)).size(), 1u);

  ASSERT_TRUE(etcd.Kill(used).ok());
  const absl::Time killed = absl::Now();
  // Writes while the watch's stream is broken: it resumes after them.
  for (int i = 1; i <= 5; ++i) {
    absl::Status put;
    ASSERT_TRUE(Eventually(
        [&] { return (put = writer->Put("x", StrCat(i)).status()).ok(); },
        absl::Seconds(10)))
        << put;
  }
  absl::Status read;
  ASSERT_TRUE(Eventually(
      [&] {
        got = client->Get("x");
        read = got.status();
        return got.ok();
      },
      absl::Seconds(10)))
      << read;
  const absl::Duration read_after = absl::Now() - killed;
  EXPECT_NE(got->member_id, etcd.member_id(used));
  EXPECT_EQ(got->kv->value, "5");
  EXPECT_LT(read_after, absl::Seconds(10));
  ASSERT_TRUE(client->Put("x", "6").ok());
  EXPECT_EQ(Values(log.WaitFor(7, absl::Seconds(10))), "0 1 2 3 4 5 6 ");

  // The coordinator commits on, still leading with the same lease.
  absl::Status commit = a->Commit(HeadOfSize(2));
  EXPECT_TRUE(commit.ok()) << commit;
  EXPECT_TRUE(a->is_leader());
  std::printf(
      "writes and a read through the other members done %.0f ms after the "
      "kill\n",
      absl::ToDoubleMilliseconds(read_after));

  // m0 back: it catches up and serves the same data.
  ASSERT_TRUE(etcd.Restart(used).ok());
  auto only_it = NewClient({etcd.endpoints()[used]});
  absl::StatusOr<node::EtcdGetResult> again = only_it->Get("x");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->kv->value, "6");

  // A hung member (SIGSTOP: its connections stay open) is left too: the
  // client rotates to the next member when a call times out on it.
  auto fresh = NewClient(etcd.endpoints(), /*shuffle=*/false);
  got = fresh->Get("x");
  ASSERT_TRUE(got.ok()) << got.status();
  const int hung = etcd.MemberIndex(got->member_id);
  ASSERT_GE(hung, 0);
  ASSERT_TRUE(etcd.Pause(hung).ok());
  const absl::Time paused = absl::Now();
  ASSERT_TRUE(Eventually(
      [&] {
        got = fresh->Get("x");
        read = got.status();
        return got.ok();
      },
      absl::Seconds(15)))
      << read;
  std::printf("read through another member %.0f ms after SIGSTOP\n",
              absl::ToDoubleMilliseconds(absl::Now() - paused));
  EXPECT_NE(got->member_id, etcd.member_id(hung));
  EXPECT_TRUE(fresh->Put("x", "7").ok());
  ASSERT_TRUE(etcd.Resume(hung).ok());
}

// Client TLS with client certificates: etcd's certificate carries only an
// IP SAN, which gRPC checks against the target name the client sets.
TEST(EtcdTlsTest, MutualTlsWithAnIpSan) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  absl::StatusOr<devcerts::CertificateAuthority> ca =
      devcerts::CertificateAuthority::Create("etcd test CA");
  ASSERT_TRUE(ca.ok()) << ca.status();
  devcerts::LeafSpec server;
  server.common_name = "etcd";
  server.ips = {"127.0.0.1"};
  server.server_auth = true;
  server.client_auth = true;
  absl::StatusOr<devcerts::Pem> server_pem = ca->Issue(server);
  absl::StatusOr<devcerts::Pem> client_pem =
      ca->Issue(devcerts::ClientLeaf("node", "n1"));
  ASSERT_TRUE(server_pem.ok() && client_pem.ok());
  EtcdTls tls;
  tls.ca_file = dir.path() + "/ca.crt";
  tls.cert_file = dir.path() + "/etcd.crt";
  tls.key_file = dir.path() + "/etcd.key";
  ASSERT_TRUE(devcerts::WriteFile(tls.ca_file, ca->pem().cert, 0644).ok());
  ASSERT_TRUE(
      devcerts::WritePem(*server_pem, tls.cert_file, tls.key_file).ok());
  grpc::SslCredentialsOptions with_cert;
  with_cert.pem_root_certs = ca->pem().cert;
  with_cert.pem_private_key = client_pem->key;
  with_cert.pem_cert_chain = client_pem->cert;
  tls.client_credentials = grpc::SslCredentials(with_cert);
  absl::StatusOr<std::unique_ptr<EtcdCluster>> etcd =
      EtcdCluster::Start(dir.path(), 1, absl::Seconds(30), tls);
  ASSERT_TRUE(etcd.ok()) << etcd.status();

  EtcdClientOptions options;
  options.endpoints = (*etcd)->endpoints();
  options.credentials = tls.client_credentials;
  options.tls_target_name = "127.0.0.1";
  absl::StatusOr<std::unique_ptr<EtcdClient>> client =
      EtcdClient::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->Put("tls", "yes").ok());
  absl::StatusOr<node::EtcdGetResult> got = (*client)->Get("tls");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->kv->value, "yes");

  // Without a client certificate etcd refuses the handshake.
  grpc::SslCredentialsOptions no_cert;
  no_cert.pem_root_certs = ca->pem().cert;
  options.credentials = grpc::SslCredentials(no_cert);
  options.call_timeout = absl::Seconds(1);
  absl::StatusOr<std::unique_ptr<EtcdClient>> anonymous =
      EtcdClient::Create(options);
  ASSERT_TRUE(anonymous.ok());
  absl::StatusOr<node::EtcdGetResult> refused = (*anonymous)->Get("tls");
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr((*etcd)->endpoints()[0]));
}

}  // namespace
}  // namespace ledger::testing
