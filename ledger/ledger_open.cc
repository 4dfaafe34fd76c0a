// Ledger::Open and Ledger::Scrub: what is stored, checked before it is
// served. See OpenCheck in ledger.h for what each mode covers and
// docs/decisions.md for why start-up checks the tail and a scrub the rest.

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "ledger/index_check.h"
#include "ledger/integrity.h"
#include "ledger/ledger.h"
#include "ledger/ledger_impl.h"
#include "ledger/merkle.h"
#include "ledger/schema.h"
#include "ledger/store.h"
#include "ledger/tile_tree.h"

namespace ledger {
namespace {

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out.append(sep);
    out.append(p);
  }
  return out;
}

constexpr std::string_view kRefuse =
    "; refusing to serve. Restore the data directory from a backup or a "
    "replica";

// What Open hands the new Ledger.
struct RecoveredState {
  HeadRecord head;
  TileTree tree;
  std::vector<KeyInfo> keys;
  IndexDigests digests;
  std::optional<StoredCheckpoint> latest_checkpoint;
  bool fully_checked = false;
  // The key.erased entries the check read (all of them after a full check).
  std::vector<PayloadKeyErasure> erasures;
};

absl::StatusOr<std::optional<StoredCheckpoint>> LastCheckpoint(
    const Store& store, const rocksdb::Snapshot* snapshot) {
  std::unique_ptr<rocksdb::Iterator> it =
      store.NewIterator(Cf::kCheckpoints, snapshot);
  it->SeekForPrev(CheckpointKey(~uint64_t{0}));
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "reading checkpoints"));
  if (!it->Valid() || it->key().size() != 9 || it->key()[0] != 'q') {
    return std::nullopt;
  }
  std::string_view v = it->value().ToStringView();
  const uint64_t sequence = ReadBe64(it->key().ToStringView().substr(1));
  if (v.size() < 8) {
    return absl::DataLossError(
        StrCat("checkpoint ", sequence, " record is truncated"));
  }
  return StoredCheckpoint{sequence, ReadBe64(v), std::string(v.substr(8))};
}

// Verifies a stored checkpoint's signatures and size; its root.
absl::StatusOr<Hash> CheckStoredCheckpoint(const StoredCheckpoint& cp,
                                           const LedgerOptions& options) {
  absl::StatusOr<VerifiedCheckpoint> vc =
      OpenCheckpoint(cp.note, options.checkpoint_verifiers, options.origin);
  if (!vc.ok()) {
    return absl::DataLossError(StrCat(
        "ledger verification failed: the stored checkpoint (sequence ",
        cp.sequence, ") does not verify: ", vc.status().message(), kRefuse));
  }
  if (vc->checkpoint.size != cp.size) {
    return absl::DataLossError(StrCat("ledger verification failed: checkpoint ",
                                      cp.sequence, " is stored under size ",
                                      cp.size, " but signs size ",
                                      vc->checkpoint.size, kRefuse));
  }
  return vc->checkpoint.root;
}

absl::StatusOr<HeadRecord> ReadHeadRecord(const Store& store,
                                          const rocksdb::Snapshot* snapshot) {
  LEDGER_ASSIGN_OR_RETURN(std::optional<std::string> value,
                          store.Get(Cf::kMeta, kMetaHeadKey, snapshot));
  if (!value.has_value()) return HeadRecord{0, crypto::EmptyRoot(), Hash{}, 0};
  return DecodeHeadRecord(*value);
}

absl::Status RollbackError(uint64_t size, const Checkpoint& guard) {
  return absl::DataLossError(StrCat(
      "the ledger holds ", size,
      " entries but this log already signed a "
      "checkpoint of size ",
      guard.size,
      " (kept outside the database as its rollback guard): entries [", size,
      ", ", guard.size,
      ") are lost, most likely with a damaged or truncated "
      "write-ahead log. Serving this ledger would sign a checkpoint that "
      "contradicts one already published",
      kRefuse));
}

// Compares the derived families with their digest record (format 2) and,
// when the entries' own digests are known, with those. On a mismatch
// locates the wrong records (DataLoss naming them) or, with
// options.rebuild_indexes, rebuilds them.
absl::StatusOr<IndexDigests> CheckDerived(
    Store& store, uint64_t size, const std::optional<IndexDigests>& record,
    const std::optional<IndexDigests>& from_entries,
    const std::vector<KeyInfo>* keys, const LedgerOptions& options,
    bool check_keys = true) {
  LEDGER_ASSIGN_OR_RETURN(IndexDigests stored, DigestDerivedFamilies(store));
  std::string differ;
  if (record.has_value()) {
    std::string d = DifferingFamilies(stored, *record);
    if (!d.empty()) differ = StrCat(d, " changed since the ledger wrote them");
  }
  if (differ.empty() && from_entries.has_value()) {
    std::string d = DifferingFamilies(stored, *from_entries);
    if (!d.empty()) differ = StrCat(d, " do not match the entries");
  }
  if (differ.empty() && !options.rebuild_indexes) return stored;
  if (keys == nullptr) {
    // Locating needs the keys the entries define: the caller scans.
    return absl::AbortedError(differ);
  }
  if (!differ.empty() && options.progress) {
    options.progress(StrCat("the derived families ", differ,
                            "; comparing them with the entries"));
  }
  LEDGER_ASSIGN_OR_RETURN(
      DerivedCheck check,
      CheckDerivedFamilies(store, size, *keys, options.rebuild_indexes,
                           check_keys));
  std::string list;
  for (const std::string& p : check.problems) list.append(StrCat("; ", p));
  if (check.wrong > check.problems.size()) {
    list.append(StrCat("; and ", check.wrong - check.problems.size(), " more"));
  }
  if (options.rebuild_indexes) {
    if (options.progress) {
      options.progress(
          check.wrong == 0
              ? std::string("the derived families match the entries")
              : StrCat("rebuilt ", check.wrong, " derived records", list));
    }
    return DigestDerivedFamilies(store);
  }
  if (check.wrong == 0) {
    // The digests disagree but every record is right: the digest record
    // itself is what is wrong. Still refuse: it was changed outside.
    list =
        "; every record matches the entries, so the digest record "
        "itself was altered";
  }
  return absl::DataLossError(
      StrCat("ledger verification failed: the derived families ", differ, list,
             "; refusing to serve. They are rebuilt from the entries by "
             "`ledger-node repair-indexes --data DIR`"));
}

absl::StatusOr<std::vector<KeyInfo>> LoadKeys(const Store& store) {
  std::vector<KeyInfo> keys;
  std::unique_ptr<rocksdb::Iterator> it = store.NewIterator(Cf::kKeys);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    LEDGER_ASSIGN_OR_RETURN(KeyInfo k,
                            DecodeKeyInfo(it->value().ToStringView()));
    keys.push_back(std::move(k));
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "reading key records"));
  return keys;
}

// Storage formats 1 and 2 stored key records of version 1, which lack
// what producers and rotation added. While upgrading, each stored record
// must be exactly the version-1 record of the key the entries define (so
// nothing changed behind the ledger's back), unless the indexes are being
// rebuilt anyway. Adds to `batch` the rewrite of every record in the
// current version; written only once the rest of the check has passed.
struct KeyUpgrade {
  crypto::MultisetHash stored;   // digest of the version-1 records
  crypto::MultisetHash written;  // and of the records that replace them
};
absl::StatusOr<KeyUpgrade> UpgradeKeyRecords(const Store& store,
                                             const std::vector<KeyInfo>& keys,
                                             const LedgerOptions& options,
                                             rocksdb::WriteBatch& batch) {
  absl::flat_hash_map<std::string, const KeyInfo*> derived;
  for (const KeyInfo& k : keys) {
    derived[std::string(crypto::AsView(k.key_id))] = &k;
  }
  KeyUpgrade out;
  std::vector<std::string> wrong;
  size_t found = 0;
  {
    std::unique_ptr<rocksdb::Iterator> it = store.NewIterator(Cf::kKeys);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string key = it->key().ToString();
      out.stored.Add(key, it->value().ToStringView());
      auto d = derived.find(key);
      if (d == derived.end() ||
          it->value().ToStringView() != EncodeKeyInfoV1(*d->second)) {
        wrong.push_back(crypto::HexEncode(key).substr(0, 16));
      } else {
        ++found;
      }
      batch.Delete(store.handle(Cf::kKeys), key);
    }
    LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "reading key records"));
  }
  if (found < derived.size()) {
    wrong.push_back(StrCat("(", derived.size() - found, " missing)"));
  }
  if (!wrong.empty() && !options.rebuild_indexes) {
    return absl::DataLossError(StrCat(
        "ledger verification failed while upgrading the storage format to ",
        kFormatVersion, ": the key records ", Join(wrong, ", "),
        " do not match the key entries", kRefuse,
        ". They are rebuilt from the entries by `ledger-node repair-indexes "
        "--data DIR`"));
  }
  for (const KeyInfo& k : keys) {
    const std::string id(crypto::AsView(k.key_id));
    const std::string value = EncodeKeyInfo(k);
    batch.Put(store.handle(Cf::kKeys), id, value);
    out.written.Add(id, value);
  }
  return out;
}

absl::StatusOr<RecoveredState> Recover(Store& store,
                                       const LedgerOptions& options,
                                       std::string_view format) {
  const bool format1 = format == kOldestFormatVersion;
  const bool upgrade = format != kFormatVersion;
  // Formats 1 and 2 stored key records of version 1.
  const bool upgrade_keys = format1 || format == "2";
  RecoveredState state;
  LEDGER_ASSIGN_OR_RETURN(state.head, ReadHeadRecord(store, nullptr));
  LEDGER_ASSIGN_OR_RETURN(state.latest_checkpoint,
                          LastCheckpoint(store, nullptr));
  std::optional<Hash> cp_root;
  if (state.latest_checkpoint.has_value()) {
    LEDGER_ASSIGN_OR_RETURN(
        cp_root, CheckStoredCheckpoint(*state.latest_checkpoint, options));
  }
  const uint64_t cp_size =
      state.latest_checkpoint.has_value() ? state.latest_checkpoint->size : 0;
  const std::optional<Checkpoint>& guard = options.signed_head;
  if (guard.has_value() && state.head.size < guard->size) {
    return RollbackError(state.head.size, *guard);
  }
  const std::optional<Head>& acked = options.acknowledged_head;
  if (acked.has_value() && state.head.size < acked->size) {
    return absl::DataLossError(StrCat(
        "the ledger holds ", state.head.size,
        " entries but this node acknowledged ", acked->size,
        " to its clients (recorded outside the database beside the rollback "
        "guard): acknowledged entries [",
        state.head.size, ", ", acked->size,
        ") are lost, most likely with a damaged or truncated write-ahead log",
        kRefuse));
  }
  if (cp_size > state.head.size) {
    return absl::DataLossError(
        StrCat("ledger verification failed: the last signed checkpoint covers ",
               cp_size, " entries but only ", state.head.size,
               " are stored: entries [", state.head.size, ", ", cp_size,
               ") are missing", kRefuse));
  }
  std::optional<IndexDigests> record;
  if (!format1) {
    LEDGER_ASSIGN_OR_RETURN(std::optional<std::string> value,
                            store.Get(Cf::kMeta, kMetaIndexDigestKey));
    if (!value.has_value()) {
      return absl::DataLossError(StrCat(
          "ledger verification failed: the index digest record is missing",
          kRefuse));
    }
    if (upgrade) {
      LEDGER_ASSIGN_OR_RETURN(record, DecodeIndexDigestsV2(*value));
    } else {
      LEDGER_ASSIGN_OR_RETURN(record, DecodeIndexDigests(*value));
    }
  }
  const bool full = options.open_check == OpenCheck::kFull || upgrade ||
                    options.rebuild_indexes ||
                    (options.open_check == OpenCheck::kAuto &&
                     state.head.size <= options.full_check_max_entries);

  ScanSpec spec;
  spec.store = &store;
  spec.end = state.head.size;
  spec.limits = options.limits;
  spec.progress = options.progress;
  spec.count_progress = options.verify_progress;
  spec.roots_at = {cp_size};
  if (guard.has_value()) spec.roots_at.push_back(guard->size);
  if (acked.has_value()) spec.roots_at.push_back(acked->size);
  if (!full) {
    // The tail: entries after the last checkpoint, on a tree whose stored
    // right edge at the checkpoint must give the signed root.
    spec.begin = cp_size;
    if (cp_size == state.head.size) spec.chain_before = state.head.chain_hash;
    LEDGER_ASSIGN_OR_RETURN(
        spec.tree,
        TileTree::Load(store, cp_size, /*at_head=*/cp_size == state.head.size));
    if (cp_root.has_value() && spec.tree.Root() != *cp_root) {
      return absl::DataLossError(StrCat(
          "ledger verification failed: the stored Merkle tree does not give "
          "the root of the signed checkpoint of size ",
          cp_size, kRefuse));
    }
  } else {
    spec.derive = true;
  }
  if (options.progress && spec.end > spec.begin) {
    options.progress(StrCat("verifying entries [", spec.begin, ", ", spec.end,
                            ")", full ? "" : " (after the last checkpoint)"));
  }
  if (options.verify_progress)
    options.verify_progress(0, spec.end - spec.begin);
  LEDGER_ASSIGN_OR_RETURN(ScanOutcome scan, ScanEntries(spec));
  if (options.verify_progress) {
    options.verify_progress(spec.end - spec.begin, spec.end - spec.begin);
  }
  LEDGER_RETURN_IF_ERROR(JudgeScan(
      spec, scan, ScanClaims{state.latest_checkpoint, cp_root, state.head}));
  // The root at `size`: recorded by the scan, or read from the tree below
  // the tail (which the checkpoint vouched for).
  auto root_at = [&](uint64_t size) -> absl::StatusOr<Hash> {
    for (const auto& [at, r] : scan.roots) {
      if (at == size) return r;
    }
    TileReader reader(store);
    return RootAt(reader, size);
  };
  if (guard.has_value()) {
    LEDGER_ASSIGN_OR_RETURN(Hash root, root_at(guard->size));
    if (root != guard->root) {
      return absl::DataLossError(StrCat(
          "the ledger's tree at size ", guard->size,
          " does not have the root of the checkpoint of that size this log "
          "signed (its rollback guard): the stored entries changed",
          kRefuse));
    }
  }
  if (acked.has_value()) {
    LEDGER_ASSIGN_OR_RETURN(Hash root, root_at(acked->size));
    if (root != acked->root) {
      return absl::DataLossError(StrCat(
          "the ledger's tree at size ", acked->size,
          " does not have the root this node acknowledged at that size "
          "(recorded beside its rollback guard): acknowledged entries changed",
          kRefuse));
    }
  }
  state.tree = std::move(scan.tree);
  if (full) {
    state.keys = std::move(scan.keys);
    rocksdb::WriteBatch batch;
    std::optional<IndexDigests> from_entries = scan.derived;
    std::optional<KeyUpgrade> keys_upgrade;
    if (upgrade) {
      // Formats before 4 have no index families: build them from the
      // entries (just verified), and hold them to the digests of what was
      // built and to the entries' own, as the other families.
      LEDGER_ASSIGN_OR_RETURN(
          IndexDigests built,
          BuildIndexFamilies(store, state.head.size, options.progress));
      if (record.has_value()) {
        record->by_subject = built.by_subject;
        record->by_type = built.by_type;
        record->by_run = built.by_run;
        record->lineage = built.lineage;
      }
    }
    if (upgrade_keys) {
      // The old key records were just checked against the entries; the
      // other families are checked below as usual.
      LEDGER_ASSIGN_OR_RETURN(
          keys_upgrade, UpgradeKeyRecords(store, state.keys, options, batch));
      if (record.has_value()) record->keys = keys_upgrade->stored;
      if (from_entries.has_value()) from_entries->keys = keys_upgrade->stored;
    }
    LEDGER_ASSIGN_OR_RETURN(
        state.digests,
        CheckDerived(store, state.head.size, record, from_entries, &state.keys,
                     options, /*check_keys=*/!upgrade_keys));
    if (upgrade) {
      if (upgrade_keys) state.digests.keys = keys_upgrade->written;
      batch.Put(store.handle(Cf::kMeta), std::string(kMetaIndexDigestKey),
                EncodeIndexDigests(state.digests));
      batch.Put(store.handle(Cf::kMeta), std::string(kMetaFormatKey),
                std::string(kFormatVersion));
      LEDGER_RETURN_IF_ERROR(store.Write(&batch));
      if (options.progress) {
        options.progress(
            StrCat("upgraded the storage format to ", kFormatVersion));
      }
    }
  } else {
    // The writer's digests stand for the large families until
    // CheckDerivedDigests (a scan of each) confirms them; the small keys
    // family is checked now, since the key registry is loaded from it.
    state.digests = *record;
    crypto::MultisetHash keys;
    {
      std::unique_ptr<rocksdb::Iterator> it =
          store.NewIterator(Cf::kKeys, nullptr, /*fill_cache=*/false);
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        keys.Add(it->key().ToStringView(), it->value().ToStringView());
      }
      LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "reading key records"));
    }
    if (keys != record->keys) {
      // Something differs: scan everything to say what.
      LedgerOptions full_options = options;
      full_options.open_check = OpenCheck::kFull;
      return Recover(store, full_options, format);
    }
    LEDGER_ASSIGN_OR_RETURN(state.keys, LoadKeys(store));
  }
  state.head.last_received_at_ns =
      std::max(state.head.last_received_at_ns, scan.last_received_at_ns);
  state.fully_checked = full;
  state.erasures = std::move(scan.erasures);
  if (options.progress && state.head.size > 0) {
    options.progress(StrCat("verified ", full ? "all " : "", state.head.size,
                            " entries",
                            full ? "" : " (the rest awaits the scrub)"));
  }
  return state;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Ledger>> Ledger::Open(const std::string& dir,
                                                     LedgerOptions options) {
  if (options.origin.empty() || !crypto::IsValidKeyName(options.origin)) {
    return absl::InvalidArgumentError(
        "the ledger origin must be a non-empty name without spaces or '+'");
  }
  // A Store opened on its own (peers, tests) gets the ledger's default.
  static_assert(StoreOptions{}.block_cache_bytes == kDefaultBlockCacheBytes);
  StoreOptions store_options;
  store_options.block_cache_bytes = options.block_cache_bytes;
  store_options.env = options.env;
  LEDGER_ASSIGN_OR_RETURN(std::unique_ptr<Store> store,
                          Store::Open(dir, store_options));

  LEDGER_ASSIGN_OR_RETURN(std::optional<std::string> origin,
                          store->Get(Cf::kMeta, kMetaOriginKey));
  if (!origin.has_value()) {
    // New, unless something is already there.
    std::unique_ptr<rocksdb::Iterator> it = store->NewIterator(Cf::kEntries);
    it->SeekToFirst();
    LEDGER_ASSIGN_OR_RETURN(std::optional<std::string> head,
                            store->Get(Cf::kMeta, kMetaHeadKey));
    if (it->Valid() || head.has_value()) {
      return absl::DataLossError(StrCat(
          "the database in ", dir, " holds entries but no origin", kRefuse));
    }
    rocksdb::WriteBatch batch;
    batch.Put(store->handle(Cf::kMeta), std::string(kMetaOriginKey),
              options.origin);
    batch.Put(store->handle(Cf::kMeta), std::string(kMetaFormatKey),
              std::string(kFormatVersion));
    batch.Put(store->handle(Cf::kMeta), std::string(kMetaIndexDigestKey),
              EncodeIndexDigests(IndexDigests{}));
    LEDGER_RETURN_IF_ERROR(store->Write(&batch));
  } else if (*origin != options.origin) {
    return absl::FailedPreconditionError(
        StrCat("the database in ", dir, " holds the ledger of origin '",
               *origin, "', not '", options.origin, "'"));
  }
  LEDGER_ASSIGN_OR_RETURN(std::optional<std::string> format,
                          store->Get(Cf::kMeta, kMetaFormatKey));
  if (format != std::string(kFormatVersion) && format != "3" && format != "2" &&
      format != std::string(kOldestFormatVersion)) {
    return absl::FailedPreconditionError(
        StrCat("the database in ", dir, " has storage format '",
               format.value_or("(none)"), "'; this build reads formats ",
               kOldestFormatVersion, " to ", kFormatVersion));
  }
  LEDGER_ASSIGN_OR_RETURN(RecoveredState state,
                          Recover(*store, options, *format));
  std::unique_ptr<Ledger> ledger(
      new Ledger(std::move(options), std::move(store)));
  ledger->fully_checked_ = state.fully_checked;
  ledger->opened_format_ = *format;
  for (const KeyInfo& key : state.keys) ledger->keys_->Put(key);
  Impl& im = *ledger->impl_;
  im.tree = std::move(state.tree);
  im.last_received_at_ns = state.head.last_received_at_ns;
  im.digests = state.digests;
  const Head head{state.head.size, state.head.root, state.head.chain_hash};
  {
    MutexLock lock(&im.mu);
    im.head = head;
    im.written = head;
    im.latest_checkpoint = std::move(state.latest_checkpoint);
  }
  // Before anything is served: no key a key.erased entry names is held.
  LEDGER_RETURN_IF_ERROR(
      ledger->EnforceErasures(state.erasures, state.fully_checked));
  // Risk grades are state like the indexes: recomputed from the entries,
  // and each entry's stored grade must be what its policy gives.
  LEDGER_RETURN_IF_ERROR(ledger->LoadRisk(head.size, /*check=*/true));
  return ledger;
}

absl::Status Ledger::EnforceErasures(std::vector<PayloadKeyErasure> found,
                                     bool complete) const {
  const auto warn = [&](std::string_view line) {
    if (options_.warn) {
      options_.warn(line);
    } else if (options_.progress) {
      options_.progress(line);
    }
  };
  LEDGER_ASSIGN_OR_RETURN(std::vector<PayloadKeyErasure> recorded,
                          shred_->ListErasures());
  absl::flat_hash_map<std::string, size_t> by_id;
  for (size_t i = 0; i < found.size(); ++i) {
    by_id[std::string(crypto::AsView(found[i].key_id))] = i;
  }
  for (const PayloadKeyErasure& r : recorded) {
    auto it = by_id.find(std::string(crypto::AsView(r.key_id)));
    if (it != by_id.end()) continue;
    if (complete) {
      // Every entry was read: no key.erased entry names this key. The key
      // is gone all the same (it cannot be brought back), so say so and
      // go on.
      warn(StrCat("shred_keys records the erasure of payload key ",
                  PayloadKeyIdHex(r.key_id), " (tenant '", r.tenant,
                  "') by entry ", r.entry,
                  ", but no key.erased entry of the ledger names it; it was "
                  "written behind the ledger's back"));
    }
    found.push_back(r);
  }
  LEDGER_ASSIGN_OR_RETURN(std::vector<PayloadKeyErasure> resurrected,
                          shred_->EnforceErasures(found));
  for (const PayloadKeyErasure& r : resurrected) {
    warn(StrCat("payload key ", PayloadKeyIdHex(r.key_id), " of tenant '",
                r.tenant, "' was erased by the key.erased entry ", r.entry,
                " but was held again (restored from an older copy of the "
                "database?); destroyed it again"));
  }
  if (!resurrected.empty()) {
    LEDGER_RETURN_IF_ERROR(shred_->Purge());
  }
  return absl::OkStatus();
}

absl::Status Ledger::CheckDerivedDigests() const {
  Store::Snapshot snapshot(*store_);
  LEDGER_ASSIGN_OR_RETURN(
      std::optional<std::string> value,
      store_->Get(Cf::kMeta, kMetaIndexDigestKey, snapshot.get()));
  if (!value.has_value()) {
    return absl::DataLossError(
        StrCat("ledger verification failed: the index digest record is missing",
               kRefuse));
  }
  LEDGER_ASSIGN_OR_RETURN(IndexDigests record, DecodeIndexDigests(*value));
  LEDGER_ASSIGN_OR_RETURN(IndexDigests stored,
                          DigestDerivedFamilies(*store_, snapshot.get()));
  if (std::string d = DifferingFamilies(stored, record); !d.empty()) {
    return absl::DataLossError(StrCat(
        "ledger verification failed: the derived families ", d,
        " changed since the ledger wrote them; refusing to serve. Restart the "
        "node to have the records located, and rebuild them from the "
        "entries with `ledger-node repair-indexes --data DIR`"));
  }
  return absl::OkStatus();
}

namespace {

// Walks the stored checkpoints in issue order (their sizes never decrease)
// as the scrub's entry scan reaches their sizes: each signature verified,
// each root compared with the root the entries give. Holds one checkpoint
// at a time, however many are stored.
class CheckpointWalker : public RootVisitor {
 public:
  CheckpointWalker(const Store& store, const rocksdb::Snapshot* snapshot,
                   const LedgerOptions& options)
      : options_(options),
        it_(store.NewIterator(Cf::kCheckpoints, snapshot,
                              /*fill_cache=*/false)) {
    it_->Seek("q");
    Load();
  }

  uint64_t next_size() const override {
    return error_.ok() && current_.has_value() ? current_->size : ~uint64_t{0};
  }

  void Visit(uint64_t size, const Hash& root) override {
    if (current_->size != size) {
      error_ = absl::DataLossError(
          StrCat("ledger verification failed: checkpoint ", current_->sequence,
                 " (size ", current_->size, ") is stored after a larger one",
                 kRefuse));
      return;
    }
    absl::StatusOr<Hash> signed_root =
        CheckStoredCheckpoint(*current_, options_);
    if (!signed_root.ok()) {
      error_ = signed_root.status();
      return;
    }
    if (*signed_root != root && !mismatch_.has_value()) {
      // Judged with the scan's other findings, which say which entries.
      mismatch_ = Mismatch{*current_, *signed_root, root};
    }
    last_ = *current_;
    last_root_ = root;
    it_->Next();
    Load();
  }

  // After the scan: every checkpoint was reached and verified.
  absl::Status Finish(uint64_t head_size) {
    LEDGER_RETURN_IF_ERROR(error_);
    if (current_.has_value()) {
      return absl::DataLossError(
          StrCat("ledger verification failed: checkpoint ", current_->sequence,
                 " covers ", current_->size, " entries but only ", head_size,
                 " are stored", kRefuse));
    }
    return FromRocks(it_->status(), "reading checkpoints");
  }
  // What the scan is judged against: the first checkpoint the entries did
  // not match, or else the last one. Records the entries' root at its size
  // in `scan`.
  ScanClaims Claims(const HeadRecord& head, ScanOutcome& scan) const {
    if (mismatch_.has_value()) {
      scan.roots.emplace_back(mismatch_->checkpoint.size, mismatch_->scanned);
      return ScanClaims{mismatch_->checkpoint, mismatch_->signed_root, head};
    }
    if (last_.has_value()) scan.roots.emplace_back(last_->size, *last_root_);
    return ScanClaims{last_, last_root_, head};
  }

 private:
  void Load() {
    current_.reset();
    if (!it_->Valid() || !it_->key().starts_with("q")) return;
    std::string_view v = it_->value().ToStringView();
    const uint64_t seq = it_->key().size() == 9
                             ? ReadBe64(it_->key().ToStringView().substr(1))
                             : 0;
    if (it_->key().size() != 9 || v.size() < 8) {
      error_ = absl::DataLossError(
          StrCat("ledger verification failed: checkpoint record ", seq,
                 " is malformed", kRefuse));
      return;
    }
    if (last_.has_value() && ReadBe64(v) < last_->size) {
      error_ = absl::DataLossError(
          StrCat("ledger verification failed: checkpoint ", seq, " (size ",
                 ReadBe64(v), ") is stored after a larger one", kRefuse));
      return;
    }
    current_ = StoredCheckpoint{seq, ReadBe64(v), std::string(v.substr(8))};
  }

  const LedgerOptions& options_;
  std::unique_ptr<rocksdb::Iterator> it_;
  std::optional<StoredCheckpoint> current_;
  std::optional<StoredCheckpoint> last_;
  std::optional<Hash> last_root_;
  struct Mismatch {
    StoredCheckpoint checkpoint;
    Hash signed_root;
    Hash scanned;
  };
  std::optional<Mismatch> mismatch_;
  absl::Status error_;
};

}  // namespace

absl::Status Ledger::Scrub(const ScrubPace& pace) const {
  LEDGER_ASSIGN_OR_RETURN(std::vector<PayloadKeyErasure> erasures,
                          ScrubSnapshot(pace));
  // With the snapshot released: it would pin the very key versions a purge
  // must drop. (Not `complete`: erasures appended after the snapshot are
  // recorded but were not scanned.)
  return EnforceErasures(std::move(erasures), /*complete=*/false);
}

absl::StatusOr<std::vector<PayloadKeyErasure>> Ledger::ScrubSnapshot(
    const ScrubPace& pace) const {
  Store::Snapshot snapshot(*store_);
  LEDGER_ASSIGN_OR_RETURN(HeadRecord head,
                          ReadHeadRecord(*store_, snapshot.get()));
  CheckpointWalker checkpoints(*store_, snapshot.get(), options_);
  ScanSpec spec;
  spec.store = store_.get();
  spec.snapshot = snapshot.get();
  spec.end = head.size;
  spec.derive = true;
  spec.limits = options_.limits;
  spec.pace = &pace;
  spec.visitor = &checkpoints;
  LEDGER_ASSIGN_OR_RETURN(ScanOutcome scan, ScanEntries(spec));
  LEDGER_RETURN_IF_ERROR(checkpoints.Finish(head.size));
  const ScanClaims claims = checkpoints.Claims(head, scan);
  LEDGER_RETURN_IF_ERROR(JudgeScan(spec, scan, claims));
  LEDGER_ASSIGN_OR_RETURN(
      std::optional<std::string> value,
      store_->Get(Cf::kMeta, kMetaIndexDigestKey, snapshot.get()));
  if (!value.has_value()) {
    return absl::DataLossError(
        StrCat("ledger verification failed: the index digest record is missing",
               kRefuse));
  }
  LEDGER_ASSIGN_OR_RETURN(IndexDigests record, DecodeIndexDigests(*value));
  LEDGER_ASSIGN_OR_RETURN(IndexDigests stored,
                          DigestDerivedFamilies(*store_, snapshot.get()));
  std::string differ = DifferingFamilies(stored, record);
  if (!differ.empty()) {
    differ = StrCat(differ, " changed since the ledger wrote them");
  } else if (std::string d = DifferingFamilies(stored, scan.derived);
             !d.empty()) {
    differ = StrCat(d, " do not match the entries");
  }
  if (!differ.empty()) {
    return absl::DataLossError(StrCat(
        "ledger verification failed: the derived families ", differ,
        "; refusing to serve. Restart the node to have them located, and "
        "rebuild them from the entries with `ledger-node repair-indexes "
        "--data DIR`"));
  }
  return std::move(scan.erasures);
}

}  // namespace ledger
