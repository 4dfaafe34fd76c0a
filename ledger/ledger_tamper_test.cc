// A byte flipped in storage must stop the ledger from opening, with a
// message that names what is wrong.

#include <gtest/gtest.h>

#include "ledger/ledger.h"
#include "ledger/ledger_testing.h"
#include "ledger/schema.h"
#include "ledger/store.h"
#include "ledger/tile_tree.h"

namespace ledger {
namespace {

using testing::Annotation;

class LedgerTamperTest : public testing::LedgerFixture {
 protected:
  void SetUp() override {
    LedgerFixture::SetUp();
    for (int b = 0; b < 10; ++b) {
      std::vector<Event> events;
      for (int i = 0; i < 10; ++i) events.push_back(Annotation(b * 10 + i));
      ASSERT_TRUE(AppendOne(Batch(events, emitter_key_)).status.ok());
    }
    Checkpoint();  // covers 102 entries
    ledger_.reset();
  }

  // Applies `edit` to the value under `key` in `cf`, straight in RocksDB.
  void Edit(Cf cf, const std::string& key,
            const std::function<void(std::string&)>& edit) {
    auto store = Store::Open(dir_, StoreOptions{});
    ASSERT_TRUE(store.ok()) << store.status();
    auto value = (*store)->Get(cf, key);
    ASSERT_TRUE(value.ok() && value->has_value());
    std::string v = **value;
    edit(v);
    rocksdb::WriteBatch batch;
    batch.Put((*store)->handle(cf), key, v);
    ASSERT_TRUE((*store)->Write(&batch).ok());
  }

  absl::Status OpenError() {
    absl::Status s = Reopen();
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    return s;
  }
};

bool Contains(const absl::Status& s, std::string_view what) {
  return std::string(s.message()).find(what) != std::string::npos;
}

TEST_F(LedgerTamperTest, UntouchedLedgerOpens) { EXPECT_TRUE(Reopen().ok()); }

TEST_F(LedgerTamperTest, FlippedByteInAnEntryNamesThatEntry) {
  Edit(Cf::kEntries, Be64(57), [](std::string& v) { v[v.size() / 2] ^= 1; });
  absl::Status s = OpenError();
  EXPECT_TRUE(Contains(s, "entries [57, 58) are corrupt")) << s;
  EXPECT_TRUE(Contains(s, "do not match the signed checkpoint")) << s;
}

TEST_F(LedgerTamperTest, FlippedByteInTheLastEntryNamesIt) {
  Edit(Cf::kEntries, Be64(101), [](std::string& v) { v[40] ^= 0x80; });
  EXPECT_TRUE(Contains(OpenError(), "entries [101, 102)"));
}

TEST_F(LedgerTamperTest, FlippedByteInALeafTileNamesTheTree) {
  // Tile (0, 3) holds the leaf hashes of entries 48..63.
  Edit(Cf::kTree, TileKey(0, 3), [](std::string& v) { v[5 * 32 + 7] ^= 1; });
  absl::Status s = OpenError();
  EXPECT_TRUE(Contains(s, "Merkle tree is corrupt for entries [53, 54)")) << s;
  EXPECT_FALSE(Contains(s, "entries [53, 54) are corrupt")) << s;
}

TEST_F(LedgerTamperTest, FlippedByteInAHigherTileNamesItsRange) {
  // Tile (1, 0) holds roots of the 16-leaf subtrees; hash 2 covers 32..47.
  Edit(Cf::kTree, TileKey(1, 0), [](std::string& v) { v[2 * 32] ^= 1; });
  absl::Status s = OpenError();
  EXPECT_TRUE(Contains(s, "Merkle tree is corrupt for entries [32, 48)")) << s;
}

TEST_F(LedgerTamperTest, ChangedCheckpointNoteFailsItsSignature) {
  Edit(Cf::kCheckpoints, CheckpointKey(0), [](std::string& v) {
    v[8 + 1] ^= 1;  // a byte of the origin line
  });
  EXPECT_TRUE(Contains(OpenError(), "does not verify"));
}

TEST_F(LedgerTamperTest, DeletedEntryIsReported) {
  auto store = Store::Open(dir_, StoreOptions{});
  ASSERT_TRUE(store.ok());
  rocksdb::WriteBatch batch;
  batch.Delete((*store)->handle(Cf::kEntries), Be64(30));
  ASSERT_TRUE((*store)->Write(&batch).ok());
  store->reset();
  EXPECT_TRUE(Contains(OpenError(), "entries [30, 31) are missing"));
}

TEST_F(LedgerTamperTest, ChangedKeyRecordIsReported) {
  Edit(Cf::kKeys,
       std::string(crypto::AsView(KeyIdOf(emitter_key_.public_key()))),
       [](std::string& v) { v[v.size() - 9] ^= 1; });
  EXPECT_TRUE(Contains(OpenError(), "key record"));
}

}  // namespace
}  // namespace ledger
