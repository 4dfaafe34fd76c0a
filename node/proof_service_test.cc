// Proofs and receipts through a real gRPC server, verified the way a
// regulator would: with nothing but the node's published keys.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/note.h"
#include "crypto/rfc6962.h"
#include "ledger/checkpoint.h"
#include "ledger/entry.h"
#include "ledger/merkle.h"
#include "ledger/tlog_proof.h"
#include "ledger/tlog_proof_extra.h"
#include "ledger/tlog_proof_keys.h"
#include "node/node_testing.h"

namespace ledger::node {
namespace {

using ::testing::HasSubstr;
using testing::MakeEventProto;
using testing::SignedBatch;

crypto::Hash ToHash(const std::string& bytes) {
  return *crypto::ToArray<crypto::kHashSize>(bytes, "hash");
}

std::vector<crypto::Hash> ToHashes(
    const google::protobuf::RepeatedPtrField<std::string>& bytes) {
  std::vector<crypto::Hash> out;
  for (const std::string& b : bytes) out.push_back(ToHash(b));
  return out;
}

class ProofServiceTest : public testing::NodeFixture {
 protected:
  void Configure(NodeConfig& config) override {
    config.checkpoint_interval = absl::Milliseconds(50);
  }
  void SetUp() override {
    NodeFixture::SetUp();
    RegisterKey(emitter_);
    v1::NodeInfo info;
    ASSERT_TRUE(admin_->GetNodeInfo(Context().get(), {}, &info).ok());
    origin_ = info.origin();
    for (const std::string& vkey : info.note_verifier_keys()) {
      absl::StatusOr<crypto::NoteVerifier> v = crypto::ParseVerifierKey(vkey);
      ASSERT_TRUE(v.ok()) << v.status();
      verifiers_.push_back(*v);
    }
  }

  // Appends `n` events numbered from `first`; returns their refs.
  std::vector<v1::EntryRef> AppendEvents(int first, int n) {
    std::vector<v1::Event> events;
    for (int i = 0; i < n; ++i)
      events.push_back(MakeEventProto(kTenant, first + i));
    v1::AppendBatchResponse response;
    grpc::Status s = ingest_->AppendBatch(
        Context().get(), SignedBatch(emitter_.key, events), &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {response.entries().begin(), response.entries().end()};
  }

  v1::Checkpoint CheckpointCovering(uint64_t size) {
    v1::GetCheckpointRequest request;
    request.set_min_size(size);
    v1::Checkpoint cp;
    grpc::Status s = proof_->GetCheckpoint(Context().get(), request, &cp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return cp;
  }

  ledger::VerifiedCheckpoint Open(const v1::Checkpoint& cp) {
    absl::StatusOr<ledger::VerifiedCheckpoint> opened =
        ledger::OpenCheckpoint(cp.note(), verifiers_, origin_);
    EXPECT_TRUE(opened.ok()) << opened.status();
    return opened.value_or(ledger::VerifiedCheckpoint{});
  }

  std::string origin_;
  std::vector<crypto::NoteVerifier> verifiers_;
};

TEST_F(ProofServiceTest, ReceiptVerifiesOfflineWithTheNodeKeys) {
  std::vector<v1::EntryRef> refs = AppendEvents(1, 5);
  const uint64_t index = refs[3].index();
  v1::GetReceiptRequest request;
  request.set_index(index);
  v1::Receipt receipt;
  grpc::Status s = proof_->GetReceipt(Context().get(), request, &receipt);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(receipt.index(), index);
  EXPECT_EQ(receipt.entry(), *node_->ledger().GetEntry(index));
  EXPECT_EQ(ToHash(refs[3].leaf_hash()), crypto::HashLeaf(receipt.entry()));

  // The c2sp tlog-proof text on its own.
  absl::StatusOr<ledger::TlogProof> tlog =
      ledger::ParseTlogProof(receipt.tlog_proof());
  ASSERT_TRUE(tlog.ok()) << tlog.status();
  EXPECT_EQ(tlog->extra, receipt.entry());
  absl::StatusOr<ledger::VerifiedTlogProof> verified = ledger::VerifyTlogProof(
      *tlog, verifiers_, crypto::HashLeaf(receipt.entry()), origin_);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->index, index);
  EXPECT_EQ(verified->checkpoint.signatures.size(), 2u);

  // The structured fields agree with it.
  ledger::VerifiedCheckpoint cp = Open(receipt.checkpoint());
  EXPECT_GT(cp.checkpoint.size, index);
  EXPECT_EQ(receipt.proof().tree_size(), cp.checkpoint.size);
  EXPECT_TRUE(ledger::VerifyInclusion(
                  crypto::HashLeaf(receipt.entry()), index, cp.checkpoint.size,
                  ToHashes(receipt.proof().hashes()), cp.checkpoint.root)
                  .ok());

  // A changed entry no longer verifies.
  ledger::TlogProof tampered = *tlog;
  (*tampered.extra)[10] ^= 1;
  EXPECT_EQ(ledger::VerifyTlogProof(tampered, verifiers_, std::nullopt, origin_)
                .status()
                .code(),
            absl::StatusCode::kDataLoss);
}

// FORMAT.md 10.5: with key_evidence the receipt carries the signing key's
// registration (and rotation), proven in the same checkpoint; a verifier
// holding only the log's keys learns the key's tenant and producer.
TEST_F(ProofServiceTest, ReceiptWithKeyEvidenceProvesTheKeysRegistration) {
  const uint64_t registered = LedgerSize() - 1;  // RegisterKey in SetUp
  std::vector<v1::EntryRef> refs = AppendEvents(1, 2);
  const auto receipt_of = [&](uint64_t index) {
    v1::GetReceiptRequest request;
    request.set_index(index);
    request.set_key_evidence(true);
    v1::Receipt receipt;
    grpc::Status s = proof_->GetReceipt(Context().get(), request, &receipt);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return receipt;
  };
  const auto evidence_of =
      [&](const v1::Receipt& receipt) -> absl::StatusOr<ledger::KeyEvidence> {
    absl::StatusOr<ledger::TlogProof> tlog =
        ledger::ParseTlogProof(receipt.tlog_proof());
    if (!tlog.ok()) return tlog.status();
    absl::StatusOr<ledger::VerifiedTlogProof> proven =
        ledger::VerifyTlogProof(*tlog, verifiers_, std::nullopt, origin_);
    if (!proven.ok()) return proven.status();
    absl::StatusOr<ledger::ReceiptExtra> extra =
        ledger::DecodeReceiptExtra(*tlog->extra);
    if (!extra.ok()) return extra.status();
    EXPECT_EQ(extra->entry, receipt.entry());
    absl::StatusOr<ledger::Entry> entry = ledger::DecodeEntry(extra->entry);
    if (!entry.ok()) return entry.status();
    absl::StatusOr<ledger::Event> event =
        ledger::DecodeEvent(entry->event_bytes);
    if (!event.ok()) return event.status();
    return ledger::VerifyKeyEvidence(*extra, proven->checkpoint.checkpoint,
                                     *entry, *event, verifiers_);
  };
  const v1::Receipt first = receipt_of(refs[0].index());
  absl::StatusOr<ledger::KeyEvidence> evidence = evidence_of(first);
  ASSERT_TRUE(evidence.ok()) << evidence.status();
  EXPECT_EQ(evidence->key.key_id, emitter_.key_id());
  EXPECT_EQ(evidence->key.registered_at, registered);
  EXPECT_EQ(evidence->key.tenant, kTenant);
  EXPECT_EQ(evidence->key.producer, "label-studio");
  EXPECT_EQ(evidence->registered_by_type, "key.registered");
  EXPECT_EQ(evidence->key_entries, 1u);

  // After a rotation: the new key's receipt carries both entries, the old
  // entry's receipt (its checkpoint predates the rotation) is unchanged.
  testing::EmitterKeyPair next("labelstudio-2", 0x61);
  v1::RotateEmitterKeyRequest rotate;
  rotate.set_key_id(std::string(crypto::AsView(emitter_.key_id())));
  rotate.set_new_verifier_key(next.vkey());
  v1::EntryRef rotated;
  grpc::Status s = admin_->RotateEmitterKey(Context().get(), rotate, &rotated);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::AppendBatchResponse appended;
  s = ingest_->AppendBatch(Context().get(),
                           SignedBatch(next.key, {MakeEventProto(kTenant, 10)}),
                           &appended);
  ASSERT_TRUE(s.ok()) << s.error_message();
  absl::StatusOr<ledger::KeyEvidence> by_new =
      evidence_of(receipt_of(appended.entries(0).index()));
  ASSERT_TRUE(by_new.ok()) << by_new.status();
  EXPECT_EQ(by_new->key.key_id, next.key_id());
  EXPECT_EQ(by_new->key.registered_at, rotated.index());
  EXPECT_EQ(by_new->key.rotated_from, emitter_.key_id());
  EXPECT_EQ(by_new->key_entries, 2u);
  EXPECT_EQ(receipt_of(refs[0].index()).tlog_proof(), first.tlog_proof());

  // An entry the node signed (the registration) carries no evidence.
  absl::StatusOr<ledger::TlogProof> node_signed =
      ledger::ParseTlogProof(receipt_of(registered).tlog_proof());
  ASSERT_TRUE(node_signed.ok());
  EXPECT_EQ(node_signed->extra, *node_->ledger().GetEntry(registered));
}

TEST_F(ProofServiceTest, ReceiptByEventKey) {
  std::vector<v1::EntryRef> refs = AppendEvents(1, 3);
  v1::GetReceiptRequest request;
  request.mutable_event()->set_tenant(kTenant);
  request.mutable_event()->set_event_id(refs[1].event_id());
  v1::Receipt receipt;
  grpc::Status s = proof_->GetReceipt(Context().get(), request, &receipt);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(receipt.index(), refs[1].index());
}

TEST_F(ProofServiceTest, ReceiptErrorsSayWhatIsWrong) {
  AppendEvents(1, 1);
  struct Case {
    v1::GetReceiptRequest request;
    grpc::StatusCode code;
    std::string fragment;
  };
  std::vector<Case> cases(5);
  cases[0].code = grpc::INVALID_ARGUMENT;
  cases[0].fragment = "set either index or event";
  cases[1].request.set_index(1'000'000);
  cases[1].code = grpc::OUT_OF_RANGE;
  cases[1].fragment = "past the end of the ledger";
  cases[2].request.mutable_event()->set_tenant(kTenant);
  cases[2].request.mutable_event()->set_event_id(
      "00000000-0000-4000-8000-00000000beef");
  cases[2].code = grpc::NOT_FOUND;
  cases[2].fragment = "no event 00000000-0000-4000-8000-00000000beef";
  cases[3].request.mutable_event()->set_tenant(kTenant);
  cases[3].request.mutable_event()->set_event_id("beef");
  cases[3].code = grpc::INVALID_ARGUMENT;
  cases[3].fragment = "event.event_id";
  cases[4].request.mutable_event()->set_event_id(
      "00000000-0000-4000-8000-000000000001");
  cases[4].code = grpc::INVALID_ARGUMENT;
  cases[4].fragment = "event.tenant";
  for (const Case& c : cases) {
    v1::Receipt receipt;
    grpc::Status s = proof_->GetReceipt(Context().get(), c.request, &receipt);
    EXPECT_EQ(s.error_code(), c.code) << c.fragment;
    EXPECT_THAT(s.error_message(), HasSubstr(c.fragment));
  }
}

TEST_F(ProofServiceTest, CheckpointCarriesSizeRootAndChainHash) {
  AppendEvents(1, 4);
  const ledger::Head head = node_->ledger().head();
  v1::Checkpoint cp = CheckpointCovering(head.size);
  ledger::VerifiedCheckpoint opened = Open(cp);
  EXPECT_EQ(cp.size(), opened.checkpoint.size);
  EXPECT_EQ(ToHash(cp.root_hash()), opened.checkpoint.root);
  if (cp.size() == head.size) {
    EXPECT_EQ(ToHash(cp.root_hash()), head.root);
    EXPECT_EQ(ToHash(cp.chain_hash()), head.chain_hash);
  }
  v1::Checkpoint latest;
  ASSERT_TRUE(proof_->GetCheckpoint(Context().get(), {}, &latest).ok());
  EXPECT_GE(latest.sequence(), cp.sequence());

  v1::GetCheckpointRequest too_far;
  too_far.set_min_size(head.size + 100);
  grpc::Status s = proof_->GetCheckpoint(Context().get(), too_far, &latest);
  EXPECT_EQ(s.error_code(), grpc::OUT_OF_RANGE);
  EXPECT_THAT(s.error_message(), HasSubstr("exceeds the ledger size"));
}

TEST_F(ProofServiceTest, InclusionProofAgainstTheLatestCheckpoint) {
  std::vector<v1::EntryRef> refs = AppendEvents(1, 6);
  v1::Checkpoint cp = CheckpointCovering(node_->ledger().head().size);
  v1::GetInclusionProofRequest request;
  request.set_index(refs[2].index());
  v1::InclusionProof proof;
  grpc::Status s = proof_->GetInclusionProof(Context().get(), request, &proof);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(proof.has_checkpoint());  // tree_size 0: the latest's size
  ledger::VerifiedCheckpoint opened = Open(proof.checkpoint());
  EXPECT_EQ(proof.tree_size(), opened.checkpoint.size);
  EXPECT_TRUE(ledger::VerifyInclusion(ToHash(refs[2].leaf_hash()),
                                      refs[2].index(), proof.tree_size(),
                                      ToHashes(proof.hashes()),
                                      opened.checkpoint.root)
                  .ok());

  request.set_tree_size(opened.checkpoint.size + 1);
  s = proof_->GetInclusionProof(Context().get(), request, &proof);
  EXPECT_EQ(s.error_code(), grpc::OUT_OF_RANGE);
  EXPECT_THAT(s.error_message(), HasSubstr("checkpointed sizes only"));
  request.set_index(opened.checkpoint.size);
  request.set_tree_size(0);
  s = proof_->GetInclusionProof(Context().get(), request, &proof);
  EXPECT_EQ(s.error_code(), grpc::OUT_OF_RANGE);
  EXPECT_THAT(s.error_message(), HasSubstr("is not in a tree of size"));
}

TEST_F(ProofServiceTest, ConsistencyProofBetweenCheckpoints) {
  AppendEvents(1, 3);
  ledger::VerifiedCheckpoint old_cp =
      Open(CheckpointCovering(node_->ledger().head().size));
  AppendEvents(100, 7);
  ledger::VerifiedCheckpoint new_cp =
      Open(CheckpointCovering(node_->ledger().head().size));
  v1::GetConsistencyProofRequest request;
  request.set_old_size(old_cp.checkpoint.size);
  v1::ConsistencyProof proof;
  grpc::Status s =
      proof_->GetConsistencyProof(Context().get(), request, &proof);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_GE(proof.new_size(), new_cp.checkpoint.size);
  ledger::VerifiedCheckpoint latest =
      Open(CheckpointCovering(proof.new_size()));
  ASSERT_EQ(latest.checkpoint.size, proof.new_size());
  EXPECT_TRUE(
      ledger::VerifyConsistency(old_cp.checkpoint.size, proof.new_size(),
                                ToHashes(proof.hashes()),
                                old_cp.checkpoint.root, latest.checkpoint.root)
          .ok());

  request.set_old_size(proof.new_size() + 1);
  request.set_new_size(proof.new_size());
  s = proof_->GetConsistencyProof(Context().get(), request, &proof);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("exceeds new_size"));
}

}  // namespace
}  // namespace ledger::node
