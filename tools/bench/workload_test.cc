#include "tools/bench/workload.h"

#include <set>

#include "gtest/gtest.h"
#include "ledger/batch.h"
#include "ledger/entry.h"
#include "ledger/lineage_rules.h"
#include "ledger/v1/ingest.pb.h"
#include "node/convert.h"

namespace ledger::bench {
namespace {

TEST(WorkloadTest, EventsAreValidAndExactlyTheRequestedSize) {
  std::set<std::string> types;
  std::set<Uuid> ids;
  for (uint64_t n = 0; n < 2000; ++n) {
    Event e = MakeEvent("bench", 7, n, 1024);
    ASSERT_TRUE(ValidateEvent(e, EventLimits{}).ok())
        << n << ": " << ValidateEvent(e, EventLimits{});
    // A node admits it (prelabel.applied and dataset.exported name their
    // lineage).
    ASSERT_TRUE(CheckLineage(e).ok()) << n << ": " << CheckLineage(e);
    ASSERT_EQ(EncodeEvent(e).size(), 1024u) << n;
    ASSERT_FALSE(e.subjects.empty()) << n;
    types.insert(e.type);
    ids.insert(e.event_id);
  }
  EXPECT_GE(types.size(), 8u);  // a realistic mix, not one type
  EXPECT_TRUE(types.contains("prelabel.applied"));
  EXPECT_TRUE(types.contains("dataset.exported"));
  EXPECT_EQ(ids.size(), 2000u);
}

TEST(WorkloadTest, SealedPaddingIsAnEnvelopeOfTheEvent) {
  PayloadSeal seal;
  seal.key_id.fill(0x11);
  seal.key = crypto::NewAeadKey();
  for (uint64_t n = 0; n < 200; ++n) {
    Event e = MakeEvent("bench", 7, n, 1024, &seal);
    ASSERT_EQ(EncodeEvent(e).size(), 1024u) << n;
    absl::StatusOr<Envelope> envelope = ParseEnvelope(e.payload);
    ASSERT_TRUE(envelope.ok()) << n << ": " << envelope.status();
    EXPECT_EQ(envelope->key_id, seal.key_id);
    ASSERT_TRUE(OpenPayload(*envelope, seal.key, e.tenant, e.event_id).ok())
        << n;
  }
  EXPECT_EQ(MakeEvent("bench", 1, 42, 1024, &seal),
            MakeEvent("bench", 1, 42, 1024, &seal));
}

TEST(WorkloadTest, EventsAreAFunctionOfSeedAndNumber) {
  EXPECT_EQ(MakeEvent("bench", 1, 42, 1024), MakeEvent("bench", 1, 42, 1024));
  EXPECT_NE(MakeEvent("bench", 1, 42, 1024).event_id,
            MakeEvent("bench", 2, 42, 1024).event_id);
  EXPECT_NE(MakeEvent("bench", 1, 42, 1024).event_id,
            MakeEvent("bench", 1, 43, 1024).event_id);
}

TEST(WorkloadTest, BatchRequestsVerifyAsTheNodeWouldCheckThem) {
  const auto key = crypto::Ed25519PrivateKey::Generate();
  WorkloadOptions options;
  options.events = 250;
  options.batch_size = 100;
  options.keep_event_bytes = true;
  options.threads = 2;
  absl::StatusOr<std::vector<SignedBatch>> batches =
      BuildWorkload(options, key);
  ASSERT_TRUE(batches.ok()) << batches.status();
  ASSERT_EQ(batches->size(), 3u);
  EXPECT_EQ(CountEvents(*batches), 250u);
  EXPECT_EQ((*batches)[2].events, 50u);
  for (const SignedBatch& b : *batches) {
    v1::AppendBatchRequest request;
    ASSERT_TRUE(request.ParseFromString(b.request));
    ASSERT_EQ(request.events_size(), static_cast<int>(b.events));
    std::vector<Event> events;
    for (int i = 0; i < request.events_size(); ++i) {
      absl::StatusOr<Event> e = node::EventFromProto(request.events(i));
      ASSERT_TRUE(e.ok()) << e.status();
      EXPECT_EQ(EncodeEvent(*e), b.event_bytes[i]);
      events.push_back(*std::move(e));
    }
    const Hash key_id = KeyIdOf(key.public_key());
    EXPECT_EQ(request.signature().key_id(),
              std::string(crypto::AsView(key_id)));
    absl::StatusOr<VerifiedBatch> verified = VerifyBatch(
        std::move(events), key_id, key.public_key(), b.signature, {});
    EXPECT_TRUE(verified.ok()) << verified.status();
  }
}

TEST(WorkloadTest, SingleRequestsCarryOneSignedEvent) {
  const auto key = crypto::Ed25519PrivateKey::Generate();
  WorkloadOptions options;
  options.events = 5;
  options.single = true;
  options.first_event = 1000;
  absl::StatusOr<std::vector<SignedBatch>> batches =
      BuildWorkload(options, key);
  ASSERT_TRUE(batches.ok()) << batches.status();
  ASSERT_EQ(batches->size(), 5u);
  for (size_t i = 0; i < batches->size(); ++i) {
    v1::AppendRequest request;
    ASSERT_TRUE(request.ParseFromString((*batches)[i].request));
    absl::StatusOr<Event> e = node::EventFromProto(request.event());
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_EQ(*e, MakeEvent("bench", 1, 1000 + i, 1024));
    absl::StatusOr<VerifiedBatch> verified =
        VerifyBatch({*e}, KeyIdOf(key.public_key()), key.public_key(),
                    (*batches)[i].signature, {});
    EXPECT_TRUE(verified.ok()) << verified.status();
  }
}

TEST(WorkloadTest, RejectsSingleRequestsWithBiggerBatches) {
  WorkloadOptions options;
  options.events = 10;
  options.batch_size = 2;
  options.single = true;
  EXPECT_FALSE(
      BuildWorkload(options, crypto::Ed25519PrivateKey::Generate()).ok());
  options.single = false;
  options.batch_size = 0;
  EXPECT_FALSE(
      BuildWorkload(options, crypto::Ed25519PrivateKey::Generate()).ok());
}

}  // namespace
}  // namespace ledger::bench
