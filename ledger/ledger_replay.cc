// Ledger::ApplyEntries: a follower's apply path (docs/cluster.md). The
// entries another ledger made are turned back into what made them (the
// emitter batches, from the signature blocks the entries carry) and
// sequenced again by the same code as Append, which must make the same
// bytes.

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "ledger/entry_keys.h"
#include "ledger/ledger.h"
#include "ledger/ledger_impl.h"
#include "ledger/schema.h"

namespace ledger {
namespace {

struct Given {
  Entry entry;
  Event event;
  bool propagated = false;  // a grade.propagated entry
};

bool SameSignedBatch(const EmitterSignature& a, const EmitterSignature& b) {
  return a.key_id == b.key_id && a.batch_size == b.batch_size &&
         a.batch_root == b.batch_root && a.signature == b.signature &&
         a.batch_index < b.batch_index;
}

// The public keys that key events among `given` introduce (a key may sign
// an entry of the group that registers it).
void CollectKeys(
    const Given& g,
    absl::flat_hash_map<std::string, crypto::Ed25519PublicKey>& introduced) {
  const auto add = [&](const crypto::Ed25519PublicKey& key) {
    introduced[std::string(crypto::AsView(KeyIdOf(key)))] = key;
  };
  if (g.event.type == "key.registered") {
    if (absl::StatusOr<KeyInfo> info = KeyInfoFromRegistration(g.event);
        info.ok()) {
      add(info->public_key);
    }
  } else if (g.event.type == "key.rotated") {
    if (absl::StatusOr<KeyRotation> r = KeyRotationFromEvent(g.event); r.ok()) {
      add(r->new_key.public_key);
    }
  }
}

}  // namespace

absl::StatusOr<size_t> Ledger::ApplyEntries(
    absl::Span<const std::string> entries, bool complete, bool sync) {
  const Head start = written_head();
  // Every event is decoded under no limits: limits are what a node admits,
  // and the other ledger admitted these (ValidateEvent's rules still hold).
  const EventLimits limits = UnboundedEventLimits();
  std::vector<Given> given;
  given.reserve(entries.size());
  int64_t last_t = impl_->last_received_at_ns;
  for (size_t i = 0; i < entries.size(); ++i) {
    const uint64_t want = start.size + i;
    absl::StatusOr<Entry> entry = DecodeEntry(entries[i]);
    if (!entry.ok()) {
      return absl::DataLossError(StrCat("entry ", want, " does not decode: ",
                                        ToStd(entry.status().message())));
    }
    if (entry->index != want) {
      return absl::DataLossError(StrCat(
          "entry ", want, " carries index ", entry->index,
          i == 0 ? StrCat(": this ledger has ", start.size,
                          " entries and continues from there")
                 : std::string(": the entries must follow one another")));
    }
    if (entry->received_at_ns < last_t) {
      return absl::DataLossError(
          StrCat("entry ", want, ": received_at_ns ", entry->received_at_ns,
                 " is before the previous entry's ", last_t));
    }
    last_t = entry->received_at_ns;
    absl::StatusOr<Event> event = DecodeEvent(entry->event_bytes, limits);
    if (!event.ok()) {
      return absl::DataLossError(StrCat(
          "entry ", want,
          "'s event does not decode: ", ToStd(event.status().message())));
    }
    Given g{*std::move(entry), *std::move(event)};
    g.propagated = g.event.type == risk::kPropagatedType;
    given.push_back(std::move(g));
  }

  // The groups: runs of one received_at, each closed by a run of
  // grade.propagated entries (the ledger writes those last in a group).
  std::vector<std::pair<size_t, size_t>> groups;
  for (size_t b = 0; b < given.size();) {
    const int64_t t = given[b].entry.received_at_ns;
    size_t e = b;
    while (e < given.size() && given[e].entry.received_at_ns == t &&
           !given[e].propagated) {
      ++e;
    }
    while (e < given.size() && given[e].entry.received_at_ns == t &&
           given[e].propagated) {
      ++e;
    }
    groups.emplace_back(b, e);
    b = e;
  }
  if (!complete && !groups.empty()) {
    // The last run of the last received_at may continue past the entries
    // given: leave it for a call that has all of it.
    const int64_t t = given.back().entry.received_at_ns;
    while (!groups.empty() &&
           given[groups.back().first].entry.received_at_ns == t) {
      groups.pop_back();
    }
  }

  size_t applied = 0;
  for (const auto& [b, e] : groups) {
    // The emitter batches of the group's own entries; the grade.propagated
    // ones are for this ledger to make again.
    absl::flat_hash_map<std::string, crypto::Ed25519PublicKey> introduced;
    std::vector<VerifiedBatch> batches;
    std::vector<uint64_t> first_index;
    for (size_t i = b; i < e && !given[i].propagated;) {
      size_t j = i + 1;
      while (
          j < e && !given[j].propagated &&
          SameSignedBatch(given[j - 1].entry.emitter, given[j].entry.emitter)) {
        ++j;
      }
      const Hash& key_id = given[i].entry.emitter.key_id;
      crypto::Ed25519PublicKey key;
      if (std::optional<KeyInfo> info = keys_->Find(key_id)) {
        key = info->public_key;
      } else {
        for (size_t k = b; k < j; ++k) CollectKeys(given[k], introduced);
        auto it = introduced.find(std::string(crypto::AsView(key_id)));
        if (it == introduced.end()) {
          return absl::DataLossError(StrCat(
              "entry ", given[i].entry.index, ": its signing key ",
              KeyIdLabel(key_id),
              " is neither registered here nor registered by the entries "
              "before it"));
        }
        key = it->second;
      }
      std::vector<const Entry*> stored;
      std::vector<Event> events;
      for (size_t k = i; k < j; ++k) {
        stored.push_back(&given[k].entry);
        events.push_back(given[k].event);
      }
      absl::StatusOr<VerifiedBatch> batch =
          VerifyStoredBatch(stored, std::move(events), key, limits);
      if (!batch.ok()) {
        return absl::DataLossError(batch.status().message());
      }
      batches.push_back(*std::move(batch));
      first_index.push_back(given[i].entry.index);
      i = j;
    }
    std::vector<const VerifiedBatch*> pointers;
    for (const VerifiedBatch& batch : batches) pointers.push_back(&batch);
    const Expected expected{entries.subspan(b, e - b), first_index};
    GroupResult result = AppendGroup(pointers, given[b].entry.received_at_ns,
                                     /*sync=*/false, &expected);
    if (!result.status.ok()) {
      if (applied > 0 && sync) {
        // What was applied before stays: make it durable too.
        LEDGER_RETURN_IF_ERROR(Publish(written_head()));
      }
      return result.status;
    }
    applied = e;
  }
  if (sync && applied > 0) LEDGER_RETURN_IF_ERROR(Publish(written_head()));
  return applied;
}

}  // namespace ledger
