#pragma once

// Payload keys: the per-data-subject keys under which emitters encrypt event
// payloads, and their destruction (crypto-shredding; ledger/FORMAT.md
// sections 3.4 and 8.8). They live in the shred_keys column family
// (ledger/schema.h), which holds secrets no entry holds: it is not derived
// from the entries and has no digest. The subject's id is personal data
// too, so it is stored only as HMAC-SHA-256 under a per-ledger secret kept
// in the same family.
//
// A key is created by GetOrCreate (its own synced write) and destroyed only
// by the key.erased entry that names it: the Ledger adds AddErasure's
// records to that entry's WriteBatch, and re-applies every erasure it reads
// back from its entries (EnforceErasures) at open and in the scrub, so a
// key restored from an old copy of the family is destroyed again.
//
// Thread-safe: every method may be called from any thread, concurrently
// with the ledger's appends.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "base/sync.h"
#include "crypto/aead.h"
#include "ledger/payload.h"
#include "rocksdb/write_batch.h"

namespace ledger {

class Store;

// A key the ledger holds.
struct PayloadKey {
  PayloadKeyId key_id{};
  std::string tenant;
  crypto::AeadKey key{};
  int64_t created_at_ns = 0;
};

// The destruction of a key, by the key.erased entry `entry`.
struct PayloadKeyErasure {
  PayloadKeyId key_id{};
  std::string tenant;
  uint64_t entry = 0;
  friend bool operator==(const PayloadKeyErasure&,
                         const PayloadKeyErasure&) = default;
};

// What the ledger knows of a key id: held (`key`), erased (`erasure`), or
// neither (never created here).
struct PayloadKeyLookup {
  std::optional<PayloadKey> key;
  std::optional<PayloadKeyErasure> erasure;
};

// InvalidArgument naming `field` unless `subject` is 1 to 1024 bytes of
// UTF-8 without control characters (the rules of an event's text fields).
absl::Status CheckDataSubject(std::string_view subject,
                              std::string_view field = "data_subject");

class ShredKeys {
 public:
  explicit ShredKeys(Store& store) : store_(store) {}

  // The key of (tenant, subject), created with a fresh random key and key
  // id on the first call (one synced write; the same key afterwards).
  // FailedPrecondition naming the key.erased entry if it was erased: a
  // subject whose key was erased gets no new one.
  absl::StatusOr<PayloadKey> GetOrCreate(std::string_view tenant,
                                         std::string_view subject,
                                         int64_t now_ns);

  // The key of (tenant, subject) without creating one: NotFound if there
  // is none; erased keys come back with `erasure` set.
  absl::StatusOr<PayloadKeyLookup> FindForSubject(
      std::string_view tenant, std::string_view subject) const;

  // What the ledger holds for `key_id`.
  absl::StatusOr<PayloadKeyLookup> Find(const PayloadKeyId& key_id) const;

  // Adds to `batch` the destruction of the key: its record deleted, the
  // erasure recorded.
  void AddErasure(const PayloadKeyErasure& erasure,
                  rocksdb::WriteBatch* batch) const;

  // Adds to `batch` the removal of the erasure `erasure` records (for
  // Ledger::DiscardAfter, which discards its key.erased entry): its erasure
  // record and the data subject's record naming the key are deleted. The
  // key itself stays destroyed; afterwards it reads as neither held nor
  // erased, and the subject gets a new key. DataLoss if the family records
  // the key's erasure by another entry.
  absl::Status AddErasureRemoval(const PayloadKeyErasure& erasure,
                                 rocksdb::WriteBatch* batch) const;

  // Every erasure recorded in the family, in key id order.
  absl::StatusOr<std::vector<PayloadKeyErasure>> ListErasures() const;

  // Makes `erasures` (read back from key.erased entries) hold: deletes every
  // key they name that is still held and records those not recorded, in
  // one synced write. Returns the erasures whose key was still held (each
  // deserves a warning: a key came back, from an old backup or a write
  // behind the ledger's back). Nothing is purged: call Purge() after.
  absl::StatusOr<std::vector<PayloadKeyErasure>> EnforceErasures(
      absl::Span<const PayloadKeyErasure> erasures);

  // Flushes every column family (so the write-ahead logs that held
  // destroyed keys become obsolete and are deleted) and compacts the
  // shred_keys family to its last level (so no table file still holds
  // them). What it cannot reach is in docs/decisions.md: file system
  // blocks, backups, and table files a RocksDB snapshot still pins.
  absl::Status Purge();

 private:
  // The secret of the subject hashes; nullopt if none was made yet.
  absl::StatusOr<std::optional<std::string>> ReadSecret() const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<PayloadKeyLookup> FindSubjectLocked(
      std::string_view tenant, std::string_view subject) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Store& store_;
  // Serialises key creation (check, then create) and guards the cache.
  mutable Mutex mu_;
  mutable std::optional<std::string> secret_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ledger
