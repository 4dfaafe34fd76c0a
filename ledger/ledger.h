#pragma once

// The ledger state machine on RocksDB: sequences verified emitter batches
// into entries, maintains the hash chain and the Merkle tree, stores
// checkpoints, and serves reads and proofs. It has no threads of its own.
//
// Threading: Append(), AppendNoSync() and StoreCheckpoint() are called by
// one thread at a time (the sequencer); Publish() may run on a second
// thread concurrently with them. Every const method may be called from any
// thread, concurrently with the writers; reads see a prefix of the ledger no
// longer than head().size at the time of the call.
//
// Two heads: the written head is where the next append starts (the
// sequencer's view, possibly not yet durable); head() is the published,
// durable head that readers, proofs and checkpoints use. Append() moves
// both; AppendNoSync() moves the written head and Publish() later makes a
// prefix of it durable and published, so the sequencer can prepare and
// write group k+1 while group k's fsync is in progress.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "crypto/bytes.h"
#include "crypto/note.h"
#include "ledger/batch.h"
#include "ledger/checkpoint.h"
#include "ledger/entry.h"
#include "ledger/event.h"
#include "ledger/key_registry.h"
#include "ledger/risk_engine.h"
#include "ledger/risk_findings.h"
#include "ledger/shred_keys.h"
#include "ledger/tlog_tiles.h"
#include "rocksdb/env.h"

namespace rocksdb {
class Iterator;
}  // namespace rocksdb

namespace ledger {

class RiskFindingsIndex;
class Store;
class TileTree;

struct Head {
  uint64_t size = 0;
  Hash root{};        // RFC 6962 root of the entries
  Hash chain_hash{};  // chain hash of the last entry (zeros when empty)
  friend bool operator==(const Head&, const Head&) = default;
};

// What an append acknowledges for one event.
struct EntryRef {
  uint64_t index = 0;
  Hash leaf_hash{};  // HashLeaf(entry bytes)
  int64_t received_at_ns = 0;
  bool duplicate = false;  // the event was already in the ledger
};

// The outcome of one batch: OK with one EntryRef per event, or its
// rejection (a bad key, a permission, a conflicting event id: the batch's
// own fault) and nothing of it stored.
struct AppendResult {
  absl::Status status;
  std::vector<EntryRef> entries;
};

// The outcome of a group of batches appended together. `status` is the
// group's: not OK means storage failed or found corruption (Unavailable,
// ResourceExhausted for a full disk, DataLoss, Internal) and nothing of the
// group was written; `batches` is then empty. OK: one AppendResult per
// batch, each accepted or rejected on its own. A storage problem is never
// reported as one batch's rejection, and a rejection never as a group
// failure.
struct GroupResult {
  absl::Status status;
  std::vector<AppendResult> batches;
};

// The index families (ledger/schema.h): records keyed prefix || BE64(index)
// with empty values, derived from the entries like by_event_id.
enum class IndexFamily { kBySubject, kByType, kByRun, kLineage };

struct StoredCheckpoint {
  uint64_t sequence = 0;  // 0, 1, 2, ... in issue order
  uint64_t size = 0;
  std::string note;
};

// RocksDB's block cache unless configured otherwise (node setting
// block_cache_bytes): it takes memory only as blocks are read, and holds
// the leaf tiles random proofs read up to about 20M entries.
inline constexpr size_t kDefaultBlockCacheBytes = size_t{1} << 30;

// How much Ledger::Open checks before it returns.
enum class OpenCheck {
  // kFull up to LedgerOptions::full_check_max_entries entries, kTail above.
  kAuto,
  // Everything: every entry re-hashed, the chain, the whole stored tree, the
  // key records and the derived families against the entries.
  kFull,
  // What the last signed checkpoint does not cover: the entries after it,
  // the stored tree up to the head (its root against the checkpoint's and
  // the head record's), the checkpoint's signatures, and the keys family
  // against its digest. The caller checks the other derived families with
  // CheckDerivedDigests() before it appends, and scrubs the rest (Scrub()).
  kTail,
};

struct LedgerOptions {
  // The log identity; checkpoints must carry it. Required.
  std::string origin;
  // Keys that must have signed stored checkpoints (log key and cosigners).
  std::vector<crypto::NoteVerifier> checkpoint_verifiers;
  EventLimits limits;
  size_t block_cache_bytes = kDefaultBlockCacheBytes;
  // Slots of the in-memory cache of tiles above the leaves that proofs
  // read (TileCache, ~1 KiB each, allocated on the first proof): 65,536
  // slots (64 MiB) hold every such tile of a 16M-entry tree. 0: no cache.
  size_t tile_cache_slots = 1 << 16;
  // Called with human-readable progress lines during long start-up checks.
  std::function<void(std::string_view)> progress;
  // Called during the start-up check with (entries verified, entries to
  // verify): at its start, every few thousand entries and at its end.
  std::function<void(uint64_t, uint64_t)> verify_progress;
  // Called with what an operator must know of (a payload key that a
  // key.erased entry names found again, and destroyed). nullptr: progress.
  std::function<void(std::string_view)> warn;
  // Every file operation of the store goes through this Env (fault
  // injection in tests). nullptr: the default. Not owned.
  rocksdb::Env* env = nullptr;
  // The size and root of the last checkpoint this log signed, as the node
  // keeps them outside the database (the rollback guard, node/data_dir.h).
  // Open refuses (DataLoss, naming both sizes) a ledger smaller than that
  // or whose tree at that size has another root: the database lost or
  // changed entries that a signed checkpoint covers, and serving it would
  // make the log equivocate.
  std::optional<Checkpoint> signed_head;
  // The last head this node acknowledged to clients, as the node keeps it
  // outside the database beside the guard (its size and root; chain_hash
  // unused). Open refuses (DataLoss) a ledger smaller than that or with
  // another root at that size: acknowledged entries that no checkpoint
  // covered yet were lost or changed.
  std::optional<Head> acknowledged_head;
  OpenCheck open_check = OpenCheck::kAuto;
  // kAuto checks everything up to this many entries (about a second per
  // million here).
  uint64_t full_check_max_entries = 1'000'000;
  // A derived family (by_event_id, subject_heads, keys, by_subject,
  // by_type, by_run, lineage) that does not match
  // the entries is DataLoss naming the records, unless this is set: then
  // the families are rebuilt from the entries (which must verify) and the
  // records that were wrong are reported through `progress`.
  bool rebuild_indexes = false;
  // Benchmarks only (ledger-bench provenance measures ingest with and
  // without the provenance indexes): false writes no by_subject, by_type,
  // by_run or lineage records, and their digests stay those of empty
  // families. Open's checks always expect the records, so a ledger written
  // so fails a full check: it must never be reopened or served.
  bool provenance_indexes = true;
  // Benchmarks only (ledger-bench measures ingest with and without risk
  // evaluation): false grades no entry (risk unassessed, policy_version 0
  // whatever the policy). A ledger written so must never be reopened.
  bool risk_evaluation = true;
  // The node key (role node in the key registry: the genesis entry's key).
  // The ledger signs with it the grade.propagated entries it writes itself
  // (docs/risk-rules.md). A group that propagates a grade under a policy
  // fails with FailedPrecondition if it is missing or not a registered node
  // key; a ledger without policies never needs it.
  std::optional<crypto::Ed25519PrivateKey> node_key;
};

// RocksDB's own figures about writes and compactions (its properties),
// for metrics. Stall counts are cumulative since the store opened, summed
// over the column families.
struct StoreStats {
  bool write_stopped = false;       // writes stopped now
  uint64_t delayed_write_rate = 0;  // bytes/s while writes are slowed; 0
  uint64_t stall_stops = 0;         // times writes were stopped
  uint64_t stall_slowdowns = 0;     // times writes were slowed down
  uint64_t running_compactions = 0;
  uint64_t running_flushes = 0;
  uint64_t compaction_pending = 0;        // column families waiting for one
  uint64_t pending_compaction_bytes = 0;  // RocksDB's estimate
  uint64_t live_sst_bytes = 0;
};

// How a Scrub paces itself: called after each step of entries with the
// number checked so far and the total; may block (to hold a rate) and
// returns false to stop the scrub (which then returns Cancelled).
using ScrubPace = std::function<bool(uint64_t done, uint64_t total)>;

class Ledger {
 public:
  // Opens the ledger in `dir`, creating an empty one if there is none. An
  // existing ledger is checked before it is returned (options.open_check):
  // entries are decoded and re-hashed, the chain is recomputed, the stored
  // tree is compared with the tree recomputed from the entries, the last
  // stored checkpoint is verified with options.checkpoint_verifiers and
  // compared with the root, the rollback guard (options.signed_head) is
  // enforced, and the derived families are compared with their digests and
  // (kFull) with the entries. Every payload key that a key.erased entry
  // names is destroyed again if it is found held (options.warn names it;
  // kFull: every such entry; kTail: those after the last checkpoint and
  // every erasure recorded in shred_keys, the rest at the first Scrub).
  // Any mismatch is DataLoss naming the index
  // range or the records that are wrong; FailedPrecondition if the
  // directory holds a ledger of another origin or an unknown format;
  // ResourceExhausted if the file system is too full to open it.
  static absl::StatusOr<std::unique_ptr<Ledger>> Open(const std::string& dir,
                                                      LedgerOptions options);
  ~Ledger();

  // True if Open checked everything (kFull); false if it checked only the
  // tail and the rest awaits Scrub().
  bool fully_checked() const { return fully_checked_; }
  // The storage format the database had when it was opened ("1" was
  // upgraded to the current one by Open).
  const std::string& opened_format() const { return opened_format_; }

  // ---- any thread, concurrently with appends ----

  // Compares the derived families (by_event_id, subject_heads, keys and
  // the index families by_subject, by_type, by_run, lineage) with
  // the digests the appends kept, against a snapshot: one scan of each
  // (about a microsecond per record). DataLoss naming the families that
  // differ. After a kTail open, call it before appending: a damaged event
  // index could otherwise let an event be appended twice.
  absl::Status CheckDerivedDigests() const;

  // Checks the whole ledger as of now against a snapshot, as OpenCheck::kFull
  // does, while appends go on: every entry, the chain, the stored tree,
  // every stored checkpoint up to the snapshot's head, the key records and
  // the derived families; and destroys again any payload key a key.erased
  // entry names that is held (options.warn names it). DataLoss naming the
  // index range or records on a mismatch; Cancelled if `pace` stopped it.
  absl::Status Scrub(const ScrubPace& pace) const;

  // ---- sequencer thread ----

  // Appends `batches` in order in one synced RocksDB write, each batch all
  // or nothing. Per batch: the signing key must be registered, valid at
  // `received_at_ns` and not revoked (Unauthenticated otherwise); an emitter
  // key may write only its own tenant and no ledger-internal types
  // (PermissionDenied); an event_id already stored (per tenant) with other
  // content is AlreadyExists, with the same content it is acknowledged again
  // with duplicate = true. A key.erased event (ledger/FORMAT.md 8.7) must
  // name a payload key held for its tenant (NotFound) and not yet erased
  // (FailedPrecondition); the key is destroyed in the same write as the
  // entry. `received_at_ns` is raised to the previous
  // entry's if the clock went back. A storage failure or corruption fails
  // the group (GroupResult::status) and leaves the ledger unchanged: nothing
  // of the group is acknowledged, readable or built on. One thing a failure
  // cannot undo: when the write reached the file system and only its sync
  // failed (Unavailable), the group may be found after a restart, whole,
  // never in part, though never acknowledged; a resend of its events is
  // then acknowledged as a duplicate.
  GroupResult Append(absl::Span<const VerifiedBatch* const> batches,
                     int64_t received_at_ns);

  // As Append, but the write is not synced and head() does not move: the
  // new entries are visible to later appends (idempotency, back-links, the
  // tree) and to nobody else until Publish(). If the process or machine
  // crashes first, this group and every later one may be lost together (a
  // prefix survives), so nothing may be acknowledged before Publish().
  GroupResult AppendNoSync(absl::Span<const VerifiedBatch* const> batches,
                           int64_t received_at_ns);
  // The head after the last successful Append or AppendNoSync.
  Head written_head() const;

  // After a group failed with ResourceExhausted (a full disk): lets writes
  // resume once there is room (Store::Resume). Nothing of the failed group
  // was written, and earlier groups are as they were (written, perhaps not
  // yet published). FailedPrecondition, naming the space needed, while the
  // disk is still too full.
  absl::Status ResumeAfterNoSpace();
  // Bytes the store needs free before ResumeAfterNoSpace can succeed.
  uint64_t SpaceNeededToResume() const;

  // Appends entries that another ledger made (the cluster leader's, or a
  // peer's during catch-up; docs/cluster.md), re-making each here from its
  // event and emitter block alone. `entries` must continue the written
  // head: the first one's index is written_head().size, the indexes follow
  // one another and received_at never decreases. They are taken in the
  // groups the other ledger appended (a run of one received_at, closed by
  // the grade.propagated entries a group ends with), and each group is
  // sequenced as Append would: emitter signatures verified (once per
  // signed batch), signers registered and allowed, event ids new, key
  // events applied, risk graded, grade.propagated entries made and signed
  // with this ledger's node key (so every node of a cluster holds the same
  // log key), back-links, chain and tree computed. Events are decoded and
  // validated under no limits (limits are what the other ledger admitted
  // under). Every entry so made must
  // be byte-identical to the given one; if one is not, or this ledger
  // refuses an event, nothing of that group is written and the error
  // (DataLoss) names the entry and what differs. Groups before it stay
  // written.
  //
  // `complete`: the entries end at a group boundary (a committed head
  // does). Otherwise the last run of entries with the last received_at is
  // not applied: it may be the start of a group whose rest was not given
  // (the caller asks again from there, with more). Returns how many
  // entries were applied (written; with `sync` also published, as by
  // Append; without, as by AppendNoSync).
  absl::StatusOr<size_t> ApplyEntries(absl::Span<const std::string> entries,
                                      bool complete, bool sync);

  // ---- sequencer thread (no Append, AppendNoSync, Publish or
  // StoreCheckpoint concurrently) ----

  // Discards entries [size, written_head().size) and everything derived
  // from them, in one synced RocksDB write (a crash leaves all of them or
  // none): for the replicated cluster, whose nodes write a batch before it
  // is committed and must drop the batches a deposed leader never committed
  // (docs/cluster.md). Afterwards the store and the in-memory state (written
  // and published heads, tree, key registry, digests, risk engine, ledger
  // clock) are those of a ledger that appended only entries [0, size):
  // every column family holds the same bytes, except shred_keys (below),
  // and the next append gives the same entries.
  //
  // One thing is not undone: a payload key that a discarded key.erased
  // entry destroyed stays destroyed (a key cannot be brought back). Its
  // erasure record and its data subject's record are removed, so the key
  // reads as neither held nor erased and the subject gets a new key from
  // the next GetOrCreate.
  //
  // If head() is above `size` it comes down to `size` too: the caller
  // guarantees that no reader is served past `size` (the cluster serves
  // reads only up to the committed head, which is never above it).
  //
  // Cost: one pass over entries [0, size) (the risk engine and the key
  // registry are replayed; the engine has no undo) plus the discarded
  // entries.
  //
  // FailedPrecondition, naming both sizes, if `size` is below the last
  // stored checkpoint (a signed checkpoint covers those entries) or above
  // written_head().size; FailedPrecondition if `size` splits a group that
  // propagated grades (entries before `size` owe grade.propagated entries at
  // or after it). OK and nothing done if `size` is written_head().size.
  // Storage errors as for Append; after any error nothing was changed in
  // memory or in the store, except as for Append: when only the write's
  // sync failed (Unavailable), a restart may find the discard done, whole.
  absl::Status DiscardAfter(uint64_t size);

  // ---- sequencer thread or the publishing thread ----

  // Syncs the write-ahead log and then publishes `head`, which must be a
  // head that AppendNoSync returned (written_head() at some point, not
  // smaller than head()). After an error nothing was published; the caller
  // must stop appending (later groups build on unsynced state). The groups
  // not published may still be found after a restart (a prefix of them,
  // each whole), as for a failed Append.
  absl::Status Publish(const Head& head);

  // Stores a checkpoint note after checking that it opens with
  // options.checkpoint_verifiers, carries our origin, and that its root
  // equals RootAt(its size). Returns its sequence number.
  absl::StatusOr<uint64_t> StoreCheckpoint(std::string_view note);

  // ---- any thread ----

  Head head() const;
  const std::string& origin() const { return options_.origin; }
  const EventLimits& limits() const { return options_.limits; }
  const KeyRegistry& keys() const { return *keys_; }
  // The payload keys (thread-safe). Erasures go through key.erased entries
  // (Append), never through this object directly.
  ShredKeys& payload_keys() const { return *shred_; }
  // After a key.erased entry was appended: purges the destroyed key bytes
  // from RocksDB's files (ShredKeys::Purge). Any thread.
  absl::Status PurgeErasedKeys() const { return shred_->Purge(); }

  // Entry bytes at `index`; OutOfRange past head().size.
  absl::StatusOr<std::string> GetEntry(uint64_t index) const;
  // Entry bytes for [begin, end), end clamped to head().size; at most
  // `max_count` entries.
  absl::StatusOr<std::vector<std::string>> GetEntries(uint64_t begin,
                                                      uint64_t end,
                                                      size_t max_count) const;
  // The entry holding (tenant, event_id), if any. DataLoss if the event index
  // points at an entry that holds another event.
  absl::StatusOr<std::optional<EntryRef>> FindEvent(std::string_view tenant,
                                                    const Uuid& event_id) const;

  // ---- the index families (any thread; never past head().size) ----

  // The indexes i with a record prefix || BE64(i) in `family` and
  // from <= i < min(below, head().size): ascending, or with `reverse` the
  // largest first; at most `max_count`. One iterator over one consistent
  // view. `prefix` is a full prefix from a schema.h builder
  // (SubjectIndexPrefix, TypeIndexPrefix, RunIndexPrefix, LineagePrefix).
  absl::StatusOr<std::vector<uint64_t>> ScanIndex(IndexFamily family,
                                                  std::string_view prefix,
                                                  uint64_t from, uint64_t below,
                                                  size_t max_count,
                                                  bool reverse = false) const;
  // ScanIndex for a query that scans many times: it keeps one iterator per
  // family for its life, so each further scan is a seek, not a new iterator
  // over every memtable and file (most of a small lineage walk's time).
  // Each family's records are those present at its first scan; scans stop
  // at head().size as ScanIndex does. Not thread-safe; must not outlive the
  // ledger.
  class IndexScanner {
   public:
    explicit IndexScanner(const Ledger& ledger);
    ~IndexScanner();
    IndexScanner(const IndexScanner&) = delete;
    IndexScanner& operator=(const IndexScanner&) = delete;
    absl::StatusOr<std::vector<uint64_t>> Scan(IndexFamily family,
                                               std::string_view prefix,
                                               uint64_t from, uint64_t below,
                                               size_t max_count,
                                               bool reverse = false);

    // ListIndexIds, likewise.
    absl::StatusOr<std::vector<std::string>> ListIds(
        IndexFamily family, std::string_view prefix,
        std::string_view start_after, size_t max_count);

   private:
    const Ledger& ledger_;
    // By IndexFamily: within one prefix (Scan), and across (ListIds).
    std::unique_ptr<rocksdb::Iterator> prefix_iterators_[4];
    std::unique_ptr<rocksdb::Iterator> iterators_[4];
  };
  // The distinct ids under a family-level `prefix` (e.g. u8 kind || tenant
  // || 0x00 in by_subject: every subject of that kind of a tenant): each
  // distinct key part between `prefix` and the next 0x00, greater than
  // `start_after` (empty: from the first), ascending, at most `max_count`.
  // Only ids with a record of an entry below head().size. Seeks past each
  // id's records instead of reading them.
  absl::StatusOr<std::vector<std::string>> ListIndexIds(
      IndexFamily family, std::string_view prefix, std::string_view start_after,
      size_t max_count) const;
  // The entry bytes at each of `indexes`, in order (one MultiGet);
  // OutOfRange naming the first index that is not below head().size.
  absl::StatusOr<std::vector<std::string>> GetEntriesAt(
      absl::Span<const uint64_t> indexes) const;
  // The smallest index in [0, size) whose entry has received_at_ns >= t_ns,
  // or `size` if there is none: a binary search over the entries (ledger
  // time never decreases with the index). OutOfRange if size > head().size.
  absl::StatusOr<uint64_t> FirstIndexAtOrAfter(int64_t t_ns,
                                               uint64_t size) const;

  absl::StatusOr<Hash> RootAt(uint64_t size) const;
  absl::StatusOr<std::vector<Hash>> InclusionProof(uint64_t index,
                                                   uint64_t size) const;
  absl::StatusOr<std::vector<Hash>> ConsistencyProof(uint64_t old_size,
                                                     uint64_t new_size) const;
  // The compact multi-leaf inclusion proof of the sorted leaf set
  // `indexes` in the tree of `size` leaves (merkle.h, FORMAT.md 12.2),
  // read from the stored tree. OutOfRange past head().size.
  absl::StatusOr<std::vector<Hash>> MultiInclusionProof(
      absl::Span<const uint64_t> indexes, uint64_t size) const;

  // Hash tile `tile` of c2sp.org/tlog-tiles (ledger/tlog_tiles.h) in the
  // tree of `tree_size` leaves, composed from the stored tiles: OutOfRange
  // past head().size or if the tile does not exist at that size.
  absl::StatusOr<std::string> TlogHashTile(const TlogTile& tile,
                                           uint64_t tree_size) const;

  // RocksDB's figures now (a few property reads; for metrics).
  StoreStats store_stats() const;

  std::optional<StoredCheckpoint> LatestCheckpoint() const;
  absl::StatusOr<StoredCheckpoint> GetCheckpoint(uint64_t sequence) const;
  // The first checkpoint whose size is >= `size`, if any.
  absl::StatusOr<std::optional<StoredCheckpoint>> CheckpointCovering(
      uint64_t size) const;

  // The grade of dataset (tenant, id, version) in force at entry `as_of`
  // (docs/risk-rules.md), with the version-less grade standing for a
  // version never graded on its own; nullopt if it had none.
  std::optional<risk::GradeRecord> GradeAt(std::string_view tenant,
                                           std::string_view id,
                                           std::string_view version,
                                           uint64_t as_of) const;
  // Every grade the dataset version had, oldest first (its own records,
  // not the version-less grade's).
  std::vector<risk::GradeRecord> GradeHistory(std::string_view tenant,
                                              std::string_view id,
                                              std::string_view version) const;
  // risk::Engine::GradeInputs.
  std::vector<risk::GradeInput> GradeInputs(std::string_view tenant,
                                            std::string_view id,
                                            std::string_view version,
                                            uint64_t as_of) const;
  // The findings index (ledger/risk_findings.h), never past head().size:
  // the tenant's findings passing `filter` with index in [from, below),
  // ascending, at most `max_count`; and the counts over [from, below).
  // Empty when the ledger grades nothing (risk_evaluation off).
  // At most `max_scanned` findings are looked at (RiskFindingsIndex::Find,
  // `resume`).
  std::vector<RiskFinding> FindRiskFindings(
      std::string_view tenant, const RiskFindingsFilter& filter, uint64_t from,
      uint64_t below, size_t max_count, size_t max_scanned = SIZE_MAX,
      std::optional<uint64_t>* resume = nullptr) const;
  RiskCounts CountRisk(std::string_view tenant, uint64_t from,
                       uint64_t below) const;
  // The version of the risk policy in force for the next entry (0: none).
  uint32_t policy_version() const;
  // The version in force right after entry `index` (the number of the
  // policy a policy.changed entry there set).
  uint32_t PolicyVersionOf(uint64_t index) const;

  // ---- tests only ----

  // Flushes every column family's memtable to table files and waits, so
  // that later reads come from files (fault-injection tests fail those
  // reads). Not for production code: the store flushes on its own.
  absl::Status TEST_Flush();

 private:
  Ledger(LedgerOptions options, std::unique_ptr<Store> store);
  // What a group applied by ApplyEntries must make: the given entries'
  // bytes, and the index of the first entry of each batch.
  struct Expected {
    absl::Span<const std::string> entries;
    absl::Span<const uint64_t> batch_first_index;
  };
  GroupResult AppendGroup(absl::Span<const VerifiedBatch* const> batches,
                          int64_t received_at_ns, bool sync,
                          const Expected* expected = nullptr);

  class Impl;
  struct GroupPlan;
  class GroupPlanner;
  // Expected entries against what the plan built: OK, or DataLoss.
  absl::Status CheckExpected(const GroupPlan& plan,
                             const std::vector<AppendResult>& results,
                             const Expected& expected) const;
  absl::Status LookupEventIds(GroupPlan& plan) const;
  absl::Status PlanBatches(GroupPlan& plan, std::vector<AppendResult>& results);
  absl::Status AssessEntries(GroupPlan& plan,
                             std::vector<AppendResult>& results);
  absl::Status LookupSubjectHeads(GroupPlan& plan) const;
  void BuildEntries(GroupPlan& plan, std::vector<AppendResult>& results);
  absl::Status WriteGroup(GroupPlan& plan, bool sync);
  // Replays entries [0, size) into a new risk engine. `check`: every
  // entry's stored risk and policy_version must be what the engine
  // computes (DataLoss naming the first entry that differs).
  absl::Status LoadRisk(uint64_t size, bool check);
  // LoadRisk's replay without installing the engine; `visit` (optional)
  // sees every entry [0, size) decoded, in order, also without risk
  // evaluation, and its error stops the replay.
  using EntryVisitor =
      std::function<absl::Status(uint64_t, const Entry&, const Event&)>;
  // `findings` (if set) receives the findings index of the entries.
  absl::StatusOr<std::unique_ptr<risk::Engine>> ReplayRisk(
      uint64_t size, bool check, const EntryVisitor* visit,
      RiskFindingsIndex* findings) const;
  // Destroys every payload key that `found` (key.erased entries read back)
  // or an erasure recorded in shred_keys names, warning for each that was
  // still held; `complete`: `found` holds every key.erased entry.
  absl::Status EnforceErasures(std::vector<PayloadKeyErasure> found,
                               bool complete) const;
  // Scrub's checks against a snapshot; the key.erased entries it read.
  absl::StatusOr<std::vector<PayloadKeyErasure>> ScrubSnapshot(
      const ScrubPace& pace) const;
  LedgerOptions options_;
  bool fully_checked_ = false;
  std::string opened_format_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<KeyRegistry> keys_;
  std::unique_ptr<ShredKeys> shred_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ledger
