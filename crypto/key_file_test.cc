#include "crypto/key_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace ledger::crypto {
namespace {

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/keyfile_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(KeyFileTest, PrivateKeyIsWrittenWithMode0600AndReadsBack) {
  NoteSigner signer("emitter-a", NoteSigType::kEd25519,
                    Ed25519PrivateKey::Generate());
  const std::string path = dir_ + "/a.key";
  ASSERT_TRUE(WriteKeyFile(path, FormatSignerKey(signer) + "\n", true).ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  absl::StatusOr<NoteSigner> read = ReadSignerKeyFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->key().public_key(), signer.key().public_key());
}

TEST_F(KeyFileTest, RefusesToOverwriteAndToReadAnOpenPrivateKey) {
  const std::string path = dir_ + "/a.key";
  NoteSigner signer("a", NoteSigType::kEd25519, Ed25519PrivateKey::Generate());
  ASSERT_TRUE(WriteKeyFile(path, FormatSignerKey(signer), true).ok());
  EXPECT_EQ(WriteKeyFile(path, "x", true).code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  absl::StatusOr<NoteSigner> read = ReadSignerKeyFile(path);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(read.status().message().find("chmod 600"), std::string::npos);
  EXPECT_NE(read.status().message().find("0644"), std::string::npos);
}

TEST_F(KeyFileTest, VerifierKeyFileHoldsSeveralKeys) {
  NoteSigner a("a", NoteSigType::kEd25519, Ed25519PrivateKey::Generate());
  NoteSigner b("b", NoteSigType::kCosignatureV1, Ed25519PrivateKey::Generate());
  const std::string path = dir_ + "/keys.pub";
  ASSERT_TRUE(WriteKeyFile(path,
                           FormatVerifierKey(a.verifier()) + "\n" +
                               FormatVerifierKey(b.verifier()) + "\n",
                           false)
                  .ok());
  auto keys = ReadVerifierKeyFile(path);
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[1].type, NoteSigType::kCosignatureV1);
  EXPECT_EQ(ReadVerifierKeyFile(dir_ + "/missing").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ledger::crypto
