// Checks every test vector in ledger/FORMAT.md against the code, reading
// the document at test time so that it cannot drift from the code.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/strings.h"
#include "crypto/note.h"
#include "crypto/rfc6962.h"
#include "ledger/batch.h"
#include "ledger/checkpoint.h"
#include "ledger/entry.h"
#include "ledger/event.h"
#include "ledger/event_testing.h"
#include "ledger/merkle.h"
#include "ledger/payload.h"
#include "ledger/payload_testing.h"
#include "ledger/risk_engine.h"
#include "ledger/tlog_proof_extra.h"
#include "ledger/tlog_proof_keys.h"

namespace ledger {
namespace {

using ::ledger::format_testing::CosignerEvent;
using ::ledger::format_testing::CosignerKey;
using ::ledger::format_testing::EmitterKey;
using ::ledger::format_testing::FullEvent;
using ::ledger::format_testing::GenesisEvent;
using ::ledger::format_testing::kExampleCosignerName;
using ::ledger::format_testing::kExampleEmitterName;
using ::ledger::format_testing::kExampleNodeName;
using ::ledger::format_testing::kExampleOrigin;
using ::ledger::format_testing::kNewYear2026Ns;
using ::ledger::format_testing::MinimalEvent;
using ::ledger::format_testing::NodeKey;
using ::ledger::format_testing::RegistrationEvent;
using ::ledger::format_testing::ReviewEvent;
using ::ledger::format_testing::RotationEvent;
using ::ledger::format_testing::SecondEmitterKey;
using ::ledger::format_testing::SeedFrom;

std::filesystem::path FormatMdPath() {
#ifdef LEDGER_FORMAT_MD
  return LEDGER_FORMAT_MD;
#else
  // CMake compiles sources by absolute path, so __FILE__ locates the
  // source tree.
  return std::filesystem::path(__FILE__).parent_path() / "FORMAT.md";
#endif
}

std::string ReadFormatMd() {
  std::ifstream in(FormatMdPath(), std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// The `vector` blocks of FORMAT.md: name -> bytes. Syntax errors are test
// failures naming the line.
std::map<std::string, std::string> ParseVectors(const std::string& doc) {
  std::map<std::string, std::string> hex;
  bool in_block = false;
  std::string current;
  int line_no = 0;
  for (std::string_view line : Split(doc, '\n')) {
    ++line_no;
    if (!in_block) {
      in_block = Trim(line) == "```vector";
      current.clear();
      continue;
    }
    if (Trim(line) == "```") {
      in_block = false;
      continue;
    }
    line = line.substr(0, line.find('#'));
    if (Trim(line).empty()) continue;
    std::string_view value = line;
    if (size_t colon = line.find(':'); colon != std::string_view::npos) {
      current = std::string(Trim(line.substr(0, colon)));
      value = line.substr(colon + 1);
      EXPECT_FALSE(hex.contains(current))
          << "FORMAT.md line " << line_no << ": duplicate vector " << current;
      hex[current];
    } else {
      EXPECT_FALSE(current.empty())
          << "FORMAT.md line " << line_no << ": continuation without a name";
    }
    for (char c : value) {
      if (c != ' ' && c != '\t' && c != '\r') hex[current].push_back(c);
    }
  }
  EXPECT_FALSE(in_block) << "FORMAT.md: unterminated vector block";
  std::map<std::string, std::string> out;
  for (const auto& [name, h] : hex) {
    absl::StatusOr<std::string> bytes = crypto::HexDecode(h);
    EXPECT_TRUE(bytes.ok()) << "vector " << name << ": " << bytes.status();
    if (bytes.ok()) out[name] = *bytes;
  }
  return out;
}

std::string View(const Hash& h) { return std::string(crypto::AsView(h)); }

// A note key ID as its 4 big-endian bytes.
std::string KeyIdBytes(uint32_t id) {
  return {static_cast<char>(id >> 24), static_cast<char>(id >> 16),
          static_cast<char>(id >> 8), static_cast<char>(id)};
}

// The signers of the example checkpoint (section 11.9): the log key and the
// node's cosigner key.
crypto::NoteSigner LogSigner() {
  return crypto::NoteSigner(kExampleOrigin, crypto::NoteSigType::kEd25519,
                            NodeKey());
}
crypto::NoteSigner Cosigner() {
  return crypto::NoteSigner(kExampleCosignerName,
                            crypto::NoteSigType::kCosignatureV1, CosignerKey());
}

// Section 12.5: the multi-leaf proof of leaves {1, 4, 5} in the tree of
// the 7 one-byte leaves 00..06.
std::vector<Hash> Tree7Leaves() {
  std::vector<Hash> leaves;
  for (char i = 0; i < 7; ++i) leaves.push_back(crypto::HashLeaf({&i, 1}));
  return leaves;
}

void AddAnswerVectors(std::map<std::string, std::string>& v) {
  InMemoryTree tree(Tree7Leaves());
  v["answer.tree7.root"] = View(tree.Root());
  absl::StatusOr<std::vector<Hash>> proof =
      MultiInclusionProof(tree, std::vector<uint64_t>{1, 4, 5}, 7);
  EXPECT_TRUE(proof.ok()) << proof.status();
  std::string bytes;
  for (const Hash& h : proof.value_or(std::vector<Hash>{})) bytes += View(h);
  v["answer.tree7.proof_1_4_5"] = bytes;
  // Section 13: the attributes that carry a policy.
  const std::string policy = "name = \"v\"\n";
  for (const auto& [key, value] : risk::PolicyAttributes(policy)) {
    if (key == "policy.text.000") v["policy.example.text"] = value;
    if (key == "policy.sha256") {
      absl::StatusOr<std::string> raw = crypto::HexDecode(value);
      v["policy.example.sha256"] = raw.value_or("(not hex)");
    }
  }
  // Section 15: the grade.propagated event of an example propagation.
  risk::Propagation p;
  p.tenant = "t1";
  p.id = "out";
  p.version = "v1";
  p.record.index = 7;
  p.record.level = risk::Level::kImportant;
  p.record.flags = risk::kPi;
  p.record.basis = "propagated";
  p.record.propagated_from = {"src@v3"};
  p.record.evidence = {5, 7};
  p.cause_received_at_ns = kNewYear2026Ns;
  const Event e = risk::PropagationEvent(p);
  v["propagated.example.event_id"] =
      std::string(e.event_id.begin(), e.event_id.end());
  v["propagated.example.event"] = EncodeEvent(e);
}

// The example checkpoint's cosignature time: 2026-01-01T00:00:01Z.
constexpr uint64_t kCheckpointTime = 1767225601;

// A node-signed event as a batch of one, as the ledger verifies it.
absl::StatusOr<VerifiedBatch> NodeSigned(const Event& event) {
  const crypto::Ed25519PrivateKey node = NodeKey();
  return VerifyBatch({event}, KeyIdOf(node.public_key()), node.public_key(),
                     SignBatch(node, {EncodeEvent(event)}), {});
}

// The note verifier key of a registered key, rebuilt from its
// key.registered event as section 8.5 says: key.name, the type its role
// implies (0x04 for cosigner, 0x01 otherwise) and key.public_key.
absl::StatusOr<std::string> VerifierKeyOfRegistration(const Event& event) {
  std::map<std::string, std::string> attrs(event.attributes.begin(),
                                           event.attributes.end());
  absl::StatusOr<std::string> raw =
      crypto::Base64Decode(attrs["key.public_key"]);
  if (!raw.ok()) return raw.status();
  absl::StatusOr<crypto::Ed25519PublicKey> key =
      crypto::ToArray<crypto::kEd25519PublicKeySize>(*raw, "public key");
  if (!key.ok()) return key.status();
  crypto::NoteVerifier v;
  v.name = attrs["key.name"];
  v.type = attrs["key.role"] == "cosigner" ? crypto::NoteSigType::kCosignatureV1
                                           : crypto::NoteSigType::kEd25519;
  v.key = *key;
  v.key_id = crypto::NoteKeyId(v.name, v.type, v.key);
  return crypto::FormatVerifierKey(v);
}

// The example entry of FORMAT.md section 11.6.
Entry ExampleEntry(const VerifiedBatch& batch) {
  Entry e;
  e.index = 42;
  e.received_at_ns = kNewYear2026Ns + 500000000;
  e.event_bytes = batch.event_bytes()[0];
  e.emitter = batch.SignatureFor(0);
  e.risk = {RiskGrade::kHigh,
            {"R4: actor has no valid qualification",
             "R5: same actor annotated and reviewed"}};
  e.policy_version = 3;
  e.prev_chain_hash.fill(0x11);
  const uint64_t previous[] = {41, 17, kNoPrevious, 3, kNoPrevious};
  std::vector<std::pair<LinkKind, std::string>> keys =
      SubjectKeys(batch.events()[0]);
  for (size_t i = 0; i < keys.size() && i < std::size(previous); ++i) {
    e.back_links.push_back({keys[i].first, keys[i].second, previous[i]});
  }
  return e;
}

// The encrypted payload and key.erased vectors (sections 11.11, 11.12).
void AddPayloadVectors(std::map<std::string, std::string>& v) {
  namespace ft = format_testing;
  const Event full = FullEvent();
  v["payload.key"] = std::string(crypto::AsView(ft::ExamplePayloadKey()));
  v["payload.key_id"] = std::string(crypto::AsView(ft::ExamplePayloadKeyId()));
  v["payload.nonce"] = std::string(crypto::AsView(ft::ExamplePayloadNonce()));
  v["payload.plaintext"] = ft::kExamplePlaintext;
  v["payload.aad"] = PayloadAad(full.tenant, full.event_id);
  v["payload.bytes"] = ft::ExamplePayload();
  const std::string erased = EncodeEvent(ft::ErasedEvent());
  v["erased.event.bytes"] = erased;
  v["erased.event.leaf_hash"] = View(crypto::HashLeaf(erased));
}

// The time of the example key log's checkpoint: 2026-01-01T00:00:02Z.
constexpr uint64_t kKeyLogCheckpointTime = 1767225602;

// Section 11.10: the example log of section 11.9 continued with the emitter
// key's registration (entry 2), event.full signed by it alone (3) and its
// rotation (4): every entry's bytes, in index order.
absl::StatusOr<std::vector<std::string>> ExampleKeyLog(
    const std::string& genesis_entry, const std::string& cosigner_entry,
    const Hash& chain_1) {
  std::vector<std::string> out = {genesis_entry, cosigner_entry};
  Hash chain = chain_1;
  const std::string admin = RegistrationEvent().actor.id;
  const auto add = [&](const VerifiedBatch& batch, int64_t received_at_ns,
                       std::vector<BackLink> links) {
    Entry e;
    e.index = out.size();
    e.received_at_ns = received_at_ns;
    e.event_bytes = batch.event_bytes()[0];
    e.emitter = batch.SignatureFor(0);
    e.prev_chain_hash = chain;
    e.back_links = std::move(links);
    out.push_back(EncodeEntry(e));
    chain = ChainHash(chain, crypto::HashLeaf(out.back()));
  };
  absl::StatusOr<VerifiedBatch> reg = NodeSigned(RegistrationEvent());
  if (!reg.ok()) return reg.status();
  add(*reg, kNewYear2026Ns + 5000, {{LinkKind::kActor, admin, kNoPrevious}});
  const crypto::Ed25519PrivateKey emitter = EmitterKey();
  absl::StatusOr<VerifiedBatch> event = VerifyBatch(
      {FullEvent()}, KeyIdOf(emitter.public_key()), emitter.public_key(),
      SignBatch(emitter, {EncodeEvent(FullEvent())}), {});
  if (!event.ok()) return event.status();
  std::vector<BackLink> links;
  for (auto& [kind, id] : SubjectKeys(FullEvent())) {
    links.push_back({kind, id, kNoPrevious});
  }
  add(*event, kNewYear2026Ns + 600'000000, std::move(links));
  absl::StatusOr<VerifiedBatch> rotation = NodeSigned(RotationEvent());
  if (!rotation.ok()) return rotation.status();
  add(*rotation, kNewYear2026Ns + 700'001000, {{LinkKind::kActor, admin, 2}});
  return out;
}

class FormatVectorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    doc_ = ReadFormatMd();
    ASSERT_FALSE(doc_.empty()) << "cannot read " << FormatMdPath();
    vectors_ = ParseVectors(doc_);
  }

  // Every vector the code computes, by name.
  std::map<std::string, std::string> Computed() const {
    std::map<std::string, std::string> v;
    const crypto::Ed25519PrivateKey emitter = EmitterKey();
    const crypto::Ed25519PrivateKey node = NodeKey();
    v["emitter.seed"] = std::string(crypto::AsView(SeedFrom(0x01)));
    v["emitter.public_key"] = std::string(crypto::AsView(emitter.public_key()));
    v["emitter.key_id"] = View(KeyIdOf(emitter.public_key()));
    v["node.seed"] = std::string(crypto::AsView(SeedFrom(0x21)));
    v["node.public_key"] = std::string(crypto::AsView(node.public_key()));
    v["node.key_id"] = View(KeyIdOf(node.public_key()));
    const crypto::Ed25519PrivateKey cosigner = CosignerKey();
    v["cosigner.seed"] = std::string(crypto::AsView(SeedFrom(0x41)));
    v["cosigner.public_key"] =
        std::string(crypto::AsView(cosigner.public_key()));
    v["cosigner.key_id"] = View(KeyIdOf(cosigner.public_key()));
    const crypto::NoteSigner emitter_signer(
        kExampleEmitterName, crypto::NoteSigType::kEd25519, EmitterKey());
    const std::pair<const char*, const crypto::NoteSigner> note_keys[] = {
        {"emitter", emitter_signer},
        {"node", LogSigner()},
        {"cosigner", Cosigner()},
    };
    for (const auto& [name, signer] : note_keys) {
      v[StrCat(name, ".note_key_id")] = KeyIdBytes(signer.key_id());
      v[StrCat(name, ".vkey")] = crypto::FormatVerifierKey(signer.verifier());
    }
    v["emitter.skey"] = crypto::FormatSignerKey(emitter_signer);
    const std::pair<const char*, Event> events[] = {
        {"event.minimal", MinimalEvent()},   {"event.full", FullEvent()},
        {"event.review", ReviewEvent()},     {"genesis.event", GenesisEvent()},
        {"cosigner.event", CosignerEvent()},
    };
    for (const auto& [name, event] : events) {
      const std::string bytes = EncodeEvent(event);
      v[StrCat(name, ".bytes")] = bytes;
      v[StrCat(name, ".leaf_hash")] = View(crypto::HashLeaf(bytes));
    }
    const std::vector<std::string> batch_bytes = {EncodeEvent(FullEvent()),
                                                  EncodeEvent(MinimalEvent()),
                                                  EncodeEvent(ReviewEvent())};
    const crypto::Ed25519Signature sig = SignBatch(emitter, batch_bytes);
    absl::StatusOr<VerifiedBatch> batch = VerifyBatch(
        {FullEvent(), MinimalEvent(), ReviewEvent()},
        KeyIdOf(emitter.public_key()), emitter.public_key(), sig, {});
    EXPECT_TRUE(batch.ok()) << batch.status();
    if (!batch.ok()) return v;
    v["batch.root"] = View(batch->root());
    v["batch.message"] = BatchSignatureMessage(3, batch->root());
    v["batch.signature"] = std::string(crypto::AsView(sig));
    for (uint32_t i = 0; i < 3; ++i) {
      std::string path;
      for (const Hash& h : batch->SignatureFor(i).audit_path) path += View(h);
      v[StrCat("batch.audit_path.", i)] = path;
    }
    const Entry entry = ExampleEntry(*batch);
    const std::string entry_bytes = EncodeEntry(entry);
    const Hash leaf = crypto::HashLeaf(entry_bytes);
    v["entry.example.bytes"] = entry_bytes;
    v["entry.example.leaf_hash"] = View(leaf);
    v["entry.example.chain_hash"] =
        View(ChainHash(entry.prev_chain_hash, leaf));

    absl::StatusOr<VerifiedBatch> genesis = NodeSigned(GenesisEvent());
    EXPECT_TRUE(genesis.ok()) << genesis.status();
    if (!genesis.ok()) return v;
    Entry g;
    g.received_at_ns = kNewYear2026Ns + 1000;
    g.event_bytes = genesis->event_bytes()[0];
    g.emitter = genesis->SignatureFor(0);
    g.back_links = {{LinkKind::kActor, kExampleNodeName, kNoPrevious}};
    const std::string g_bytes = EncodeEntry(g);
    const Hash g_leaf = crypto::HashLeaf(g_bytes);
    const Hash g_chain = ChainHash(Hash{}, g_leaf);
    v["genesis.entry.bytes"] = g_bytes;
    v["genesis.entry.leaf_hash"] = View(g_leaf);
    v["genesis.entry.chain_hash"] = View(g_chain);

    absl::StatusOr<VerifiedBatch> cosigner_batch = NodeSigned(CosignerEvent());
    EXPECT_TRUE(cosigner_batch.ok()) << cosigner_batch.status();
    if (!cosigner_batch.ok()) return v;
    Entry c;
    c.index = 1;
    c.received_at_ns = kNewYear2026Ns + 3000;
    c.event_bytes = cosigner_batch->event_bytes()[0];
    c.emitter = cosigner_batch->SignatureFor(0);
    c.prev_chain_hash = g_chain;
    c.back_links = {{LinkKind::kActor, kExampleNodeName, 0}};
    const std::string c_bytes = EncodeEntry(c);
    const Hash c_leaf = crypto::HashLeaf(c_bytes);
    v["cosigner.entry.bytes"] = c_bytes;
    v["cosigner.entry.leaf_hash"] = View(c_leaf);
    v["cosigner.entry.chain_hash"] = View(ChainHash(g_chain, c_leaf));

    const Hash root = crypto::HashChildren(g_leaf, c_leaf);
    v["checkpoint.root"] = View(root);
    const crypto::NoteSigner log_signer = LogSigner();
    const crypto::NoteSigner cosigner_signer = Cosigner();
    const crypto::NoteSigner* signers[] = {&log_signer, &cosigner_signer};
    v["checkpoint.note"] = crypto::SignNote(
        FormatCheckpointBody(Checkpoint{kExampleOrigin, 2, root, {}}), signers,
        kCheckpointTime);

    for (const auto& [name, event] :
         {std::pair<const char*, Event>{"registration.event",
                                        RegistrationEvent()},
          std::pair<const char*, Event>{"rotation.event", RotationEvent()}}) {
      const std::string bytes = EncodeEvent(event);
      v[StrCat(name, ".bytes")] = bytes;
      v[StrCat(name, ".leaf_hash")] = View(crypto::HashLeaf(bytes));
    }
    v["second_emitter.key_id"] = View(KeyIdOf(SecondEmitterKey().public_key()));
    absl::StatusOr<std::vector<std::string>> log =
        ExampleKeyLog(g_bytes, c_bytes, ChainHash(g_chain, c_leaf));
    EXPECT_TRUE(log.ok()) << log.status();
    if (!log.ok()) return v;
    InMemoryTree tree;
    for (const std::string& e : *log) tree.Append(crypto::HashLeaf(e));
    const auto proof_of = [&](uint64_t i) {
      absl::StatusOr<std::vector<Hash>> p = InclusionProof(tree, i, 5);
      EXPECT_TRUE(p.ok()) << p.status();
      return p.value_or(std::vector<Hash>{});
    };
    v["keylog.entry3.leaf_hash"] = View(crypto::HashLeaf((*log)[3]));
    std::string path;
    for (const Hash& h : proof_of(3)) path += View(h);
    v["keylog.entry3.inclusion_proof"] = path;
    v["keylog.checkpoint.note"] = crypto::SignNote(
        FormatCheckpointBody(Checkpoint{kExampleOrigin, 5, tree.Root(), {}}),
        signers, kKeyLogCheckpointTime);
    v["keylog.receipt_extra"] = EncodeReceiptExtra(ReceiptExtra{
        (*log)[3], {{2, (*log)[2], proof_of(2)}, {4, (*log)[4], proof_of(4)}}});
    AddPayloadVectors(v);
    AddAnswerVectors(v);
    return v;
  }

  std::string doc_;
  std::map<std::string, std::string> vectors_;
};

TEST_F(FormatVectorsTest, EveryVectorInTheDocumentMatchesTheCode) {
  const std::map<std::string, std::string> computed = Computed();
  for (const auto& [name, bytes] : vectors_) {
    auto it = computed.find(name);
    if (it == computed.end()) {
      ADD_FAILURE() << "FORMAT.md has vector " << name
                    << " that the test does not check";
      continue;
    }
    EXPECT_EQ(crypto::HexEncode(bytes), crypto::HexEncode(it->second))
        << "vector " << name;
  }
  for (const auto& [name, bytes] : computed) {
    EXPECT_TRUE(vectors_.contains(name)) << "FORMAT.md lacks vector " << name
                                         << ": " << crypto::HexEncode(bytes);
  }
}

TEST_F(FormatVectorsTest, DocumentedEventsDecodeToTheExamples) {
  const std::pair<const char*, Event> events[] = {
      {"event.minimal.bytes", MinimalEvent()},
      {"event.full.bytes", FullEvent()},
      {"event.review.bytes", ReviewEvent()},
      {"genesis.event.bytes", GenesisEvent()},
      {"cosigner.event.bytes", CosignerEvent()},
      {"registration.event.bytes", RegistrationEvent()},
      {"rotation.event.bytes", RotationEvent()},
  };
  for (const auto& [name, want] : events) {
    ASSERT_TRUE(vectors_.contains(name)) << name;
    absl::StatusOr<Event> got = DecodeEvent(vectors_.at(name));
    ASSERT_TRUE(got.ok()) << name << ": " << got.status();
    EXPECT_EQ(*got, want) << name;
    EXPECT_TRUE(ValidateEvent(*got, {}).ok()) << name;
  }
}

TEST_F(FormatVectorsTest, DocumentedEntriesVerifyWithTheDocumentedKeys) {
  for (const char* prefix :
       {"entry.example", "genesis.entry", "cosigner.entry"}) {
    const std::string bytes = vectors_[StrCat(prefix, ".bytes")];
    absl::StatusOr<Entry> entry = DecodeEntry(bytes);
    ASSERT_TRUE(entry.ok()) << prefix << ": " << entry.status();
    EXPECT_EQ(EncodeEntry(*entry), bytes);
    // The cosigner's registration is signed by the node key, like genesis.
    const std::string key_name =
        std::string_view(prefix) == "entry.example" ? "emitter" : "node";
    absl::StatusOr<crypto::Ed25519PublicKey> key =
        crypto::ToArray<crypto::kEd25519PublicKeySize>(
            vectors_[StrCat(key_name, ".public_key")], "public key");
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_TRUE(VerifyEntrySignature(*entry, *key).ok()) << prefix;
  }
  absl::StatusOr<Entry> genesis = DecodeEntry(vectors_["genesis.entry.bytes"]);
  ASSERT_TRUE(genesis.ok());
  EXPECT_EQ(genesis->event_bytes, vectors_["genesis.event.bytes"]);
  EXPECT_EQ(View(genesis->emitter.batch_root),
            vectors_["genesis.event.leaf_hash"]);
  absl::StatusOr<Entry> cosigner =
      DecodeEntry(vectors_["cosigner.entry.bytes"]);
  ASSERT_TRUE(cosigner.ok());
  EXPECT_EQ(cosigner->event_bytes, vectors_["cosigner.event.bytes"]);
  EXPECT_EQ(View(cosigner->prev_chain_hash),
            vectors_["genesis.entry.chain_hash"]);
}

// Section 8.5: a registered key's note verifier key follows from its
// key.registered event alone.
TEST_F(FormatVectorsTest, DocumentedVerifierKeysFollowFromTheKeyEvents) {
  const std::pair<const char*, const char*> registrations[] = {
      {"genesis.event.bytes", "node.vkey"},
      {"cosigner.event.bytes", "cosigner.vkey"},
  };
  for (const auto& [event_name, vkey_name] : registrations) {
    absl::StatusOr<Event> event = DecodeEvent(vectors_[event_name]);
    ASSERT_TRUE(event.ok()) << event_name << ": " << event.status();
    absl::StatusOr<std::string> vkey = VerifierKeyOfRegistration(*event);
    ASSERT_TRUE(vkey.ok()) << vkey.status();
    EXPECT_EQ(*vkey, vectors_[vkey_name]) << event_name;
  }
  for (const char* name : {"emitter", "node", "cosigner"}) {
    absl::StatusOr<crypto::NoteVerifier> v =
        crypto::ParseVerifierKey(vectors_[StrCat(name, ".vkey")]);
    ASSERT_TRUE(v.ok()) << name << ": " << v.status();
    EXPECT_EQ(KeyIdBytes(v->key_id), vectors_[StrCat(name, ".note_key_id")]);
    EXPECT_EQ(std::string(crypto::AsView(v->key)),
              vectors_[StrCat(name, ".public_key")]);
  }
  absl::StatusOr<crypto::NoteSigner> skey =
      crypto::ParseSignerKey(vectors_["emitter.skey"]);
  ASSERT_TRUE(skey.ok()) << skey.status();
  EXPECT_EQ(std::string(crypto::AsView(skey->key().public_key())),
            vectors_["emitter.public_key"]);
}

TEST_F(FormatVectorsTest, DocumentedCheckpointVerifiesWithTheDocumentedKeys) {
  std::vector<crypto::NoteVerifier> verifiers;
  for (const char* name : {"node.vkey", "cosigner.vkey"}) {
    absl::StatusOr<crypto::NoteVerifier> v =
        crypto::ParseVerifierKey(vectors_[name]);
    ASSERT_TRUE(v.ok()) << name << ": " << v.status();
    verifiers.push_back(*v);
  }
  absl::StatusOr<VerifiedCheckpoint> cp =
      OpenCheckpoint(vectors_["checkpoint.note"], verifiers, kExampleOrigin);
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->checkpoint.size, 2u);
  EXPECT_EQ(View(cp->checkpoint.root), vectors_["checkpoint.root"]);
  ASSERT_EQ(cp->signatures.size(), 2u);
  EXPECT_FALSE(cp->signatures[0].timestamp.has_value());
  EXPECT_EQ(cp->signatures[1].timestamp, kCheckpointTime);
  // Section 11.9 also shows the note as text, in a plain fenced block.
  constexpr std::string_view kShown = "The note's text, as it reads:\n\n```\n";
  const size_t begin = doc_.find(kShown);
  ASSERT_NE(begin, std::string::npos);
  const size_t text = begin + kShown.size();
  const size_t end = doc_.find("```", text);
  ASSERT_NE(end, std::string::npos);
  EXPECT_EQ(doc_.substr(text, end - text), vectors_["checkpoint.note"]);
  // The root is over the two documented entries, genesis first.
  absl::StatusOr<Hash> g = crypto::ToArray<crypto::kHashSize>(
      vectors_["genesis.entry.leaf_hash"], "leaf");
  absl::StatusOr<Hash> c = crypto::ToArray<crypto::kHashSize>(
      vectors_["cosigner.entry.leaf_hash"], "leaf");
  ASSERT_TRUE(g.ok() && c.ok());
  EXPECT_EQ(View(crypto::HashChildren(*g, *c)), vectors_["checkpoint.root"]);
}

// Section 11.10: the documented receipt extra, checked with the documented
// checkpoint and nothing but the log's documented keys, proves who the key
// that signed entry 3 belongs to; one flipped bit anywhere in the key
// entries makes it fail.
TEST_F(FormatVectorsTest, DocumentedKeyEvidenceVerifiesWithTheLogKeysOnly) {
  std::vector<crypto::NoteVerifier> verifiers;
  for (const char* name : {"node.vkey", "cosigner.vkey"}) {
    absl::StatusOr<crypto::NoteVerifier> v =
        crypto::ParseVerifierKey(vectors_[name]);
    ASSERT_TRUE(v.ok()) << name << ": " << v.status();
    verifiers.push_back(*v);
  }
  absl::StatusOr<VerifiedCheckpoint> cp = OpenCheckpoint(
      vectors_["keylog.checkpoint.note"], verifiers, kExampleOrigin);
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->checkpoint.size, 5u);
  const std::string& extra_bytes = vectors_["keylog.receipt_extra"];
  absl::StatusOr<ReceiptExtra> extra = DecodeReceiptExtra(extra_bytes);
  ASSERT_TRUE(extra.ok()) << extra.status();
  EXPECT_EQ(EncodeReceiptExtra(*extra), extra_bytes);
  EXPECT_EQ(View(crypto::HashLeaf(extra->entry)),
            vectors_["keylog.entry3.leaf_hash"]);
  std::vector<Hash> path;
  const std::string& p = vectors_["keylog.entry3.inclusion_proof"];
  for (size_t i = 0; i + 32 <= p.size(); i += 32) {
    path.push_back(*crypto::ToArray<crypto::kHashSize>(p.substr(i, 32), "h"));
  }
  ASSERT_TRUE(VerifyInclusion(crypto::HashLeaf(extra->entry), 3, 5, path,
                              cp->checkpoint.root)
                  .ok());
  absl::StatusOr<Entry> entry = DecodeEntry(extra->entry);
  ASSERT_TRUE(entry.ok()) << entry.status();
  absl::StatusOr<Event> event = DecodeEvent(entry->event_bytes);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(*event, FullEvent());
  absl::StatusOr<KeyEvidence> evidence =
      VerifyKeyEvidence(*extra, cp->checkpoint, *entry, *event, verifiers);
  ASSERT_TRUE(evidence.ok()) << evidence.status();
  EXPECT_EQ(View(evidence->key.key_id), vectors_["emitter.key_id"]);
  EXPECT_EQ(evidence->key.tenant, "acme-ai");
  EXPECT_EQ(evidence->key.producer, "label-studio");
  EXPECT_EQ(evidence->key.registered_at, 2u);
  EXPECT_EQ(evidence->registered_by, RegistrationEvent().actor.id);
  EXPECT_EQ(evidence->key.rotated_at, 4u);
  EXPECT_EQ(View(evidence->key.rotated_to), vectors_["second_emitter.key_id"]);
  // The registration and rotation events are the documented ones.
  ASSERT_EQ(extra->key_entries.size(), 2u);
  for (size_t k = 0; k < 2; ++k) {
    absl::StatusOr<Entry> e = DecodeEntry(extra->key_entries[k].entry);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(
        e->event_bytes,
        vectors_[k == 0 ? "registration.event.bytes" : "rotation.event.bytes"]);
  }
  // Every single-bit change of a key entry is caught.
  for (size_t k = 0; k < 2; ++k) {
    for (size_t at = 0; at < extra->key_entries[k].entry.size(); at += 7) {
      ReceiptExtra bad = *extra;
      bad.key_entries[k].entry[at] ^= 0x10;
      EXPECT_FALSE(
          VerifyKeyEvidence(bad, cp->checkpoint, *entry, *event, verifiers)
              .ok())
          << "key entry " << k << " byte " << at;
    }
  }
}

TEST_F(FormatVectorsTest, DocumentedBatchSignatureVerifies) {
  absl::StatusOr<crypto::Ed25519PublicKey> key =
      crypto::ToArray<crypto::kEd25519PublicKeySize>(
          vectors_["emitter.public_key"], "public key");
  absl::StatusOr<crypto::Ed25519Signature> sig =
      crypto::ToArray<crypto::kEd25519SignatureSize>(
          vectors_["batch.signature"], "signature");
  ASSERT_TRUE(key.ok() && sig.ok());
  EXPECT_TRUE(crypto::Ed25519Verify(*key, vectors_["batch.message"], *sig));
  EXPECT_EQ(vectors_["batch.message"].size(), 63u);
}

// Section 3.2's type lists are prose; check that they name exactly the
// types the code knows.
TEST_F(FormatVectorsTest, DocumentedPayloadOpensWithTheDocumentedKey) {
  absl::StatusOr<Envelope> envelope = ParseEnvelope(vectors_["payload.bytes"]);
  ASSERT_TRUE(envelope.ok()) << envelope.status();
  EXPECT_EQ(std::string(crypto::AsView(envelope->key_id)),
            vectors_["payload.key_id"]);
  EXPECT_EQ(std::string(crypto::AsView(envelope->nonce)),
            vectors_["payload.nonce"]);
  absl::StatusOr<crypto::AeadKey> key =
      crypto::ToArray<crypto::kAeadKeySize>(vectors_["payload.key"], "key");
  ASSERT_TRUE(key.ok()) << key.status();
  absl::StatusOr<std::string> plain = crypto::AeadOpen(
      *key, envelope->nonce, vectors_["payload.aad"], envelope->sealed);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, vectors_["payload.plaintext"]);
  absl::StatusOr<Event> erased = DecodeEvent(vectors_["erased.event.bytes"]);
  ASSERT_TRUE(erased.ok()) << erased.status();
  absl::StatusOr<PayloadKeyId> erased_id = ErasedKeyIdOf(*erased);
  ASSERT_TRUE(erased_id.ok()) << erased_id.status();
  EXPECT_EQ(std::string(crypto::AsView(*erased_id)),
            vectors_["payload.key_id"]);
}

TEST_F(FormatVectorsTest, DocumentedTypeListsMatchTheCode) {
  auto types_between = [&](std::string_view from, std::string_view to) {
    std::set<std::string> out;
    const size_t begin = doc_.find(from);
    const size_t end = doc_.find(to, begin);
    EXPECT_NE(begin, std::string::npos) << from;
    EXPECT_NE(end, std::string::npos) << to;
    if (begin == std::string::npos || end == std::string::npos) return out;
    std::string_view section =
        std::string_view(doc_).substr(begin, end - begin);
    for (size_t pos = section.find('`'); pos != std::string_view::npos;) {
      const size_t close = section.find('`', pos + 1);
      if (close == std::string_view::npos) break;
      out.emplace(section.substr(pos + 1, close - pos - 1));
      pos = section.find('`', close + 1);
    }
    return out;
  };
  const std::set<std::string> known =
      types_between("Known event types", "Ledger-internal types, which");
  EXPECT_EQ(known.size(), 55u);
  for (const std::string& type : known) {
    EXPECT_TRUE(IsKnownEventType(type)) << type;
  }
  const std::set<std::string> internal =
      types_between("Ledger-internal types, which", "Adding a type");
  EXPECT_EQ(internal.size(), 8u);
  for (const std::string& type : internal) {
    EXPECT_TRUE(IsLedgerInternalType(type)) << type;
  }
}

// Section 12.5: the documented proof, with the documented leaves, leads to
// the documented root, and no changed hash does.
TEST_F(FormatVectorsTest, DocumentedMultiLeafProofLeadsToTheRoot) {
  const std::string& bytes = vectors_["answer.tree7.proof_1_4_5"];
  ASSERT_EQ(bytes.size(), 3 * crypto::kHashSize);
  std::vector<Hash> proof(3);
  for (size_t k = 0; k < 3; ++k) {
    std::copy_n(bytes.begin() + static_cast<ptrdiff_t>(k * crypto::kHashSize),
                crypto::kHashSize, proof[k].begin());
  }
  const std::vector<Hash> leaves = Tree7Leaves();
  const std::vector<uint64_t> set = {1, 4, 5};
  const std::vector<Hash> hashes = {leaves[1], leaves[4], leaves[5]};
  absl::StatusOr<Hash> root =
      RootFromMultiInclusionProof(set, hashes, 7, proof);
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(View(*root), vectors_["answer.tree7.root"]);
  for (size_t k = 0; k < 3; ++k) {
    std::vector<Hash> changed = proof;
    changed[k][31] ^= 1;
    EXPECT_NE(View(*RootFromMultiInclusionProof(set, hashes, 7, changed)),
              vectors_["answer.tree7.root"]);
  }
}

}  // namespace
}  // namespace ledger
