// Crash test with real processes. Each round, four clients append signed
// events to a ledger-node child (Append, AppendBatch, AppendStream) while a
// poller keeps every checkpoint; at a random moment the node is killed with
// SIGKILL and restarted on the same data directory. Then, for everything
// seen in any round so far (tests/ledger_history.h):
//   - every acknowledged event is at the index its receipt names, with the
//     same leaf hash (SHA-256(0x00 || entry bytes), recomputed here);
//   - every checkpoint seen is signed by the node's keys, matches the root
//     of the entries it covers, and is consistent with the new checkpoint
//     (consistency proofs checked with ledger/merkle.h);
//   - the ledger holds no event twice and nothing refused;
//   - the ledger is at least as large as every receipt and checkpoint says;
//   - resending every event ever sent comes back as a duplicate at the
//     original index for each acknowledged one.
// The next round goes on with the same data directory.
//
//   LEDGER_CRASH_ROUNDS  rounds (default 3)
//   LEDGER_CRASH_SEED    seed of the kill delays, the call mix and the
//                        events (default: random; printed). Timing varies.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/strings.h"
#include "tests/append_load.h"
#include "tests/ledger_client.h"
#include "tests/ledger_history.h"
#include "tests/process.h"

namespace ledger::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kTenant[] = "acme-ai";
constexpr int kMinKillDelayMs = 50;
constexpr int kMaxKillDelayMs = 800;

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  return std::strtoull(value, nullptr, 10);
}

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string tmpl = StrCat(base != nullptr ? base : "/tmp", "/crash.XXXXXX");
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }

  // Checkpoints at most every 100 ms: more of them to check per round.
  // Every other start checks only the tail after the last checkpoint on
  // open (as a large ledger would) and scrubs the rest in the background.
  void WriteConfig(bool tail_check) {
    std::ofstream(dir_ + "/node.toml")
        << "checkpoint_interval = \"100ms\"\n"
        << (tail_check ? "full_check_max_entries = 0\n" : "");
  }
  void TearDown() override {
    client_.reset();
    node_.reset();
    if (HasFailure()) {
      std::printf("data directory and node log kept in %s\n", dir_.c_str());
    } else {
      std::filesystem::remove_all(dir_);
    }
  }

  std::string NodeLog() {
    std::ifstream f(dir_ + "/node.log");
    std::string log(std::istreambuf_iterator<char>(f), {});
    return log.size() > 6000 ? log.substr(log.size() - 6000) : log;
  }

  void StartNode() {
    WriteConfig(++starts_ % 2 == 0);
    absl::StatusOr<Process> p = Process::Start(
        {BinaryPath("node/ledger-node"), "--data", dir_ + "/node", "--listen",
         "127.0.0.1:0", "--insecure-plaintext", "--config", dir_ + "/node.toml",
         "--insecure-plaintext"},
        dir_ + "/node.log");
    ASSERT_TRUE(p.ok()) << p.status();
    node_ = std::make_unique<Process>(*std::move(p));
    absl::StatusOr<std::string> line =
        node_->WaitForLine("listening on ", seconds(120));
    ASSERT_TRUE(line.ok()) << line.status() << "\n" << NodeLog();
    server_ = line->substr(line->find("listening on ") + 13);
    client_ = std::make_unique<LedgerClient>(server_, seconds(60));
    ASSERT_TRUE(client_->WaitForConnected(seconds(30))) << server_;
  }

  // The log's verifier keys out of band (`ledger-node keys`), which must
  // be the ones the node announces.
  void LoadVerifierKeys() {
    absl::StatusOr<RunResult> keys = ledger::testing::Run(
        {BinaryPath("node/ledger-node"), "keys", "--data", dir_ + "/node"},
        seconds(60));
    ASSERT_TRUE(keys.ok()) << keys.status();
    ASSERT_EQ(keys->exit_code, 0) << keys->err;
    absl::StatusOr<std::vector<crypto::NoteVerifier>> verifiers =
        crypto::ParseVerifierKeys(keys->out);
    ASSERT_TRUE(verifiers.ok()) << verifiers.status();
    absl::StatusOr<v1::NodeInfo> info = client_->GetNodeInfo();
    ASSERT_TRUE(info.ok()) << info.status();
    std::set<std::string> announced(info->note_verifier_keys().begin(),
                                    info->note_verifier_keys().end());
    std::set<std::string> out_of_band;
    for (const crypto::NoteVerifier& v : *verifiers) {
      out_of_band.insert(crypto::FormatVerifierKey(v));
    }
    EXPECT_EQ(announced, out_of_band);
    history_->SetVerifiers(*std::move(verifiers), info->origin());
  }

  void RunRound(int round, int rounds);

  std::string dir_;
  std::string server_;
  int starts_ = 0;
  std::unique_ptr<Process> node_;
  std::unique_ptr<LedgerClient> client_;
  uint64_t seed_ = 0;
  const Emitter emitter_{"crash-emitter", 0x5eed};
  std::unique_ptr<LedgerHistory> history_;
};

void CrashTest::RunRound(int round, int rounds) {
  const Clock::time_point round_start = Clock::now();
  std::mt19937_64 rng(seed_ * 1'000'003 + round);
  const int kill_delay_ms =
      std::uniform_int_distribution<int>(kMinKillDelayMs, kMaxKillDelayMs)(rng);
  AppendLoadOptions options;
  options.target = server_;
  options.tenant = kTenant;
  options.event_seed = seed_;
  options.rng_seed = rng();
  options.max_duration = seconds(10);
  options.call_timeout = seconds(10);

  CheckpointPoller poller(server_, milliseconds(20), seconds(30));
  AppendLoad load(options, emitter_, history_->next_event(), seconds(10));
  // The kill delay is the test's input, not a wait for a condition.
  std::this_thread::sleep_for(milliseconds(kill_delay_ms));
  const Clock::time_point kill_time = Clock::now();
  absl::StatusOr<int> killed = node_->Stop(SIGKILL, seconds(30));
  ASSERT_TRUE(killed.ok()) << killed.status();
  EXPECT_EQ(*killed, -SIGKILL);
  LoadStats load_stats;
  history_->RecordCalls(load.Stop(), kill_time, &load_stats);
  history_->AddCheckpoints(poller.Stop());

  ASSERT_NO_FATAL_FAILURE(StartNode());
  LedgerScan scan;
  CheckStats stats;
  ASSERT_NO_FATAL_FAILURE(history_->CheckEntries(*client_, &scan, &stats));
  ASSERT_NO_FATAL_FAILURE(history_->CheckCheckpoints(*client_, scan, &stats));
  ASSERT_NO_FATAL_FAILURE(history_->Resend(*client_, scan, &stats));
  std::printf(
      "round %d/%d: kill after %d ms; %zu calls (%zu acknowledged, %zu "
      "unknown, %zu refused), %llu events acknowledged; after restart size "
      "%llu, %llu unacknowledged events found, %zu checkpoints consistent "
      "with %llu; resent %llu events (%llu new); %zu acknowledged in all; "
      "%.1f s\n",
      round, rounds, kill_delay_ms, load_stats.calls, load_stats.acked_calls,
      load_stats.unknown_calls, load_stats.refused_calls,
      static_cast<unsigned long long>(load_stats.acked_events),
      static_cast<unsigned long long>(stats.size),
      static_cast<unsigned long long>(stats.durable_unacked),
      stats.checkpoints_checked,
      static_cast<unsigned long long>(stats.checkpoint_size),
      static_cast<unsigned long long>(stats.resent),
      static_cast<unsigned long long>(stats.resent_new),
      history_->acknowledged(),
      std::chrono::duration<double>(Clock::now() - round_start).count());
  std::fflush(stdout);
}

TEST_F(CrashTest, AcknowledgedEventsSurviveKill9) {
  const int rounds = static_cast<int>(EnvOr("LEDGER_CRASH_ROUNDS", 3));
  seed_ = EnvOr("LEDGER_CRASH_SEED", std::random_device()() % 1'000'000'000);
  std::printf(
      "crash test: seed %llu, %d rounds (LEDGER_CRASH_SEED=%llu "
      "LEDGER_CRASH_ROUNDS=%d repeats the inputs; timing varies)\n",
      static_cast<unsigned long long>(seed_), rounds,
      static_cast<unsigned long long>(seed_), rounds);
  history_ = std::make_unique<LedgerHistory>(kTenant, seed_, emitter_);
  ASSERT_NO_FATAL_FAILURE(StartNode());
  ASSERT_NO_FATAL_FAILURE(LoadVerifierKeys());
  absl::StatusOr<v1::EntryRef> registered =
      client_->RegisterEmitterKey(emitter_, kTenant);
  ASSERT_TRUE(registered.ok()) << registered.status();
  for (int round = 1; round <= rounds; ++round) {
    RunRound(round, rounds);
    if (HasFailure()) {
      FAIL() << "seed " << seed_ << ", round " << round << "; node log:\n"
             << NodeLog();
    }
  }
}

}  // namespace
}  // namespace ledger::testing
