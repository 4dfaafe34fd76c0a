// A replicated cluster of real processes: three etcd members (Debian's
// /usr/bin/etcd) and three ledger-node processes on loopback ports, started
// by the test with a shared log key and a 3 s lease. It appends through the
// documented gRPC API the way a platform would (following the leader named
// in a follower's refusal) and checks the cluster's promises. Every case
// ends with the same check (CheckFinalLog): a Jepsen-style check of every
// append's invocation and outcome, which finds every acknowledged event
// exactly once at its acknowledged index and nothing out of real-time
// order, and every node holding the same entries.
//
//   - every node ends with the same entries after 10,000 events;
//   - kill -9 of the leader under load from three clients: a new leader
//     takes over and the killed node catches up when restarted;
//   - kill -9 of etcd member 0 under load: appends go on (acknowledged
//     within 30 s of the kill); a ledger leader that loses its lease
//     meanwhile exits 4 and is restarted, as its supervisor would; the
//     member restarted, the cluster still commits;
//   - the leader paused (SIGSTOP) past its lease under load: another node
//     leads and acknowledges; resumed, the old leader acknowledges nothing,
//     what it is sent is never committed, it exits 4, and restarted it
//     catches up;
//   - all three nodes stopped (SIGTERM) and started: `ledger-node verify`
//     finds the same size and root on each data directory, the nodes serve
//     the same entries and go on committing;
//   - a follower killed and restarted catches up;
//   - a stopped follower's write-ahead log damaged: with flipped bytes it
//     refuses to start (exit code 3), and started again on an empty data
//     directory it catches up; cut short, it opens with fewer entries and
//     catches up. Neither serves anything but the cluster's log;
//   - every node serves the same checkpoint, cosigned by a majority of the
//     nodes and verifiable with the keys GetNodeInfo lists; a follower
//     answers a read that names a minimum size (read-your-writes), and its
//     refusal of a write names the leader in the trailing metadata.
//
// The failover times and what each fault did are printed.
//
// The soak (ClusterSoakTest) is not part of the default run: it is skipped
// before anything starts unless LEDGER_SOAK_SECONDS is set (ctest -L soak
// sets 600). Under continuous load from four clients it kills -9 a random
// ledger node or a random etcd member every few seconds for that long,
// then lets the cluster recover and checks the history as above.
//
//   LEDGER_SOAK_SECONDS   how long faults are injected
//   LEDGER_SOAK_INTERVAL  seconds between faults (default 5; each wait is
//                         drawn from 0.8 to 1.2 times it)
//   LEDGER_SOAK_SEED      seed of the waits and of what is killed (default:
//                         from the clock; printed). Timing still varies.

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "base/strings.h"
#include "base/sync.h"
#include "crypto/bytes.h"
#include "crypto/note.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "ledger/checkpoint.h"
#include "ledger/merkle.h"
#include "tests/etcd_cluster.h"
#include "tests/ledger_client.h"
#include "tests/process.h"

namespace ledger::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kOrigin[] = "cluster.test/log";
constexpr char kTenant[] = "acme";
constexpr int kNodes = 3;

struct NodeSpec {
  std::string name;
  std::string address;          // client API
  std::string cluster_address;  // replication
  std::string config;
  std::optional<Process> process;
};

// One append as a client saw it (Jepsen's history): when it was invoked and
// when it returned, and how it ended.
struct Op {
  enum Outcome { kOk, kFailed, kUnknown } outcome = kUnknown;
  absl::Time invoked;
  absl::Time returned;
  std::vector<std::string> event_ids;
  std::vector<uint64_t> indexes;  // kOk: each event's index
  int node = -1;                  // kOk: the node that acknowledged it
  absl::Status status;            // SendOnce: what the node answered
};

// The load of RunLoad: `clients` threads, each sending `batches` batches of
// `events` events one after another.
struct LoadShape {
  int clients = 3;
  int batches = 30;
  int events = 20;
  // The clients also stop, after their current batch, once `during` has
  // returned: load for as long as something happens.
  bool until_during_returns = false;
  int total() const { return clients * batches; }
};

// The final log as CheckFinalLog read it.
struct FinalLog {
  int leader = -1;
  uint64_t size = 0;
  std::map<std::string, std::vector<uint64_t>> where;  // event id -> indexes
};

// The RFC 6962 root of `leaves` (leaf hashes as the API returns them).
std::string RootOf(const std::vector<std::string>& leaves) {
  CompactRange range;
  for (const std::string& leaf : leaves) {
    crypto::Hash h{};
    EXPECT_EQ(leaf.size(), h.size());
    std::copy_n(leaf.begin(), std::min(leaf.size(), h.size()), h.begin());
    range.Append(h);
  }
  return crypto::Base64Encode(range.Root());
}

// The earliest acknowledgement of an append invoked at or after `t`,
// counted from `t`; infinite if none.
absl::Duration FirstAckAfter(const std::vector<Op>& history, absl::Time t) {
  absl::Duration first = absl::InfiniteDuration();
  for (const Op& op : history) {
    if (op.outcome == Op::kOk && op.invoked >= t) {
      first = std::min(first, op.returned - t);
    }
  }
  return first;
}

// What is done to a stopped follower's write-ahead log.
enum class WalDamage {
  kFlippedBytes,  // 64 bytes in the middle XORed: a record's checksum fails
  kTruncated,     // cut to half its length, inside a record
};

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cluster_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::filesystem::create_directories(dir_ + "/etcd");
    absl::StatusOr<std::unique_ptr<EtcdCluster>> etcd =
        EtcdCluster::Start(dir_ + "/etcd", 3);
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = *std::move(etcd);
    absl::StatusOr<RunResult> key =
        subprocess::Run({BinaryPath("tools/ledgerctl/ledgerctl"), "cluster-key",
                         "--origin", kOrigin, "--out", dir_ + "/log.key"},
                        seconds(30));
    ASSERT_TRUE(key.ok()) << key.status();
    ASSERT_EQ(key->exit_code, 0) << key->err;
    for (int i = 0; i < kNodes; ++i) {
      NodeSpec& n = nodes_[i];
      n.name = StrCat("n", i + 1);
      n.address = StrCat("127.0.0.1:", FreePort());
      n.cluster_address = StrCat("127.0.0.1:", FreePort());
      n.config = StrCat(dir_, "/", n.name, ".toml");
    }
    std::string endpoints;
    for (const std::string& e : etcd_->endpoints()) {
      endpoints += StrCat(endpoints.empty() ? "" : ", ", "\"", e, "\"");
    }
    for (int i = 0; i < kNodes; ++i) {
      std::ofstream out(nodes_[i].config);
      out << "data_dir = \"" << DataDir(i) << "\"\n"
          << "listen = \"" << nodes_[i].address << "\"\n"
          << "node_name = \"" << nodes_[i].name << "\"\n"
          << "origin = \"" << kOrigin << "\"\n"
          << "insecure_plaintext = true\n"
          << "[cluster]\n"
          << "listen = \"" << nodes_[i].cluster_address << "\"\n"
          << "etcd_endpoints = [" << endpoints << "]\n"
          << "log_key_file = \"" << dir_ << "/log.key\"\n"
          << "lease_ttl = \"3s\"\n";
      for (int j = 0; j < kNodes; ++j) {
        if (j == i) continue;
        out << "[[cluster.peers]]\n"
            << "name = \"" << nodes_[j].name << "\"\n"
            << "address = \"" << nodes_[j].address << "\"\n"
            << "cluster_address = \"" << nodes_[j].cluster_address << "\"\n";
      }
    }
    for (int i = 0; i < kNodes; ++i) StartNode(i);
  }

  void TearDown() override {
    for (NodeSpec& n : nodes_) {
      if (n.process) (void)n.process->Stop(SIGKILL, milliseconds(5000));
    }
    etcd_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  std::string DataDir(int i) const { return StrCat(dir_, "/", nodes_[i].name); }

  void StartNode(int i) {
    absl::StatusOr<Process> p = Process::Start(
        {BinaryPath("node/ledger-node"), "--config", nodes_[i].config},
        StrCat(dir_, "/", nodes_[i].name, ".", ++starts_, ".log"));
    ASSERT_TRUE(p.ok()) << p.status();
    nodes_[i].process = *std::move(p);
    absl::StatusOr<std::string> line =
        nodes_[i].process->WaitForLine("listening on ", seconds(120));
    ASSERT_TRUE(line.ok()) << nodes_[i].name << ": " << line.status();
  }

  void KillNode(int i) {
    ASSERT_TRUE(nodes_[i].process.has_value());
    (void)nodes_[i].process->Stop(SIGKILL, milliseconds(10000));
    nodes_[i].process.reset();
  }

  // A leader that lost its lease ends its process with exit code 4 and its
  // supervisor starts it again as a follower: does that for every node that
  // exited (any other exit code is a failure). Returns how many.
  int RestartDeposedNodes() {
    int restarted = 0;
    for (int i = 0; i < kNodes; ++i) {
      if (!nodes_[i].process) continue;
      absl::StatusOr<int> code = nodes_[i].process->Wait(milliseconds(0));
      if (!code.ok()) continue;  // still running
      nodes_[i].process.reset();
      EXPECT_EQ(*code, 4) << nodes_[i].name << " exited with " << *code
                          << " (4: a leader stepped down)";
      std::printf("%s stepped down (exit code %d); restarting it\n",
                  nodes_[i].name.c_str(), *code);
      StartNode(i);
      ++restarted;
    }
    return restarted;
  }

  // The etcd member that leads etcd, as member `asked` sees it; -1 if it
  // does not say.
  int EtcdLeader(int asked) {
    absl::StatusOr<std::string> out =
        etcd_->Etcdctl(asked, {"endpoint", "status", "-w", "fields"});
    if (!out.ok()) return -1;
    // A line `"Leader" : <member id>`.
    constexpr std::string_view kLeader = "\"Leader\" : ";
    const size_t at = out->find(kLeader);
    if (at == std::string::npos) return -1;
    return etcd_->MemberIndex(
        std::strtoull(out->c_str() + at + kLeader.size(), nullptr, 10));
  }

  // The node whose write path runs, within `timeout`; -1 if none. Node
  // `except` is not asked (a paused process would hold each call until
  // its deadline).
  int WaitForLeader(absl::Duration timeout, int except = -1) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      for (int i = 0; i < kNodes; ++i) {
        if (!nodes_[i].process || i == except) continue;
        LedgerClient c(nodes_[i].address, milliseconds(2000));
        absl::StatusOr<v1::NodeInfo> info = c.GetNodeInfo();
        if (info.ok() && info->write_state() == "running") return i;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    return -1;
  }

  // The committed size node `i` reports.
  uint64_t CommittedSize(int i) {
    LedgerClient c(nodes_[i].address, milliseconds(5000));
    absl::StatusOr<v1::NodeInfo> info = c.GetNodeInfo();
    return info.ok() ? info->size() : 0;
  }

  // Waits (60 s at most) until node `i` lists the log key and every node's
  // cosigner key, and its committed size stays the same for half a second:
  // the leader registers its followers' keys (key.registered entries) once
  // it hears from them, which must not land after a size a test reads.
  void WaitForCosignerKeysAndQuiet(int i) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    uint64_t last = 0;
    while (absl::Now() < deadline) {
      LedgerClient c(nodes_[i].address, milliseconds(5000));
      absl::StatusOr<v1::NodeInfo> info = c.GetNodeInfo();
      if (info.ok() && info->note_verifier_keys_size() == 1 + kNodes &&
          info->size() == last) {
        return;
      }
      last = info.ok() ? info->size() : 0;
      absl::SleepFor(absl::Milliseconds(500));
    }
    ADD_FAILURE() << nodes_[i].name
                  << " did not list every node's cosigner key within 60 s";
  }

  // Waits until every running node reports at least `size` committed.
  bool WaitForSize(uint64_t size, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      bool all = true;
      for (int i = 0; i < kNodes; ++i) {
        if (nodes_[i].process && CommittedSize(i) < size) all = false;
      }
      if (all) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

  // Entries [start, end) of node `i`, in order.
  std::vector<v1::Entry> Entries(int i, uint64_t start, uint64_t end) {
    std::vector<v1::Entry> out;
    LedgerClient c(nodes_[i].address, milliseconds(30000));
    absl::Status s = c.ScanEntries(start, end, [&](const v1::Entry& e) {
      out.push_back(e);
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << nodes_[i].name << ": " << s;
    return out;
  }

  // Every entry [0, size) of node `i`, as leaf hashes.
  std::vector<std::string> Leaves(int i, uint64_t size) {
    std::vector<std::string> out;
    for (const v1::Entry& e : Entries(i, 0, size)) {
      out.push_back(e.leaf_hash());
    }
    return out;
  }

  // Every node holds the entries [0, size) of node `reference`; returns
  // them as leaf hashes.
  std::vector<std::string> ExpectSameEntries(int reference, uint64_t size) {
    const std::vector<std::string> leaves = Leaves(reference, size);
    EXPECT_EQ(leaves.size(), size) << nodes_[reference].name;
    for (int i = 0; i < kNodes; ++i) {
      if (i == reference) continue;
      EXPECT_EQ(Leaves(i, size), leaves) << nodes_[i].name;
    }
    return leaves;
  }

  // Sends `request` to the leader, following refusals that name it and
  // moving on from nodes that do not answer, for up to `timeout`. The
  // outcome is kOk, kFailed (refused for a reason retrying would not
  // change) or kUnknown (no answer in time).
  Op Submit(const v1::AppendBatchRequest& request, int* target,
            absl::Duration timeout) {
    Op op;
    for (const v1::Event& e : request.events()) {
      op.event_ids.push_back(e.event_id());
    }
    op.invoked = absl::Now();
    const absl::Time deadline = op.invoked + timeout;
    std::string address = nodes_[*target].address;
    while (absl::Now() < deadline) {
      LedgerClient c(address, milliseconds(5000));
      absl::StatusOr<std::vector<v1::EntryRef>> refs = c.AppendBatch(request);
      if (refs.ok()) {
        op.outcome = Op::kOk;
        for (const v1::EntryRef& r : *refs) op.indexes.push_back(r.index());
        for (int i = 0; i < kNodes; ++i) {
          if (nodes_[i].address == address) *target = op.node = i;
        }
        break;
      }
      // A follower's refusal: "... the leader is NAME at ADDRESS: send
      // appends there".
      const std::string message(refs.status().message());
      const size_t at = message.find("the leader is ");
      const size_t addr = at == std::string::npos ? std::string::npos
                                                  : message.find(" at ", at);
      const size_t end = message.find(": send appends there");
      if (addr != std::string::npos && end != std::string::npos &&
          end > addr + 4) {
        address = message.substr(addr + 4, end - addr - 4);
        continue;
      }
      if (refs.status().code() == absl::StatusCode::kInvalidArgument ||
          refs.status().code() == absl::StatusCode::kPermissionDenied) {
        op.outcome = Op::kFailed;
        break;
      }
      // No answer, or not leading yet: try the next node.
      *target = (*target + 1) % kNodes;
      address = nodes_[*target].address;
      absl::SleepFor(absl::Milliseconds(50));
    }
    op.returned = absl::Now();
    return op;
  }

  // Sends `request` to node `i` once, whatever it answers.
  Op SendOnce(const v1::AppendBatchRequest& request, int i,
              milliseconds timeout = milliseconds(5000)) {
    Op op;
    for (const v1::Event& e : request.events()) {
      op.event_ids.push_back(e.event_id());
    }
    op.invoked = absl::Now();
    LedgerClient c(nodes_[i].address, timeout);
    absl::StatusOr<std::vector<v1::EntryRef>> refs = c.AppendBatch(request);
    op.returned = absl::Now();
    op.status = refs.status();
    if (refs.ok()) {
      op.outcome = Op::kOk;
      op.node = i;
      for (const v1::EntryRef& r : *refs) op.indexes.push_back(r.index());
    } else if (absl::IsUnavailable(refs.status()) ||
               absl::IsDeadlineExceeded(refs.status())) {
      op.outcome = Op::kUnknown;
    } else {
      op.outcome = Op::kFailed;
    }
    return op;
  }

  // Appends from `shape.clients` threads at once, each sending its batches
  // (TestEvent(seed + client, n)) one after another through Submit,
  // starting at node `target`. Meanwhile `during` runs on this thread with
  // the count of acknowledged batches; if it fails fatally (or returns, with
  // `shape.until_during_returns`) the clients stop after their current
  // batch. Returns every append as the clients saw it.
  std::vector<Op> RunLoad(
      int target, uint64_t seed, const LoadShape& shape,
      const std::function<void(const std::atomic<int>& acked)>& during) {
    Mutex mu;
    std::vector<Op> history;
    std::atomic<int> acked{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < shape.clients; ++c) {
      clients.emplace_back([&, c] {
        int at = target;
        for (int b = 0; b < shape.batches && !stop.load(); ++b) {
          Op op = Submit(Batch(seed + c, b * shape.events, shape.events), &at,
                         absl::Seconds(40));
          if (op.outcome == Op::kOk) acked.fetch_add(1);
          MutexLock lock(&mu);
          history.push_back(std::move(op));
        }
      });
    }
    during(acked);
    if (HasFatalFailure() || shape.until_during_returns) stop.store(true);
    for (std::thread& t : clients) t.join();
    MutexLock lock(&mu);
    return history;
  }

  // Waits until `acked` reaches `n`.
  static bool WaitForAcked(const std::atomic<int>& acked, int n,
                           absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (acked.load() < n) {
      if (absl::Now() >= deadline) return false;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return true;
  }

  // Every acknowledged append of `ops` is in `where` (the final log), each
  // event exactly once and at the index its acknowledgement named.
  static void CheckAcknowledged(
      const std::vector<Op>& ops,
      const std::map<std::string, std::vector<uint64_t>>& where) {
    for (const Op& op : ops) {
      if (op.outcome != Op::kOk) continue;
      ASSERT_EQ(op.indexes.size(), op.event_ids.size());
      for (size_t k = 0; k < op.event_ids.size(); ++k) {
        auto it = where.find(op.event_ids[k]);
        ASSERT_NE(it, where.end())
            << "acknowledged event " << op.event_ids[k] << " is missing";
        ASSERT_EQ(it->second.size(), 1u) << op.event_ids[k] << " is stored "
                                         << it->second.size() << " times";
        EXPECT_EQ(it->second[0], op.indexes[k]);
      }
    }
  }

  // Real-time order: an append acknowledged before another was invoked has
  // the lower indexes.
  static void CheckRealTimeOrder(const std::vector<Op>& ops) {
    for (const Op& a : ops) {
      if (a.outcome != Op::kOk) continue;
      const uint64_t a_max =
          *std::max_element(a.indexes.begin(), a.indexes.end());
      for (const Op& b : ops) {
        if (b.outcome != Op::kOk || !(a.returned < b.invoked)) continue;
        const uint64_t b_min =
            *std::min_element(b.indexes.begin(), b.indexes.end());
        EXPECT_LT(a_max, b_min);
      }
    }
  }

  // The end of every case: once a leader runs and every running node holds
  // its committed size, the log read back from the leader holds every
  // acknowledged event of `history` exactly once at its acknowledged
  // index, every append of `history` succeeded, real-time order holds, and
  // every node holds the same entries.
  void CheckFinalLog(const std::vector<Op>& history, FinalLog* log) {
    log->leader = WaitForLeader(absl::Seconds(30));
    ASSERT_GE(log->leader, 0) << "no leader within 30 s";
    log->size = CommittedSize(log->leader);
    ASSERT_TRUE(WaitForSize(log->size, absl::Seconds(60)));
    for (const v1::Entry& e : Entries(log->leader, 0, log->size)) {
      log->where[e.event().event_id()].push_back(e.index());
    }
    ASSERT_NO_FATAL_FAILURE(CheckAcknowledged(history, log->where));
    const size_t ok =
        std::count_if(history.begin(), history.end(),
                      [](const Op& op) { return op.outcome == Op::kOk; });
    EXPECT_EQ(ok, history.size()) << "every append eventually succeeded";
    CheckRealTimeOrder(history);
    ExpectSameEntries(log->leader, log->size);
  }

  // The corrupted follower cases (below the fixture).
  bool RestartCorruptedFollower(WalDamage damage);

  v1::AppendBatchRequest Batch(uint64_t seed, uint64_t first, int count) {
    std::vector<v1::Event> events;
    for (int i = 0; i < count; ++i) {
      events.push_back(TestEvent(kTenant, seed, first + i));
    }
    absl::StatusOr<v1::AppendBatchRequest> b = SignBatch(emitter_, events);
    EXPECT_TRUE(b.ok()) << b.status();
    return *b;
  }

  void RegisterEmitter(int leader) {
    LedgerClient c(nodes_[leader].address, milliseconds(10000));
    absl::StatusOr<v1::EntryRef> r = c.RegisterEmitterKey(emitter_, kTenant);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  std::string dir_;
  std::unique_ptr<EtcdCluster> etcd_;
  NodeSpec nodes_[kNodes];
  int starts_ = 0;
  const Emitter emitter_{"cluster-emitter", 0xc1u};
};

TEST_F(ClusterTest, EveryNodeHoldsTheSameEntries) {
  const int leader = WaitForLeader(absl::Seconds(60));
  ASSERT_GE(leader, 0) << "no leader within 60 s";
  RegisterEmitter(leader);
  int target = leader;
  uint64_t last = 0;
  for (int b = 0; b < 20; ++b) {
    Op op = Submit(Batch(1, b * 500, 500), &target, absl::Seconds(30));
    ASSERT_EQ(op.outcome, Op::kOk) << "batch " << b;
    last =
        std::max(last, *std::max_element(op.indexes.begin(), op.indexes.end()));
  }
  const uint64_t size = CommittedSize(target);
  ASSERT_GT(size, last);
  ASSERT_TRUE(WaitForSize(size, absl::Seconds(60)));
  const std::vector<std::string> reference = Leaves(target, size);
  ASSERT_EQ(reference.size(), size);
  for (int i = 0; i < kNodes; ++i) {
    EXPECT_EQ(Leaves(i, size), reference) << nodes_[i].name;
  }
}

TEST_F(ClusterTest, LeaderKilledUnderLoadLosesNothing) {
  const int first_leader = WaitForLeader(absl::Seconds(60));
  ASSERT_GE(first_leader, 0);
  RegisterEmitter(first_leader);

  // Kill the leader once a third of the batches are acknowledged.
  const LoadShape shape;
  absl::Time killed_at;
  const std::vector<Op> history =
      RunLoad(first_leader, 100, shape, [&](const std::atomic<int>& acked) {
        ASSERT_TRUE(WaitForAcked(acked, shape.total() / 3, absl::Seconds(120)));
        killed_at = absl::Now();
        KillNode(first_leader);
      });
  ASSERT_FALSE(HasFatalFailure());

  // Failover time: from the kill to the first acknowledgement of an append
  // invoked after it.
  const absl::Duration failover = FirstAckAfter(history, killed_at);
  std::printf(
      "failover: first append invoked after the kill acknowledged "
      "%s after it\n",
      absl::FormatDuration(failover).c_str());
  EXPECT_LT(failover, absl::Seconds(30));

  const int leader = WaitForLeader(absl::Seconds(30));
  ASSERT_GE(leader, 0);
  ASSERT_NE(leader, first_leader);
  StartNode(first_leader);  // it restarts as a follower and catches up
  FinalLog log;
  CheckFinalLog(history, &log);
}

// etcd keeps a quorum with two of its three members: the ledger goes on
// committing. Which member the nodes' etcd clients use, and which member
// leads etcd, is not knowable from here, so the test kills member 0. If it
// was etcd's leader, the ledger leader's lease renewals may fail for
// longer than its 3 s lease allows: it then steps down (exit code 4),
// another node takes over, and the test restarts it as a follower.
TEST_F(ClusterTest, EtcdMemberKilledUnderLoadLosesNothing) {
  const int first_leader = WaitForLeader(absl::Seconds(60));
  ASSERT_GE(first_leader, 0);
  RegisterEmitter(first_leader);

  const LoadShape shape;
  absl::Time killed_at;
  bool was_leader = false;
  std::vector<Op> history =
      RunLoad(first_leader, 400, shape, [&](const std::atomic<int>& acked) {
        ASSERT_TRUE(WaitForAcked(acked, shape.total() / 3, absl::Seconds(120)));
        was_leader = EtcdLeader(1) == 0;
        killed_at = absl::Now();
        ASSERT_TRUE(etcd_->Kill(0).ok());
      });
  ASSERT_FALSE(HasFatalFailure());
  const absl::Duration resumed = FirstAckAfter(history, killed_at);
  std::printf(
      "etcd member 0 killed (%s etcd's leader): first append invoked after "
      "the kill acknowledged %s after it\n",
      was_leader ? "it was" : "it was not",
      absl::FormatDuration(resumed).c_str());
  EXPECT_LT(resumed, absl::Seconds(30));
  const int stepped_down = RestartDeposedNodes();
  std::printf("ledger nodes that stepped down: %d\n", stepped_down);

  // The member comes back on its data and the cluster still commits.
  absl::Status restarted = etcd_->Restart(0);
  ASSERT_TRUE(restarted.ok()) << restarted;
  int target = WaitForLeader(absl::Seconds(30));
  ASSERT_GE(target, 0);
  history.push_back(Submit(Batch(499, 0, 20), &target, absl::Seconds(30)));
  ASSERT_EQ(history.back().outcome, Op::kOk)
      << "no append acknowledged after the etcd member's restart";
  // A leader whose renewals failed while etcd re-elected loses its lease
  // at most a lease TTL (3 s) after its last renewal before the kill, and
  // then exits at once: past that bound (with a margin for a loaded
  // machine), every node that will step down has, and is restarted.
  absl::SleepFor(killed_at + absl::Seconds(8) - absl::Now());
  std::printf("ledger nodes that stepped down later: %d\n",
              RestartDeposedNodes());
  FinalLog log;
  CheckFinalLog(history, &log);
}

// A leader that is paused (SIGSTOP) past its lease is replaced; when it
// resumes it must not commit anything (etcd refuses its fenced commits,
// followers refuse its older epoch) and it must step down by exiting.
TEST_F(ClusterTest, PausedLeaderCommitsNothingAndStepsDown) {
  const int old_leader = WaitForLeader(absl::Seconds(60));
  ASSERT_GE(old_leader, 0);
  RegisterEmitter(old_leader);

  const LoadShape shape;
  absl::Time resumed_at;
  Op through_new;          // acknowledged by the new leader
  Op queued_op;            // sent to the old leader while it was paused
  std::vector<Op> probes;  // sent to the old leader alone once it resumed
  std::optional<int> exit_code;
  std::vector<Op> history =
      RunLoad(old_leader, 500, shape, [&](const std::atomic<int>& acked) {
        ASSERT_TRUE(WaitForAcked(acked, shape.total() / 3, absl::Seconds(120)));
        const pid_t pid = nodes_[old_leader].process->pid();
        ASSERT_EQ(kill(pid, SIGSTOP), 0);
        const absl::Time paused_at = absl::Now();
        // An append that reaches the old leader while it is paused (the
        // kernel queues it) and is read when it resumes, perhaps before it
        // has noticed that its lease is gone (so far it always had: the
        // append fails).
        std::jthread queued([&] {
          queued_op = SendOnce(Batch(597, 0, shape.events), old_leader,
                               milliseconds(30000));
        });
        // Another node leads once the lease (3 s) has run out: an append
        // is acknowledged through it.
        int target = WaitForLeader(absl::Seconds(30), old_leader);
        ASSERT_GE(target, 0) << "no other node leads within 30 s of the pause";
        through_new =
            Submit(Batch(598, 0, shape.events), &target, absl::Seconds(30));
        ASSERT_EQ(through_new.outcome, Op::kOk);
        ASSERT_NE(through_new.node, old_leader);
        std::printf(
            "paused leader %s replaced by %s, acknowledging %s after "
            "the pause\n",
            nodes_[old_leader].name.c_str(),
            nodes_[through_new.node].name.c_str(),
            absl::FormatDuration(through_new.returned - paused_at).c_str());
        // The pause lasts longer than a client's call deadline (5 s): a
        // call to the old leader from before the pause has been given up
        // by its client, so any acknowledgement from the old leader after
        // it resumes would be a commit it made after losing its lease.
        const absl::Time hold_until = paused_at + absl::Seconds(6);
        if (absl::Now() < hold_until) absl::SleepFor(hold_until - absl::Now());
        ASSERT_EQ(kill(pid, SIGCONT), 0);
        resumed_at = absl::Now();
        queued.join();
        // Appends sent to it alone until it exits (at most 10).
        for (int k = 0; k < 10 && !exit_code.has_value(); ++k) {
          probes.push_back(
              SendOnce(Batch(599, k * shape.events, shape.events), old_leader));
          absl::StatusOr<int> code =
              nodes_[old_leader].process->Wait(milliseconds(0));
          if (code.ok()) exit_code = *code;
        }
        if (!exit_code.has_value()) {
          absl::StatusOr<int> code =
              nodes_[old_leader].process->Wait(milliseconds(30000));
          ASSERT_TRUE(code.ok()) << "the old leader did not exit after it "
                                    "resumed: "
                                 << code.status();
          exit_code = *code;
        }
        nodes_[old_leader].process.reset();
        std::printf("the old leader exited %s after it resumed\n",
                    absl::FormatDuration(absl::Now() - resumed_at).c_str());
      });
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(exit_code, 4) << "a leader that lost its lease exits with 4";

  std::printf("append sent to the old leader while it was paused: %s\n",
              queued_op.status.ToString().c_str());
  int answered[3] = {0, 0, 0};  // by outcome
  for (const Op& op : probes) ++answered[op.outcome];
  std::printf(
      "appends sent to the old leader after it resumed: %zu (acknowledged "
      "%d, refused %d, unavailable or no answer %d; the first: %s)\n",
      probes.size(), answered[Op::kOk], answered[Op::kFailed],
      answered[Op::kUnknown],
      probes.empty() ? "" : probes.front().status.ToString().c_str());
  probes.push_back(queued_op);
  // Nothing acknowledged by the old leader after it resumed.
  history.push_back(through_new);
  for (const std::vector<Op>* ops : {&history, &probes}) {
    for (const Op& op : *ops) {
      if (op.outcome == Op::kOk && op.node == old_leader) {
        EXPECT_LT(op.returned, resumed_at)
            << "the old leader acknowledged an append after it resumed";
      }
    }
  }

  StartNode(old_leader);  // as its supervisor would: it follows now
  FinalLog log;
  ASSERT_NO_FATAL_FAILURE(CheckFinalLog(history, &log));
  // What it was sent during the pause or after it was never committed.
  for (const Op& op : probes) {
    for (const std::string& id : op.event_ids) {
      EXPECT_EQ(log.where.count(id), 0u)
          << "event " << id << ", sent to the old leader during its pause or "
          << "after it, was committed";
    }
  }
}

// All three nodes stop cleanly and start again: the log is what it was,
// on disk and as served, and the cluster goes on committing.
TEST_F(ClusterTest, WholeClusterStopsAndStartsAgain) {
  const int leader = WaitForLeader(absl::Seconds(60));
  ASSERT_GE(leader, 0);
  RegisterEmitter(leader);
  std::vector<Op> history;
  int target = leader;
  for (int b = 0; b < 5; ++b) {
    history.push_back(
        Submit(Batch(700, b * 200, 200), &target, absl::Seconds(30)));
    ASSERT_EQ(history.back().outcome, Op::kOk) << "batch " << b;
  }
  WaitForCosignerKeysAndQuiet(target);
  const uint64_t size = CommittedSize(target);
  ASSERT_TRUE(WaitForSize(size, absl::Seconds(60)));
  const std::vector<std::string> before = ExpectSameEntries(target, size);
  const std::string root = RootOf(before);

  // Followers first: stopping the leader first would let a follower be
  // elected and write (a new leader registers its cosigner key) while the
  // others still run.
  for (int k = 1; k <= kNodes; ++k) {
    const int i = (target + k) % kNodes;
    absl::StatusOr<int> code =
        nodes_[i].process->Stop(SIGTERM, milliseconds(30000));
    ASSERT_TRUE(code.ok()) << nodes_[i].name << ": " << code.status();
    EXPECT_EQ(*code, 0) << nodes_[i].name;
    nodes_[i].process.reset();
  }
  // What each stopped node holds, checked in full by `ledger-node verify`.
  for (int i = 0; i < kNodes; ++i) {
    absl::StatusOr<RunResult> verify =
        subprocess::Run({BinaryPath("node/ledger-node"), "verify", "--data",
                         DataDir(i), "--config", nodes_[i].config},
                        seconds(120));
    ASSERT_TRUE(verify.ok()) << verify.status();
    EXPECT_EQ(verify->exit_code, 0) << nodes_[i].name << ": " << verify->err;
    EXPECT_EQ(verify->out,
              StrCat("VALID: ", size, " entries, root ", root, "\n"))
        << nodes_[i].name;
  }

  // The old leader last, so that another node may well lead now.
  for (int k = 1; k <= kNodes; ++k) StartNode((target + k) % kNodes);
  const int new_leader = WaitForLeader(absl::Seconds(60));
  ASSERT_GE(new_leader, 0);
  ASSERT_TRUE(WaitForSize(size, absl::Seconds(60)));
  // Served: the same entries. A new leader that never led registers its
  // cosigner key first, which may add one entry after them.
  for (int i = 0; i < kNodes; ++i) {
    const uint64_t served = CommittedSize(i);
    std::printf("after the restart %s serves %llu entries (%llu before)%s\n",
                nodes_[i].name.c_str(), static_cast<unsigned long long>(served),
                static_cast<unsigned long long>(size),
                i == new_leader ? ", leading" : "");
    EXPECT_EQ(Leaves(i, size), before) << nodes_[i].name;
    for (const v1::Entry& e : Entries(i, size, served)) {
      EXPECT_EQ(e.event().type(), "key.registered")
          << nodes_[i].name << ": entry " << e.index()
          << " appended without a client";
    }
  }

  target = new_leader;
  for (int b = 5; b < 7; ++b) {
    history.push_back(
        Submit(Batch(700, b * 200, 200), &target, absl::Seconds(30)));
    ASSERT_EQ(history.back().outcome, Op::kOk) << "batch " << b;
  }
  FinalLog log;
  CheckFinalLog(history, &log);
  EXPECT_GT(log.size, size);
}

TEST_F(ClusterTest, KilledFollowerCatchesUp) {
  const int leader = WaitForLeader(absl::Seconds(60));
  ASSERT_GE(leader, 0);
  RegisterEmitter(leader);
  const int follower = (leader + 1) % kNodes;
  int target = leader;
  ASSERT_EQ(Submit(Batch(7, 0, 100), &target, absl::Seconds(30)).outcome,
            Op::kOk);
  KillNode(follower);
  for (int b = 1; b < 6; ++b) {
    ASSERT_EQ(
        Submit(Batch(7, b * 100, 100), &target, absl::Seconds(30)).outcome,
        Op::kOk);
  }
  StartNode(follower);
  const uint64_t size = CommittedSize(target);
  ASSERT_TRUE(WaitForSize(size, absl::Seconds(60)));
  EXPECT_EQ(Leaves(follower, size), Leaves(target, size));
}

// A follower whose write-ahead log was damaged while it was stopped must
// not serve a log other than the cluster's: it refuses to start (exit code
// 3, the ledger failed verification) or it starts and catches up. Once it
// refused, its data directory is removed (the operator's remedy) and it
// starts afresh and catches up. Returns whether it refused.
bool ClusterTest::RestartCorruptedFollower(WalDamage damage) {
  const int leader = WaitForLeader(absl::Seconds(60));
  EXPECT_GE(leader, 0);
  if (leader < 0) return false;
  RegisterEmitter(leader);
  const int follower = (leader + 1) % kNodes;
  std::vector<Op> history;
  int target = leader;
  for (int b = 0; b < 3; ++b) {
    history.push_back(
        Submit(Batch(800, b * 200, 200), &target, absl::Seconds(30)));
    EXPECT_EQ(history.back().outcome, Op::kOk) << "batch " << b;
    if (history.back().outcome != Op::kOk) return false;
  }
  const uint64_t held = CommittedSize(target);
  EXPECT_TRUE(WaitForSize(held, absl::Seconds(60)));
  absl::StatusOr<int> code =
      nodes_[follower].process->Stop(SIGTERM, milliseconds(30000));
  EXPECT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(code.value_or(-1), 0);
  nodes_[follower].process.reset();

  // Its largest write-ahead log file: the node's memtables are large, so
  // its entries are there, not in tables.
  std::filesystem::path wal;
  uintmax_t wal_size = 0;
  for (const auto& f :
       std::filesystem::directory_iterator(DataDir(follower) + "/db")) {
    if (f.path().extension() == ".log" && f.file_size() > wal_size) {
      wal = f.path();
      wal_size = f.file_size();
    }
  }
  EXPECT_GT(wal_size, 4096u) << "no write-ahead log in " << DataDir(follower);
  if (wal_size <= 4096) return false;
  if (damage == WalDamage::kFlippedBytes) {
    std::fstream file(wal, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(static_cast<std::streamoff>(wal_size / 2));
    char bytes[64];
    file.read(bytes, sizeof(bytes));
    for (char& c : bytes) c = static_cast<char>(c ^ 0x5a);
    file.seekp(static_cast<std::streamoff>(wal_size / 2));
    file.write(bytes, sizeof(bytes));
    EXPECT_TRUE(file.good()) << wal;
  } else {
    std::filesystem::resize_file(wal, wal_size / 2);
  }
  // The cluster goes on without it.
  for (int b = 3; b < 5; ++b) {
    history.push_back(
        Submit(Batch(800, b * 200, 200), &target, absl::Seconds(30)));
    EXPECT_EQ(history.back().outcome, Op::kOk) << "batch " << b;
    if (history.back().outcome != Op::kOk) return false;
  }

  const std::string log_path =
      StrCat(dir_, "/", nodes_[follower].name, ".damaged.log");
  absl::StatusOr<Process> p = Process::Start(
      {BinaryPath("node/ledger-node"), "--config", nodes_[follower].config},
      log_path);
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok()) return false;
  absl::StatusOr<std::string> line =
      p->WaitForLine("listening on ", seconds(120));
  bool refused = false;
  if (line.ok()) {
    // It started: whatever it serves is the cluster's log.
    nodes_[follower].process = *std::move(p);
    const uint64_t served = CommittedSize(follower);
    std::ifstream in(log_path);
    std::string opened;  // its log's "ledger size N" line
    for (std::string l; opened.empty() && std::getline(in, l);) {
      const size_t at = l.find("ledger size ");
      if (at != std::string::npos) opened = l.substr(at);
    }
    std::printf(
        "the damaged follower started with %s, serving %llu entries "
        "(%llu before it stopped)\n",
        opened.c_str(), static_cast<unsigned long long>(served),
        static_cast<unsigned long long>(held));
    EXPECT_EQ(Leaves(follower, served), Leaves(target, served));
  } else {
    refused = true;
    absl::StatusOr<int> exit = p->Wait(milliseconds(30000));
    EXPECT_TRUE(exit.ok()) << exit.status();
    EXPECT_EQ(exit.value_or(-1), 3)
        << "exit code 3: the ledger failed verification";
    std::ifstream in(log_path);
    const std::string err((std::istreambuf_iterator<char>(in)),
                          std::istreambuf_iterator<char>());
    const size_t why = err.find("failed verification; refusing to serve it");
    EXPECT_NE(why, std::string::npos) << err;
    std::printf("the damaged follower refused to start: %s",
                why == std::string::npos ? "" : err.substr(why).c_str());
    // The operator's remedy: a new data directory, filled from the peers.
    std::filesystem::remove_all(DataDir(follower));
    StartNode(follower);
  }
  FinalLog log;
  CheckFinalLog(history, &log);
  return refused;
}

// Flipped bytes inside the log fail a record's checksum; RocksDB opens the
// log with kTolerateCorruptedTailRecords (ledger/store.cc), which takes
// damage before the last record as corruption: the node must refuse.
TEST_F(ClusterTest, FollowerWithFlippedLogBytesRefusesToStart) {
  EXPECT_TRUE(RestartCorruptedFollower(WalDamage::kFlippedBytes));
}

// A log cut inside a record looks like a torn write at its end and is
// tolerated: the follower opens with fewer entries than it acknowledged.
// It must then serve no other log than the cluster's and catch up (or
// refuse to start).
TEST_F(ClusterTest, FollowerWithTruncatedLogServesNoOtherLog) {
  RestartCorruptedFollower(WalDamage::kTruncated);
}

TEST_F(ClusterTest, FollowersServeCosignedCheckpointsAndTheirWrites) {
  const int leader = WaitForLeader(absl::Seconds(60));
  ASSERT_GE(leader, 0) << "no leader within 60 s";
  RegisterEmitter(leader);
  int target = leader;
  Op op = Submit(Batch(7, 0, 200), &target, absl::Seconds(30));
  ASSERT_EQ(op.outcome, Op::kOk);
  ASSERT_EQ(target, leader);
  const uint64_t last = op.indexes.back();
  const int follower = (leader + 1) % kNodes;

  // Read-your-writes: the follower answers once it holds the entry.
  auto query = v1::Query::NewStub(grpc::CreateChannel(
      nodes_[follower].address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext read;
  read.AddMetadata("ledger-min-size", std::to_string(last + 1));
  read.set_deadline(std::chrono::system_clock::now() + seconds(10));
  v1::GetEntryRequest get;
  get.set_index(last);
  v1::Entry entry;
  grpc::Status s = query->GetEntry(&read, get, &entry);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(entry.index(), last);

  // A write to the follower names the leader in its trailing metadata.
  auto ingest = v1::Ingest::NewStub(grpc::CreateChannel(
      nodes_[follower].address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext write;
  write.set_deadline(std::chrono::system_clock::now() + seconds(10));
  v1::AppendBatchResponse appended;
  s = ingest->AppendBatch(&write, Batch(7, 1000, 1), &appended);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  auto hint = write.GetServerTrailingMetadata().find("ledger-leader");
  ASSERT_NE(hint, write.GetServerTrailingMetadata().end());
  EXPECT_EQ(std::string(hint->second.data(), hint->second.size()),
            nodes_[leader].address);

  // Every node ends with the same checkpoint of the committed head, and
  // its note verifies with the keys the nodes list: the log key and all
  // three nodes' cosigner keys (each registered by then).
  const uint64_t size = CommittedSize(leader);
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  std::vector<std::string> notes(kNodes);
  std::vector<crypto::NoteVerifier> verifiers;
  while (absl::Now() < deadline) {
    bool same = true;
    for (int i = 0; i < kNodes; ++i) {
      LedgerClient c(nodes_[i].address, milliseconds(5000));
      absl::StatusOr<v1::Checkpoint> cp = c.GetCheckpoint();
      notes[i] = cp.ok() && cp->size() >= size ? cp->note() : "";
      same = same && !notes[i].empty() && notes[i] == notes[0];
    }
    LedgerClient c(nodes_[follower].address, milliseconds(5000));
    absl::StatusOr<v1::NodeInfo> info = c.GetNodeInfo();
    verifiers.clear();
    if (info.ok()) {
      for (const std::string& vkey : info->note_verifier_keys()) {
        absl::StatusOr<crypto::NoteVerifier> v = crypto::ParseVerifierKey(vkey);
        ASSERT_TRUE(v.ok()) << v.status() << ": " << vkey;
        verifiers.push_back(*v);
      }
    }
    if (same && verifiers.size() == 1 + kNodes) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_FALSE(notes[0].empty()) << "no checkpoint of size " << size;
  for (int i = 1; i < kNodes; ++i) {
    EXPECT_EQ(notes[i], notes[0]) << nodes_[i].name;
  }
  ASSERT_EQ(verifiers.size(), 1u + kNodes) << "log key and 3 cosigner keys";
  absl::StatusOr<crypto::Note> note = crypto::ParseNote(notes[0]);
  ASSERT_TRUE(note.ok()) << note.status();
  absl::StatusOr<std::vector<crypto::VerifiedSignature>> verified =
      crypto::VerifyNote(*note, verifiers);
  ASSERT_TRUE(verified.ok()) << verified.status() << "\n" << notes[0];
  size_t cosignatures = 0;
  for (const crypto::VerifiedSignature& v : *verified) {
    if (v.timestamp.has_value()) ++cosignatures;
  }
  // A majority of the three (a follower still applying the last group
  // when the checkpoint was made does not sign it).
  EXPECT_GE(cosignatures, 2u) << notes[0];
  EXPECT_TRUE(ledger::OpenCheckpoint(notes[0], verifiers, kOrigin).ok());
}

// What the soak did, for its summary.
struct SoakFaults {
  int node_kills = 0;
  int etcd_kills = 0;
  int etcd_leader_kills = 0;
  int step_downs = 0;      // nodes that exited 4 and were restarted
  int refused_starts = 0;  // restarts that the node refused (exit 3)
  std::vector<absl::Time> leader_kills;
};

// The soak: faults for LEDGER_SOAK_SECONDS under continuous load (see the
// top of this file). Skipped in SetUp, before etcd or any node starts, so
// that it costs the default run nothing.
class ClusterSoakTest : public ClusterTest {
 protected:
  void SetUp() override {
    const char* soak = std::getenv("LEDGER_SOAK_SECONDS");
    if (soak == nullptr || *soak == '\0') {
      GTEST_SKIP() << "a soak of minutes: set LEDGER_SOAK_SECONDS, or run "
                      "ctest --test-dir build -L soak (600 s)";
    }
    const std::optional<uint64_t> seconds = EnvNumber("LEDGER_SOAK_SECONDS");
    ASSERT_TRUE(seconds.has_value() && *seconds > 0)
        << "LEDGER_SOAK_SECONDS=" << soak
        << ": expected a whole number of seconds above 0";
    duration_ = absl::Seconds(*seconds);
    if (std::getenv("LEDGER_SOAK_INTERVAL") != nullptr) {
      const std::optional<uint64_t> interval =
          EnvNumber("LEDGER_SOAK_INTERVAL");
      ASSERT_TRUE(interval.has_value() && *interval > 0)
          << "LEDGER_SOAK_INTERVAL=" << std::getenv("LEDGER_SOAK_INTERVAL")
          << ": expected a whole number of seconds above 0";
      interval_ = absl::Seconds(*interval);
    }
    if (std::getenv("LEDGER_SOAK_SEED") != nullptr) {
      const std::optional<uint64_t> seed = EnvNumber("LEDGER_SOAK_SEED");
      ASSERT_TRUE(seed.has_value())
          << "LEDGER_SOAK_SEED=" << std::getenv("LEDGER_SOAK_SEED")
          << ": expected a whole number";
      seed_ = *seed;
    } else {
      seed_ = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
    }
    ClusterTest::SetUp();
  }

  void TearDown() override {
    if (!dir_.empty()) ClusterTest::TearDown();  // else skipped before SetUp
  }

  // The whole number in environment variable `name`; none if unset or
  // not a number.
  static std::optional<uint64_t> EnvNumber(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr) return std::nullopt;
    return ParseCanonicalUint64(value);
  }

  // Whether node `i` says its write path runs (it leads).
  bool Leads(int i) {
    LedgerClient c(nodes_[i].address, milliseconds(1000));
    absl::StatusOr<v1::NodeInfo> info = c.GetNodeInfo();
    return info.ok() && info->write_state() == "running";
  }

  // Starts node `i` again, as its supervisor would. A node that refuses
  // to start is a failure of the soak, reported with the reason its log
  // gives; so that the soak goes on (and finds what else there is), its
  // data directory is then set aside (kept, renamed, for inspection) and
  // it starts afresh, filled from its peers: the operator's remedy.
  void SuperviseStart(int i) {
    const std::string log =
        StrCat(dir_, "/", nodes_[i].name, ".", ++starts_, ".log");
    absl::StatusOr<Process> p = Process::Start(
        {BinaryPath("node/ledger-node"), "--config", nodes_[i].config}, log);
    ASSERT_TRUE(p.ok()) << p.status();
    if (p->WaitForLine("listening on ", seconds(120)).ok()) {
      nodes_[i].process = *std::move(p);
      return;
    }
    const absl::StatusOr<int> code = p->Wait(milliseconds(30000));
    std::ifstream in(log);
    std::string why;  // the node's last line
    for (std::string l; std::getline(in, l);) why = l;
    const std::string kept = StrCat(DataDir(i), ".refused.", starts_);
    ADD_FAILURE() << nodes_[i].name << " refused to start (exit code "
                  << (code.ok() ? StrCat(*code) : code.status().ToString())
                  << "; its log " << log << ", its data directory kept as "
                  << kept << "): " << why;
    ++faults_.refused_starts;
    std::error_code error;
    std::filesystem::rename(DataDir(i), kept, error);
    ASSERT_FALSE(error) << DataDir(i) << ": " << error.message();
    ASSERT_NO_FATAL_FAILURE(StartNode(i));
  }

  // RestartDeposedNodes through SuperviseStart.
  void RestartDeposed() {
    for (int i = 0; i < kNodes; ++i) {
      if (!nodes_[i].process) continue;
      absl::StatusOr<int> code = nodes_[i].process->Wait(milliseconds(0));
      if (!code.ok()) continue;  // still running
      nodes_[i].process.reset();
      EXPECT_EQ(*code, 4) << nodes_[i].name << " exited with " << *code
                          << " (4: a leader stepped down)";
      std::printf("%s stepped down (exit code %d); restarting it\n",
                  nodes_[i].name.c_str(), *code);
      ++faults_.step_downs;
      ASSERT_NO_FATAL_FAILURE(SuperviseStart(i));
    }
  }

  absl::Duration duration_;
  absl::Duration interval_ = absl::Seconds(5);
  uint64_t seed_ = 0;
  SoakFaults faults_;
};

// Every few seconds a random ledger node or a random etcd member is killed
// with SIGKILL. The one of the same kind killed before is restarted first,
// so at most one node and one etcd member are down at once: two of three
// of each remain, a majority of both. A leader that
// loses its lease meanwhile exits 4 and is restarted at once, as its
// supervisor would. Afterwards everything is restarted, an append must be
// acknowledged, and the clients' history is checked.
TEST_F(ClusterSoakTest, FaultsUnderContinuousLoadLoseNothing) {
  const int first_leader = WaitForLeader(absl::Seconds(60));
  ASSERT_GE(first_leader, 0) << "no leader within 60 s";
  RegisterEmitter(first_leader);
  std::printf(
      "soak: faults for %s, one every %s (0.8 to 1.2 times), seed %llu "
      "(LEDGER_SOAK_SEED=%llu repeats what is killed; timing still "
      "varies)\n",
      absl::FormatDuration(duration_).c_str(),
      absl::FormatDuration(interval_).c_str(),
      static_cast<unsigned long long>(seed_),
      static_cast<unsigned long long>(seed_));
  std::fflush(stdout);

  std::mt19937_64 rng(seed_);
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  LoadShape shape;
  shape.clients = 4;
  shape.batches = 1'000'000;  // a bound only: they stop with the faults
  shape.events = 20;
  shape.until_during_returns = true;
  SoakFaults& faults = faults_;
  const absl::Time start = absl::Now();
  absl::Time faults_end = start;
  std::vector<Op> history =
      RunLoad(first_leader, 1000, shape, [&](const std::atomic<int>& acked) {
        const absl::Time end = start + duration_;
        int node_down = -1;
        int etcd_down = -1;
        while (absl::Now() < end) {
          const absl::Time next =
              std::min(end, absl::Now() + interval_ * jitter(rng));
          while (absl::Now() < next) {
            ASSERT_NO_FATAL_FAILURE(RestartDeposed());
            absl::SleepFor(absl::Milliseconds(100));
          }
          if (absl::Now() >= end) break;
          ASSERT_NO_FATAL_FAILURE(RestartDeposed());
          std::string what;
          if (rng() % 2 == 0) {
            if (node_down >= 0) {
              ASSERT_NO_FATAL_FAILURE(SuperviseStart(node_down));
              node_down = -1;
            }
            const int i = static_cast<int>(rng() % kNodes);
            const bool leader = Leads(i);
            if (leader) faults.leader_kills.push_back(absl::Now());
            ASSERT_NO_FATAL_FAILURE(KillNode(i));
            node_down = i;
            ++faults.node_kills;
            what = StrCat("ledger node ", nodes_[i].name,
                          leader ? " (leading)" : "");
          } else {
            if (etcd_down >= 0) {
              const absl::Status restarted = etcd_->Restart(etcd_down);
              ASSERT_TRUE(restarted.ok())
                  << "etcd member " << etcd_down << ": " << restarted;
              etcd_down = -1;
            }
            const int m = static_cast<int>(rng() % 3);
            const bool leader = EtcdLeader((m + 1) % 3) == m;
            const absl::Status killed = etcd_->Kill(m);
            ASSERT_TRUE(killed.ok()) << "etcd member " << m << ": " << killed;
            etcd_down = m;
            ++faults.etcd_kills;
            if (leader) ++faults.etcd_leader_kills;
            what = StrCat("etcd member ", m, leader ? " (etcd's leader)" : "");
          }
          std::printf("[%6.1f s] kill -9 %s; batches acknowledged so far %d\n",
                      absl::ToDoubleSeconds(absl::Now() - start), what.c_str(),
                      acked.load());
          std::fflush(stdout);
        }
        faults_end = absl::Now();
        // The faults stop: whatever is down comes back.
        if (node_down >= 0) {
          ASSERT_NO_FATAL_FAILURE(SuperviseStart(node_down));
        }
        if (etcd_down >= 0) {
          const absl::Status restarted = etcd_->Restart(etcd_down);
          ASSERT_TRUE(restarted.ok())
              << "etcd member " << etcd_down << ": " << restarted;
        }
        ASSERT_NO_FATAL_FAILURE(RestartDeposed());
      });
  const absl::Time load_end = absl::Now();

  // Recovered: a leader, and an append acknowledged through it; then the
  // check. Skipped if the soak could not go on (the summary says how far
  // it got).
  FinalLog log;
  int target = -1;
  if (!HasFatalFailure()) {
    RestartDeposed();
    target = WaitForLeader(absl::Seconds(60));
    EXPECT_GE(target, 0) << "no leader within 60 s of the last fault";
  }
  if (target >= 0) {
    history.push_back(Submit(Batch(1999, 0, 20), &target, absl::Seconds(30)));
    EXPECT_EQ(history.back().outcome, Op::kOk)
        << "no append acknowledged once the faults stopped";
    CheckFinalLog(history, &log);
  }

  int outcomes[3] = {0, 0, 0};
  uint64_t events = 0;
  for (const Op& op : history) {
    ++outcomes[op.outcome];
    if (op.outcome == Op::kOk) events += op.indexes.size();
  }
  std::vector<absl::Duration> failovers;
  for (const absl::Time t : faults.leader_kills) {
    failovers.push_back(FirstAckAfter(history, t));
    EXPECT_LT(failovers.back(), absl::Seconds(30))
        << "no append acknowledged within 30 s of killing the leader at "
        << absl::FormatDuration(t - start);
  }
  std::sort(failovers.begin(), failovers.end());
  const auto format = [](absl::Duration d) {
    return absl::FormatDuration(absl::Trunc(d, absl::Milliseconds(1)));
  };
  std::printf(
      "soak summary (seed %llu):\n"
      "  faults for %s, load for %s, %s in all\n"
      "  faults: %d ledger nodes killed (%zu leading), %d etcd members "
      "killed (%d etcd's leader); leaders that stepped down (exit 4) and "
      "were restarted: %d; restarts refused (exit 3): %d\n"
      "  appends: %d ok, %d failed, %d unknown; %llu events acknowledged\n"
      "  failover after a leader kill (the first append invoked after it "
      "acknowledged): %s\n"
      "  final size: %llu entries\n"
      "  node logs and data: %s (removed if the soak passed)\n",
      static_cast<unsigned long long>(seed_),
      format(faults_end - start).c_str(), format(load_end - start).c_str(),
      format(absl::Now() - start).c_str(), faults.node_kills,
      faults.leader_kills.size(), faults.etcd_kills, faults.etcd_leader_kills,
      faults.step_downs, faults.refused_starts, outcomes[Op::kOk],
      outcomes[Op::kFailed], outcomes[Op::kUnknown],
      static_cast<unsigned long long>(events),
      failovers.empty()
          ? "no leader was killed"
          : StrCat("min ", format(failovers.front()), ", median ",
                   format(failovers[failovers.size() / 2]), ", max ",
                   format(failovers.back()), " (", failovers.size(), " kills)")
                .c_str(),
      static_cast<unsigned long long>(log.size), dir_.c_str());
}

}  // namespace
}  // namespace ledger::testing
