#include "tools/bench/cluster.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/sync.h"
#include "etcd/etcdserverpb/rpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "tools/bench/cleanup.h"
#include "tools/bench/report.h"
#include "tools/bench/suite.h"
#include "tools/common/etcd_cluster.h"
#include "tools/ledgerctl/keys.h"

namespace ledger::bench {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr char kOrigin[] = "bench.cluster/log";
constexpr char kSubject[] = "bench-subject";
constexpr char kAppendBatch[] = "/ledger.v1.Ingest/AppendBatch";
constexpr char kEtcdPut[] = "/etcdserverpb.KV/Put";
constexpr int kNodes = 3;

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

Clock::duration FromSeconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(s));
}

// `v` with `digits` decimals (StrCat takes no floating point).
std::string Num(double v, int digits = 2) {
  char buf[64];
  snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

void Progress(const std::string& text) {
  std::cerr << "ledger-bench cluster: " << text << std::endl;
}

// Every child process of the run, for the signal cleanup (which runs on
// another thread): the members' and nodes' process IDs change as they are
// killed and restarted.
class ChildPids {
 public:
  void Add(pid_t pid) {
    MutexLock lock(&mu_);
    if (pid > 0) pids_.insert(pid);
  }
  void Remove(pid_t pid) {
    MutexLock lock(&mu_);
    pids_.erase(pid);
  }
  void KillAll() {
    MutexLock lock(&mu_);
    for (pid_t pid : pids_) kill(pid, SIGKILL);
  }

 private:
  Mutex mu_;
  std::set<pid_t> pids_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<client_tls::Endpoint> PlaintextEndpoint(
    const std::string& address) {
  client_tls::ClientSettings settings;
  settings.address = address;
  settings.insecure_plaintext = true;
  return client_tls::MakeEndpoint(settings);
}

IngestSpec IngestSpecFor(const ClusterBenchOptions& o, const std::string& name,
                         double rate) {
  IngestSpec spec;
  spec.name = name;
  spec.rpc = Rpc::kAppendBatch;
  spec.batch_size = o.batch_size;
  spec.clients = o.clients;
  spec.events = o.events;
  spec.rate = rate;
  spec.max_seconds = o.max_seconds;
  spec.warmup_events = o.warmup_events;
  return spec;
}

// The three etcd members and three ledger-node processes, in a temporary
// directory that goes with them.
class Cluster {
 public:
  // Starts the etcd members in a fresh temporary directory.
  static absl::StatusOr<std::unique_ptr<Cluster>> Start(const BenchEnv& env);
  ~Cluster();

  subprocess::EtcdCluster& etcd() { return *etcd_; }
  NodeProcess* node(int i) { return nodes_[i].process.get(); }
  const std::string& name(int i) const { return nodes_[i].name; }
  const std::string& address(int i) const { return nodes_[i].address; }
  std::string data_dir(int i) const { return nodes_[i].data_dir; }
  const crypto::NoteSigner& emitter() const { return emitter_; }
  const PayloadSeal& seal(int i) const { return seals_[i]; }
  const json& unplanned_exits() const { return unplanned_exits_; }

  // Writes the log key and the nodes' configurations, starts the nodes,
  // waits for a leader, registers the emitter and fetches each node's
  // payload key.
  absl::Status StartNodes(const ClusterBenchOptions& options);
  absl::Status StartNode(int i);
  absl::Status KillNode(int i);
  // The node whose write path runs (GetNodeInfo's write_state), within
  // `timeout_seconds`.
  absl::StatusOr<int> WaitForLeader(double timeout_seconds);
  // Restarts any node that ended on its own (a deposed leader exits), and
  // records it under unplanned_exits with `phase`.
  absl::Status ReviveExited(const std::string& phase);
  // Stops the nodes (SIGTERM) and the etcd members.
  void Stop();

 private:
  struct Node {
    std::string name, address, cluster_address, config, data_dir;
    std::unique_ptr<NodeProcess> process;
    int starts = 0;
  };
  explicit Cluster(const BenchEnv& env)
      : env_(env),
        emitter_("bench-emitter", crypto::NoteSigType::kEd25519,
                 crypto::Ed25519PrivateKey::Generate()) {}

  BenchEnv env_;
  std::string dir_;
  uint64_t cleanup_ = 0;
  std::shared_ptr<ChildPids> pids_ = std::make_shared<ChildPids>();
  std::unique_ptr<subprocess::EtcdCluster> etcd_;
  Node nodes_[kNodes];
  crypto::NoteSigner emitter_;
  PayloadSeal seals_[kNodes];
  json unplanned_exits_ = json::array();
};

absl::StatusOr<std::unique_ptr<Cluster>> Cluster::Start(const BenchEnv& env) {
  std::unique_ptr<Cluster> c(new Cluster(env));
  c->dir_ = MakeTempDir(env.work_dir, "ledger-bench-cluster");
  if (c->dir_.empty()) {
    return absl::InternalError("cannot create a temporary directory");
  }
  const std::string dir = c->dir_;
  const bool keep = env.keep;
  std::shared_ptr<ChildPids> pids = c->pids_;
  c->cleanup_ = RegisterCleanup([dir, keep, pids] {
    pids->KillAll();
    if (!keep) RemoveTree(dir);
  });
  std::error_code ec;
  std::filesystem::create_directories(dir + "/etcd", ec);
  if (ec) {
    return absl::InternalError(
        StrCat("cannot create ", dir, "/etcd: ", ec.message()));
  }
  absl::StatusOr<std::unique_ptr<subprocess::EtcdCluster>> etcd =
      subprocess::EtcdCluster::Start(dir + "/etcd", kNodes, absl::Seconds(60));
  if (!etcd.ok()) {
    return Annotate(etcd.status(), "starting 3 etcd members (/usr/bin/etcd)");
  }
  c->etcd_ = *std::move(etcd);
  for (int i = 0; i < kNodes; ++i) c->pids_->Add(c->etcd_->pid(i));
  return c;
}

Cluster::~Cluster() {
  Stop();
  UnregisterCleanup(cleanup_);
  if (!env_.keep && !dir_.empty()) RemoveTree(dir_);
}

void Cluster::Stop() {
  for (Node& n : nodes_) {
    if (n.process == nullptr) continue;
    pids_->Remove(n.process->pid());
    (void)n.process->Stop(30);
    n.process.reset();
  }
  etcd_.reset();  // SIGKILLs the members
}

absl::Status Cluster::StartNodes(const ClusterBenchOptions& options) {
  const std::string key_file = dir_ + "/log.key";
  LEDGER_RETURN_IF_ERROR(
      Annotate(ctl::ClusterLogKey(kOrigin, key_file).status(),
               "making the cluster's log key"));
  for (int i = 0; i < kNodes; ++i) {
    Node& n = nodes_[i];
    n.name = StrCat("n", i + 1);
    n.address = StrCat("127.0.0.1:", subprocess::FreePort());
    n.cluster_address = StrCat("127.0.0.1:", subprocess::FreePort());
    n.config = StrCat(dir_, "/", n.name, ".toml");
    n.data_dir = StrCat(dir_, "/", n.name);
  }
  std::string endpoints;
  for (const std::string& e : etcd_->endpoints()) {
    StrAppend(&endpoints, endpoints.empty() ? "" : ", ", "\"", e, "\"");
  }
  // What tests/cluster_test.cc writes, with this run's lease TTL.
  for (int i = 0; i < kNodes; ++i) {
    std::ofstream out(nodes_[i].config);
    out << "node_name = \"" << nodes_[i].name << "\"\n"
        << "origin = \"" << kOrigin << "\"\n"
        << "insecure_plaintext = true\n"
        << "[cluster]\n"
        << "listen = \"" << nodes_[i].cluster_address << "\"\n"
        << "etcd_endpoints = [" << endpoints << "]\n"
        << "log_key_file = \"" << key_file << "\"\n"
        << "lease_ttl = " << options.lease_ttl_seconds << "\n";
    for (int j = 0; j < kNodes; ++j) {
      if (j == i) continue;
      out << "[[cluster.peers]]\n"
          << "name = \"" << nodes_[j].name << "\"\n"
          << "address = \"" << nodes_[j].address << "\"\n"
          << "cluster_address = \"" << nodes_[j].cluster_address << "\"\n";
    }
    out.close();
    if (!out)
      return absl::InternalError(StrCat("cannot write ", nodes_[i].config));
  }
  for (int i = 0; i < kNodes; ++i) LEDGER_RETURN_IF_ERROR(StartNode(i));
  LEDGER_ASSIGN_OR_RETURN(int leader, WaitForLeader(120));
  LEDGER_RETURN_IF_ERROR(
      Annotate(nodes_[leader].process->RegisterEmitterKey(emitter_, kTenant),
               StrCat("registering the emitter key with the leader ",
                      nodes_[leader].name)));
  // Payload keys are each node's own (not replicated): the load sent to a
  // node is sealed under that node's key.
  for (int i = 0; i < kNodes; ++i) {
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(60);
    absl::StatusOr<PayloadSeal> seal;
    do {
      seal = nodes_[i].process->GetPayloadKey(kTenant, kSubject);
      if (seal.ok()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    } while (Clock::now() < deadline);
    if (!seal.ok()) {
      return Annotate(seal.status(),
                      StrCat("the payload key of ", nodes_[i].name));
    }
    seals_[i] = *seal;
  }
  return absl::OkStatus();
}

absl::Status Cluster::StartNode(int i) {
  Node& n = nodes_[i];
  NodeOptions options;
  options.binary = env_.node_binary;
  options.data_dir = n.data_dir;
  options.log_path = StrCat(dir_, "/", n.name, ".", ++n.starts, ".log");
  options.log_level = env_.node_log_level;
  options.listen = n.address;
  options.config_file = n.config;
  absl::StatusOr<std::unique_ptr<NodeProcess>> p = NodeProcess::Start(options);
  if (!p.ok()) return Annotate(p.status(), StrCat("starting ", n.name));
  n.process = *std::move(p);
  pids_->Add(n.process->pid());
  return absl::OkStatus();
}

absl::Status Cluster::KillNode(int i) {
  Node& n = nodes_[i];
  if (n.process == nullptr) return absl::OkStatus();
  pids_->Remove(n.process->pid());
  absl::Status s = n.process->Kill();
  n.process.reset();
  return s;
}

absl::StatusOr<int> Cluster::WaitForLeader(double timeout_seconds) {
  const Clock::time_point deadline =
      Clock::now() + FromSeconds(timeout_seconds);
  std::string states;
  while (Clock::now() < deadline) {
    states.clear();
    for (int i = 0; i < kNodes; ++i) {
      if (nodes_[i].process == nullptr || !nodes_[i].process->Running()) {
        StrAppend(&states, " ", nodes_[i].name, ": not running;");
        continue;
      }
      absl::StatusOr<v1::NodeInfo> info = nodes_[i].process->GetNodeInfo(2);
      if (info.ok() && info->write_state() == "running") return i;
      StrAppend(&states, " ", nodes_[i].name, ": ",
                info.ok() ? info->write_state() : info.status().ToString(),
                ";");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError(
      StrCat("no cluster node leads after ", Num(timeout_seconds, 0),
             " s (logs in ", dir_, "; run with --keep to keep them):", states));
}

absl::Status Cluster::ReviveExited(const std::string& phase) {
  for (int i = 0; i < kNodes; ++i) {
    Node& n = nodes_[i];
    if (n.process == nullptr || n.process->Running()) continue;
    pids_->Remove(n.process->pid());
    absl::StatusOr<int> code = n.process->Stop(5);
    n.process.reset();
    unplanned_exits_.push_back(
        json{{"node", n.name},
             {"phase", phase},
             {"exit_code", code.ok() ? json(*code) : json(nullptr)}});
    Progress(StrCat(n.name, " had ended on its own (exit code ",
                    code.ok() ? StrCat(*code) : "?", ") before ", phase,
                    "; restarting it"));
    LEDGER_RETURN_IF_ERROR(StartNode(i));
  }
  return absl::OkStatus();
}

// etcd's put rate: distinct keys, `etcd_value_bytes` values, closed loop.
absl::StatusOr<json> RunEtcdPuts(subprocess::EtcdCluster& etcd,
                                 const ClusterBenchOptions& o, uint64_t seed) {
  std::vector<client_tls::Endpoint> endpoints;
  for (const std::string& e : etcd.endpoints()) {
    LEDGER_ASSIGN_OR_RETURN(client_tls::Endpoint endpoint,
                            PlaintextEndpoint(e));
    endpoints.push_back(std::move(endpoint));
  }
  std::string value(o.etcd_value_bytes, '\0');
  for (size_t i = 0; i < value.size(); ++i) {
    value[i] = static_cast<char>('a' + (seed + i * 7919) % 26);
  }
  auto puts = [&](uint64_t first, uint64_t count) {
    std::vector<Message> out;
    out.reserve(count);
    for (uint64_t i = first; i < first + count; ++i) {
      etcdserverpb::PutRequest put;
      put.set_key(StrCat("/ledger-bench/put/", i));
      put.set_value(value);
      grpc::Slice slice(put.SerializeAsString());
      out.push_back(Message{grpc::ByteBuffer(&slice, 1), 1});
    }
    return out;
  };
  LoadOptions load;
  load.method = kEtcdPut;
  load.clients = o.etcd_clients;
  load.max_seconds = o.etcd_seconds;
  if (o.etcd_warmup_puts > 0) {
    LoadResult warm = RunLoad(endpoints, puts(0, o.etcd_warmup_puts), load);
    if (warm.failed_requests > 0) {
      return absl::UnavailableError(
          StrCat("etcd puts (warm-up) failed: ", warm.first_error));
    }
  }
  LoadResult r =
      RunLoad(endpoints, puts(o.etcd_warmup_puts, o.etcd_puts), load);
  json out{{"members", kNodes},
           {"clients", o.etcd_clients},
           {"value_bytes", o.etcd_value_bytes},
           {"clients_spread_over_members", true},
           {"puts", r.requests},
           {"failed_puts", r.failed_requests},
           {"seconds", r.seconds},
           {"puts_per_second",
            r.seconds > 0 ? static_cast<double>(r.requests) / r.seconds : 0.0},
           {"latency", HistogramJson(r.latency)}};
  if (!r.first_error.empty()) out["first_error"] = r.first_error;
  return out;
}

// Messages for the failover load, per node: sealed under that node's
// payload key, built by a thread of their own in chunks as they are used,
// so that the load can go on for as long as the kills take without
// holding all of it in memory.
class FailoverFeed {
 public:
  FailoverFeed(Cluster& cluster, uint64_t seed, uint64_t first_event,
               uint32_t batch_size, size_t low_water)
      : cluster_(cluster),
        seed_(seed),
        batch_size_(batch_size),
        low_water_(low_water),
        next_event_(first_event) {
    thread_ = std::thread([this] { Fill(); });
  }
  ~FailoverFeed() {
    {
      MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }

  // A message for node `i`; nullopt if none is ready (the builder is
  // behind).
  std::optional<Message> Take(int i) {
    MutexLock lock(&mu_);
    if (ready_[i].empty()) {
      ++starved_;
      return std::nullopt;
    }
    Message m = std::move(ready_[i].front());
    ready_[i].pop_front();
    return m;
  }
  uint64_t starved() {
    MutexLock lock(&mu_);
    return starved_;
  }
  absl::Status error() {
    MutexLock lock(&mu_);
    return error_;
  }
  // Waits until every node has a low-water mark of messages ready.
  bool WaitFilled(absl::Duration timeout) {
    MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(
        [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return !error_.ok() || LowestLocked() >= low_water_;
        },
        timeout);
  }

 private:
  size_t LowestLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    size_t lowest = ready_[0].size();
    for (int i = 1; i < kNodes; ++i)
      lowest = std::min(lowest, ready_[i].size());
    return lowest;
  }

  void Fill() {
    constexpr uint64_t kChunkBatches = 32;
    while (true) {
      int node = 0;
      uint64_t first = 0;
      {
        MutexLock lock(&mu_);
        mu_.Await([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stop_ || !error_.ok() || LowestLocked() < low_water_;
        });
        if (stop_ || !error_.ok()) return;
        for (int i = 1; i < kNodes; ++i) {
          if (ready_[i].size() < ready_[node].size()) node = i;
        }
        first = next_event_;
        next_event_ += kChunkBatches * batch_size_;
      }
      WorkloadOptions w;
      w.tenant = kTenant;
      w.seed = seed_;
      w.first_event = first;
      w.events = kChunkBatches * batch_size_;
      w.batch_size = batch_size_;
      w.payload_seal = cluster_.seal(node);
      w.threads = 1;  // leaves the cores to the cluster
      absl::StatusOr<std::vector<SignedBatch>> batches =
          BuildWorkload(w, cluster_.emitter().key());
      MutexLock lock(&mu_);
      if (!batches.ok()) {
        error_ = batches.status();
        return;
      }
      for (Message& m : ToMessages(*batches)) {
        ready_[node].push_back(std::move(m));
      }
    }
  }

  Cluster& cluster_;
  const uint64_t seed_;
  const uint32_t batch_size_;
  const size_t low_water_;
  Mutex mu_;
  std::deque<Message> ready_[kNodes] ABSL_GUARDED_BY(mu_);
  uint64_t next_event_ ABSL_GUARDED_BY(mu_);
  uint64_t starved_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// The first acknowledgement after a mark, by a node other than an excluded
// one (the killed leader, whose replies sent before the kill may still
// arrive).
class AckWatch {
 public:
  void Arm(Clock::time_point mark, int excluded) {
    MutexLock lock(&mu_);
    mark_ = mark;
    excluded_ = excluded;
    first_.reset();
    by_ = -1;
  }
  void Ack(int node, Clock::time_point at) {
    MutexLock lock(&mu_);
    ++acks_;
    if (!first_ && mark_ && at > *mark_ && node != excluded_) {
      first_ = at;
      by_ = node;
    }
  }
  // The first acknowledgement after the mark and its node, within
  // `timeout`.
  std::optional<std::pair<Clock::time_point, int>> Wait(
      absl::Duration timeout) {
    MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                                  mu_) { return first_.has_value(); },
                              timeout)) {
      return std::nullopt;
    }
    return std::make_pair(*first_, by_);
  }
  uint64_t acks() {
    MutexLock lock(&mu_);
    return acks_;
  }

 private:
  Mutex mu_;
  std::optional<Clock::time_point> mark_ ABSL_GUARDED_BY(mu_);
  int excluded_ ABSL_GUARDED_BY(mu_) = -1;
  std::optional<Clock::time_point> first_ ABSL_GUARDED_BY(mu_);
  int by_ ABSL_GUARDED_BY(mu_) = -1;
  uint64_t acks_ ABSL_GUARDED_BY(mu_) = 0;
};

// A paced AppendBatch load that follows the leader: `clients` threads,
// `rate` requests/s in all, each request sent to the node believed to lead
// and, when refused, redirected to the leader the refusal names (or the
// next node when it names none or the node does not answer). A refused or
// failed request is not retried (its events may or may not be in the
// ledger); the next one is sent instead.
class FailoverLoad {
 public:
  FailoverLoad(Cluster& cluster, FailoverFeed& feed, AckWatch& watch,
               int leader, int clients, double rate)
      : cluster_(cluster), feed_(feed), watch_(watch), hint_(leader) {
    const Clock::duration interval = FromSeconds(clients / rate);
    const Clock::time_point start = Clock::now();
    for (int c = 0; c < clients; ++c) {
      threads_.emplace_back([this, interval, start, c, clients] {
        Client(start + interval * c / clients, interval);
      });
    }
  }
  ~FailoverLoad() { Stop(); }

  void Stop() {
    stop_.store(true);
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

  json Summary() {
    MutexLock lock(&mu_);
    json failures = json::object();
    for (const auto& [code, n] : failures_) failures[code] = n;
    return json{{"sent", sent_},
                {"acknowledged", watch_.acks()},
                {"failed_by_code", failures},
                {"starved", feed_.starved()}};
  }

 private:
  void Client(Clock::time_point due, Clock::duration interval) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxSendMessageSize(-1);
    // Reconnect quickly to a restarted node (gRPC's default backoff grows
    // to minutes).
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
    std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
    for (int i = 0; i < kNodes; ++i) {
      stubs.push_back(
          std::make_unique<grpc::GenericStub>(grpc::CreateCustomChannel(
              cluster_.address(i), grpc::InsecureChannelCredentials(), args)));
    }
    grpc::CompletionQueue cq;
    while (!stop_.load()) {
      std::this_thread::sleep_until(due);
      // Behind by more than a second (the node was slow to answer): do
      // not make up for it in a burst.
      due = std::max(due + interval, Clock::now() - std::chrono::seconds(1));
      const int target = hint_.load();
      std::optional<Message> m = feed_.Take(target);
      if (!m.has_value()) continue;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
      grpc::ByteBuffer reply;
      grpc::Status status;
      auto call =
          stubs[target]->PrepareUnaryCall(&ctx, kAppendBatch, m->buffer, &cq);
      call->StartCall();
      call->Finish(&reply, &status, nullptr);
      void* tag = nullptr;
      bool ok = false;
      cq.Next(&tag, &ok);
      const Clock::time_point now = Clock::now();
      {
        MutexLock lock(&mu_);
        ++sent_;
        if (!status.ok())
          ++failures_[StrCat(static_cast<int>(status.error_code()))];
      }
      if (status.ok()) {
        watch_.Ack(target, now);
        continue;
      }
      int next = (target + 1) % kNodes;
      if (std::optional<std::string> leader =
              LeaderAddressFromRefusal(status.error_message())) {
        for (int i = 0; i < kNodes; ++i) {
          if (cluster_.address(i) == *leader) next = i;
        }
      }
      int expected = target;
      hint_.compare_exchange_strong(expected, next);
      // Nobody may lead yet: a short pause instead of a tight loop.
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    cq.Shutdown();
    void* tag;
    bool ok;
    while (cq.Next(&tag, &ok)) {
    }
  }

  Cluster& cluster_;
  FailoverFeed& feed_;
  AckWatch& watch_;
  std::atomic<int> hint_;
  std::atomic<bool> stop_{false};
  Mutex mu_;
  uint64_t sent_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, uint64_t> failures_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

// Waits until node `i` holds what the leader `leader` had committed when
// the wait began (GetNodeInfo sizes).
absl::StatusOr<uint64_t> WaitCaughtUp(Cluster& cluster, int i, int leader,
                                      double timeout_seconds) {
  const Clock::time_point deadline =
      Clock::now() + FromSeconds(timeout_seconds);
  absl::StatusOr<v1::NodeInfo> head = cluster.node(leader)->GetNodeInfo(10);
  if (!head.ok()) return Annotate(head.status(), "the leader's size");
  uint64_t size = 0;
  while (Clock::now() < deadline) {
    absl::StatusOr<v1::NodeInfo> info = cluster.node(i)->GetNodeInfo(2);
    if (info.ok()) size = info->size();
    if (size >= head->size()) return head->size();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError(
      StrCat(cluster.name(i), " holds ", size, " entries after ",
             Num(timeout_seconds, 0), " s; the leader had ", head->size()));
}

absl::StatusOr<json> RunFailovers(Cluster& cluster,
                                  const ClusterBenchOptions& o, uint64_t seed,
                                  uint64_t first_event) {
  LEDGER_RETURN_IF_ERROR(cluster.ReviveExited("failover"));
  LEDGER_ASSIGN_OR_RETURN(int leader, cluster.WaitForLeader(60));
  const size_t low_water = static_cast<size_t>(
      std::max(16.0, o.failover_rate * 3));  // 3 s of load per node
  FailoverFeed feed(cluster, seed, first_event, o.batch_size, low_water);
  if (!feed.WaitFilled(absl::Seconds(120))) {
    return absl::DeadlineExceededError(
        "building the failover load took more than 120 s");
  }
  LEDGER_RETURN_IF_ERROR(feed.error());
  AckWatch watch;
  FailoverLoad load(cluster, feed, watch, leader, o.failover_clients,
                    o.failover_rate);
  json rounds = json::array();
  std::vector<double> times;
  std::string stopped_because;
  for (int round = 1; round <= o.failovers; ++round) {
    // The load is acknowledged before the kill: the cluster is serving.
    watch.Arm(Clock::now(), -1);
    if (!watch.Wait(absl::Seconds(o.failover_timeout_seconds))) {
      stopped_because = StrCat("round ", round,
                               ": no append acknowledged before the kill "
                               "within ",
                               Num(o.failover_timeout_seconds, 0), " s");
      break;
    }
    absl::StatusOr<int> current = cluster.WaitForLeader(30);
    if (!current.ok()) {
      stopped_because =
          StrCat("round ", round, ": ", current.status().message());
      break;
    }
    const int killed = *current;
    const Clock::time_point kill_at = Clock::now();
    watch.Arm(kill_at, killed);
    LEDGER_RETURN_IF_ERROR(cluster.KillNode(killed));
    std::optional<std::pair<Clock::time_point, int>> ack =
        watch.Wait(absl::Seconds(o.failover_timeout_seconds));
    json r{{"round", round}, {"killed", cluster.name(killed)}};
    if (!ack.has_value()) {
      r["failover_seconds"] = nullptr;
      r["error"] = StrCat("no append acknowledged within ",
                          Num(o.failover_timeout_seconds, 0), " s of the kill");
      rounds.push_back(r);
      stopped_because =
          StrCat("round ", round, ": ", r["error"].get<std::string>());
      break;
    }
    const double failover = Seconds(ack->first - kill_at);
    times.push_back(failover);
    r["failover_seconds"] = failover;
    r["next_leader"] = cluster.name(ack->second);
    Progress(StrCat("failover ", round, "/", o.failovers, ": killed ",
                    cluster.name(killed), ", ", cluster.name(ack->second),
                    " acknowledged after ", Num(failover, 3), " s"));
    const Clock::time_point restart_at = Clock::now();
    LEDGER_RETURN_IF_ERROR(cluster.StartNode(killed));
    r["restart_seconds"] = Seconds(Clock::now() - restart_at);
    const Clock::time_point catch_up_at = Clock::now();
    absl::StatusOr<uint64_t> caught_up =
        WaitCaughtUp(cluster, killed, ack->second, o.catch_up_timeout_seconds);
    if (!caught_up.ok()) {
      r["error"] = std::string(caught_up.status().message());
      rounds.push_back(r);
      stopped_because =
          StrCat("round ", round, ": ", r["error"].get<std::string>());
      break;
    }
    r["catch_up_seconds"] = Seconds(Clock::now() - catch_up_at);
    r["caught_up_to_size"] = *caught_up;
    rounds.push_back(r);
    if (absl::Status s =
            cluster.ReviveExited(StrCat("failover round ", round + 1));
        !s.ok()) {
      stopped_because = std::string(s.message());
      break;
    }
  }
  load.Stop();
  LEDGER_RETURN_IF_ERROR(feed.error());
  json out{{"lease_ttl_seconds", o.lease_ttl_seconds},
           {"rounds_asked", o.failovers},
           {"rounds", rounds},
           {"load", json{{"clients", o.failover_clients},
                         {"rate_requests_per_second", o.failover_rate},
                         {"batch_size", o.batch_size}}}};
  out["load"].update(load.Summary());
  out["measured_rounds"] = times.size();
  if (!times.empty()) {
    out["median_seconds"] = Median(times);
    out["worst_seconds"] = *std::max_element(times.begin(), times.end());
    out["best_seconds"] = *std::min_element(times.begin(), times.end());
  }
  if (!stopped_because.empty()) out["stopped"] = stopped_because;
  return out;
}

const json* RunWithRole(const json& summary, std::string_view role) {
  if (!summary.contains("runs")) return nullptr;
  for (const json& r : summary["runs"]) {
    if (r.value("role", std::string()) == role) return &r;
  }
  return nullptr;
}

std::optional<double> NumberAt(const json* j,
                               std::initializer_list<const char*> path) {
  if (j == nullptr) return std::nullopt;
  const json* at = j;
  for (const char* key : path) {
    if (!at->is_object() || !at->contains(key)) return std::nullopt;
    at = &(*at)[key];
  }
  if (!at->is_number()) return std::nullopt;
  return at->get<double>();
}

std::optional<double> Ratio(std::optional<double> a, std::optional<double> b) {
  if (!a || !b || *b <= 0) return std::nullopt;
  return *a / *b;
}

}  // namespace

std::optional<std::string> LeaderAddressFromRefusal(std::string_view message) {
  constexpr std::string_view kLeader = "the leader is ";
  constexpr std::string_view kAt = " at ";
  constexpr std::string_view kThere = ": send appends there";
  const size_t leader = message.find(kLeader);
  if (leader == std::string_view::npos) return std::nullopt;
  const size_t at = message.find(kAt, leader + kLeader.size());
  if (at == std::string_view::npos) return std::nullopt;
  const size_t begin = at + kAt.size();
  const size_t end = message.find(kThere, begin);
  if (end == std::string_view::npos || end == begin) return std::nullopt;
  std::string_view address = message.substr(begin, end - begin);
  if (address.find(' ') != std::string_view::npos) return std::nullopt;
  return std::string(address);
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

void AddClusterTargets(json& summary) {
  const std::optional<double> cluster =
      NumberAt(RunWithRole(summary, "cluster_max"), {"events_per_second"});
  const std::optional<double> single =
      NumberAt(RunWithRole(summary, "single_max"), {"events_per_second"});
  const std::optional<double> puts =
      NumberAt(&summary, {"etcd", "puts_per_second"});
  const std::optional<double> cluster_p99 =
      NumberAt(RunWithRole(summary, "cluster_half"), {"latency", "p99_us"});
  const std::optional<double> single_p99 =
      NumberAt(RunWithRole(summary, "single_half"), {"latency", "p99_us"});
  const std::optional<double> failover =
      NumberAt(&summary, {"failover", "median_seconds"});
  const std::optional<double> vs_etcd = Ratio(cluster, puts);
  const std::optional<double> vs_single = Ratio(cluster, single);
  const std::optional<double> p99_ratio = Ratio(cluster_p99, single_p99);
  json ratios = json::object();
  if (vs_etcd) ratios["cluster_events_vs_etcd_puts"] = *vs_etcd;
  if (vs_single) ratios["cluster_vs_single_node"] = *vs_single;
  if (p99_ratio) ratios["cluster_p99_vs_single_p99_at_half_load"] = *p99_ratio;
  summary["ratios"] = ratios;
  json targets = json::array();
  AddTarget(targets, "cluster ingest vs etcd put rate (events/s per put/s)",
            ">= 3", vs_etcd, true, 3);
  AddTarget(targets, "cluster ingest vs single node", ">= 0.30", vs_single,
            true, 0.30);
  AddTarget(
      targets, "failover, kill -9 of the leader to the next ack (s)",
      "median <= 3", failover, false, 3,
      summary.contains("failover")
          ? StrCat("lease_ttl ",
                   Num(summary["failover"].value("lease_ttl_seconds", 0.0), 1),
                   " s; worst ",
                   Num(summary["failover"].value("worst_seconds", 0.0), 3),
                   " s over ", summary["failover"].value("measured_rounds", 0),
                   " kills")
          : "");
  AddTarget(targets, "p99 acknowledgement at half load, cluster vs single node",
            "<= 4x", p99_ratio, false, 4,
            "open loop, latency from the due time, each at half of its own "
            "maximum");
  summary["targets"] = targets;
}

absl::Status ValidateClusterOptions(const ClusterBenchOptions& o) {
  auto bad = [](std::string_view what) {
    return absl::InvalidArgumentError(std::string(what));
  };
  if (o.events == 0) return bad("--events must be > 0");
  if (o.batch_size == 0) return bad("--batch-size must be > 0");
  if (o.clients < 1) return bad("--clients must be > 0");
  if (o.max_seconds <= 0) return bad("--seconds must be > 0");
  if (o.etcd_puts == 0) return bad("--etcd-puts must be > 0");
  if (o.etcd_clients < 1) return bad("--etcd-clients must be > 0");
  if (o.etcd_seconds <= 0) return bad("--etcd-seconds must be > 0");
  if (o.failovers < 0) return bad("--failovers must be >= 0");
  if (o.lease_ttl_seconds <= 0) return bad("--lease-ttl must be > 0");
  if (o.failover_rate <= 0) return bad("--failover-rate must be > 0");
  if (o.failover_clients < 1) return bad("--failover-clients must be > 0");
  if (o.failover_timeout_seconds <= 0 || o.catch_up_timeout_seconds <= 0) {
    return bad("failover and catch-up timeouts must be > 0");
  }
  return absl::OkStatus();
}

absl::StatusOr<json> RunClusterBench(const BenchEnv& env,
                                     const ClusterBenchOptions& o) {
  LEDGER_RETURN_IF_ERROR(ValidateClusterOptions(o));
  if (env.tls != nullptr) {
    return absl::InvalidArgumentError(
        "cluster runs plaintext only (the cluster's TLS between nodes is not "
        "part of this benchmark): drop --tls");
  }
  if (!std::filesystem::exists("/usr/bin/etcd")) {
    return absl::FailedPreconditionError(
        "/usr/bin/etcd is missing: install Debian's etcd-server "
        "(scripts/install-deps.sh)");
  }
  json summary;
  summary["runs"] = json::array();
  const std::string shape =
      StrCat("AppendBatch b", o.batch_size, " c", o.clients);
  const uint64_t per_run = o.warmup_events + o.events;
  // 1. The single node, alone on the machine.
  {
    Progress("single node: closed loop ...");
    LEDGER_ASSIGN_OR_RETURN(std::unique_ptr<BenchNode> node,
                            BenchNode::Start(env));
    LEDGER_ASSIGN_OR_RETURN(
        json max, RunIngest(*node, IngestSpecFor(o, "single node " + shape, 0),
                            env.seed, 0));
    max["role"] = "single_max";
    const double rate = 0.5 * max["requests_per_second"].get<double>();
    summary["runs"].push_back(max);
    if (rate <= 0)
      return absl::InternalError("the single node acknowledged nothing");
    Progress(
        StrCat("single node: open loop at ", Num(rate, 0), " requests/s ..."));
    LEDGER_ASSIGN_OR_RETURN(
        json half,
        RunIngest(*node,
                  IngestSpecFor(o, "single node " + shape + " open 50%", rate),
                  env.seed, per_run));
    half["role"] = "single_half";
    summary["runs"].push_back(half);
    LEDGER_RETURN_IF_ERROR(node->Stop());
  }
  // 2. etcd's own put rate, on the members the cluster then uses.
  Progress("starting 3 etcd members ...");
  LEDGER_ASSIGN_OR_RETURN(std::unique_ptr<Cluster> cluster,
                          Cluster::Start(env));
  Progress(StrCat("etcd: ", o.etcd_clients, " clients putting ",
                  o.etcd_value_bytes, "-byte values ..."));
  LEDGER_ASSIGN_OR_RETURN(summary["etcd"],
                          RunEtcdPuts(cluster->etcd(), o, env.seed));
  // 3. The cluster's ingest, sent to the leader.
  Progress("starting 3 cluster nodes ...");
  LEDGER_RETURN_IF_ERROR(cluster->StartNodes(o));
  LEDGER_ASSIGN_OR_RETURN(int leader, cluster->WaitForLeader(60));
  Progress(
      StrCat("cluster: leader ", cluster->name(leader), "; closed loop ..."));
  LEDGER_ASSIGN_OR_RETURN(
      json max, RunIngestOn(*cluster->node(leader), cluster->emitter().key(),
                            cluster->seal(leader), cluster->data_dir(leader),
                            IngestSpecFor(o, "cluster (3 nodes) " + shape, 0),
                            env.seed, 0));
  max["role"] = "cluster_max";
  max["leader"] = cluster->name(leader);
  const double rate = 0.5 * max["requests_per_second"].get<double>();
  summary["runs"].push_back(max);
  if (rate <= 0) {
    return absl::InternalError(
        StrCat("the cluster acknowledged nothing: ",
               max.value("first_error", std::string("no error reported"))));
  }
  LEDGER_RETURN_IF_ERROR(cluster->ReviveExited("cluster open loop"));
  LEDGER_ASSIGN_OR_RETURN(leader, cluster->WaitForLeader(60));
  Progress(StrCat("cluster: open loop at ", Num(rate, 0), " requests/s ..."));
  LEDGER_ASSIGN_OR_RETURN(
      json half,
      RunIngestOn(
          *cluster->node(leader), cluster->emitter().key(),
          cluster->seal(leader), cluster->data_dir(leader),
          IngestSpecFor(o, "cluster (3 nodes) " + shape + " open 50%", rate),
          env.seed, per_run));
  half["role"] = "cluster_half";
  half["leader"] = cluster->name(leader);
  summary["runs"].push_back(half);
  // 4. Failover.
  if (o.failovers > 0) {
    Progress(StrCat(o.failovers, " failovers (lease_ttl ",
                    Num(o.lease_ttl_seconds, 1), " s) under ",
                    Num(o.failover_rate, 0), " requests/s ..."));
    LEDGER_ASSIGN_OR_RETURN(summary["failover"],
                            RunFailovers(*cluster, o, env.seed, 2 * per_run));
  }
  summary["cluster"] = json{{"nodes", kNodes},
                            {"etcd_members", kNodes},
                            {"lease_ttl_seconds", o.lease_ttl_seconds},
                            {"transport", "plaintext"},
                            {"unplanned_exits", cluster->unplanned_exits()}};
  cluster.reset();
  AddClusterTargets(summary);
  return summary;
}

}  // namespace ledger::bench
