#include "ledger/integrity.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "base/status_macros.h"
#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "ledger/codec.h"
#include "ledger/ledger_keys.h"
#include "ledger/store.h"

namespace ledger {
namespace {

// A half-open index range with what is wrong with it.
struct Problem {
  uint64_t begin;
  uint64_t end;
  std::string what;
};

std::string Range(uint64_t begin, uint64_t end) {
  return StrCat("[", begin, ", ", end, ")");
}

absl::StatusOr<std::pair<Head, int64_t>> DecodeHeadRecord(std::string_view v) {
  if (v.size() != 8 + 2 * crypto::kHashSize + 8) {
    return absl::DataLossError("the head record has the wrong length");
  }
  Decoder d(v);
  Head head;
  LEDGER_ASSIGN_OR_RETURN(head.size, d.GetU64("size"));
  LEDGER_ASSIGN_OR_RETURN(head.root, d.GetHash("root"));
  LEDGER_ASSIGN_OR_RETURN(head.chain_hash, d.GetHash("chain"));
  LEDGER_ASSIGN_OR_RETURN(int64_t t, d.GetI64("received_at"));
  return std::make_pair(head, t);
}

absl::StatusOr<std::optional<StoredCheckpoint>> LastCheckpoint(
    const Store& store) {
  std::unique_ptr<rocksdb::Iterator> it = store.NewIterator(Cf::kCheckpoints);
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

// Scans all entries, recomputing leaves, chain and tree.
class Scanner {
 public:
  Scanner(const Store& store, const LedgerOptions& options,
          uint64_t checkpoint_size, uint64_t expected_size)
      : store_(store),
        options_(options),
        checkpoint_size_(checkpoint_size),
        expected_size_(expected_size) {}

  absl::Status Run();

  std::vector<Problem> entry_problems;  // entries known to be bad
  std::vector<Problem> chain_problems;
  std::vector<Problem> leaf_mismatches;  // stored level-0 hash differs
  std::vector<Problem> tile_problems;    // higher tiles differ
  TileTree tree;
  Hash chain{};
  Hash root_at_checkpoint{};
  std::vector<KeyInfo> keys;
  int64_t last_received_at_ns = 0;

 private:
  void OnEntry(uint64_t index, std::string_view bytes);
  void CompareTile(int t, uint64_t index, const std::vector<Hash>& hashes);

  const Store& store_;
  const LedgerOptions& options_;
  const uint64_t checkpoint_size_;
  const uint64_t expected_size_;
};

void Scanner::CompareTile(int t, uint64_t index,
                          const std::vector<Hash>& hashes) {
  absl::StatusOr<std::optional<std::string>> stored =
      store_.Get(Cf::kTree, TileKey(t, index));
  const uint64_t span = kTileWidth << (t * kTileHeight);
  const uint64_t first = index * span;
  const uint64_t leaves_per_hash = span / kTileWidth;
  if (!stored.ok() || !stored->has_value() ||
      (*stored)->size() != hashes.size() * crypto::kHashSize) {
    tile_problems.push_back({first, first + hashes.size() * leaves_per_hash,
                             StrCat("tree tile (level ", t, ", index ", index,
                                    ") is missing or has the wrong length")});
    return;
  }
  for (size_t i = 0; i < hashes.size(); ++i) {
    if ((*stored)->compare(i * crypto::kHashSize, crypto::kHashSize,
                           crypto::AsView(hashes[i])) == 0) {
      continue;
    }
    Problem p{first + i * leaves_per_hash, first + (i + 1) * leaves_per_hash,
              StrCat("tree tile (level ", t, ", index ", index, ") hash ", i,
                     " does not match the entries")};
    (t == 0 ? leaf_mismatches : tile_problems).push_back(std::move(p));
  }
}

void Scanner::OnEntry(uint64_t index, std::string_view bytes) {
  const Hash leaf = crypto::HashLeaf(bytes);
  absl::StatusOr<Entry> entry = DecodeEntry(bytes);
  if (!entry.ok()) {
    entry_problems.push_back({index, index + 1,
                              StrCat("entry ", index, " cannot be decoded: ",
                                     entry.status().message())});
  } else {
    if (entry->index != index) {
      entry_problems.push_back(
          {index, index + 1,
           StrCat("entry ", index, " claims index ", entry->index)});
    }
    if (entry->prev_chain_hash != chain) {
      chain_problems.push_back(
          {index, index + 1, StrCat("the hash chain breaks at entry ", index)});
      chain = entry->prev_chain_hash;  // resynchronise: report breaks once
    }
    last_received_at_ns = entry->received_at_ns;
    absl::StatusOr<std::string_view> type = PeekEventType(entry->event_bytes);
    if (type.ok() && (*type == "key.registered" || *type == "key.revoked")) {
      absl::StatusOr<Event> event =
          DecodeEvent(entry->event_bytes, options_.limits);
      absl::Status s = event.ok() ? ApplyKeyEvent(*event, index,
                                                  entry->received_at_ns, &keys)
                                  : event.status();
      if (!s.ok()) {
        entry_problems.push_back(
            {index, index + 1,
             StrCat("key entry ", index, " is invalid: ", s.message())});
      }
    }
  }
  chain = ChainHash(chain, leaf);
  tree.AppendAndVisit(leaf, [&](int t, uint64_t i, const auto& hashes) {
    CompareTile(t, i, hashes);
  });
  if (index + 1 == checkpoint_size_) root_at_checkpoint = tree.Root();
}

absl::Status Scanner::Run() {
  rocksdb::ReadOptions read;
  read.fill_cache = false;
  read.readahead_size = 4 << 20;
  std::unique_ptr<rocksdb::Iterator> it(
      store_.db()->NewIterator(read, store_.handle(Cf::kEntries)));
  uint64_t index = 0;
  auto last_report = std::chrono::steady_clock::now();
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++index) {
    const std::string expected_key = Be64(index);
    if (it->key().ToStringView() != expected_key) {
      const uint64_t found =
          it->key().size() == 8 ? ReadBe64(it->key().ToStringView()) : index;
      return absl::DataLossError(
          StrCat("ledger verification failed: entries ", Range(index, found),
                 " are missing from storage; refusing to serve"));
    }
    OnEntry(index, it->value().ToStringView());
    if (options_.progress && (index + 1) % 65536 == 0 &&
        std::chrono::steady_clock::now() - last_report >
            std::chrono::seconds(2)) {
      last_report = std::chrono::steady_clock::now();
      options_.progress(
          StrCat("verified ", index + 1, " of ", expected_size_, " entries"));
    }
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "scanning entries"));
  // The partial tiles on the right edge.
  for (int t = 0; t < kMaxTileLevels; ++t) {
    if (!tree.partial(t).empty()) {
      CompareTile(t, tree.partial_index(t), tree.partial(t));
    }
  }
  return absl::OkStatus();
}

std::string Describe(const std::vector<Problem>& problems, size_t max) {
  std::string out;
  for (size_t i = 0; i < problems.size() && i < max; ++i) {
    out.append(StrCat(i ? "; " : "", problems[i].what));
  }
  if (problems.size() > max) {
    out.append(StrCat("; and ", problems.size() - max, " more"));
  }
  return out;
}

// Merges the ranges of `problems` into "[a, b), [c, d)".
std::string Ranges(std::vector<Problem> problems) {
  std::sort(
      problems.begin(), problems.end(),
      [](const Problem& a, const Problem& b) { return a.begin < b.begin; });
  std::vector<std::pair<uint64_t, uint64_t>> merged;
  for (const Problem& p : problems) {
    if (!merged.empty() && p.begin <= merged.back().second) {
      merged.back().second = std::max(merged.back().second, p.end);
    } else {
      merged.emplace_back(p.begin, p.end);
    }
  }
  std::string out;
  for (size_t i = 0; i < merged.size() && i < 8; ++i) {
    out.append(StrCat(i ? ", " : "", Range(merged[i].first, merged[i].second)));
  }
  if (merged.size() > 8)
    out.append(StrCat(" and ", merged.size() - 8, " more ranges"));
  return out;
}

}  // namespace

std::string EncodeHeadRecord(const Head& head, int64_t last_received_at_ns) {
  Encoder e;
  e.PutU64(head.size);
  e.PutHash(head.root);
  e.PutHash(head.chain_hash);
  e.PutI64(last_received_at_ns);
  return e.Take();
}

absl::StatusOr<std::string_view> PeekEventType(std::string_view event_bytes) {
  Decoder d(event_bytes);
  LEDGER_RETURN_IF_ERROR(d.GetRaw("magic and version", 3).status());
  LEDGER_RETURN_IF_ERROR(d.GetRaw("event_id", 16).status());
  return d.GetBytes("type", 1 << 16);
}

absl::Status ApplyKeyEvent(const Event& event, uint64_t entry_index,
                           int64_t received_at_ns, std::vector<KeyInfo>* keys) {
  if (event.type == "key.registered") {
    LEDGER_ASSIGN_OR_RETURN(KeyInfo info, KeyInfoFromRegistration(event));
    for (const KeyInfo& k : *keys) {
      if (k.key_id == info.key_id) {
        return absl::AlreadyExistsError("key registered twice");
      }
    }
    info.registered_at = entry_index;
    keys->push_back(std::move(info));
  } else if (event.type == "key.revoked") {
    LEDGER_ASSIGN_OR_RETURN(Hash id, KeyIdFromRevocation(event));
    for (KeyInfo& k : *keys) {
      if (k.key_id == id && k.revoked_at_ns == 0) {
        k.revoked_at_ns = received_at_ns;
        return absl::OkStatus();
      }
    }
    return absl::NotFoundError("revokes a key that is not registered");
  }
  return absl::OkStatus();
}

}  // namespace ledger

namespace ledger {
namespace {

absl::Status CheckKeyRecords(const Store& store,
                             const std::vector<KeyInfo>& keys) {
  std::unique_ptr<rocksdb::Iterator> it = store.NewIterator(Cf::kKeys);
  size_t count = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++count) {
    absl::StatusOr<KeyInfo> stored = DecodeKeyInfo(it->value().ToStringView());
    const auto match = std::find_if(
        keys.begin(), keys.end(),
        [&](const KeyInfo& k) { return stored.ok() && k == *stored; });
    if (!stored.ok() || match == keys.end() ||
        it->key().ToStringView() != crypto::AsView(stored->key_id)) {
      return absl::DataLossError(
          StrCat("ledger verification failed: the stored key record ",
                 crypto::HexEncode(it->key().ToStringView()).substr(0, 16),
                 " does not match the key entries; refusing to serve"));
    }
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "reading key records"));
  if (count != keys.size()) {
    return absl::DataLossError(
        StrCat("ledger verification failed: ", keys.size(),
               " keys are registered by entries but ", count,
               " key records are stored; refusing to serve"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RecoveredState> VerifyStoredLedger(
    const Store& store, const LedgerOptions& options) {
  Head recorded{0, crypto::EmptyRoot(), Hash{}};
  int64_t recorded_t = 0;
  LEDGER_ASSIGN_OR_RETURN(std::optional<std::string> head_record,
                          store.Get(Cf::kMeta, kMetaHeadKey));
  if (head_record.has_value()) {
    LEDGER_ASSIGN_OR_RETURN(std::tie(recorded, recorded_t),
                            DecodeHeadRecord(*head_record));
  }
  LEDGER_ASSIGN_OR_RETURN(std::optional<StoredCheckpoint> cp,
                          LastCheckpoint(store));
  Checkpoint signed_cp;
  if (cp.has_value()) {
    absl::StatusOr<VerifiedCheckpoint> vc =
        OpenCheckpoint(cp->note, options.checkpoint_verifiers, options.origin);
    if (!vc.ok()) {
      return absl::DataLossError(StrCat(
          "ledger verification failed: the last stored checkpoint (sequence ",
          cp->sequence, ") does not verify: ", vc.status().message(),
          "; refusing to serve"));
    }
    signed_cp = vc->checkpoint;
    if (signed_cp.size != cp->size) {
      return absl::DataLossError(
          StrCat("ledger verification failed: checkpoint ", cp->sequence,
                 " is stored under size ", cp->size, " but signs size ",
                 signed_cp.size, "; refusing to serve"));
    }
  }
  if (options.progress && recorded.size > 0) {
    options.progress(StrCat("verifying ", recorded.size, " entries"));
  }
  Scanner scan(store, options, signed_cp.size, recorded.size);
  LEDGER_RETURN_IF_ERROR(scan.Run());
  const uint64_t n = scan.tree.size();
  const std::string refuse =
      "; refusing to serve. Restore the data directory from a backup or a "
      "replica";
  if (signed_cp.size > n) {
    return absl::DataLossError(
        StrCat("ledger verification failed: the last signed checkpoint covers ",
               signed_cp.size, " entries but only ", n, " are stored: entries ",
               Range(n, signed_cp.size), " are missing", refuse));
  }
  const bool matches_checkpoint =
      signed_cp.size == 0 || scan.root_at_checkpoint == signed_cp.root;
  const bool matches_head = scan.tree.Root() == recorded.root;

  // Classify. A leaf that differs from its stored tree hash is a corrupt
  // entry unless the entries are vouched for (by the signed checkpoint, or
  // by the head record past it), in which case the tree is corrupt. Chain
  // breaks and higher tiles explained by a differing leaf are not reported
  // twice.
  std::set<uint64_t> explained;
  for (const Problem& p : scan.leaf_mismatches) explained.insert(p.begin);
  for (const Problem& p : scan.entry_problems) explained.insert(p.begin);
  const auto vouched = [&](const Problem& p) {
    return p.end <= signed_cp.size ? matches_checkpoint : matches_head;
  };
  std::vector<Problem> bad_entries = scan.entry_problems;
  std::vector<Problem> bad_tiles;
  for (const Problem& p : scan.chain_problems) {
    if (p.begin == 0 || !explained.contains(p.begin - 1)) {
      bad_entries.push_back(p);
    }
  }
  for (const Problem& p : scan.leaf_mismatches) {
    (vouched(p) ? bad_tiles : bad_entries).push_back(p);
  }
  for (const Problem& p : scan.tile_problems) {
    auto it = explained.lower_bound(p.begin);
    if (it != explained.end() && *it < p.end) continue;
    (vouched(p) ? bad_tiles : bad_entries).push_back(p);
  }
  std::string findings;
  if (!bad_entries.empty()) {
    findings = StrCat("entries ", Ranges(bad_entries), " are corrupt (",
                      Describe(bad_entries, 3), ")");
  }
  if (!bad_tiles.empty()) {
    findings.append(StrCat(findings.empty() ? "" : "; ",
                           "the stored Merkle tree is corrupt for entries ",
                           Ranges(bad_tiles), " (", Describe(bad_tiles, 3),
                           "); the entries themselves match the signed "
                           "checkpoint"));
  }
  if (!matches_checkpoint) {
    findings.append(StrCat(findings.empty() ? "" : "; ",
                           "the entries do not match the signed checkpoint "
                           "of size ",
                           signed_cp.size, " (sequence ", cp->sequence, ")"));
  }
  if (findings.empty() && (n != recorded.size || !matches_head ||
                           scan.chain != recorded.chain_hash)) {
    findings = StrCat("the head record (", recorded.size,
                      " entries) does not match the ", n, " stored entries");
  }
  if (!findings.empty()) {
    return absl::DataLossError(
        StrCat("ledger verification failed: ", findings, refuse));
  }
  LEDGER_RETURN_IF_ERROR(CheckKeyRecords(store, scan.keys));
  if (options.progress && n > 0) {
    options.progress(StrCat("verified ", n, " entries"));
  }
  RecoveredState state;
  state.head = Head{n, scan.tree.Root(), scan.chain};
  state.tree = std::move(scan.tree);
  state.keys = std::move(scan.keys);
  state.last_received_at_ns = std::max(recorded_t, scan.last_received_at_ns);
  state.latest_checkpoint = std::move(cp);
  return state;
}

}  // namespace ledger
