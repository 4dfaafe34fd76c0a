// Emitter key lifecycle as the ledger applies it (FORMAT.md section 8):
// producers, rotation and revocation by index, and that the start-up check
// replays the same rules over the stored entries.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/strings.h"
#include "ledger/key_registry.h"
#include "ledger/ledger.h"
#include "ledger/ledger_testing.h"

namespace ledger {
namespace {

using testing::Annotation;
using ::testing::HasSubstr;
using testing::kNewYear2026Ns;
using testing::kTenant;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

class KeyLifecycleTest : public testing::LedgerFixture {
 protected:
  // A ledger-internal event as the admin service writes it.
  Event Stamped(Event e) {
    e.event_id =
        testing::UuidOf(StrCat("00000000-0000-4000-8000-",
                               std::string(12 - 3, '0'), 100 + next_id_++));
    e.occurred_at_ns = kNewYear2026Ns;
    e.producer = "annotation-ledger/test";
    e.actor = {ActorKind::kService, "admin-7", "admin"};
    return e;
  }
  KeyInfo EmitterInfo(const crypto::Ed25519PrivateKey& key,
                      std::string producer, std::string name) {
    KeyInfo info;
    info.public_key = key.public_key();
    info.key_id = KeyIdOf(info.public_key);
    info.name = std::move(name);
    info.tenant = kTenant;
    info.producer = std::move(producer);
    info.role = KeyRole::kEmitter;
    return info;
  }
  // Registers `key` for kTenant and `producer`; returns the entry's index.
  uint64_t Register(const crypto::Ed25519PrivateKey& key,
                    std::string producer) {
    AppendResult r = AppendOne(Batch(
        {Stamped(KeyRegisteredEvent(EmitterInfo(key, producer, "platform")))},
        node_key_));
    EXPECT_TRUE(r.status.ok()) << r.status;
    return r.entries.empty() ? 0 : r.entries[0].index;
  }
  Event Rotation(const crypto::Ed25519PrivateKey& old_key,
                 const crypto::Ed25519PrivateKey& new_key,
                 std::string producer = "") {
    return Stamped(KeyRotatedEvent(EmitterInfo(old_key, producer, "old"),
                                   EmitterInfo(new_key, "", "labelstudio-2"),
                                   "scheduled"));
  }
  static Event From(int n, std::string producer) {
    Event e = Annotation(n);
    e.producer = std::move(producer);
    return e;
  }
  // Appends the batches as one group at `t`.
  std::vector<AppendResult> Group(std::vector<VerifiedBatch> batches,
                                  int64_t t = kNewYear2026Ns + 1000) {
    std::vector<const VerifiedBatch*> ptrs;
    for (const VerifiedBatch& b : batches) ptrs.push_back(&b);
    GroupResult g = ledger_->Append(ptrs, t);
    EXPECT_TRUE(g.status.ok()) << g.status;
    return g.batches;
  }

  const crypto::Ed25519PrivateKey second_key_ =
      crypto::Ed25519PrivateKey::FromSeed(testing::SeedFrom(0x61));
  const crypto::Ed25519PrivateKey third_key_ =
      crypto::Ed25519PrivateKey::FromSeed(testing::SeedFrom(0x71));
  int next_id_ = 0;
};

TEST_F(KeyLifecycleTest, AKeySignsOnlyItsProducerAndItsTenant) {
  Register(second_key_, "label-studio");
  EXPECT_TRUE(
      AppendOne(Batch({From(1, "label-studio")}, second_key_)).status.ok());
  EXPECT_TRUE(AppendOne(Batch({From(2, "label-studio/1.13.1")}, second_key_))
                  .status.ok());
  for (const char* other : {"cvat/2.11", "label-studio-x/1.0", "label"}) {
    AppendResult r = AppendOne(Batch({From(3, other)}, second_key_));
    EXPECT_EQ(r.status.code(), absl::StatusCode::kPermissionDenied) << other;
    EXPECT_THAT(Msg(r.status), HasSubstr("events[0].producer: emitter key "));
    EXPECT_THAT(Msg(r.status), HasSubstr("registered by entry 2"));
  }
  Event other_tenant = From(4, "label-studio");
  other_tenant.tenant = "beta";
  AppendResult r = AppendOne(Batch({other_tenant}, second_key_));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(Msg(r.status), HasSubstr("events[0].tenant: emitter key "));
  EXPECT_THAT(Msg(r.status),
              HasSubstr("may write only tenant \"acme-ai\", not \"beta\""));
  // The fixture's key was registered without a producer: any producer.
  EXPECT_TRUE(
      AppendOne(Batch({From(5, "cvat/2.11")}, emitter_key_)).status.ok());
  EXPECT_EQ(ledger_->keys().Find(KeyIdOf(second_key_.public_key()))->producer,
            "label-studio");
}

TEST_F(KeyLifecycleTest, RotationEndsTheOldKeyAtTheRotationIndex) {
  const Hash old_id = KeyIdOf(emitter_key_.public_key());
  const Hash new_id = KeyIdOf(second_key_.public_key());
  // One group: the old key before and after the rotation, the new key
  // after it.
  std::vector<VerifiedBatch> batches;
  batches.push_back(Batch({Annotation(1)}, emitter_key_));
  batches.push_back(Batch({Rotation(emitter_key_, second_key_)}, node_key_));
  batches.push_back(Batch({Annotation(2)}, emitter_key_));
  batches.push_back(Batch({Annotation(3)}, second_key_));
  std::vector<AppendResult> r = Group(std::move(batches));
  ASSERT_TRUE(r[0].status.ok()) << r[0].status;
  ASSERT_TRUE(r[1].status.ok()) << r[1].status;
  const uint64_t rot = r[1].entries[0].index;
  EXPECT_EQ(r[0].entries[0].index, rot - 1);
  EXPECT_EQ(r[2].status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(Msg(r[2].status),
              HasSubstr(StrCat("was rotated out by entry ", rot)));
  EXPECT_THAT(Msg(r[2].status), HasSubstr(KeyIdLabel(new_id)));
  ASSERT_TRUE(r[3].status.ok()) << r[3].status;
  EXPECT_EQ(r[3].entries[0].index, rot + 1);

  std::optional<KeyInfo> old_key = ledger_->keys().Find(old_id);
  std::optional<KeyInfo> new_key = ledger_->keys().Find(new_id);
  ASSERT_TRUE(old_key.has_value() && new_key.has_value());
  EXPECT_EQ(old_key->rotated_at, rot);
  EXPECT_EQ(old_key->rotated_to, new_id);
  EXPECT_EQ(new_key->registered_at, rot);
  EXPECT_EQ(new_key->rotated_from, old_id);
  EXPECT_EQ(new_key->tenant, kTenant);
  EXPECT_EQ(new_key->name, "labelstudio-2");

  // The whole ledger, the old key's entries included, verifies on reopen,
  // and the rotation still holds.
  LedgerOptions options = Options();
  options.open_check = OpenCheck::kFull;
  ledger_.reset();
  absl::StatusOr<std::unique_ptr<Ledger>> reopened =
      Ledger::Open(dir_, options);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  ledger_ = *std::move(reopened);
  EXPECT_EQ(ledger_->keys().Find(old_id), old_key);
  EXPECT_EQ(ledger_->keys().Find(new_id), new_key);
  EXPECT_EQ(AppendOne(Batch({Annotation(4)}, emitter_key_)).status.code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(AppendOne(Batch({Annotation(5)}, second_key_)).status.ok());
  EXPECT_TRUE(ledger_->Scrub([](uint64_t, uint64_t) { return true; }).ok());
}

TEST_F(KeyLifecycleTest, RevocationInTheMiddleOfAGroupKeepsTheEarlierEntries) {
  KeyInfo info = *ledger_->keys().Find(KeyIdOf(emitter_key_.public_key()));
  std::vector<VerifiedBatch> batches;
  batches.push_back(Batch({Annotation(1)}, emitter_key_));
  batches.push_back(
      Batch({Stamped(KeyRevokedEvent(info, "laptop stolen"))}, node_key_));
  batches.push_back(Batch({Annotation(2)}, emitter_key_));
  std::vector<AppendResult> r = Group(std::move(batches));
  ASSERT_TRUE(r[0].status.ok());
  ASSERT_TRUE(r[1].status.ok()) << r[1].status;
  const uint64_t revoked = r[1].entries[0].index;
  EXPECT_EQ(r[2].status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(Msg(r[2].status),
              HasSubstr(StrCat("was revoked by entry ", revoked,
                               " (reason: laptop stolen)")));
  // Entry revoked-1 has the revocation's received_at and stays valid: the
  // start-up check replays the same rule.
  LedgerOptions options = Options();
  options.open_check = OpenCheck::kFull;
  ledger_.reset();
  absl::StatusOr<std::unique_ptr<Ledger>> reopened =
      Ledger::Open(dir_, options);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  ledger_ = *std::move(reopened);
  std::optional<KeyInfo> key = ledger_->keys().Find(info.key_id);
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->revoked_index, revoked);
  EXPECT_EQ(key->revoke_reason, "laptop stolen");
  EXPECT_EQ(key->CheckValidAt(revoked - 1, kNewYear2026Ns + 1000),
            absl::OkStatus());
  EXPECT_FALSE(key->CheckValidAt(revoked + 1, kNewYear2026Ns + 1000).ok());
}

TEST_F(KeyLifecycleTest, RotationsThatCannotHappenAreRefused) {
  // By an emitter key.
  EXPECT_EQ(
      AppendOne(Batch({Rotation(emitter_key_, second_key_)}, emitter_key_))
          .status.code(),
      absl::StatusCode::kPermissionDenied);
  // Of an unknown key.
  EXPECT_EQ(AppendOne(Batch({Rotation(third_key_, second_key_)}, node_key_))
                .status.code(),
            absl::StatusCode::kNotFound);
  // To a key already registered.
  Register(third_key_, "cvat");
  AppendResult r =
      AppendOne(Batch({Rotation(emitter_key_, third_key_)}, node_key_));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kAlreadyExists) << r.status;
  // With another producer than the old key's.
  r = AppendOne(
      Batch({Rotation(third_key_, second_key_, "label-studio")}, node_key_));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument) << r.status;
  EXPECT_THAT(Msg(r.status), HasSubstr("key.producer"));
  // Twice.
  ASSERT_TRUE(AppendOne(Batch({Rotation(emitter_key_, second_key_)}, node_key_))
                  .status.ok());
  const crypto::Ed25519PrivateKey fourth =
      crypto::Ed25519PrivateKey::FromSeed(testing::SeedFrom(0x81));
  r = AppendOne(Batch({Rotation(emitter_key_, fourth)}, node_key_));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Msg(r.status), HasSubstr("already rotated out"));
  // A revoked key is not rotated, but a rotated-out one may be revoked.
  KeyInfo third = *ledger_->keys().Find(KeyIdOf(third_key_.public_key()));
  ASSERT_TRUE(AppendOne(Batch({Stamped(KeyRevokedEvent(third, ""))}, node_key_))
                  .status.ok());
  r = AppendOne(Batch({Rotation(third_key_, fourth, "cvat")}, node_key_));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kFailedPrecondition);
  KeyInfo first = *ledger_->keys().Find(KeyIdOf(emitter_key_.public_key()));
  EXPECT_TRUE(
      AppendOne(Batch({Stamped(KeyRevokedEvent(first, "leaked"))}, node_key_))
          .status.ok());
  ASSERT_TRUE(Reopen().ok());
}

TEST_F(KeyLifecycleTest, ExpiredAndNotYetValidKeysNameTheirRegistration) {
  KeyInfo info = EmitterInfo(second_key_, "label-studio", "windowed");
  info.valid_from_ns = kNewYear2026Ns + 1'000;
  info.valid_until_ns = kNewYear2026Ns + 2'000;
  AppendResult reg =
      AppendOne(Batch({Stamped(KeyRegisteredEvent(info))}, node_key_));
  ASSERT_TRUE(reg.status.ok()) << reg.status;
  const std::string at = StrCat("entry ", reg.entries[0].index);
  AppendResult early =
      AppendOne(Batch({From(1, "label-studio")}, second_key_), kNewYear2026Ns);
  EXPECT_EQ(early.status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(Msg(early.status), HasSubstr("is not valid"));
  EXPECT_THAT(Msg(early.status), HasSubstr(at));
  AppendResult late = AppendOne(Batch({From(2, "label-studio")}, second_key_),
                                kNewYear2026Ns + 2'000);
  EXPECT_EQ(late.status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(Msg(late.status), HasSubstr("expired at"));
  EXPECT_THAT(Msg(late.status), HasSubstr(at));
}

TEST_F(KeyLifecycleTest, KeyRecordsRoundTripThroughStorage) {
  KeyInfo info = EmitterInfo(second_key_, "label-studio", "n");
  info.registered_at = 7;
  info.revoked_index = 9;
  info.revoked_at_ns = 12;
  info.revoke_reason = "r";
  info.rotated_at = 8;
  info.rotated_to = KeyIdOf(third_key_.public_key());
  info.rotated_from = KeyIdOf(emitter_key_.public_key());
  absl::StatusOr<KeyInfo> back = DecodeKeyInfo(EncodeKeyInfo(info));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, info);
  // Version-1 records (storage formats 1 and 2) are not read as current.
  EXPECT_EQ(DecodeKeyInfo(EncodeKeyInfoV1(info)).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace ledger
