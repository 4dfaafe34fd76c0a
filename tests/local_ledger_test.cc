// The default local ledger, as the README starts it: scripts/start.sh (with
// the binaries of this build) brings up a node over mutual TLS with the
// dev CA's certificates and access policy, and ledgerctl works through the
// profiles it prints, each role only within its rights.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "base/strings.h"
#include "tests/process.h"

#ifndef LEDGER_SOURCE_DIR
#error "LEDGER_SOURCE_DIR must name the repository"
#endif

namespace ledger {
namespace {

using ::ledger::testing::BinaryPath;
using ::ledger::testing::FreePort;
using ::ledger::testing::RunResult;
using std::chrono::seconds;

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class LocalLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/local_ledger_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    data_ = dir_ + "/ledger-data";
    listen_ = StrCat("127.0.0.1:", FreePort());
    http_listen_ = StrCat("127.0.0.1:", FreePort());
    tls_ = data_ + "/tls";
  }
  void TearDown() override {
    (void)Start({"--stop"});
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  // scripts/start.sh --no-build --data DATA --listen LISTEN --http-listen
  // HTTP_LISTEN `args`.
  RunResult Start(std::vector<std::string> args) {
    std::vector<std::string> argv = {
        "/usr/bin/env", StrCat("LEDGER_BUILD_DIR=", BinaryPath("")),
        "/bin/bash",    StrCat(LEDGER_SOURCE_DIR, "/scripts/start.sh"),
        "--no-build",   "--data",
        data_,          "--listen",
        listen_,        "--http-listen",
        http_listen_};
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<RunResult> r = ledger::testing::Run(argv, seconds(180));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : RunResult{};
  }

  // ledgerctl `args` with LEDGER_PROFILE=`profile` ("" unset).
  RunResult Ctl(const std::string& profile, std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/env", "-u", "LEDGER_PROFILE"};
    if (!profile.empty()) argv.push_back(StrCat("LEDGER_PROFILE=", profile));
    argv.push_back(BinaryPath("tools/ledgerctl/ledgerctl"));
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<RunResult> r = ledger::testing::Run(argv, seconds(60));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : RunResult{};
  }

  std::string Profile(const std::string& role) {
    return StrCat(tls_, "/", role, ".profile");
  }

  std::string dir_, data_, listen_, http_listen_, tls_;
};

TEST_F(LocalLedgerTest, StartsOverMutualTlsAndEachRoleWorksThroughItsProfile) {
  RunResult started = Start({});
  ASSERT_EQ(started.exit_code, 0) << started.out << started.err;
  EXPECT_NE(started.out.find("over mutual TLS with roles"), std::string::npos)
      << started.out;
  EXPECT_NE(started.out.find("export LEDGER_PROFILE=" + Profile("emitter")),
            std::string::npos)
      << started.out;
  // The HTTP port (tlog-tiles, metrics) on the address it was given.
  EXPECT_NE(started.out.find("http           " + http_listen_ +
                             "   (tlog-tiles and /metrics over HTTPS"),
            std::string::npos)
      << started.out;
  EXPECT_NE(ReadText(data_ + "/node.toml").find("[tls]"), std::string::npos);
  EXPECT_FALSE(ReadText(data_ + "/log.vkeys").empty());
  const std::string ca = ReadText(tls_ + "/ca.pem");
  ASSERT_FALSE(ca.empty());

  // The emitter appends events of its tenant with the registered key.
  const std::string events = dir_ + "/events.jsonl";
  RunResult gen = Ctl("", {"gen-events", "--count", "20", "--tenant", "demo",
                           "--producer", "label-studio/1.13.1"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  std::ofstream(events) << gen.out;
  RunResult append =
      Ctl(Profile("emitter"), {"append", "--emitter-key", data_ + "/emitter",
                               "--file", events, "--quiet"});
  ASSERT_EQ(append.exit_code, 0) << append.err;
  EXPECT_EQ(std::count(append.out.begin(), append.out.end(), '\n'), 20);

  // The default risk policy was loaded once, before the events (after
  // genesis and the two keys: entry 3), and grades them: the last one is
  // entry 23.
  const std::string policy_set = ReadText(data_ + "/policy.set");
  EXPECT_NE(policy_set.find("\"index\":3,"), std::string::npos) << policy_set;
  EXPECT_NE(policy_set.find("\"policy_version\":1,"), std::string::npos)
      << policy_set;
  RunResult last = Ctl(Profile("regulator"), {"get", "--index", "23"});
  EXPECT_EQ(last.exit_code, 0) << last.err;
  EXPECT_NE(last.out.find("\"policy_version\":1,"), std::string::npos)
      << last.out;

  // The regulator proves an entry; the officer of tenant demo reads it.
  RunResult prove = Ctl(Profile("regulator"),
                        {"prove", "--index", "5", "--out", dir_ + "/5.proof"});
  EXPECT_EQ(prove.exit_code, 0) << prove.err;
  RunResult get = Ctl(Profile("officer"), {"get", "--index", "5"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_NE(get.out.find("\"demo\""), std::string::npos) << get.out;

  // The emitter may not read entries; the officer may not register keys.
  RunResult denied = Ctl(Profile("emitter"), {"get", "--index", "5"});
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_NE(denied.err.find("PERMISSION_DENIED"), std::string::npos)
      << denied.err;
  denied = Ctl(Profile("officer"),
               {"register-key", "--pub", data_ + "/emitter/demo.pub",
                "--tenant", "demo", "--producer", "label-studio/1.13.1"});
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_NE(denied.err.find("PERMISSION_DENIED"), std::string::npos)
      << denied.err;

  // Without a profile ledgerctl refuses to connect and says why; plaintext
  // does not reach a TLS node.
  RunResult none = Ctl("", {"--server", listen_, "checkpoint"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("missing: --ca, --cert, --key"), std::string::npos)
      << none.err;
  RunResult plain = Ctl("", {"--server", listen_, "--insecure-plaintext",
                             "--timeout", "5", "checkpoint"});
  EXPECT_EQ(plain.exit_code, 1);
  EXPECT_NE(plain.err.find("UNAVAILABLE"), std::string::npos) << plain.err;

  // Starting again while it runs changes nothing.
  RunResult again = Start({});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("already running"), std::string::npos);
  EXPECT_EQ(ReadText(tls_ + "/ca.pem"), ca);

  // Stop, start: the same CA and certificates, the key not registered
  // twice, the entries still there.
  RunResult stop = Start({"--stop"});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_NE(stop.out.find("ledger-node stopped"), std::string::npos);
  RunResult restarted = Start({});
  ASSERT_EQ(restarted.exit_code, 0) << restarted.out << restarted.err;
  EXPECT_EQ(ReadText(tls_ + "/ca.pem"), ca);
  get = Ctl(Profile("regulator"), {"get", "--index", "5"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  // ... and the policy not loaded again.
  EXPECT_EQ(ReadText(data_ + "/policy.set"), policy_set);
  // (The entries after the events are the access denials above: no
  // policy.changed among them.)
  for (int i = 24; i < 64; ++i) {
    RunResult entry = Ctl(Profile("regulator"), {"get", "--index", StrCat(i)});
    if (entry.exit_code != 0) break;
    EXPECT_EQ(entry.out.find("\"policy.changed\""), std::string::npos)
        << entry.out;
  }
}

// The risk commands through the profiles: the officer of tenant demo gets
// the findings, a grade's explanation and the summary (JSON lines, or
// text); the emitter is refused; bad flag values are usage errors.
TEST_F(LocalLedgerTest, RiskCommandsAnswerTheOfficerAndRefuseTheEmitter) {
  RunResult started = Start({});
  ASSERT_EQ(started.exit_code, 0) << started.out << started.err;
  const std::string events = dir_ + "/events.jsonl";
  RunResult gen = Ctl("", {"gen-events", "--count", "300", "--tenant", "demo",
                           "--producer", "label-studio/1.13.1"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  std::ofstream(events) << gen.out;
  RunResult append =
      Ctl(Profile("emitter"), {"append", "--emitter-key", data_ + "/emitter",
                               "--file", events, "--quiet"});
  ASSERT_EQ(append.exit_code, 0) << append.err;

  // The pilot exported core data without an approval: critical, R1.
  RunResult findings =
      Ctl(Profile("officer"),
          {"risk", "findings", "--tenant", "demo", "--min-level", "critical"});
  ASSERT_EQ(findings.exit_code, 0) << findings.err;
  ASSERT_FALSE(findings.out.empty());
  size_t lines = 0;
  for (size_t pos = 0; pos < findings.out.size();) {
    const size_t end = findings.out.find('\n', pos);
    const std::string line = findings.out.substr(pos, end - pos);
    EXPECT_EQ(line.rfind("{\"index\":", 0), 0u) << line;
    EXPECT_NE(line.find("\"risk\":\"critical\""), std::string::npos) << line;
    ++lines;
    pos = end + 1;
  }
  EXPECT_GE(lines, 1u);
  EXPECT_NE(findings.out.find("\"rule\":\"R1\""), std::string::npos)
      << findings.out;
  RunResult by_rule =
      Ctl(Profile("officer"), {"risk", "findings", "--tenant", "demo", "--rule",
                               "R1", "--format", "text"});
  ASSERT_EQ(by_rule.exit_code, 0) << by_rule.err;
  EXPECT_NE(by_rule.out.find("    R1 critical: dataset.exported of core data"),
            std::string::npos)
      << by_rule.out;

  // The curated version is core, propagated from its pipeline's inputs.
  RunResult explain =
      Ctl(Profile("officer"), {"risk", "explain", "--tenant", "demo",
                               "--dataset", "demo/street-scenes/curated@v2"});
  ASSERT_EQ(explain.exit_code, 0) << explain.err;
  EXPECT_NE(explain.out.find("\"grade\":{\"level\":\"core\""),
            std::string::npos)
      << explain.out;
  EXPECT_NE(explain.out.find("\"basis\":\"propagated\""), std::string::npos)
      << explain.out;
  RunResult explain_text =
      Ctl(Profile("officer"),
          {"risk", "explain", "--tenant", "demo", "--dataset",
           "demo/street-scenes/curated@v2", "--format", "text"});
  ASSERT_EQ(explain_text.exit_code, 0) << explain_text.err;
  EXPECT_NE(explain_text.out.find("demo/street-scenes/curated@v2: core"),
            std::string::npos)
      << explain_text.out;
  EXPECT_NE(explain_text.out.find("   <- "), std::string::npos)
      << explain_text.out;

  RunResult summary =
      Ctl(Profile("regulator"), {"risk", "summary", "--tenant", "demo"});
  ASSERT_EQ(summary.exit_code, 0) << summary.err;
  EXPECT_EQ(summary.out.rfind("{\"as_of\":", 0), 0u) << summary.out;
  EXPECT_EQ(summary.out.find("\"critical\":0,"), std::string::npos)
      << summary.out;

  // The lineage drawing fills the core curated version red (no pi: the
  // pipeline's approved de-identification blocks it).
  RunResult dot = Ctl(Profile("officer"),
                      {"lineage", "--tenant", "demo", "--node",
                       "dataset:demo/street-scenes/curated@v2", "--direction",
                       "up", "--depth", "2", "--format", "dot"});
  ASSERT_EQ(dot.exit_code, 0) << dot.err;
  EXPECT_NE(dot.out.find("\"dataset:demo/street-scenes/curated@v2\" "
                         "[label=\"dataset:demo/street-scenes/curated@v2\\n"
                         "core\", fillcolor=\"#e06666\""),
            std::string::npos)
      << dot.out;

  // The emitter may not ask; a bad level is a usage error; an unknown
  // rule the node's INVALID_ARGUMENT.
  RunResult denied =
      Ctl(Profile("emitter"), {"risk", "summary", "--tenant", "demo"});
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_NE(denied.err.find("PERMISSION_DENIED"), std::string::npos)
      << denied.err;
  RunResult usage = Ctl(Profile("officer"), {"risk", "findings", "--tenant",
                                             "demo", "--min-level", "low"});
  EXPECT_EQ(usage.exit_code, 2) << usage.err;
  RunResult no_tenant = Ctl(Profile("officer"), {"risk", "findings"});
  EXPECT_EQ(no_tenant.exit_code, 2) << no_tenant.err;
  RunResult bad_rule = Ctl(Profile("officer"), {"risk", "findings", "--tenant",
                                                "demo", "--rule", "R99"});
  EXPECT_EQ(bad_rule.exit_code, 1);
  EXPECT_NE(bad_rule.err.find("INVALID_ARGUMENT: rule: \"R99\""),
            std::string::npos)
      << bad_rule.err;
}

}  // namespace
}  // namespace ledger
