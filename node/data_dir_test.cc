#include "node/data_dir.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "base/strings.h"
#include "crypto/key_file.h"
#include "node/node_testing.h"

namespace ledger::node {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Message(const absl::Status& s) {
  return std::string(ToStd(s.message()));
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

class DataDirTest : public ::testing::Test {
 protected:
  testing::TempDir tmp_;
  std::string dir_ = tmp_.path() + "/data";
  DataDirLayout layout_{dir_};
};

TEST_F(DataDirTest, FirstStartCreatesTheLayout) {
  absl::StatusOr<NodeIdentity> id = OpenDataDir(dir_, "", "node-7");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_THAT(id->origin, StartsWith("annotation-ledger.local/"));
  EXPECT_EQ(id->origin.size(),
            std::string("annotation-ledger.local/").size() + 8);
  EXPECT_EQ(id->log_signer.name(), id->origin);
  EXPECT_EQ(id->log_signer.type(), crypto::NoteSigType::kEd25519);
  EXPECT_EQ(id->cosigner.name(), id->origin + "/node-7");
  EXPECT_EQ(id->cosigner.type(), crypto::NoteSigType::kCosignatureV1);

  EXPECT_EQ(ModeOf(layout_.keys), 0700u);
  EXPECT_EQ(ModeOf(layout_.node_key), 0600u);
  EXPECT_EQ(ModeOf(layout_.cosigner_key), 0600u);
  EXPECT_EQ(Trim(*crypto::ReadFileToString(layout_.origin_file)), id->origin);
  absl::StatusOr<std::vector<crypto::NoteVerifier>> pub =
      crypto::ReadVerifierKeyFile(layout_.node_pub);
  ASSERT_TRUE(pub.ok()) << pub.status();
  ASSERT_EQ(pub->size(), 2u);
  EXPECT_EQ((*pub)[0].key_id, id->log_signer.key_id());
  EXPECT_EQ((*pub)[1].key_id, id->cosigner.key_id());
}

TEST_F(DataDirTest, LaterStartsReuseOriginAndKeys) {
  absl::StatusOr<NodeIdentity> first = OpenDataDir(dir_, "", "node-1");
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<NodeIdentity> second = OpenDataDir(dir_, "", "node-1");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->origin, first->origin);
  EXPECT_EQ(second->log_signer.key().public_key(),
            first->log_signer.key().public_key());
  EXPECT_EQ(second->cosigner.key().public_key(),
            first->cosigner.key().public_key());
  // Naming the stored origin explicitly is fine too.
  EXPECT_TRUE(OpenDataDir(dir_, first->origin, "node-1").ok());

  absl::StatusOr<NodeIdentity> loaded = LoadDataDir(dir_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->cosigner.name(), first->cosigner.name());
}

TEST_F(DataDirTest, ConfiguredOriginIsUsedOnFirstStart) {
  absl::StatusOr<NodeIdentity> id =
      OpenDataDir(dir_, "ledger.example.com/a", "node-1");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->origin, "ledger.example.com/a");
}

TEST_F(DataDirTest, AnotherOriginIsRefused) {
  ASSERT_TRUE(OpenDataDir(dir_, "ledger.example.com/a", "node-1").ok());
  absl::StatusOr<NodeIdentity> id =
      OpenDataDir(dir_, "ledger.example.com/b", "node-1");
  EXPECT_EQ(id.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Message(id.status()), HasSubstr("ledger.example.com/a"));
  EXPECT_THAT(Message(id.status()), HasSubstr("never changes"));
}

TEST_F(DataDirTest, RenamedNodeIsRefused) {
  ASSERT_TRUE(OpenDataDir(dir_, "", "node-1").ok());
  absl::StatusOr<NodeIdentity> id = OpenDataDir(dir_, "", "node-2");
  EXPECT_EQ(id.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Message(id.status()), HasSubstr("cosigner.key"));
  EXPECT_THAT(Message(id.status()), HasSubstr("node_name"));
}

TEST_F(DataDirTest, MissingKeyBesideALedgerIsNotRegenerated) {
  ASSERT_TRUE(OpenDataDir(dir_, "", "node-1").ok());
  std::filesystem::create_directories(layout_.db);
  std::filesystem::remove(layout_.node_key);
  absl::StatusOr<NodeIdentity> id = OpenDataDir(dir_, "", "node-1");
  EXPECT_EQ(id.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Message(id.status()), HasSubstr("restore the key"));
  EXPECT_FALSE(std::filesystem::exists(layout_.node_key));
}

TEST_F(DataDirTest, ReadableKeyFileIsRefused) {
  ASSERT_TRUE(OpenDataDir(dir_, "", "node-1").ok());
  ASSERT_EQ(::chmod(layout_.node_key.c_str(), 0644), 0);
  absl::StatusOr<NodeIdentity> id = OpenDataDir(dir_, "", "node-1");
  EXPECT_EQ(id.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Message(id.status()), HasSubstr("chmod 600"));
}

TEST_F(DataDirTest, LoadingAnUninitialisedDirectoryIsNotFound) {
  absl::StatusOr<NodeIdentity> id = LoadDataDir(dir_);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(id.status()), HasSubstr("start ledger-node once"));
}

}  // namespace
}  // namespace ledger::node
