// The ledger on a file system that fails: a write-ahead log that cannot be
// synced, a power cut, a full disk, reads that fail. What was acknowledged
// must survive, what failed must leave nothing behind, and errors must be
// the group's, with the right code.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "ledger/fault_fs.h"
#include "ledger/ledger.h"
#include "ledger/ledger_testing.h"
#include "ledger/store.h"

namespace ledger {
namespace {

using testing::Annotation;
using testing::FaultFs;
using ::testing::HasSubstr;
using testing::kNewYear2026Ns;
using testing::kTenant;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

// Event `n`: about item "item:<n % 5>".
Event Ev(int n) { return Annotation(n, StrCat("item:", n % 5)); }

// Names and sizes of the files in `dir` (empty if there is none).
std::map<std::string, uintmax_t> Files(const std::string& dir) {
  std::map<std::string, uintmax_t> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    out[e.path().filename().string()] = e.is_regular_file() ? e.file_size() : 0;
  }
  return out;
}

class FaultTest : public testing::LedgerFixture {
 protected:
  void SetUp() override {
    LedgerFixture::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(
        AppendOne(Batch({Ev(0), Ev(1), Ev(2)}, emitter_key_)).status.ok());
    ASSERT_TRUE(OpenFaulty().ok());
  }
  void TearDown() override {
    ledger_.reset();  // before the Env it uses
    LedgerFixture::TearDown();
  }

  LedgerOptions FaultyOptions() const {
    LedgerOptions options = Options();
    options.env = env_.get();
    return options;
  }
  // The ledger on the fault-injecting file system.
  absl::Status OpenFaulty() {
    ledger_.reset();
    absl::StatusOr<std::unique_ptr<Ledger>> l =
        Ledger::Open(dir_, FaultyOptions());
    if (!l.ok()) return l.status();
    ledger_ = *std::move(l);
    return absl::OkStatus();
  }
  // The ledger on the ordinary file system, fully checked.
  absl::Status OpenVerified() {
    ledger_.reset();
    LedgerOptions options = Options();
    options.open_check = OpenCheck::kFull;
    absl::StatusOr<std::unique_ptr<Ledger>> l = Ledger::Open(dir_, options);
    if (!l.ok()) return l.status();
    ledger_ = *std::move(l);
    return absl::OkStatus();
  }

  // Events n .. n+count-1 as one batch, in a group of its own.
  GroupResult AppendEvents(int n, int count, bool sync) {
    std::vector<Event> events;
    for (int i = 0; i < count; ++i) events.push_back(Ev(n + i));
    VerifiedBatch batch = Batch(std::move(events), emitter_key_);
    const VerifiedBatch* batches[] = {&batch};
    return sync ? ledger_->Append(batches, kNewYear2026Ns)
                : ledger_->AppendNoSync(batches, kNewYear2026Ns);
  }

  // Leaf hashes of entries [0, head().size), from the entry bytes.
  std::vector<Hash> Leaves() {
    std::vector<Hash> out;
    absl::StatusOr<std::vector<std::string>> entries =
        ledger_->GetEntries(0, ledger_->head().size, 1 << 20);
    EXPECT_TRUE(entries.ok()) << entries.status();
    if (!entries.ok()) return out;
    for (const std::string& e : *entries) out.push_back(crypto::HashLeaf(e));
    return out;
  }

  bool Found(int n) {
    absl::StatusOr<std::optional<EntryRef>> f =
        ledger_->FindEvent(kTenant, Ev(n).event_id);
    EXPECT_TRUE(f.ok()) << f.status();
    return f.ok() && f->has_value();
  }

  std::shared_ptr<FaultFs> fs_ = std::make_shared<FaultFs>();
  std::unique_ptr<rocksdb::Env> env_ = FaultFs::NewEnv(fs_);
};

// ---- a write-ahead log that cannot be synced ----

TEST_F(FaultTest, FailedWalSyncPublishesNothing) {
  GroupResult published = AppendEvents(10, 3, /*sync=*/false);
  ASSERT_TRUE(published.status.ok()) << published.status;
  ASSERT_TRUE(ledger_->Publish(ledger_->written_head()).ok());
  const Head before = ledger_->head();
  const std::vector<Hash> leaves = Leaves();

  fs_->FailSyncs("*.log");
  GroupResult g = AppendEvents(20, 4, /*sync=*/false);
  ASSERT_TRUE(g.status.ok()) << g.status;  // written, not yet synced
  ASSERT_TRUE(g.batches[0].status.ok());
  const Head written = ledger_->written_head();
  EXPECT_EQ(written.size, before.size + 4);

  absl::Status s = ledger_->Publish(written);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(Msg(s), HasSubstr("syncing the write-ahead log failed"));
  EXPECT_THAT(Msg(s), HasSubstr("injected sync failure"));
  EXPECT_GE(fs_->failed_syncs(), 1);
  EXPECT_EQ(ledger_->head(), before);
  EXPECT_EQ(ledger_->GetEntry(before.size).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(ledger_->GetEntries(0, written.size, 1000)->size(), before.size);
  for (int n = 20; n < 24; ++n) EXPECT_FALSE(Found(n)) << n;
  EXPECT_EQ(ledger_->RootAt(written.size).status().code(),
            absl::StatusCode::kOutOfRange);
  // RocksDB stops writing after a failed sync; the next group fails as a
  // group (a storage failure, not a rejection of its batch).
  GroupResult next = AppendEvents(30, 1, /*sync=*/false);
  EXPECT_FALSE(next.status.ok());
  EXPECT_NE(next.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(next.batches.empty());
  EXPECT_EQ(ledger_->written_head(), written);

  // A restart on a working disk: everything published is there.
  fs_->ClearSyncFailures();
  ASSERT_TRUE(OpenVerified().ok());
  const Head after = ledger_->head();
  ASSERT_GE(after.size, before.size);
  std::vector<Hash> now = Leaves();
  now.resize(before.size);
  EXPECT_EQ(now, leaves);
  EXPECT_EQ(*ledger_->RootAt(before.size), before.root);
  // The unsynced group was still in the file system's cache: it is there
  // whole or not at all.
  EXPECT_TRUE(after.size == before.size || after == written)
      << after.size << " entries";
}

// A synced append whose sync fails fails its group.
TEST_F(FaultTest, FailedSyncFailsASyncedAppend) {
  const Head before = ledger_->head();
  fs_->FailSyncs("*.log", 1);
  GroupResult g = AppendEvents(10, 2, /*sync=*/true);
  EXPECT_EQ(g.status.code(), absl::StatusCode::kUnavailable) << g.status;
  EXPECT_TRUE(g.batches.empty());
  EXPECT_EQ(ledger_->head(), before);
  EXPECT_EQ(ledger_->written_head(), before);
  EXPECT_FALSE(Found(10));
  ASSERT_TRUE(OpenVerified().ok());
  // The record reached the file system; only its sync failed. After a
  // restart without a power cut it may be there, whole, unacknowledged.
  const uint64_t size = ledger_->head().size;
  EXPECT_TRUE(size == before.size || size == before.size + 2) << size;
  EXPECT_EQ(*ledger_->RootAt(before.size), before.root);
}

// ---- power cut ----

TEST_F(FaultTest, PowerCutKeepsEveryPublishedEntryAndAPrefixOfTheRest) {
  struct Written {
    int first_event;
    int count;
    uint64_t end;  // written head after the group
    std::vector<EntryRef> entries;
  };
  std::vector<Written> groups;
  std::vector<EntryRef> acknowledged;  // every entry of a published group
  Head published = ledger_->head();
  const uint64_t start = published.size;
  int n = 100;
  for (int g = 0; g < 24; ++g) {
    const int count = 1 + g % 4;
    GroupResult r = AppendEvents(n, count, /*sync=*/false);
    ASSERT_TRUE(r.status.ok()) << r.status;
    ASSERT_TRUE(r.batches[0].status.ok()) << r.batches[0].status;
    groups.push_back(
        {n, count, ledger_->written_head().size, r.batches[0].entries});
    n += count;
    // Midway, table files and a new manifest state and log too.
    if (g == 10) {
      ASSERT_TRUE(ledger_->TEST_Flush().ok());
    }
    // Publish after some groups, a few at a time; never after the last
    // ones.
    if (g % 5 == 3 && g < 20) {
      ASSERT_TRUE(ledger_->Publish(ledger_->written_head()).ok());
      published = ledger_->head();
      for (const Written& w : groups) {
        for (const EntryRef& e : w.entries) {
          if (e.index >= acknowledged.size() + start) acknowledged.push_back(e);
        }
      }
    }
  }
  const Head written = ledger_->written_head();
  ASSERT_GT(written.size, published.size);
  ASSERT_EQ(acknowledged.size(), published.size - start);

  fs_->SetActive(false);  // the power goes
  ledger_.reset();
  absl::Status dropped = fs_->DropUnsyncedData();
  ASSERT_TRUE(dropped.ok()) << dropped;
  fs_->SetActive(true);

  ASSERT_TRUE(OpenVerified().ok());
  const Head after = ledger_->head();
  ASSERT_GE(after.size, published.size);
  for (const EntryRef& e : acknowledged) {
    absl::StatusOr<std::string> bytes = ledger_->GetEntry(e.index);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_EQ(crypto::HashLeaf(*bytes), e.leaf_hash) << "entry " << e.index;
  }
  EXPECT_EQ(*ledger_->RootAt(published.size), published.root);
  // Whole groups survive or none after them.
  bool boundary = after.size == published.size;
  for (const Written& w : groups) boundary = boundary || after.size == w.end;
  EXPECT_TRUE(boundary) << after.size << " entries";
  for (const Written& w : groups) {
    for (const EntryRef& e : w.entries) {
      if (e.index >= after.size) continue;
      EXPECT_EQ(crypto::HashLeaf(*ledger_->GetEntry(e.index)), e.leaf_hash);
    }
  }
  // The cut lost what was never synced, event ids and all: the first lost
  // group, sent again, is new and goes where it went before.
  ASSERT_LT(after.size, written.size);
  const Written* lost = nullptr;
  for (const Written& w : groups) {
    if (lost == nullptr && w.end > after.size) lost = &w;
  }
  ASSERT_NE(lost, nullptr);
  EXPECT_FALSE(Found(lost->first_event));
  GroupResult again =
      AppendEvents(lost->first_event, lost->count, /*sync=*/true);
  ASSERT_TRUE(again.status.ok()) << again.status;
  ASSERT_TRUE(again.batches[0].status.ok()) << again.batches[0].status;
  EXPECT_FALSE(again.batches[0].entries[0].duplicate);
  EXPECT_EQ(again.batches[0].entries[0].index, after.size);
  EXPECT_EQ(ledger_->head().size, lost->end);
  EXPECT_TRUE(OpenVerified().ok());
}

// ---- a full disk ----

TEST_F(FaultTest, FullDiskFailsTheGroupAndResumesOnceThereIsRoom) {
  const Head before = ledger_->head();
  fs_->SetSpaceBudget(64);
  GroupResult g = AppendEvents(10, 3, /*sync=*/true);
  EXPECT_EQ(g.status.code(), absl::StatusCode::kResourceExhausted) << g.status;
  EXPECT_TRUE(g.batches.empty());
  EXPECT_GE(fs_->refused_appends(), 1);
  EXPECT_EQ(ledger_->head(), before);
  EXPECT_EQ(ledger_->written_head(), before);
  EXPECT_FALSE(Found(10));

  // The unsynced path fails the same way.
  g = AppendEvents(10, 3, /*sync=*/false);
  EXPECT_EQ(g.status.code(), absl::StatusCode::kResourceExhausted) << g.status;
  EXPECT_TRUE(g.batches.empty());
  EXPECT_EQ(ledger_->written_head(), before);

  // Still full: resuming is refused and says how much is needed.
  EXPECT_GE(ledger_->SpaceNeededToResume(), Store::kOpenReserveBytes);
  absl::Status s = ledger_->ResumeAfterNoSpace();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(Msg(s), HasSubstr(StrCat("writing resumes once ",
                                       ledger_->SpaceNeededToResume() >> 20,
                                       " MiB are free")));

  fs_->ClearSpaceBudget();
  s = ledger_->ResumeAfterNoSpace();
  ASSERT_TRUE(s.ok()) << s;
  // The same events again: new entries where the failed group would have
  // gone (it left nothing, not even its event ids).
  g = AppendEvents(10, 3, /*sync=*/true);
  ASSERT_TRUE(g.status.ok()) << g.status;
  ASSERT_TRUE(g.batches[0].status.ok()) << g.batches[0].status;
  EXPECT_FALSE(g.batches[0].entries[0].duplicate);
  EXPECT_EQ(g.batches[0].entries[0].index, before.size);
  EXPECT_EQ(ledger_->head().size, before.size + 3);
  const Head done = ledger_->head();

  ASSERT_TRUE(OpenVerified().ok());
  EXPECT_EQ(ledger_->head(), done);
  EXPECT_EQ(*ledger_->RootAt(before.size), before.root);
}

// A group written but not yet published when the disk filled up is kept,
// and can be published once writing resumes.
TEST_F(FaultTest, FullDiskKeepsTheGroupWrittenBeforeIt) {
  const Head before = ledger_->head();
  GroupResult a = AppendEvents(10, 2, /*sync=*/false);
  ASSERT_TRUE(a.status.ok()) << a.status;
  const Head written = ledger_->written_head();
  fs_->SetSpaceBudget(64);
  GroupResult b = AppendEvents(20, 2, /*sync=*/false);
  EXPECT_EQ(b.status.code(), absl::StatusCode::kResourceExhausted) << b.status;
  EXPECT_EQ(ledger_->written_head(), written);
  EXPECT_EQ(ledger_->head(), before);

  fs_->ClearSpaceBudget();
  absl::Status s = ledger_->ResumeAfterNoSpace();
  ASSERT_TRUE(s.ok()) << s;
  s = ledger_->Publish(written);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(ledger_->head(), written);
  EXPECT_TRUE(Found(10));
  EXPECT_FALSE(Found(20));
  GroupResult c = AppendEvents(20, 2, /*sync=*/true);
  ASSERT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(c.batches[0].entries[0].index, written.size);
  EXPECT_FALSE(c.batches[0].entries[0].duplicate);
  const Head done = ledger_->head();
  ASSERT_TRUE(OpenVerified().ok());
  EXPECT_EQ(ledger_->head(), done);
}

TEST_F(FaultTest, StartOnAFullDiskWritesNothing) {
  ledger_.reset();
  const std::map<std::string, uintmax_t> files = Files(dir_);
  ASSERT_FALSE(files.empty());
  fs_->SetSpaceBudget(uint64_t{5} << 20);
  absl::StatusOr<std::unique_ptr<Ledger>> l =
      Ledger::Open(dir_, FaultyOptions());
  EXPECT_EQ(l.status().code(), absl::StatusCode::kResourceExhausted)
      << l.status();
  EXPECT_THAT(Msg(l.status()),
              HasSubstr("opening needs 64 MiB free and the file system has "
                        "5 MiB"));
  EXPECT_THAT(Msg(l.status()), HasSubstr("free at least 59 MiB"));
  EXPECT_EQ(Files(dir_), files);

  // A new ledger is not even begun.
  const std::string fresh = dir_ + "/fresh";
  l = Ledger::Open(fresh, FaultyOptions());
  EXPECT_EQ(l.status().code(), absl::StatusCode::kResourceExhausted)
      << l.status();
  EXPECT_FALSE(std::filesystem::exists(fresh));
  EXPECT_EQ(Files(dir_), files);

  fs_->ClearSpaceBudget();
  EXPECT_TRUE(OpenFaulty().ok());
}

// ---- failing reads ----

TEST_F(FaultTest, ReadErrorWhilePlanningFailsTheGroup) {
  ASSERT_TRUE(AppendEvents(10, 5, /*sync=*/true).status.ok());
  const Head before = ledger_->head();
  ASSERT_TRUE(ledger_->TEST_Flush().ok());  // lookups now read table files
  fs_->FailReads("*.sst");

  // A resent event (found in by_event_id) and a new one about a known item.
  GroupResult g = AppendEvents(14, 2, /*sync=*/true);
  EXPECT_EQ(g.status.code(), absl::StatusCode::kUnavailable) << g.status;
  EXPECT_THAT(Msg(g.status), HasSubstr("injected read failure"));
  EXPECT_TRUE(g.batches.empty());
  EXPECT_GE(fs_->failed_reads(), 1);
  EXPECT_EQ(ledger_->head(), before);
  EXPECT_EQ(ledger_->written_head(), before);

  fs_->ClearReadFailures();
  EXPECT_FALSE(Found(15));
  g = AppendEvents(14, 2, /*sync=*/true);
  ASSERT_TRUE(g.status.ok()) << g.status;
  ASSERT_TRUE(g.batches[0].status.ok()) << g.batches[0].status;
  EXPECT_TRUE(g.batches[0].entries[0].duplicate);
  EXPECT_EQ(g.batches[0].entries[0].index, before.size - 1);
  EXPECT_FALSE(g.batches[0].entries[1].duplicate);
  EXPECT_EQ(g.batches[0].entries[1].index, before.size);
  absl::StatusOr<Entry> e = DecodeEntry(*ledger_->GetEntry(before.size));
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->back_links.size(), 2u);
  EXPECT_EQ(e->back_links[1].id, "item:0");
  EXPECT_EQ(e->back_links[1].previous, 5u);  // event 10, the last about it
  EXPECT_TRUE(OpenVerified().ok());
}

// With every event of the group new, the same.
TEST_F(FaultTest, ReadErrorFailsAGroupOfNewEventsToo) {
  ASSERT_TRUE(AppendEvents(10, 5, /*sync=*/true).status.ok());
  const Head before = ledger_->head();
  ASSERT_TRUE(ledger_->TEST_Flush().ok());
  fs_->FailReads("*.sst");
  GroupResult g = AppendEvents(20, 1, /*sync=*/true);
  EXPECT_EQ(g.status.code(), absl::StatusCode::kUnavailable) << g.status;
  EXPECT_TRUE(g.batches.empty());
  EXPECT_EQ(ledger_->written_head(), before);
  fs_->ClearReadFailures();
  g = AppendEvents(20, 1, /*sync=*/true);
  ASSERT_TRUE(g.status.ok()) << g.status;
  EXPECT_EQ(g.batches[0].entries[0].index, before.size);
}

}  // namespace
}  // namespace ledger
