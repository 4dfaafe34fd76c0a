// A data directory written by an earlier version keeps opening and
// verifying: tests/fixtures/datadir-v2.tar.gz is a stopped node of storage
// format 2 (tests/fixtures/make_datadir_v2.sh). A later build must verify
// it whole, start on it and serve the same tree.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "base/strings.h"
#include "nlohmann/json.hpp"
#include "tests/process.h"

namespace ledger::testing {
namespace {

using std::chrono::seconds;

constexpr char kFixture[] =
    LEDGER_SOURCE_DIR "/tests/fixtures/datadir-v2.tar.gz";
// What the fixture holds: genesis, the cosigner key, the emitter key and
// 40 events.
constexpr uint64_t kSize = 43;
constexpr char kRoot[] = "RgfyqrbN8rBS54eYlppzuxYajOlUqsP/ktuGNKToMRA=";

class GoldenDataDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/golden_datadir.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    absl::StatusOr<RunResult> r = ledger::testing::Run(
        {"/bin/tar", "-C", dir_, "-xzf", kFixture}, seconds(60));
    ASSERT_TRUE(r.ok() && r->exit_code == 0)
        << (r.ok() ? r->err : r.status().ToString());
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  std::string dir_;
};

TEST_F(GoldenDataDirTest, VerifiesWhole) {
  absl::StatusOr<RunResult> r = ledger::testing::Run(
      {BinaryPath("node/ledger-node"), "verify", "--data", dir_ + "/data"},
      seconds(120));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_EQ(r->out, StrCat("VALID: ", kSize, " entries, root ", kRoot, "\n"))
      << r->err;
}

TEST_F(GoldenDataDirTest, StartsAndServesTheSameTree) {
  absl::StatusOr<Process> node =
      Process::Start({BinaryPath("node/ledger-node"), "--data", dir_ + "/data",
                      "--listen", "127.0.0.1:0", "--insecure-plaintext"},
                     dir_ + "/node.log");
  ASSERT_TRUE(node.ok()) << node.status();
  absl::StatusOr<std::string> line =
      node->WaitForLine("listening on ", seconds(120));
  ASSERT_TRUE(line.ok()) << line.status();
  const std::string server = line->substr(line->find("listening on ") + 13);
  absl::StatusOr<RunResult> cp =
      ledger::testing::Run({BinaryPath("tools/ledgerctl/ledgerctl"),
                            "checkpoint", "--json", "--server", server},
                           seconds(60));
  ASSERT_TRUE(cp.ok() && cp->exit_code == 0)
      << (cp.ok() ? cp->err : cp.status().ToString());
  const nlohmann::json j = nlohmann::json::parse(cp->out);
  EXPECT_EQ(j["size"].get<uint64_t>(), kSize);
  EXPECT_NE(j["note"].get<std::string>().find(kRoot), std::string::npos)
      << j.dump();
  absl::StatusOr<int> code = node->Stop(SIGTERM, seconds(60));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace ledger::testing
