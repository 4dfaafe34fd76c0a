// Emitter batches (batch.h) and the offline check of one entry's emitter
// signature (VerifyEntrySignature in entry.h).

#include "ledger/batch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "crypto/rfc6962.h"
#include "ledger/event_testing.h"

namespace ledger {
namespace {

using ::ledger::format_testing::EmitterKey;
using ::ledger::format_testing::MinimalEvent;
using ::ledger::format_testing::NodeKey;
using ::ledger::format_testing::ReviewEvent;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// n distinct valid events.
std::vector<Event> Events(size_t n) {
  std::vector<Event> out;
  for (size_t i = 0; i < n; ++i) {
    Event e = i % 2 ? ReviewEvent() : MinimalEvent();
    e.event_id[14] = static_cast<uint8_t>(i >> 8);
    e.event_id[15] = static_cast<uint8_t>(i + 1);
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<std::string> Encode(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const Event& e : events) out.push_back(EncodeEvent(e));
  return out;
}

class BatchTest : public ::testing::Test {
 protected:
  absl::StatusOr<VerifiedBatch> Verify(std::vector<Event> events,
                                       const crypto::Ed25519Signature& sig) {
    return VerifyBatch(std::move(events), KeyIdOf(key_.public_key()),
                       key_.public_key(), sig, EventLimits{});
  }
  crypto::Ed25519Signature Sign(const std::vector<Event>& events) {
    return SignBatch(key_, Encode(events));
  }

  crypto::Ed25519PrivateKey key_ = EmitterKey();
};

TEST_F(BatchTest, SignAndVerifyRoundTripForSizes1To33) {
  for (size_t n = 1; n <= 33; ++n) {
    const std::vector<Event> events = Events(n);
    const crypto::Ed25519Signature sig = Sign(events);
    absl::StatusOr<VerifiedBatch> batch = Verify(events, sig);
    ASSERT_TRUE(batch.ok()) << n << ": " << batch.status();
    ASSERT_EQ(batch->size(), n);
    EXPECT_EQ(batch->events(), events);
    EXPECT_EQ(batch->event_bytes(), Encode(events));
    EXPECT_EQ(batch->key_id(), KeyIdOf(key_.public_key()));
    EXPECT_EQ(batch->signature(), sig);
    std::vector<Hash> leaves;
    for (const std::string& b : Encode(events)) {
      leaves.push_back(crypto::HashLeaf(b));
    }
    EXPECT_EQ(batch->event_hashes(), leaves);
    EXPECT_EQ(batch->root(), InMemoryTree(leaves).Root());
    for (uint32_t i = 0; i < n; ++i) {
      const EmitterSignature s = batch->SignatureFor(i);
      EXPECT_EQ(s.algorithm, kSigAlgEd25519);
      EXPECT_EQ(s.key_id, batch->key_id());
      EXPECT_EQ(s.batch_size, n);
      EXPECT_EQ(s.batch_index, i);
      EXPECT_EQ(s.batch_root, batch->root());
      EXPECT_EQ(s.signature, sig);
      EXPECT_TRUE(
          VerifyInclusion(leaves[i], i, n, s.audit_path, batch->root()).ok())
          << i << "/" << n;
      Entry entry;
      entry.event_bytes = batch->event_bytes()[i];
      entry.emitter = s;
      EXPECT_TRUE(VerifyEntrySignature(entry, key_.public_key()).ok())
          << i << "/" << n;
      // And the entry survives its own encoding.
      absl::StatusOr<Entry> back = DecodeEntry(EncodeEntry(entry));
      ASSERT_TRUE(back.ok()) << back.status();
      EXPECT_EQ(back->emitter, s);
    }
  }
}

TEST_F(BatchTest, ABatchOfOneIsItsLeafWithAnEmptyPath) {
  const std::vector<Event> events = Events(1);
  absl::StatusOr<VerifiedBatch> batch = Verify(events, Sign(events));
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->root(), crypto::HashLeaf(EncodeEvent(events[0])));
  EXPECT_TRUE(batch->SignatureFor(0).audit_path.empty());
  EXPECT_TRUE(crypto::Ed25519Verify(key_.public_key(),
                                    BatchSignatureMessage(1, batch->root()),
                                    batch->signature()));
}

TEST_F(BatchTest, RejectsATamperedEvent) {
  std::vector<Event> events = Events(5);
  const crypto::Ed25519Signature sig = Sign(events);
  events[3].actor.id = "someone-else";
  absl::StatusOr<VerifiedBatch> batch = Verify(events, sig);
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(
      ToStd(batch.status().message()),
      StartsWith("batch signature does not verify for key " +
                 crypto::HexEncode(KeyIdOf(key_.public_key())).substr(0, 16) +
                 "..."));
}

TEST_F(BatchTest, RejectsSwappedOrderAndMissingOrExtraEvents) {
  std::vector<Event> events = Events(4);
  const crypto::Ed25519Signature sig = Sign(events);
  std::vector<Event> swapped = events;
  std::swap(swapped[1], swapped[2]);
  EXPECT_EQ(Verify(swapped, sig).status().code(),
            absl::StatusCode::kUnauthenticated);
  std::vector<Event> fewer(events.begin(), events.end() - 1);
  EXPECT_EQ(Verify(fewer, sig).status().code(),
            absl::StatusCode::kUnauthenticated);
  std::vector<Event> more = Events(5);
  EXPECT_EQ(Verify(more, sig).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(BatchTest, RejectsAnotherKeysSignature) {
  const std::vector<Event> events = Events(3);
  const crypto::Ed25519Signature other = SignBatch(NodeKey(), Encode(events));
  EXPECT_EQ(Verify(events, other).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(BatchTest, RejectsAKeyIdThatIsNotTheKeys) {
  const std::vector<Event> events = Events(2);
  absl::StatusOr<VerifiedBatch> batch =
      VerifyBatch(events, KeyIdOf(NodeKey().public_key()), key_.public_key(),
                  Sign(events), EventLimits{});
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ToStd(batch.status().message()),
              AllOf(StartsWith("key_id: "),
                    HasSubstr("is not the ID of the given key")));
}

TEST_F(BatchTest, RejectsAnInvalidEventNamingIt) {
  std::vector<Event> events = Events(4);
  events[2].type = "foo.bar";
  absl::StatusOr<VerifiedBatch> batch = Verify(events, Sign(events));
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ToStd(batch.status().message()),
            "events[2].type: unknown event type 'foo.bar'");
}

TEST_F(BatchTest, NamesAnOversizedEventWithoutAFieldPath) {
  std::vector<Event> events = Events(2);
  EventLimits limits;
  limits.max_event_bytes = 100;
  absl::StatusOr<VerifiedBatch> batch =
      VerifyBatch(events, KeyIdOf(key_.public_key()), key_.public_key(),
                  Sign(events), limits);
  EXPECT_THAT(ToStd(batch.status().message()),
              StartsWith("events[0]: canonical encoding of "));
}

TEST_F(BatchTest, RejectsEmptyAndOversizedBatches) {
  crypto::Ed25519Signature sig{};
  EXPECT_EQ(ToStd(Verify({}, sig).status().message()),
            "batch: must contain at least one event");
  std::vector<Event> huge(kMaxBatchSize + 1);
  absl::StatusOr<VerifiedBatch> batch = Verify(std::move(huge), sig);
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ToStd(batch.status().message()),
            "batch: 100001 events exceed the limit of 100000");
}

// ---- VerifyEntrySignature: each tampering is DataLoss naming the step.

class VerifyEntrySignatureTest : public BatchTest {
 protected:
  void SetUp() override {
    const std::vector<Event> events = Events(5);
    absl::StatusOr<VerifiedBatch> batch = Verify(events, Sign(events));
    ASSERT_TRUE(batch.ok()) << batch.status();
    entry_.index = 9;
    entry_.event_bytes = batch->event_bytes()[2];
    entry_.emitter = batch->SignatureFor(2);
    ASSERT_TRUE(VerifyEntrySignature(entry_, key_.public_key()).ok());
  }

  std::string Tampered(const std::function<void(Entry&)>& tamper) {
    Entry e = entry_;
    tamper(e);
    absl::Status s = VerifyEntrySignature(e, key_.public_key());
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    return std::string(ToStd(s.message()));
  }

  Entry entry_;
};

TEST_F(VerifyEntrySignatureTest, FieldsOutsideTheSignatureDoNotMatter) {
  Entry e = entry_;
  e.index = 1234;
  e.risk.grade = RiskGrade::kCritical;
  e.prev_chain_hash[0] = 1;
  EXPECT_TRUE(VerifyEntrySignature(e, key_.public_key()).ok());
}

TEST_F(VerifyEntrySignatureTest, RejectsATamperedEvent) {
  EXPECT_THAT(
      Tampered([](Entry& e) { e.event_bytes.back() ^= 1; }),
      StartsWith("emitter.audit_path: the event's leaf hash leads to "));
}

TEST_F(VerifyEntrySignatureTest, RejectsATamperedAuditPath) {
  EXPECT_THAT(Tampered([](Entry& e) { e.emitter.audit_path[1][5] ^= 1; }),
              StartsWith("emitter.audit_path: "));
  EXPECT_THAT(Tampered([](Entry& e) { e.emitter.audit_path.pop_back(); }),
              StartsWith("emitter.audit_path: "));
}

TEST_F(VerifyEntrySignatureTest, RejectsAnotherPosition) {
  EXPECT_THAT(Tampered([](Entry& e) { e.emitter.batch_index = 3; }),
              StartsWith("emitter.audit_path: "));
  EXPECT_THAT(Tampered([](Entry& e) { e.emitter.batch_index = 5; }),
              StartsWith("emitter.audit_path: "));
}

TEST_F(VerifyEntrySignatureTest, RejectsATamperedRootOrSize) {
  EXPECT_THAT(Tampered([](Entry& e) { e.emitter.batch_root[0] ^= 1; }),
              StartsWith("emitter.audit_path: "));
  // Index 2 has the same path length, and the path the same root, in
  // batches of 5 and 6: only the signed size tells them apart.
  EXPECT_THAT(Tampered([](Entry& e) { e.emitter.batch_size = 6; }),
              StartsWith("emitter.signature: "));
  EXPECT_THAT(Tampered([](Entry& e) { e.emitter.batch_size = 2; }),
              StartsWith("emitter.audit_path: "));
}

TEST_F(VerifyEntrySignatureTest, RejectsATamperedSignature) {
  EXPECT_THAT(Tampered([](Entry& e) { e.emitter.signature[10] ^= 1; }),
              StartsWith("emitter.signature: does not verify"));
}

TEST_F(VerifyEntrySignatureTest, RejectsTheWrongKeyOrKeyId) {
  absl::Status s = VerifyEntrySignature(entry_, NodeKey().public_key());
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(ToStd(s.message()), StartsWith("emitter.key_id: "));
  EXPECT_THAT(Tampered([](Entry& e) { e.emitter.key_id[0] ^= 1; }),
              StartsWith("emitter.key_id: "));
  // Right key ID, wrong key: the signature check catches it.
  Entry e = entry_;
  e.emitter.key_id = KeyIdOf(NodeKey().public_key());
  s = VerifyEntrySignature(e, NodeKey().public_key());
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(ToStd(s.message()), StartsWith("emitter.signature: "));
}

TEST_F(VerifyEntrySignatureTest, RejectsAnUnknownAlgorithm) {
  EXPECT_EQ(Tampered([](Entry& e) { e.emitter.algorithm = 2; }),
            "emitter.algorithm: unknown value 2");
}

}  // namespace
}  // namespace ledger
