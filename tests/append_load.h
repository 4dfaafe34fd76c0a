#pragma once

// Load for multi-process tests: client threads appending signed events over
// gRPC (a mix of Append, AppendBatch and AppendStream), each call recorded
// with what was sent and what came back, and a poller keeping every signed
// checkpoint it sees. Every loop is bounded in count and in time, and every
// call has a deadline.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "base/sync.h"
#include "ledger/v1/ingest.pb.h"
#include "ledger/v1/proof.pb.h"
#include "tests/ledger_client.h"

namespace ledger::testing {

using SteadyTime = std::chrono::steady_clock::time_point;

enum class AppendRpc { kAppend, kAppendBatch, kAppendStream };
std::string_view AppendRpcName(AppendRpc rpc);

// What became of an append call.
enum class AppendOutcome {
  kAcknowledged,  // OK: every event is committed at the index it names
  kRejected,      // the node answered no: nothing was stored
  kUnknown,       // no answer (connection lost, deadline): either way
};

// One append call: what was sent and what came back.
struct AppendCall {
  AppendRpc rpc = AppendRpc::kAppend;
  int client = 0;
  std::vector<uint64_t> events;  // event numbers (TestEvent n), sent in order
  SteadyTime start;
  SteadyTime end;
  absl::Status status;
  std::vector<v1::EntryRef> refs;  // one per event when acknowledged

  AppendOutcome outcome() const;
};

struct AppendLoadOptions {
  std::string target;  // HOST:PORT
  std::string tenant;
  uint64_t event_seed = 0;  // TestEvent's seed
  uint64_t rng_seed = 0;    // the mix of calls and batch sizes
  int clients = 4;
  int max_calls_per_client = 20'000;
  std::chrono::milliseconds max_duration{10'000};
  std::chrono::milliseconds call_timeout{10'000};
};

// Appends until Stop() or a bound is reached; a client also stops after a
// call that got no answer (AppendOutcome::kUnknown). Event numbers are taken
// from `next_event`, so every event is sent once.
class AppendLoad {
 public:
  // Connects every client (waiting at most `connect_timeout` each), then
  // starts the threads. `emitter` and `next_event` must outlive the load.
  AppendLoad(AppendLoadOptions options, const Emitter& emitter,
             std::atomic<uint64_t>* next_event,
             std::chrono::milliseconds connect_timeout);
  ~AppendLoad();
  AppendLoad(const AppendLoad&) = delete;
  AppendLoad& operator=(const AppendLoad&) = delete;

  // Every client finishes its current call and stops; returns every call
  // made. Calls still in flight end with their deadline at the latest.
  std::vector<AppendCall> Stop();

 private:
  void RunClient(int client, LedgerClient& ledger);
  AppendCall Send(int client, LedgerClient& ledger, std::mt19937_64& rng);

  const AppendLoadOptions options_;
  const Emitter& emitter_;
  std::atomic<uint64_t>* next_event_;
  std::atomic<bool> stop_{false};
  std::vector<std::unique_ptr<LedgerClient>> ledgers_;
  std::vector<std::thread> threads_;
  Mutex mu_;
  std::vector<AppendCall> calls_ ABSL_GUARDED_BY(mu_);
};

// Polls GetCheckpoint every `interval` and keeps each distinct checkpoint.
class CheckpointPoller {
 public:
  CheckpointPoller(const std::string& target,
                   std::chrono::milliseconds interval,
                   std::chrono::milliseconds max_duration);
  ~CheckpointPoller();
  CheckpointPoller(const CheckpointPoller&) = delete;
  CheckpointPoller& operator=(const CheckpointPoller&) = delete;

  // Stops polling; every distinct checkpoint seen, in the order seen.
  std::vector<v1::Checkpoint> Stop();

 private:
  void Run(std::chrono::milliseconds interval,
           std::chrono::milliseconds max_duration);

  LedgerClient ledger_;
  Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<v1::Checkpoint> seen_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace ledger::testing
