// Payload keys and crypto-shredding in the ledger: key creation, key.erased
// entries that destroy the key in their own write, and erasures applied
// again when the ledger re-reads its entries.

#include "ledger/shred_keys.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "ledger/ledger_testing.h"
#include "ledger/payload.h"
#include "ledger/schema.h"
#include "ledger/store.h"

namespace ledger {
namespace {

using testing::Annotation;
using testing::kNewYear2026Ns;
using testing::kTenant;

// A node-signed key.erased event numbered `n`.
Event Erased(std::string_view tenant, const PayloadKeyId& id, int n,
             std::string_view reason = "erasure request DSR-1") {
  Event e = KeyErasedEvent(tenant, id, reason);
  char uuid[40];
  std::snprintf(uuid, sizeof(uuid), "00000000-0000-4000-a000-%012d", n);
  e.event_id = format_testing::UuidOf(uuid);
  e.occurred_at_ns = kNewYear2026Ns;
  e.producer = "annotation-ledger/test";
  e.actor = {ActorKind::kService, "admin", "admin"};
  return e;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class ShredKeysTest : public testing::LedgerFixture {
 protected:
  PayloadKey Key(std::string_view subject, std::string_view tenant = kTenant) {
    absl::StatusOr<PayloadKey> key =
        ledger_->payload_keys().GetOrCreate(tenant, subject, kNewYear2026Ns);
    EXPECT_TRUE(key.ok()) << key.status();
    return key.value_or(PayloadKey{});
  }
  AppendResult Erase(const PayloadKeyId& id, int n,
                     std::string_view tenant = kTenant) {
    return AppendOne(Batch({Erased(tenant, id, n)}, node_key_));
  }
  // Runs `fn` on the database, the ledger closed.
  void WithStore(const std::function<void(Store&)>& fn) {
    ledger_.reset();
    absl::StatusOr<std::unique_ptr<Store>> store =
        Store::Open(dir_, StoreOptions{});
    ASSERT_TRUE(store.ok()) << store.status();
    fn(**store);
  }
  // Every (key, value) of the shred_keys family.
  std::vector<std::pair<std::string, std::string>> Records() {
    std::vector<std::pair<std::string, std::string>> out;
    WithStore([&](Store& store) {
      std::unique_ptr<rocksdb::Iterator> it = store.NewIterator(Cf::kShredKeys);
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        out.emplace_back(it->key().ToString(), it->value().ToString());
      }
      ASSERT_TRUE(it->status().ok());
    });
    return out;
  }
  absl::Status OpenWith(LedgerOptions options) {
    ledger_.reset();
    absl::StatusOr<std::unique_ptr<Ledger>> l =
        Ledger::Open(dir_, std::move(options));
    if (!l.ok()) return l.status();
    ledger_ = *std::move(l);
    return absl::OkStatus();
  }
  // Options that collect the ledger's warnings in warnings_.
  LedgerOptions Warned(OpenCheck check) {
    LedgerOptions options = Options();
    options.open_check = check;
    options.warn = [this](std::string_view line) {
      warnings_.emplace_back(line);
    };
    return options;
  }
  // Puts the record of `key` back and drops the erasure record, as a
  // shred_keys family restored from before the erasure has them.
  void Resurrect(const PayloadKey& key, const std::string& record) {
    WithStore([&](Store& store) {
      rocksdb::WriteBatch batch;
      batch.Put(store.handle(Cf::kShredKeys),
                std::string("k") + std::string(crypto::AsView(key.key_id)),
                record);
      batch.Delete(store.handle(Cf::kShredKeys),
                   std::string("e") + std::string(crypto::AsView(key.key_id)));
      ASSERT_TRUE(store.Write(&batch).ok());
    });
  }
  std::string RecordOf(const PayloadKey& key) {
    for (const auto& [k, v] : Records()) {
      if (k == std::string("k") + std::string(crypto::AsView(key.key_id))) {
        return v;
      }
    }
    ADD_FAILURE() << "no record of " << PayloadKeyIdHex(key.key_id);
    return "";
  }

  // The database files that hold `secret`, once RocksDB has deleted the
  // files a flush or compaction made obsolete (it does right after them;
  // allowed a bounded moment).
  std::vector<std::string> FilesHolding(std::string_view secret,
                                        bool wait_for_none) {
    const auto scan = [&] {
      std::vector<std::string> out;
      for (const auto& f :
           std::filesystem::recursive_directory_iterator(dir_)) {
        if (!f.is_regular_file()) continue;
        if (ReadFile(f.path()).find(secret) != std::string::npos) {
          out.push_back(f.path().filename().string());
        }
      }
      return out;
    };
    std::vector<std::string> files = scan();
    for (int i = 0; wait_for_none && i < 100 && !files.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      files = scan();
    }
    return files;
  }

  std::vector<std::string> warnings_;
};

TEST_F(ShredKeysTest, GetOrCreateGivesOneKeyPerTenantAndSubject) {
  const PayloadKey a = Key("annotator:jane");
  const PayloadKey again = Key("annotator:jane");
  EXPECT_EQ(a.key_id, again.key_id);
  EXPECT_EQ(a.key, again.key);
  EXPECT_EQ(a.tenant, kTenant);
  const PayloadKey b = Key("annotator:john");
  const PayloadKey other_tenant = Key("annotator:jane", "other-co");
  EXPECT_NE(b.key_id, a.key_id);
  EXPECT_NE(b.key, a.key);
  EXPECT_NE(other_tenant.key_id, a.key_id);
  EXPECT_EQ(other_tenant.tenant, "other-co");
  // Durable, and the same after a reopen.
  ASSERT_TRUE(Reopen().ok());
  const PayloadKey reopened = Key("annotator:jane");
  EXPECT_EQ(reopened.key_id, a.key_id);
  EXPECT_EQ(reopened.key, a.key);
  absl::StatusOr<PayloadKeyLookup> found =
      ledger_->payload_keys().Find(a.key_id);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->key.has_value());
  EXPECT_EQ(found->key->key, a.key);
  EXPECT_FALSE(found->erasure.has_value());
  // Creating keys appends nothing.
  EXPECT_EQ(ledger_->head().size, 2u);
}

TEST_F(ShredKeysTest, FindForSubjectDoesNotCreate) {
  EXPECT_TRUE(absl::IsNotFound(
      ledger_->payload_keys().FindForSubject(kTenant, "nobody").status()));
  Key("annotator:jane");
  EXPECT_TRUE(absl::IsNotFound(
      ledger_->payload_keys().FindForSubject(kTenant, "nobody").status()));
  EXPECT_TRUE(
      ledger_->payload_keys().FindForSubject(kTenant, "annotator:jane").ok());
}

TEST_F(ShredKeysTest, SubjectIdsAreNotStoredInTheClear) {
  const std::string subject = "annotator:jane.doe@example.org";
  Key(subject);
  const auto records = Records();
  ASSERT_EQ(records.size(), 3u);  // secret, subject hash, key
  for (const auto& [k, v] : records) {
    EXPECT_EQ(k.find(subject), std::string::npos);
    EXPECT_EQ(v.find(subject), std::string::npos);
    EXPECT_EQ(k.find("jane"), std::string::npos);
  }
}

TEST_F(ShredKeysTest, DataSubjectsAreCheckedText) {
  EXPECT_TRUE(CheckDataSubject("annotator:李").ok());
  EXPECT_TRUE(absl::IsInvalidArgument(CheckDataSubject("")));
  EXPECT_TRUE(absl::IsInvalidArgument(CheckDataSubject("a\nb")));
  EXPECT_TRUE(absl::IsInvalidArgument(CheckDataSubject("\xc3\x28")));
  EXPECT_TRUE(absl::IsInvalidArgument(CheckDataSubject("\xc2\x85")));  // NEL
  EXPECT_TRUE(
      absl::IsInvalidArgument(CheckDataSubject(std::string(1025, 'a'))));
  EXPECT_NE(CheckDataSubject("", "data_subject").message().find("data_subject"),
            std::string::npos);
}

TEST_F(ShredKeysTest, KeyErasedDestroysTheKeyInItsOwnWrite) {
  const PayloadKey key = Key("annotator:jane");
  const PayloadKey kept = Key("annotator:john");
  AppendResult r = Erase(key.key_id, 1);
  ASSERT_TRUE(r.status.ok()) << r.status;
  const uint64_t entry = r.entries[0].index;
  absl::StatusOr<PayloadKeyLookup> found =
      ledger_->payload_keys().Find(key.key_id);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_FALSE(found->key.has_value());
  ASSERT_TRUE(found->erasure.has_value());
  EXPECT_EQ(found->erasure->entry, entry);
  EXPECT_EQ(found->erasure->tenant, kTenant);
  // The subject gets no new key; the refusal names the entry.
  absl::StatusOr<PayloadKey> again = ledger_->payload_keys().GetOrCreate(
      kTenant, "annotator:jane", kNewYear2026Ns);
  EXPECT_TRUE(absl::IsFailedPrecondition(again.status())) << again.status();
  EXPECT_NE(again.status().message().find(StrCat("entry ", entry)),
            std::string::npos)
      << again.status();
  // Others are untouched.
  EXPECT_EQ(Key("annotator:john").key, kept.key);
  // The key's bytes are in no record any more.
  for (const auto& [k, v] : Records()) {
    EXPECT_EQ(v.find(std::string(crypto::AsView(key.key))), std::string::npos);
  }
  // Reopened (and fully re-verified), it stays erased.
  ASSERT_TRUE(Reopen().ok());
  found = ledger_->payload_keys().Find(key.key_id);
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->key.has_value());
  ASSERT_TRUE(found->erasure.has_value());
  EXPECT_EQ(found->erasure->entry, entry);
}

TEST_F(ShredKeysTest, KeyErasedIsRefusedForKeysNotHeldOrErasedAlready) {
  const PayloadKey key = Key("annotator:jane");
  const PayloadKey other = Key("annotator:jane", "other-co");
  PayloadKeyId unknown{};
  unknown[0] = 7;
  EXPECT_TRUE(absl::IsNotFound(Erase(unknown, 1).status));
  // A key of another tenant is not held for this one.
  AppendResult cross = Erase(other.key_id, 2);
  EXPECT_TRUE(absl::IsNotFound(cross.status)) << cross.status;
  ASSERT_TRUE(Erase(key.key_id, 3).status.ok());
  AppendResult twice = Erase(key.key_id, 4);
  EXPECT_TRUE(absl::IsFailedPrecondition(twice.status)) << twice.status;
  // Only a node key writes key.erased.
  AppendResult by_emitter =
      AppendOne(Batch({Erased(kTenant, other.key_id, 5)}, emitter_key_));
  EXPECT_TRUE(absl::IsPermissionDenied(by_emitter.status)) << by_emitter.status;
  // A reason is required.
  AppendResult no_reason =
      AppendOne(Batch({Erased("other-co", other.key_id, 6, "")}, node_key_));
  EXPECT_TRUE(absl::IsInvalidArgument(no_reason.status)) << no_reason.status;
  EXPECT_TRUE(ledger_->payload_keys().Find(other.key_id)->key.has_value());
}

TEST_F(ShredKeysTest, OneGroupErasesAKeyOnce) {
  const PayloadKey key = Key("annotator:jane");
  VerifiedBatch first = Batch({Erased(kTenant, key.key_id, 1)}, node_key_);
  VerifiedBatch second = Batch({Erased(kTenant, key.key_id, 2)}, node_key_);
  const VerifiedBatch* group[] = {&first, &second};
  GroupResult g = ledger_->Append(group, kNewYear2026Ns);
  ASSERT_TRUE(g.status.ok()) << g.status;
  EXPECT_TRUE(g.batches[0].status.ok()) << g.batches[0].status;
  EXPECT_TRUE(absl::IsFailedPrecondition(g.batches[1].status))
      << g.batches[1].status;
  EXPECT_EQ(ledger_->payload_keys().Find(key.key_id)->erasure->entry,
            g.batches[0].entries[0].index);
}

TEST_F(ShredKeysTest, AKeyRestoredBesideItsErasureIsDestroyedOnOpen) {
  const PayloadKey key = Key("annotator:jane");
  const std::string record = RecordOf(key);
  ASSERT_TRUE(Reopen().ok());
  AppendResult r = Erase(key.key_id, 1);
  ASSERT_TRUE(r.status.ok()) << r.status;
  // The family as an old copy has it: the key, and no erasure record.
  Resurrect(key, record);
  ASSERT_TRUE(OpenWith(Warned(OpenCheck::kFull)).ok());
  absl::StatusOr<PayloadKeyLookup> found =
      ledger_->payload_keys().Find(key.key_id);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_FALSE(found->key.has_value());
  ASSERT_TRUE(found->erasure.has_value());
  EXPECT_EQ(found->erasure->entry, r.entries[0].index);
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_NE(warnings_[0].find(PayloadKeyIdHex(key.key_id)), std::string::npos)
      << warnings_[0];
  EXPECT_NE(warnings_[0].find(StrCat("entry ", r.entries[0].index)),
            std::string::npos)
      << warnings_[0];
  // Once is enough.
  warnings_.clear();
  ASSERT_TRUE(OpenWith(Warned(OpenCheck::kFull)).ok());
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(ShredKeysTest, ATailOpenDestroysKeysOfErasuresAfterTheCheckpoint) {
  const PayloadKey key = Key("annotator:jane");
  const std::string record = RecordOf(key);
  ASSERT_TRUE(Reopen().ok());
  Checkpoint();
  ASSERT_TRUE(Erase(key.key_id, 1).status.ok());
  Resurrect(key, record);
  ASSERT_TRUE(OpenWith(Warned(OpenCheck::kTail)).ok());
  ASSERT_FALSE(ledger_->fully_checked());
  EXPECT_FALSE(ledger_->payload_keys().Find(key.key_id)->key.has_value());
  EXPECT_EQ(warnings_.size(), 1u);
}

TEST_F(ShredKeysTest, ATailOpenDestroysKeysWhoseErasureIsRecorded) {
  const PayloadKey key = Key("annotator:jane");
  const std::string record = RecordOf(key);
  ASSERT_TRUE(Reopen().ok());
  ASSERT_TRUE(Erase(key.key_id, 1).status.ok());
  Checkpoint();  // the erasure is below the tail
  // The key's record back, its erasure record kept.
  WithStore([&](Store& store) {
    rocksdb::WriteBatch batch;
    batch.Put(store.handle(Cf::kShredKeys),
              std::string("k") + std::string(crypto::AsView(key.key_id)),
              record);
    ASSERT_TRUE(store.Write(&batch).ok());
  });
  ASSERT_TRUE(OpenWith(Warned(OpenCheck::kTail)).ok());
  EXPECT_FALSE(ledger_->payload_keys().Find(key.key_id)->key.has_value());
  EXPECT_EQ(warnings_.size(), 1u);
}

// Below the last checkpoint, with its erasure record gone too, a tail open
// does not read the key.erased entry: the scrub's pass destroys the key.
TEST_F(ShredKeysTest, TheScrubDestroysKeysATailOpenCouldNotSee) {
  const PayloadKey key = Key("annotator:jane");
  const std::string record = RecordOf(key);
  ASSERT_TRUE(Reopen().ok());
  ASSERT_TRUE(Erase(key.key_id, 1).status.ok());
  Checkpoint();
  Resurrect(key, record);
  ASSERT_TRUE(OpenWith(Warned(OpenCheck::kTail)).ok());
  EXPECT_TRUE(ledger_->payload_keys().Find(key.key_id)->key.has_value());
  EXPECT_TRUE(warnings_.empty());
  ASSERT_TRUE(ledger_->Scrub([](uint64_t, uint64_t) { return true; }).ok());
  EXPECT_FALSE(ledger_->payload_keys().Find(key.key_id)->key.has_value());
  EXPECT_EQ(warnings_.size(), 1u);
  // Purged with the scrub's snapshot released, which would have pinned it.
  const std::vector<std::string> left =
      FilesHolding(crypto::AsView(key.key), /*wait_for_none=*/true);
  EXPECT_TRUE(left.empty()) << "still in " << left.front();
}

// A whole database from before the erasure, restored behind the rollback
// guard (the last checkpoint this log signed, kept outside the database):
// refused, so the key in it is never served.
TEST_F(ShredKeysTest, AnOldDatabaseBehindTheRollbackGuardIsRefused) {
  const PayloadKey key = Key("annotator:jane");
  ledger_.reset();
  const std::string backup = dir_ + ".backup";
  std::filesystem::copy(dir_, backup, std::filesystem::copy_options::recursive);
  ASSERT_TRUE(Reopen().ok());
  ASSERT_TRUE(Erase(key.key_id, 1).status.ok());
  Checkpoint();  // signed: the node's guard now holds this head
  const Head signed_head = ledger_->head();
  ledger_.reset();
  std::filesystem::remove_all(dir_);
  std::filesystem::rename(backup, dir_);
  LedgerOptions options = Options();
  options.signed_head = ledger::Checkpoint{
      testing::kOrigin, signed_head.size, signed_head.root, {}};
  absl::Status s = OpenWith(options);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_EQ(ledger_, nullptr);
}

TEST_F(ShredKeysTest, PurgeLeavesNoCopyOfAnErasedKeyInTheDatabaseFiles) {
  const PayloadKey key = Key("annotator:jane");
  const std::string_view secret = crypto::AsView(key.key);
  ASSERT_TRUE(AppendOne(Batch({Annotation(1)}, emitter_key_)).status.ok());
  ASSERT_TRUE(ledger_->TEST_Flush().ok());
  ASSERT_FALSE(FilesHolding(secret, false).empty())
      << "the test sees no key bytes";
  ASSERT_TRUE(Erase(key.key_id, 1).status.ok());
  ASSERT_TRUE(ledger_->PurgeErasedKeys().ok());
  const std::vector<std::string> left = FilesHolding(secret, true);
  EXPECT_TRUE(left.empty()) << "still in " << left.front();
  // Everything else is as it was.
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(ledger_->head().size, 4u);
}

}  // namespace
}  // namespace ledger
