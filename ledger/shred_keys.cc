#include "ledger/shred_keys.h"

#include <algorithm>

#include "base/status_macros.h"
#include "base/strings.h"
#include "ledger/codec.h"
#include "ledger/store.h"
#include "rocksdb/db.h"

namespace ledger {
namespace {

// Keys of the shred_keys family (ledger/schema.h).
constexpr std::string_view kSecretKey = "h";
constexpr char kSubjectPrefix = 's';
constexpr char kKeyPrefix = 'k';
constexpr char kErasedPrefix = 'e';
constexpr size_t kSecretSize = 32;
constexpr size_t kMaxSubjectBytes = 1024;

std::string RecordKey(char prefix, std::string_view rest) {
  std::string key(1, prefix);
  key.append(rest);
  return key;
}

std::string KeyRecordKey(const PayloadKeyId& id) {
  return RecordKey(kKeyPrefix, crypto::AsView(id));
}
std::string ErasedRecordKey(const PayloadKeyId& id) {
  return RecordKey(kErasedPrefix, crypto::AsView(id));
}

// The subject hash: HMAC-SHA-256(secret, tenant || 0x00 || subject). A
// tenant holds no zero byte, so (tenant, subject) pairs never collide.
std::string SubjectRecordKey(std::string_view secret, std::string_view tenant,
                             std::string_view subject) {
  std::string message(tenant);
  message.push_back('\0');
  message.append(subject);
  const crypto::Hash mac = crypto::HmacSha256(secret, message);
  crypto::Wipe(message);
  return RecordKey(kSubjectPrefix, crypto::AsView(mac));
}

std::string EncodeKey(const PayloadKey& key) {
  Encoder e;
  e.PutU8(1);  // version
  e.PutBytes(key.tenant);
  e.PutI64(key.created_at_ns);
  e.PutRaw(crypto::AsView(key.key));
  return e.Take();
}

std::string EncodeErasure(const PayloadKeyErasure& erasure) {
  Encoder e;
  e.PutU8(1);  // version
  e.PutBytes(erasure.tenant);
  e.PutU64(erasure.entry);
  return e.Take();
}

absl::Status Corrupt(std::string_view what, const PayloadKeyId& id,
                     const absl::Status& cause) {
  return absl::DataLossError(StrCat("the shred_keys record of ", what, " ",
                                    PayloadKeyIdHex(id),
                                    " is corrupt: ", cause.message()));
}

absl::StatusOr<PayloadKey> DecodeKey(const PayloadKeyId& id,
                                     std::string_view bytes) {
  absl::StatusOr<PayloadKey> key = [&]() -> absl::StatusOr<PayloadKey> {
    Decoder d(bytes);
    PayloadKey key;
    key.key_id = id;
    LEDGER_ASSIGN_OR_RETURN(uint8_t version, d.GetU8("version"));
    if (version != 1) return absl::InvalidArgumentError("unknown version");
    LEDGER_ASSIGN_OR_RETURN(std::string_view tenant, d.GetBytes("tenant", 128));
    key.tenant = std::string(tenant);
    LEDGER_ASSIGN_OR_RETURN(key.created_at_ns, d.GetI64("created_at"));
    LEDGER_ASSIGN_OR_RETURN(std::string_view raw,
                            d.GetRaw("key", crypto::kAeadKeySize));
    std::copy(raw.begin(), raw.end(), key.key.begin());
    LEDGER_RETURN_IF_ERROR(d.Finish("payload key record"));
    return key;
  }();
  if (!key.ok()) return Corrupt("payload key", id, key.status());
  return key;
}

absl::StatusOr<PayloadKeyErasure> DecodeErasure(const PayloadKeyId& id,
                                                std::string_view bytes) {
  absl::StatusOr<PayloadKeyErasure> erasure =
      [&]() -> absl::StatusOr<PayloadKeyErasure> {
    Decoder d(bytes);
    PayloadKeyErasure erasure;
    erasure.key_id = id;
    LEDGER_ASSIGN_OR_RETURN(uint8_t version, d.GetU8("version"));
    if (version != 1) return absl::InvalidArgumentError("unknown version");
    LEDGER_ASSIGN_OR_RETURN(std::string_view tenant, d.GetBytes("tenant", 128));
    erasure.tenant = std::string(tenant);
    LEDGER_ASSIGN_OR_RETURN(erasure.entry, d.GetU64("entry"));
    LEDGER_RETURN_IF_ERROR(d.Finish("erasure record"));
    return erasure;
  }();
  if (!erasure.ok()) return Corrupt("the erasure of key", id, erasure.status());
  return erasure;
}

absl::StatusOr<PayloadKeyId> KeyIdOfValue(std::string_view value) {
  if (value.size() != kPayloadKeyIdSize) {
    return absl::DataLossError(StrCat("a shred_keys subject record has ",
                                      value.size(), " bytes, not a ",
                                      kPayloadKeyIdSize, "-byte key id"));
  }
  return crypto::ToArray<kPayloadKeyIdSize>(value, "key id");
}

absl::Status ErasedError(const PayloadKeyErasure& erasure) {
  return absl::FailedPreconditionError(
      StrCat("the data subject's payload key ", PayloadKeyIdHex(erasure.key_id),
             " was erased by the key.erased entry ", erasure.entry,
             "; its personal data is unreadable for good and it gets no new "
             "key"));
}

// Length of the UTF-8 sequence at s[i] (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0 if it is invalid there.
size_t Utf8Length(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t b = byte(i);
  if (b < 0x80) return 1;
  size_t n = 0;
  uint32_t cp = 0;
  if (b >= 0xc2 && b <= 0xdf) {
    n = 2;
    cp = b & 0x1f;
  } else if (b >= 0xe0 && b <= 0xef) {
    n = 3;
    cp = b & 0x0f;
  } else if (b >= 0xf0 && b <= 0xf4) {
    n = 4;
    cp = b & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
      (n == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
    return 0;
  }
  // C1 controls U+0080..U+009F.
  if (n == 2 && cp <= 0x9f) return 0;
  return n;
}

}  // namespace

absl::Status CheckDataSubject(std::string_view subject,
                              std::string_view field) {
  if (subject.empty()) {
    return absl::InvalidArgumentError(
        StrCat(field, ": must not be empty (the data subject's id)"));
  }
  if (subject.size() > kMaxSubjectBytes) {
    return absl::InvalidArgumentError(StrCat(field, ": ", subject.size(),
                                             " bytes exceed the limit of ",
                                             kMaxSubjectBytes));
  }
  for (size_t i = 0; i < subject.size();) {
    const uint8_t b = static_cast<uint8_t>(subject[i]);
    const size_t n = Utf8Length(subject, i);
    if (n == 0 || b < 0x20 || b == 0x7f) {
      return absl::InvalidArgumentError(StrCat(
          field, ": must be UTF-8 without control characters (byte ", i, ")"));
    }
    i += n;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> ShredKeys::ReadSecret() const {
  if (secret_.has_value()) return secret_;
  LEDGER_ASSIGN_OR_RETURN(std::optional<std::string> secret,
                          store_.Get(Cf::kShredKeys, kSecretKey));
  if (!secret.has_value()) return std::nullopt;
  if (secret->size() != kSecretSize) {
    return absl::DataLossError(StrCat("the shred_keys subject-hash secret has ",
                                      secret->size(), " bytes, not ",
                                      kSecretSize));
  }
  secret_ = *secret;
  return secret_;
}

absl::StatusOr<PayloadKeyLookup> ShredKeys::FindSubjectLocked(
    std::string_view tenant, std::string_view subject) const {
  LEDGER_ASSIGN_OR_RETURN(std::optional<std::string> secret, ReadSecret());
  if (!secret.has_value()) {
    return absl::NotFoundError("no payload key was ever created here");
  }
  LEDGER_ASSIGN_OR_RETURN(
      std::optional<std::string> id_bytes,
      store_.Get(Cf::kShredKeys, SubjectRecordKey(*secret, tenant, subject)));
  if (!id_bytes.has_value()) {
    return absl::NotFoundError(
        StrCat("tenant '", tenant, "' has no payload key for this subject"));
  }
  LEDGER_ASSIGN_OR_RETURN(PayloadKeyId id, KeyIdOfValue(*id_bytes));
  LEDGER_ASSIGN_OR_RETURN(PayloadKeyLookup lookup, Find(id));
  if (!lookup.key.has_value() && !lookup.erasure.has_value()) {
    return absl::DataLossError(StrCat("the subject record names payload key ",
                                      PayloadKeyIdHex(id),
                                      ", which is neither held nor erased"));
  }
  return lookup;
}

absl::StatusOr<PayloadKeyLookup> ShredKeys::FindForSubject(
    std::string_view tenant, std::string_view subject) const {
  MutexLock lock(&mu_);
  return FindSubjectLocked(tenant, subject);
}

absl::StatusOr<PayloadKey> ShredKeys::GetOrCreate(std::string_view tenant,
                                                  std::string_view subject,
                                                  int64_t now_ns) {
  MutexLock lock(&mu_);
  absl::StatusOr<PayloadKeyLookup> found = FindSubjectLocked(tenant, subject);
  if (found.ok()) {
    if (found->erasure.has_value()) return ErasedError(*found->erasure);
    return *found->key;
  }
  if (!absl::IsNotFound(found.status())) return found.status();

  rocksdb::WriteBatch batch;
  rocksdb::ColumnFamilyHandle* cf = store_.handle(Cf::kShredKeys);
  LEDGER_ASSIGN_OR_RETURN(std::optional<std::string> secret, ReadSecret());
  const bool new_secret = !secret.has_value();
  if (new_secret) {
    secret = crypto::SecureRandomBytes(kSecretSize);
    batch.Put(cf, kSecretKey, *secret);
  }
  PayloadKey key;
  key.tenant = std::string(tenant);
  key.created_at_ns = now_ns;
  key.key = crypto::NewAeadKey();
  // A random id, not derived from the subject: the entries that name it
  // (key.erased) say nothing about whom it belonged to.
  const std::string id_bytes = crypto::SecureRandomBytes(kPayloadKeyIdSize);
  LEDGER_ASSIGN_OR_RETURN(key.key_id,
                          crypto::ToArray<kPayloadKeyIdSize>(id_bytes, "id"));
  batch.Put(cf, SubjectRecordKey(*secret, tenant, subject), id_bytes);
  std::string record = EncodeKey(key);
  batch.Put(cf, KeyRecordKey(key.key_id), record);
  crypto::Wipe(record);
  LEDGER_RETURN_IF_ERROR(
      Annotate(store_.Write(&batch), "storing a new payload key"));
  if (new_secret) secret_ = *secret;
  return key;
}

absl::StatusOr<PayloadKeyLookup> ShredKeys::Find(
    const PayloadKeyId& key_id) const {
  PayloadKeyLookup lookup;
  LEDGER_ASSIGN_OR_RETURN(std::optional<std::string> erased,
                          store_.Get(Cf::kShredKeys, ErasedRecordKey(key_id)));
  if (erased.has_value()) {
    LEDGER_ASSIGN_OR_RETURN(lookup.erasure, DecodeErasure(key_id, *erased));
    return lookup;
  }
  LEDGER_ASSIGN_OR_RETURN(std::optional<std::string> held,
                          store_.Get(Cf::kShredKeys, KeyRecordKey(key_id)));
  if (held.has_value()) {
    LEDGER_ASSIGN_OR_RETURN(lookup.key, DecodeKey(key_id, *held));
    crypto::Wipe(*held);
  }
  return lookup;
}

void ShredKeys::AddErasure(const PayloadKeyErasure& erasure,
                           rocksdb::WriteBatch* batch) const {
  rocksdb::ColumnFamilyHandle* cf = store_.handle(Cf::kShredKeys);
  batch->Delete(cf, KeyRecordKey(erasure.key_id));
  batch->Put(cf, ErasedRecordKey(erasure.key_id), EncodeErasure(erasure));
}

absl::Status ShredKeys::AddErasureRemoval(const PayloadKeyErasure& erasure,
                                          rocksdb::WriteBatch* batch) const {
  LEDGER_ASSIGN_OR_RETURN(PayloadKeyLookup found, Find(erasure.key_id));
  if (found.erasure.has_value() && found.erasure->entry != erasure.entry) {
    return absl::DataLossError(
        StrCat("shred_keys records the erasure of payload key ",
               PayloadKeyIdHex(erasure.key_id), " by entry ",
               found.erasure->entry, ", but entry ", erasure.entry,
               " is the key.erased entry that names it"));
  }
  rocksdb::ColumnFamilyHandle* cf = store_.handle(Cf::kShredKeys);
  batch->Delete(cf, ErasedRecordKey(erasure.key_id));
  // The subject records are keyed by a hash of the subject: find the one
  // that names the key (one scan of them; discards are rare).
  const std::string prefix(1, kSubjectPrefix);
  std::unique_ptr<rocksdb::Iterator> it =
      store_.NewIterator(Cf::kShredKeys, nullptr, /*fill_cache=*/false);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    if (it->value().ToStringView() == crypto::AsView(erasure.key_id)) {
      batch->Delete(cf, it->key());
    }
  }
  return FromRocks(it->status(), "reading payload key subject records");
}

absl::StatusOr<std::vector<PayloadKeyErasure>> ShredKeys::ListErasures() const {
  std::vector<PayloadKeyErasure> out;
  std::unique_ptr<rocksdb::Iterator> it = store_.NewIterator(Cf::kShredKeys);
  const std::string prefix(1, kErasedPrefix);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    const std::string_view key = it->key().ToStringView();
    if (key.size() != 1 + kPayloadKeyIdSize) {
      return absl::DataLossError(
          StrCat("shred_keys holds a malformed erasure record key (",
                 key.size(), " bytes)"));
    }
    LEDGER_ASSIGN_OR_RETURN(PayloadKeyId id, crypto::ToArray<kPayloadKeyIdSize>(
                                                 key.substr(1), "key id"));
    LEDGER_ASSIGN_OR_RETURN(PayloadKeyErasure erasure,
                            DecodeErasure(id, it->value().ToStringView()));
    out.push_back(std::move(erasure));
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "reading erasure records"));
  return out;
}

absl::StatusOr<std::vector<PayloadKeyErasure>> ShredKeys::EnforceErasures(
    absl::Span<const PayloadKeyErasure> erasures) {
  std::vector<PayloadKeyErasure> resurrected;
  rocksdb::WriteBatch batch;
  for (const PayloadKeyErasure& erasure : erasures) {
    LEDGER_ASSIGN_OR_RETURN(
        std::optional<std::string> held,
        store_.Get(Cf::kShredKeys, KeyRecordKey(erasure.key_id)));
    LEDGER_ASSIGN_OR_RETURN(
        std::optional<std::string> recorded,
        store_.Get(Cf::kShredKeys, ErasedRecordKey(erasure.key_id)));
    if (held.has_value()) {
      crypto::Wipe(*held);
      resurrected.push_back(erasure);
    }
    if (held.has_value() || recorded != EncodeErasure(erasure)) {
      AddErasure(erasure, &batch);
    }
  }
  if (batch.Count() > 0) {
    LEDGER_RETURN_IF_ERROR(
        Annotate(store_.Write(&batch), "destroying erased payload keys"));
  }
  return resurrected;
}

absl::Status ShredKeys::Purge() {
  rocksdb::DB* db = store_.db();
  std::vector<rocksdb::ColumnFamilyHandle*> all;
  for (int cf = 0; cf < static_cast<int>(Cf::kCount); ++cf) {
    all.push_back(store_.handle(static_cast<Cf>(cf)));
  }
  rocksdb::FlushOptions flush;
  flush.wait = true;
  flush.allow_write_stall = true;
  LEDGER_RETURN_IF_ERROR(
      FromRocks(db->Flush(flush, all), "flushing after a key erasure"));
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction =
      rocksdb::BottommostLevelCompaction::kForce;
  compact.exclusive_manual_compaction = false;
  return FromRocks(db->CompactRange(compact, store_.handle(Cf::kShredKeys),
                                    nullptr, nullptr),
                   "compacting shred_keys after a key erasure");
}

}  // namespace ledger
