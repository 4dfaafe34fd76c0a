// Ledger::DiscardAfter: a ledger that discards entries holds, byte for byte,
// what a ledger that never had them holds, and goes on as that one would.

#include <atomic>
#include <map>
#include <thread>

#include "gmock/gmock.h"
#include "ledger/entry.h"
#include "ledger/fault_fs.h"
#include "ledger/ledger_testing.h"
#include "ledger/payload.h"
#include "ledger/risk_engine.h"
#include "ledger/store.h"

namespace ledger::testing {
namespace {

using ::testing::HasSubstr;

// Every record of every column family, by family name.
using Records = std::vector<std::pair<std::string, std::string>>;
using Dump = std::map<std::string, Records>;

Dump DumpStore(const std::string& dir) {
  Dump out;
  absl::StatusOr<std::unique_ptr<Store>> store =
      Store::Open(dir, StoreOptions{});
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return out;
  for (int cf = 0; cf < static_cast<int>(Cf::kCount); ++cf) {
    Records& records = out[ColumnFamilyNames()[cf]];
    std::unique_ptr<rocksdb::Iterator> it =
        (*store)->NewIterator(static_cast<Cf>(cf));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      records.emplace_back(it->key().ToString(), it->value().ToString());
    }
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  }
  return out;
}

// The names of the families in which `a` and `b` differ, and where.
std::string Differences(const Dump& a, const Dump& b,
                        const std::string& skip = "") {
  std::string out;
  for (const auto& [name, records] : a) {
    if (name == skip) continue;
    const Records& other = b.at(name);
    if (records == other) continue;
    out += name + " (" + std::to_string(records.size()) + " vs " +
           std::to_string(other.size()) + " records";
    for (size_t i = 0; i < std::min(records.size(), other.size()); ++i) {
      if (records[i] != other[i]) {
        out += ", first difference at record " + std::to_string(i) + ", key " +
               crypto::HexEncode(records[i].first) + " vs " +
               crypto::HexEncode(other[i].first);
        break;
      }
    }
    out += ") ";
  }
  return out;
}

// Proof hashes in hex, for readable failures.
std::vector<std::string> Hex(const absl::StatusOr<std::vector<Hash>>& proof) {
  std::vector<std::string> out;
  if (!proof.ok()) return {proof.status().ToString()};
  for (const Hash& h : *proof) out.push_back(crypto::HexEncode(h));
  return out;
}

SubjectRef Ds(std::string id, std::string version = "") {
  return {SubjectKind::kDataset, std::move(id), std::move(version),
          std::nullopt, 0};
}

constexpr int64_t kT = kNewYear2026Ns;

// Batches appended together at `t`.
struct Group {
  std::vector<VerifiedBatch> batches;
  int64_t t = kT;
};

class DiscardTest : public LedgerFixture {
 protected:
  void TearDown() override {
    others_.clear();
    for (const std::string& d : dirs_) std::filesystem::remove_all(d);
    LedgerFixture::TearDown();
  }

  std::string NewDir() {
    char tmpl[] = "/tmp/ledger_discard_test.XXXXXX";
    EXPECT_NE(mkdtemp(tmpl), nullptr);
    dirs_.push_back(tmpl);
    return tmpl;
  }

  std::unique_ptr<Ledger> OpenAt(const std::string& dir,
                                 OpenCheck check = OpenCheck::kFull) {
    LedgerOptions options = Options();
    options.open_check = check;
    absl::StatusOr<std::unique_ptr<Ledger>> l = Ledger::Open(dir, options);
    EXPECT_TRUE(l.ok()) << l.status();
    return l.ok() ? *std::move(l) : nullptr;
  }

  // Appends `g` (every batch must be accepted).
  std::vector<AppendResult> Feed(Ledger& l, const Group& g, bool sync = true) {
    std::vector<const VerifiedBatch*> ptrs;
    for (const VerifiedBatch& b : g.batches) ptrs.push_back(&b);
    GroupResult r = sync ? l.Append(ptrs, g.t) : l.AppendNoSync(ptrs, g.t);
    EXPECT_TRUE(r.status.ok()) << r.status;
    for (const AppendResult& b : r.batches) {
      EXPECT_TRUE(b.status.ok()) << b.status;
    }
    return r.batches;
  }

  // What LedgerFixture's SetUp appends: genesis, then the emitter's key.
  std::vector<Group> Start() {
    Event e = KeyRegisteredEvent([&] {
      KeyInfo info;
      info.public_key = emitter_key_.public_key();
      info.name = "labelstudio";
      info.tenant = kTenant;
      info.role = KeyRole::kEmitter;
      return info;
    }());
    e.event_id = UuidOf("00000000-0000-4000-8000-0000000000aa");
    e.occurred_at_ns = kNewYear2026Ns;
    e.producer = "annotation-ledger/test";
    e.actor = {ActorKind::kService, "admin", "admin"};
    Group genesis, emitter;
    genesis.batches.push_back(Batch({GenesisEvent()}, node_key_));
    emitter.batches.push_back(Batch({e}, node_key_));
    std::vector<Group> out;
    out.push_back(std::move(genesis));
    out.push_back(std::move(emitter));
    return out;
  }

  // `count` emitter events numbered from `first`: annotations of seven
  // items (so later entries link back to earlier ones), every third in a
  // run with a parent run, every fifth a dataset derivation (lineage).
  std::vector<Event> Annotations(int first, int count) {
    std::vector<Event> out;
    for (int n = first; n < first + count; ++n) {
      Event e = Annotation(n, "item:" + std::to_string(n % 7));
      if (n % 3 == 0) {
        e.run_id = "run-" + std::to_string(n % 4);
        e.parent_run_id = "run-root";
      }
      if (n % 5 == 0) {
        e.type = "data.cleaned";
        e.subjects.clear();
        e.inputs = {Ds("ds-raw", "v" + std::to_string(n % 2))};
        e.outputs = {Ds("ds-clean", "v" + std::to_string(n))};
      }
      out.push_back(std::move(e));
    }
    return out;
  }
  Group EmitterGroup(std::vector<Event> events, int64_t t) {
    Group g;
    g.batches.push_back(Batch(std::move(events), emitter_key_));
    g.t = t;
    return g;
  }
  Group NodeGroup(std::vector<Event> events, int64_t t) {
    Group g;
    g.batches.push_back(Batch(std::move(events), node_key_));
    g.t = t;
    return g;
  }

  // A ledger-internal event as the admin service writes it.
  Event Stamped(Event e) {
    char id[40];
    std::snprintf(id, sizeof(id), "00000000-0000-4000-b000-%012d",
                  next_internal_++);
    e.event_id = UuidOf(id);
    e.occurred_at_ns = kT;
    e.producer = "annotation-ledger/test";
    e.actor = {ActorKind::kService, "admin", "admin"};
    return e;
  }
  KeyInfo EmitterInfo(const crypto::Ed25519PrivateKey& key, std::string name) {
    KeyInfo info;
    info.public_key = key.public_key();
    info.key_id = KeyIdOf(info.public_key);
    info.name = std::move(name);
    info.tenant = kTenant;
    info.producer = "cvat";
    info.role = KeyRole::kEmitter;
    return info;
  }
  Event Policy() {
    Event e = Stamped(Event{});
    e.type = "policy.changed";
    e.schema_version = 1;
    e.tenant = std::string(kLedgerTenant);
    e.attributes = risk::PolicyAttributes(DefaultPolicy());
    return e;
  }
  // A core dataset exported without approval: its output inherits the
  // grade, which the ledger records in a grade.propagated entry.
  std::vector<Event> Propagating(int n) {
    Event grade = Annotation(n);
    grade.type = "grade.assigned";
    grade.subjects = {Ds("ds-core")};
    grade.attributes = {{"grade.level", "core"}};
    Event exported = Annotation(n + 1);
    exported.type = "dataset.exported";
    exported.subjects.clear();
    exported.inputs = {Ds("ds-core")};
    exported.outputs = {Ds("export-1")};
    return {grade, exported};
  }

  // Closes `l`, returns its records and opens it again (full check).
  Dump Snapshot(std::unique_ptr<Ledger>& l, const std::string& dir) {
    l.reset();
    Dump d = DumpStore(dir);
    l = OpenAt(dir);
    return d;
  }

  const crypto::Ed25519PrivateKey second_key_ =
      crypto::Ed25519PrivateKey::FromSeed(SeedFrom(0x61));
  const crypto::Ed25519PrivateKey third_key_ =
      crypto::Ed25519PrivateKey::FromSeed(SeedFrom(0x71));
  std::shared_ptr<FaultFs> fs_ = std::make_shared<FaultFs>();
  std::unique_ptr<rocksdb::Env> env_ = FaultFs::NewEnv(fs_);
  int next_internal_ = 1;
  std::vector<std::string> dirs_;
  std::vector<std::unique_ptr<Ledger>> others_;
};

TEST_F(DiscardTest, LeavesWhatALedgerWithoutTheEntriesHolds) {
  // A is the fixture's ledger; B gets the same groups, then more.
  const std::string dir_b = NewDir();
  std::unique_ptr<Ledger> b = OpenAt(dir_b);
  ASSERT_NE(b, nullptr);
  for (const Group& g : Start()) Feed(*b, g);
  const Group common = EmitterGroup(Annotations(1, 20), kT + 10);
  Feed(*ledger_, common);
  Feed(*b, common);
  const Head a_head = ledger_->written_head();
  ASSERT_EQ(b->written_head(), a_head);
  ASSERT_EQ(a_head.size, 22u);

  // B's extra groups: enough entries to fill tiles above the leaves,
  // key events, a policy and a grade it propagates, an erased payload key,
  // and the revocation of the key that signs the next group.
  Feed(*b, EmitterGroup(Annotations(100, 300), kT + 20));
  Group keys = NodeGroup(
      {Stamped(KeyRegisteredEvent(EmitterInfo(second_key_, "cvat-1")))},
      kT + 30);
  keys.batches.push_back(Batch(
      {Stamped(KeyRotatedEvent(EmitterInfo(second_key_, "cvat-1"),
                               EmitterInfo(third_key_, "cvat-2"), "rotation"))},
      node_key_));
  Feed(*b, keys);
  Feed(*b, NodeGroup({Policy()}, kT + 40));
  const std::vector<AppendResult> graded =
      Feed(*b, EmitterGroup(Propagating(500), kT + 50));
  ASSERT_EQ(graded.size(), 1u);
  ASSERT_EQ(b->written_head().size, graded[0].entries[1].index + 2)
      << "a grade.propagated entry closes the group";
  absl::StatusOr<PayloadKey> payload =
      b->payload_keys().GetOrCreate(kTenant, "subject-1", kT);
  ASSERT_TRUE(payload.ok()) << payload.status();
  Feed(*b, NodeGroup({Stamped(KeyErasedEvent(kTenant, payload->key_id,
                                             "erasure request DSR-1"))},
                     kT + 60));
  Feed(*b,
       NodeGroup({Stamped(KeyRevokedEvent(
                     EmitterInfo(emitter_key_, "labelstudio"), "compromised"))},
                 kT + 70));
  // Proofs read (and cache) complete tiles that the discard removes.
  ASSERT_TRUE(b->InclusionProof(0, b->head().size).ok());
  ASSERT_GT(b->written_head().size, 256u + a_head.size);

  ASSERT_TRUE(b->DiscardAfter(a_head.size).ok());
  EXPECT_EQ(b->written_head(), a_head);
  EXPECT_EQ(b->head(), a_head);
  EXPECT_EQ(b->keys().List(), ledger_->keys().List());
  EXPECT_EQ(b->policy_version(), 0u);
  EXPECT_FALSE(b->GradeAt(kTenant, "export-1", "", 1000).has_value());
  absl::StatusOr<PayloadKeyLookup> held =
      b->payload_keys().Find(payload->key_id);
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_FALSE(held->key.has_value()) << "a destroyed key stays destroyed";
  EXPECT_FALSE(held->erasure.has_value());
  EXPECT_TRUE(absl::IsNotFound(
      b->payload_keys().FindForSubject(kTenant, "subject-1").status()));

  // The same next group on both: signed by the key whose revocation was
  // discarded, registering the key whose registration was, before the
  // ledger time of the discarded groups, about the same items.
  Group next = EmitterGroup(Annotations(1000, 16), kT + 15);
  next.batches.push_back(
      Batch({Stamped(KeyRegisteredEvent(EmitterInfo(second_key_, "cvat-1")))},
            node_key_));
  const std::vector<AppendResult> on_a = Feed(*ledger_, next);
  const std::vector<AppendResult> on_b = Feed(*b, next);
  ASSERT_EQ(on_a.size(), on_b.size());
  for (size_t i = 0; i < on_a.size(); ++i) {
    ASSERT_EQ(on_a[i].entries.size(), on_b[i].entries.size());
    for (size_t j = 0; j < on_a[i].entries.size(); ++j) {
      EXPECT_EQ(on_a[i].entries[j].index, on_b[i].entries[j].index);
      EXPECT_EQ(on_a[i].entries[j].leaf_hash, on_b[i].entries[j].leaf_hash);
      EXPECT_FALSE(on_b[i].entries[j].duplicate);
    }
  }
  const Head head = ledger_->head();
  EXPECT_EQ(b->head(), head);
  EXPECT_EQ(b->written_head(), head);
  // Proofs through the tiles the discarded entries had completed.
  ASSERT_GE(head.size, 32u);
  for (uint64_t i : {uint64_t{0}, uint64_t{17}, uint64_t{21}, head.size - 1}) {
    EXPECT_EQ(Hex(b->InclusionProof(i, head.size)),
              Hex(ledger_->InclusionProof(i, head.size)))
        << "entry " << i;
  }
  EXPECT_EQ(Hex(b->ConsistencyProof(20, head.size)),
            Hex(ledger_->ConsistencyProof(20, head.size)));

  // Every family holds the same records, but for the payload keys.
  ledger_.reset();
  b.reset();
  const Dump a_records = DumpStore(dir_);
  const Dump b_records = DumpStore(dir_b);
  EXPECT_EQ(Differences(a_records, b_records, "shred_keys"), "");
  EXPECT_TRUE(a_records.at("shred_keys").empty());
  // B holds the secret of its subject hashes, and nothing of the erased
  // key: not the key, not its erasure, not its subject's record.
  ASSERT_EQ(b_records.at("shred_keys").size(), 1u);
  EXPECT_EQ(b_records.at("shred_keys")[0].first, "h");

  b = OpenAt(dir_b);
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(b->fully_checked());
  EXPECT_EQ(b->head(), head);
}

TEST_F(DiscardTest, CutsTheTreeAtAnySizeDownToTheEmptyLedger) {
  // Groups ending on each side of tile boundaries (16 leaves; 256 for a
  // complete tile above the leaves).
  std::vector<Group> groups = Start();  // sizes 1, 2
  int n = 1;
  int64_t t = kT + 1;
  for (uint64_t end : {16, 255, 256, 257, 299, 300}) {
    const int count = static_cast<int>(end) - 2 - (n - 1);
    groups.push_back(EmitterGroup(Annotations(n, count), t++));
    n += count;
  }
  // The reference: a ledger at each size.
  const std::string ref_dir = NewDir();
  std::unique_ptr<Ledger> ref = OpenAt(ref_dir);
  ASSERT_NE(ref, nullptr);
  std::map<uint64_t, Dump> want;
  std::map<uint64_t, Head> heads;
  std::map<uint64_t, std::vector<KeyInfo>> keys;
  const auto record = [&] {
    const uint64_t size = ref->head().size;
    heads[size] = ref->head();
    keys[size] = ref->keys().List();
    want[size] = Snapshot(ref, ref_dir);
  };
  record();
  for (const Group& g : groups) {
    Feed(*ref, g);
    record();
  }
  ASSERT_EQ(ref->head().size, 300u);

  const std::string dir_b = NewDir();
  std::unique_ptr<Ledger> b = OpenAt(dir_b);
  ASSERT_NE(b, nullptr);
  for (const Group& g : groups) Feed(*b, g);
  for (uint64_t size : {300, 299, 257, 256, 255, 16, 2, 1, 0}) {
    SCOPED_TRACE(size);
    absl::Status s = b->DiscardAfter(size);
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(b->written_head(), heads[size]);
    EXPECT_EQ(b->head(), heads[size]);
    EXPECT_EQ(b->keys().List(), keys[size]);
    EXPECT_EQ(Differences(want[size], Snapshot(b, dir_b)), "");
    ASSERT_NE(b, nullptr);
  }
  // From the empty ledger, the same groups give the same ledger.
  for (const Group& g : groups) Feed(*b, g);
  EXPECT_EQ(b->head(), ref->head());
  EXPECT_EQ(Differences(want[300], Snapshot(b, dir_b)), "");
}

TEST_F(DiscardTest, RefusesToDiscardWhatACheckpointSignsOrWasNeverWritten) {
  Feed(*ledger_, EmitterGroup(Annotations(1, 3), kT + 1));
  Checkpoint();  // size 5
  Feed(*ledger_, EmitterGroup(Annotations(10, 2), kT + 2));
  const Head head = ledger_->head();
  ASSERT_EQ(head.size, 7u);
  const Dump before = Snapshot(ledger_, dir_);

  absl::Status below = ledger_->DiscardAfter(4);
  EXPECT_TRUE(absl::IsFailedPrecondition(below)) << below;
  EXPECT_THAT(std::string(below.message()),
              HasSubstr("cannot discard the entries from 4 on: the stored "
                        "checkpoint 0 signs the tree of 5 entries"));
  absl::Status above = ledger_->DiscardAfter(8);
  EXPECT_TRUE(absl::IsFailedPrecondition(above)) << above;
  EXPECT_THAT(std::string(above.message()),
              HasSubstr("from 8 on: the ledger has written only 7 entries"));
  EXPECT_TRUE(ledger_->DiscardAfter(7).ok());  // nothing to discard
  EXPECT_EQ(ledger_->written_head(), head);
  EXPECT_EQ(ledger_->head(), head);
  EXPECT_EQ(Differences(before, Snapshot(ledger_, dir_)), "");

  // Down to the checkpoint is allowed.
  ASSERT_TRUE(ledger_->DiscardAfter(5).ok());
  EXPECT_EQ(ledger_->head().size, 5u);
  EXPECT_EQ(ledger_->head().root, ledger_->RootAt(5).value());
}

TEST_F(DiscardTest, RefusesToSplitAGroupThatPropagatedGrades) {
  Feed(*ledger_, NodeGroup({Policy()}, kT + 1));
  const std::vector<AppendResult> r =
      Feed(*ledger_, EmitterGroup(Propagating(1), kT + 2));
  ASSERT_EQ(r.size(), 1u);
  const uint64_t exported = r[0].entries[1].index;
  const Head head = ledger_->head();
  ASSERT_EQ(head.size, exported + 2);  // and its grade.propagated entry
  const Dump before = Snapshot(ledger_, dir_);

  absl::Status split = ledger_->DiscardAfter(exported + 1);
  EXPECT_TRUE(absl::IsFailedPrecondition(split)) << split;
  EXPECT_THAT(
      std::string(split.message()),
      HasSubstr("would split the group of entry " + std::to_string(exported) +
                ", which propagated data grades"));
  EXPECT_EQ(ledger_->head(), head);
  EXPECT_EQ(ledger_->GradeAt(kTenant, "export-1", "", exported)->basis,
            "propagated");
  EXPECT_EQ(Differences(before, Snapshot(ledger_, dir_)), "");

  // Before the export, nothing is owed: the grade assignment may stay.
  ASSERT_TRUE(ledger_->DiscardAfter(exported).ok());
  EXPECT_FALSE(ledger_->GradeAt(kTenant, "export-1", "", exported + 5));
  EXPECT_EQ(ledger_->GradeAt(kTenant, "ds-core", "", exported)->basis,
            "assigned");
  EXPECT_EQ(ledger_->policy_version(), 1u);
  ledger_.reset();
  EXPECT_NE(OpenAt(dir_), nullptr);
}

TEST_F(DiscardTest, ADiscardedErasureLeavesTheKeyDestroyedAndUnrecorded) {
  absl::StatusOr<PayloadKey> key =
      ledger_->payload_keys().GetOrCreate(kTenant, "subject-9", kT);
  ASSERT_TRUE(key.ok()) << key.status();
  const uint64_t size = ledger_->head().size;
  Feed(*ledger_, NodeGroup({Stamped(KeyErasedEvent(kTenant, key->key_id,
                                                   "erasure request DSR-9"))},
                           kT + 1));
  ASSERT_TRUE(ledger_->DiscardAfter(size).ok());

  // Neither held nor erased: the subject gets a new key.
  absl::StatusOr<PayloadKeyLookup> found =
      ledger_->payload_keys().Find(key->key_id);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_FALSE(found->key.has_value());
  EXPECT_FALSE(found->erasure.has_value());
  absl::StatusOr<PayloadKey> fresh =
      ledger_->payload_keys().GetOrCreate(kTenant, "subject-9", kT + 2);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_NE(fresh->key_id, key->key_id);
  EXPECT_NE(fresh->key, key->key);
  // The old key can no longer be erased (it is not held); the new one can.
  AppendResult again =
      AppendOne(Batch({Stamped(KeyErasedEvent(kTenant, key->key_id, "again"))},
                      node_key_),
                kT + 3);
  EXPECT_TRUE(absl::IsNotFound(again.status)) << again.status;
  AppendResult erased = AppendOne(
      Batch({Stamped(KeyErasedEvent(kTenant, fresh->key_id, "DSR-10"))},
            node_key_),
      kT + 3);
  EXPECT_TRUE(erased.status.ok()) << erased.status;
  ASSERT_TRUE(Reopen().ok());
}

TEST_F(DiscardTest, DiscardsEntriesWrittenButNotYetPublished) {
  const std::string ref_dir = NewDir();
  std::unique_ptr<Ledger> ref = OpenAt(ref_dir);
  ASSERT_NE(ref, nullptr);
  for (const Group& g : Start()) Feed(*ref, g);
  Group first = EmitterGroup(Annotations(1, 2), kT + 1);
  Feed(*ref, first);

  // Two batches written without a sync; the second is discarded before
  // anything is published.
  const Head published = ledger_->head();
  Group both = EmitterGroup(Annotations(1, 2), kT + 1);  // the same bytes
  both.batches.push_back(Batch(Annotations(10, 3), emitter_key_));
  Feed(*ledger_, both, /*sync=*/false);
  ASSERT_EQ(ledger_->written_head().size, published.size + 5);
  ASSERT_EQ(ledger_->head(), published);
  ASSERT_TRUE(ledger_->DiscardAfter(published.size + 2).ok());
  EXPECT_EQ(ledger_->head(), published);  // below `size`: unchanged
  EXPECT_EQ(ledger_->written_head(), ref->head());
  ASSERT_TRUE(ledger_->Publish(ledger_->written_head()).ok());
  EXPECT_EQ(ledger_->head(), ref->head());
  EXPECT_EQ(Differences(Snapshot(ref, ref_dir), Snapshot(ledger_, dir_)), "");

  // Published entries past `size` are discarded too, and head() comes down.
  const Head kept = ledger_->head();
  Feed(*ledger_, EmitterGroup(Annotations(20, 4), kT + 2), /*sync=*/false);
  ASSERT_TRUE(ledger_->Publish(ledger_->written_head()).ok());
  Feed(*ledger_, EmitterGroup(Annotations(30, 2), kT + 3), /*sync=*/false);
  ASSERT_TRUE(ledger_->DiscardAfter(kept.size).ok());
  EXPECT_EQ(ledger_->head(), kept);
  EXPECT_EQ(ledger_->written_head(), kept);
  EXPECT_EQ(Differences(Snapshot(ref, ref_dir), Snapshot(ledger_, dir_)), "");
}

TEST_F(DiscardTest, AFailedWriteChangesNothing) {
  ledger_.reset();
  LedgerOptions options = Options();
  options.env = env_.get();
  absl::StatusOr<std::unique_ptr<Ledger>> opened = Ledger::Open(dir_, options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  ledger_ = *std::move(opened);
  const Head kept = ledger_->head();
  const std::vector<KeyInfo> keys = ledger_->keys().List();
  Group extra = EmitterGroup(Annotations(1, 40), kT + 1);
  extra.batches.push_back(
      Batch({Stamped(KeyRegisteredEvent(EmitterInfo(second_key_, "cvat-1")))},
            node_key_));
  Feed(*ledger_, extra);
  const Head written = ledger_->head();

  fs_->SetSpaceBudget(64);
  absl::Status s = ledger_->DiscardAfter(kept.size);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("discarding entries [2, 43)"));
  EXPECT_EQ(ledger_->head(), written);
  EXPECT_EQ(ledger_->written_head(), written);
  EXPECT_EQ(ledger_->keys().size(), keys.size() + 1);
  EXPECT_TRUE(ledger_->GetEntry(written.size - 1).ok());

  fs_->ClearSpaceBudget();
  ASSERT_TRUE(ledger_->ResumeAfterNoSpace().ok());
  ASSERT_TRUE(ledger_->DiscardAfter(kept.size).ok());
  EXPECT_EQ(ledger_->head(), kept);
  EXPECT_EQ(ledger_->keys().List(), keys);
  ledger_.reset();
  ledger_ = OpenAt(dir_);
  ASSERT_NE(ledger_, nullptr);
  EXPECT_EQ(ledger_->head(), kept);
}

TEST_F(DiscardTest, ReadersBelowTheSizeGoOnDuringADiscard) {
  Feed(*ledger_, EmitterGroup(Annotations(1, 30), kT + 1));
  const Head kept = ledger_->head();
  std::vector<std::vector<std::string>> proofs;
  for (uint64_t i = 0; i < kept.size; ++i) {
    proofs.push_back(Hex(ledger_->InclusionProof(i, kept.size)));
  }
  Feed(*ledger_, EmitterGroup(Annotations(100, 300), kT + 2));
  ASSERT_TRUE(ledger_->InclusionProof(0, ledger_->head().size).ok());

  // A reader proving entries of the kept prefix all along (through the
  // tile cache, which the discard changes under it).
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::thread reader([&] {
    for (uint64_t i = 0; !stop.load(); i = (i + 1) % kept.size) {
      EXPECT_EQ(Hex(ledger_->InclusionProof(i, kept.size)), proofs[i]);
      EXPECT_TRUE(ledger_->GetEntry(i).ok());
      EXPECT_TRUE(ledger_->keys().Find(KeyIdOf(emitter_key_.public_key())));
      (void)ledger_->GradeAt(kTenant, "ds-clean", "v5", i);
      reads.fetch_add(1);
    }
  });
  ASSERT_TRUE(ledger_->DiscardAfter(kept.size).ok());
  Feed(*ledger_, EmitterGroup(Annotations(1000, 300), kT + 3));
  // At least a few reads after the discard, whatever the scheduling.
  const int after = reads.load();
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (reads.load() < after + 3 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  stop.store(true);
  reader.join();
  EXPECT_GE(reads.load(), after + 3);
  EXPECT_EQ(ledger_->head().size, kept.size + 300);
  ledger_.reset();
  ledger_ = OpenAt(dir_);
  ASSERT_NE(ledger_, nullptr);
}

}  // namespace
}  // namespace ledger::testing
