#include <chrono>

#include "absl/container/flat_hash_map.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "ledger/batch.h"
#include "ledger/entry.h"
#include "ledger/schema.h"
#include "ledger/store.h"
#include "tools/bench/node_process.h"
#include "tools/bench/peers.h"

namespace ledger::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Record {
  std::string key;
  std::string value;
};

// One synced WriteBatch: entries CF and by_event_id CF records.
struct Group {
  std::vector<Record> entries;
  std::vector<Record> ids;
};

// Wraps the events into entries exactly as the ledger's append does
// (ledger_append.cc), with received_at fixed and no risk policy.
absl::StatusOr<std::vector<Group>> BuildGroups(
    const std::vector<SignedBatch>& batches,
    const crypto::Ed25519PublicKey& emitter, uint32_t group_events,
    uint64_t* entry_bytes) {
  const Hash key_id = KeyIdOf(emitter);
  const int64_t received_at = 1767225600'000000000;
  absl::flat_hash_map<std::string, uint64_t> last_about;
  std::vector<Group> groups(1);
  uint64_t index = 1;  // index 0 is the node's genesis entry
  Hash chain{};
  size_t in_group = 0;
  for (size_t b = 0; b < batches.size(); ++b) {
    const SignedBatch& sb = batches[b];
    if (sb.event_bytes.size() != sb.events) {
      return absl::InvalidArgumentError(
          "raw RocksDB peer needs the events' bytes (keep_event_bytes)");
    }
    std::vector<Event> events;
    for (const std::string& bytes : sb.event_bytes) {
      LEDGER_ASSIGN_OR_RETURN(Event e, DecodeEvent(bytes));
      events.push_back(std::move(e));
    }
    LEDGER_ASSIGN_OR_RETURN(
        VerifiedBatch batch,
        VerifyBatch(std::move(events), key_id, emitter, sb.signature, {}));
    if (in_group >= group_events) {
      groups.emplace_back();
      in_group = 0;
    }
    Group& group = groups.back();
    for (uint32_t i = 0; i < batch.size(); ++i, ++index) {
      const Event& e = batch.events()[i];
      Entry entry;
      entry.index = index;
      entry.received_at_ns = received_at;
      entry.event_bytes = batch.event_bytes()[i];
      entry.emitter = batch.SignatureFor(i);
      entry.prev_chain_hash = chain;
      for (auto& [kind, id] : SubjectKeys(e)) {
        std::string head = SubjectHeadKey(kind, e.tenant, id);
        auto [it, inserted] = last_about.try_emplace(head, index);
        uint64_t previous = inserted ? kNoPrevious : it->second;
        it->second = index;
        entry.back_links.push_back(BackLink{kind, std::move(id), previous});
      }
      std::string bytes = EncodeEntry(entry);
      chain = ChainHash(chain, crypto::HashLeaf(bytes));
      *entry_bytes += bytes.size();
      group.entries.push_back(Record{Be64(index), std::move(bytes)});
      group.ids.push_back(Record{
          EventIdKey(e.tenant, e.event_id),
          Be64(index) + std::string(crypto::AsView(batch.event_hashes()[i]))});
    }
    in_group += batch.size();
  }
  return groups;
}

}  // namespace

absl::StatusOr<RawRocksResult> RunRawRocks(
    const std::vector<SignedBatch>& batches,
    const crypto::Ed25519PublicKey& emitter, const RawRocksOptions& options) {
  RawRocksResult result;
  LEDGER_ASSIGN_OR_RETURN(
      std::vector<Group> groups,
      BuildGroups(batches, emitter, std::max<uint32_t>(1, options.group_events),
                  &result.entry_bytes));
  LEDGER_ASSIGN_OR_RETURN(std::unique_ptr<Store> store,
                          Store::Open(options.dir, StoreOptions{}));
  const Clock::time_point start = Clock::now();
  const Clock::time_point stop_at =
      start + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(options.max_seconds));
  uint64_t written_bytes = 0;
  for (const Group& group : groups) {
    Clock::time_point t0 = Clock::now();
    if (t0 >= stop_at) break;
    rocksdb::WriteBatch wb;
    for (const Record& r : group.entries) {
      wb.Put(store->handle(Cf::kEntries), r.key, r.value);
      written_bytes += r.value.size();
    }
    for (const Record& r : group.ids) {
      wb.Put(store->handle(Cf::kByEventId), r.key, r.value);
    }
    LEDGER_RETURN_IF_ERROR(store->Write(&wb));
    Clock::time_point t1 = Clock::now();
    result.group_latency.Record(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
    result.events += group.entries.size();
    ++result.groups;
    result.seconds = std::chrono::duration<double>(t1 - start).count();
  }
  result.entry_bytes = written_bytes;
  store.reset();
  result.disk_bytes = DirectoryBytes(options.dir);
  return result;
}

}  // namespace ledger::bench
