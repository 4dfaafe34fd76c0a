// The replication logic (node/replication.h) and the etcd coordinator, driven
// step by step through scripted scenarios (node/testdata/replication/*.txt),
// deterministically: real ledgers in temporary directories, an in-memory
// etcd (FakeEtcd), a network that delivers, drops, duplicates and reorders
// only when a step says so, and no clock. After every step the invariants
// below are checked; a scenario states what it expects with `expect` steps.
//
// Invariants (checked after every step):
//   I1 committed prefixes agree: for every head ever committed, every
//      running node whose verified committed size reaches it has its root;
//   I2 no committed entry changes: every committed head extends the
//      previous one (the committing leader holds all earlier roots);
//   I3 a leader commits only while etcd names it with its epoch;
//   I4 a follower acknowledges a prefix only if its own root there equals
//      the leader's (it recomputed the leader's tree);
//   I5 no node serves past the committed head.
//
// Steps (one per line, `#` starts a comment):
//   nodes A B C...           the cluster (first line)
//   campaign A won|lost      A campaigns; on winning it completes its log to
//                            the committed head from its peers (bootstrapping
//                            an empty cluster: genesis, emitter key) and leads
//   campaign A fails         A wins but cannot complete its log; it resigns
//   append A N               A (believing it leads) appends a group of N events
//   send A B                 A's next request to B goes on the wire
//   deliver A B              the oldest request A->B arrives at B; its answer
//                            goes on the wire B->A
//   deliver-newest A B       the newest instead (reordering)
//   dup A B                  the oldest request A->B is copied (delivered
//   twice) drop A B                 the oldest request A->B is lost corrupt A B
//   a byte of the oldest request A->B changes max-entries N            leaders
//   elected from now on send at most N
//                            entries per request
//   answer B A               the oldest answer B->A arrives at A
//   timeout A B              A gives up on its request in flight to B
//   replicate A              send, deliver and answer between A and every
//                            peer until nothing is left to send
//   commit A ok|no-quorum|fenced
//   crash A / restart A      stop A's process (its ledger closed) / start it
//   expire A                 A's lease expires; A notices
//   pause A                  A's lease expires; A does not notice (a paused
//                            process: it still believes it leads) until
//   resume A
//   partition A B / C        messages between the groups are lost; heal
//   expect size|verified A N
//   expect committed N
//   expect refused A B       the last request A->B delivered was refused
//   expect accepted A B N    ... was accepted, B holding N entries

#include <dirent.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "ledger/ledger_testing.h"
#include "node/etcd_coordinator.h"
#include "node/fake_etcd_testing.h"
#include "node/replication.h"

namespace ledger::node {
namespace {

using absl::StrCat;
using ledger::format_testing::EmitterKey;
using ledger::format_testing::GenesisEvent;
using ledger::format_testing::kNewYear2026Ns;
using ledger::format_testing::NodeKey;
using ledger::testing::Annotation;
using ledger::testing::EmitterRegistration;
using ledger::testing::kOrigin;
using ledger::testing::SignedBatch;

struct WireRequest {
  ReplicateRequest request;
  // The sender's root at every size the request could leave a follower at
  // (base .. base + entries), taken when it was sent.
  std::map<uint64_t, Hash> roots;
};

struct WireAnswer {
  uint64_t id = 0;
  absl::StatusOr<ReplicateResponse> response;
};

struct Node {
  std::string name;
  std::string dir;
  bool up = false;
  std::unique_ptr<Ledger> ledger;
  std::unique_ptr<Replica> replica;
  std::unique_ptr<EtcdCoordinator> coordinator;
  std::unique_ptr<ReplicationLeader> leader;  // while it believes it leads
  int64_t lease = 0;  // its lease in etcd (outlives a crashed process)
  // Paused past its lease: it acts on its belief that it leads (until
  // `resume`), whatever its coordinator has learned meanwhile.
  bool paused = false;
};

class Scenario {
 public:
  explicit Scenario(std::string path) : path_(std::move(path)) {
    char tmpl[] = "/tmp/replication_scenario.XXXXXX";
    EXPECT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  ~Scenario() {
    for (auto& [name, node] : nodes_) Stop(node);
    std::filesystem::remove_all(root_);
  }

  void Run() {
    std::ifstream in(path_);
    ASSERT_TRUE(in.good()) << "cannot read " << path_;
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      line = std::string(absl::StripAsciiWhitespace(
          line.substr(0, std::min(line.find('#'), line.size()))));
      if (line.empty()) continue;
      where_ = StrCat(std::filesystem::path(path_).filename().string(), ":",
                      number, ": ", line);
      SCOPED_TRACE(where_);
      std::vector<std::string> w = absl::StrSplit(line, ' ', absl::SkipEmpty());
      Step(w);
      if (::testing::Test::HasFatalFailure()) return;
      CheckInvariants();
      if (::testing::Test::HasFailure()) return;
    }
  }

 private:
  LedgerOptions Options() const {
    LedgerOptions options;
    options.origin = kOrigin;
    options.checkpoint_verifiers = {log_signer_.verifier()};
    options.node_key = node_key_;
    return options;
  }

  Node& N(const std::string& name) {
    auto it = nodes_.find(name);
    if (it == nodes_.end()) {
      ADD_FAILURE() << "unknown node " << name;
      static Node none;
      return none;
    }
    return it->second;
  }

  std::vector<std::string> PeersOf(const std::string& name) const {
    std::vector<std::string> peers;
    for (const auto& [n, node] : nodes_) {
      if (n != name) peers.push_back(n);
    }
    return peers;
  }

  bool Connected(const std::string& a, const std::string& b) const {
    if (!nodes_.at(a).up || !nodes_.at(b).up) return false;
    if (side_.empty()) return true;
    return side_.count(a) == side_.count(b);
  }

  void Start(Node& node) {
    absl::StatusOr<std::unique_ptr<Ledger>> l =
        Ledger::Open(node.dir, Options());
    ASSERT_TRUE(l.ok()) << l.status();
    node.ledger = *std::move(l);
    node.replica = std::make_unique<Replica>(node.ledger.get(), node.name);
    EtcdCoordinatorOptions options;
    options.origin = kOrigin;
    options.node_name = node.name;
    absl::StatusOr<std::unique_ptr<EtcdCoordinator>> c =
        EtcdCoordinator::Start(&etcd_, options);
    ASSERT_TRUE(c.ok()) << c.status();
    node.coordinator = *std::move(c);
    node.up = true;
  }

  void Stop(Node& node) {
    if (node.coordinator) node.lease = node.coordinator->lease_id();
    node.leader.reset();
    node.coordinator.reset();
    node.replica.reset();
    node.ledger.reset();
    node.up = false;
  }

  // A node whose coordinator knows it was deposed stops leading.
  void NoticeDeposed() {
    for (auto& [name, node] : nodes_) {
      if (node.up && !node.paused && node.leader &&
          !node.coordinator->is_leader()) {
        node.leader.reset();
        node.replica->SetFollowing();
      }
    }
  }

  absl::StatusOr<FetchResponse> Fetch(const std::string& from,
                                      const std::string& peer,
                                      const FetchRequest& request) {
    if (!Connected(from, peer)) {
      return absl::UnavailableError(StrCat(peer, " is unreachable"));
    }
    return N(peer).replica->HandleFetch(request);
  }

  // `expect`: "won", "lost", or "fails" (won, but the log could not be
  // completed to the committed head: the node resigns).
  void Campaign(Node& node, const std::string& expect) {
    const bool expect_won = expect != "lost";
    ASSERT_TRUE(node.up) << node.name << " is down";
    absl::StatusOr<bool> won = node.coordinator->Campaign();
    ASSERT_TRUE(won.ok()) << won.status();
    ASSERT_EQ(*won, expect_won);
    if (!*won) return;
    const ledger::Head committed = node.coordinator->Committed();
    absl::Status caught = node.replica->CatchUp(
        committed, node.coordinator->epoch(), PeersOf(node.name),
        [&](const std::string& peer, const FetchRequest& request) {
          return Fetch(node.name, peer, request);
        });
    if (expect == "fails") {
      EXPECT_FALSE(caught.ok());
      ASSERT_TRUE(node.coordinator->Resign().ok());
      return;
    }
    ASSERT_TRUE(caught.ok()) << caught;
    node.replica->SetLeading(node.coordinator->epoch());
    ReplicationLeaderOptions options;
    options.max_entries = max_entries_;
    node.leader = std::make_unique<ReplicationLeader>(
        node.ledger.get(), node.name, node.coordinator->epoch(),
        PeersOf(node.name), options);
    node.leader->SetCommitted(committed);
    if (node.ledger->head().size == 0) {
      // A new cluster: the first leader writes genesis and the emitter key.
      AppendBatch(node, SignedBatch({GenesisEvent()}, node_key_));
      AppendBatch(node, SignedBatch({EmitterRegistration()}, node_key_));
    }
  }

  void AppendBatch(Node& node, VerifiedBatch batch) {
    const VerifiedBatch* batches[] = {&batch};
    clock_ns_ += 1000;
    GroupResult g = node.ledger->Append(batches, clock_ns_);
    ASSERT_TRUE(g.status.ok()) << g.status;
    ASSERT_TRUE(g.batches[0].status.ok()) << g.batches[0].status;
    node.leader->SetDurable(node.ledger->head());
  }

  void Send(Node& from, const std::string& to) {
    ASSERT_TRUE(from.up && from.leader) << from.name << " does not lead";
    absl::StatusOr<std::optional<ReplicateRequest>> r =
        from.leader->NextRequest(to);
    ASSERT_TRUE(r.ok()) << r.status();
    if (!r->has_value()) return;
    WireRequest wire{**std::move(r), {}};
    last_sent_[{from.name, to}] = wire.request.id;
    const uint64_t base = wire.request.base_size;
    for (uint64_t s = base; s <= base + wire.request.entries.size(); ++s) {
      wire.roots[s] = *from.ledger->RootAt(s);
    }
    requests_[{from.name, to}].push_back(std::move(wire));
  }

  void Deliver(const std::string& from, const std::string& to, bool newest) {
    auto& q = requests_[{from, to}];
    ASSERT_FALSE(q.empty()) << "no request " << from << "->" << to;
    WireRequest wire;
    if (newest) {
      wire = std::move(q.back());
      q.pop_back();
    } else {
      wire = std::move(q.front());
      q.pop_front();
    }
    if (!Connected(from, to)) return;  // lost
    absl::StatusOr<ReplicateResponse> response =
        N(to).replica->HandleReplicate(wire.request);
    last_[{from, to}] = response;
    if (response.ok() && response->accepted) {
      // I4: the follower acknowledges only a prefix whose root it holds and
      // which equals the leader's.
      auto it = wire.roots.find(response->size);
      if (it != wire.roots.end()) {
        EXPECT_EQ(*N(to).ledger->RootAt(response->size), it->second)
            << "I4: " << to << " acknowledged " << response->size
            << " entries with a root other than " << from << "'s";
      } else {
        EXPECT_LE(response->size, wire.request.base_size)
            << "I4: acknowledged a size the request did not reach";
      }
    }
    answers_[{to, from}].push_back({wire.request.id, std::move(response)});
  }

  void Answer(const std::string& from, const std::string& to) {
    auto& q = answers_[{from, to}];
    ASSERT_FALSE(q.empty()) << "no answer " << from << "->" << to;
    WireAnswer answer = std::move(q.front());
    q.pop_front();
    if (!Connected(from, to) || !N(to).leader) return;
    N(to).leader->OnResponse(from, answer.id, answer.response);
  }

  void Replicate(Node& leader) {
    for (int round = 0; round < 64; ++round) {
      bool any = false;
      for (const std::string& peer : PeersOf(leader.name)) {
        if (!Connected(leader.name, peer)) continue;
        Send(leader, peer);
        while (!requests_[{leader.name, peer}].empty()) {
          Deliver(leader.name, peer, false);
          // A refusal (a peer that believes it leads) is retried by the
          // next replicate, not in a loop here.
          if (last_[{leader.name, peer}].ok()) any = true;
        }
        while (!answers_[{peer, leader.name}].empty()) {
          Answer(peer, leader.name);
        }
      }
      if (!any) return;
    }
    ADD_FAILURE() << "replicate did not settle in 64 rounds";
  }

  void Commit(Node& node, const std::string& expect) {
    ASSERT_TRUE(node.up && node.leader) << node.name << " does not lead";
    const ledger::Head head = node.ledger->head();
    if (!node.leader->HasQuorum(head.size)) {
      EXPECT_EQ(expect, "no-quorum") << node.leader->Holding(head.size)
                                     << " of " << nodes_.size() << " hold it";
      return;
    }
    const int64_t epoch = node.coordinator->epoch();
    absl::Status status = node.coordinator->Commit(head);
    if (status.ok()) {
      // I3: etcd names this node, with this epoch, as the leader.
      std::optional<EtcdKeyValue> key = etcd_.Peek(EtcdLeaderKey(kOrigin));
      EXPECT_TRUE(key && key->create_revision == epoch &&
                  key->value == node.name)
          << "I3: " << node.name << " committed without leading";
      // I2: the new head extends every earlier one.
      for (const auto& [size, root] : committed_) {
        EXPECT_EQ(*node.ledger->RootAt(size), root)
            << "I2: committed head of " << size << " entries changed";
      }
      committed_[head.size] = head.root;
      node.leader->SetCommitted(head);
      node.replica->ObserveCommitted(head);
      EXPECT_EQ(expect, "ok");
    } else {
      EXPECT_EQ(expect, "fenced") << status;
      EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
    }
    NoticeDeposed();
  }

  void Expect(const std::vector<std::string>& w) {
    ASSERT_GE(w.size(), 3u);
    uint64_t n = 0;
    if (w[1] == "committed") {
      ASSERT_TRUE(absl::SimpleAtoi(w[2], &n));
      std::optional<EtcdKeyValue> kv = etcd_.Peek(EtcdHeadKey(kOrigin));
      const uint64_t size = kv ? DecodeHeadRecord(kv->value)->head.size : 0;
      EXPECT_EQ(size, n);
    } else if (w[1] == "size" || w[1] == "verified") {
      ASSERT_EQ(w.size(), 4u);
      ASSERT_TRUE(absl::SimpleAtoi(w[3], &n));
      Node& node = N(w[2]);
      ASSERT_TRUE(node.up);
      EXPECT_EQ(w[1] == "size" ? node.ledger->head().size
                               : node.replica->verified_committed().size,
                n);
    } else if (w[1] == "refused") {
      ASSERT_EQ(w.size(), 4u);
      auto it = last_.find({w[2], w[3]});
      ASSERT_NE(it, last_.end()) << "nothing delivered";
      EXPECT_FALSE(it->second.ok());
    } else if (w[1] == "accepted") {
      ASSERT_EQ(w.size(), 5u);
      ASSERT_TRUE(absl::SimpleAtoi(w[4], &n));
      auto it = last_.find({w[2], w[3]});
      ASSERT_NE(it, last_.end()) << "nothing delivered";
      ASSERT_TRUE(it->second.ok()) << it->second.status();
      EXPECT_TRUE(it->second->accepted);
      EXPECT_EQ(it->second->size, n);
    } else if (w[1] == "leader") {
      EXPECT_TRUE(N(w[2]).up && N(w[2]).leader);
    } else {
      FAIL() << "unknown expectation " << w[1];
    }
  }

  void Step(const std::vector<std::string>& w) {
    const std::string& op = w[0];
    auto arg = [&](size_t i) -> const std::string& {
      static const std::string empty;
      if (i >= w.size()) {
        ADD_FAILURE() << op << " needs more arguments";
        return empty;
      }
      return w[i];
    };
    if (op == "nodes") {
      for (size_t i = 1; i < w.size(); ++i) {
        Node& node = nodes_[w[i]];
        node.name = w[i];
        node.dir = StrCat(root_, "/", w[i]);
      }
      for (auto& [name, node] : nodes_) Start(node);
    } else if (op == "campaign") {
      Campaign(N(arg(1)), arg(2));
    } else if (op == "append") {
      Node& node = N(arg(1));
      ASSERT_TRUE(node.up && node.leader) << node.name << " does not lead";
      int count = 0;
      ASSERT_TRUE(absl::SimpleAtoi(arg(2), &count));
      std::vector<Event> events;
      for (int i = 0; i < count; ++i) {
        const int n = ++event_number_;
        events.push_back(Annotation(n, StrCat("item:", n % 5)));
      }
      AppendBatch(node, SignedBatch(std::move(events), emitter_key_));
    } else if (op == "send") {
      Send(N(arg(1)), arg(2));
    } else if (op == "deliver" || op == "deliver-newest") {
      Deliver(arg(1), arg(2), op == "deliver-newest");
    } else if (op == "dup") {
      auto& q = requests_[{arg(1), arg(2)}];
      ASSERT_FALSE(q.empty());
      q.push_back(q.front());
    } else if (op == "corrupt") {
      // One byte of the last entry of the oldest request A->B changes (its
      // risk byte, say, or a signature): B must refuse the whole group.
      auto& q = requests_[{arg(1), arg(2)}];
      ASSERT_FALSE(q.empty());
      ASSERT_FALSE(q.front().request.entries.empty());
      std::string& entry = q.front().request.entries.back();
      entry[entry.size() / 2] ^= 0x01;
    } else if (op == "max-entries") {
      ASSERT_TRUE(absl::SimpleAtoi(arg(1), &max_entries_));
    } else if (op == "drop") {
      auto& q = requests_[{arg(1), arg(2)}];
      ASSERT_FALSE(q.empty());
      q.pop_front();
    } else if (op == "answer") {
      Answer(arg(1), arg(2));
    } else if (op == "timeout") {
      // The request in flight (the last one sent) times out, as an RPC past
      // its deadline does.
      Node& node = N(arg(1));
      ASSERT_TRUE(node.leader);
      node.leader->OnResponse(arg(2), last_sent_[{arg(1), arg(2)}],
                              absl::DeadlineExceededError("timeout"));
    } else if (op == "replicate") {
      Replicate(N(arg(1)));
    } else if (op == "commit") {
      Commit(N(arg(1)), arg(2));
    } else if (op == "crash") {
      Stop(N(arg(1)));
    } else if (op == "restart") {
      Start(N(arg(1)));
    } else if (op == "expire" || op == "pause") {
      Node& node = N(arg(1));
      const int64_t lease =
          node.coordinator ? node.coordinator->lease_id() : node.lease;
      ASSERT_NE(lease, 0);
      etcd_.ExpireLease(lease, op == "expire");
      node.paused = op == "pause";
      NoticeDeposed();
    } else if (op == "resume") {
      N(arg(1)).paused = false;
      NoticeDeposed();
    } else if (op == "partition") {
      side_.clear();
      for (size_t i = 1; i < w.size() && w[i] != "/"; ++i) side_.insert(w[i]);
    } else if (op == "heal") {
      side_.clear();
    } else if (op == "expect") {
      Expect(w);
    } else {
      FAIL() << "unknown step " << op;
    }
  }

  void CheckInvariants() {
    std::optional<EtcdKeyValue> kv = etcd_.Peek(EtcdHeadKey(kOrigin));
    const uint64_t committed = kv ? DecodeHeadRecord(kv->value)->head.size : 0;
    for (auto& [name, node] : nodes_) {
      if (!node.up) continue;
      const ledger::Head verified = node.replica->verified_committed();
      // I5.
      EXPECT_LE(verified.size, committed) << "I5: " << name;
      // I1.
      for (const auto& [size, root] : committed_) {
        if (size > verified.size) break;
        EXPECT_EQ(*node.ledger->RootAt(size), root)
            << "I1: " << name << " differs at committed size " << size;
      }
    }
  }

  const std::string path_;
  std::string root_;
  std::string where_;
  FakeEtcd etcd_;
  std::map<std::string, Node> nodes_;
  std::set<std::string> side_;
  std::map<std::pair<std::string, std::string>, std::deque<WireRequest>>
      requests_;
  std::map<std::pair<std::string, std::string>, std::deque<WireAnswer>>
      answers_;
  std::map<std::pair<std::string, std::string>,
           absl::StatusOr<ReplicateResponse>>
      last_;
  std::map<std::pair<std::string, std::string>, uint64_t> last_sent_;
  std::map<uint64_t, Hash> committed_;  // every committed head: size -> root
  int64_t clock_ns_ = kNewYear2026Ns;
  int event_number_ = 100;
  uint32_t max_entries_ = ReplicationLeaderOptions{}.max_entries;
  crypto::Ed25519PrivateKey node_key_ = NodeKey();
  crypto::Ed25519PrivateKey emitter_key_ = EmitterKey();
  crypto::NoteSigner log_signer_{kOrigin, crypto::NoteSigType::kEd25519,
                                 NodeKey()};
};

std::vector<std::string> ScenarioFiles() {
  std::vector<std::string> files;
  for (const auto& e :
       std::filesystem::directory_iterator(LEDGER_REPLICATION_SCENARIOS)) {
    if (e.path().extension() == ".txt") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

class ReplicationScenarioTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ReplicationScenarioTest, Holds) {
  Scenario scenario(GetParam());
  scenario.Run();
}

INSTANTIATE_TEST_SUITE_P(
    Scenarios, ReplicationScenarioTest, ::testing::ValuesIn(ScenarioFiles()),
    [](const ::testing::TestParamInfo<std::string>& info) {
      std::string name = std::filesystem::path(info.param).stem().string();
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

}  // namespace
}  // namespace ledger::node
