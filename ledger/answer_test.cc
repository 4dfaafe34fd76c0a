// Answer files built from a real ledger (answer_builder.h) and verified
// offline (answer.h): the round trip, the checkpoint choice, what the
// verifier proves, and tampering, each rejected with its reason.

#include "ledger/answer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "ledger/answer_builder.h"
#include "ledger/ledger_testing.h"
#include "ledger/merkle.h"

namespace ledger {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class AnswerTest : public testing::LedgerFixture {
 protected:
  void SetUp() override {
    LedgerFixture::SetUp();
    // Entries 0 and 1 are the genesis and the emitter's registration.
    // Then 30 events: every third about item:x (alternately an annotation
    // and a view), the others about item:y.
    for (int n = 0; n < 30; ++n) {
      const std::string item = n % 3 == 0 ? "item:x" : "item:y";
      Event e = testing::Annotation(100 + n, item);
      if (item == "item:x" && n % 2 == 1) e.type = "item.viewed";
      AppendResult r = AppendOne(Batch({e}, emitter_key_));
      ASSERT_TRUE(r.status.ok()) << r.status;
      indexes_[item].push_back(r.entries[0].index);
      types_[r.entries[0].index] = e.type;
      if (n == 14) {
        Checkpoint();
        first_size_ = ledger_->head().size;
      }
    }
    Checkpoint();
    second_size_ = ledger_->head().size;
    // Entries after the last checkpoint.
    AppendResult r =
        AppendOne(Batch({testing::Annotation(200, "item:x")}, emitter_key_));
    ASSERT_TRUE(r.status.ok()) << r.status;
  }

  std::vector<crypto::NoteVerifier> Verifiers() const {
    return {log_signer_.verifier(), cosigner_.verifier()};
  }

  AnswerRequest History(std::string item, std::vector<uint64_t> indexes,
                        uint64_t as_of) const {
    AnswerRequest r;
    r.kind = AnswerKind::kHistory;
    r.params = {{"id", item}, {"kind", "item"}};
    r.tenant = testing::kTenant;
    r.subject = AnswerSubject{LinkKind::kItem, item};
    r.indexes = std::move(indexes);
    r.as_of = as_of;
    return r;
  }

  Answer Build(const AnswerRequest& r) const {
    absl::StatusOr<Answer> a = BuildAnswer(*ledger_, r);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.value_or(Answer{});
  }

  AnswerVerification Verify(const Answer& a) const {
    return VerifyAnswer(a, Verifiers(), testing::kOrigin);
  }

  // The failed check's name and detail, or "" if none failed.
  std::string FailureOf(const AnswerVerification& v) const {
    const AnswerCheck* f = v.failure();
    return f == nullptr ? std::string() : StrCat(f->name, ": ", f->detail);
  }

  std::map<std::string, std::vector<uint64_t>> indexes_;
  std::map<uint64_t, std::string> types_;
  uint64_t first_size_ = 0;
  uint64_t second_size_ = 0;
};

TEST_F(AnswerTest, WholeHistoryRoundTripsAndProvesCompleteness) {
  const std::vector<uint64_t>& x = indexes_["item:x"];
  ASSERT_EQ(x.size(), 10u);
  // As of just after the subject's last entry: nothing left uncovered.
  const Answer a = Build(History("item:x", x, x.back() + 1));
  absl::StatusOr<std::string> text = EncodeAnswer(a);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(text->rfind("ledger-answer/v1\nquery history\nparam id item:x\n"
                        "param kind item\ntenant acme-ai\nsubject item "
                        "item:x\nas-of ",
                        0),
            0u)
      << *text;
  absl::StatusOr<Answer> parsed = ParseAnswer(*text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, a);
  EXPECT_EQ(*EncodeAnswer(*parsed), *text);

  const AnswerVerification v =
      VerifyAnswerText(*text, Verifiers(), testing::kOrigin);
  ASSERT_TRUE(v.ok()) << FailureOf(v);
  std::vector<std::string> names;
  for (const AnswerCheck& c : v.checks) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"parse", "checkpoint", "inclusion",
                                             "entries", "subject", "chain"}));
  EXPECT_THAT(v.proven, Contains(StrCat("entries: 10 entries, all included in "
                                        "checkpoint of size ",
                                        second_size_, " (origin ",
                                        testing::kOrigin, ")")));
  EXPECT_THAT(
      v.proven,
      Contains(StrCat("complete between index ", x.front(), " and ", x.back(),
                      ": no entry about item 'item:x' of tenant "
                      "'acme-ai' between them was left out")));
  EXPECT_THAT(v.proven, Contains(StrCat("complete from the subject's first "
                                        "entry: entry ",
                                        x.front(),
                                        " is the first entry about the "
                                        "subject")));
  EXPECT_THAT(v.not_proven, IsEmpty());
  // As of a later size, the entries after the last one are not covered.
  const AnswerVerification later =
      Verify(Build(History("item:x", x, second_size_)));
  ASSERT_TRUE(later.ok()) << FailureOf(later);
  EXPECT_THAT(later.not_proven,
              Contains(StrCat("entries after index ", x.back(), " up to size ",
                              second_size_,
                              " not covered (completeness after the last "
                              "returned entry is not provable with "
                              "back-links)")));
}

TEST_F(AnswerTest, APageInTheMiddleSaysWhatItDoesNotCover) {
  const std::vector<uint64_t>& x = indexes_["item:x"];
  const std::vector<uint64_t> page(x.begin() + 2, x.begin() + 5);
  const Answer a = Build(History("item:x", page, second_size_));
  const AnswerVerification v = Verify(a);
  ASSERT_TRUE(v.ok()) << FailureOf(v);
  EXPECT_THAT(v.not_proven,
              Contains(StrCat("entries before index ", page.front(),
                              " not covered (the first returned entry's "
                              "back-link points at entry ",
                              x[1], ")")));
  EXPECT_THAT(v.not_proven,
              Contains(StrCat("entries after index ", page.back(),
                              " up to size ", second_size_,
                              " not covered (completeness after the last "
                              "returned entry is not provable with "
                              "back-links)")));
}

TEST_F(AnswerTest, PicksTheFirstCheckpointCoveringAsOf) {
  const std::vector<uint64_t>& y = indexes_["item:y"];
  std::vector<uint64_t> early;
  for (uint64_t i : y) {
    if (i < 10) early.push_back(i);
  }
  Answer a = Build(History("item:y", early, 10));
  ASSERT_TRUE(Verify(a).ok()) << FailureOf(Verify(a));
  EXPECT_EQ(Verify(a).checkpoint->checkpoint.size, first_size_);
  a = Build(History("item:y", early, first_size_ + 1));
  EXPECT_EQ(Verify(a).checkpoint->checkpoint.size, second_size_);

  // Nothing covers the head yet: retry later.
  const uint64_t head = ledger_->head().size;
  absl::StatusOr<Answer> none =
      BuildAnswer(*ledger_, History("item:y", early, head));
  EXPECT_TRUE(absl::IsUnavailable(none.status())) << none.status();
  EXPECT_THAT(none.status().message(),
              HasSubstr(StrCat("no checkpoint covers size ", head,
                               " yet (the latest is of size ", second_size_)));
  none = BuildAnswer(*ledger_, History("item:y", early, head + 1));
  EXPECT_TRUE(absl::IsInvalidArgument(none.status()));
  EXPECT_THAT(none.status().message(),
              HasSubstr(StrCat("as_of: ", head + 1,
                               " is beyond the ledger's size ", head)));
  none = BuildAnswer(*ledger_, History("item:y", {early[1], early[0]}, 10));
  EXPECT_THAT(none.status().message(), HasSubstr("indexes: must increase"));
  none = BuildAnswer(*ledger_, History("item:y", {early[0], 12}, 10));
  EXPECT_THAT(none.status().message(),
              HasSubstr("indexes: entry 12 is not below as_of 10"));
}

TEST_F(AnswerTest, LabelHistoryCarriesTheChainAndMarksTheRows) {
  const std::vector<uint64_t>& x = indexes_["item:x"];
  std::vector<uint64_t> rows;
  for (uint64_t i : x) {
    if (types_[i] == "annotation.created") rows.push_back(i);
  }
  ASSERT_EQ(rows.size(), 5u);
  AnswerRequest r = History("item:x", rows, second_size_);
  r.kind = AnswerKind::kLabelHistory;
  const Answer a = Build(r);
  // The whole chain from the first row to the last, rows marked.
  ASSERT_EQ(a.entries.size(), 9u);
  for (const AnswerEntry& e : a.entries) {
    EXPECT_EQ(e.row, types_[e.index] == "annotation.created") << e.index;
  }
  const std::string text = *EncodeAnswer(a);
  EXPECT_THAT(text, HasSubstr(StrCat("\nentry ", x[1], " link ")));
  AnswerVerification v = VerifyAnswerText(text, Verifiers(), testing::kOrigin);
  ASSERT_TRUE(v.ok()) << FailureOf(v);
  EXPECT_EQ(v.checks.back().name, "rows");
  EXPECT_THAT(v.proven, Contains(HasSubstr("entries: 5 rows and 4 further "
                                           "entries of the subject's chain")));
  EXPECT_THAT(v.proven, Contains(HasSubstr("filter: the 5 rows are exactly")));

  // A row mark flipped: the filter no longer matches.
  Answer flipped = a;
  flipped.entries[1].row = true;
  v = Verify(flipped);
  EXPECT_THAT(FailureOf(v),
              HasSubstr(StrCat("rows: entry ", x[1],
                               " of type item.viewed is marked 'row' but "
                               "label_history does not return that type")));

  // A row that is not on the item's chain is refused by the builder.
  r.indexes = {rows[0], indexes_["item:y"][3], rows[1]};
  std::sort(r.indexes.begin(), r.indexes.end());
  absl::StatusOr<Answer> bad = BuildAnswer(*ledger_, r);
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status())) << bad.status();
}

TEST_F(AnswerTest, LineageAnswersProveInclusionButNotCompleteness) {
  AnswerRequest r;
  r.kind = AnswerKind::kUpstream;
  r.params = {{"node", "dataset:d@v1"}, {"depth", "3"}};
  r.tenant = testing::kTenant;
  r.indexes = {indexes_["item:y"][0], indexes_["item:x"][4]};
  std::sort(r.indexes.begin(), r.indexes.end());
  r.as_of = second_size_;
  const Answer a = Build(r);
  AnswerVerification v = Verify(a);
  ASSERT_TRUE(v.ok()) << FailureOf(v);
  EXPECT_THAT(v.proven, Contains(StrCat("entries: 2 entries, all included in "
                                        "checkpoint of size ",
                                        second_size_, " (origin ",
                                        testing::kOrigin, ")")));
  EXPECT_THAT(v.not_proven,
              Contains(HasSubstr("completeness: a upstream answer carries no "
                                 "back-link chain")));
  r.subject = AnswerSubject{LinkKind::kItem, "item:x"};
  EXPECT_TRUE(absl::IsInvalidArgument(BuildAnswer(*ledger_, r).status()));
}

// The ledger's proof, read from its stored tiles, equals the proof over
// the same leaves held in memory, for every tree size and many leaf sets.
TEST_F(AnswerTest, LedgerProofFromStoredTilesMatchesTheInMemoryTree) {
  const uint64_t head = ledger_->head().size;
  std::vector<Hash> leaves;
  for (uint64_t i = 0; i < head; ++i) {
    leaves.push_back(crypto::HashLeaf(*ledger_->GetEntry(i)));
  }
  InMemoryTree tree(leaves);
  std::mt19937_64 rng(7);
  for (uint64_t size = 1; size <= head; ++size) {
    for (int round = 0; round < 20; ++round) {
      std::vector<uint64_t> set;
      for (uint64_t i = 0; i < size; ++i) {
        if (rng() % 4 == 0) set.push_back(i);
      }
      absl::StatusOr<std::vector<Hash>> stored =
          ledger_->MultiInclusionProof(set, size);
      ASSERT_TRUE(stored.ok()) << stored.status();
      ASSERT_EQ(*stored, *MultiInclusionProof(tree, set, size))
          << "size " << size;
    }
  }
  EXPECT_TRUE(
      absl::IsOutOfRange(ledger_->MultiInclusionProof({0}, head + 1).status()));
}

// ---- attacks: each is rejected, and the reason names it ----

class AnswerAttackTest : public AnswerTest {
 protected:
  void SetUp() override {
    AnswerTest::SetUp();
    good_ = Build(History("item:x", indexes_["item:x"], second_size_));
    ASSERT_TRUE(Verify(good_).ok());
  }
  Answer good_;
};

TEST_F(AnswerAttackTest, DroppedEntryBreaksTheProof) {
  Answer a = good_;
  a.entries.erase(a.entries.begin() + 4);
  EXPECT_THAT(FailureOf(Verify(a)), HasSubstr("inclusion: "));
}

TEST_F(AnswerAttackTest, ReorderedEntriesAreRejected) {
  Answer a = good_;
  std::swap(a.entries[2], a.entries[3]);
  EXPECT_THAT(FailureOf(Verify(a)),
              HasSubstr("inclusion: INVALID_ARGUMENT: multi-leaf inclusion "
                        "proof: leaf indexes must increase"));
  // In the file, the parser already refuses the order.
  std::string text = *EncodeAnswer(good_);
  std::vector<std::string_view> lines = Split(text, '\n');
  std::swap(lines[8], lines[9]);
  std::string swapped;
  for (size_t i = 0; i < lines.size(); ++i) {
    swapped += StrCat(i > 0 ? "\n" : "", lines[i]);
  }
  const AnswerVerification v =
      VerifyAnswerText(swapped, Verifiers(), testing::kOrigin);
  EXPECT_THAT(FailureOf(v), HasSubstr("parse: answer line 10: entry"));
  EXPECT_THAT(FailureOf(v),
              HasSubstr("entries must be in increasing index order"));
}

TEST_F(AnswerAttackTest, AlteredEntryByteChangesTheRoot) {
  Answer a = good_;
  a.entries[5].bytes[a.entries[5].bytes.size() / 2] ^= 0x01;
  EXPECT_THAT(FailureOf(Verify(a)), HasSubstr("but the checkpoint's root is"));
}

TEST_F(AnswerAttackTest, AlteredDroppedOrAddedProofHashIsRejected) {
  Answer a = good_;
  a.proof[1][0] ^= 0x80;
  EXPECT_THAT(FailureOf(Verify(a)), HasSubstr("but the checkpoint's root is"));
  a = good_;
  a.proof.pop_back();
  EXPECT_THAT(FailureOf(Verify(a)), HasSubstr("too few hashes"));
  a = good_;
  a.proof.push_back(a.proof[0]);
  EXPECT_THAT(FailureOf(Verify(a)),
              HasSubstr(StrCat("must have ", good_.proof.size(),
                               " hashes, got ", good_.proof.size() + 1)));
}

TEST_F(AnswerAttackTest, AnotherValidCheckpointDoesNotFit) {
  // The first checkpoint is smaller than the answer's as-of.
  Answer a = good_;
  a.checkpoint = ledger_->GetCheckpoint(0)->note;
  EXPECT_THAT(FailureOf(Verify(a)),
              HasSubstr(StrCat("checkpoint: the answer is as of size ",
                               second_size_, " but its checkpoint covers only ",
                               first_size_, " entries")));
  // An answer as of a small size, moved to the larger checkpoint.
  std::vector<uint64_t> early;
  for (uint64_t i : indexes_["item:x"]) {
    if (i < first_size_) early.push_back(i);
  }
  a = Build(History("item:x", early, first_size_));
  ASSERT_TRUE(Verify(a).ok());
  a.checkpoint = ledger_->GetCheckpoint(1)->note;
  EXPECT_THAT(FailureOf(Verify(a)), HasSubstr("inclusion: "));
}

TEST_F(AnswerAttackTest, ChangedSubjectIsNotWhatTheEntriesAreAbout) {
  Answer a = good_;
  a.subject->id = "item:y";
  EXPECT_THAT(FailureOf(Verify(a)),
              HasSubstr(StrCat("subject: entry ", good_.entries[0].index,
                               " has no back-link for item 'item:y' of tenant "
                               "'acme-ai'")));
  a = good_;
  a.tenant = "other";
  EXPECT_THAT(FailureOf(Verify(a)),
              HasSubstr("is of tenant 'acme-ai', not of the answer's tenant "
                        "'other'"));
}

// A server that leaves an entry out and proves the rest honestly: the
// inclusion holds, the chain names the gap.
TEST_F(AnswerAttackTest, EntryLeftOutOfTheChainIsNamed) {
  std::vector<uint64_t> x = indexes_["item:x"];
  const uint64_t before = x[3];
  const uint64_t removed = x[4];
  const uint64_t after = x[5];
  x.erase(x.begin() + 4);
  const Answer a = Build(History("item:x", x, second_size_));
  const AnswerVerification v = Verify(a);
  EXPECT_THAT(
      FailureOf(v),
      HasSubstr(StrCat("chain: entry ", after,
                       "'s back-link for item 'item:x' of tenant "
                       "'acme-ai' points at entry ",
                       removed, ", but the entry listed before it is ", before,
                       ": entries about the subject between ", before, " and ",
                       after, " are missing from the answer")));
  EXPECT_THAT(v.proven, IsEmpty());
}

TEST_F(AnswerAttackTest, UntrustedKeysOrOriginFailTheCheckpoint) {
  AnswerVerification v = VerifyAnswer(good_, {}, testing::kOrigin);
  EXPECT_THAT(FailureOf(v), HasSubstr("checkpoint: "));
  v = VerifyAnswer(good_, Verifiers(), "other.example/log");
  EXPECT_THAT(FailureOf(v), HasSubstr("checkpoint: "));
}

// ---- the text format is strict ----

TEST(AnswerParseTest, DeviationsNameTheLine) {
  const std::string head =
      "ledger-answer/v1\nquery history\ntenant t\nsubject item i\nas-of 5\n";
  const std::string entry = "entry 2 row RU4=\n";  // bytes "EN"
  const std::string tail = "\ncheckpoint note\n";
  ASSERT_TRUE(ParseAnswer(head + entry + tail).ok());
  const std::pair<std::string, std::string> cases[] = {
      {"ledger-answer/v2\n", "answer line 1: the first line must be"},
      {"ledger-answer/v1\nquery lineage\n",
       "answer line 2: unknown query kind 'lineage'"},
      {"ledger-answer/v1\nquery history\ntenant t\nas-of 5\n" + tail,
       "answer line 4: subject: a history answer must name a subject"},
      {"ledger-answer/v1\nquery upstream\ntenant t\nsubject item i\nas-of "
       "5\n" +
           tail,
       "answer line 4: subject: a upstream answer must not name a subject"},
      {"ledger-answer/v1\nquery label_history\ntenant t\nsubject actor "
       "i\nas-of 5\n" +
           tail,
       "label_history answer is about an item"},
      {"ledger-answer/v1\nquery history\ntenant t\nsubject thing i\n",
       "answer line 4: expected 'subject KIND ID'"},
      {"ledger-answer/v1\nquery history\ntenant t\nsubject item i\nas-of "
       "05\n",
       "answer line 5: as-of must be a decimal number"},
      {"ledger-answer/v1\nquery history\nparam Bad x\n",
       "answer line 3: param name 'Bad'"},
      {"ledger-answer/v1\nquery history\nparam a x\x01y\n",
       "answer line 3: param a: control character 0x01 at byte 1"},
      {"ledger-answer/v1\nquery history\ntenant \n",
       "answer line 3: tenant: must not be empty"},
      {head + "entry 2 link RU4=\n" + tail,
       "answer line 6: entry 2: a history answer has rows only"},
      {head + entry + entry + tail, "answer line 7: entry 2 follows entry 2"},
      {head + "entry 2 row RU4\n" + tail,
       "answer line 6: entry bytes are not standard base64"},
      {head + "entry 02 row RU4=\n" + tail, "answer line 6: expected 'entry"},
      {head + entry + "not-a-hash\n" + tail, "answer line 7: expected a proof"},
      {head + entry, "answer line 7: missing the empty line"},
      {head + entry + "\n", "answer line 8: the checkpoint is missing"},
  };
  for (const auto& [text, want] : cases) {
    absl::StatusOr<Answer> a = ParseAnswer(text);
    EXPECT_TRUE(absl::IsInvalidArgument(a.status())) << text;
    EXPECT_THAT(a.status().message(), HasSubstr(want)) << text;
  }
}

TEST(AnswerParseTest, EncodeRefusesWhatParseWouldReject) {
  Answer a;
  a.kind = AnswerKind::kOrphans;
  a.tenant = "t";
  a.as_of = 3;
  a.checkpoint = "note\n";
  ASSERT_TRUE(EncodeAnswer(a).ok());
  EXPECT_EQ(*ParseAnswer(*EncodeAnswer(a)), a);
  Answer b = a;
  b.params = {{"x", "line\nbreak"}};
  EXPECT_THAT(EncodeAnswer(b).status().message(),
              HasSubstr("param x: control character 0x0a at byte 4"));
  b = a;
  b.subject = AnswerSubject{LinkKind::kItem, "i"};
  EXPECT_THAT(EncodeAnswer(b).status().message(),
              HasSubstr("must not name a subject"));
  b = a;
  b.entries = {{2, true, "x"}, {1, true, "y"}};
  EXPECT_THAT(EncodeAnswer(b).status().message(),
              HasSubstr("entry 1 follows entry 2"));
  b = a;
  b.checkpoint.clear();
  EXPECT_FALSE(EncodeAnswer(b).ok());
}

}  // namespace
}  // namespace ledger
