// Encrypted payloads and crypto-shredding through the node's services:
// Ingest.GetPayloadKey, the append-time payload check, the decrypted view of
// Query, and Admin.EraseSubject.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "crypto/aead.h"
#include "crypto/bytes.h"
#include "ledger/payload.h"
#include "node/data_dir.h"
#include "node/node_testing.h"

namespace ledger::node {
namespace {

using ::testing::HasSubstr;
using testing::MakeEventProto;
using testing::SignedAppend;
using testing::SignedBatch;

constexpr char kSubject[] = "annotator:jane.doe";
constexpr char kPlaintext[] = "Jane Doe, jane.doe@example.org";

class PayloadServiceTest : public testing::NodeFixture {
 protected:
  void SetUp() override {
    NodeFixture::SetUp();
    RegisterKey(emitter_);
  }

  grpc::Status GetKey(const std::string& tenant, const std::string& subject,
                      v1::PayloadKey* key) {
    v1::GetPayloadKeyRequest request;
    request.set_tenant(tenant);
    request.set_data_subject(subject);
    return ingest_->GetPayloadKey(Context().get(), request, key);
  }
  v1::PayloadKey Key(const std::string& subject = kSubject,
                     const std::string& tenant = kTenant) {
    v1::PayloadKey key;
    grpc::Status s = GetKey(tenant, subject, &key);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return key;
  }
  // `event`'s payload sealed under `key` for (tenant, event_id).
  static std::string Seal(const v1::PayloadKey& key, const std::string& tenant,
                          const std::string& event_id,
                          std::string_view plaintext = kPlaintext) {
    absl::StatusOr<PayloadKeyId> id =
        crypto::ToArray<kPayloadKeyIdSize>(key.key_id(), "key_id");
    absl::StatusOr<crypto::AeadKey> k =
        crypto::ToArray<crypto::kAeadKeySize>(key.key(), "key");
    absl::StatusOr<Uuid> uuid = ParseUuid(event_id);
    EXPECT_TRUE(id.ok() && k.ok() && uuid.ok());
    return SealPayload(*id, *k, crypto::NewAeadNonce(), tenant, *uuid,
                       plaintext);
  }
  // Event n of kTenant with `payload`.
  static v1::Event WithPayload(int n, std::string payload) {
    v1::Event e = MakeEventProto(kTenant, n);
    e.set_payload(std::move(payload));
    return e;
  }
  grpc::Status Append(const v1::Event& event, v1::EntryRef* ref = nullptr) {
    v1::AppendResponse response;
    grpc::Status s = ingest_->Append(
        Context().get(), SignedAppend(emitter_.key, event), &response);
    if (ref != nullptr) *ref = response.entry();
    return s;
  }
  v1::Entry Get(uint64_t index) {
    v1::GetEntryRequest request;
    request.set_index(index);
    v1::Entry entry;
    grpc::Status s = query_->GetEntry(Context().get(), request, &entry);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return entry;
  }
  grpc::Status Erase(const std::string& subject, v1::EraseSubjectResponse* r,
                     const std::string& reason = "erasure request DSR-1") {
    v1::EraseSubjectRequest request;
    request.set_tenant(kTenant);
    request.set_data_subject(subject);
    request.set_reason(reason);
    return admin_->EraseSubject(Context().get(), request, r);
  }
  // An appended event with the subject's encrypted payload.
  v1::EntryRef AppendEncrypted(int n, const std::string& subject = kSubject) {
    v1::Event event = MakeEventProto(kTenant, n);
    event.set_payload(Seal(Key(subject), kTenant, event.event_id()));
    v1::EntryRef ref;
    grpc::Status s = Append(event, &ref);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return ref;
  }
};

TEST_F(PayloadServiceTest, GetPayloadKeyIsTheSameEveryTime) {
  const uint64_t size = LedgerSize();
  const v1::PayloadKey a = Key();
  EXPECT_EQ(a.key_id().size(), kPayloadKeyIdSize);
  EXPECT_EQ(a.key().size(), crypto::kAeadKeySize);
  EXPECT_EQ(a.tenant(), kTenant);
  const v1::PayloadKey again = Key();
  EXPECT_EQ(again.key_id(), a.key_id());
  EXPECT_EQ(again.key(), a.key());
  EXPECT_NE(Key("annotator:john").key_id(), a.key_id());
  EXPECT_NE(Key(kSubject, "other-co").key_id(), a.key_id());
  EXPECT_EQ(LedgerSize(), size);  // keys are not entries
  // The same after a restart.
  StopNode();
  StartNode();
  EXPECT_EQ(Key().key(), a.key());
}

TEST_F(PayloadServiceTest, GetPayloadKeyChecksItsRequest) {
  v1::PayloadKey key;
  grpc::Status s = GetKey(kTenant, "", &key);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("data_subject"));
  s = GetKey("_ledger", kSubject, &key);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("tenant"));
  s = GetKey("bad tenant", kSubject, &key);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("tenant"));
  s = GetKey(kTenant, "line\nbreak", &key);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(PayloadServiceTest, EncryptedPayloadIsAppendedAndReadInPlaintext) {
  const v1::EntryRef ref = AppendEncrypted(1);
  const v1::Entry entry = Get(ref.index());
  EXPECT_EQ(entry.payload().state(), v1::PayloadView::PAYLOAD_STATE_PLAINTEXT);
  EXPECT_EQ(entry.payload().plaintext(), kPlaintext);
  EXPECT_EQ(entry.payload().key_id(), Key().key_id());
  // The entry itself holds only the ciphertext.
  EXPECT_EQ(entry.entry_bytes().find(kPlaintext), std::string::npos);
  EXPECT_EQ(entry.event().payload().find(kPlaintext), std::string::npos);
  // Events without a payload say so.
  ASSERT_TRUE(Append(MakeEventProto(kTenant, 2), nullptr).ok());
  EXPECT_EQ(Get(ref.index() + 1).payload().state(),
            v1::PayloadView::PAYLOAD_STATE_NONE);
  // GetEntries decrypts too.
  v1::GetEntriesRequest range;
  range.set_start(ref.index());
  grpc::ClientContext context;
  auto reader = query_->GetEntries(&context, range);
  v1::Entry streamed;
  ASSERT_TRUE(reader->Read(&streamed));
  EXPECT_EQ(streamed.payload().plaintext(), kPlaintext);
  while (reader->Read(&streamed)) {
  }
  EXPECT_TRUE(reader->Finish().ok());
}

TEST_F(PayloadServiceTest, BatchesMayCarryPayloadsOfSeveralSubjects) {
  std::vector<v1::Event> events;
  for (int n = 1; n <= 4; ++n) {
    v1::Event e = MakeEventProto(kTenant, n);
    if (n != 3) {
      e.set_payload(Seal(Key(n % 2 ? "annotator:a" : "annotator:b"), kTenant,
                         e.event_id(), StrCat("personal ", n)));
    }
    events.push_back(e);
  }
  v1::AppendBatchResponse response;
  grpc::Status s = ingest_->AppendBatch(
      Context().get(), SignedBatch(emitter_.key, events), &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Get(response.entries(1).index()).payload().plaintext(),
            "personal 2");
  EXPECT_EQ(Get(response.entries(2).index()).payload().state(),
            v1::PayloadView::PAYLOAD_STATE_NONE);
}

TEST_F(PayloadServiceTest, PayloadsThatAreNotSealedForTheirEventAreRefused) {
  const uint64_t size = LedgerSize();
  const v1::PayloadKey key = Key();
  const v1::PayloadKey other_tenant = Key(kSubject, "other-co");
  v1::Event base = MakeEventProto(kTenant, 1);
  const std::string& id = base.event_id();

  struct Case {
    std::string name;
    std::string payload;
    grpc::StatusCode code;
    std::string says;
  };
  v1::PayloadKey wrong_key = key;
  wrong_key.set_key(std::string(crypto::AsView(crypto::NewAeadKey())));
  v1::PayloadKey unknown = key;
  unknown.set_key_id(std::string(16, 'x'));
  std::string altered = Seal(key, kTenant, id);
  altered[60] ^= 1;
  std::string version2 = Seal(key, kTenant, id);
  version2[0] = 2;
  const Case cases[] = {
      {"plaintext", "Jane Doe, jane.doe@example.org",
       grpc::StatusCode::INVALID_ARGUMENT, "cannot be an encrypted payload"},
      {"long plaintext", std::string(200, 'J'),
       grpc::StatusCode::INVALID_ARGUMENT, "envelope version 74"},
      {"short", "x", grpc::StatusCode::INVALID_ARGUMENT, "at least 57 bytes"},
      {"version 2", version2, grpc::StatusCode::INVALID_ARGUMENT,
       "envelope version 2"},
      {"wrong key", Seal(wrong_key, kTenant, id),
       grpc::StatusCode::INVALID_ARGUMENT, "does not open"},
      {"unknown key", Seal(unknown, kTenant, id),
       grpc::StatusCode::INVALID_ARGUMENT, "does not hold"},
      {"other tenant's key", Seal(other_tenant, kTenant, id),
       grpc::StatusCode::INVALID_ARGUMENT, "does not hold"},
      {"sealed for another tenant", Seal(key, "other-co", id),
       grpc::StatusCode::INVALID_ARGUMENT, "does not open"},
      {"sealed for another event",
       Seal(key, kTenant, MakeEventProto(kTenant, 2).event_id()),
       grpc::StatusCode::INVALID_ARGUMENT, "does not open"},
      {"altered", altered, grpc::StatusCode::INVALID_ARGUMENT, "does not open"},
  };
  for (const Case& c : cases) {
    v1::Event event = base;
    event.set_payload(c.payload);
    grpc::Status s = Append(event);
    EXPECT_EQ(s.error_code(), c.code) << c.name << ": " << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(c.says)) << c.name;
    EXPECT_THAT(s.error_message(), HasSubstr("event.payload")) << c.name;
  }
  // In a batch, the refusal names the event.
  std::vector<v1::Event> events = {MakeEventProto(kTenant, 3), base};
  events[1].set_payload(
      Seal(key, kTenant, MakeEventProto(kTenant, 2).event_id()));
  v1::AppendBatchResponse response;
  grpc::Status s = ingest_->AppendBatch(
      Context().get(), SignedBatch(emitter_.key, events), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("events[1].payload"));
  EXPECT_EQ(LedgerSize(), size);
  // Sealed right, it goes in.
  base.set_payload(Seal(key, kTenant, id));
  EXPECT_TRUE(Append(base).ok());
}

TEST_F(PayloadServiceTest, EraseSubjectShredsThePayloadsForGood) {
  const v1::EntryRef first = AppendEncrypted(1);
  const v1::EntryRef second = AppendEncrypted(2);
  const v1::EntryRef other = AppendEncrypted(3, "annotator:john");
  const v1::PayloadKey key = Key();
  const uint64_t size = LedgerSize();

  v1::EraseSubjectResponse erased;
  grpc::Status s = Erase(kSubject, &erased);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(erased.entry().index(), size);
  EXPECT_EQ(erased.key_id(), key.key_id());

  // The key.erased entry names the key, not the subject.
  const v1::Entry record = Get(erased.entry().index());
  EXPECT_EQ(record.event().type(), "key.erased");
  EXPECT_EQ(record.event().tenant(), kTenant);
  EXPECT_EQ(record.event().attributes().at("key.id"),
            crypto::HexEncode(key.key_id()));
  EXPECT_EQ(record.event().attributes().at("key.reason"),
            "erasure request DSR-1");
  EXPECT_EQ(record.entry_bytes().find("jane"), std::string::npos);
  EXPECT_EQ(record.payload().state(), v1::PayloadView::PAYLOAD_STATE_NONE);

  for (const v1::EntryRef& ref : {first, second}) {
    const v1::Entry entry = Get(ref.index());
    EXPECT_EQ(entry.payload().state(), v1::PayloadView::PAYLOAD_STATE_ERASED);
    EXPECT_EQ(entry.payload().erased_by(), erased.entry().index());
    EXPECT_TRUE(entry.payload().plaintext().empty());
    EXPECT_FALSE(entry.event().payload().empty());  // the ciphertext stays
  }
  EXPECT_EQ(Get(other.index()).payload().plaintext(), kPlaintext);

  // No new key for the subject, no new payload under the old one.
  v1::PayloadKey again;
  s = GetKey(kTenant, kSubject, &again);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(),
              HasSubstr(StrCat("entry ", erased.entry().index())));
  v1::Event late = MakeEventProto(kTenant, 9);
  late.set_payload(Seal(key, kTenant, late.event_id()));
  s = Append(late);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("erased"));
  // Erasing twice, or a subject without a key, is refused.
  s = Erase(kSubject, &erased);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  s = Erase("annotator:nobody", &erased);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  s = Erase("annotator:john", &erased, " ");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("reason"));

  // A restart (which re-reads every entry) keeps it so.
  StopNode();
  StartNode();
  EXPECT_EQ(Get(first.index()).payload().state(),
            v1::PayloadView::PAYLOAD_STATE_ERASED);
  s = GetKey(kTenant, kSubject, &again);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

// A copy of the database from before the erasure, restored beside the
// node's current keys/ (its rollback guard and acknowledged head): the node
// refuses to start, so the key in the copy is never served.
TEST_F(PayloadServiceTest, AnOldBackupRestoredAfterAnErasureIsRefused) {
  AppendEncrypted(1);
  const std::string db = DataDirLayout(config().data_dir).db;
  const std::string backup = dir_.path() + "/db-backup";
  StopNode();
  std::filesystem::copy(db, backup, std::filesystem::copy_options::recursive);
  StartNode();
  v1::EraseSubjectResponse erased;
  ASSERT_TRUE(Erase(kSubject, &erased).ok());
  StopNode();
  std::filesystem::remove_all(db);
  std::filesystem::rename(backup, db);
  absl::Status s = TryStartNode();
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_EQ(node_, nullptr);
}

}  // namespace
}  // namespace ledger::node
