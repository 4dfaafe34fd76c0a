#pragma once

// A small ledger built in memory for tests: events signed in batches by an
// emitter key, wrapped into entries, hashed into an RFC 6962 tree, and
// checkpoints signed by a log key and a timestamped cosigner. Everything is
// real (ledger_format and crypto), so what verifies here verifies anywhere.

#include <cstdint>
#include <string>
#include <vector>

#include "crypto/note.h"
#include "ledger/entry.h"
#include "ledger/event.h"
#include "ledger/merkle.h"
#include "ledger/tlog_proof.h"

namespace ledger::verify::testing {

inline constexpr char kOrigin[] = "example.com/annotation-ledger";

class TestLedger {
 public:
  // A ledger of `size` entries under `origin`.
  explicit TestLedger(uint32_t size, std::string origin = kOrigin);

  // A valid event, distinct for every n.
  static Event MakeEvent(uint64_t n);

  // Appends `count` events signed by the emitter key in one batch (the
  // second emitter key after UseSecondEmitter).
  void AppendBatch(uint32_t count);
  // Appends a key event (ledger/FORMAT.md section 8) signed by the log key
  // as a node key, with the ledger's informative fields filled in (actor
  // "admin-1", role admin); returns its index.
  uint64_t AppendKeyEvent(Event event);
  // key.registered of the emitter key for tenant "acme" and `producer`.
  uint64_t RegisterEmitter(std::string producer = "label-studio");
  // key.rotated from the emitter key to the second one.
  uint64_t RotateEmitter();
  // key.revoked of the emitter key (the second one after UseSecondEmitter).
  uint64_t RevokeEmitter(std::string reason);
  // Signs the following batches with the second emitter key (or, with
  // false, the first again).
  void UseSecondEmitter(bool second = true) { second_ = second; }
  // Appends `entry` as it is (prev_chain_hash is not recomputed), so tests
  // can build entries that are included but wrong inside.
  void AppendEntry(const Entry& entry);
  // Appends a leaf that is not an entry at all.
  void AppendLeaf(std::string bytes);
  // A new validly signed entry (a batch of one) for the next index, for a
  // test to alter before AppendEntry.
  Entry NextEntry();
  // An entry for the next index holding `event` exactly as given, signed by
  // the emitter key as a batch of one, without validating it: what an
  // older ledger, with fewer rules, may have stored.
  Entry NextEntryWithEvent(const Event& event);

  uint64_t size() const { return tree_.size(); }
  const Entry& entry(uint64_t i) const { return entries_[i]; }
  const std::string& entry_bytes(uint64_t i) const { return bytes_[i]; }
  const std::string& origin() const { return origin_; }

  // Verifier-key lines, one per line, as files hold them.
  std::string LogKeys() const;      // the log key and the cosigner
  std::string EmitterKeys() const;  // the emitter's .pub line
  std::vector<crypto::NoteVerifier> log_verifiers() const;
  std::vector<crypto::NoteVerifier> emitter_verifiers() const;
  const std::string& emitter_name() const { return emitter_.name(); }
  const crypto::NoteSigner& emitter() const { return emitter_; }
  const crypto::NoteSigner& second_emitter() const { return emitter2_; }

  // The signed checkpoint of the first `size` entries.
  std::string Checkpoint(uint64_t size);
  // The tlog-proof of entry `index` against Checkpoint(size).
  TlogProof Proof(uint64_t index, uint64_t size);
  std::string ProofText(uint64_t index) {
    return FormatTlogProof(Proof(index, this->size()));
  }
  // Proof() with key evidence (FORMAT.md 10.5): the entries `key_indexes`,
  // each with its inclusion proof in the same tree.
  TlogProof ProofWithKeys(uint64_t index, uint64_t size,
                          const std::vector<uint64_t>& key_indexes);
  std::vector<Hash> Consistency(uint64_t old_size, uint64_t new_size);

 private:
  void AppendLeafBytes(std::string bytes);

  std::string origin_;
  crypto::NoteSigner log_;
  crypto::NoteSigner cosigner_;
  crypto::NoteSigner emitter_;
  crypto::NoteSigner emitter2_;
  bool second_ = false;
  uint64_t next_key_event_ = 1;
  std::vector<Entry> entries_;
  std::vector<std::string> bytes_;
  InMemoryTree tree_;
  Hash chain_{};
  uint64_t next_event_ = 1;
};

}  // namespace ledger::verify::testing
