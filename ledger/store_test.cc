#include "ledger/store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <string_view>
#include <thread>

#include "ledger/store_testing.h"
#include "rocksdb/db.h"
#include "rocksdb/metadata.h"
#include "rocksdb/table_properties.h"

namespace ledger {
namespace {

class StoreTest : public testing::StoreFixture {
 protected:
  // Writes `count` entries from `first` on (synced) and flushes them into
  // one table file.
  void WriteAndFlush(Cf cf, uint64_t first, uint64_t count) {
    rocksdb::WriteBatch wb;
    std::string value(1024, '\0');
    for (uint64_t i = first; i < first + count; ++i) {
      // Text-like values, so that compression has something to do.
      for (size_t j = 0; j < value.size(); ++j) {
        value[j] = static_cast<char>('a' + (i * 31 + j * 7) % 26);
      }
      wb.Put(store_->handle(cf), Be64(i), value);
    }
    ASSERT_TRUE(store_->Write(&wb).ok());
    ASSERT_TRUE(store_->db()->Flush({}, store_->handle(cf)).ok());
  }

  // The table files of a column family, by level.
  std::map<int, std::set<std::string>> Files(std::string_view family) {
    std::vector<rocksdb::LiveFileMetaData> files;
    store_->db()->GetLiveFilesMetaData(&files);
    std::map<int, std::set<std::string>> out;
    for (const rocksdb::LiveFileMetaData& f : files) {
      if (f.column_family_name == family) out[f.level].insert(f.name);
    }
    return out;
  }
};

// Entries only ever get larger keys, so their flushed files never overlap
// the files below them: compaction must move them down the levels as they
// are, not compress and write every entry again.
TEST_F(StoreTest, FlushedEntriesMoveDownTheLevelsWithoutBeingRewritten) {
  // Eight flushes: level 0's compaction trigger is four files. A
  // compaction may run before a flush returns, so each flush's file is
  // taken as it appears.
  std::set<std::string> flushed;
  for (uint64_t f = 0; f < 8; ++f) {
    WriteAndFlush(Cf::kEntries, f * 500, 500);
    for (const auto& [level, names] : Files("entries")) {
      flushed.insert(names.begin(), names.end());
    }
  }
  ASSERT_EQ(flushed.size(), 8u) << "a file was rewritten during the flushes";

  rocksdb::ColumnFamilyHandle* entries = store_->handle(Cf::kEntries);
  const auto idle = [&] {
    uint64_t pending = 1, running = 1;
    store_->db()->GetIntProperty(entries, "rocksdb.compaction-pending",
                                 &pending);
    store_->db()->GetIntProperty("rocksdb.num-running-compactions", &running);
    return pending == 0 && running == 0;
  };
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!idle() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(idle()) << "compactions still running after 60 s";
  std::map<int, std::set<std::string>> now = Files("entries");
  std::set<std::string> all, below;
  for (const auto& [level, names] : now) {
    all.insert(names.begin(), names.end());
    if (level > 0) below.insert(names.begin(), names.end());
  }
  EXPECT_GE(below.size(), 4u) << "level 0 was not compacted";
  EXPECT_EQ(all, flushed) << "the entries' table files were rewritten";

  std::string value;
  ASSERT_TRUE(store_->db()->Get({}, entries, Be64(3999), &value).ok());
  EXPECT_EQ(value.size(), 1024u);
}

// Tree tiles are hashes, which do not compress: they are stored as they
// are. Entries are compressed.
TEST_F(StoreTest, TreeTilesAreStoredUncompressedAndEntriesCompressed) {
  WriteAndFlush(Cf::kTree, 0, 100);
  WriteAndFlush(Cf::kEntries, 0, 100);
  for (const auto& [cf, want] : {std::pair{Cf::kTree, "NoCompression"},
                                 std::pair{Cf::kEntries, "LZ4"}}) {
    rocksdb::TablePropertiesCollection tables;
    ASSERT_TRUE(store_->db()
                    ->GetPropertiesOfAllTables(store_->handle(cf), &tables)
                    .ok());
    ASSERT_EQ(tables.size(), 1u);
    EXPECT_EQ(tables.begin()->second->compression_name, want);
  }
}

}  // namespace
}  // namespace ledger
