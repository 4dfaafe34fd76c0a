#include "ledger/integrity.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "ledger/codec.h"
#include "ledger/store.h"

namespace ledger {
namespace {

// How often a scan reports progress and asks `pace`.
constexpr uint64_t kStep = 4096;

std::string Range(uint64_t begin, uint64_t end) {
  return StrCat("[", begin, ", ", end, ")");
}

// Scans entries in order, recomputing leaves, chain, tree and (derive) the
// keys and derived families.
class Scanner {
 public:
  explicit Scanner(ScanSpec spec) : spec_(std::move(spec)) {
    out_.tree = spec_.tree;
  }

  absl::StatusOr<ScanOutcome> Run();

 private:
  void OnEntry(uint64_t index, std::string_view bytes);
  void Derive(uint64_t index, const Entry& entry);
  // Records the erasure of a key.erased entry's event (already decoded).
  void NoteErasure(uint64_t index, const Event& event);
  // Without `derive`: finds key.erased entries by their header.
  void FindErasure(uint64_t index, const Entry& entry);
  void CompareTile(int t, uint64_t index, const std::vector<Hash>& hashes);
  // Gives the visitor every root it asks for up to `size`.
  void VisitRoots(uint64_t size);
  void Bad(uint64_t index, std::string what) {
    out_.entry_problems.push_back({index, index + 1, std::move(what)});
  }

  ScanSpec spec_;
  ScanOutcome out_;
  size_t next_root_ = 0;  // the next of spec_.roots_at (sorted) to record
  bool chain_known_ = false;
  Hash chain_{};
  absl::flat_hash_map<std::string, KeyInfo> keys_;  // derive
  IndexFamilyKeys index_keys_;                      // derive, per entry
};

void Scanner::CompareTile(int t, uint64_t index,
                          const std::vector<Hash>& hashes) {
  absl::StatusOr<std::optional<std::string>> stored =
      spec_.store->Get(Cf::kTree, TileKey(t, index), spec_.snapshot);
  const uint64_t span = kTileWidth << (t * kTileHeight);
  const uint64_t first = index * span;
  const uint64_t leaves_per_hash = span / kTileWidth;
  // A partial tile of a snapshot taken below the head may be longer than
  // the scan's: its stored prefix is what must match.
  if (!stored.ok() || !stored->has_value() ||
      (*stored)->size() < hashes.size() * crypto::kHashSize ||
      (hashes.size() == kTileWidth &&
       (*stored)->size() != kTileWidth * crypto::kHashSize)) {
    out_.tile_problems.push_back(
        {first, first + hashes.size() * leaves_per_hash,
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
    (t == 0 ? out_.leaf_mismatches : out_.tile_problems)
        .push_back(std::move(p));
  }
}

void Scanner::NoteErasure(uint64_t index, const Event& event) {
  absl::StatusOr<PayloadKeyId> id = ErasedKeyIdOf(event);
  if (!id.ok()) {
    Bad(index, StrCat("entry ", index, " could not have been appended: ",
                      id.status().message()));
    return;
  }
  out_.erasures.push_back(PayloadKeyErasure{*id, event.tenant, index});
}

void Scanner::FindErasure(uint64_t index, const Entry& entry) {
  absl::StatusOr<EventHeader> header = PeekEventHeader(entry.event_bytes);
  if (!header.ok() || header->type != "key.erased") return;
  absl::StatusOr<Event> event = DecodeEvent(entry.event_bytes, spec_.limits);
  if (!event.ok()) {
    Bad(index, StrCat("entry ", index, "'s event cannot be decoded: ",
                      event.status().message()));
    return;
  }
  NoteErasure(index, *event);
}

void Scanner::Derive(uint64_t index, const Entry& entry) {
  absl::StatusOr<EventHeader> header = PeekEventHeader(entry.event_bytes);
  if (!header.ok()) {
    Bad(index, StrCat("entry ", index,
                      "'s event cannot be read: ", header.status().message()));
    return;
  }
  const auto find = [&](const Hash& id) -> std::optional<KeyInfo> {
    auto it = keys_.find(std::string(crypto::AsView(id)));
    if (it == keys_.end()) return std::nullopt;
    return it->second;
  };
  const bool key_event = IsKeyEventType(header->type);
  const bool erasure = header->type == "key.erased";
  // Every event is decoded: the index families need its references. Key
  // events under the configured limits, as before; the others under none
  // (an entry is indexed whatever limits applied when it was appended).
  std::optional<Event> event;
  {
    absl::StatusOr<Event> decoded =
        DecodeEvent(entry.event_bytes, key_event || erasure || index == 0
                                           ? spec_.limits
                                           : UnboundedEventLimits());
    if (!decoded.ok()) {
      Bad(index, StrCat("entry ", index, "'s event cannot be decoded: ",
                        decoded.status().message()));
      return;
    }
    event = *std::move(decoded);
  }
  absl::StatusOr<KeyInfo> signer =
      ResolveSigner(entry.emitter.key_id,
                    event.has_value() && entry.emitter.batch_size == 1
                        ? absl::Span<const Event>(&*event, 1)
                        : absl::Span<const Event>(),
                    index == 0 && keys_.empty(), find);
  absl::Status allowed =
      signer.ok()
          ? CheckSignerMayWrite(
                *signer,
                SignedFields{header->tenant, header->type, header->producer},
                index, entry.received_at_ns)
          : signer.status();
  if (allowed.ok() && key_event) {
    absl::StatusOr<std::vector<KeyInfo>> changed =
        ApplyKeyEvent(*event, *signer, index, entry.received_at_ns, find);
    if (!changed.ok()) {
      allowed = changed.status();
    } else {
      for (KeyInfo& info : *changed) {
        keys_[std::string(crypto::AsView(info.key_id))] = std::move(info);
      }
    }
  }
  if (!allowed.ok()) {
    Bad(index, StrCat("entry ", index,
                      " could not have been appended: ", allowed.message()));
  } else if (erasure) {
    NoteErasure(index, *event);
  }
  out_.derived.by_event_id.Add(
      EventIdKey(header->tenant, header->event_id),
      EventIdValue(index, crypto::HashLeaf(entry.event_bytes)));
  for (const BackLink& link : entry.back_links) {
    const std::string key = SubjectHeadKey(link.kind, header->tenant, link.id);
    out_.derived.subject_heads.Add(key, Be64(index));
    if (link.previous == kNoPrevious) continue;
    if (link.previous >= index) {
      Bad(index, StrCat("entry ", index, " has a back-link to entry ",
                        link.previous, ", which is not earlier"));
      continue;
    }
    out_.derived.subject_heads.Remove(key, Be64(link.previous));
  }
  index_keys_.Clear();
  AddIndexKeys(*event, index, index_keys_);
  index_keys_.SortUnique();
  const auto add = [](const IndexKeys& keys, crypto::MultisetHash& digest) {
    for (size_t k = 0; k < keys.size(); ++k) digest.Add(keys[k], "");
  };
  add(index_keys_.by_subject, out_.derived.by_subject);
  add(index_keys_.by_type, out_.derived.by_type);
  add(index_keys_.by_run, out_.derived.by_run);
  add(index_keys_.lineage, out_.derived.lineage);
}

void Scanner::OnEntry(uint64_t index, std::string_view bytes) {
  const Hash leaf = crypto::HashLeaf(bytes);
  absl::StatusOr<Entry> entry = DecodeEntry(bytes);
  if (!entry.ok()) {
    Bad(index, StrCat("entry ", index,
                      " cannot be decoded: ", entry.status().message()));
  } else {
    if (entry->index != index) {
      Bad(index, StrCat("entry ", index, " claims index ", entry->index));
    }
    if (!chain_known_) {
      chain_ = entry->prev_chain_hash;  // vouched for by the caller
      chain_known_ = true;
    }
    if (entry->prev_chain_hash != chain_) {
      out_.chain_problems.push_back(
          {index, index + 1, StrCat("the hash chain breaks at entry ", index)});
      chain_ = entry->prev_chain_hash;  // resynchronise: report breaks once
    }
    out_.last_received_at_ns = entry->received_at_ns;
    if (spec_.derive) {
      Derive(index, *entry);
    } else {
      FindErasure(index, *entry);
    }
  }
  chain_known_ = true;
  chain_ = ChainHash(chain_, leaf);
  out_.tree.AppendAndVisit(leaf, [&](int t, uint64_t i, const auto& hashes) {
    CompareTile(t, i, hashes);
  });
  while (next_root_ < spec_.roots_at.size() &&
         spec_.roots_at[next_root_] == index + 1) {
    out_.roots.emplace_back(index + 1, out_.tree.Root());
    ++next_root_;
  }
  VisitRoots(index + 1);
}

void Scanner::VisitRoots(uint64_t size) {
  if (spec_.visitor == nullptr) return;
  std::optional<Hash> root;
  while (spec_.visitor->next_size() <= size) {
    if (!root.has_value()) root = out_.tree.Root();
    spec_.visitor->Visit(size, *root);
  }
}

absl::StatusOr<ScanOutcome> Scanner::Run() {
  if (spec_.chain_before.has_value() || spec_.begin == 0) {
    chain_ = spec_.chain_before.value_or(Hash{});
    chain_known_ = true;
  }
  std::sort(spec_.roots_at.begin(), spec_.roots_at.end());
  spec_.roots_at.erase(
      std::unique(spec_.roots_at.begin(), spec_.roots_at.end()),
      spec_.roots_at.end());
  while (next_root_ < spec_.roots_at.size() &&
         spec_.roots_at[next_root_] <= spec_.begin) {
    if (spec_.roots_at[next_root_] == spec_.begin) {
      out_.roots.emplace_back(spec_.begin, out_.tree.Root());
    }
    ++next_root_;
  }
  VisitRoots(spec_.begin);
  std::unique_ptr<rocksdb::Iterator> it = spec_.store->NewIterator(
      Cf::kEntries, spec_.snapshot, /*fill_cache=*/false);
  uint64_t index = spec_.begin;
  auto last_report = std::chrono::steady_clock::now();
  for (it->Seek(EntryKey(index)); it->Valid() && index < spec_.end;
       it->Next(), ++index) {
    if (it->key().ToStringView() != EntryKey(index)) {
      const uint64_t found =
          it->key().size() == 8 ? ReadBe64(it->key().ToStringView()) : index;
      return absl::DataLossError(
          StrCat("ledger verification failed: entries ",
                 Range(index, std::min(found, spec_.end)),
                 " are missing from storage; refusing to serve"));
    }
    OnEntry(index, it->value().ToStringView());
    const uint64_t done = index + 1 - spec_.begin;
    if (done % kStep != 0) continue;
    if (spec_.count_progress)
      spec_.count_progress(done, spec_.end - spec_.begin);
    if (spec_.pace != nullptr &&
        !(*spec_.pace)(done, spec_.end - spec_.begin)) {
      return absl::CancelledError(
          StrCat("verification stopped after ", done, " entries"));
    }
    if (spec_.progress && std::chrono::steady_clock::now() - last_report >
                              std::chrono::seconds(2)) {
      last_report = std::chrono::steady_clock::now();
      spec_.progress(
          StrCat("verified ", index + 1, " of ", spec_.end, " entries"));
    }
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "scanning entries"));
  if (index < spec_.end) {
    return absl::DataLossError(
        StrCat("ledger verification failed: entries ", Range(index, spec_.end),
               " are missing from storage; refusing to serve"));
  }
  // The partial tiles on the right edge.
  for (int t = 0; t < kMaxTileLevels; ++t) {
    if (!out_.tree.partial(t).empty()) {
      CompareTile(t, out_.tree.partial_index(t), out_.tree.partial(t));
    }
  }
  out_.chain = chain_;
  if (spec_.derive) {
    for (const auto& [id, info] : keys_) {
      out_.keys.push_back(info);
      out_.derived.keys.Add(id, EncodeKeyInfo(info));
    }
  }
  return std::move(out_);
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
  if (merged.size() > 8) {
    out.append(StrCat(" and ", merged.size() - 8, " more ranges"));
  }
  return out;
}

}  // namespace

absl::StatusOr<EventHeader> PeekEventHeader(std::string_view event_bytes) {
  Decoder d(event_bytes);
  EventHeader h;
  LEDGER_RETURN_IF_ERROR(d.GetRaw("magic and version", 3).status());
  LEDGER_ASSIGN_OR_RETURN(std::string_view id, d.GetRaw("event_id", 16));
  std::copy(id.begin(), id.end(), h.event_id.begin());
  LEDGER_ASSIGN_OR_RETURN(h.type, d.GetBytes("type", 1 << 16));
  LEDGER_RETURN_IF_ERROR(d.GetU32("schema_version").status());
  LEDGER_RETURN_IF_ERROR(d.GetI64("occurred_at").status());
  LEDGER_ASSIGN_OR_RETURN(h.producer, d.GetBytes("producer", 1 << 16));
  LEDGER_ASSIGN_OR_RETURN(h.tenant, d.GetBytes("tenant", 1 << 16));
  return h;
}

absl::StatusOr<ScanOutcome> ScanEntries(ScanSpec spec) {
  Scanner scanner(std::move(spec));
  return scanner.Run();
}

absl::Status JudgeScan(const ScanSpec& spec, const ScanOutcome& scan,
                       const ScanClaims& claims) {
  const uint64_t cp_size =
      claims.checkpoint.has_value() ? claims.checkpoint->size : 0;
  std::optional<Hash> root_at_cp;
  for (const auto& [size, root] : scan.roots) {
    if (size == cp_size) root_at_cp = root;
  }
  const bool matches_checkpoint =
      cp_size == 0 || cp_size < spec.begin ||
      (root_at_cp.has_value() && claims.checkpoint_root.has_value() &&
       *root_at_cp == *claims.checkpoint_root);
  const bool matches_head = scan.tree.Root() == claims.head.root;

  // Classify. A leaf that differs from its stored tree hash is a corrupt
  // entry unless the entries are vouched for (by the signed checkpoint, or
  // by the head record past it), in which case the tree is corrupt. Chain
  // breaks and higher tiles explained by a differing leaf are not reported
  // twice.
  std::set<uint64_t> explained;
  for (const Problem& p : scan.leaf_mismatches) explained.insert(p.begin);
  for (const Problem& p : scan.entry_problems) explained.insert(p.begin);
  const auto vouched = [&](const Problem& p) {
    return p.end <= cp_size ? matches_checkpoint : matches_head;
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
                           cp_size, " (sequence ", claims.checkpoint->sequence,
                           ")"));
  }
  if (findings.empty() && (spec.end != claims.head.size || !matches_head ||
                           scan.chain != claims.head.chain_hash)) {
    findings =
        StrCat("the head record (", claims.head.size,
               " entries) does not match the ", spec.end, " stored entries");
  }
  if (findings.empty()) return absl::OkStatus();
  return absl::DataLossError(StrCat(
      "ledger verification failed: ", findings,
      "; refusing to serve. Restore the data directory from a backup or a "
      "replica"));
}

}  // namespace ledger
