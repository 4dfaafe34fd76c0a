#include "tools/ledgerctl/keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "crypto/key_file.h"
#include "ledger/entry.h"
#include "tools/ledgerctl/append.h"
#include "tools/ledgerctl/client.h"

namespace ledger::ctl {
namespace {

class KeygenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ledgerctl_keys_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static unsigned Mode(const std::string& path) {
    struct stat st;
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 0777;
  }

  std::string dir_;
};

TEST_F(KeygenTest, WritesAPrivateKey0600AndAPublicKeyThatMatch) {
  absl::StatusOr<KeygenResult> r = Keygen("emitter-a", dir_ + "/keys");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->private_key_file, dir_ + "/keys/emitter-a.key");
  EXPECT_EQ(r->public_key_file, dir_ + "/keys/emitter-a.pub");
  EXPECT_EQ(Mode(dir_ + "/keys"), 0700u);
  EXPECT_EQ(Mode(r->private_key_file), 0600u);
  EXPECT_EQ(Mode(r->public_key_file), 0644u);

  absl::StatusOr<crypto::NoteSigner> signer =
      crypto::ReadSignerKeyFile(r->private_key_file);
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_EQ(signer->name(), "emitter-a");
  EXPECT_EQ(signer->type(), crypto::NoteSigType::kEd25519);
  absl::StatusOr<crypto::NoteVerifier> pub =
      ReadSingleVerifierKey(r->public_key_file);
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_EQ(pub->key, signer->key().public_key());
  EXPECT_EQ(crypto::FormatVerifierKey(*pub), r->verifier_key);
  EXPECT_EQ(r->key_id, KeyIdOf(pub->key));

  Json j = r->ToJson();
  EXPECT_EQ(j["name"], "emitter-a");
  EXPECT_EQ(j["key_id"], crypto::HexEncode(KeyIdOf(pub->key)));
  EXPECT_EQ(j["verifier_key"], r->verifier_key);
  EXPECT_EQ(j["private_key_file"], r->private_key_file);
  EXPECT_EQ(j["public_key_file"], r->public_key_file);
}

TEST_F(KeygenTest, RefusesToOverwriteEitherFile) {
  ASSERT_TRUE(Keygen("a", dir_).ok());
  const std::string before = *crypto::ReadFileToString(dir_ + "/a.key");
  absl::StatusOr<KeygenResult> again = Keygen("a", dir_);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(*crypto::ReadFileToString(dir_ + "/a.key"), before);

  // Only the .pub exists: nothing is written either.
  std::ofstream(dir_ + "/b.pub") << "x\n";
  EXPECT_EQ(Keygen("b", dir_).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/b.key"));
}

TEST_F(KeygenTest, RejectsBadNames) {
  for (const char* name : {"", "with space", "a+b", "../x", ".."}) {
    EXPECT_EQ(Keygen(name, dir_).status().code(),
              absl::StatusCode::kInvalidArgument)
        << name;
  }
}

TEST_F(KeygenTest, KeyDirectoryMustHoldExactlyOneKey) {
  EXPECT_EQ(LoadEmitterKey(dir_).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(Keygen("one", dir_).ok());
  absl::StatusOr<crypto::NoteSigner> s = LoadEmitterKey(dir_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->name(), "one");
  EXPECT_TRUE(LoadEmitterKey(dir_ + "/one.key").ok());
  ASSERT_TRUE(Keygen("two", dir_).ok());
  absl::Status two = LoadEmitterKey(dir_).status();
  EXPECT_EQ(two.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(ToStd(two.message()).find("2 *.key files"), std::string::npos)
      << two.message();
  EXPECT_TRUE(LoadEmitterKey(dir_ + "/two.key").ok());
}

TEST_F(KeygenTest, PublicKeyFileMustHoldOneKey) {
  ASSERT_TRUE(Keygen("a", dir_).ok());
  ASSERT_TRUE(Keygen("b", dir_).ok());
  const std::string both = dir_ + "/both.pub";
  std::ofstream(both) << *crypto::ReadFileToString(dir_ + "/a.pub")
                      << *crypto::ReadFileToString(dir_ + "/b.pub");
  EXPECT_EQ(ReadSingleVerifierKey(both).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ClientTest, ErrorLineUsesTheGrpcCodeName) {
  EXPECT_EQ(ErrorLine(absl::InvalidArgumentError("line 3: bad")),
            "error: INVALID_ARGUMENT: line 3: bad\n");
  EXPECT_EQ(ErrorLine(FromGrpc(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                            "connection refused"))),
            "error: UNAVAILABLE: connection refused\n");
  EXPECT_TRUE(FromGrpc(grpc::Status::OK).ok());
}

TEST(ClientTest, TimestampsAreRfc3339OrNull) {
  google::protobuf::Timestamp ts;
  EXPECT_TRUE(TimestampJson(ts).is_null());
  absl::StatusOr<google::protobuf::Timestamp> parsed =
      ParseTimestamp("2026-01-01T00:00:00Z", "--valid-until");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(TimestampJson(*parsed), "2026-01-01T00:00:00Z");
  absl::Status bad = ParseTimestamp("tomorrow", "--valid-until").status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(ToStd(bad.message()).find("--valid-until"), std::string::npos);
}

}  // namespace
}  // namespace ledger::ctl
