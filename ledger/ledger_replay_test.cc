// Ledger::ApplyEntries: a follower re-makes the leader's entries from their
// events and signature blocks and refuses any that it would not have made.

#include "gmock/gmock.h"
#include "ledger/entry.h"
#include "ledger/ledger_testing.h"
#include "ledger/risk_engine.h"

namespace ledger::testing {
namespace {

using ::testing::HasSubstr;

SubjectRef Dataset(std::string id) {
  return {SubjectKind::kDataset, std::move(id), "", std::nullopt, 0};
}

class ApplyEntriesTest : public LedgerFixture {
 protected:
  void SetUp() override {
    LedgerFixture::SetUp();
    follower_dir_ = dir_ + "-follower";
    absl::StatusOr<std::unique_ptr<Ledger>> f =
        Ledger::Open(follower_dir_, Options());
    ASSERT_TRUE(f.ok()) << f.status();
    follower_ = *std::move(f);
  }
  void TearDown() override {
    follower_.reset();
    std::filesystem::remove_all(follower_dir_);
    LedgerFixture::TearDown();
  }

  Event Processing(int n, std::string type, std::string in, std::string out) {
    Event e = Annotation(n);
    e.type = std::move(type);
    e.subjects.clear();
    e.inputs = {Dataset(std::move(in))};
    e.outputs = {Dataset(std::move(out))};
    return e;
  }

  // A leader ledger with what a follower must re-make exactly: key events,
  // a policy, grades that propagate (grade.propagated entries signed by
  // the node key), batches stored in part (an event already stored is not
  // stored again), a key registered and used in one group, several
  // batches per group, back-links across groups.
  void BuildLeader() {
    ASSERT_TRUE(AppendOne(Batch({PolicyEvent(1, DefaultPolicy())}, node_key_))
                    .status.ok());
    Event grade = Annotation(10);
    grade.type = "grade.assigned";
    grade.subjects = {Dataset("ds-core")};
    grade.attributes = {{"grade.level", "core"}};
    ASSERT_TRUE(AppendOne(Batch({grade, Processing(11, "dataset.exported",
                                                   "ds-core", "export-1")},
                                emitter_key_))
                    .status.ok());
    // A batch of three whose middle event is already stored: two entries
    // with batch_size 3.
    ASSERT_TRUE(AppendOne(Batch({Annotation(20)}, emitter_key_)).status.ok());
    ASSERT_TRUE(AppendOne(Batch({Annotation(21, "item:2"), Annotation(20),
                                 Annotation(22, "item:1")},
                                emitter_key_))
                    .status.ok());
    // One group: a new emitter key registered, an event it signs, an
    // export that propagates the core grade, and a rejected batch.
    const crypto::Ed25519PrivateKey second =
        crypto::Ed25519PrivateKey::FromSeed(SeedFrom(0x77));
    KeyInfo info;
    info.public_key = second.public_key();
    info.name = "cvat";
    info.tenant = kTenant;
    info.role = KeyRole::kEmitter;
    Event reg = KeyRegistration(info, "00000000-0000-4000-8000-0000000000bb");
    VerifiedBatch b1 = Batch({reg}, node_key_);
    VerifiedBatch b2 = Batch({Annotation(30, "item:3")}, second);
    VerifiedBatch b3 = Batch(
        {Processing(31, "data.transferred_cross_border", "export-1", "abroad")},
        emitter_key_);
    Event forged = Annotation(32);
    forged.type = "grade.propagated";
    VerifiedBatch b4 = Batch({forged}, emitter_key_);  // refused
    const VerifiedBatch* group[] = {&b1, &b2, &b3, &b4};
    GroupResult g = ledger_->Append(group, kNewYear2026Ns + 1000);
    ASSERT_TRUE(g.status.ok()) << g.status;
    ASSERT_TRUE(g.batches[2].status.ok()) << g.batches[2].status;
    ASSERT_FALSE(g.batches[3].status.ok());
    // A group without propagation, of the same received_at as the next.
    ASSERT_TRUE(AppendOne(Batch({Annotation(40, "item:3")}, emitter_key_),
                          kNewYear2026Ns + 2000)
                    .status.ok());
    Event lower = Annotation(41);
    lower.type = "grade.changed";
    lower.subjects = {Dataset("ds-core")};
    lower.attributes = {{"approver", "dpo"}, {"grade.level", "general"}};
    ASSERT_TRUE(AppendOne(Batch({lower}, emitter_key_), kNewYear2026Ns + 2000)
                    .status.ok());
  }

  std::vector<std::string> LeaderEntries(uint64_t from = 0) {
    std::vector<std::string> out;
    for (uint64_t i = from; i < ledger_->head().size; ++i) {
      out.push_back(ledger_->GetEntry(i).value_or("missing"));
    }
    return out;
  }

  std::vector<std::string> FollowerEntries() {
    std::vector<std::string> out;
    for (uint64_t i = 0; i < follower_->head().size; ++i) {
      out.push_back(follower_->GetEntry(i).value_or("missing"));
    }
    return out;
  }

  // Entry `index` of `entries` changed by `change` and encoded again.
  static void Alter(std::vector<std::string>& entries, size_t index,
                    const std::function<void(Entry&)>& change) {
    absl::StatusOr<Entry> e = DecodeEntry(entries[index]);
    ASSERT_TRUE(e.ok()) << e.status();
    change(*e);
    entries[index] = EncodeEntry(*e);
  }

  // Index of the first entry of `type`, from `from`.
  size_t FirstOfType(const std::vector<std::string>& entries,
                     std::string_view type, size_t from = 0) {
    for (size_t i = from; i < entries.size(); ++i) {
      absl::StatusOr<Entry> e = DecodeEntry(entries[i]);
      if (e.ok() && DecodeEvent(e->event_bytes)->type == type) return i;
    }
    ADD_FAILURE() << "no " << type << " entry";
    return entries.size();
  }

  absl::Status ReopenFollower() {
    follower_.reset();
    LedgerOptions options = Options();
    options.open_check = OpenCheck::kFull;
    absl::StatusOr<std::unique_ptr<Ledger>> f =
        Ledger::Open(follower_dir_, options);
    if (!f.ok()) return f.status();
    follower_ = *std::move(f);
    return absl::OkStatus();
  }

  std::string follower_dir_;
  std::unique_ptr<Ledger> follower_;
};

TEST_F(ApplyEntriesTest, AFollowerMakesTheSameLedger) {
  BuildLeader();
  const std::vector<std::string> entries = LeaderEntries();
  ASSERT_GT(FirstOfType(entries, "grade.propagated"), 0u);
  absl::StatusOr<size_t> applied =
      follower_->ApplyEntries(entries, /*complete=*/true, /*sync=*/true);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, entries.size());
  EXPECT_EQ(follower_->head(), ledger_->head());
  EXPECT_EQ(FollowerEntries(), entries);
  EXPECT_EQ(follower_->policy_version(), ledger_->policy_version());
  ASSERT_TRUE(follower_->CheckDerivedDigests().ok());
  // Everything derived from the entries matches them.
  ASSERT_TRUE(ReopenFollower().ok());
  EXPECT_EQ(follower_->head(), ledger_->head());

  // And both go on alike.
  VerifiedBatch next = Batch({Annotation(50, "item:1")}, emitter_key_);
  const VerifiedBatch* batches[] = {&next};
  GroupResult a = ledger_->Append(batches, kNewYear2026Ns + 5000);
  GroupResult b = follower_->Append(batches, kNewYear2026Ns + 5000);
  ASSERT_TRUE(a.status.ok() && b.status.ok());
  EXPECT_EQ(follower_->head(), ledger_->head());
}

TEST_F(ApplyEntriesTest, CatchUpInPiecesOfAnySize) {
  BuildLeader();
  const std::vector<std::string> entries = LeaderEntries();
  for (size_t piece : {1u, 2u, 3u, 5u}) {
    SCOPED_TRACE(piece);
    follower_.reset();
    std::filesystem::remove_all(follower_dir_);
    follower_ = *Ledger::Open(follower_dir_, Options());
    size_t want = piece;
    while (follower_->written_head().size < entries.size()) {
      const size_t from = follower_->written_head().size;
      const size_t end = std::min(entries.size(), from + want);
      // Complete only when it reaches the leader's head (a group boundary).
      absl::StatusOr<size_t> applied = follower_->ApplyEntries(
          absl::MakeConstSpan(entries).subspan(from, end - from),
          end == entries.size(), /*sync=*/true);
      ASSERT_TRUE(applied.ok()) << applied.status();
      // A piece that holds no whole group is asked again, larger.
      want = *applied == 0 ? want * 2 : piece;
    }
    EXPECT_EQ(follower_->head(), ledger_->head());
    EXPECT_EQ(FollowerEntries(), entries);
  }
}

TEST_F(ApplyEntriesTest, AnIncompletePieceLeavesItsLastGroup) {
  BuildLeader();
  const std::vector<std::string> entries = LeaderEntries();
  // Up to and including the cause of the first grade.propagated entry:
  // not complete, so its group (which needs that entry) waits.
  const size_t p = FirstOfType(entries, "grade.propagated");
  absl::StatusOr<size_t> applied = follower_->ApplyEntries(
      absl::MakeConstSpan(entries).subspan(0, p), /*complete=*/false,
      /*sync=*/true);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_LT(*applied, p);
  // Claimed complete, the same piece is refused: this node would record
  // the propagation in an entry the piece does not have.
  follower_.reset();
  std::filesystem::remove_all(follower_dir_);
  follower_ = *Ledger::Open(follower_dir_, Options());
  applied = follower_->ApplyEntries(absl::MakeConstSpan(entries).subspan(0, p),
                                    /*complete=*/true, /*sync=*/true);
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(applied.status().message(), HasSubstr("grade.propagated"));
}

// Each alteration is refused with a message naming the entry and what
// differs; nothing of the altered group is written, and the follower then
// takes the true entries.
TEST_F(ApplyEntriesTest, EntriesThisNodeWouldNotMakeAreRefused) {
  BuildLeader();
  const std::vector<std::string> entries = LeaderEntries();
  const size_t exported = FirstOfType(entries, "dataset.exported");
  const size_t propagated = FirstOfType(entries, "grade.propagated");
  struct Case {
    std::string name;
    size_t index;
    std::function<void(Entry&)> change;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"risk", exported, [](Entry& e) { e.risk.grade = RiskGrade::kLow; },
       "risk.grade"},
      {"reasons", exported,
       [](Entry& e) { e.risk.reasons.push_back("R99 low: invented"); },
       "risk.reasons"},
      {"policy", exported, [](Entry& e) { e.policy_version = 7; },
       "policy_version"},
      {"back-link", exported, [](Entry& e) { e.back_links[0].previous = 1; },
       "back_links"},
      {"chain", exported, [](Entry& e) { e.prev_chain_hash[0] ^= 1; },
       "prev_chain_hash"},
      {"event", exported, [](Entry& e) { e.event_bytes.back() ^= 1; },
       "entry " + std::to_string(exported)},
      {"signature", exported, [](Entry& e) { e.emitter.signature[5] ^= 1; },
       "emitter.signature"},
      {"propagated grade", propagated,
       [](Entry& e) { e.risk.grade = RiskGrade::kHigh; }, "risk.grade"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<std::string> altered = entries;
    Alter(altered, c.index, c.change);
    const Head before = follower_->written_head();
    const size_t from = before.size;
    absl::StatusOr<size_t> applied = follower_->ApplyEntries(
        absl::MakeConstSpan(altered).subspan(from), true, true);
    ASSERT_FALSE(applied.ok());
    EXPECT_THAT(applied.status().message(), HasSubstr(c.message));
    // Groups before the altered one were applied; not the altered one.
    EXPECT_LE(follower_->written_head().size, c.index);
    EXPECT_EQ(follower_->head(), follower_->written_head());
  }
  absl::StatusOr<size_t> applied = follower_->ApplyEntries(
      absl::MakeConstSpan(entries).subspan(follower_->written_head().size),
      true, true);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(FollowerEntries(), entries);
  ASSERT_TRUE(ReopenFollower().ok());
}

TEST_F(ApplyEntriesTest, AFollowerWithAnotherNodeKeyCannotFollow) {
  BuildLeader();
  const std::vector<std::string> entries = LeaderEntries();
  follower_.reset();
  std::filesystem::remove_all(follower_dir_);
  LedgerOptions options = Options();
  options.node_key = crypto::Ed25519PrivateKey::FromSeed(SeedFrom(0x99));
  follower_ = *Ledger::Open(follower_dir_, options);
  absl::StatusOr<size_t> applied = follower_->ApplyEntries(entries, true, true);
  ASSERT_FALSE(applied.ok());
  // Its key is not the registered node key, so it cannot sign the
  // grade.propagated entries the leader signed.
  EXPECT_THAT(applied.status().message(), HasSubstr("node key"));
  EXPECT_LT(follower_->head().size, FirstOfType(entries, "grade.propagated"));
}

TEST_F(ApplyEntriesTest, EntriesMustContinueTheLedger) {
  BuildLeader();
  const std::vector<std::string> entries = LeaderEntries();
  absl::StatusOr<size_t> gap = follower_->ApplyEntries(
      absl::MakeConstSpan(entries).subspan(1), true, true);
  ASSERT_FALSE(gap.ok());
  EXPECT_THAT(gap.status().message(),
              HasSubstr("entry 0 carries index 1: this ledger has 0 entries"));
  ASSERT_TRUE(follower_->ApplyEntries(entries, true, true).ok());
  // The same entries again do not continue it either.
  absl::StatusOr<size_t> again = follower_->ApplyEntries(entries, true, true);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kDataLoss);
  // Nor entries whose clock goes back.
  std::vector<std::string> more = LeaderEntries();
  VerifiedBatch next = Batch({Annotation(60)}, emitter_key_);
  const VerifiedBatch* batches[] = {&next};
  ASSERT_TRUE(ledger_->Append(batches, kNewYear2026Ns + 9000).status.ok());
  more = LeaderEntries(follower_->head().size);
  Alter(more, 0, [](Entry& e) { e.received_at_ns = kNewYear2026Ns; });
  absl::StatusOr<size_t> back = follower_->ApplyEntries(more, true, true);
  ASSERT_FALSE(back.ok());
  EXPECT_THAT(back.status().message(), HasSubstr("is before the previous"));
}

}  // namespace
}  // namespace ledger::testing
