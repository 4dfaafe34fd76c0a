#include "tools/verify/test_ledger.h"

#include <cassert>
#include <cstdlib>
#include <iostream>

#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "crypto/sha256.h"
#include "ledger/batch.h"
#include "ledger/checkpoint.h"
#include "ledger/entry_keys.h"
#include "ledger/tlog_proof_extra.h"

namespace ledger::verify::testing {
namespace {

constexpr int64_t kBaseNs = 1'740'988'800'000'000'000;  // 2025-03-03

// Deterministic keys, different for every ledger origin.
crypto::Ed25519PrivateKey KeyFor(std::string_view what) {
  return crypto::Ed25519PrivateKey::FromSeed(crypto::Sha256Digest(what));
}

// Test setup cannot fail; if it does the ledger code is broken.
template <typename T>
T Must(absl::StatusOr<T> v, const char* what) {
  if (!v.ok()) {
    std::cerr << "TestLedger: " << what << ": " << v.status() << "\n";
    std::abort();
  }
  return *std::move(v);
}

}  // namespace

TestLedger::TestLedger(uint32_t size, std::string origin)
    : origin_(std::move(origin)),
      log_(origin_, crypto::NoteSigType::kEd25519, KeyFor(origin_ + "/log")),
      cosigner_("node-1", crypto::NoteSigType::kCosignatureV1,
                KeyFor(origin_ + "/node-1")),
      emitter_("emitter-acme", crypto::NoteSigType::kEd25519,
               KeyFor("emitter-acme")),
      emitter2_("emitter-acme-2", crypto::NoteSigType::kEd25519,
                KeyFor("emitter-acme-2")) {
  if (size > 0) AppendBatch(size);
}

Event TestLedger::MakeEvent(uint64_t n) {
  Event e;
  for (size_t i = 0; i < 8; ++i) {
    e.event_id[8 + i] = static_cast<uint8_t>(n >> (8 * (7 - i)));
  }
  e.event_id[6] = 0x40;
  e.event_id[8] |= 0x80;
  e.type = "annotation.created";
  e.schema_version = 1;
  e.occurred_at_ns = kBaseNs + static_cast<int64_t>(n) * 1'000'000'000;
  e.producer = "label-studio/1.12.1";
  e.tenant = "acme";
  e.project = "street-scenes";
  e.actor = {ActorKind::kHuman, "annotator-01", "annotator"};
  e.source = {"10.20.0.5", "sess-1", StrCat("req-", n)};
  const std::string item = StrCat("item-", n);
  e.subjects.push_back(
      {SubjectKind::kItem, item, "v1", crypto::Sha256Digest(item), 0});
  e.outputs.push_back({SubjectKind::kAnnotation, StrCat("anno-", n), "r1",
                       crypto::Sha256Digest(StrCat("anno-", n)), 0});
  e.outcome = {OutcomeStatus::kSuccess, ""};
  e.region = "cn-north-1";
  e.purpose = "annotation";
  e.attributes = {{"label_count", "3"}, {"task_id", StrCat("task-", n)}};
  return e;
}

void TestLedger::AppendBatch(uint32_t count) {
  std::vector<Event> events;
  std::vector<std::string> bytes;
  for (uint32_t i = 0; i < count; ++i) {
    events.push_back(MakeEvent(next_event_++));
    bytes.push_back(EncodeEvent(events.back()));
  }
  const crypto::NoteSigner& signer = second_ ? emitter2_ : emitter_;
  const crypto::Ed25519PublicKey& pub = signer.key().public_key();
  crypto::Ed25519Signature sig = SignBatch(signer.key(), bytes);
  VerifiedBatch batch = Must(
      VerifyBatch(std::move(events), KeyIdOf(pub), pub, sig, EventLimits{}),
      "VerifyBatch");
  for (uint32_t i = 0; i < count; ++i) {
    Entry e;
    e.index = size();
    e.received_at_ns = kBaseNs + static_cast<int64_t>(size()) * 1'000'000 + 7;
    e.event_bytes = batch.event_bytes()[i];
    e.emitter = batch.SignatureFor(i);
    e.risk = {RiskGrade::kLow, {"R4: training valid"}};
    e.policy_version = 1;
    e.prev_chain_hash = chain_;
    for (const auto& [kind, id] : SubjectKeys(batch.events()[i])) {
      e.back_links.push_back({kind, id, kNoPrevious});
    }
    AppendEntry(e);
  }
}

uint64_t TestLedger::AppendKeyEvent(Event event) {
  const uint64_t n = next_key_event_++;
  for (size_t i = 0; i < 8; ++i) {
    event.event_id[8 + i] = static_cast<uint8_t>(n >> (8 * (7 - i)));
  }
  event.event_id[0] = 0x6b;  // distinct from MakeEvent's ids
  event.event_id[6] = 0x40;
  event.event_id[8] |= 0x80;
  event.schema_version = 1;
  event.occurred_at_ns = kBaseNs + static_cast<int64_t>(size()) * 1'000'000;
  event.producer = "annotation-ledger/test";
  event.actor = {ActorKind::kService, "admin-1", "admin"};
  event.outcome = {OutcomeStatus::kSuccess, ""};
  const std::string bytes = EncodeEvent(event);
  const crypto::Ed25519PublicKey& pub = log_.key().public_key();
  crypto::Ed25519Signature sig = SignBatch(log_.key(), {bytes});
  std::vector<Event> events = {event};
  VerifiedBatch batch = Must(
      VerifyBatch(std::move(events), KeyIdOf(pub), pub, sig, EventLimits{}),
      "VerifyBatch of a key event");
  Entry e;
  e.index = size();
  e.received_at_ns = kBaseNs + static_cast<int64_t>(size()) * 1'000'000 + 7;
  e.event_bytes = batch.event_bytes()[0];
  e.emitter = batch.SignatureFor(0);
  e.prev_chain_hash = chain_;
  for (const auto& [kind, id] : SubjectKeys(batch.events()[0])) {
    e.back_links.push_back({kind, id, kNoPrevious});
  }
  AppendEntry(e);
  return e.index;
}

namespace {

KeyInfo EmitterInfo(const crypto::NoteSigner& signer, std::string producer) {
  KeyInfo info;
  info.public_key = signer.key().public_key();
  info.key_id = KeyIdOf(info.public_key);
  info.name = signer.name();
  info.tenant = "acme";
  info.producer = std::move(producer);
  info.role = KeyRole::kEmitter;
  return info;
}

}  // namespace

uint64_t TestLedger::RegisterEmitter(std::string producer) {
  KeyInfo info = EmitterInfo(emitter_, std::move(producer));
  info.valid_from_ns = kBaseNs;
  return AppendKeyEvent(KeyRegisteredEvent(info));
}

uint64_t TestLedger::RotateEmitter() {
  return AppendKeyEvent(KeyRotatedEvent(EmitterInfo(emitter_, "label-studio"),
                                        EmitterInfo(emitter2_, ""),
                                        "scheduled rotation"));
}

uint64_t TestLedger::RevokeEmitter(std::string reason) {
  return AppendKeyEvent(KeyRevokedEvent(
      EmitterInfo(second_ ? emitter2_ : emitter_, "label-studio"), reason));
}

TlogProof TestLedger::ProofWithKeys(uint64_t index, uint64_t size,
                                    const std::vector<uint64_t>& key_indexes) {
  TlogProof proof = Proof(index, size);
  ReceiptExtra extra{bytes_[index], {}};
  for (uint64_t k : key_indexes) {
    extra.key_entries.push_back(
        {k, bytes_[k],
         Must(InclusionProof(tree_, k, size), "InclusionProof of a key")});
  }
  proof.extra = EncodeReceiptExtra(extra);
  return proof;
}

Entry TestLedger::NextEntry() {
  TestLedger scratch(0, origin_);
  scratch.next_event_ = next_event_;
  scratch.AppendBatch(1);
  ++next_event_;
  Entry e = scratch.entries_.front();
  e.index = size();
  e.prev_chain_hash = chain_;
  return e;
}

Entry TestLedger::NextEntryWithEvent(const Event& event) {
  Entry e;
  e.index = size();
  e.received_at_ns = kBaseNs + static_cast<int64_t>(size()) * 1'000'000 + 7;
  e.event_bytes = EncodeEvent(event);
  const std::string bytes[] = {e.event_bytes};
  e.emitter.key_id = KeyIdOf(emitter_.key().public_key());
  e.emitter.batch_root = crypto::HashLeaf(e.event_bytes);
  e.emitter.signature = SignBatch(emitter_.key(), bytes);
  e.prev_chain_hash = chain_;
  for (const auto& [kind, id] : SubjectKeys(event)) {
    e.back_links.push_back({kind, id, kNoPrevious});
  }
  return e;
}

void TestLedger::AppendEntry(const Entry& entry) {
  entries_.push_back(entry);
  AppendLeafBytes(EncodeEntry(entry));
}

void TestLedger::AppendLeaf(std::string bytes) {
  entries_.emplace_back();
  AppendLeafBytes(std::move(bytes));
}

void TestLedger::AppendLeafBytes(std::string bytes) {
  bytes_.push_back(std::move(bytes));
  const Hash leaf = crypto::HashLeaf(bytes_.back());
  tree_.Append(leaf);
  chain_ = ChainHash(chain_, leaf);
}

std::string TestLedger::LogKeys() const {
  return StrCat(crypto::FormatVerifierKey(log_.verifier()), "\n",
                crypto::FormatVerifierKey(cosigner_.verifier()), "\n");
}

std::string TestLedger::EmitterKeys() const {
  return StrCat(crypto::FormatVerifierKey(emitter_.verifier()), "\n");
}

std::vector<crypto::NoteVerifier> TestLedger::log_verifiers() const {
  return {log_.verifier(), cosigner_.verifier()};
}

std::vector<crypto::NoteVerifier> TestLedger::emitter_verifiers() const {
  return {emitter_.verifier()};
}

std::string TestLedger::Checkpoint(uint64_t size) {
  ledger::Checkpoint cp;
  cp.origin = origin_;
  cp.size = size;
  cp.root = Must(RootAt(tree_, size), "RootAt");
  const crypto::NoteSigner* signers[] = {&log_, &cosigner_};
  return crypto::SignNote(FormatCheckpointBody(cp), signers,
                          1'740'988'800 + size);
}

TlogProof TestLedger::Proof(uint64_t index, uint64_t size) {
  TlogProof proof;
  proof.extra = bytes_[index];
  proof.index = index;
  proof.proof = Must(InclusionProof(tree_, index, size), "InclusionProof");
  proof.checkpoint = Checkpoint(size);
  return proof;
}

std::vector<Hash> TestLedger::Consistency(uint64_t old_size,
                                          uint64_t new_size) {
  return Must(ConsistencyProof(tree_, old_size, new_size), "ConsistencyProof");
}

}  // namespace ledger::verify::testing
