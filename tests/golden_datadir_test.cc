// A data directory written by an earlier version keeps opening and
// verifying: tests/fixtures/datadir-v<N>.tar.gz is a stopped node of
// storage format N (tests/fixtures/make_datadir_v<N>.sh). A later build
// must verify it whole (upgrading it if its format is older), start on it
// and serve the same tree.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "base/strings.h"
#include "nlohmann/json.hpp"
#include "tests/process.h"

namespace ledger::testing {
namespace {

using std::chrono::seconds;

struct Fixture {
  const char* file;
  uint64_t size;
  const char* root;
};

// Format 2: genesis, the cosigner key, the emitter key and 40 events.
// Format 3: genesis, the cosigner key, an emitter key registered for a
// producer (entry 2), 20 events, its rotation (23), 20 events of the new
// key, the new key's revocation (44).
const Fixture kFixtures[] = {
    {LEDGER_SOURCE_DIR "/tests/fixtures/datadir-v2.tar.gz", 43,
     "RgfyqrbN8rBS54eYlppzuxYajOlUqsP/ktuGNKToMRA="},
    {LEDGER_SOURCE_DIR "/tests/fixtures/datadir-v3.tar.gz", 45,
     "sHPdc6Aglolf7QSn/qm6Wvvet4V52IsrsIFV7J8BfEo="},
};

class GoldenDataDirTest : public ::testing::TestWithParam<Fixture> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/golden_datadir.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    absl::StatusOr<RunResult> r = ledger::testing::Run(
        {"/bin/tar", "-C", dir_, "-xzf", GetParam().file}, seconds(60));
    ASSERT_TRUE(r.ok() && r->exit_code == 0)
        << (r.ok() ? r->err : r.status().ToString());
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  std::string dir_;
};

TEST_P(GoldenDataDirTest, VerifiesWhole) {
  const uint64_t size = GetParam().size;
  const std::string root = GetParam().root;
  absl::StatusOr<RunResult> r = ledger::testing::Run(
      {BinaryPath("node/ledger-node"), "verify", "--data", dir_ + "/data"},
      seconds(120));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_EQ(r->out, StrCat("VALID: ", size, " entries, root ", root, "\n"))
      << r->err;
}

TEST_P(GoldenDataDirTest, StartsAndServesTheSameTree) {
  const uint64_t size = GetParam().size;
  const std::string root = GetParam().root;
  absl::StatusOr<Process> node =
      Process::Start({BinaryPath("node/ledger-node"), "--data", dir_ + "/data",
                      "--listen", "127.0.0.1:0", "--insecure-plaintext"},
                     dir_ + "/node.log");
  ASSERT_TRUE(node.ok()) << node.status();
  absl::StatusOr<std::string> line =
      node->WaitForLine("listening on ", seconds(120));
  ASSERT_TRUE(line.ok()) << line.status();
  const std::string server = line->substr(line->find("listening on ") + 13);
  absl::StatusOr<RunResult> cp = ledger::testing::Run(
      {BinaryPath("tools/ledgerctl/ledgerctl"), "checkpoint", "--json",
       "--server", server, "--insecure-plaintext"},
      seconds(60));
  ASSERT_TRUE(cp.ok() && cp->exit_code == 0)
      << (cp.ok() ? cp->err : cp.status().ToString());
  const nlohmann::json j = nlohmann::json::parse(cp->out);
  EXPECT_EQ(j["size"].get<uint64_t>(), size);
  EXPECT_NE(j["note"].get<std::string>().find(root), std::string::npos)
      << j.dump();
  // Keys as the fixture's key entries left them.
  absl::StatusOr<RunResult> keys = ledger::testing::Run(
      {BinaryPath("tools/ledgerctl/ledgerctl"), "list-keys", "--server", server,
       "--insecure-plaintext"},
      seconds(60));
  ASSERT_TRUE(keys.ok() && keys->exit_code == 0)
      << (keys.ok() ? keys->err : keys.status().ToString());
  const nlohmann::json listed = nlohmann::json::parse(keys->out);
  if (size == 45) {
    ASSERT_EQ(listed["keys"].size(), 4u) << listed.dump();
    const nlohmann::json& old_key = listed["keys"][2];
    const nlohmann::json& new_key = listed["keys"][3];
    EXPECT_EQ(old_key["producer"], "golden-platform") << listed.dump();
    EXPECT_EQ(old_key["rotated_at"], 23) << listed.dump();
    EXPECT_EQ(new_key["rotated_from"], old_key["key_id"]) << listed.dump();
    EXPECT_EQ(new_key["registered_at"], 23) << listed.dump();
    EXPECT_EQ(new_key["revoked_index"], 44) << listed.dump();
    EXPECT_EQ(new_key["revoke_reason"], "fixture revocation") << listed.dump();
  } else {
    EXPECT_EQ(listed["keys"].size(), 3u) << listed.dump();
  }
  absl::StatusOr<int> code = node->Stop(SIGTERM, seconds(60));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
}

INSTANTIATE_TEST_SUITE_P(StorageFormats, GoldenDataDirTest,
                         ::testing::ValuesIn(kFixtures),
                         [](const ::testing::TestParamInfo<Fixture>& info) {
                           return StrCat("v", info.index + 2);
                         });

}  // namespace
}  // namespace ledger::testing
