#pragma once

// A ledger in a temporary directory with a node key, a registered emitter
// key and helpers to sign batches. For tests only.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/note.h"
#include "ledger/batch.h"
#include "ledger/checkpoint.h"
#include "ledger/event_testing.h"
#include "ledger/ledger.h"

namespace ledger::testing {

using namespace ::ledger::format_testing;  // NOLINT: example keys/events

inline constexpr char kOrigin[] = "ledger.test/log";
inline constexpr char kTenant[] = "acme-ai";

// An annotation event with a fresh id numbered `n`.
inline Event Annotation(int n, std::string item = "item:1") {
  Event e = MinimalEvent();
  char id[40];
  std::snprintf(id, sizeof(id), "00000000-0000-4000-9000-%012d", n);
  e.event_id = UuidOf(id);
  e.type = "annotation.created";
  e.tenant = kTenant;
  e.actor = {ActorKind::kHuman, "user:7", "annotator"};
  e.subjects = {{SubjectKind::kItem, std::move(item), "", std::nullopt, 0}};
  return e;
}

#ifdef LEDGER_DEFAULT_POLICY
// The text of deploy/risk-policy.toml (targets that define the macro).
inline std::string DefaultPolicy() {
  std::ifstream in(LEDGER_DEFAULT_POLICY);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}
#endif

// A policy.changed event numbered `n` carrying the policy `text`; the node
// key signs it.
inline Event PolicyEvent(int n, std::string_view text) {
  Event e = Annotation(n);
  e.type = "policy.changed";
  e.tenant = std::string(kLedgerTenant);
  e.actor = {ActorKind::kService, "admin", "admin"};
  e.subjects.clear();
  e.attributes = risk::PolicyAttributes(text);
  return e;
}

// The key.registered event of `info` with the event id `event_id`, as an
// admin sends it; the node key signs it.
inline Event KeyRegistration(const KeyInfo& info, const char* event_id) {
  Event e = KeyRegisteredEvent(info);
  e.event_id = UuidOf(event_id);
  e.occurred_at_ns = kNewYear2026Ns;
  e.producer = "annotation-ledger/test";
  e.actor = {ActorKind::kService, "admin", "admin"};
  return e;
}

// Signs `events` as one batch with `key` and verifies it.
inline VerifiedBatch SignedBatch(std::vector<Event> events,
                                 const crypto::Ed25519PrivateKey& key) {
  std::vector<std::string> bytes;
  for (const Event& e : events) bytes.push_back(EncodeEvent(e));
  absl::StatusOr<VerifiedBatch> b =
      VerifyBatch(std::move(events), KeyIdOf(key.public_key()),
                  key.public_key(), SignBatch(key, bytes), EventLimits{});
  EXPECT_TRUE(b.ok()) << b.status();
  return *std::move(b);
}

// The registration of the example emitter key (EmitterKey()) as
// "labelstudio" of kTenant, as the fixtures append it after genesis.
inline Event EmitterRegistration() {
  KeyInfo info;
  info.public_key = EmitterKey().public_key();
  info.name = "labelstudio";
  info.tenant = kTenant;
  info.role = KeyRole::kEmitter;
  return KeyRegistration(info, "00000000-0000-4000-8000-0000000000aa");
}

class LedgerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ledger_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    absl::Status opened = Reopen();
    ASSERT_TRUE(opened.ok()) << opened;
    AppendGenesis();
    RegisterEmitter();
  }
  void TearDown() override {
    ledger_.reset();
    std::filesystem::remove_all(dir_);
  }

  LedgerOptions Options() const {
    LedgerOptions options;
    options.origin = kOrigin;
    options.checkpoint_verifiers = {log_signer_.verifier(),
                                    cosigner_.verifier()};
    options.node_key = node_key_;
    return options;
  }

  absl::Status Reopen() {
    ledger_.reset();
    absl::StatusOr<std::unique_ptr<Ledger>> l = Ledger::Open(dir_, Options());
    if (!l.ok()) return l.status();
    ledger_ = *std::move(l);
    return absl::OkStatus();
  }

  static VerifiedBatch Batch(std::vector<Event> events,
                             const crypto::Ed25519PrivateKey& key) {
    return SignedBatch(std::move(events), key);
  }

  // Appends one batch; a group failure comes back as the batch's status.
  AppendResult AppendOne(VerifiedBatch batch, int64_t t = kNewYear2026Ns) {
    const VerifiedBatch* batches[] = {&batch};
    GroupResult g = ledger_->Append(batches, t);
    if (!g.status.ok()) return AppendResult{g.status, {}};
    return g.batches[0];
  }

  void AppendGenesis() {
    AppendResult r = AppendOne(Batch({GenesisEvent()}, node_key_));
    ASSERT_TRUE(r.status.ok()) << r.status;
  }

  void RegisterEmitter() {
    AppendResult r = AppendOne(Batch({EmitterRegistration()}, node_key_));
    ASSERT_TRUE(r.status.ok()) << r.status;
  }

  // Signs and stores a checkpoint of the current head.
  uint64_t Checkpoint(uint64_t timestamp = 1767225600) {
    const Head head = ledger_->head();
    std::string text = FormatCheckpointBody(
        ledger::Checkpoint{kOrigin, head.size, head.root, {}});
    const crypto::NoteSigner* signers[] = {&log_signer_, &cosigner_};
    absl::StatusOr<uint64_t> seq =
        ledger_->StoreCheckpoint(crypto::SignNote(text, signers, timestamp));
    EXPECT_TRUE(seq.ok()) << seq.status();
    return seq.value_or(0);
  }

  std::string dir_;
  crypto::Ed25519PrivateKey node_key_ = NodeKey();
  crypto::Ed25519PrivateKey emitter_key_ = EmitterKey();
  crypto::NoteSigner log_signer_{kOrigin, crypto::NoteSigType::kEd25519,
                                 NodeKey()};
  crypto::NoteSigner cosigner_{
      std::string(kOrigin) + "/node-1", crypto::NoteSigType::kCosignatureV1,
      crypto::Ed25519PrivateKey::FromSeed(SeedFrom(0x41))};
  std::unique_ptr<Ledger> ledger_;
};

}  // namespace ledger::testing
