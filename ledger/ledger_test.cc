#include "ledger/ledger.h"

#include <gtest/gtest.h>

#include "crypto/rfc6962.h"
#include "ledger/ledger_testing.h"
#include "ledger/merkle.h"

namespace ledger {
namespace {

using testing::Annotation;
using testing::kNewYear2026Ns;
using testing::kTenant;

class LedgerTest : public testing::LedgerFixture {
 protected:
  // Leaf hashes of every stored entry, recomputed from the entry bytes.
  std::vector<Hash> Leaves() {
    std::vector<Hash> out;
    auto entries = ledger_->GetEntries(0, ledger_->head().size, 1 << 20);
    EXPECT_TRUE(entries.ok()) << entries.status();
    for (const std::string& e : *entries) out.push_back(crypto::HashLeaf(e));
    return out;
  }
};

TEST_F(LedgerTest, GenesisAndKeyRegistrationAreTheFirstEntries) {
  EXPECT_EQ(ledger_->head().size, 2u);
  std::vector<KeyInfo> keys = ledger_->keys().List();
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].role, KeyRole::kNode);
  EXPECT_EQ(keys[0].registered_at, 0u);
  EXPECT_EQ(keys[1].tenant, kTenant);
  EXPECT_EQ(keys[1].registered_at, 1u);
}

TEST_F(LedgerTest, AppendAssignsIndexesChainsAndTree) {
  AppendResult r = AppendOne(
      Batch({Annotation(1), Annotation(2), Annotation(3)}, emitter_key_));
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.entries.size(), 3u);
  for (uint64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(r.entries[i].index, 2 + i);
    EXPECT_FALSE(r.entries[i].duplicate);
  }
  std::vector<Hash> leaves = Leaves();
  ASSERT_EQ(leaves.size(), 5u);
  EXPECT_EQ(r.entries[2].leaf_hash, leaves[4]);
  InMemoryTree reference(leaves);
  EXPECT_EQ(ledger_->head().root, reference.Root());
  Hash chain{};
  for (size_t i = 0; i < leaves.size(); ++i) {
    absl::StatusOr<Entry> e = DecodeEntry(*ledger_->GetEntry(i));
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_EQ(e->prev_chain_hash, chain) << "entry " << i;
    chain = ChainHash(chain, leaves[i]);
  }
  EXPECT_EQ(ledger_->head().chain_hash, chain);
}

TEST_F(LedgerTest, EntriesCarryTheirBatchSignatureAndVerifyOffline) {
  AppendResult r = AppendOne(
      Batch({Annotation(1), Annotation(2), Annotation(3)}, emitter_key_));
  ASSERT_TRUE(r.status.ok());
  absl::StatusOr<Entry> e = DecodeEntry(*ledger_->GetEntry(3));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->emitter.batch_size, 3u);
  EXPECT_EQ(e->emitter.batch_index, 1u);
  EXPECT_TRUE(VerifyEntrySignature(*e, emitter_key_.public_key()).ok());
  EXPECT_FALSE(VerifyEntrySignature(*e, node_key_.public_key()).ok());
}

TEST_F(LedgerTest, BackLinksFollowEachSubject) {
  ASSERT_TRUE(
      AppendOne(Batch({Annotation(1, "item:a")}, emitter_key_)).status.ok());
  ASSERT_TRUE(
      AppendOne(Batch({Annotation(2, "item:b"), Annotation(3, "item:a")},
                      emitter_key_))
          .status.ok());
  absl::StatusOr<Entry> e = DecodeEntry(*ledger_->GetEntry(4));
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->back_links.size(), 2u);
  EXPECT_EQ(e->back_links[0].kind, LinkKind::kActor);
  EXPECT_EQ(e->back_links[0].previous, 3u);  // same actor, previous entry
  EXPECT_EQ(e->back_links[1].kind, LinkKind::kItem);
  EXPECT_EQ(e->back_links[1].id, "item:a");
  EXPECT_EQ(e->back_links[1].previous, 2u);
  absl::StatusOr<Entry> first = DecodeEntry(*ledger_->GetEntry(2));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->back_links[1].previous, kNoPrevious);
  // The links survive a restart (they are read from subject_heads).
  ASSERT_TRUE(Reopen().ok());
  ASSERT_TRUE(
      AppendOne(Batch({Annotation(4, "item:b")}, emitter_key_)).status.ok());
  absl::StatusOr<Entry> last = DecodeEntry(*ledger_->GetEntry(5));
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->back_links[1].previous, 3u);
}

TEST_F(LedgerTest, SameEventTwiceIsAcknowledgedWithTheOriginalIndex) {
  AppendResult first = AppendOne(Batch({Annotation(1)}, emitter_key_));
  ASSERT_TRUE(first.status.ok());
  AppendResult again = AppendOne(
      Batch({Annotation(1), Annotation(2)}, emitter_key_), kNewYear2026Ns + 5);
  ASSERT_TRUE(again.status.ok()) << again.status;
  EXPECT_TRUE(again.entries[0].duplicate);
  EXPECT_EQ(again.entries[0].index, first.entries[0].index);
  EXPECT_EQ(again.entries[0].leaf_hash, first.entries[0].leaf_hash);
  EXPECT_EQ(again.entries[0].received_at_ns, first.entries[0].received_at_ns);
  EXPECT_FALSE(again.entries[1].duplicate);
  EXPECT_EQ(ledger_->head().size, 4u);
}

TEST_F(LedgerTest, SameIdWithOtherContentIsRejectedAndStoresNothing) {
  ASSERT_TRUE(AppendOne(Batch({Annotation(1)}, emitter_key_)).status.ok());
  const Head before = ledger_->head();
  Event changed = Annotation(1);
  changed.project = "other";
  AppendResult r = AppendOne(Batch({Annotation(2), changed}, emitter_key_));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(r.status.message().find("events[1]"), std::string::npos)
      << r.status;
  EXPECT_NE(r.status.message().find("index 2"), std::string::npos) << r.status;
  EXPECT_EQ(ledger_->head(), before);
  EXPECT_FALSE(
      ledger_->FindEvent(kTenant, Annotation(2).event_id)->has_value());
}

TEST_F(LedgerTest, DuplicatesInsideOneGroup) {
  Event changed = Annotation(1);
  changed.project = "other";
  VerifiedBatch a = Batch({Annotation(1), Annotation(1)}, emitter_key_);
  VerifiedBatch b = Batch({Annotation(1)}, emitter_key_);
  VerifiedBatch c = Batch({changed}, emitter_key_);
  const VerifiedBatch* batches[] = {&a, &b, &c};
  GroupResult g = ledger_->Append(batches, kNewYear2026Ns);
  ASSERT_TRUE(g.status.ok()) << g.status;
  std::vector<AppendResult>& r = g.batches;
  ASSERT_TRUE(r[0].status.ok()) << r[0].status;
  EXPECT_FALSE(r[0].entries[0].duplicate);
  EXPECT_TRUE(r[0].entries[1].duplicate);
  EXPECT_EQ(r[0].entries[1].index, r[0].entries[0].index);
  ASSERT_TRUE(r[1].status.ok()) << r[1].status;
  EXPECT_TRUE(r[1].entries[0].duplicate);
  EXPECT_EQ(r[1].entries[0].leaf_hash, r[0].entries[0].leaf_hash);
  EXPECT_EQ(r[2].status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ledger_->head().size, 3u);
}

TEST_F(LedgerTest, AFailedBatchDoesNotStopTheOthersInItsGroup) {
  crypto::Ed25519PrivateKey stranger =
      crypto::Ed25519PrivateKey::FromSeed(testing::SeedFrom(0x90));
  VerifiedBatch good1 = Batch({Annotation(1)}, emitter_key_);
  VerifiedBatch bad = Batch({Annotation(2)}, stranger);
  VerifiedBatch good2 = Batch({Annotation(3)}, emitter_key_);
  const VerifiedBatch* batches[] = {&good1, &bad, &good2};
  GroupResult g = ledger_->Append(batches, kNewYear2026Ns);
  ASSERT_TRUE(g.status.ok()) << g.status;
  std::vector<AppendResult>& r = g.batches;
  EXPECT_TRUE(r[0].status.ok());
  EXPECT_EQ(r[1].status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(r[1].status.message().find("not registered"), std::string::npos);
  EXPECT_TRUE(r[1].entries.empty());
  ASSERT_TRUE(r[2].status.ok());
  EXPECT_EQ(r[2].entries[0].index, 3u);
}

TEST_F(LedgerTest, EmitterKeysAreConfinedToTheirTenantAndToEmitterTypes) {
  Event other = Annotation(1);
  other.tenant = "someone-else";
  AppendResult r = AppendOne(Batch({other}, emitter_key_));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(r.status.message().find("events[0].tenant"), std::string::npos);
  Event internal = Annotation(2);
  internal.type = "grade.propagated";
  r = AppendOne(Batch({internal}, emitter_key_));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ledger_->head().size, 2u);
}

TEST_F(LedgerTest, RevokedAndExpiredKeysCannotSign) {
  KeyInfo info = *ledger_->keys().Find(KeyIdOf(emitter_key_.public_key()));
  Event revoke = KeyRevokedEvent(info, "laptop stolen");
  revoke.event_id = testing::UuidOf("00000000-0000-4000-8000-0000000000bb");
  revoke.occurred_at_ns = kNewYear2026Ns;
  revoke.producer = "annotation-ledger/test";
  revoke.actor = {ActorKind::kService, "admin", "admin"};
  ASSERT_TRUE(
      AppendOne(Batch({revoke}, node_key_), kNewYear2026Ns + 100).status.ok());
  AppendResult r =
      AppendOne(Batch({Annotation(1)}, emitter_key_), kNewYear2026Ns + 200);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(r.status.message().find("revoked"), std::string::npos);
  // The revocation survives a restart (rebuilt from the entries).
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(ledger_->keys().Find(info.key_id)->revoked_at_ns,
            kNewYear2026Ns + 100);
  r = AppendOne(Batch({Annotation(1)}, emitter_key_), kNewYear2026Ns + 300);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnauthenticated);
}

// FORMAT.md section 7: back-link chains are per (tenant, kind, id).
TEST_F(LedgerTest, BackLinksAreScopedByTenant) {
  const crypto::Ed25519PrivateKey beta_key =
      crypto::Ed25519PrivateKey::FromSeed(testing::SeedFrom(0x61));
  KeyInfo info;
  info.public_key = beta_key.public_key();
  info.name = "beta-platform";
  info.tenant = "beta";
  info.role = KeyRole::kEmitter;
  Event reg = KeyRegisteredEvent(info);
  reg.event_id = testing::UuidOf("00000000-0000-4000-8000-0000000000dd");
  reg.occurred_at_ns = kNewYear2026Ns;
  reg.producer = "annotation-ledger/test";
  reg.actor = {ActorKind::kService, "admin", "admin"};
  ASSERT_TRUE(AppendOne(Batch({reg}, node_key_)).status.ok());  // entry 2
  ASSERT_TRUE(
      AppendOne(Batch({Annotation(1, "item:a")}, emitter_key_)).status.ok());
  // The same actor and item ids in another tenant start chains of their own.
  Event beta = Annotation(2, "item:a");
  beta.tenant = "beta";
  ASSERT_TRUE(AppendOne(Batch({beta}, beta_key)).status.ok());  // entry 4
  ASSERT_TRUE(
      AppendOne(Batch({Annotation(3, "item:a")}, emitter_key_)).status.ok());
  absl::StatusOr<Entry> in_beta = DecodeEntry(*ledger_->GetEntry(4));
  ASSERT_TRUE(in_beta.ok());
  ASSERT_EQ(in_beta->back_links.size(), 2u);
  EXPECT_EQ(in_beta->back_links[0].previous, kNoPrevious);  // actor user:7
  EXPECT_EQ(in_beta->back_links[1].previous, kNoPrevious);  // item:a
  absl::StatusOr<Entry> in_acme = DecodeEntry(*ledger_->GetEntry(5));
  ASSERT_TRUE(in_acme.ok());
  ASSERT_EQ(in_acme->back_links.size(), 2u);
  EXPECT_EQ(in_acme->back_links[0].previous, 3u);
  EXPECT_EQ(in_acme->back_links[1].previous, 3u);
}

// The documented key events (FORMAT.md sections 11.7 and 11.8) are what
// KeyRegisteredEvent writes, and a registered cosigner key signs nothing.
TEST_F(LedgerTest, DocumentedKeyEventsAndTheCosignerRole) {
  for (const Event& documented :
       {testing::GenesisEvent(), testing::CosignerEvent()}) {
    absl::StatusOr<KeyInfo> info = KeyInfoFromRegistration(documented);
    ASSERT_TRUE(info.ok()) << info.status();
    const Event written = KeyRegisteredEvent(*info);
    EXPECT_EQ(written.tenant, documented.tenant);
    EXPECT_EQ(written.attributes, documented.attributes);
  }
  absl::StatusOr<KeyInfo> cosigner =
      KeyInfoFromRegistration(testing::CosignerEvent());
  ASSERT_TRUE(cosigner.ok());
  EXPECT_EQ(cosigner->role, KeyRole::kCosigner);
  EXPECT_EQ(cosigner->name, testing::kExampleCosignerName);
  EXPECT_EQ(cosigner->tenant, "");

  ASSERT_TRUE(
      AppendOne(Batch({testing::CosignerEvent()}, node_key_)).status.ok());
  std::optional<KeyInfo> stored = ledger_->keys().Find(cosigner->key_id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->role, KeyRole::kCosigner);
  EXPECT_EQ(stored->registered_at, 2u);
  Event internal = testing::CosignerEvent();
  internal.event_id = testing::UuidOf("00000000-0000-4000-8000-0000000000ee");
  for (const Event& e : {Annotation(1), internal}) {
    AppendResult r =
        AppendOne(Batch({e}, testing::CosignerKey()), kNewYear2026Ns + 10'000);
    EXPECT_EQ(r.status.code(), absl::StatusCode::kPermissionDenied) << r.status;
  }
  EXPECT_EQ(ledger_->head().size, 3u);
}

TEST_F(LedgerTest, KeysCannotBeRegisteredTwiceOrByEmitters) {
  KeyInfo info = *ledger_->keys().Find(KeyIdOf(emitter_key_.public_key()));
  Event again = KeyRegisteredEvent(info);
  again.event_id = testing::UuidOf("00000000-0000-4000-8000-0000000000cc");
  again.occurred_at_ns = kNewYear2026Ns;
  again.producer = "p";
  again.actor = {ActorKind::kService, "admin", ""};
  EXPECT_EQ(AppendOne(Batch({again}, node_key_)).status.code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(AppendOne(Batch({again}, emitter_key_)).status.code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(LedgerTest, ProofsVerifyAgainstRootsAtEverySize) {
  for (int b = 0; b < 6; ++b) {
    std::vector<Event> events;
    for (int i = 0; i < 7; ++i) events.push_back(Annotation(b * 10 + i));
    ASSERT_TRUE(AppendOne(Batch(events, emitter_key_)).status.ok());
  }
  std::vector<Hash> leaves = Leaves();
  const uint64_t n = leaves.size();
  ASSERT_EQ(n, 44u);
  std::vector<Hash> roots(n + 1);
  for (uint64_t size = 1; size <= n; ++size) {
    absl::StatusOr<Hash> root = ledger_->RootAt(size);
    ASSERT_TRUE(root.ok()) << root.status();
    roots[size] = *root;
    EXPECT_EQ(*root,
              InMemoryTree(absl::MakeSpan(leaves).subspan(0, size)).Root());
    for (uint64_t i = 0; i < size; ++i) {
      absl::StatusOr<std::vector<Hash>> proof =
          ledger_->InclusionProof(i, size);
      ASSERT_TRUE(proof.ok()) << proof.status();
      EXPECT_TRUE(VerifyInclusion(leaves[i], i, size, *proof, *root).ok());
    }
  }
  for (uint64_t m = 1; m <= n; ++m) {
    for (uint64_t size = m; size <= n; ++size) {
      absl::StatusOr<std::vector<Hash>> proof =
          ledger_->ConsistencyProof(m, size);
      ASSERT_TRUE(proof.ok());
      EXPECT_TRUE(
          VerifyConsistency(m, size, *proof, roots[m], roots[size]).ok());
    }
  }
  EXPECT_EQ(ledger_->InclusionProof(0, n + 1).status().code(),
            absl::StatusCode::kOutOfRange);
}

TEST_F(LedgerTest, CheckpointsAreStoredInOrderAndFoundBySize) {
  EXPECT_FALSE(ledger_->LatestCheckpoint().has_value());
  EXPECT_EQ(Checkpoint(), 0u);
  ASSERT_TRUE(AppendOne(Batch({Annotation(1)}, emitter_key_)).status.ok());
  EXPECT_EQ(Checkpoint(1767225601), 1u);
  EXPECT_EQ(Checkpoint(1767225602), 2u);  // empty interval: same size
  std::optional<StoredCheckpoint> latest = ledger_->LatestCheckpoint();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->sequence, 2u);
  EXPECT_EQ(latest->size, 3u);
  auto covering = ledger_->CheckpointCovering(3);
  ASSERT_TRUE(covering.ok() && covering->has_value());
  EXPECT_EQ((*covering)->sequence, 1u);
  covering = ledger_->CheckpointCovering(1);
  EXPECT_EQ((*covering)->sequence, 0u);
  EXPECT_FALSE(ledger_->CheckpointCovering(4)->has_value());
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(ledger_->LatestCheckpoint()->sequence, 2u);
  EXPECT_EQ(ledger_->GetCheckpoint(0)->note, (*covering)->note);
}

TEST_F(LedgerTest, StoreCheckpointRejectsWrongRootsAndUnsignedNotes) {
  const Head head = ledger_->head();
  std::string text = FormatCheckpointBody(
      ledger::Checkpoint{testing::kOrigin, head.size, Hash{}, {}});
  const crypto::NoteSigner* signers[] = {&log_signer_};
  EXPECT_EQ(ledger_->StoreCheckpoint(crypto::SignNote(text, signers, 1))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  crypto::NoteSigner stranger(testing::kOrigin, crypto::NoteSigType::kEd25519,
                              crypto::Ed25519PrivateKey::Generate());
  const crypto::NoteSigner* bad[] = {&stranger};
  text = FormatCheckpointBody(
      ledger::Checkpoint{testing::kOrigin, head.size, head.root, {}});
  EXPECT_FALSE(ledger_->StoreCheckpoint(crypto::SignNote(text, bad, 1)).ok());
  EXPECT_FALSE(ledger_->LatestCheckpoint().has_value());
}

TEST_F(LedgerTest, ReopenRestoresTheSameHeadAndKeys) {
  ASSERT_TRUE(AppendOne(Batch({Annotation(1), Annotation(2)}, emitter_key_))
                  .status.ok());
  Checkpoint();
  ASSERT_TRUE(AppendOne(Batch({Annotation(3)}, emitter_key_)).status.ok());
  const Head before = ledger_->head();
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(ledger_->head(), before);
  EXPECT_EQ(ledger_->keys().size(), 2u);
  ASSERT_TRUE(AppendOne(Batch({Annotation(4)}, emitter_key_)).status.ok());
  EXPECT_EQ(ledger_->head().size, before.size + 1);
  auto found = ledger_->FindEvent(kTenant, Annotation(4).event_id);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->index, before.size);
}

// The pipelined path: written groups build on each other but stay
// invisible to readers until Publish makes them durable.
TEST_F(LedgerTest, UnsyncedGroupsAreInvisibleUntilPublished) {
  const Head start = ledger_->head();
  VerifiedBatch first = Batch({Annotation(1, "item:a")}, emitter_key_);
  const VerifiedBatch* group1[] = {&first};
  GroupResult g1 = ledger_->AppendNoSync(group1, kNewYear2026Ns);
  ASSERT_TRUE(g1.status.ok()) << g1.status;
  std::vector<AppendResult>& r1 = g1.batches;
  ASSERT_TRUE(r1[0].status.ok()) << r1[0].status;
  const Head written1 = ledger_->written_head();
  EXPECT_EQ(written1.size, start.size + 1);
  EXPECT_EQ(ledger_->head(), start);
  EXPECT_EQ(ledger_->GetEntry(start.size).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_FALSE(
      ledger_->FindEvent(kTenant, Annotation(1).event_id)->has_value());

  // The next group sees the first: a duplicate of its event, and the
  // back-link to its subject.
  VerifiedBatch second =
      Batch({Annotation(1, "item:a"), Annotation(2, "item:a")}, emitter_key_);
  const VerifiedBatch* group2[] = {&second};
  GroupResult g2 = ledger_->AppendNoSync(group2, kNewYear2026Ns);
  ASSERT_TRUE(g2.status.ok()) << g2.status;
  std::vector<AppendResult>& r2 = g2.batches;
  ASSERT_TRUE(r2[0].status.ok()) << r2[0].status;
  EXPECT_TRUE(r2[0].entries[0].duplicate);
  EXPECT_EQ(r2[0].entries[0].index, start.size);
  EXPECT_EQ(r2[0].entries[1].index, start.size + 1);
  const Head written2 = ledger_->written_head();

  ASSERT_TRUE(ledger_->Publish(written1).ok());
  EXPECT_EQ(ledger_->head(), written1);
  EXPECT_TRUE(ledger_->GetEntry(start.size).ok());
  EXPECT_EQ(ledger_->GetEntry(start.size + 1).status().code(),
            absl::StatusCode::kOutOfRange);
  // Publishing backwards or beyond what was written is refused.
  EXPECT_EQ(ledger_->Publish(start).code(), absl::StatusCode::kInternal);
  Head beyond = written2;
  beyond.size += 1;
  EXPECT_EQ(ledger_->Publish(beyond).code(), absl::StatusCode::kInternal);

  ASSERT_TRUE(ledger_->Publish(written2).ok());
  EXPECT_EQ(ledger_->head(), written2);
  absl::StatusOr<Entry> e = DecodeEntry(*ledger_->GetEntry(start.size + 1));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->back_links[1].previous, start.size);
  EXPECT_EQ(Leaves().size(), written2.size);
  EXPECT_EQ(InMemoryTree(Leaves()).Root(), written2.root);

  // Durable: a reopened ledger (which re-verifies everything) has it all.
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(ledger_->head(), written2);
  EXPECT_EQ(ledger_->written_head(), written2);
}

TEST_F(LedgerTest, OpeningWithAnotherOriginFails) {
  ledger_.reset();
  LedgerOptions options = Options();
  options.origin = "other.test/log";
  auto l = Ledger::Open(dir_, options);
  EXPECT_EQ(l.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(LedgerTest, ReceivedAtNeverGoesBackwards) {
  AppendResult a =
      AppendOne(Batch({Annotation(1)}, emitter_key_), kNewYear2026Ns + 1000);
  AppendResult b =
      AppendOne(Batch({Annotation(2)}, emitter_key_), kNewYear2026Ns + 10);
  ASSERT_TRUE(a.status.ok() && b.status.ok());
  EXPECT_EQ(b.entries[0].received_at_ns, kNewYear2026Ns + 1000);
}

}  // namespace
}  // namespace ledger
