// Ledger::Append: the sequencing step of the state machine, in phases around
// one plan (GroupPlan):
//
//   1. LookupEventIds      every event id of the group, in one MultiGet
//   2. PlanBatches         per batch: signer, permissions, key events,
//                          payload key erasures, duplicates; accepted
//                          batches get indexes
//   3. AssessEntries       risk grades of the new entries; the grades they
//                          propagated become a last batch of
//                          grade.propagated events signed by the node key
//   4. LookupSubjectHeads  the latest entry about each subject, one MultiGet
//   5. BuildEntries        entries, chain, tree tiles, derived records and
//                          their digests, into one WriteBatch
//   6. WriteGroup          one RocksDB write; then the in-memory state moves
//
// Phases 1, 4 and 6 touch storage: their errors are the group's (nothing is
// written). Phase 2 rejects batches, each on its own. Phase 3 fails the
// group only without a node key to sign with. Phase 5 cannot fail.

#include <algorithm>
#include <iterator>

#include "absl/container/flat_hash_map.h"
#include "base/check.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/sync.h"
#include "crypto/rfc6962.h"
#include "ledger/ledger.h"
#include "ledger/ledger_impl.h"
#include "ledger/schema.h"
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

struct Ledger::GroupPlan {
  explicit GroupPlan(absl::Span<const VerifiedBatch* const> b) : batches(b) {}

  // The caller's batches, and after phase 3 perhaps one more: the ledger's
  // own grade.propagated events (`propagated`).
  absl::Span<const VerifiedBatch* const> batches;
  std::vector<const VerifiedBatch*> with_propagated;
  std::optional<VerifiedBatch> propagated;
  int64_t t = 0;  // received_at of every entry of the group
  Head start;     // the written head the group extends

  // 1. Every event id of the group, and what by_event_id holds for it.
  //    Batch b's keys are id_keys[first_key[b] .. first_key[b + 1]).
  std::vector<std::string> id_keys;
  std::vector<size_t> first_key;
  std::vector<std::optional<std::string>> stored_ids;

  // 2. Where each event goes (per batch, per event), and the key registry
  //    changes of the accepted batches.
  std::vector<std::vector<Slot>> slots;
  std::vector<bool> accepted;
  uint64_t next_index = 0;  // one past the group's last new entry
  absl::flat_hash_map<std::string, KeyInfo> key_changes;
  // The payload keys the accepted key.erased events destroy.
  std::vector<PayloadKeyErasure> erasures;

  // 3. The risk assessment of each new entry (per batch, per event).
  std::vector<std::vector<risk::Assessment>> assessments;
  // ... and, in entry order, what the findings index takes of each once
  // the group is written (ledger/risk_findings.h).
  struct Finding {
    uint64_t index;
    const Event* event;
    risk::Risk risk;
    RuleLevels rules;
  };
  std::vector<Finding> findings;

  // 4. The subjects of every new entry, in entry order, and the latest
  //    entry about each distinct subject.
  std::vector<std::vector<std::vector<std::pair<LinkKind, std::string>>>>
      subject_keys;                    // [batch][event]
  std::vector<size_t> subject_slots;   // head slot of each (entry, subject)
  std::vector<std::string> head_keys;  // distinct subject_heads keys
  std::vector<uint64_t> stored_head;   // per head key; kNoPrevious if none
  std::vector<uint64_t> latest;        // per head key, as the group goes

  // 5. What is written, and the state after it.
  rocksdb::WriteBatch wb;
  IndexFamilyKeys index_keys;  // of every new entry
  TileTree tree;
  IndexDigests digests;
  std::vector<TileTree::CompletedTile> completed_tiles;
  Head end;
  // ApplyEntries: the bytes of each new entry, in order.
  bool keep_built = false;
  std::vector<std::string> built;
};

// Decides each batch of a group; see the contract in ledger.h.
class Ledger::GroupPlanner {
 public:
  GroupPlanner(Ledger& ledger, GroupPlan& plan)
      : ledger_(ledger), plan_(plan), next_(plan.start.size) {}

  // Decides batch `bi`: its rejection goes to result.status, and on
  // acceptance its slots to the plan. Returns an error only for a storage
  // failure or corruption, which fails the whole group.
  absl::Status Plan(size_t bi, AppendResult& result);

  uint64_t next_index() const { return next_; }

 private:
  std::optional<KeyInfo> FindKey(
      const Hash& id,
      const absl::flat_hash_map<std::string, KeyInfo>* batch_changes) const;
  // Plans the key.erased event `e` at `index`: on success appends its
  // erasure to `batch_erasures`, on a rejection sets `*rejection`. Returns
  // only storage errors.
  absl::Status PlanErasure(const Event& e, uint64_t index,
                           std::vector<PayloadKeyErasure>& batch_erasures,
                           absl::Status* rejection) const;

  Ledger& ledger_;
  GroupPlan& plan_;
  uint64_t next_;
  absl::flat_hash_map<std::string, Pending> pending_ids_;
};

std::optional<KeyInfo> Ledger::GroupPlanner::FindKey(
    const Hash& id,
    const absl::flat_hash_map<std::string, KeyInfo>* batch_changes) const {
  const std::string key(crypto::AsView(id));
  if (batch_changes != nullptr) {
    auto it = batch_changes->find(key);
    if (it != batch_changes->end()) return it->second;
  }
  auto it = plan_.key_changes.find(key);
  if (it != plan_.key_changes.end()) return it->second;
  return ledger_.keys_->Find(id);
}

absl::Status Ledger::GroupPlanner::PlanErasure(
    const Event& e, uint64_t index,
    std::vector<PayloadKeyErasure>& batch_erasures,
    absl::Status* rejection) const {
  absl::StatusOr<PayloadKeyId> id = ErasedKeyIdOf(e);
  if (!id.ok()) {
    *rejection = id.status();
    return absl::OkStatus();
  }
  for (const std::vector<PayloadKeyErasure>* list :
       {&plan_.erasures, &batch_erasures}) {
    for (const PayloadKeyErasure& earlier : *list) {
      if (earlier.key_id != *id) continue;
      *rejection = absl::FailedPreconditionError(
          StrCat("payload key ", PayloadKeyIdHex(*id),
                 " is already erased by entry ", earlier.entry));
      return absl::OkStatus();
    }
  }
  LEDGER_ASSIGN_OR_RETURN(PayloadKeyLookup held, ledger_.shred_->Find(*id));
  if (held.erasure.has_value()) {
    *rejection = absl::FailedPreconditionError(
        StrCat("payload key ", PayloadKeyIdHex(*id),
               " is already erased by entry ", held.erasure->entry));
    return absl::OkStatus();
  }
  if (!held.key.has_value() || held.key->tenant != e.tenant) {
    *rejection =
        absl::NotFoundError(StrCat("payload key ", PayloadKeyIdHex(*id),
                                   " is not held for tenant '", e.tenant, "'"));
    return absl::OkStatus();
  }
  batch_erasures.push_back(PayloadKeyErasure{*id, e.tenant, index});
  return absl::OkStatus();
}

absl::Status Ledger::GroupPlanner::Plan(size_t bi, AppendResult& result) {
  const VerifiedBatch& batch = *plan_.batches[bi];
  const std::vector<Event>& events = batch.events();
  const size_t first = plan_.first_key[bi];
  const bool ledger_empty =
      ledger_.keys_->size() == 0 && plan_.key_changes.empty() && next_ == 0;
  absl::StatusOr<KeyInfo> signer =
      ResolveSigner(batch.key_id(), events, ledger_empty,
                    [&](const Hash& id) { return FindKey(id, nullptr); });
  if (!signer.ok()) {
    result.status = signer.status();
    return absl::OkStatus();
  }
  std::vector<Slot> slots(events.size());
  absl::flat_hash_map<std::string, size_t> in_batch;
  absl::flat_hash_map<std::string, KeyInfo> key_changes;
  std::vector<PayloadKeyErasure> erasures;
  const auto find = [&](const Hash& id) { return FindKey(id, &key_changes); };
  result.entries.assign(events.size(), EntryRef{});
  uint64_t next = next_;
  // "events[3].tenant: ..." for a message that starts with a field name,
  // "events[3]: ..." otherwise.
  const auto reject = [&](size_t i, const absl::Status& s) {
    const std::string_view m = ToStd(s.message());
    const bool field = StartsWithSignedField(m);
    result.status = absl::Status(
        s.code(), StrCat("events[", i, "]", field ? "." : ": ", m));
    result.entries.clear();
    return absl::OkStatus();
  };
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    if (absl::Status s = CheckSignerMayWrite(
            *signer, SignedFields{e.tenant, e.type, e.producer}, next, plan_.t);
        !s.ok()) {
      // Key validity names the key, not the event.
      if (absl::IsUnauthenticated(s)) {
        result.status = s;
        result.entries.clear();
        return absl::OkStatus();
      }
      return reject(i, s);
    }
    const std::string& id_key = plan_.id_keys[first + i];
    const Hash& event_hash = batch.event_hashes()[i];
    const auto conflict = [&](std::string_view at) {
      return reject(
          i, absl::AlreadyExistsError(StrCat(
                 "event_id ", FormatUuid(e.event_id), " of tenant '", e.tenant,
                 "' is already ", at, " with different content")));
    };
    // (One-event batches, the common small case, need no map.)
    if (auto it = events.size() > 1 ? in_batch.find(id_key) : in_batch.end();
        it != in_batch.end()) {
      if (batch.event_hashes()[it->second] != event_hash) {
        return conflict(StrCat("used by events[", it->second, "]"));
      }
      const Slot& earlier = slots[it->second];
      if (earlier.is_new) {
        slots[i] = Slot{false, 0, bi, it->second, true};
      } else {
        slots[i] = earlier;
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
    if (const std::optional<std::string>& v = plan_.stored_ids[first + i];
        v.has_value()) {
      LEDGER_ASSIGN_OR_RETURN(EventIdRecord record, DecodeEventIdValue(*v));
      if (record.event_hash != event_hash) {
        return conflict(StrCat("in the ledger at index ", record.index));
      }
      if (record.index >= plan_.start.size) {
        return absl::DataLossError(StrCat("the event index says event ",
                                          FormatUuid(e.event_id), " is entry ",
                                          record.index, " but the ledger has ",
                                          plan_.start.size, " entries"));
      }
      // Not GetEntry: the entry may be written but not yet published.
      LEDGER_ASSIGN_OR_RETURN(
          std::optional<std::string> bytes,
          ledger_.store_->Get(Cf::kEntries, EntryKey(record.index)));
      if (!bytes.has_value()) {
        return absl::DataLossError(
            StrCat("entry ", record.index, " is missing"));
      }
      LEDGER_ASSIGN_OR_RETURN(Entry entry, DecodeEntry(*bytes));
      // The index must point at this very event: a redirected record
      // would acknowledge another entry as this event's.
      if (entry.index != record.index ||
          crypto::HashLeaf(entry.event_bytes) != event_hash) {
        return absl::DataLossError(
            StrCat("the event index points event ", FormatUuid(e.event_id),
                   " of tenant '", e.tenant, "' at entry ", record.index,
                   ", which holds another event"));
      }
      slots[i] = Slot{false, record.index, 0, 0, false};
      result.entries[i] = EntryRef{record.index, crypto::HashLeaf(*bytes),
                                   entry.received_at_ns, true};
      continue;
    }
    absl::StatusOr<std::vector<KeyInfo>> key_changed =
        ApplyKeyEvent(e, *signer, next, plan_.t, find);
    if (!key_changed.ok()) return reject(i, key_changed.status());
    for (KeyInfo& info : *key_changed) {
      key_changes[std::string(crypto::AsView(info.key_id))] = std::move(info);
    }
    if (e.type == risk::kPropagatedType) {
      return reject(i, absl::PermissionDeniedError(
                           "type: grade.propagated entries are written by the "
                           "ledger itself, from the grades it computes"));
    }
    if (e.type == "policy.changed") {
      // A policy that does not parse would grade nothing: refuse it here,
      // with the line and the field (the node checks it first too).
      if (e.tenant != kLedgerTenant) {
        return reject(
            i, absl::InvalidArgumentError(StrCat(
                   "tenant: a policy.changed event belongs to '", kLedgerTenant,
                   "', not ", QuoteForMessage(e.tenant))));
      }
      if (absl::StatusOr<risk::Policy> policy = risk::PolicyOfEvent(e);
          !policy.ok()) {
        return reject(i, policy.status());
      }
    }
    if (e.type == "key.erased") {
      absl::Status rejection;
      LEDGER_RETURN_IF_ERROR(PlanErasure(e, next, erasures, &rejection));
      if (!rejection.ok()) return reject(i, rejection);
    }
    slots[i].index = next++;
  }
  // Accepted: make it visible to the rest of the group.
  for (size_t i = 0; i < events.size(); ++i) {
    if (!slots[i].is_new) continue;
    pending_ids_[plan_.id_keys[first + i]] =
        Pending{bi, i, batch.event_hashes()[i]};
  }
  for (auto& [id, info] : key_changes) plan_.key_changes[id] = info;
  for (PayloadKeyErasure& erasure : erasures) {
    plan_.erasures.push_back(std::move(erasure));
  }
  next_ = next;
  plan_.slots[bi] = std::move(slots);
  plan_.accepted[bi] = true;
  return absl::OkStatus();
}

absl::Status Ledger::LookupEventIds(GroupPlan& plan) const {
  plan.first_key.assign(plan.batches.size() + 1, 0);
  for (size_t b = 0; b < plan.batches.size(); ++b) {
    plan.first_key[b] = plan.id_keys.size();
    for (const Event& e : plan.batches[b]->events()) {
      plan.id_keys.push_back(EventIdKey(e.tenant, e.event_id));
    }
  }
  plan.first_key[plan.batches.size()] = plan.id_keys.size();
  LEDGER_ASSIGN_OR_RETURN(plan.stored_ids,
                          store_->MultiGet(Cf::kByEventId, plan.id_keys));
  return absl::OkStatus();
}

absl::Status Ledger::PlanBatches(GroupPlan& plan,
                                 std::vector<AppendResult>& results) {
  plan.slots.resize(plan.batches.size());
  plan.accepted.assign(plan.batches.size(), false);
  GroupPlanner planner(*this, plan);
  for (size_t b = 0; b < plan.batches.size(); ++b) {
    LEDGER_RETURN_IF_ERROR(planner.Plan(b, results[b]));
  }
  plan.next_index = planner.next_index();
  return absl::OkStatus();
}

absl::Status Ledger::AssessEntries(GroupPlan& plan,
                                   std::vector<AppendResult>& results) {
  plan.assessments.resize(plan.batches.size());
  if (!options_.risk_evaluation) return absl::OkStatus();
  MutexLock risk_lock(&impl_->risk_mu);
  risk::Engine& engine = *impl_->risk;
  for (size_t b = 0; b < plan.batches.size(); ++b) {
    if (!plan.accepted[b]) continue;
    const VerifiedBatch& batch = *plan.batches[b];
    plan.assessments[b].resize(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      const Slot& slot = plan.slots[b][i];
      if (!slot.is_new) continue;
      plan.assessments[b][i] =
          engine.Apply(batch.events()[i], slot.index, plan.t);
    }
  }
  if (engine.unrecorded().empty()) return absl::OkStatus();

  // The grades this group propagated: one grade.propagated event each, in
  // one batch signed by the node key, after the group's other entries.
  if (!options_.node_key.has_value()) {
    return absl::FailedPreconditionError(
        "this group propagates data grades, but the ledger has no node key "
        "to sign their grade.propagated entries with (LedgerOptions::"
        "node_key)");
  }
  const crypto::Ed25519PrivateKey& key = *options_.node_key;
  const Hash key_id = KeyIdOf(key.public_key());
  // (The group itself may have registered it: a follower re-makes groups
  // of one received_at as one, ApplyEntries.)
  std::optional<KeyInfo> info;
  if (auto it = plan.key_changes.find(std::string(crypto::AsView(key_id)));
      it != plan.key_changes.end()) {
    info = it->second;
  } else {
    info = keys_->Find(key_id);
  }
  if (!info.has_value() || info->role != KeyRole::kNode) {
    return absl::FailedPreconditionError(
        StrCat("this group propagates data grades, but the ledger's node key ",
               KeyIdLabel(key_id),
               " is not a registered node key, so it cannot sign their "
               "grade.propagated entries"));
  }
  if (absl::Status s = info->CheckValidAt(plan.next_index, plan.t); !s.ok()) {
    return absl::FailedPreconditionError(StrCat(
        "the node key cannot sign grade.propagated entries: ", s.message()));
  }
  std::vector<Event> events;
  std::vector<std::string> bytes;
  for (const risk::Propagation& p : engine.unrecorded()) {
    events.push_back(risk::PropagationEvent(p));
    bytes.push_back(EncodeEvent(events.back()));
  }
  const crypto::Ed25519Signature signature = SignBatch(key, bytes);
  absl::StatusOr<VerifiedBatch> batch =
      VerifyBatch(std::move(events), key_id, key.public_key(), signature,
                  UnboundedEventLimits());
  if (!batch.ok()) {
    return absl::InternalError(StrCat("grade.propagated events do not verify: ",
                                      batch.status().message()));
  }
  plan.propagated = *std::move(batch);
  const VerifiedBatch& own = *plan.propagated;
  plan.with_propagated.assign(plan.batches.begin(), plan.batches.end());
  plan.with_propagated.push_back(&own);
  plan.batches = plan.with_propagated;
  std::vector<Slot> slots(own.size());
  std::vector<risk::Assessment> assessed(own.size());
  for (size_t i = 0; i < own.size(); ++i) {
    plan.id_keys.push_back(
        EventIdKey(own.events()[i].tenant, own.events()[i].event_id));
    slots[i].index = plan.next_index++;
    assessed[i] = engine.Apply(own.events()[i], slots[i].index, plan.t);
  }
  plan.first_key.push_back(plan.id_keys.size());
  plan.slots.push_back(std::move(slots));
  plan.accepted.push_back(true);
  plan.assessments.push_back(std::move(assessed));
  results.emplace_back();
  results.back().entries.resize(own.size());
  return absl::OkStatus();
}

absl::Status Ledger::LookupSubjectHeads(GroupPlan& plan) const {
  absl::flat_hash_map<std::string, size_t> head_slot;
  plan.subject_keys.resize(plan.batches.size());
  for (size_t b = 0; b < plan.batches.size(); ++b) {
    if (!plan.accepted[b]) continue;
    const VerifiedBatch& batch = *plan.batches[b];
    plan.subject_keys[b].resize(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!plan.slots[b][i].is_new) continue;
      const Event& e = batch.events()[i];
      plan.subject_keys[b][i] = SubjectKeys(e);
      for (const auto& [kind, id] : plan.subject_keys[b][i]) {
        std::string key = SubjectHeadKey(kind, e.tenant, id);
        auto [it, inserted] = head_slot.emplace(key, plan.head_keys.size());
        plan.subject_slots.push_back(it->second);
        if (inserted) plan.head_keys.push_back(std::move(key));
      }
    }
  }
  LEDGER_ASSIGN_OR_RETURN(std::vector<std::optional<std::string>> stored,
                          store_->MultiGet(Cf::kSubjectHeads, plan.head_keys));
  plan.stored_head.assign(plan.head_keys.size(), kNoPrevious);
  for (size_t k = 0; k < stored.size(); ++k) {
    if (!stored[k].has_value()) continue;
    // A head must name an existing entry: a damaged one would be signed
    // into the new entry as its back-link.
    if (stored[k]->size() != 8 || ReadBe64(*stored[k]) >= plan.start.size) {
      return absl::DataLossError(StrCat(
          "the subject_heads record ", crypto::HexEncode(plan.head_keys[k]),
          " is corrupt (",
          stored[k]->size() == 8 ? StrCat("names entry ", ReadBe64(*stored[k]),
                                          " of ", plan.start.size)
                                 : StrCat(stored[k]->size(), " bytes"),
          ")"));
    }
    plan.stored_head[k] = ReadBe64(*stored[k]);
  }
  plan.latest = plan.stored_head;
  return absl::OkStatus();
}

void Ledger::BuildEntries(GroupPlan& plan, std::vector<AppendResult>& results) {
  // Reserve the batch's bytes up front: growing a multi-megabyte buffer
  // by doubling copies it several times.
  size_t estimate = 4096;
  for (size_t b = 0; b < plan.batches.size(); ++b) {
    if (!plan.accepted[b]) continue;
    for (const std::string& bytes : plan.batches[b]->event_bytes()) {
      estimate += bytes.size() + 1024;  // entry framing, signature, indexes
    }
  }
  plan.wb = rocksdb::WriteBatch(estimate);
  rocksdb::WriteBatch& wb = plan.wb;
  plan.tree = impl_->tree;
  plan.digests = impl_->digests;
  Hash chain = plan.start.chain_hash;
  std::vector<Hash> leaves;
  leaves.reserve(plan.next_index - plan.start.size);
  // (by_event_id key, value) of every new entry.
  std::vector<std::pair<const std::string*, std::string>> id_puts;
  id_puts.reserve(plan.next_index - plan.start.size);
  size_t next_subject = 0;
  for (size_t b = 0; b < plan.batches.size(); ++b) {
    if (!plan.accepted[b]) continue;
    const VerifiedBatch& batch = *plan.batches[b];
    for (size_t i = 0; i < batch.size(); ++i) {
      const Slot& slot = plan.slots[b][i];
      if (!slot.is_new) continue;
      Entry entry;
      entry.index = slot.index;
      entry.received_at_ns = plan.t;
      entry.event_bytes = batch.event_bytes()[i];
      entry.emitter = batch.SignatureFor(static_cast<uint32_t>(i));
      entry.prev_chain_hash = chain;
      if (options_.risk_evaluation) {
        risk::Assessment& a = plan.assessments[b][i];
        plan.findings.push_back(GroupPlan::Finding{
            slot.index, &batch.events()[i], a.risk, RuleLevelsOf(a.reasons)});
        entry.risk.grade = static_cast<RiskGrade>(a.risk);
        entry.risk.reasons = std::move(a.reasons);
        entry.policy_version = a.policy_version;
      }
      for (auto& [kind, id] : plan.subject_keys[b][i]) {
        const size_t k = plan.subject_slots[next_subject++];
        entry.back_links.push_back(
            BackLink{kind, std::move(id), plan.latest[k]});
        plan.latest[k] = slot.index;
      }
      const std::string bytes = EncodeEntry(entry);
      if (plan.keep_built) plan.built.push_back(bytes);
      const Hash leaf = crypto::HashLeaf(bytes);
      chain = ChainHash(chain, leaf);
      leaves.push_back(leaf);
      wb.Put(store_->handle(Cf::kEntries), EntryKey(slot.index), bytes);
      id_puts.emplace_back(&plan.id_keys[plan.first_key[b] + i],
                           EventIdValue(slot.index, batch.event_hashes()[i]));
      if (options_.provenance_indexes) {
        AddIndexKeys(batch.events()[i], slot.index, plan.index_keys);
      }
      results[b].entries[i] = EntryRef{slot.index, leaf, plan.t, false};
    }
  }
  LEDGER_CHECK(leaves.size() == plan.next_index - plan.start.size, "built ",
               leaves.size(), " entries for ",
               plan.next_index - plan.start.size, " slots");
  // Random keys go in in key order: each memtable insert then starts its
  // skiplist search from the previous one's position instead of the top.
  std::sort(id_puts.begin(), id_puts.end(),
            [](const auto& a, const auto& b) { return *a.first < *b.first; });
  for (const auto& [key, value] : id_puts) {
    wb.Put(store_->handle(Cf::kByEventId), *key, value);
    plan.digests.by_event_id.Add(*key, value);
  }
  // The index families: each key once (an entry may name a subject twice),
  // in key order as above.
  plan.index_keys.SortUnique();
  const std::pair<const IndexKeys*, Cf> families[] = {
      {&plan.index_keys.by_subject, Cf::kBySubject},
      {&plan.index_keys.by_type, Cf::kByType},
      {&plan.index_keys.by_run, Cf::kByRun},
      {&plan.index_keys.lineage, Cf::kLineage}};
  crypto::MultisetHash* const family_digests[] = {
      &plan.digests.by_subject, &plan.digests.by_type, &plan.digests.by_run,
      &plan.digests.lineage};
  for (size_t f = 0; f < std::size(families); ++f) {
    const IndexKeys& keys = *families[f].first;
    rocksdb::ColumnFamilyHandle* handle = store_->handle(families[f].second);
    for (size_t k = 0; k < keys.size(); ++k) {
      const std::string_view key = keys[k];
      wb.Put(handle, rocksdb::Slice(key.data(), key.size()), rocksdb::Slice());
      family_digests[f]->Add(key, "");
    }
  }
  std::vector<size_t> changed_heads;
  for (size_t k = 0; k < plan.head_keys.size(); ++k) {
    if (plan.latest[k] != plan.stored_head[k]) changed_heads.push_back(k);
  }
  std::sort(changed_heads.begin(), changed_heads.end(),
            [&](size_t a, size_t b) {
              return plan.head_keys[a] < plan.head_keys[b];
            });
  for (size_t k : changed_heads) {
    const std::string value = Be64(plan.latest[k]);
    if (plan.stored_head[k] != kNoPrevious) {
      plan.digests.subject_heads.Remove(plan.head_keys[k],
                                        Be64(plan.stored_head[k]));
    }
    plan.digests.subject_heads.Add(plan.head_keys[k], value);
    wb.Put(store_->handle(Cf::kSubjectHeads), plan.head_keys[k], value);
  }
  for (const auto& [id, info] : plan.key_changes) {
    const std::string value = EncodeKeyInfo(info);
    if (std::optional<KeyInfo> old = keys_->Find(info.key_id)) {
      plan.digests.keys.Remove(id, EncodeKeyInfo(*old));
    }
    plan.digests.keys.Add(id, value);
    wb.Put(store_->handle(Cf::kKeys), id, value);
  }
  // Each key dies in the write that stores its key.erased entry.
  for (const PayloadKeyErasure& erasure : plan.erasures) {
    shred_->AddErasure(erasure, &wb);
  }
  plan.tree.Append(leaves, &wb, store_->handle(Cf::kTree),
                   &plan.completed_tiles);
  plan.end = Head{plan.next_index, plan.tree.Root(), chain};
  wb.Put(store_->handle(Cf::kMeta), std::string(kMetaHeadKey),
         EncodeHeadRecord(
             HeadRecord{plan.end.size, plan.end.root, chain, plan.t}));
  wb.Put(store_->handle(Cf::kMeta), std::string(kMetaIndexDigestKey),
         EncodeIndexDigests(plan.digests));
}

absl::Status Ledger::WriteGroup(GroupPlan& plan, bool sync) {
  Impl& im = *impl_;
  // Written: the next group starts here.
  const auto advance = [&] {
    im.tree = std::move(plan.tree);
    im.last_received_at_ns = plan.t;
    im.digests = plan.digests;
    for (const auto& [id, info] : plan.key_changes) keys_->Put(info);
    // Written tiles never change, and proofs are only served for published
    // sizes, so readers may have them now (the cache dies with a crash).
    if (im.tile_cache != nullptr) {
      for (const TileTree::CompletedTile& c : plan.completed_tiles) {
        im.tile_cache->Insert(c.level, c.index, c.value);
      }
    }
    {
      // The group's findings: only once it is written (a group that failed
      // leaves none behind), and before the head that readers clamp to
      // covers it (an answer as of that head must find them).
      MutexLock risk_lock(&im.risk_mu);
      for (const GroupPlan::Finding& f : plan.findings) {
        im.findings.Add(f.index, f.event->tenant, f.event->actor.id, f.risk,
                        f.rules);
      }
    }
    MutexLock lock(&im.mu);
    im.written = plan.end;
  };
  if (sync) {
    // Serialised with Publish, so a concurrent Publish of an older head
    // cannot overwrite this one.
    MutexLock publish_lock(&im.publish_mu);
    LEDGER_RETURN_IF_ERROR(
        Annotate(store_->Write(&plan.wb), "appending entries"));
    advance();
    MutexLock lock(&im.mu);
    im.head = plan.end;  // durable: publish
    return absl::OkStatus();
  }
  LEDGER_RETURN_IF_ERROR(
      Annotate(store_->WriteNoSync(&plan.wb), "appending entries"));
  advance();
  return absl::OkStatus();
}

GroupResult Ledger::Append(absl::Span<const VerifiedBatch* const> batches,
                           int64_t received_at_ns) {
  return AppendGroup(batches, received_at_ns, /*sync=*/true);
}

GroupResult Ledger::AppendNoSync(absl::Span<const VerifiedBatch* const> batches,
                                 int64_t received_at_ns) {
  return AppendGroup(batches, received_at_ns, /*sync=*/false);
}

absl::Status Ledger::CheckExpected(const GroupPlan& plan,
                                   const std::vector<AppendResult>& results,
                                   const Expected& expected) const {
  for (size_t b = 0; b < expected.batch_first_index.size(); ++b) {
    const uint64_t first = expected.batch_first_index[b];
    if (!results[b].status.ok()) {
      return absl::DataLossError(
          StrCat("entry ", first,
                 " (and its batch): this node refuses the event "
                 "that the other ledger appended there: ",
                 results[b].status.ToString()));
    }
    for (size_t i = 0; i < plan.slots[b].size(); ++i) {
      const Slot& slot = plan.slots[b][i];
      if (slot.is_new) continue;
      return absl::DataLossError(
          StrCat("entry ", first + i, ": this node already holds its event (",
                 slot.dup_of_group ? "in the same group"
                                   : StrCat("at entry ", slot.index),
                 "), so the other ledger stored it twice"));
    }
  }
  const size_t n = std::min(plan.built.size(), expected.entries.size());
  for (size_t i = 0; i < n; ++i) {
    if (plan.built[i] == expected.entries[i]) continue;
    return absl::DataLossError(
        StrCat("entry ", plan.start.size + i,
               " differs from the entry this node makes of the same event: ",
               DescribeEntryDifference(plan.built[i], expected.entries[i])));
  }
  if (plan.built.size() != expected.entries.size()) {
    const uint64_t at = plan.start.size + n;
    return absl::DataLossError(
        plan.built.size() > expected.entries.size()
            ? StrCat("entry ", at, " is missing: the group of entries ",
                     plan.start.size, "..", at - 1, " propagates grades that ",
                     "this node records in grade.propagated entries from ", at,
                     " on (", plan.built.size() - n, " of them)")
            : StrCat("entry ", at, ": this node makes no such entry (",
                     expected.entries.size() - n,
                     " grade.propagated entries that no grade of its group "
                     "propagated)"));
  }
  return absl::OkStatus();
}

GroupResult Ledger::AppendGroup(absl::Span<const VerifiedBatch* const> batches,
                                int64_t received_at_ns, bool sync,
                                const Expected* expected) {
  GroupPlan plan(batches);
  plan.keep_built = expected != nullptr;
  plan.t = std::max(received_at_ns, impl_->last_received_at_ns);
  plan.start = written_head();
  const auto fail = [](const absl::Status& status) {
    LEDGER_CHECK(!status.ok(), "a group failure needs a status");
    return GroupResult{status, {}};
  };
  if (absl::Status s = LookupEventIds(plan); !s.ok()) return fail(s);

  std::vector<AppendResult> results(batches.size());
  if (absl::Status s = PlanBatches(plan, results); !s.ok()) return fail(s);
  if (expected != nullptr && plan.next_index == plan.start.size) {
    if (absl::Status s = CheckExpected(plan, results, *expected); !s.ok()) {
      return fail(s);
    }
  }
  if (plan.next_index > plan.start.size) {
    bool stale;
    {
      MutexLock lock(&impl_->risk_mu);
      stale = impl_->risk_stale;
    }
    if (stale) {
      if (absl::Status s = LoadRisk(plan.start.size, /*check=*/false);
          !s.ok()) {
        return fail(s);
      }
    }
    // From here on the engine has seen the group's entries: a failure
    // leaves it ahead of the store, to be rebuilt before the next group.
    const auto fail_stale = [&](const absl::Status& s) {
      MutexLock lock(&impl_->risk_mu);
      impl_->risk_stale = true;
      return fail(s);
    };
    if (absl::Status s = AssessEntries(plan, results); !s.ok()) {
      return fail_stale(s);
    }
    if (absl::Status s = LookupSubjectHeads(plan); !s.ok()) {
      return fail_stale(s);
    }
    BuildEntries(plan, results);
    if (expected != nullptr) {
      if (absl::Status s = CheckExpected(plan, results, *expected); !s.ok()) {
        return fail_stale(s);
      }
    }
    if (absl::Status s = WriteGroup(plan, sync); !s.ok()) {
      return fail_stale(s);
    }
    // The ledger's own batch is not the caller's business.
    results.resize(batches.size());
  }
  // Duplicates of events appended by this group.
  for (size_t b = 0; b < batches.size(); ++b) {
    if (!plan.accepted[b]) continue;
    for (size_t i = 0; i < batches[b]->size(); ++i) {
      const Slot& slot = plan.slots[b][i];
      if (slot.is_new || !slot.dup_of_group) continue;
      results[b].entries[i] = results[slot.dup_batch].entries[slot.dup_event];
      results[b].entries[i].duplicate = true;
    }
  }
  return GroupResult{absl::OkStatus(), std::move(results)};
}

}  // namespace ledger
