// The derived families (by_event_id, subject_heads, keys), their digest
// record, the tail-only start-up check with the scrub behind it, the
// rollback guard and the format-1 upgrade, each against records changed
// straight in RocksDB.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/strings.h"
#include "base/sync.h"
#include "crypto/rfc6962.h"
#include "ledger/index_check.h"
#include "ledger/ledger.h"
#include "ledger/ledger_testing.h"
#include "ledger/schema.h"
#include "ledger/store.h"

namespace ledger {
namespace {

using testing::Annotation;
using ::testing::HasSubstr;
using testing::kOrigin;
using testing::kTenant;
using ::testing::Not;

// Events 0 .. kCovered-1 are entries 2 .. 101 and the checkpoint covers
// them; events kCovered .. kEvents-1 are entries 102 .. 111, after it.
constexpr int kCovered = 100;
constexpr int kEvents = 110;
constexpr uint64_t kCheckpointSize = 2 + kCovered;
constexpr uint64_t kSize = 2 + kEvents;

uint64_t IndexOf(int n) { return 2 + n; }

// Event `n`: about item "item:<n % 7>", by actor "user:<n % 3>".
Event Ev(int n) {
  Event e = Annotation(n, StrCat("item:", n % 7));
  e.actor.id = StrCat("user:", n % 3);
  return e;
}

// The last entry about `item` (of events 0 .. kEvents-1).
uint64_t LastAbout(int item) {
  uint64_t last = 0;
  for (int n = 0; n < kEvents; ++n) {
    if (n % 7 == item) last = IndexOf(n);
  }
  return last;
}

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

class DerivedTamperTest : public testing::LedgerFixture {
 protected:
  void SetUp() override {
    LedgerFixture::SetUp();
    for (int b = 0; b < kCovered / 10; ++b) {
      std::vector<Event> events;
      for (int i = 0; i < 10; ++i) events.push_back(Ev(b * 10 + i));
      ASSERT_TRUE(AppendOne(Batch(events, emitter_key_)).status.ok());
    }
    Checkpoint();
    for (int b = kCovered; b < kEvents; b += 5) {
      std::vector<Event> events;
      for (int i = 0; i < 5; ++i) events.push_back(Ev(b + i));
      ASSERT_TRUE(AppendOne(Batch(events, emitter_key_)).status.ok());
    }
    ASSERT_EQ(ledger_->head().size, kSize);
    ASSERT_EQ(ledger_->LatestCheckpoint()->size, kCheckpointSize);
    ledger_.reset();
  }

  // Runs `fn` on the database, the ledger closed.
  void WithStore(const std::function<void(Store&)>& fn) {
    ledger_.reset();
    absl::StatusOr<std::unique_ptr<Store>> store =
        Store::Open(dir_, StoreOptions{});
    ASSERT_TRUE(store.ok()) << store.status();
    fn(**store);
  }
  void Put(Cf cf, const std::string& key, const std::string& value) {
    WithStore([&](Store& store) {
      rocksdb::WriteBatch batch;
      batch.Put(store.handle(cf), key, value);
      ASSERT_TRUE(store.Write(&batch).ok());
    });
  }
  void Delete(Cf cf, const std::string& key) {
    WithStore([&](Store& store) {
      ASSERT_TRUE(store.Get(cf, key)->has_value()) << "nothing to delete";
      rocksdb::WriteBatch batch;
      batch.Delete(store.handle(cf), key);
      ASSERT_TRUE(store.Write(&batch).ok());
    });
  }
  std::optional<std::string> Get(Cf cf, const std::string& key) {
    std::optional<std::string> out;
    WithStore([&](Store& store) {
      absl::StatusOr<std::optional<std::string>> v = store.Get(cf, key);
      ASSERT_TRUE(v.ok()) << v.status();
      out = *v;
    });
    return out;
  }
  // Rewrites the digest record to match the families as they now are, as
  // an edit that knew about it would.
  void ResealDigests() {
    WithStore([&](Store& store) {
      absl::StatusOr<IndexDigests> d = DigestDerivedFamilies(store);
      ASSERT_TRUE(d.ok()) << d.status();
      rocksdb::WriteBatch batch;
      batch.Put(store.handle(Cf::kMeta), std::string(kMetaIndexDigestKey),
                EncodeIndexDigests(*d));
      ASSERT_TRUE(store.Write(&batch).ok());
    });
  }

  absl::Status OpenWith(LedgerOptions options) {
    ledger_.reset();
    absl::StatusOr<std::unique_ptr<Ledger>> l =
        Ledger::Open(dir_, std::move(options));
    if (!l.ok()) return l.status();
    ledger_ = *std::move(l);
    return absl::OkStatus();
  }
  LedgerOptions TailOptions() const {
    LedgerOptions options = Options();
    options.open_check = OpenCheck::kTail;
    return options;
  }
  absl::Status OpenError() {
    absl::Status s = Reopen();
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    return s;
  }
  void FlipByteOfEntry(uint64_t index) {
    std::optional<std::string> v = Get(Cf::kEntries, EntryKey(index));
    ASSERT_TRUE(v.has_value());
    (*v)[v->size() / 2] ^= 1;
    Put(Cf::kEntries, EntryKey(index), *v);
  }
  // Changes entry `index` so that it still decodes (and grades the same)
  // but no longer hashes to its leaf: a bit of its emitter signature.
  void FlipSignatureOfEntry(uint64_t index) {
    std::optional<std::string> v = Get(Cf::kEntries, EntryKey(index));
    ASSERT_TRUE(v.has_value());
    absl::StatusOr<Entry> entry = DecodeEntry(*v);
    ASSERT_TRUE(entry.ok()) << entry.status();
    entry->emitter.signature[0] ^= 1;
    Put(Cf::kEntries, EntryKey(index), EncodeEntry(*entry));
  }
  // Appends `count` more events (numbered from `first`) in groups of 500.
  void AppendMany(int first, int count) {
    for (int done = 0; done < count; done += 500) {
      std::vector<Event> events;
      for (int i = done; i < count && i < done + 500; ++i) {
        events.push_back(Ev(first + i));
      }
      AppendResult r = AppendOne(Batch(events, emitter_key_));
      ASSERT_TRUE(r.status.ok()) << r.status;
    }
  }

  static std::string IdKey(int n) {
    return EventIdKey(kTenant, Ev(n).event_id);
  }
  static std::string ItemHeadKey(int item) {
    return SubjectHeadKey(LinkKind::kItem, kTenant, StrCat("item:", item));
  }
  static std::string EventName(int n) {
    return StrCat("by_event_id record of event ", FormatUuid(Ev(n).event_id),
                  " of tenant '", kTenant, "'");
  }
};

// ---- by_event_id ----

TEST_F(DerivedTamperTest, UntouchedLedgerOpensInEveryMode) {
  ASSERT_TRUE(Reopen().ok());
  EXPECT_TRUE(ledger_->fully_checked());
  ASSERT_TRUE(OpenWith(TailOptions()).ok());
  EXPECT_FALSE(ledger_->fully_checked());
  EXPECT_TRUE(ledger_->Scrub([](uint64_t, uint64_t) { return true; }).ok());
}

TEST_F(DerivedTamperTest, DeletedEventIdRecordIsNamedWithHowToRebuild) {
  Delete(Cf::kByEventId, IdKey(42));
  absl::Status s = OpenError();
  EXPECT_THAT(Msg(s), HasSubstr(StrCat("by_event_id (", kSize - 1,
                                       " records, expected ", kSize, ")")));
  EXPECT_THAT(Msg(s),
              HasSubstr(StrCat(EventName(42), ": missing, expected entry 44")));
  EXPECT_THAT(Msg(s), HasSubstr("repair-indexes"));
  // A tail-only open leaves the large families to CheckDerivedDigests,
  // which the node runs before it accepts appends.
  ASSERT_TRUE(OpenWith(TailOptions()).ok());
  s = ledger_->CheckDerivedDigests();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(Msg(s), HasSubstr(StrCat("by_event_id (", kSize - 1,
                                       " records, expected ", kSize, ")")));
  EXPECT_THAT(Msg(s), HasSubstr("repair-indexes"));
}

TEST_F(DerivedTamperTest, DeletedEventIdRecordIsRebuiltFromTheEntries) {
  Delete(Cf::kByEventId, IdKey(42));
  LedgerOptions options = Options();
  options.rebuild_indexes = true;
  std::vector<std::string> progress;
  options.progress = [&](std::string_view line) {
    progress.emplace_back(line);
  };
  ASSERT_TRUE(OpenWith(options).ok());
  EXPECT_THAT(progress,
              ::testing::Contains(HasSubstr(StrCat(
                  "rebuilt 1 derived records; ", EventName(42), ": missing"))));
  absl::StatusOr<std::optional<EntryRef>> found =
      ledger_->FindEvent(kTenant, Ev(42).event_id);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->index, IndexOf(42));
  EXPECT_EQ((*found)->leaf_hash, crypto::HashLeaf(*ledger_->GetEntry(44)));

  // The event again: the same entry, acknowledged as a duplicate.
  AppendResult again = AppendOne(Batch({Ev(42)}, emitter_key_));
  ASSERT_TRUE(again.status.ok()) << again.status;
  EXPECT_TRUE(again.entries[0].duplicate);
  EXPECT_EQ(again.entries[0].index, IndexOf(42));
  EXPECT_EQ(ledger_->head().size, kSize);

  // Repaired for good: a plain start (full check) accepts it.
  ASSERT_TRUE(Reopen().ok());
  EXPECT_TRUE(ledger_->fully_checked());
}

TEST_F(DerivedTamperTest, RedirectedEventIdRecordIsNamed) {
  std::optional<std::string> v = Get(Cf::kByEventId, IdKey(42));
  ASSERT_TRUE(v.has_value());
  // Same event hash, another entry's index.
  Put(Cf::kByEventId, IdKey(42), Be64(IndexOf(43)) + v->substr(8));
  absl::Status s = OpenError();
  EXPECT_THAT(Msg(s), HasSubstr("by_event_id changed since the ledger wrote"));
  EXPECT_THAT(Msg(s), HasSubstr(StrCat(EventName(42),
                                       ": entry 45, expected entry 44")));
}

// With the digest record rewritten to match, only the full check (against
// the entries) sees the redirection; a ledger opened without it must still
// never answer with the other entry.
TEST_F(DerivedTamperTest, RedirectedEventIdRecordIsNeverServed) {
  std::optional<std::string> v = Get(Cf::kByEventId, IdKey(42));
  ASSERT_TRUE(v.has_value());
  Put(Cf::kByEventId, IdKey(42), Be64(IndexOf(43)) + v->substr(8));
  ResealDigests();

  absl::Status s = OpenError();
  EXPECT_THAT(Msg(s), HasSubstr("by_event_id do not match the entries"));
  EXPECT_THAT(Msg(s), HasSubstr(StrCat(EventName(42),
                                       ": entry 45, expected entry 44")));

  ASSERT_TRUE(OpenWith(TailOptions()).ok());
  absl::StatusOr<std::optional<EntryRef>> found =
      ledger_->FindEvent(kTenant, Ev(42).event_id);
  EXPECT_EQ(found.status().code(), absl::StatusCode::kDataLoss)
      << (found.ok() && found->has_value()
              ? StrCat("answered entry ", (*found)->index)
              : "");
  EXPECT_THAT(Msg(found.status()),
              HasSubstr(StrCat("points event ", FormatUuid(Ev(42).event_id),
                               " of tenant 'acme-ai' at entry 45")));
  // The entry the record points at still answers for its own event.
  absl::StatusOr<std::optional<EntryRef>> other =
      ledger_->FindEvent(kTenant, Ev(43).event_id);
  ASSERT_TRUE(other.ok() && other->has_value());
  EXPECT_EQ((*other)->index, IndexOf(43));

  // Sending the event again must not acknowledge entry 45 as its own: the
  // group fails, nothing is written.
  const Head before = ledger_->head();
  VerifiedBatch batch = Batch({Ev(42)}, emitter_key_);
  const VerifiedBatch* batches[] = {&batch};
  GroupResult g = ledger_->Append(batches, testing::kNewYear2026Ns);
  EXPECT_EQ(g.status.code(), absl::StatusCode::kDataLoss) << g.status;
  EXPECT_THAT(Msg(g.status), HasSubstr("at entry 45, which holds another"));
  EXPECT_TRUE(g.batches.empty());
  EXPECT_EQ(ledger_->head(), before);
  EXPECT_EQ(ledger_->written_head(), before);

  // The scrub, which compares with the entries, reports it.
  s = ledger_->Scrub([](uint64_t, uint64_t) { return true; });
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(Msg(s), HasSubstr("by_event_id do not match the entries"));
}

// A record naming an entry past the end, likewise: not "no such event".
TEST_F(DerivedTamperTest, EventIdRecordPastTheEndIsNeverServed) {
  std::optional<std::string> v = Get(Cf::kByEventId, IdKey(42));
  ASSERT_TRUE(v.has_value());
  Put(Cf::kByEventId, IdKey(42), Be64(5000) + v->substr(8));
  ResealDigests();
  EXPECT_THAT(
      Msg(OpenError()),
      HasSubstr(StrCat(EventName(42), ": entry 5000, expected entry 44")));

  ASSERT_TRUE(OpenWith(TailOptions()).ok());
  absl::StatusOr<std::optional<EntryRef>> found =
      ledger_->FindEvent(kTenant, Ev(42).event_id);
  EXPECT_EQ(found.status().code(), absl::StatusCode::kDataLoss)
      << (found.ok() ? (found->has_value() ? "found" : "not found") : "");
  EXPECT_THAT(Msg(found.status()),
              HasSubstr(StrCat("is entry 5000 but the ledger has ", kSize)));
  AppendResult again = AppendOne(Batch({Ev(42)}, emitter_key_));
  EXPECT_EQ(again.status.code(), absl::StatusCode::kDataLoss) << again.status;
  EXPECT_EQ(ledger_->head().size, kSize);
}

TEST_F(DerivedTamperTest, ExtraEventIdRecordIsNamed) {
  Event stranger = Ev(5000);
  Put(Cf::kByEventId, EventIdKey(kTenant, stranger.event_id),
      EventIdValue(IndexOf(7), crypto::HashLeaf(EncodeEvent(stranger))));
  absl::Status s = OpenError();
  EXPECT_THAT(Msg(s), HasSubstr(StrCat("by_event_id record of event ",
                                       FormatUuid(stranger.event_id),
                                       " of tenant 'acme-ai': names entry 9, "
                                       "which does not hold that event")));
}

// ---- subject_heads ----

TEST_F(DerivedTamperTest, SubjectHeadPointingAtAnotherEntryIsNamed) {
  const uint64_t last = LastAbout(3);
  Put(Cf::kSubjectHeads, ItemHeadKey(3), Be64(last - 7));
  absl::Status s = OpenError();
  EXPECT_THAT(Msg(s), HasSubstr("subject_heads changed since"));
  EXPECT_THAT(Msg(s), HasSubstr(StrCat(
                          "subject_heads record of item 'item:3' of tenant "
                          "'acme-ai': names entry ",
                          last - 7, ", expected entry ", last)));
}

TEST_F(DerivedTamperTest, SubjectHeadPastTheHeadIsNamed) {
  Put(Cf::kSubjectHeads, ItemHeadKey(3), Be64(1000));
  absl::Status s = OpenError();
  EXPECT_THAT(Msg(s), HasSubstr(StrCat(
                          "subject_heads record of item 'item:3' of tenant "
                          "'acme-ai': names entry 1000, expected entry ",
                          LastAbout(3))));
}

TEST_F(DerivedTamperTest, DeletedSubjectHeadIsNamed) {
  Delete(Cf::kSubjectHeads, ItemHeadKey(3));
  absl::Status s = OpenError();
  EXPECT_THAT(Msg(s), HasSubstr(StrCat(
                          "subject_heads record of item 'item:3' of tenant "
                          "'acme-ai': missing, expected entry ",
                          LastAbout(3))));
}

TEST_F(DerivedTamperTest, ExtraSubjectHeadIsNamed) {
  Put(Cf::kSubjectHeads,
      SubjectHeadKey(LinkKind::kActor, kTenant, "user:nobody"), Be64(5));
  absl::Status s = OpenError();
  EXPECT_THAT(Msg(s), HasSubstr("subject_heads record of actor 'user:nobody' "
                                "of tenant 'acme-ai': names entry 5 but no "
                                "entry is about that subject"));
}

// A head past the ledger's end that got past the start-up check (digest
// rewritten, tail check) must fail the append that would link to it.
TEST_F(DerivedTamperTest, SubjectHeadPastTheHeadFailsTheAppendNotTheLink) {
  Put(Cf::kSubjectHeads, ItemHeadKey(3), Be64(1000));
  ResealDigests();
  absl::Status s = OpenError();  // the full check compares with the entries
  EXPECT_THAT(Msg(s), HasSubstr("subject_heads do not match the entries"));
  EXPECT_THAT(Msg(s), HasSubstr("item 'item:3'"));

  ASSERT_TRUE(OpenWith(TailOptions()).ok());
  const Head before = ledger_->head();
  // One event about item:3, one about item:4 in the same group.
  Event about = Ev(kEvents + 5);
  Event other = Ev(kEvents + 6);
  ASSERT_EQ(about.subjects[0].id, "item:3");
  ASSERT_EQ(other.subjects[0].id, "item:4");
  VerifiedBatch b1 = Batch({other}, emitter_key_);
  VerifiedBatch b2 = Batch({about}, emitter_key_);
  const VerifiedBatch* batches[] = {&b1, &b2};
  GroupResult g = ledger_->Append(batches, testing::kNewYear2026Ns);
  EXPECT_EQ(g.status.code(), absl::StatusCode::kDataLoss) << g.status;
  EXPECT_THAT(Msg(g.status), HasSubstr("subject_heads record"));
  EXPECT_THAT(Msg(g.status), HasSubstr(StrCat("names entry 1000 of ", kSize)));
  EXPECT_TRUE(g.batches.empty());
  EXPECT_EQ(ledger_->head(), before);
  EXPECT_EQ(ledger_->written_head(), before);
  EXPECT_FALSE(ledger_->FindEvent(kTenant, other.event_id)->has_value());
  // An event about other subjects still goes in, linked correctly.
  AppendResult r = AppendOne(Batch({other}, emitter_key_));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.entries[0].index, kSize);
}

// ---- the digest record ----

TEST_F(DerivedTamperTest, AlteredDigestRecordIsDataLoss) {
  std::optional<std::string> v =
      Get(Cf::kMeta, std::string(kMetaIndexDigestKey));
  ASSERT_TRUE(v.has_value());
  (*v)[3] ^= 1;  // the by_event_id digest's low lane
  Put(Cf::kMeta, std::string(kMetaIndexDigestKey), *v);
  absl::Status s = OpenError();
  EXPECT_THAT(Msg(s), HasSubstr("by_event_id changed since"));
  EXPECT_THAT(Msg(s), HasSubstr("the digest record itself was altered"));
  ASSERT_TRUE(OpenWith(TailOptions()).ok());
  s = ledger_->CheckDerivedDigests();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(Msg(s), HasSubstr("by_event_id changed since"));
}

TEST_F(DerivedTamperTest, MissingOrTruncatedDigestRecordIsDataLoss) {
  std::optional<std::string> v =
      Get(Cf::kMeta, std::string(kMetaIndexDigestKey));
  ASSERT_TRUE(v.has_value());
  Put(Cf::kMeta, std::string(kMetaIndexDigestKey), v->substr(1));
  EXPECT_THAT(Msg(OpenError()), HasSubstr("wrong length"));
  Delete(Cf::kMeta, std::string(kMetaIndexDigestKey));
  EXPECT_THAT(Msg(OpenError()),
              HasSubstr("the index digest record is missing"));
}

// ---- the tail check and the scrub ----

TEST_F(DerivedTamperTest, TailCheckMissesAnOldEntryTheScrubNames) {
  // (An entry that no longer decodes is found by the risk grades' replay
  // of every entry when the ledger opens: see the next test.)
  FlipSignatureOfEntry(57);
  // Both ways of asking for the tail check.
  LedgerOptions zero = Options();
  zero.full_check_max_entries = 0;
  for (const LedgerOptions& options : {TailOptions(), zero}) {
    ASSERT_TRUE(OpenWith(options).ok());
    EXPECT_FALSE(ledger_->fully_checked());
    absl::Status s = ledger_->Scrub([](uint64_t, uint64_t) { return true; });
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_THAT(Msg(s), HasSubstr("entries [57, 58) are corrupt"));
  }
  // The full check refuses it at once.
  EXPECT_THAT(Msg(OpenError()), HasSubstr("entries [57, 58) are corrupt"));
}

TEST_F(DerivedTamperTest, TailCheckRefusesAnOldEntryThatDoesNotDecode) {
  FlipByteOfEntry(57);
  absl::Status s = OpenWith(TailOptions());
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(Msg(s), HasSubstr("entry 57 does not decode (rebuilding risk "
                                "grades): emitter.audit_path"));
}

TEST_F(DerivedTamperTest, TailCheckRefusesAnEntryAfterTheCheckpoint) {
  FlipByteOfEntry(kCheckpointSize + 3);
  absl::Status s = OpenWith(TailOptions());
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(Msg(s), HasSubstr(StrCat("entries [", kCheckpointSize + 3, ", ",
                                       kCheckpointSize + 4, ") are corrupt")));
}

TEST_F(DerivedTamperTest, ScrubStopsWhenThePaceSaysSo) {
  ASSERT_TRUE(Reopen().ok());
  AppendMany(kEvents, 9000);  // the pace is asked every 4096 entries
  int calls = 0;
  absl::Status s = ledger_->Scrub([&](uint64_t done, uint64_t total) {
    ++calls;
    EXPECT_EQ(done, 4096u);
    EXPECT_EQ(total, kSize + 9000);
    return false;
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
  EXPECT_EQ(calls, 1);
}

// Appends between the pace calls of a scrub, on the scrub's own thread: the
// scrub checks the ledger as of its start and passes.
TEST_F(DerivedTamperTest, ScrubPassesWhileAppendsContinue) {
  ASSERT_TRUE(Reopen().ok());
  AppendMany(kEvents, 9000);
  const uint64_t at_start = ledger_->head().size;
  int next = kEvents + 9000;
  std::vector<uint64_t> totals;
  absl::Status s = ledger_->Scrub([&](uint64_t, uint64_t total) {
    totals.push_back(total);
    AppendResult r = AppendOne(Batch({Ev(next++), Ev(next++)}, emitter_key_));
    EXPECT_TRUE(r.status.ok()) << r.status;
    return true;
  });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(totals, (std::vector<uint64_t>{at_start, at_start}));
  EXPECT_EQ(ledger_->head().size, at_start + 4);
  EXPECT_TRUE(ledger_->Scrub([](uint64_t, uint64_t) { return true; }).ok());
}

// The same with the scrub on a second thread, held at its first pace call
// until the writer has appended, so the two overlap for certain.
TEST_F(DerivedTamperTest, ScrubPassesWhileAnotherThreadAppends) {
  ASSERT_TRUE(Reopen().ok());
  AppendMany(kEvents, 9000);
  Mutex mu;
  int appended = 0;  // groups appended while the scrub runs
  bool scrub_done = false;
  absl::Status scrubbed;
  std::thread scrubber([&] {
    absl::Status s = ledger_->Scrub([&](uint64_t, uint64_t) {
      MutexLock lock(&mu);
      mu.Await([&] { return appended >= 3; });
      return true;
    });
    MutexLock lock(&mu);
    scrubbed = s;
    scrub_done = true;
  });
  int next = kEvents + 9000;
  while (true) {
    {
      MutexLock lock(&mu);
      if (scrub_done) break;
    }
    AppendResult r = AppendOne(Batch({Ev(next++)}, emitter_key_));
    EXPECT_TRUE(r.status.ok()) << r.status;
    MutexLock lock(&mu);
    ++appended;
    if (!r.status.ok()) appended = 1 << 20;  // let the scrub go on
  }
  scrubber.join();
  EXPECT_TRUE(scrubbed.ok()) << scrubbed;
  EXPECT_GE(appended, 3);
  EXPECT_TRUE(ledger_->Scrub([](uint64_t, uint64_t) { return true; }).ok());
  EXPECT_TRUE(Reopen().ok());
}

// ---- the rollback guard ----

TEST_F(DerivedTamperTest, GuardLargerThanTheLedgerIsRefused) {
  LedgerOptions options = Options();
  options.signed_head = ledger::Checkpoint{kOrigin, kSize + 38, Hash{}, {}};
  absl::Status s = OpenWith(options);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(Msg(s), HasSubstr(StrCat("the ledger holds ", kSize,
                                       " entries but this log already "
                                       "signed a checkpoint of size ",
                                       kSize + 38)));
  EXPECT_THAT(Msg(s),
              HasSubstr(StrCat("entries [", kSize, ", ", kSize + 38, ")")));
}

TEST_F(DerivedTamperTest, GuardWithAnotherRootIsRefused) {
  for (OpenCheck check : {OpenCheck::kFull, OpenCheck::kTail}) {
    for (uint64_t size : {uint64_t{60}, kCheckpointSize, kSize}) {
      LedgerOptions options = Options();
      options.open_check = check;
      ASSERT_TRUE(Reopen().ok());
      Hash wrong = *ledger_->RootAt(size);
      wrong[31] ^= 0x40;
      options.signed_head = ledger::Checkpoint{kOrigin, size, wrong, {}};
      absl::Status s = OpenWith(options);
      EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
      EXPECT_THAT(Msg(s), HasSubstr(StrCat("the ledger's tree at size ", size,
                                           " does not have the root")));
    }
  }
}

TEST_F(DerivedTamperTest, GuardAtAnEarlierCheckpointPasses) {
  ASSERT_TRUE(Reopen().ok());
  const std::optional<StoredCheckpoint> cp = ledger_->LatestCheckpoint();
  ASSERT_TRUE(cp.has_value());
  const Hash cp_root = *ledger_->RootAt(cp->size);
  const Hash root_60 = *ledger_->RootAt(60);
  const Head head = ledger_->head();
  for (OpenCheck check : {OpenCheck::kFull, OpenCheck::kTail}) {
    for (const auto& [size, root] :
         {std::pair{cp->size, cp_root}, std::pair{uint64_t{60}, root_60},
          std::pair{head.size, head.root}}) {
      LedgerOptions options = Options();
      options.open_check = check;
      options.signed_head = ledger::Checkpoint{kOrigin, size, root, {}};
      absl::Status s = OpenWith(options);
      EXPECT_TRUE(s.ok()) << "size " << size << ": " << s;
    }
  }
}

// ---- the acknowledged head ----

TEST_F(DerivedTamperTest, AcknowledgedHeadBeyondTheLedgerIsRefused) {
  LedgerOptions options = Options();
  Head acked;
  acked.size = kSize + 5;
  options.acknowledged_head = acked;
  absl::Status s = OpenWith(options);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(Msg(s), HasSubstr(StrCat("the ledger holds ", kSize,
                                       " entries but this node acknowledged ",
                                       kSize + 5, " to its clients")));
  EXPECT_THAT(Msg(s), HasSubstr(StrCat("acknowledged entries [", kSize, ", ",
                                       kSize + 5, ") are lost")));
}

TEST_F(DerivedTamperTest, AcknowledgedHeadIsCheckedAtItsSize) {
  ASSERT_TRUE(Reopen().ok());
  const Head head = ledger_->head();
  for (OpenCheck check : {OpenCheck::kFull, OpenCheck::kTail}) {
    for (uint64_t size : {uint64_t{60}, kCheckpointSize, kSize}) {
      ASSERT_TRUE(Reopen().ok());
      Head acked;
      acked.size = size;
      acked.root = *ledger_->RootAt(size);
      LedgerOptions options = Options();
      options.open_check = check;
      options.acknowledged_head = acked;
      absl::Status s = OpenWith(options);
      EXPECT_TRUE(s.ok()) << "size " << size << ": " << s;
      acked.root[7] ^= 0x02;
      options.acknowledged_head = acked;
      s = OpenWith(options);
      EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
      EXPECT_THAT(Msg(s), HasSubstr(StrCat("the ledger's tree at size ", size,
                                           " does not have the root this node "
                                           "acknowledged")));
    }
  }
  EXPECT_EQ(head.size, kSize);
}

// ---- formats 1 and 2 ----

class FormatUpgradeTest : public DerivedTamperTest {
 protected:
  // Rewrites the key records as version 1, as formats 1 and 2 stored them.
  void MakeKeyRecordsV1() {
    ledger_.reset();
    WithStore([&](Store& store) {
      rocksdb::WriteBatch batch;
      std::unique_ptr<rocksdb::Iterator> it = store.NewIterator(Cf::kKeys);
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        absl::StatusOr<KeyInfo> k = DecodeKeyInfo(it->value().ToStringView());
        ASSERT_TRUE(k.ok()) << k.status();
        batch.Put(store.handle(Cf::kKeys), it->key(), EncodeKeyInfoV1(*k));
      }
      ASSERT_TRUE(store.Write(&batch).ok());
    });
  }
  // Empties the index families, which formats 1 to 3 did not have.
  void DropIndexFamilies() {
    WithStore([&](Store& store) {
      rocksdb::WriteBatch batch;
      for (Cf cf : {Cf::kBySubject, Cf::kByType, Cf::kByRun, Cf::kLineage}) {
        std::unique_ptr<rocksdb::Iterator> it = store.NewIterator(cf);
        for (it->SeekToFirst(); it->Valid(); it->Next()) {
          batch.Delete(store.handle(cf), it->key());
        }
      }
      ASSERT_TRUE(store.Write(&batch).ok());
    });
  }
  // The digest record of formats 2 and 3: the first three families only.
  void ResealDigestsV2() {
    ResealDigests();
    std::optional<std::string> v =
        Get(Cf::kMeta, std::string(kMetaIndexDigestKey));
    ASSERT_TRUE(v.has_value());
    Put(Cf::kMeta, std::string(kMetaIndexDigestKey),
        v->substr(0, 3 * crypto::MultisetHash::kEncodedSize));
  }
  // Makes the database look as a format-1 build left it.
  void MakeFormat1() {
    DropIndexFamilies();
    MakeKeyRecordsV1();
    Put(Cf::kMeta, std::string(kMetaFormatKey), "1");
    Delete(Cf::kMeta, std::string(kMetaIndexDigestKey));
  }
  // ... or a format-2 build (its digest record covers the v1 key records).
  void MakeFormat2() {
    DropIndexFamilies();
    MakeKeyRecordsV1();
    Put(Cf::kMeta, std::string(kMetaFormatKey), "2");
    ResealDigestsV2();
  }
  // ... or a format-3 build (key records of version 2, no index families).
  void MakeFormat3() {
    DropIndexFamilies();
    Put(Cf::kMeta, std::string(kMetaFormatKey), "3");
    ResealDigestsV2();
  }
};

TEST_F(FormatUpgradeTest, Format1IsUpgradedOnOpen) {
  MakeFormat1();
  std::vector<std::string> progress;
  LedgerOptions options = Options();
  options.open_check = OpenCheck::kTail;  // an upgrade checks everything
  options.progress = [&](std::string_view line) {
    progress.emplace_back(line);
  };
  ASSERT_TRUE(OpenWith(options).ok());
  EXPECT_TRUE(ledger_->fully_checked());
  EXPECT_THAT(progress,
              ::testing::Contains(HasSubstr(
                  StrCat("upgraded the storage format to ", kFormatVersion))));
  EXPECT_EQ(ledger_->head().size, kSize);
  ledger_.reset();
  EXPECT_EQ(Get(Cf::kMeta, std::string(kMetaFormatKey)), kFormatVersion);
  std::optional<std::string> record =
      Get(Cf::kMeta, std::string(kMetaIndexDigestKey));
  ASSERT_TRUE(record.has_value());
  WithStore([&](Store& store) {
    absl::StatusOr<IndexDigests> d = DigestDerivedFamilies(store);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*record, EncodeIndexDigests(*d));
    EXPECT_EQ(d->by_event_id.count(), kSize);
  });
  ASSERT_TRUE(OpenWith(TailOptions()).ok());
  AppendResult r = AppendOne(Batch({Ev(kEvents)}, emitter_key_));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE(Reopen().ok());
}

TEST_F(FormatUpgradeTest, Format1WithAMissingRecordIsNotUpgraded) {
  MakeFormat1();
  Delete(Cf::kByEventId, IdKey(42));
  absl::Status s = OpenError();
  EXPECT_THAT(Msg(s),
              HasSubstr(StrCat(EventName(42), ": missing, expected entry 44")));
  EXPECT_THAT(Msg(s), Not(HasSubstr("changed since the ledger wrote")));
  // Nothing was written: still format 1, without a digest record.
  EXPECT_EQ(Get(Cf::kMeta, std::string(kMetaFormatKey)), "1");
  EXPECT_FALSE(Get(Cf::kMeta, std::string(kMetaIndexDigestKey)).has_value());
}

TEST_F(FormatUpgradeTest, Format2WithARevokedKeyIsUpgradedOnOpen) {
  ASSERT_TRUE(Reopen().ok());
  KeyInfo info = *ledger_->keys().Find(KeyIdOf(emitter_key_.public_key()));
  Event revoke = KeyRevokedEvent(info, "rotated by hand");
  revoke.event_id = testing::UuidOf("00000000-0000-4000-8000-0000000000bb");
  revoke.occurred_at_ns = testing::kNewYear2026Ns;
  revoke.producer = "annotation-ledger/test";
  revoke.actor = {ActorKind::kService, "admin", "admin"};
  AppendResult r = AppendOne(Batch({revoke}, node_key_));
  ASSERT_TRUE(r.status.ok()) << r.status;
  const uint64_t revoked = r.entries[0].index;
  MakeFormat2();
  LedgerOptions options = TailOptions();  // an upgrade checks everything
  ASSERT_TRUE(OpenWith(options).ok());
  EXPECT_TRUE(ledger_->fully_checked());
  std::optional<KeyInfo> key = ledger_->keys().Find(info.key_id);
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->revoked_index, revoked);
  EXPECT_EQ(key->revoke_reason, "rotated by hand");
  ledger_.reset();
  EXPECT_EQ(Get(Cf::kMeta, std::string(kMetaFormatKey)), kFormatVersion);
  absl::StatusOr<KeyInfo> stored =
      DecodeKeyInfo(*Get(Cf::kKeys, std::string(crypto::AsView(info.key_id))));
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(*stored, *key);
  // A tail open of the current format loads the records as written.
  ASSERT_TRUE(OpenWith(TailOptions()).ok());
  EXPECT_FALSE(ledger_->fully_checked());
  EXPECT_EQ(ledger_->keys().Find(info.key_id), key);
}

TEST_F(FormatUpgradeTest, Format2WithAnAlteredKeyRecordIsNotUpgraded) {
  MakeFormat2();
  const std::string id(crypto::AsView(KeyIdOf(emitter_key_.public_key())));
  std::optional<std::string> v = Get(Cf::kKeys, id);
  ASSERT_TRUE(v.has_value());
  (*v)[v->size() - 1] ^= 1;  // registered_at
  Put(Cf::kKeys, id, *v);
  ResealDigestsV2();
  absl::Status s = OpenError();
  EXPECT_THAT(Msg(s), HasSubstr(StrCat("while upgrading the storage format to ",
                                       kFormatVersion)));
  EXPECT_THAT(Msg(s), HasSubstr(crypto::HexEncode(id).substr(0, 16)));
  EXPECT_EQ(Get(Cf::kMeta, std::string(kMetaFormatKey)), "2");
  // repair-indexes rebuilds the record from the entries.
  LedgerOptions repair = Options();
  repair.rebuild_indexes = true;
  ASSERT_TRUE(OpenWith(repair).ok());
  ledger_.reset();
  EXPECT_EQ(Get(Cf::kMeta, std::string(kMetaFormatKey)), kFormatVersion);
  EXPECT_TRUE(Reopen().ok());
}

// The four index families of every entry, read straight from the store.
std::vector<std::string> FamilyKeys(Store& store, Cf cf) {
  std::vector<std::string> keys;
  std::unique_ptr<rocksdb::Iterator> it = store.NewIterator(cf);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    EXPECT_TRUE(it->value().empty());
    keys.push_back(it->key().ToString());
  }
  EXPECT_TRUE(it->status().ok());
  return keys;
}

constexpr Cf kIndexFamilies[] = {Cf::kBySubject, Cf::kByType, Cf::kByRun,
                                 Cf::kLineage};

TEST_F(FormatUpgradeTest, Format3GetsTheIndexFamiliesBuiltOnOpen) {
  std::vector<std::vector<std::string>> appended;
  WithStore([&](Store& store) {
    for (Cf cf : kIndexFamilies) appended.push_back(FamilyKeys(store, cf));
  });
  ASSERT_FALSE(appended[0].empty());
  MakeFormat3();
  std::vector<std::string> progress;
  LedgerOptions options = TailOptions();  // an upgrade checks everything
  options.progress = [&](std::string_view line) {
    progress.emplace_back(line);
  };
  ASSERT_TRUE(OpenWith(options).ok());
  EXPECT_TRUE(ledger_->fully_checked());
  EXPECT_EQ(ledger_->opened_format(), "3");
  EXPECT_THAT(progress, ::testing::Contains(HasSubstr(
                            StrCat("building the index families (by_subject, "
                                   "by_type, by_run, lineage) from ",
                                   kSize, " entries"))));
  EXPECT_THAT(progress, ::testing::Contains(
                            HasSubstr("upgraded the storage format to 4")));
  ledger_.reset();
  EXPECT_EQ(Get(Cf::kMeta, std::string(kMetaFormatKey)), "4");
  // What the upgrade built is what the appends wrote.
  WithStore([&](Store& store) {
    for (size_t f = 0; f < std::size(kIndexFamilies); ++f) {
      EXPECT_EQ(FamilyKeys(store, kIndexFamilies[f]), appended[f]) << f;
    }
  });
  ASSERT_TRUE(OpenWith(TailOptions()).ok());
  EXPECT_TRUE(ledger_->CheckDerivedDigests().ok());
  AppendResult r = AppendOne(Batch({Ev(kEvents)}, emitter_key_));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE(Reopen().ok());
}

// ---- the index families ----

// A processing event of run `run` (parent "run-root") reading dataset
// "raw" v1 and writing dataset "clean" `version`.
Event Filtered(int n, std::string run, std::string version) {
  Event e = Ev(n);
  e.type = "data.filtered";
  e.actor = {ActorKind::kService, "pipeline", "etl"};
  e.subjects = {{SubjectKind::kDataset, "clean", version, std::nullopt, 0}};
  e.inputs = {{SubjectKind::kDataset, "raw", "v1", std::nullopt, 0}};
  e.outputs = {{SubjectKind::kDataset, "clean", version, std::nullopt, 0}};
  e.run_id = std::move(run);
  e.parent_run_id = "run-root";
  return e;
}

// Damage to one record of an index family: found by a full open and by
// the digest check after a tail open, named, and rebuilt on request.
class IndexTamperTest : public DerivedTamperTest,
                        public ::testing::WithParamInterface<Cf> {
 protected:
  void SetUp() override {
    DerivedTamperTest::SetUp();
    ASSERT_TRUE(Reopen().ok());
    AppendResult r = AppendOne(Batch({Filtered(kEvents, "run-a", "v2"),
                                      Filtered(kEvents + 1, "run-b", "v3")},
                                     emitter_key_));
    ASSERT_TRUE(r.status.ok()) << r.status;
    ledger_.reset();
  }
  // A record of the family, and how a full check names it.
  std::pair<std::string, std::string> Record() const {
    const std::string at = StrCat(" at entry ", kSize);
    switch (GetParam()) {
      case Cf::kBySubject:
        return {SubjectIndexPrefix(LinkKind::kDataset, kTenant, "clean") +
                    Be64(kSize),
                StrCat("by_subject record of dataset 'clean' of tenant '",
                       kTenant, "'", at)};
      case Cf::kByType:
        return {TypeIndexPrefix(kTenant, "data.filtered") + Be64(kSize),
                StrCat("by_type record of type 'data.filtered' of tenant '",
                       kTenant, "'", at)};
      case Cf::kByRun:
        return {RunIndexPrefix(RunRole::kRun, kTenant, "run-a") + Be64(kSize),
                StrCat("by_run record of run 'run-a' of tenant '", kTenant, "'",
                       at)};
      default:
        return {LineagePrefix(LineageRole::kInput, kTenant,
                              SubjectKind::kDataset, "raw", "v1") +
                    Be64(kSize),
                StrCat("lineage record (input) of dataset 'raw' version 'v1' "
                       "of tenant '",
                       kTenant, "'", at)};
    }
  }
  std::string Family() const {
    return ColumnFamilyNames()[static_cast<int>(GetParam())];
  }
  // The record with the last character before its final separator changed:
  // a key no entry defines.
  static std::string Altered(std::string key) {
    key[key.size() - 10] ^= 0x01;
    return key;
  }
  // Expects a full open to refuse naming `what`, a tail open's digest check
  // to refuse naming the family, and a rebuild to repair it for good.
  void ExpectFoundAndRepaired(const std::vector<std::string>& what,
                              uint64_t stored, uint64_t expected) {
    // (The digests name the counts when they differ.)
    const std::string differ =
        stored == expected
            ? StrCat(Family(), " changed since")
            : StrCat(Family(), " (", stored, " records, expected ", expected,
                     ") changed since");
    absl::Status s = OpenError();
    EXPECT_THAT(Msg(s), HasSubstr(differ)) << s;
    for (const std::string& w : what) EXPECT_THAT(Msg(s), HasSubstr(w)) << s;
    EXPECT_THAT(Msg(s), HasSubstr("repair-indexes"));
    ASSERT_TRUE(OpenWith(TailOptions()).ok());
    s = ledger_->CheckDerivedDigests();
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_THAT(Msg(s), HasSubstr(differ)) << s;
    s = ledger_->Scrub([](uint64_t, uint64_t) { return true; });
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_THAT(Msg(s), HasSubstr(differ)) << s;
    std::vector<std::string> progress;
    LedgerOptions repair = Options();
    repair.rebuild_indexes = true;
    repair.progress = [&](std::string_view line) {
      progress.emplace_back(line);
    };
    ASSERT_TRUE(OpenWith(repair).ok());
    EXPECT_THAT(progress, ::testing::Contains(HasSubstr(
                              StrCat("rebuilt ", what.size(), " derived"))));
    ASSERT_TRUE(Reopen().ok());
    ASSERT_TRUE(OpenWith(TailOptions()).ok());
    EXPECT_TRUE(ledger_->CheckDerivedDigests().ok());
    ledger_.reset();
    const std::string key = Record().first;
    EXPECT_EQ(Get(GetParam(), key), "");
    EXPECT_FALSE(Get(GetParam(), Altered(key)).has_value());
  }
  uint64_t Count() {
    uint64_t n = 0;
    WithStore([&](Store& store) { n = FamilyKeys(store, GetParam()).size(); });
    return n;
  }
};

TEST_P(IndexTamperTest, DeletedRecord) {
  const uint64_t n = Count();
  const auto [key, name] = Record();
  Delete(GetParam(), key);
  ExpectFoundAndRepaired({StrCat(name, ": missing")}, n - 1, n);
}

TEST_P(IndexTamperTest, AlteredKey) {
  const uint64_t n = Count();
  const auto [key, name] = Record();
  Delete(GetParam(), key);
  Put(GetParam(), Altered(key), "");
  ExpectFoundAndRepaired(
      {StrCat(name, ": missing"), "that entry does not define it"}, n, n);
}

TEST_P(IndexTamperTest, ExtraKey) {
  const uint64_t n = Count();
  Put(GetParam(), Altered(Record().first), "");
  ExpectFoundAndRepaired({"that entry does not define it"}, n + 1, n);
}

TEST_P(IndexTamperTest, RecordOfAnEntryBeyondTheHead) {
  const uint64_t n = Count();
  std::string key = Record().first;
  key.replace(key.size() - 8, 8, Be64(kSize + 5));
  Put(GetParam(), key, "");
  ExpectFoundAndRepaired({StrCat("at entry ", kSize + 5, ": the ledger has ",
                                 kSize + 2, " entries")},
                         n + 1, n);
}

INSTANTIATE_TEST_SUITE_P(
    Families, IndexTamperTest, ::testing::ValuesIn(kIndexFamilies),
    [](const ::testing::TestParamInfo<Cf>& info) {
      return ColumnFamilyNames()[static_cast<int>(info.param)];
    });

}  // namespace
}  // namespace ledger
