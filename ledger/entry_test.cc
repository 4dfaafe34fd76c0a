#include "ledger/entry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "crypto/rfc6962.h"
#include "crypto/sha256.h"
#include "ledger/batch.h"
#include "ledger/event_testing.h"
#include "ledger/merkle.h"

namespace ledger {
namespace {

using ::ledger::format_testing::EmitterKey;
using ::ledger::format_testing::FullEvent;
using ::ledger::format_testing::MinimalEvent;
using ::ledger::format_testing::NodeKey;
using ::ledger::format_testing::Ref;
using ::ledger::format_testing::ReviewEvent;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::StartsWith;

Hash Filled(uint8_t b) {
  Hash h;
  h.fill(b);
  return h;
}

// Entries for a signed batch of [full, minimal, review].
std::vector<Entry> SignedEntries() {
  const crypto::Ed25519PrivateKey key = EmitterKey();
  std::vector<Event> events = {FullEvent(), MinimalEvent(), ReviewEvent()};
  std::vector<std::string> bytes;
  for (const Event& e : events) bytes.push_back(EncodeEvent(e));
  absl::StatusOr<VerifiedBatch> batch =
      VerifyBatch(events, KeyIdOf(key.public_key()), key.public_key(),
                  SignBatch(key, bytes), {});
  EXPECT_TRUE(batch.ok()) << batch.status();
  std::vector<Entry> out;
  for (uint32_t i = 0; batch.ok() && i < batch->size(); ++i) {
    Entry e;
    e.index = 100 + i;
    e.received_at_ns = 1767225600'000000000 + i;
    e.event_bytes = batch->event_bytes()[i];
    e.emitter = batch->SignatureFor(i);
    e.risk = {RiskGrade::kMedium, {"R7: volume above baseline"}};
    e.policy_version = 2;
    e.prev_chain_hash = Filled(0x22);
    for (const auto& [kind, id] : SubjectKeys(events[i])) {
      e.back_links.push_back({kind, id, i == 0 ? kNoPrevious : 7});
    }
    out.push_back(std::move(e));
  }
  return out;
}

Entry ExampleEntry() { return SignedEntries()[0]; }

TEST(EntryCodecTest, RoundTrips) {
  for (const Entry& e : SignedEntries()) {
    const std::string bytes = EncodeEntry(e);
    EXPECT_THAT(bytes, StartsWith("EN\x01"));
    absl::StatusOr<Entry> back = DecodeEntry(bytes);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, e);
    EXPECT_EQ(EncodeEntry(*back), bytes);
  }
}

TEST(EntryCodecTest, EveryFieldRoundTripsAndChangesTheBytes) {
  using Mutation = std::function<void(Entry&)>;
  const std::pair<const char*, Mutation> mutations[] = {
      {"index", [](Entry& e) { e.index = UINT64_MAX; }},
      {"received_at_ns", [](Entry& e) { e.received_at_ns = -1; }},
      {"event_bytes", [](Entry& e) { e.event_bytes += "x"; }},
      {"key_id", [](Entry& e) { e.emitter.key_id[0] ^= 1; }},
      // Index 0 has a path of 2 in batches of 3 and 4 alike.
      {"batch_size", [](Entry& e) { e.emitter.batch_size = 4; }},
      {"batch_index",
       [](Entry& e) {
         e.emitter.batch_index = 1;
         e.emitter.batch_size = 2;
         e.emitter.audit_path.resize(1);
       }},
      {"batch_root", [](Entry& e) { e.emitter.batch_root[31] ^= 1; }},
      {"audit_path[1]", [](Entry& e) { e.emitter.audit_path[1][0] ^= 1; }},
      {"signature", [](Entry& e) { e.emitter.signature[63] ^= 1; }},
      {"risk.grade", [](Entry& e) { e.risk.grade = RiskGrade::kCritical; }},
      {"risk.reasons", [](Entry& e) { e.risk.reasons.push_back("R1"); }},
      {"risk.reasons[0]", [](Entry& e) { e.risk.reasons[0] = ""; }},
      {"policy_version", [](Entry& e) { e.policy_version = 0; }},
      {"prev_chain_hash", [](Entry& e) { e.prev_chain_hash = Hash{}; }},
      {"back_links", [](Entry& e) { e.back_links.pop_back(); }},
      {"back_links[0].kind",
       [](Entry& e) { e.back_links[0].kind = LinkKind::kDataset; }},
      {"back_links[0].id", [](Entry& e) { e.back_links[0].id = "u"; }},
      {"back_links[0].previous",
       [](Entry& e) { e.back_links[0].previous = 0; }},
  };
  const Entry base = ExampleEntry();
  const std::string base_bytes = EncodeEntry(base);
  for (const auto& [name, mutate] : mutations) {
    Entry e = base;
    mutate(e);
    ASSERT_NE(e, base) << name;
    const std::string bytes = EncodeEntry(e);
    EXPECT_NE(bytes, base_bytes) << name;
    absl::StatusOr<Entry> back = DecodeEntry(bytes);
    ASSERT_TRUE(back.ok()) << name << ": " << back.status();
    EXPECT_EQ(*back, e) << name;
  }
}

TEST(EntryCodecTest, RejectsEveryTruncationAndTrailingBytes) {
  const std::string bytes = EncodeEntry(ExampleEntry());
  for (size_t n = 0; n < bytes.size(); ++n) {
    absl::StatusOr<Entry> e = DecodeEntry(bytes.substr(0, n));
    ASSERT_FALSE(e.ok()) << "prefix of " << n << " bytes decoded";
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(DecodeEntry(bytes + std::string(2, '\0')).status().message(),
            "entry: 2 trailing bytes");
}

TEST(EntryCodecTest, RejectsWrongMagicAndVersion) {
  std::string bytes = EncodeEntry(ExampleEntry());
  EXPECT_THAT(DecodeEntry(EncodeEvent(MinimalEvent())).status().message(),
              HasSubstr("magic: expected hex 454e"));
  bytes[2] = 2;
  EXPECT_THAT(DecodeEntry(bytes).status().message(),
              HasSubstr("version: unsupported entry format version 2"));
}

absl::Status DecodeStatus(const Entry& e) {
  return DecodeEntry(EncodeEntry(e)).status();
}

TEST(EntryCodecTest, RejectsUnknownEnumValues) {
  Entry e = ExampleEntry();
  e.emitter.algorithm = 2;
  EXPECT_EQ(DecodeStatus(e).message(), "emitter.algorithm: unknown value 2");
  e = ExampleEntry();
  e.risk.grade = static_cast<RiskGrade>(5);
  EXPECT_EQ(DecodeStatus(e).message(), "risk.grade: unknown value 5");
  for (uint8_t kind : {0, 5}) {
    e = ExampleEntry();
    e.back_links[2].kind = static_cast<LinkKind>(kind);
    EXPECT_EQ(DecodeStatus(e).message(),
              StrCat("back_links[2].kind: unknown value ", int{kind}));
  }
}

TEST(EntryCodecTest, RejectsBatchIndexNotBelowBatchSize) {
  Entry e = ExampleEntry();
  e.emitter.batch_index = 3;
  EXPECT_EQ(DecodeStatus(e).message(),
            "emitter.batch_index: 3 is not below batch_size 3");
  e.emitter.batch_size = 0;
  e.emitter.batch_index = 0;
  EXPECT_EQ(DecodeStatus(e).message(),
            "emitter.batch_index: 0 is not below batch_size 0");
}

TEST(EntryCodecTest, RejectsAuditPathOfTheWrongLength) {
  Entry e = ExampleEntry();
  e.emitter.audit_path.push_back(Filled(3));
  EXPECT_EQ(DecodeStatus(e).message(),
            "emitter.audit_path: 3 hashes, expected 2 for index 0 in a "
            "batch of 3");
  e.emitter.audit_path.resize(1);
  EXPECT_THAT(DecodeStatus(e).message(), HasSubstr("1 hashes, expected 2"));
  // A forged huge count is rejected before anything is allocated.
  std::string bytes = EncodeEntry(ExampleEntry());
  const size_t at = bytes.find(crypto::AsView(e.emitter.batch_root)) + 32;
  ASSERT_EQ(bytes.substr(at, 4), std::string("\0\0\0\x02", 4));
  bytes.replace(at, 4, "\xFF\xFF\xFF\xFF");
  EXPECT_THAT(DecodeEntry(bytes).status().message(), HasSubstr("expected 2"));
}

// DecodeEntry checks audit path lengths with InclusionProofLength; the
// lengths it accepts must be those of the proofs merkle.cc produces.
TEST(EntryCodecTest, AuditPathLengthAgreesWithMerkleProofs) {
  InMemoryTree tree;
  Entry e = ExampleEntry();
  for (uint32_t size = 1; size <= 70; ++size) {
    tree.Append(Filled(static_cast<uint8_t>(size)));
    for (uint32_t index = 0; index < size; ++index) {
      absl::StatusOr<std::vector<Hash>> proof =
          InclusionProof(tree, index, size);
      ASSERT_TRUE(proof.ok()) << proof.status();
      e.emitter.batch_size = size;
      e.emitter.batch_index = index;
      e.emitter.audit_path = *proof;
      ASSERT_TRUE(DecodeStatus(e).ok()) << index << "/" << size;
      e.emitter.audit_path.push_back(Hash{});
      ASSERT_FALSE(DecodeStatus(e).ok()) << index << "/" << size;
    }
  }
  // The largest batch: 2^32 - 1 leaves, last index, a full-height path.
  e.emitter.batch_size = UINT32_MAX;
  e.emitter.batch_index = UINT32_MAX - 1;
  e.emitter.audit_path.assign(32, Hash{});
  EXPECT_EQ(DecodeStatus(e).message(),
            "emitter.audit_path: 32 hashes, expected 31 for index 4294967294 "
            "in a batch of 4294967295");
}

TEST(EntryCodecTest, ForgedListCountsAreTruncations) {
  Entry e = ExampleEntry();
  e.risk.reasons.clear();
  e.back_links.clear();
  std::string bytes = EncodeEntry(e);
  // Tail: reasons count (4), policy_version (4), prev_chain_hash (32),
  // back_links count (4).
  std::string links = bytes;
  links.replace(links.size() - 4, 4, std::string("\x10\0\0\0", 4));
  EXPECT_THAT(DecodeEntry(links).status().message(),
              HasSubstr("back_links: truncated"));
  std::string reasons = bytes;
  reasons.replace(reasons.size() - 44, 4, std::string("\x10\0\0\0", 4));
  EXPECT_THAT(DecodeEntry(reasons).status().message(),
              HasSubstr("risk.reasons: truncated"));
}

// DecodeEntryInto reuses the Entry it is given: every field ends up the
// new entry's, whatever an earlier entry or a failed decode left in it.
TEST(EntryCodecTest, DecodeIntoAUsedEntryGivesTheNewEntryOnly) {
  std::vector<Entry> entries = SignedEntries();
  ASSERT_EQ(entries.size(), 3u);
  Entry plain = entries[2];
  plain.risk = {};
  plain.policy_version = 0;
  plain.back_links.resize(1);
  entries.push_back(plain);
  for (const Entry& first : entries) {
    for (const Entry& second : entries) {
      Entry reused;
      ASSERT_TRUE(DecodeEntryInto(EncodeEntry(first), &reused).ok());
      ASSERT_EQ(reused, first);
      ASSERT_TRUE(DecodeEntryInto(EncodeEntry(second), &reused).ok());
      EXPECT_EQ(reused, second) << first.index << " then " << second.index;
    }
  }
  const std::string bytes = EncodeEntry(entries[0]);
  Entry reused;
  EXPECT_EQ(DecodeEntryInto(bytes.substr(0, bytes.size() - 9), &reused).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(DecodeEntryInto(EncodeEntry(plain), &reused).ok());
  EXPECT_EQ(reused, plain);
}

TEST(EntryHashTest, ChainHashIsSha256OfPrevThenLeaf) {
  const Hash prev = Filled(0xAB);
  const Hash leaf = crypto::HashLeaf("entry");
  EXPECT_EQ(ChainHash(prev, leaf), crypto::Sha256()
                                       .Update(crypto::AsView(prev))
                                       .Update(crypto::AsView(leaf))
                                       .Finish());
  EXPECT_NE(ChainHash(prev, leaf), ChainHash(leaf, prev));
}

TEST(EntryHashTest, KeyIdIsSha256OfAlgorithmByteAndKey) {
  const crypto::Ed25519PublicKey key = EmitterKey().public_key();
  EXPECT_EQ(KeyIdOf(key), crypto::Sha256()
                              .Update(uint8_t{0x01})
                              .Update(crypto::AsView(key))
                              .Finish());
  EXPECT_NE(KeyIdOf(key), KeyIdOf(NodeKey().public_key()));
}

TEST(EntryHashTest, BatchSignatureMessageLayout) {
  const std::string m = BatchSignatureMessage(0x01020304, Filled(0xEE));
  ASSERT_EQ(m.size(), 63u);
  EXPECT_EQ(m.substr(0, 27), "annotation-ledger batch v1\n");
  EXPECT_EQ(m.substr(27, 4), "\x01\x02\x03\x04");
  EXPECT_EQ(m.substr(31), std::string(32, '\xEE'));
}

TEST(SubjectKeysTest, ActorFirstThenDistinctReferencesInOrder) {
  Event e = MinimalEvent();
  e.actor.id = "user:1";
  e.subjects = {Ref(SubjectKind::kItem, "i1"), Ref(SubjectKind::kDataset, "d"),
                Ref(SubjectKind::kItem, "i1")};
  e.inputs = {Ref(SubjectKind::kDataset, "d"), Ref(SubjectKind::kItem, "d"),
              Ref(SubjectKind::kAnnotation, "a")};
  e.outputs = {Ref(SubjectKind::kDataset, "d2"),
               Ref(SubjectKind::kAnnotation, "a")};
  EXPECT_THAT(
      SubjectKeys(e),
      ElementsAre(Pair(LinkKind::kActor, "user:1"), Pair(LinkKind::kItem, "i1"),
                  Pair(LinkKind::kDataset, "d"), Pair(LinkKind::kItem, "d"),
                  Pair(LinkKind::kAnnotation, "a"),
                  Pair(LinkKind::kDataset, "d2")));
  // An actor whose id equals a subject id is still its own key.
  e = MinimalEvent();
  e.subjects = {Ref(SubjectKind::kItem, e.actor.id)};
  EXPECT_EQ(SubjectKeys(e).size(), 2u);
}

// Large events take the sorting path; it must give what the simple
// definition gives.
TEST(SubjectKeysTest, LargeEventsMatchTheDefinition) {
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    Event e = MinimalEvent();
    for (auto* list : {&e.subjects, &e.inputs, &e.outputs}) {
      const int n = static_cast<int>(rng() % 40);
      for (int i = 0; i < n; ++i) {
        list->push_back(Ref(static_cast<SubjectKind>(1 + rng() % 3),
                            StrCat("id", rng() % 25)));
      }
    }
    std::vector<std::pair<LinkKind, std::string>> want = {
        {LinkKind::kActor, e.actor.id}};
    for (auto* list : {&e.subjects, &e.inputs, &e.outputs}) {
      for (const SubjectRef& r : *list) {
        std::pair<LinkKind, std::string> k{static_cast<LinkKind>(r.kind), r.id};
        if (std::find(want.begin() + 1, want.end(), k) == want.end()) {
          want.push_back(k);
        }
      }
    }
    EXPECT_EQ(SubjectKeys(e), want) << "round " << round;
  }
}

}  // namespace
}  // namespace ledger
