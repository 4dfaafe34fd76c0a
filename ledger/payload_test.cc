#include "ledger/payload.h"

#include <gtest/gtest.h>

#include "ledger/event_testing.h"
#include "ledger/payload_testing.h"

namespace ledger {
namespace {

using format_testing::ErasedEvent;
using format_testing::ExamplePayload;
using format_testing::ExamplePayloadKey;
using format_testing::ExamplePayloadKeyId;
using format_testing::ExamplePayloadNonce;
using format_testing::FullEvent;
using format_testing::kExamplePlaintext;
using format_testing::UuidOf;

TEST(PayloadTest, EnvelopeIsVersionKeyIdNonceAndSealedBytes) {
  const std::string payload = ExamplePayload();
  ASSERT_EQ(payload.size(),
            kEnvelopeMinSize + std::string_view(kExamplePlaintext).size());
  EXPECT_EQ(payload[0], '\x01');
  absl::StatusOr<Envelope> envelope = ParseEnvelope(payload);
  ASSERT_TRUE(envelope.ok()) << envelope.status();
  EXPECT_EQ(envelope->key_id, ExamplePayloadKeyId());
  EXPECT_EQ(envelope->nonce, ExamplePayloadNonce());
  EXPECT_EQ(envelope->sealed, std::string_view(payload).substr(41));
}

TEST(PayloadTest, OpensOnlyForItsOwnTenantAndEvent) {
  const std::string payload = ExamplePayload();
  const Event full = FullEvent();
  absl::StatusOr<Envelope> envelope = ParseEnvelope(payload);
  ASSERT_TRUE(envelope.ok()) << envelope.status();
  absl::StatusOr<std::string> plain =
      OpenPayload(*envelope, ExamplePayloadKey(), full.tenant, full.event_id);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, kExamplePlaintext);

  EXPECT_TRUE(absl::IsDataLoss(
      OpenPayload(*envelope, ExamplePayloadKey(), "other-tenant", full.event_id)
          .status()));
  EXPECT_TRUE(absl::IsDataLoss(
      OpenPayload(*envelope, ExamplePayloadKey(), full.tenant,
                  UuidOf("00000000-0000-4000-8000-000000000001"))
          .status()));
  crypto::AeadKey other = ExamplePayloadKey();
  other[31] ^= 0x80;
  EXPECT_TRUE(absl::IsDataLoss(
      OpenPayload(*envelope, other, full.tenant, full.event_id).status()));
}

TEST(PayloadTest, AadSeparatesTenantFromEventId) {
  const Uuid id = UuidOf("0f8e3a52-7c1d-4b9e-a6f0-1d2c3b4a5968");
  const std::string aad = PayloadAad("acme-ai", id);
  EXPECT_EQ(aad, std::string("annotation-ledger/payload/v1\0acme-ai\0", 37) +
                     std::string(crypto::AsView(id)));
}

TEST(PayloadTest, ParseRefusesShortPayloadsAndUnknownVersions) {
  std::string payload = ExamplePayload();
  absl::Status short_one = ParseEnvelope(payload.substr(0, 56)).status();
  EXPECT_TRUE(absl::IsInvalidArgument(short_one));
  EXPECT_NE(short_one.message().find("at least 57 bytes"), std::string::npos)
      << short_one;
  EXPECT_TRUE(absl::IsInvalidArgument(ParseEnvelope("").status()));
  payload[0] = '\x02';
  absl::Status version = ParseEnvelope(payload).status();
  EXPECT_TRUE(absl::IsInvalidArgument(version));
  EXPECT_NE(version.message().find("version 2"), std::string::npos) << version;
}

TEST(PayloadTest, KeyErasedEventRoundTrips) {
  const Event e = ErasedEvent();
  EXPECT_EQ(e.type, "key.erased");
  EXPECT_EQ(e.tenant, "acme-ai");
  ASSERT_EQ(e.attributes.size(), 2u);
  EXPECT_EQ(e.attributes[0].first, "key.id");
  EXPECT_EQ(e.attributes[0].second, "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
  EXPECT_EQ(e.attributes[1].first, "key.reason");
  EXPECT_TRUE(ValidateEvent(e, EventLimits{}).ok())
      << ValidateEvent(e, EventLimits{});
  absl::StatusOr<PayloadKeyId> id = ErasedKeyIdOf(e);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, ExamplePayloadKeyId());
}

TEST(PayloadTest, KeyErasedEventNeedsAnIdAndAReason) {
  Event no_reason = ErasedEvent();
  no_reason.attributes.pop_back();
  EXPECT_TRUE(absl::IsInvalidArgument(ErasedKeyIdOf(no_reason).status()));
  Event upper = ErasedEvent();
  upper.attributes[0].second = "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF";
  EXPECT_TRUE(absl::IsInvalidArgument(ErasedKeyIdOf(upper).status()));
  Event long_id = ErasedEvent();
  long_id.attributes[0].second += "00";
  EXPECT_TRUE(absl::IsInvalidArgument(ErasedKeyIdOf(long_id).status()));
  Event other = ErasedEvent();
  other.type = "key.revoked";
  EXPECT_TRUE(absl::IsInvalidArgument(ErasedKeyIdOf(other).status()));
}

}  // namespace
}  // namespace ledger
