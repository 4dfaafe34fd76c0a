// The index families (by_subject, by_type, by_run, lineage): the records
// appends write, compared with keys spelled out byte by byte here, and the
// Ledger reads over them (ScanIndex, ListIndexIds, GetEntriesAt,
// FirstIndexAtOrAfter).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "base/strings.h"
#include "ledger/ledger.h"
#include "ledger/ledger_testing.h"
#include "ledger/schema.h"
#include "ledger/store.h"

namespace ledger {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::kTenant;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

// Big-endian 8 bytes, written out here rather than with schema.h's Be64.
std::string Index8(uint64_t v) {
  std::string out;
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
  return out;
}

// Concatenates parts; "\0" separators are passed as Z.
constexpr std::string_view Z("\0", 1);
std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) out += p;
  return out;
}

SubjectRef Ref(SubjectKind kind, std::string id, std::string version = "") {
  return SubjectRef{kind, std::move(id), std::move(version), std::nullopt, 0};
}

class IndexReadTest : public testing::LedgerFixture {
 protected:
  // Entries 0 and 1 are the genesis and the emitter's registration.
  static constexpr uint64_t kFirst = 2;

  // Appends `events` as one batch at time `t`; their indexes.
  std::vector<uint64_t> Append(std::vector<Event> events,
                               int64_t t = testing::kNewYear2026Ns) {
    AppendResult r = AppendOne(Batch(std::move(events), emitter_key_), t);
    EXPECT_TRUE(r.status.ok()) << r.status;
    std::vector<uint64_t> out;
    for (const EntryRef& e : r.entries) out.push_back(e.index);
    return out;
  }
  // Every key of `cf` (the ledger closed), checking the values are empty.
  std::set<std::string> Keys(Cf cf) {
    ledger_.reset();
    std::set<std::string> out;
    absl::StatusOr<std::unique_ptr<Store>> store =
        Store::Open(dir_, StoreOptions{});
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return out;
    std::unique_ptr<rocksdb::Iterator> it = (*store)->NewIterator(cf);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      EXPECT_TRUE(it->value().empty()) << it->key().ToString();
      out.insert(it->key().ToString());
    }
    EXPECT_TRUE(it->status().ok());
    return out;
  }
  // The keys of `keys` that end with the index of an entry from kFirst on
  // (what the test appended, not the genesis and the key registration).
  static std::set<std::string> Appended(const std::set<std::string>& keys) {
    std::set<std::string> out;
    for (const std::string& k : keys) {
      if (k.size() >= 8 && k.substr(k.size() - 8) >= Index8(kFirst)) {
        out.insert(k);
      }
    }
    return out;
  }
};

TEST_F(IndexReadTest, RecordsAreTheKeysTheEventsDefine) {
  // A processing step: the input named twice, a versioned subject that is
  // also its output, an item input, a run and a parent run.
  Event step = testing::Annotation(1);
  step.type = "data.filtered";
  step.actor = {ActorKind::kService, "pipeline", "etl"};
  step.subjects = {Ref(SubjectKind::kDataset, "clean", "v2")};
  step.inputs = {Ref(SubjectKind::kDataset, "raw", "v1"),
                 Ref(SubjectKind::kItem, "item:9"),
                 Ref(SubjectKind::kDataset, "raw", "v1")};
  step.outputs = {Ref(SubjectKind::kDataset, "clean", "v2")};
  step.run_id = "run-7";
  step.parent_run_id = "run-1";
  // A plain annotation: an unversioned subject, no run.
  Event label = testing::Annotation(2, "item:9");
  // The same subject as an unversioned input and a versioned output.
  Event export_step = testing::Annotation(3);
  export_step.type = "dataset.exported";
  export_step.subjects = {Ref(SubjectKind::kItem, "item:9")};
  export_step.inputs = {Ref(SubjectKind::kItem, "item:9")};
  export_step.outputs = {Ref(SubjectKind::kItem, "item:9", "r1")};
  export_step.run_id = "run-8";
  ASSERT_THAT(Append({step, label, export_step}),
              ElementsAre(kFirst, kFirst + 1, kFirst + 2));
  const std::string a = "acme-ai";
  const std::string i0 = Index8(kFirst), i1 = Index8(kFirst + 1),
                    i2 = Index8(kFirst + 2);
  const std::string ds(1, '\x01'), item(1, '\x02'), actor(1, '\x04');

  EXPECT_EQ(Appended(Keys(Cf::kBySubject)),
            (std::set<std::string>{
                Cat({actor, a, Z, "pipeline", Z, i0}),
                Cat({ds, a, Z, "clean", Z, i0}),
                Cat({ds, a, Z, "raw", Z, i0}),
                Cat({item, a, Z, "item:9", Z, i0}),
                Cat({actor, a, Z, "user:7", Z, i1}),
                Cat({item, a, Z, "item:9", Z, i1}),
                Cat({actor, a, Z, "user:7", Z, i2}),
                Cat({item, a, Z, "item:9", Z, i2}),
            }));
  // Every entry, the ledger-internal genesis included.
  EXPECT_EQ(Keys(Cf::kByType),
            (std::set<std::string>{
                Cat({"_ledger", Z, "key.registered", Z, Index8(0)}),
                Cat({a, Z, "key.registered", Z, Index8(1)}),
                Cat({a, Z, "data.filtered", Z, i0}),
                Cat({a, Z, "annotation.created", Z, i1}),
                Cat({a, Z, "dataset.exported", Z, i2}),
            }));
  EXPECT_EQ(Keys(Cf::kByRun), (std::set<std::string>{
                                  Cat({"r", a, Z, "run-7", Z, i0}),
                                  Cat({"p", a, Z, "run-1", Z, i0}),
                                  Cat({"r", a, Z, "run-8", Z, i2}),
                              }));
  EXPECT_EQ(Keys(Cf::kLineage),
            (std::set<std::string>{
                Cat({"i", a, Z, ds, "raw", Z, "v1", Z, i0}),
                Cat({"i", a, Z, item, "item:9", Z, "", Z, i0}),
                Cat({"o", a, Z, ds, "clean", Z, "v2", Z, i0}),
                Cat({"s", a, Z, ds, "clean", Z, "v2", Z, i0}),
                Cat({"i", a, Z, item, "item:9", Z, "", Z, i2}),
                Cat({"o", a, Z, item, "item:9", Z, "r1", Z, i2}),
            }));
  // The schema.h builders spell the same prefixes.
  EXPECT_EQ(SubjectIndexPrefix(LinkKind::kActor, a, "pipeline"),
            Cat({actor, a, Z, "pipeline", Z}));
  EXPECT_EQ(TypeIndexPrefix(a, "data.filtered"),
            Cat({a, Z, "data.filtered", Z}));
  EXPECT_EQ(RunIndexPrefix(RunRole::kParent, a, "run-1"),
            Cat({"p", a, Z, "run-1", Z}));
  EXPECT_EQ(LineagePrefix(LineageRole::kSubject, a, SubjectKind::kDataset,
                          "clean", "v2"),
            Cat({"s", a, Z, ds, "clean", Z, "v2", Z}));
}

// LedgerOptions::provenance_indexes false (benchmarks only): the entries
// and the other derived families are written, the four index families get
// no record of the new entries, and their digests stay in step (nothing
// added), so the digest check still passes.
TEST_F(IndexReadTest, ProvenanceIndexesOffWritesNoIndexRecords) {
  ledger_.reset();
  LedgerOptions options = Options();
  options.provenance_indexes = false;
  absl::StatusOr<std::unique_ptr<Ledger>> l = Ledger::Open(dir_, options);
  ASSERT_TRUE(l.ok()) << l.status();
  ledger_ = *std::move(l);
  Event step = testing::Annotation(1);
  step.type = "data.filtered";
  step.subjects = {Ref(SubjectKind::kDataset, "clean", "v2")};
  step.inputs = {Ref(SubjectKind::kDataset, "raw", "v1")};
  step.outputs = {Ref(SubjectKind::kDataset, "clean", "v2")};
  step.run_id = "run-7";
  ASSERT_THAT(Append({step}), ElementsAre(kFirst));
  EXPECT_EQ(ledger_->head().size, kFirst + 1);
  absl::Status digests = ledger_->CheckDerivedDigests();
  EXPECT_TRUE(digests.ok()) << digests;
  absl::StatusOr<std::vector<std::string>> entries =
      ledger_->GetEntriesAt(std::vector<uint64_t>{kFirst});
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ(entries->size(), 1u);
  for (Cf cf : {Cf::kBySubject, Cf::kByType, Cf::kByRun, Cf::kLineage}) {
    EXPECT_THAT(Appended(Keys(cf)), IsEmpty()) << static_cast<int>(cf);
  }
}

TEST_F(IndexReadTest, ScanIndexHonoursItsBounds) {
  // item:1 in every event; item:10 (which extends item:1's id) in every
  // third.
  std::vector<uint64_t> all, tens;
  for (int n = 0; n < 12; ++n) {
    Event e = testing::Annotation(n, "item:1");
    if (n % 3 == 0) e.subjects.push_back(Ref(SubjectKind::kItem, "item:10"));
    const uint64_t index = Append({e})[0];
    all.push_back(index);
    if (n % 3 == 0) tens.push_back(index);
  }
  const std::string item1 =
      SubjectIndexPrefix(LinkKind::kItem, kTenant, "item:1");
  const auto scan = [&](uint64_t from, uint64_t below, size_t max,
                        bool reverse = false) {
    absl::StatusOr<std::vector<uint64_t>> r = ledger_->ScanIndex(
        IndexFamily::kBySubject, item1, from, below, max, reverse);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.value_or(std::vector<uint64_t>{});
  };
  const uint64_t size = ledger_->head().size;
  ASSERT_EQ(size, kFirst + 12);
  EXPECT_EQ(scan(0, ~uint64_t{0}, 100), all);
  EXPECT_EQ(scan(0, size, 3), (std::vector<uint64_t>{2, 3, 4}));
  EXPECT_EQ(scan(5, 8, 100), (std::vector<uint64_t>{5, 6, 7}));
  EXPECT_EQ(scan(5, 8, 100, true), (std::vector<uint64_t>{7, 6, 5}));
  EXPECT_EQ(scan(0, ~uint64_t{0}, 2, true),
            (std::vector<uint64_t>{size - 1, size - 2}));
  EXPECT_EQ(scan(size - 1, size + 10, 100), (std::vector<uint64_t>{size - 1}));
  EXPECT_THAT(scan(8, 8, 100), IsEmpty());
  EXPECT_THAT(scan(9, 3, 100, true), IsEmpty());
  EXPECT_THAT(scan(0, size, 0), IsEmpty());
  EXPECT_THAT(scan(size, size + 5, 100, true), IsEmpty());
  absl::StatusOr<std::vector<uint64_t>> t = ledger_->ScanIndex(
      IndexFamily::kBySubject,
      SubjectIndexPrefix(LinkKind::kItem, kTenant, "item:10"), 0, size, 100);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, tens);
  // Unknown subject: nothing.
  t = ledger_->ScanIndex(IndexFamily::kBySubject,
                         SubjectIndexPrefix(LinkKind::kItem, kTenant, "item:"),
                         0, size, 100);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(*t, IsEmpty());
}

TEST_F(IndexReadTest, ReadsStopAtThePublishedHead) {
  Event e = testing::Annotation(1, "item:1");
  e.run_id = "run-1";
  Append({e});
  const uint64_t published = ledger_->head().size;
  // Written but not published: invisible to every read.
  Event later = testing::Annotation(2, "item:1");
  later.run_id = "run-2";
  VerifiedBatch batch = Batch({later}, emitter_key_);
  const VerifiedBatch* batches[] = {&batch};
  GroupResult g = ledger_->AppendNoSync(batches, testing::kNewYear2026Ns);
  ASSERT_TRUE(g.status.ok()) << g.status;
  ASSERT_EQ(ledger_->head().size, published);
  const std::string item1 =
      SubjectIndexPrefix(LinkKind::kItem, kTenant, "item:1");
  absl::StatusOr<std::vector<uint64_t>> r = ledger_->ScanIndex(
      IndexFamily::kBySubject, item1, 0, ~uint64_t{0}, 100, true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, (std::vector<uint64_t>{published - 1}));
  const std::string runs(Cat({"r", kTenant, Z}));
  absl::StatusOr<std::vector<std::string>> ids =
      ledger_->ListIndexIds(IndexFamily::kByRun, runs, "", 10);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_THAT(*ids, ElementsAre("run-1"));
  const uint64_t at[] = {published};
  EXPECT_EQ(ledger_->GetEntriesAt(at).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(ledger_->FirstIndexAtOrAfter(0, published + 1).status().code(),
            absl::StatusCode::kOutOfRange);

  ASSERT_TRUE(ledger_->Publish(ledger_->written_head()).ok());
  r = ledger_->ScanIndex(IndexFamily::kBySubject, item1, 0, ~uint64_t{0}, 100,
                         true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, (std::vector<uint64_t>{published, published - 1}));
  ids = ledger_->ListIndexIds(IndexFamily::kByRun, runs, "", 10);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_THAT(*ids, ElementsAre("run-1", "run-2"));
}

TEST_F(IndexReadTest, ListIndexIdsSeeksFromIdToId) {
  // Items item:0 .. item:11, several entries each; another tenant's and
  // another kind's records around them.
  for (int n = 0; n < 36; ++n) {
    Event e = testing::Annotation(n, StrCat("item:", n % 12));
    e.inputs = {Ref(SubjectKind::kDataset, StrCat("ds-", n % 2), "v1")};
    Append({e});
  }
  std::vector<std::string> expected;
  for (int i = 0; i < 12; ++i) expected.push_back(StrCat("item:", i));
  std::sort(expected.begin(), expected.end());  // item:0, item:1, item:10...
  const std::string items = Cat({"\x02", kTenant, Z});
  const auto list = [&](std::string_view after, size_t max) {
    absl::StatusOr<std::vector<std::string>> r =
        ledger_->ListIndexIds(IndexFamily::kBySubject, items, after, max);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.value_or(std::vector<std::string>{});
  };
  EXPECT_EQ(list("", 100), expected);
  // Paging: each page starts after the last id of the one before.
  std::vector<std::string> paged;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    std::vector<std::string> ids = list(after, 5);
    if (ids.empty()) break;
    EXPECT_LE(ids.size(), 5u);
    paged.insert(paged.end(), ids.begin(), ids.end());
    after = ids.back();
  }
  EXPECT_EQ(paged, expected);
  // After an id that is a prefix of others: those still follow.
  EXPECT_EQ(list("item:1", 2),
            (std::vector<std::string>{"item:10", "item:11"}));
  EXPECT_EQ(list("item:9", 5), std::vector<std::string>{});
  EXPECT_EQ(list("", 0), std::vector<std::string>{});
  // Datasets, and the lineage family's ids (kind byte || id).
  absl::StatusOr<std::vector<std::string>> ds = ledger_->ListIndexIds(
      IndexFamily::kBySubject, Cat({"\x01", kTenant, Z}), "", 10);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_THAT(*ds, ElementsAre("ds-0", "ds-1"));
  ds = ledger_->ListIndexIds(IndexFamily::kLineage, Cat({"i", kTenant, Z}), "",
                             10);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_THAT(*ds, ElementsAre("\x01"
                               "ds-0",
                               "\x01"
                               "ds-1"));
  // Another tenant: nothing.
  ds = ledger_->ListIndexIds(IndexFamily::kBySubject, Cat({"\x02", "other", Z}),
                             "", 10);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_THAT(*ds, IsEmpty());
}

TEST_F(IndexReadTest, GetEntriesAtReadsEachIndex) {
  Append({testing::Annotation(1), testing::Annotation(2)});
  const uint64_t at[] = {3, 0, 3, 2};
  absl::StatusOr<std::vector<std::string>> got = ledger_->GetEntriesAt(at);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    absl::StatusOr<std::string> one = ledger_->GetEntry(at[i]);
    ASSERT_TRUE(one.ok()) << one.status();
    EXPECT_EQ((*got)[i], *one) << i;
    absl::StatusOr<Entry> entry = DecodeEntry((*got)[i]);
    ASSERT_TRUE(entry.ok()) << entry.status();
    EXPECT_EQ(entry->index, at[i]);
  }
  EXPECT_THAT(*ledger_->GetEntriesAt({}), IsEmpty());
  const uint64_t past[] = {1, 4};
  absl::Status s = ledger_->GetEntriesAt(past).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange) << s;
  EXPECT_THAT(Msg(s), ::testing::HasSubstr("entry 4 does not exist"));
}

TEST_F(IndexReadTest, FirstIndexAtOrAfterFindsTheTimeWindowsStart) {
  // Entries 0 and 1 at T; then groups at T+10 (3 entries), T+20 (1),
  // T+20 again (2), T+40 (1).
  const int64_t t = testing::kNewYear2026Ns;
  Append(
      {testing::Annotation(1), testing::Annotation(2), testing::Annotation(3)},
      t + 10);                                                       // 2, 3, 4
  Append({testing::Annotation(4)}, t + 20);                          // 5
  Append({testing::Annotation(5), testing::Annotation(6)}, t + 20);  // 6, 7
  Append({testing::Annotation(7)}, t + 40);                          // 8
  const uint64_t size = ledger_->head().size;
  ASSERT_EQ(size, 9u);
  const auto first = [&](int64_t at, uint64_t n) {
    absl::StatusOr<uint64_t> r = ledger_->FirstIndexAtOrAfter(at, n);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.value_or(~uint64_t{0});
  };
  EXPECT_EQ(first(t - 1, size), 0u);  // everything after
  EXPECT_EQ(first(t, size), 0u);      // equal times: the first of them
  EXPECT_EQ(first(t + 1, size), 2u);
  EXPECT_EQ(first(t + 10, size), 2u);
  EXPECT_EQ(first(t + 11, size), 5u);
  EXPECT_EQ(first(t + 20, size), 5u);  // the first of three equal
  EXPECT_EQ(first(t + 21, size), 8u);
  EXPECT_EQ(first(t + 40, size), 8u);
  EXPECT_EQ(first(t + 41, size), size);  // everything before
  EXPECT_EQ(first(t + 20, 6), 5u);       // within a prefix
  EXPECT_EQ(first(t + 21, 6), 6u);       // none in [0, 6)
  EXPECT_EQ(first(t, 0), 0u);
  EXPECT_EQ(ledger_->FirstIndexAtOrAfter(t, size + 1).status().code(),
            absl::StatusCode::kOutOfRange);
}

TEST(IndexReadEmptyTest, AnEmptyLedgerHasNoIndexes) {
  char tmpl[] = "/tmp/ledger_index_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  {
    LedgerOptions options;
    options.origin = testing::kOrigin;
    absl::StatusOr<std::unique_ptr<Ledger>> l = Ledger::Open(dir, options);
    ASSERT_TRUE(l.ok()) << l.status();
    absl::StatusOr<uint64_t> first = (*l)->FirstIndexAtOrAfter(0, 0);
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_EQ(*first, 0u);
    EXPECT_EQ((*l)->FirstIndexAtOrAfter(0, 1).status().code(),
              absl::StatusCode::kOutOfRange);
    absl::StatusOr<std::vector<uint64_t>> scan = (*l)->ScanIndex(
        IndexFamily::kByType, TypeIndexPrefix(kTenant, "annotation.created"), 0,
        ~uint64_t{0}, 10);
    ASSERT_TRUE(scan.ok()) << scan.status();
    EXPECT_THAT(*scan, IsEmpty());
    absl::StatusOr<std::vector<std::string>> ids =
        (*l)->ListIndexIds(IndexFamily::kByRun, "r", "", 10);
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_THAT(*ids, IsEmpty());
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ledger
