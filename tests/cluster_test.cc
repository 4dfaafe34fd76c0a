// A replicated cluster of real processes: three etcd members (Debian's
// /usr/bin/etcd) and three ledger-node processes on loopback ports, started
// by the test with a shared log key. It appends through the documented gRPC
// API the way a platform would (following the leader named in a
// follower's refusal) and checks the cluster's promises:
//
//   - every node ends with the same entries, byte for byte;
//   - kill -9 of the leader under load from several clients: a new leader
//     takes over, and a Jepsen-style check of every append's invocation and
//     outcome finds every acknowledged event exactly once, nothing out of
//     real-time order, and the killed node catches up when restarted;
//   - a follower killed and restarted catches up;
//   - every node serves the same checkpoint, cosigned by all three nodes
//     and verifiable with the keys GetNodeInfo lists; a follower answers a
//     read that names a minimum size (read-your-writes), and its refusal
//     of a write names the leader in the trailing metadata.
//
// The failover time (kill to the next acknowledged append) is printed.

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "base/strings.h"
#include "crypto/note.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "ledger/checkpoint.h"
#include "base/sync.h"
#include "gtest/gtest.h"
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
      out << "data_dir = \"" << dir_ << "/" << nodes_[i].name << "\"\n"
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

  // The node whose write path runs, within `timeout`; -1 if none.
  int WaitForLeader(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      for (int i = 0; i < kNodes; ++i) {
        if (!nodes_[i].process) continue;
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

  // Every entry [0, size) of node `i`, as leaf hashes.
  std::vector<std::string> Leaves(int i, uint64_t size) {
    std::vector<std::string> out;
    LedgerClient c(nodes_[i].address, milliseconds(30000));
    absl::Status s = c.ScanEntries(0, size, [&](const v1::Entry& e) {
      out.push_back(e.leaf_hash());
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << nodes_[i].name << ": " << s;
    return out;
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
          if (nodes_[i].address == address) *target = i;
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

  constexpr int kClients = 3;
  constexpr int kBatchesPerClient = 30;
  constexpr int kEventsPerBatch = 20;
  Mutex mu;
  std::vector<Op> history;
  std::atomic<int> acked{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      int target = first_leader;
      for (int b = 0; b < kBatchesPerClient; ++b) {
        Op op = Submit(Batch(100 + c, b * kEventsPerBatch, kEventsPerBatch),
                       &target, absl::Seconds(40));
        if (op.outcome == Op::kOk) acked.fetch_add(1);
        MutexLock lock(&mu);
        history.push_back(std::move(op));
      }
    });
  }
  // Kill the leader once a third of the batches are acknowledged.
  const absl::Time wait_until = absl::Now() + absl::Seconds(120);
  while (acked.load() < kClients * kBatchesPerClient / 3 &&
         absl::Now() < wait_until) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  const absl::Time killed_at = absl::Now();
  KillNode(first_leader);
  for (std::thread& t : clients) t.join();

  // Failover time: from the kill to the first acknowledgement of an append
  // invoked after it.
  absl::Duration failover = absl::InfiniteDuration();
  for (const Op& op : history) {
    if (op.outcome == Op::kOk && op.invoked >= killed_at) {
      failover = std::min(failover, op.returned - killed_at);
    }
  }
  std::printf(
      "failover: first append invoked after the kill acknowledged "
      "%s after it\n",
      absl::FormatDuration(failover).c_str());
  EXPECT_LT(failover, absl::Seconds(30));

  const int leader = WaitForLeader(absl::Seconds(30));
  ASSERT_GE(leader, 0);
  ASSERT_NE(leader, first_leader);
  StartNode(first_leader);  // it restarts as a follower and catches up
  const uint64_t size = CommittedSize(leader);
  ASSERT_TRUE(WaitForSize(size, absl::Seconds(60)));

  // The final log, by event id.
  std::map<std::string, std::vector<uint64_t>> where;
  LedgerClient reader(nodes_[leader].address, milliseconds(30000));
  ASSERT_TRUE(reader
                  .ScanEntries(0, size,
                               [&](const v1::Entry& e) {
                                 where[e.event().event_id()].push_back(
                                     e.index());
                                 return absl::OkStatus();
                               })
                  .ok());
  size_t ok = 0;
  for (const Op& op : history) {
    if (op.outcome != Op::kOk) continue;
    ++ok;
    for (size_t k = 0; k < op.event_ids.size(); ++k) {
      auto it = where.find(op.event_ids[k]);
      ASSERT_NE(it, where.end())
          << "acknowledged event " << op.event_ids[k] << " is missing";
      ASSERT_EQ(it->second.size(), 1u)
          << op.event_ids[k] << " is stored " << it->second.size() << " times";
      EXPECT_EQ(it->second[0], op.indexes[k]);
    }
  }
  EXPECT_EQ(ok, history.size()) << "every append eventually succeeded";
  // Real-time order: an append acknowledged before another was invoked has
  // the lower indexes.
  for (const Op& a : history) {
    if (a.outcome != Op::kOk) continue;
    const uint64_t a_max =
        *std::max_element(a.indexes.begin(), a.indexes.end());
    for (const Op& b : history) {
      if (b.outcome != Op::kOk || !(a.returned < b.invoked)) continue;
      const uint64_t b_min =
          *std::min_element(b.indexes.begin(), b.indexes.end());
      EXPECT_LT(a_max, b_min);
    }
  }
  // Every node, the restarted one included, holds the same entries.
  const std::vector<std::string> reference = Leaves(leader, size);
  for (int i = 0; i < kNodes; ++i) {
    EXPECT_EQ(Leaves(i, size), reference) << nodes_[i].name;
  }
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
        absl::StatusOr<crypto::NoteVerifier> v =
            crypto::ParseVerifierKey(vkey);
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

}  // namespace
}  // namespace ledger::testing
