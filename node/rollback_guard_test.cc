#include "node/rollback_guard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "base/strings.h"
#include "crypto/ed25519.h"
#include "crypto/key_file.h"
#include "crypto/rfc6962.h"
#include "node/data_dir.h"
#include "node/node_testing.h"

namespace ledger::node {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string Message(const absl::Status& s) {
  return std::string(ToStd(s.message()));
}

class RollbackGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<NodeIdentity> id =
        OpenDataDir(dir_, "ledger.test/guard", "node-1");
    ASSERT_TRUE(id.ok()) << id.status();
    identity_ = std::make_unique<NodeIdentity>(*std::move(id));
  }

  // A checkpoint note of `size` (and a root made from it), signed by this
  // node's keys unless `signers` says otherwise.
  std::string Note(uint64_t size, std::string origin = "",
                   const crypto::NoteSigner* other_signer = nullptr) {
    const ledger::Checkpoint checkpoint = Checkpoint(size, origin);
    std::vector<const crypto::NoteSigner*> signers = {&identity_->log_signer,
                                                      &identity_->cosigner};
    if (other_signer != nullptr) signers = {other_signer};
    return crypto::SignNote(ledger::FormatCheckpointBody(checkpoint), signers,
                            1'700'000'000);
  }
  ledger::Checkpoint Checkpoint(uint64_t size, std::string origin = "") {
    Hash root = crypto::EmptyRoot();
    root[0] = static_cast<uint8_t>(size);
    return ledger::Checkpoint{
        origin.empty() ? identity_->origin : origin, size, root, {}};
  }
  absl::StatusOr<std::unique_ptr<FileRollbackGuard>> Load(
      const std::string& path) {
    return FileRollbackGuard::Load(path, identity_->verifiers(),
                                   identity_->origin);
  }

  testing::TempDir tmp_;
  std::string dir_ = tmp_.path() + "/data";
  DataDirLayout layout_{dir_};
  std::unique_ptr<NodeIdentity> identity_;
};

TEST_F(RollbackGuardTest, NewDataDirectoryHoldsASignedEmptyCheckpoint) {
  absl::StatusOr<std::unique_ptr<FileRollbackGuard>> guard =
      Load(layout_.guard);
  ASSERT_TRUE(guard.ok()) << guard.status();
  ASSERT_TRUE((*guard)->last().has_value());
  EXPECT_EQ((*guard)->last()->size, 0u);
  EXPECT_EQ((*guard)->last()->root, crypto::EmptyRoot());
  struct stat st;
  ASSERT_EQ(::stat(layout_.guard.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(RollbackGuardTest, MissingFileIsNotFound) {
  absl::StatusOr<std::unique_ptr<FileRollbackGuard>> guard =
      Load(tmp_.path() + "/none.note");
  EXPECT_EQ(guard.status().code(), absl::StatusCode::kNotFound)
      << guard.status();
}

TEST_F(RollbackGuardTest, TamperedNoteIsDataLoss) {
  const std::string note = *crypto::ReadFileToString(layout_.guard);
  crypto::NoteSigner stranger("ledger.test/guard",
                              crypto::NoteSigType::kEd25519,
                              crypto::Ed25519PrivateKey::Generate());
  struct Case {
    const char* name;
    std::string contents;
  } cases[] = {
      {"size changed",
       [&] {
         std::string n = note;
         n[n.find('\n') + 1] = '7';  // "0" -> "7"
         return n;
       }()},
      {"signature byte flipped",
       [&] {
         std::string n = note;
         n[n.size() - 5] ^= 1;
         return n;
       }()},
      {"truncated", note.substr(0, note.size() / 2)},
      {"empty", ""},
      {"not a note", "hello\n"},
      {"signed by another key", Note(5, "", &stranger)},
      {"another origin", Note(5, "ledger.test/other")},
  };
  for (const Case& c : cases) {
    const std::string path = tmp_.path() + "/tampered.note";
    std::ofstream(path, std::ios::trunc) << c.contents;
    absl::StatusOr<std::unique_ptr<FileRollbackGuard>> guard = Load(path);
    EXPECT_EQ(guard.status().code(), absl::StatusCode::kDataLoss)
        << c.name << ": " << guard.status();
    EXPECT_THAT(Message(guard.status()), HasSubstr(path)) << c.name;
    EXPECT_THAT(Message(guard.status()),
                HasSubstr("does not hold a checkpoint this node signed"))
        << c.name;
  }
}

TEST_F(RollbackGuardTest, RecordReplacesTheFileAndRefusesToGoBack) {
  absl::StatusOr<std::unique_ptr<FileRollbackGuard>> guard =
      Load(layout_.guard);
  ASSERT_TRUE(guard.ok()) << guard.status();
  const std::string note10 = Note(10);
  ASSERT_TRUE((*guard)->Record(note10, Checkpoint(10)).ok());
  EXPECT_EQ((*guard)->last()->size, 10u);
  EXPECT_EQ(crypto::ReadFileToString(layout_.guard).value_or(""), note10);
  EXPECT_FALSE(fs::exists(layout_.guard + ".tmp"));
  absl::StatusOr<std::unique_ptr<FileRollbackGuard>> reloaded =
      Load(layout_.guard);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ((*reloaded)->last()->size, 10u);
  EXPECT_EQ((*reloaded)->last()->root, Checkpoint(10).root);

  // Smaller: refused, and the file keeps the bigger one.
  absl::Status s = (*guard)->Record(Note(9), Checkpoint(9));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(Message(s), HasSubstr("size 9 after one of size 10"));
  EXPECT_EQ((*guard)->last()->size, 10u);
  EXPECT_EQ(crypto::ReadFileToString(layout_.guard).value_or(""), note10);
  // The same size again (an empty-interval checkpoint) is fine.
  EXPECT_TRUE((*guard)->Record(Note(10), Checkpoint(10)).ok());
}

TEST_F(RollbackGuardTest, RecordThatCannotWriteLeavesTheGuardAsItWas) {
  const std::string path = tmp_.path() + "/sub/last-checkpoint.note";
  fs::create_directories(tmp_.path() + "/sub");
  absl::StatusOr<std::unique_ptr<FileRollbackGuard>> guard =
      FileRollbackGuard::Create(path, Note(3));
  ASSERT_TRUE(guard.ok()) << guard.status();
  fs::remove_all(tmp_.path() + "/sub");  // nowhere to write
  absl::Status s = (*guard)->Record(Note(4), Checkpoint(4));
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
  EXPECT_THAT(Message(s), HasSubstr("rollback guard"));
  EXPECT_EQ((*guard)->last()->size, 3u);
}

ledger::Head HeadOf(uint64_t size) {
  ledger::Head head;
  head.size = size;
  head.root = crypto::EmptyRoot();
  head.root[1] = static_cast<uint8_t>(size);
  return head;
}

TEST_F(RollbackGuardTest, AckedHeadKeepsTheLastRecordedHead) {
  const std::string path = tmp_.path() + "/acked-head";
  {
    auto acked = FileAckedHead::Open(path);
    ASSERT_TRUE(acked.ok()) << acked.status();
    EXPECT_FALSE((*acked)->at_open().has_value());
    for (uint64_t size : {3, 7, 12}) {
      ASSERT_TRUE((*acked)->Record(HeadOf(size)).ok());
    }
  }
  auto acked = FileAckedHead::Open(path);
  ASSERT_TRUE(acked.ok()) << acked.status();
  ASSERT_TRUE((*acked)->at_open().has_value());
  EXPECT_EQ((*acked)->at_open()->size, 12u);
  EXPECT_EQ((*acked)->at_open()->root, HeadOf(12).root);
  // Recording goes on from there, in the other slot.
  ASSERT_TRUE((*acked)->Record(HeadOf(20)).ok());
  acked = FileAckedHead::Open(path);
  ASSERT_TRUE(acked.ok()) << acked.status();
  EXPECT_EQ((*acked)->at_open()->size, 20u);
}

// A torn write damages one slot; the other still holds the previous head,
// which the ledger must also hold.
TEST_F(RollbackGuardTest, AckedHeadWithOneDamagedSlotFallsBackToTheOther) {
  const std::string path = tmp_.path() + "/acked-head";
  {
    auto acked = FileAckedHead::Open(path);
    ASSERT_TRUE(acked.ok()) << acked.status();
    ASSERT_TRUE((*acked)->Record(HeadOf(5)).ok());  // slot 1
    ASSERT_TRUE((*acked)->Record(HeadOf(9)).ok());  // slot 0
  }
  std::string bytes = crypto::ReadFileToString(path).value();
  bytes[30] ^= 1;  // inside slot 0's root
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  auto acked = FileAckedHead::Open(path);
  ASSERT_TRUE(acked.ok()) << acked.status();
  ASSERT_TRUE((*acked)->at_open().has_value());
  EXPECT_EQ((*acked)->at_open()->size, 5u);

  bytes[4096 + 30] ^= 1;  // and slot 1's
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  acked = FileAckedHead::Open(path);
  EXPECT_TRUE(absl::IsDataLoss(acked.status())) << acked.status();
  EXPECT_THAT(Message(acked.status()), HasSubstr("damaged in both"));
}

TEST_F(RollbackGuardTest, CreateRefusesAnExistingFile) {
  absl::StatusOr<std::unique_ptr<FileRollbackGuard>> guard =
      FileRollbackGuard::Create(layout_.guard, Note(5));
  EXPECT_EQ(guard.status().code(), absl::StatusCode::kAlreadyExists);
  absl::StatusOr<std::unique_ptr<FileRollbackGuard>> kept = Load(layout_.guard);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ((*kept)->last()->size, 0u);
}

}  // namespace
}  // namespace ledger::node
