#pragma once

// Test fixtures for the canonical formats: the example events and keys of
// ledger/FORMAT.md, "Test vectors". Header-only; for tests only. Changing a
// value here changes the vectors, which format_vectors_test then reports.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/ed25519.h"
#include "crypto/sha256.h"
#include "ledger/entry.h"
#include "ledger/event.h"

namespace ledger::format_testing {

// 32 bytes first, first + 1, ..., first + 31.
inline crypto::Ed25519Seed SeedFrom(uint8_t first) {
  crypto::Ed25519Seed seed;
  for (size_t i = 0; i < seed.size(); ++i) {
    seed[i] = static_cast<uint8_t>(first + i);
  }
  return seed;
}

// Seed 0x01..0x20.
inline crypto::Ed25519PrivateKey EmitterKey() {
  return crypto::Ed25519PrivateKey::FromSeed(SeedFrom(0x01));
}
// Seed 0x21..0x40.
inline crypto::Ed25519PrivateKey NodeKey() {
  return crypto::Ed25519PrivateKey::FromSeed(SeedFrom(0x21));
}
// Seed 0x41..0x60.
inline crypto::Ed25519PrivateKey CosignerKey() {
  return crypto::Ed25519PrivateKey::FromSeed(SeedFrom(0x41));
}

// The example log: its origin (of the form a node generates when none is
// configured), the node's name, and the note key names that follow from
// them: the log key is named after the origin, the cosigner key
// "<origin>/<node name>". The emitter key's name is its .pub file's.
inline constexpr char kExampleOrigin[] = "annotation-ledger.local/0a1b2c3d";
inline constexpr char kExampleNodeName[] = "node-1";
inline constexpr char kExampleCosignerName[] =
    "annotation-ledger.local/0a1b2c3d/node-1";
inline constexpr char kExampleEmitterName[] = "labelstudio";

inline Uuid UuidOf(std::string_view text) {
  absl::StatusOr<Uuid> u = ParseUuid(text);
  return u.ok() ? *u : Uuid{};
}

// A reference with only kind and id set.
inline SubjectRef Ref(SubjectKind kind, std::string id) {
  SubjectRef r;
  r.kind = kind;
  r.id = std::move(id);
  return r;
}

// 2026-01-01T00:00:00Z in nanoseconds.
inline constexpr int64_t kNewYear2026Ns = 1767225600'000000000;

// Every field set, two subjects with content hashes, UTF-8 and multi-line
// attribute values, a payload.
inline Event FullEvent() {
  Event e;
  e.event_id = UuidOf("0f8e3a52-7c1d-4b9e-a6f0-1d2c3b4a5968");
  e.type = "annotation.submitted";
  e.schema_version = 3;
  e.occurred_at_ns = kNewYear2026Ns + 123456789;
  e.producer = "label-studio/1.13.1";
  e.tenant = "acme-ai";
  e.project = "street-scenes";
  e.actor = {ActorKind::kHuman, "user:4711", "annotator"};
  e.on_behalf_of = "vendor:datacorp";
  e.source = {"203.0.113.7", "sess-9f2c", "req-000123"};
  e.subjects = {
      {SubjectKind::kItem, "item:street/000042", "v3",
       crypto::Sha256Digest("item 42"), 1},
      {SubjectKind::kAnnotation, "annotation:88731", "r2",
       crypto::Sha256Digest("annotation 88731 r2"), 0},
  };
  e.inputs = {{SubjectKind::kDataset, "dataset:street-raw", "2025-12",
               crypto::Sha256Digest("street-raw 2025-12"), 120000}};
  e.outputs = {{SubjectKind::kDataset, "dataset:street-labeled", "2026-01",
                std::nullopt, 1}};
  e.outcome = {OutcomeStatus::kFailure, "qa_locked"};
  e.region = "cn-north-1";
  e.purpose = "model-training";
  e.run_id = "run-2026-01-01-a";
  e.parent_run_id = "pipeline-77";
  e.attributes = {
      {"label", "car"},
      {"label.zh", "\xE6\xB1\xBD\xE8\xBD\xA6"},  // 汽车
      {"note", "occluded\tpartly\nsee frame 12"},
  };
  e.payload = std::string("\x00\x01\x02\x03\x04\x05\x06\x07", 8);
  return e;
}

// Only the required fields.
inline Event MinimalEvent() {
  Event e;
  e.event_id = UuidOf("00000000-0000-4000-8000-000000000001");
  e.type = "item.viewed";
  e.occurred_at_ns = kNewYear2026Ns;
  e.producer = "p";
  e.tenant = "t";
  e.actor = {ActorKind::kService, "svc", ""};
  return e;
}

// The third event of the example batch.
inline Event ReviewEvent() {
  Event e;
  e.event_id = UuidOf("00000000-0000-4000-8000-000000000002");
  e.type = "review.accepted";
  e.occurred_at_ns = kNewYear2026Ns + 60'000000000;
  e.producer = "label-studio/1.13.1";
  e.tenant = "acme-ai";
  e.project = "street-scenes";
  e.actor = {ActorKind::kHuman, "user:1001", "reviewer"};
  e.subjects = {{SubjectKind::kAnnotation, "annotation:88731", "r2",
                 crypto::Sha256Digest("annotation 88731 r2"), 0}};
  return e;
}

// The genesis event: the node key (NodeKey()) registering itself under the
// log's origin.
inline Event GenesisEvent() {
  const crypto::Ed25519PublicKey key = NodeKey().public_key();
  Event e;
  e.event_id = UuidOf("00000000-0000-4000-8000-000000000010");
  e.type = "key.registered";
  e.occurred_at_ns = kNewYear2026Ns;
  e.producer = "annotation-ledger/0.1.0";
  e.tenant = std::string(kLedgerTenant);
  e.actor = {ActorKind::kService, kExampleNodeName, "node"};
  e.attributes = {
      {"key.algorithm", "ed25519"},
      {"key.id", crypto::HexEncode(KeyIdOf(key))},
      {"key.name", kExampleOrigin},
      {"key.public_key", crypto::Base64Encode(key)},
      {"key.role", "node"},
      {"key.valid_from", std::to_string(kNewYear2026Ns)},
  };
  return e;
}

// The node registering its checkpoint cosigner key (CosignerKey()), the
// entry after genesis; signed by the node key.
inline Event CosignerEvent() {
  const crypto::Ed25519PublicKey key = CosignerKey().public_key();
  Event e;
  e.event_id = UuidOf("00000000-0000-4000-8000-000000000011");
  e.type = "key.registered";
  e.occurred_at_ns = kNewYear2026Ns + 2000;
  e.producer = "annotation-ledger/0.1.0";
  e.tenant = std::string(kLedgerTenant);
  e.actor = {ActorKind::kService, kExampleNodeName, "node"};
  e.attributes = {
      {"key.algorithm", "ed25519"},
      {"key.id", crypto::HexEncode(KeyIdOf(key))},
      {"key.name", kExampleCosignerName},
      {"key.public_key", crypto::Base64Encode(key)},
      {"key.role", "cosigner"},
      {"key.valid_from", std::to_string(kNewYear2026Ns + 2000)},
  };
  return e;
}

// Seed 0x61..0x80: the key the emitter key is rotated to.
inline crypto::Ed25519PrivateKey SecondEmitterKey() {
  return crypto::Ed25519PrivateKey::FromSeed(SeedFrom(0x61));
}
inline constexpr char kExampleSecondEmitterName[] = "labelstudio-2";

// The node registering the emitter key (EmitterKey(), "labelstudio") for
// tenant acme-ai and producer label-studio, at an admin's request: entry 2
// of the example log of FORMAT.md section 11.10.
inline Event RegistrationEvent() {
  const crypto::Ed25519PublicKey key = EmitterKey().public_key();
  Event e;
  e.event_id = UuidOf("00000000-0000-4000-8000-000000000012");
  e.type = "key.registered";
  e.occurred_at_ns = kNewYear2026Ns + 4000;
  e.producer = "annotation-ledger/0.1.0";
  e.tenant = "acme-ai";
  e.actor = {ActorKind::kService, "spiffe://annotation-ledger/admin/ops",
             "admin"};
  e.attributes = {
      {"key.algorithm", "ed25519"},
      {"key.id", crypto::HexEncode(KeyIdOf(key))},
      {"key.name", kExampleEmitterName},
      {"key.producer", "label-studio"},
      {"key.public_key", crypto::Base64Encode(key)},
      {"key.role", "emitter"},
      {"key.tenant", "acme-ai"},
      {"key.valid_from", std::to_string(kNewYear2026Ns)},
  };
  return e;
}

// The emitter key rotated to SecondEmitterKey(): entry 4 of the example
// log of FORMAT.md section 11.10.
inline Event RotationEvent() {
  const crypto::Ed25519PublicKey key = SecondEmitterKey().public_key();
  Event e;
  e.event_id = UuidOf("00000000-0000-4000-8000-000000000013");
  e.type = "key.rotated";
  e.occurred_at_ns = kNewYear2026Ns + 700'000000;
  e.producer = "annotation-ledger/0.1.0";
  e.tenant = "acme-ai";
  e.actor = {ActorKind::kService, "spiffe://annotation-ledger/admin/ops",
             "admin"};
  e.attributes = {
      {"key.id", crypto::HexEncode(KeyIdOf(EmitterKey().public_key()))},
      {"key.new.algorithm", "ed25519"},
      {"key.new.id", crypto::HexEncode(KeyIdOf(key))},
      {"key.new.name", kExampleSecondEmitterName},
      {"key.new.public_key", crypto::Base64Encode(key)},
      {"key.producer", "label-studio"},
      {"key.reason", "scheduled rotation"},
      {"key.tenant", "acme-ai"},
  };
  return e;
}

}  // namespace ledger::format_testing
