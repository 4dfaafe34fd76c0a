#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/strings.h"
#include "crypto/bytes.h"
#include "crypto/note.h"
#include "crypto/sha256.h"
#include "ledger/entry.h"
#include "node/convert.h"
#include "node/node_testing.h"

namespace ledger::node {
namespace {

using testing::EmitterKeyPair;
using ::testing::HasSubstr;
using testing::MakeEventProto;
using testing::SignedAppend;
using ::testing::StartsWith;

class AdminServiceTest : public testing::NodeFixture {
 protected:
  grpc::Status Register(const v1::RegisterEmitterKeyRequest& request,
                        v1::EntryRef* ref) {
    return admin_->RegisterEmitterKey(Context().get(), request, ref);
  }
  grpc::Status Revoke(const std::string& key_id, v1::EntryRef* ref) {
    v1::RevokeEmitterKeyRequest request;
    request.set_key_id(key_id);
    request.set_reason("laptop lost");
    return admin_->RevokeEmitterKey(Context().get(), request, ref);
  }
  grpc::Status AppendAs(const EmitterKeyPair& key, int n) {
    v1::AppendResponse response;
    return ingest_->Append(Context().get(),
                           SignedAppend(key.key, MakeEventProto(kTenant, n)),
                           &response);
  }
  v1::KeyInfo FindKey(const crypto::Hash& key_id) {
    v1::ListKeysResponse keys;
    EXPECT_TRUE(admin_->ListKeys(Context().get(), {}, &keys).ok());
    for (const v1::KeyInfo& k : keys.keys()) {
      if (k.key_id() == crypto::AsView(key_id)) return k;
    }
    ADD_FAILURE() << "key not listed";
    return {};
  }
};

TEST_F(AdminServiceTest, RegisteredKeyIsAnEntryAndCanAppend) {
  const uint64_t before = LedgerSize();
  v1::EntryRef ref = RegisterKey(emitter_);
  EXPECT_EQ(ref.index(), before);
  EXPECT_EQ(LedgerSize(), before + 1);

  v1::KeyInfo key = FindKey(emitter_.key_id());
  EXPECT_EQ(key.tenant(), kTenant);
  EXPECT_EQ(key.role(), "emitter");
  EXPECT_EQ(key.name(), "labelstudio");
  EXPECT_EQ(key.registered_at(), ref.index());
  EXPECT_GT(key.valid_from().seconds(), 1'700'000'000);
  EXPECT_FALSE(key.has_revoked_at());

  v1::GetEntryRequest get;
  get.set_index(ref.index());
  v1::Entry entry;
  ASSERT_TRUE(query_->GetEntry(Context().get(), get, &entry).ok());
  EXPECT_EQ(entry.event().type(), "key.registered");
  EXPECT_EQ(entry.event().event_id(), ref.event_id());
  // Without TLS every caller is the insecure-plaintext identity; over TLS
  // the certificate's (node/authz_test.cc).
  EXPECT_EQ(entry.event().actor().id(), "insecure-plaintext");
  EXPECT_EQ(entry.event().actor().kind(), v1::ACTOR_KIND_SERVICE);
  EXPECT_THAT(entry.event().producer(), StartsWith("annotation-ledger/"));
  EXPECT_EQ(entry.key_id(),
            std::string(crypto::AsView(
                KeyIdOf(node_->identity().log_signer.key().public_key()))));

  EXPECT_TRUE(AppendAs(emitter_, 1).ok());
}

TEST_F(AdminServiceTest, BadRegistrationsAreRejectedWithoutAnEntry) {
  RegisterKey(emitter_);
  EmitterKeyPair other("other", 0x61);
  v1::NodeInfo info;
  ASSERT_TRUE(admin_->GetNodeInfo(Context().get(), {}, &info).ok());
  struct Case {
    std::string name;
    void (*mutate)(v1::RegisterEmitterKeyRequest&, const v1::NodeInfo&);
    grpc::StatusCode code;
    std::string fragment;
  } cases[] = {
      {"already registered",
       [](auto& r, const auto&) { r.set_verifier_key(""); }, grpc::OK, ""},
      {"garbage key", [](auto& r, const auto&) { r.set_verifier_key("x+y"); },
       grpc::INVALID_ARGUMENT, "verifier_key"},
      {"cosigner key",
       [](auto& r, const v1::NodeInfo& i) {
         r.set_verifier_key(i.note_verifier_keys(1));
       },
       grpc::INVALID_ARGUMENT, "must be an Ed25519 key (type 0x01)"},
      {"reserved tenant", [](auto& r, const auto&) { r.set_tenant("_ledger"); },
       grpc::INVALID_ARGUMENT, "reserved"},
      {"bad tenant", [](auto& r, const auto&) { r.set_tenant("acme ai"); },
       grpc::INVALID_ARGUMENT, "tenant:"},
      {"no tenant", [](auto& r, const auto&) { r.clear_tenant(); },
       grpc::INVALID_ARGUMENT, "tenant:"},
      {"window ends before it starts",
       [](auto& r, const auto&) {
         r.mutable_valid_from()->set_seconds(1'800'000'000);
         r.mutable_valid_until()->set_seconds(1'700'000'000);
       },
       grpc::INVALID_ARGUMENT, "valid_until: must be after valid_from"},
      {"no producer", [](auto& r, const auto&) { r.clear_producer(); },
       grpc::INVALID_ARGUMENT, "producer: required"},
  };
  const uint64_t before = LedgerSize();
  for (const Case& c : cases) {
    v1::RegisterEmitterKeyRequest request;
    request.set_verifier_key(other.vkey());
    request.set_tenant(kTenant);
    request.set_producer("label-studio");
    if (c.code == grpc::OK) {  // the already-registered case
      request.set_verifier_key(emitter_.vkey());
    } else {
      c.mutate(request, info);
    }
    v1::EntryRef ref;
    grpc::Status s = Register(request, &ref);
    grpc::StatusCode want = c.code == grpc::OK ? grpc::ALREADY_EXISTS : c.code;
    std::string fragment =
        c.code == grpc::OK ? "is already registered for tenant" : c.fragment;
    EXPECT_EQ(s.error_code(), want) << c.name << ": " << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(fragment)) << c.name;
    EXPECT_EQ(LedgerSize(), before) << c.name;
  }
}

TEST_F(AdminServiceTest, RevokedKeyCanNoLongerAppend) {
  RegisterKey(emitter_);
  ASSERT_TRUE(AppendAs(emitter_, 1).ok());
  const std::string id(crypto::AsView(emitter_.key_id()));
  v1::EntryRef ref;
  grpc::Status s = Revoke(id, &ref);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(ref.index(), LedgerSize() - 1);
  EXPECT_TRUE(FindKey(emitter_.key_id()).has_revoked_at());

  s = AppendAs(emitter_, 2);
  EXPECT_EQ(s.error_code(), grpc::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("revoked"));

  s = Revoke(id, &ref);
  EXPECT_EQ(s.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("already revoked"));
}

TEST_F(AdminServiceTest, RiskPolicyIsAnEntryAndGradesWhatFollows) {
  RegisterKey(emitter_);
  v1::SetRiskPolicyRequest request;
  request.set_text("name = \"p\"\n[rules.R9]\nenabled = false\n");
  v1::SetRiskPolicyResponse response;
  grpc::Status s = admin_->SetRiskPolicy(Context().get(), request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.entry().index(), LedgerSize() - 1);
  EXPECT_EQ(response.policy_version(), 1u);
  EXPECT_EQ(response.sha256(),
            crypto::HexEncode(crypto::Sha256Digest(request.text())));
  ASSERT_TRUE(AppendAs(emitter_, 1).ok());
  absl::StatusOr<std::string> bytes =
      node_->ledger().GetEntry(LedgerSize() - 1);
  ASSERT_TRUE(bytes.ok());
  absl::StatusOr<Entry> entry = DecodeEntry(*bytes);
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(entry->policy_version, 1u);
  EXPECT_NE(entry->risk.grade, RiskGrade::kUnassessed);

  // A second policy is number 2.
  request.set_text("name = \"q\"\n");
  ASSERT_TRUE(admin_->SetRiskPolicy(Context().get(), request, &response).ok());
  EXPECT_EQ(response.policy_version(), 2u);
}

TEST_F(AdminServiceTest, InvalidRiskPoliciesAppendNothing) {
  const uint64_t before = LedgerSize();
  v1::SetRiskPolicyRequest request;
  v1::SetRiskPolicyResponse response;
  request.set_text("name = \"p\"\n[rules.R99]\nenabled = true\n");
  grpc::Status s = admin_->SetRiskPolicy(Context().get(), request, &response);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(),
              HasSubstr("text: line 2: rules.R99: unknown rule"));
  request.set_text("name = \"p\"\r\n");
  s = admin_->SetRiskPolicy(Context().get(), request, &response);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("carriage return at byte 10"));
  EXPECT_EQ(LedgerSize(), before);
}

TEST_F(AdminServiceTest, RevocationErrors) {
  v1::EntryRef ref;
  grpc::Status s = Revoke(std::string(32, 'x'), &ref);
  EXPECT_EQ(s.error_code(), grpc::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("is not registered"));
  s = Revoke("short", &ref);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("key_id must be 32 bytes"));
  s = Revoke(std::string(crypto::AsView(
                 KeyIdOf(node_->identity().log_signer.key().public_key()))),
             &ref);
  EXPECT_EQ(s.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("node key"));
}

TEST_F(AdminServiceTest, ExpiredKeyCannotAppend) {
  v1::RegisterEmitterKeyRequest request;
  request.set_verifier_key(emitter_.vkey());
  request.set_tenant(kTenant);
  request.set_producer("label-studio");
  request.mutable_valid_from()->set_seconds(1'600'000'000);
  request.mutable_valid_until()->set_seconds(1'600'000'100);
  v1::EntryRef ref;
  ASSERT_TRUE(Register(request, &ref).ok());
  grpc::Status s = AppendAs(emitter_, 1);
  EXPECT_EQ(s.error_code(), grpc::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("expired"));
}

TEST_F(AdminServiceTest, AKeySignsOnlyTheProducerItWasRegisteredFor) {
  v1::RegisterEmitterKeyRequest request;
  request.set_verifier_key(emitter_.vkey());
  request.set_tenant(kTenant);
  request.set_producer("cvat");
  v1::EntryRef ref;
  ASSERT_TRUE(Register(request, &ref).ok());
  EXPECT_EQ(FindKey(emitter_.key_id()).producer(), "cvat");
  grpc::Status s = AppendAs(emitter_, 1);  // producer label-studio/1.13.1
  EXPECT_EQ(s.error_code(), grpc::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("event.producer: emitter key"));
  EXPECT_THAT(s.error_message(), HasSubstr(StrCat("entry ", ref.index())));
}

TEST_F(AdminServiceTest, RotationHandsOverAtTheRotationEntry) {
  RegisterKey(emitter_);
  ASSERT_TRUE(AppendAs(emitter_, 1).ok());
  const uint64_t before = LedgerSize();
  EmitterKeyPair next("labelstudio-2", 0x61);
  v1::RotateEmitterKeyRequest request;
  request.set_key_id(std::string(crypto::AsView(emitter_.key_id())));
  request.set_new_verifier_key(next.vkey());
  request.set_reason("yearly");
  v1::EntryRef ref;
  grpc::Status s = admin_->RotateEmitterKey(Context().get(), request, &ref);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(ref.index(), before);
  EXPECT_EQ(LedgerSize(), before + 1);

  v1::KeyInfo old_key = FindKey(emitter_.key_id());
  EXPECT_EQ(old_key.rotated_at(), ref.index());
  EXPECT_EQ(old_key.rotated_to(), crypto::AsView(next.key_id()));
  v1::KeyInfo new_key = FindKey(next.key_id());
  EXPECT_EQ(new_key.registered_at(), ref.index());
  EXPECT_EQ(new_key.tenant(), kTenant);
  EXPECT_EQ(new_key.producer(), "label-studio");
  EXPECT_EQ(new_key.name(), "labelstudio-2");
  EXPECT_EQ(new_key.rotated_from(), crypto::AsView(emitter_.key_id()));

  s = AppendAs(emitter_, 2);
  EXPECT_EQ(s.error_code(), grpc::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(),
              HasSubstr(StrCat("rotated out by entry ", ref.index())));
  EXPECT_TRUE(AppendAs(next, 3).ok());

  // What cannot be rotated, and nothing is written for it.
  const uint64_t size = LedgerSize();
  EmitterKeyPair third("third", 0x71);
  const auto rotate = [&](const std::string& key_id, const std::string& vkey) {
    v1::RotateEmitterKeyRequest r;
    r.set_key_id(key_id);
    r.set_new_verifier_key(vkey);
    v1::EntryRef out;
    return admin_->RotateEmitterKey(Context().get(), r, &out);
  };
  s = rotate(std::string(crypto::AsView(emitter_.key_id())), third.vkey());
  EXPECT_EQ(s.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("already rotated out"));
  s = rotate(std::string(32, 'x'), third.vkey());
  EXPECT_EQ(s.error_code(), grpc::NOT_FOUND);
  s = rotate(std::string(crypto::AsView(next.key_id())), emitter_.vkey());
  EXPECT_EQ(s.error_code(), grpc::ALREADY_EXISTS);
  s = rotate(std::string(crypto::AsView(next.key_id())), "x+y");
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("new_verifier_key"));
  s = rotate(std::string(crypto::AsView(
                 KeyIdOf(node_->identity().log_signer.key().public_key()))),
             third.vkey());
  EXPECT_EQ(s.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_EQ(LedgerSize(), size);
  // The old key's entries still verify: the whole ledger does on restart.
  StopNode();
  StartNode();
  EXPECT_EQ(AppendAs(emitter_, 4).error_code(), grpc::UNAUTHENTICATED);
  EXPECT_TRUE(AppendAs(next, 5).ok());
}

TEST_F(AdminServiceTest, NodeInfoPublishesTheCheckpointKeys) {
  v1::NodeInfo info;
  ASSERT_TRUE(admin_->GetNodeInfo(Context().get(), {}, &info).ok());
  EXPECT_EQ(info.origin(), "ledger.test/node");
  ASSERT_EQ(info.note_verifier_keys_size(), 2);
  absl::StatusOr<crypto::NoteVerifier> log =
      crypto::ParseVerifierKey(info.note_verifier_keys(0));
  absl::StatusOr<crypto::NoteVerifier> cosigner =
      crypto::ParseVerifierKey(info.note_verifier_keys(1));
  ASSERT_TRUE(log.ok() && cosigner.ok());
  EXPECT_EQ(log->name, "ledger.test/node");
  EXPECT_EQ(log->type, crypto::NoteSigType::kEd25519);
  EXPECT_EQ(cosigner->name, "ledger.test/node/node-1");
  EXPECT_EQ(cosigner->type, crypto::NoteSigType::kCosignatureV1);
  EXPECT_EQ(info.node_key_id(), std::string(crypto::AsView(KeyIdOf(log->key))));
  EXPECT_EQ(info.size(), LedgerSize());
  EXPECT_FALSE(info.version().empty());

  v1::ListKeysResponse keys;
  ASSERT_TRUE(admin_->ListKeys(Context().get(), {}, &keys).ok());
  ASSERT_GE(keys.keys_size(), 1);
  EXPECT_EQ(keys.keys(0).role(), "node");  // the genesis entry
  EXPECT_EQ(keys.keys(0).registered_at(), 0u);
  EXPECT_EQ(keys.keys(0).key_id(), info.node_key_id());
}

TEST_F(AdminServiceTest, RestartKeepsIdentityAndEntries) {
  RegisterKey(emitter_);
  ASSERT_TRUE(AppendAs(emitter_, 1).ok());
  const uint64_t size = LedgerSize();
  v1::NodeInfo before;
  ASSERT_TRUE(admin_->GetNodeInfo(Context().get(), {}, &before).ok());
  StopNode();
  StartNode();
  v1::NodeInfo after;
  ASSERT_TRUE(admin_->GetNodeInfo(Context().get(), {}, &after).ok());
  EXPECT_EQ(after.origin(), before.origin());
  EXPECT_EQ(after.note_verifier_keys(0), before.note_verifier_keys(0));
  EXPECT_EQ(after.note_verifier_keys(1), before.note_verifier_keys(1));
  EXPECT_EQ(LedgerSize(), size);  // no second genesis
  EXPECT_TRUE(AppendAs(emitter_, 2).ok());
  EXPECT_EQ(LedgerSize(), size + 1);
}

TEST_F(AdminServiceTest, BusyPortIsAClearStartupError) {
  NodeConfig other = config();
  other.data_dir = dir_.path() + "/other";
  other.listen = "127.0.0.1:" + std::to_string(node_->port());
  absl::StatusOr<std::unique_ptr<Node>> node = Node::Start(other);
  EXPECT_EQ(node.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(node.status().message()),
              HasSubstr("cannot listen on " + other.listen));
}

}  // namespace
}  // namespace ledger::node
