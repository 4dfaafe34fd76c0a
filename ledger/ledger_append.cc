// Ledger::Append: the sequencing step of the state machine.

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/sync.h"
#include "crypto/rfc6962.h"
#include "ledger/integrity.h"
#include "ledger/ledger.h"
#include "ledger/ledger_impl.h"
#include "ledger/ledger_keys.h"
#include "ledger/store.h"
#include "ledger/tile_tree.h"

namespace ledger {
namespace {

// Where an event of the group ends up.
struct Slot {
  bool is_new = true;
  uint64_t index = 0;    // for new events
  size_t dup_batch = 0;  // duplicates of an event of this group
  size_t dup_event = 0;
  bool dup_of_group = false;
};

struct Pending {
  size_t batch;
  size_t event;
  Hash event_hash;
};

}  // namespace

// The checks and the plan for one batch; see the contract in ledger.h.
class Ledger::GroupPlanner {
 public:
  GroupPlanner(Ledger& ledger, int64_t t, uint64_t next_index)
      : ledger_(ledger), t_(t), next_(next_index) {}

  // Decides batch `bi`; on success records its slots and returns OK.
  // `id_keys` and `stored` are the batch's by_event_id keys and values.
  absl::Status Plan(size_t bi, const VerifiedBatch& batch,
                    absl::Span<const std::string> id_keys,
                    absl::Span<const std::optional<std::string>> stored,
                    AppendResult& result);

  uint64_t next_index() const { return next_; }
  const absl::flat_hash_map<std::string, KeyInfo>& key_changes() const {
    return key_changes_;
  }
  std::vector<std::vector<Slot>>& slots() { return slots_; }

 private:
  absl::StatusOr<KeyInfo> Signer(const VerifiedBatch& batch) const;
  std::optional<KeyInfo> FindKey(const Hash& id) const;
  absl::Status CheckKeyEvent(const Event& event, const KeyInfo& signer,
                             uint64_t index,
                             absl::flat_hash_map<std::string, KeyInfo>& out);

  Ledger& ledger_;
  const int64_t t_;
  uint64_t next_;
  absl::flat_hash_map<std::string, Pending> pending_ids_;
  absl::flat_hash_map<std::string, KeyInfo> key_changes_;
  std::vector<std::vector<Slot>> slots_;
};

std::optional<KeyInfo> Ledger::GroupPlanner::FindKey(const Hash& id) const {
  auto it = key_changes_.find(std::string(crypto::AsView(id)));
  if (it != key_changes_.end()) return it->second;
  return ledger_.keys_->Find(id);
}

absl::StatusOr<KeyInfo> Ledger::GroupPlanner::Signer(
    const VerifiedBatch& batch) const {
  std::optional<KeyInfo> key = FindKey(batch.key_id());
  if (key.has_value()) return *key;
  // Genesis: the first entry registers the node key that signs it.
  if (ledger_.keys_->size() == 0 && key_changes_.empty() && next_ == 0 &&
      batch.size() == 1 && batch.events()[0].type == "key.registered") {
    absl::StatusOr<KeyInfo> info = KeyInfoFromRegistration(batch.events()[0]);
    if (info.ok() && info->key_id == batch.key_id() &&
        info->role == KeyRole::kNode) {
      return *info;
    }
  }
  return absl::UnauthenticatedError(
      StrCat("emitter key ", KeyIdLabel(batch.key_id()),
             " is not registered; register it with `ledgerctl register-key`"));
}

absl::Status Ledger::GroupPlanner::CheckKeyEvent(
    const Event& event, const KeyInfo& signer, uint64_t index,
    absl::flat_hash_map<std::string, KeyInfo>& out) {
  if (event.type != "key.registered" && event.type != "key.revoked") {
    return absl::OkStatus();
  }
  if (signer.role != KeyRole::kNode) {
    return absl::PermissionDeniedError(
        StrCat(event.type, " events can only be written by a ledger node"));
  }
  if (event.type == "key.registered") {
    LEDGER_ASSIGN_OR_RETURN(KeyInfo info, KeyInfoFromRegistration(event));
    const std::string id(crypto::AsView(info.key_id));
    if (FindKey(info.key_id).has_value() || out.contains(id)) {
      return absl::AlreadyExistsError(
          StrCat("key ", KeyIdLabel(info.key_id), " is already registered"));
    }
    info.registered_at = index;
    out[id] = info;
  } else if (event.type == "key.revoked") {
    LEDGER_ASSIGN_OR_RETURN(Hash id, KeyIdFromRevocation(event));
    const std::string sid(crypto::AsView(id));
    std::optional<KeyInfo> info =
        out.contains(sid) ? std::optional<KeyInfo>(out[sid]) : FindKey(id);
    if (!info.has_value()) {
      return absl::NotFoundError(
          StrCat("key ", KeyIdLabel(id), " is not registered"));
    }
    if (info->revoked_at_ns != 0) {
      return absl::FailedPreconditionError(
          StrCat("key ", KeyIdLabel(id), " is already revoked"));
    }
    if (info->tenant !=
        (info->role == KeyRole::kNode ? std::string() : event.tenant)) {
      return absl::InvalidArgumentError(
          "tenant: must be the tenant of the revoked key");
    }
    info->revoked_at_ns = t_;
    out[sid] = *info;
  }
  return absl::OkStatus();
}

absl::Status Ledger::GroupPlanner::Plan(
    size_t bi, const VerifiedBatch& batch,
    absl::Span<const std::string> id_keys,
    absl::Span<const std::optional<std::string>> stored, AppendResult& result) {
  LEDGER_ASSIGN_OR_RETURN(KeyInfo signer, Signer(batch));
  LEDGER_RETURN_IF_ERROR(signer.CheckValidAt(t_));
  const std::vector<Event>& events = batch.events();
  std::vector<Slot> slots(events.size());
  absl::flat_hash_map<std::string, size_t> in_batch;
  absl::flat_hash_map<std::string, KeyInfo> key_changes;
  result.entries.assign(events.size(), EntryRef{});
  uint64_t next = next_;
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    const auto where = [i] { return StrCat("events[", i, "]"); };
    if (signer.role == KeyRole::kEmitter) {
      if (e.tenant != signer.tenant) {
        return absl::PermissionDeniedError(
            StrCat(where(), ".tenant: '", e.tenant, "' is not the tenant '",
                   signer.tenant, "' of emitter key ", signer.name));
      }
      if (IsLedgerInternalType(e.type)) {
        return absl::PermissionDeniedError(
            StrCat(where(), ".type: ", e.type,
                   " is written by the ledger itself, not by emitters"));
      }
    }
    const std::string& id_key = id_keys[i];
    const Hash& event_hash = batch.event_hashes()[i];
    const auto conflict = [&](std::string_view at) {
      return absl::AlreadyExistsError(
          StrCat(where(), ": event_id ", FormatUuid(e.event_id), " of tenant '",
                 e.tenant, "' is already ", at, " with different content"));
    };
    // (One-event batches, the common small case, need no map.)
    if (auto it = events.size() > 1 ? in_batch.find(id_key) : in_batch.end();
        it != in_batch.end()) {
      if (batch.event_hashes()[it->second] != event_hash) {
        return conflict(StrCat("used by events[", it->second, "]"));
      }
      const Slot& first = slots[it->second];
      if (first.is_new) {
        slots[i] = Slot{false, 0, bi, it->second, true};
      } else {
        slots[i] = first;
        result.entries[i] = result.entries[it->second];
      }
      continue;
    }
    if (events.size() > 1) in_batch[id_key] = i;
    if (auto it = pending_ids_.find(id_key); it != pending_ids_.end()) {
      if (it->second.event_hash != event_hash) {
        return conflict("in a batch being appended");
      }
      slots[i] = Slot{false, 0, it->second.batch, it->second.event, true};
      continue;
    }
    if (stored[i].has_value()) {
      const std::string& v = *stored[i];
      if (v.size() != 8 + crypto::kHashSize ||
          v.compare(8, crypto::kHashSize,
                    std::string(crypto::AsView(event_hash))) != 0) {
        return conflict(StrCat("in the ledger at index ", ReadBe64(v)));
      }
      const uint64_t index = ReadBe64(v);
      // Not GetEntry: the entry may be written but not yet published.
      LEDGER_ASSIGN_OR_RETURN(std::optional<std::string> stored_entry,
                              ledger_.store_->Get(Cf::kEntries, Be64(index)));
      if (!stored_entry.has_value()) {
        return absl::DataLossError(StrCat("entry ", index, " is missing"));
      }
      const std::string& bytes = *stored_entry;
      LEDGER_ASSIGN_OR_RETURN(Entry entry, DecodeEntry(bytes));
      slots[i] = Slot{false, index, 0, 0, false};
      result.entries[i] =
          EntryRef{index, crypto::HashLeaf(bytes), entry.received_at_ns, true};
      continue;
    }
    LEDGER_RETURN_IF_ERROR(
        Annotate(CheckKeyEvent(e, signer, next, key_changes), where()));
    slots[i].index = next++;
  }
  // Accepted: make it visible to the rest of the group.
  for (size_t i = 0; i < events.size(); ++i) {
    if (!slots[i].is_new) continue;
    pending_ids_[id_keys[i]] = Pending{bi, i, batch.event_hashes()[i]};
  }
  for (auto& [id, info] : key_changes) key_changes_[id] = info;
  next_ = next;
  if (slots_.size() <= bi) slots_.resize(bi + 1);
  slots_[bi] = std::move(slots);
  return absl::OkStatus();
}

std::vector<AppendResult> Ledger::Append(
    absl::Span<const VerifiedBatch* const> batches, int64_t received_at_ns) {
  return AppendGroup(batches, received_at_ns, /*sync=*/true);
}

std::vector<AppendResult> Ledger::AppendNoSync(
    absl::Span<const VerifiedBatch* const> batches, int64_t received_at_ns) {
  return AppendGroup(batches, received_at_ns, /*sync=*/false);
}

std::vector<AppendResult> Ledger::AppendGroup(
    absl::Span<const VerifiedBatch* const> batches, int64_t received_at_ns,
    bool sync) {
  std::vector<AppendResult> results(batches.size());
  Impl& im = *impl_;
  const int64_t t = std::max(received_at_ns, im.last_received_at_ns);
  const Head start = written_head();
  const auto fail_all = [&](const absl::Status& status) {
    for (AppendResult& r : results) {
      r.status = status;
      r.entries.clear();
    }
    return results;
  };

  // Every event id of the group, looked up at once.
  std::vector<std::string> id_keys;
  std::vector<size_t> first_key(batches.size() + 1, 0);
  for (size_t b = 0; b < batches.size(); ++b) {
    first_key[b] = id_keys.size();
    for (const Event& e : batches[b]->events()) {
      id_keys.push_back(EventIdKey(e.tenant, e.event_id));
    }
  }
  first_key[batches.size()] = id_keys.size();
  absl::StatusOr<std::vector<std::optional<std::string>>> stored =
      store_->MultiGet(Cf::kByEventId, id_keys);
  if (!stored.ok()) return fail_all(stored.status());

  GroupPlanner planner(*this, t, start.size);
  std::vector<bool> accepted(batches.size(), false);
  for (size_t b = 0; b < batches.size(); ++b) {
    const size_t first = first_key[b], count = first_key[b + 1] - first;
    results[b].status = planner.Plan(
        b, *batches[b], absl::MakeConstSpan(id_keys).subspan(first, count),
        absl::MakeConstSpan(*stored).subspan(first, count), results[b]);
    accepted[b] = results[b].status.ok();
    if (!accepted[b]) results[b].entries.clear();
  }
  if (planner.next_index() == start.size) return results;  // nothing new

  // Back-links: the last entry about each subject, group-local first.
  std::vector<std::string> all_head_keys;
  absl::flat_hash_map<std::string, size_t> head_slot;
  // The head slot of every (new event, subject), in the order the entries
  // are built below.
  std::vector<size_t> subject_slots;
  std::vector<std::vector<std::vector<std::pair<LinkKind, std::string>>>>
      subject_keys(batches.size());
  for (size_t b = 0; b < batches.size(); ++b) {
    if (!accepted[b]) continue;
    subject_keys[b].resize(batches[b]->size());
    for (size_t i = 0; i < batches[b]->size(); ++i) {
      if (!planner.slots()[b][i].is_new) continue;
      const Event& e = batches[b]->events()[i];
      subject_keys[b][i] = SubjectKeys(e);
      for (const auto& [kind, id] : subject_keys[b][i]) {
        std::string key = SubjectHeadKey(kind, e.tenant, id);
        auto [it, inserted] = head_slot.emplace(key, all_head_keys.size());
        subject_slots.push_back(it->second);
        if (inserted) all_head_keys.push_back(std::move(key));
      }
    }
  }
  absl::StatusOr<std::vector<std::optional<std::string>>> stored_heads =
      store_->MultiGet(Cf::kSubjectHeads, all_head_keys);
  if (!stored_heads.ok()) return fail_all(stored_heads.status());
  std::vector<uint64_t> last(all_head_keys.size(), kNoPrevious);
  for (size_t k = 0; k < last.size(); ++k) {
    const std::optional<std::string>& v = (*stored_heads)[k];
    if (v.has_value() && v->size() == 8) last[k] = ReadBe64(*v);
  }

  // Build the entries, in index order.
  TileTree tree = im.tree;
  // Reserve the batch's bytes up front: growing a multi-megabyte buffer
  // by doubling copies it several times.
  size_t estimate = 4096;
  for (size_t b = 0; b < batches.size(); ++b) {
    if (!accepted[b]) continue;
    for (const std::string& bytes : batches[b]->event_bytes()) {
      estimate += bytes.size() + 1024;  // entry framing, signature, indexes
    }
  }
  rocksdb::WriteBatch wb(estimate);
  Hash chain = start.chain_hash;
  std::vector<Hash> leaves;
  leaves.reserve(planner.next_index() - start.size);
  // (by_event_id key, value) of every new entry.
  std::vector<std::pair<const std::string*, std::string>> id_puts;
  size_t next_subject = 0;
  id_puts.reserve(planner.next_index() - start.size);
  for (size_t b = 0; b < batches.size(); ++b) {
    if (!accepted[b]) continue;
    const VerifiedBatch& batch = *batches[b];
    for (size_t i = 0; i < batch.size(); ++i) {
      const Slot& slot = planner.slots()[b][i];
      if (!slot.is_new) continue;
      Entry entry;
      entry.index = slot.index;
      entry.received_at_ns = t;
      entry.event_bytes = batch.event_bytes()[i];
      entry.emitter = batch.SignatureFor(static_cast<uint32_t>(i));
      entry.prev_chain_hash = chain;
      for (auto& [kind, id] : subject_keys[b][i]) {
        const size_t k = subject_slots[next_subject++];
        entry.back_links.push_back(BackLink{kind, std::move(id), last[k]});
        last[k] = slot.index;
      }
      const std::string bytes = EncodeEntry(entry);
      const Hash leaf = crypto::HashLeaf(bytes);
      chain = ChainHash(chain, leaf);
      leaves.push_back(leaf);
      wb.Put(store_->handle(Cf::kEntries), Be64(slot.index), bytes);
      id_puts.emplace_back(&id_keys[first_key[b] + i],
                           Be64(slot.index) + std::string(crypto::AsView(
                                                  batch.event_hashes()[i])));
      results[b].entries[i] = EntryRef{slot.index, leaf, t, false};
    }
  }
  // Random keys go in in key order: each memtable insert then starts its
  // skiplist search from the previous one's position instead of the top.
  std::sort(id_puts.begin(), id_puts.end(),
            [](const auto& a, const auto& b) { return *a.first < *b.first; });
  for (const auto& [key, value] : id_puts) {
    wb.Put(store_->handle(Cf::kByEventId), *key, value);
  }
  std::vector<size_t> changed_heads;
  for (size_t k = 0; k < all_head_keys.size(); ++k) {
    if (last[k] >= start.size && last[k] != kNoPrevious) {
      changed_heads.push_back(k);
    }
  }
  std::sort(
      changed_heads.begin(), changed_heads.end(),
      [&](size_t a, size_t b) { return all_head_keys[a] < all_head_keys[b]; });
  for (size_t k : changed_heads) {
    wb.Put(store_->handle(Cf::kSubjectHeads), all_head_keys[k], Be64(last[k]));
  }
  for (const auto& [id, info] : planner.key_changes()) {
    wb.Put(store_->handle(Cf::kKeys), id, EncodeKeyInfo(info));
  }
  std::vector<TileTree::CompletedTile> completed_tiles;
  tree.Append(leaves, &wb, store_->handle(Cf::kTree), &completed_tiles);
  const Head next_head{planner.next_index(), tree.Root(), chain};
  wb.Put(store_->handle(Cf::kMeta), std::string(kMetaHeadKey),
         EncodeHeadRecord(next_head, t));
  // Written: the next group starts here.
  const auto advance = [&] {
    im.tree = std::move(tree);
    im.last_received_at_ns = t;
    for (const auto& [id, info] : planner.key_changes()) keys_->Put(info);
    // Written tiles never change, and proofs are only served for published
    // sizes, so readers may have them now (the cache dies with a crash).
    if (im.tile_cache != nullptr) {
      for (const TileTree::CompletedTile& c : completed_tiles) {
        im.tile_cache->Insert(c.level, c.index, c.value);
      }
    }
    MutexLock lock(&im.mu);
    im.written = next_head;
  };
  if (sync) {
    // Serialised with Publish, so a concurrent Publish of an older head
    // cannot overwrite this one.
    MutexLock publish_lock(&im.publish_mu);
    if (absl::Status s = store_->Write(&wb); !s.ok()) {
      return fail_all(Annotate(s, "appending entries"));
    }
    advance();
    MutexLock lock(&im.mu);
    im.head = next_head;  // durable: publish
  } else {
    if (absl::Status s = store_->WriteNoSync(&wb); !s.ok()) {
      return fail_all(Annotate(s, "appending entries"));
    }
    advance();
  }
  // Duplicates of events appended by this group.
  for (size_t b = 0; b < batches.size(); ++b) {
    if (!accepted[b]) continue;
    for (size_t i = 0; i < batches[b]->size(); ++i) {
      const Slot& slot = planner.slots()[b][i];
      if (slot.is_new || !slot.dup_of_group) continue;
      results[b].entries[i] = results[slot.dup_batch].entries[slot.dup_event];
      results[b].entries[i].duplicate = true;
    }
  }
  return results;
}

}  // namespace ledger
