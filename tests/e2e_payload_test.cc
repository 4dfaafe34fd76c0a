// Crypto-shredding end to end, with real processes as an operator runs
// them: ledgerctl appends events whose personal data it encrypts, reads the
// plaintext back, erases a data subject; the payloads are unreadable from
// then on, across a restart, while every proof still verifies with
// ledger-verify and the stopped node's whole ledger with `ledger-node
// verify`.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/strings.h"
#include "crypto/bytes.h"
#include "nlohmann/json.hpp"
#include "tests/process.h"

namespace ledger::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Json = nlohmann::json;

constexpr char kJane[] = "Jane Doe <jane.doe@example.org>";
constexpr char kJohn[] = "John Roe <john.roe@example.org>";

// When the events occur: 09:00 UTC 30 days before the day the process
// first asks, inside the node's occurred_at window (max_event_age) and the
// same for the whole run.
const std::string& OccurredAt() {
  static const std::string* at = [] {
    const absl::Time day_start =
        absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) / 86400 * 86400);
    return new std::string(absl::FormatTime("%Y-%m-%dT09:00:00Z",
                                            day_start - absl::Hours(30 * 24),
                                            absl::UTCTimeZone()));
  }();
  return *at;
}

// An event line of tenant acme-ai numbered `n`, with personal data of
// `subject` to encrypt (none if empty).
std::string EventLine(int n, std::string_view subject,
                      std::string_view plaintext) {
  std::string line = StrCat(
      R"({"event_id":"6f1c2b3a-4d5e-4f60-8a7b-)", 100000000000 + n,
      R"(","type":"annotation.created","schema_version":1,)",
      R"("occurred_at":")", OccurredAt(), R"(","producer":"cvat/2.9",)",
      R"("tenant":"acme-ai","actor":{"kind":"ACTOR_KIND_HUMAN","id":"user:)", n,
      R"("},"subjects":[{"kind":"SUBJECT_KIND_ITEM","id":"item:)", n,
      R"("}],"outcome":{"status":"OUTCOME_STATUS_SUCCESS"})");
  if (!subject.empty()) {
    line += StrCat(R"(,"data_subject":")", subject,
                   R"(","payload_plaintext":")", plaintext, R"(")");
  }
  return line + "}\n";
}

class PayloadE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/e2e_payload.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    node_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  void StartNode() {
    absl::StatusOr<Process> p = Process::Start(
        {BinaryPath("node/ledger-node"), "--data", dir_ + "/node", "--listen",
         "127.0.0.1:0", "--insecure-plaintext"},
        dir_ + "/node.log");
    ASSERT_TRUE(p.ok()) << p.status();
    node_ = std::make_unique<Process>(*std::move(p));
    absl::StatusOr<std::string> line =
        node_->WaitForLine("listening on ", seconds(120));
    ASSERT_TRUE(line.ok()) << line.status() << "\n" << NodeLog();
    server_ = line->substr(line->find("listening on ") + 13);
  }
  void StopNode() {
    absl::StatusOr<int> stopped = node_->Stop(SIGTERM, seconds(60));
    ASSERT_TRUE(stopped.ok()) << stopped.status();
    EXPECT_EQ(*stopped, 0) << NodeLog();
  }
  std::string NodeLog() {
    std::ifstream f(dir_ + "/node.log");
    return std::string(std::istreambuf_iterator<char>(f), {});
  }

  RunResult Run(std::vector<std::string> args) {
    absl::StatusOr<RunResult> r = ledger::testing::Run(args, seconds(120));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : RunResult{};
  }
  // ledgerctl with --server over plaintext (as the node runs), as it ran.
  RunResult TryCtl(std::vector<std::string> args) {
    args.insert(args.begin(), BinaryPath("tools/ledgerctl/ledgerctl"));
    args.push_back("--server");
    args.push_back(server_);
    args.push_back("--insecure-plaintext");
    return Run(args);
  }
  // ledgerctl that must succeed; its output.
  std::string Ctl(std::vector<std::string> args) {
    RunResult r = TryCtl(args);
    EXPECT_EQ(r.exit_code, 0) << args[0] << ": " << r.err;
    return r.out;
  }
  Json Get(uint64_t index) {
    return Json::parse(Ctl({"get", "--index", StrCat(index)}));
  }
  RunResult Verify(std::vector<std::string> args) {
    args.insert(args.begin(), BinaryPath("tools/ledger-verify/ledger-verify"));
    return Run(args);
  }
  Json WaitForCheckpoint(uint64_t size) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(30);
    Json cp;
    while (std::chrono::steady_clock::now() < deadline) {
      cp = Json::parse(Ctl({"checkpoint", "--json"}));
      if (cp["size"].get<uint64_t>() >= size) return cp;
      std::this_thread::sleep_for(milliseconds(100));
    }
    ADD_FAILURE() << "no checkpoint covering " << size << " entries: " << cp;
    return cp;
  }
  void WriteFile(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
  }
  // The index each receipt line of `append` output gives, in order.
  static std::vector<uint64_t> Indexes(const std::string& receipts) {
    std::vector<uint64_t> out;
    std::istringstream lines(receipts);
    for (std::string line; std::getline(lines, line);) {
      out.push_back(Json::parse(line)["index"].get<uint64_t>());
    }
    return out;
  }

  std::string dir_;
  std::string server_;
  std::unique_ptr<Process> node_;
};

TEST_F(PayloadE2ETest, EncryptReadEraseProveRestart) {
  ASSERT_NO_FATAL_FAILURE(StartNode());
  const std::string keys = dir_ + "/keys";
  std::filesystem::create_directories(keys);
  RunResult keygen = Run({BinaryPath("tools/ledgerctl/ledgerctl"), "keygen",
                          "--name", "cvat", "--out", keys});
  ASSERT_EQ(keygen.exit_code, 0) << keygen.err;
  Ctl({"register-key", "--pub", keys + "/cvat.pub", "--tenant", "acme-ai",
       "--producer", "cvat"});

  const std::string events = dir_ + "/events.jsonl";
  WriteFile(events, EventLine(1, "user:jane", kJane) +
                        EventLine(2, "user:john", kJohn) +
                        EventLine(3, "", "") +
                        EventLine(4, "user:jane", "Jane again"));
  const std::vector<uint64_t> idx =
      Indexes(Ctl({"append", "--emitter-key", keys, "--file", events}));
  ASSERT_EQ(idx.size(), 4u);

  Json jane = Get(idx[0]);
  EXPECT_EQ(jane["payload"]["state"], "PLAINTEXT") << jane.dump();
  EXPECT_EQ(jane["payload"]["plaintext"], kJane);
  EXPECT_EQ(Get(idx[1])["payload"]["plaintext"], kJohn);
  EXPECT_EQ(Get(idx[2])["payload"]["state"], "NONE");
  EXPECT_EQ(Get(idx[3])["payload"]["plaintext"], "Jane again");
  // What is stored and hashed is the ciphertext.
  absl::StatusOr<std::string> stored =
      crypto::Base64Decode(jane["entry_bytes"].get<std::string>());
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->find("Jane"), std::string::npos);

  const Json erased =
      Json::parse(Ctl({"admin", "erase-subject", "user:jane", "--tenant",
                       "acme-ai", "--reason", "erasure request DSR-17"}));
  const uint64_t erasure = erased["index"].get<uint64_t>();
  EXPECT_EQ(erased["payload_key_id"], jane["payload"]["key_id"]);
  for (uint64_t i : {idx[0], idx[3]}) {
    Json e = Get(i);
    EXPECT_EQ(e["payload"]["state"], "ERASED") << e.dump();
    EXPECT_EQ(e["payload"]["erased_by"], erasure);
    EXPECT_FALSE(e["payload"].contains("plaintext"));
  }
  EXPECT_EQ(Get(idx[1])["payload"]["plaintext"], kJohn);
  Json record = Get(erasure);
  EXPECT_EQ(record["event"]["type"], "key.erased");
  EXPECT_EQ(record.dump().find("user:jane"), std::string::npos);

  // No more personal data of the subject: refused, naming the entry.
  WriteFile(events, EventLine(5, "user:jane", kJane));
  RunResult late = TryCtl({"append", "--emitter-key", keys, "--file", events});
  EXPECT_EQ(late.exit_code, 1);
  EXPECT_NE(late.err.find("FAILED_PRECONDITION"), std::string::npos)
      << late.err;
  EXPECT_NE(late.err.find(StrCat("entry ", erasure)), std::string::npos)
      << late.err;
  RunResult again = TryCtl({"admin", "erase-subject", "user:jane", "--tenant",
                            "acme-ai", "--reason", "again"});
  EXPECT_EQ(again.exit_code, 1);

  // Every proof still verifies: the erased entries, the erasure itself.
  const std::string vkeys = dir_ + "/log.vkeys";
  WriteFile(vkeys, Ctl({"keys", "--note"}));
  WaitForCheckpoint(erasure + 1);
  for (uint64_t i : {idx[0], idx[1], idx[3], erasure}) {
    const std::string proof = StrCat(dir_, "/entry", i, ".tlog-proof");
    Ctl({"prove", "--index", StrCat(i), "--out", proof});
    std::vector<std::string> args = {"proof", proof, "--keys", vkeys};
    if (i != erasure) {
      args.insert(args.end(), {"--emitter-keys", keys + "/cvat.pub"});
    }
    RunResult r = Verify(args);
    EXPECT_EQ(r.exit_code, 0) << "entry " << i << ": " << r.out << r.err;
    EXPECT_NE(r.out.find("VALID"), std::string::npos) << r.out;
  }

  // The stopped node's whole ledger verifies; restarted, it stays erased.
  ASSERT_NO_FATAL_FAILURE(StopNode());
  RunResult whole =
      Run({BinaryPath("node/ledger-node"), "verify", "--data", dir_ + "/node"});
  EXPECT_EQ(whole.exit_code, 0) << whole.out << whole.err;
  EXPECT_EQ(whole.out.rfind("VALID: ", 0), 0u) << whole.out;
  ASSERT_NO_FATAL_FAILURE(StartNode());
  EXPECT_EQ(Get(idx[0])["payload"]["state"], "ERASED");
  EXPECT_EQ(Get(idx[1])["payload"]["plaintext"], kJohn);

  // The plaintext was never logged.
  const std::string log = NodeLog();
  EXPECT_EQ(log.find("Jane"), std::string::npos);
  EXPECT_EQ(log.find("John"), std::string::npos);
}

}  // namespace
}  // namespace ledger::testing
