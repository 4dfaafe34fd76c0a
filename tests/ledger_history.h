#pragma once

// What clients have seen of one ledger, kept across node restarts (crashes
// included): every receipt, every refusal, every signed checkpoint; and the
// checks that the ledger, read back through the gRPC API, still agrees with
// all of it. Mismatches are reported with ADD_FAILURE, the first few of
// each kind in full.

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "crypto/bytes.h"
#include "crypto/note.h"
#include "ledger/v1/ingest.pb.h"
#include "ledger/v1/proof.pb.h"
#include "tests/append_load.h"
#include "tests/ledger_client.h"

namespace ledger::testing {

// The ledger as read back, entry by entry.
struct LedgerScan {
  std::vector<crypto::Hash> leaves;  // HashLeaf(entry bytes), recomputed
  std::vector<std::string> ids;      // "tenant/event_id" of each entry
  absl::flat_hash_map<std::string, uint64_t> index_of;
};

struct LoadStats {
  size_t calls = 0, acked_calls = 0, unknown_calls = 0, refused_calls = 0;
  uint64_t acked_events = 0;
};

struct CheckStats {
  uint64_t size = 0;             // the ledger's size when checked
  uint64_t checkpoint_size = 0;  // the checkpoint all others were checked to
  size_t checkpoints_checked = 0;
  uint64_t resent = 0, resent_new = 0;
  uint64_t durable_unacked = 0;  // sent, never acknowledged, found anyway
};

class LedgerHistory {
 public:
  // Events are TestEvent(tenant, event_seed, n), signed by `emitter`.
  LedgerHistory(std::string tenant, uint64_t event_seed,
                const Emitter& emitter);

  // The next event number; loads take theirs from here.
  std::atomic<uint64_t>* next_event() { return &next_event_; }
  // The log's note verifier keys and origin, for every checkpoint check.
  void SetVerifiers(std::vector<crypto::NoteVerifier> verifiers,
                    std::string origin);
  size_t acknowledged() const { return acked_.size(); }

  // Keeps every receipt and refusal. A call that failed before `node_down`
  // (while the node was up) is a failure, as is a receipt that names
  // another event or a duplicate of an event sent once.
  void RecordCalls(const std::vector<AppendCall>& calls, SteadyTime node_down,
                   LoadStats* stats);
  void AddCheckpoints(const std::vector<v1::Checkpoint>& checkpoints);

  // Reads every entry back: each acknowledged event at its receipt's index
  // with its leaf hash, no event twice, nothing refused, nothing never
  // sent, and a size no smaller than any receipt or checkpoint implies.
  void CheckEntries(LedgerClient& client, LedgerScan* scan, CheckStats* stats);
  // Waits for a checkpoint covering the scanned size, then checks every
  // checkpoint seen: signed by the log, its root the root of the scanned
  // entries, consistent with the new one by the node's proof; and proves a
  // few receipts against the new one.
  void CheckCheckpoints(LedgerClient& client, const LedgerScan& scan,
                        CheckStats* stats);
  // Sends every event ever sent again: each acknowledged one must come back
  // a duplicate at its index, each one found by the scan likewise, the rest
  // as new. Afterwards every event sent is acknowledged.
  void Resend(LedgerClient& client, const LedgerScan& scan, CheckStats* stats);

 private:
  std::string Id(uint64_t n) const;  // "tenant/event_id" of event n

  const std::string tenant_;
  const uint64_t event_seed_;
  const Emitter& emitter_;
  std::vector<crypto::NoteVerifier> verifiers_;
  std::string origin_;
  std::atomic<uint64_t> next_event_{0};
  std::map<uint64_t, v1::EntryRef> acked_;  // event number -> receipt
  std::set<uint64_t> refused_;              // must not be in the ledger
  std::vector<v1::Checkpoint> checkpoints_;
};

}  // namespace ledger::testing
