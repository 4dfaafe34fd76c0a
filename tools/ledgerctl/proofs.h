#pragma once

// Read commands: checkpoint, prove, consistency, get; and verify (offline,
// shared with ledger-verify).

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "ledger/v1/proof.pb.h"
#include "ledger/v1/query.pb.h"
#include "tools/ledgerctl/client.h"

namespace ledger::ctl {

// Which entry a command is about: an index, or TENANT/EVENT_ID.
struct EntrySelector {
  std::optional<uint64_t> index;
  std::string event;  // "TENANT/EVENT_ID"
};

// Parses "TENANT/EVENT_ID" (split at the last '/'). InvalidArgument if
// either part is empty.
absl::StatusOr<v1::EventKey> ParseEventKey(std::string_view text);

// Proof.GetCheckpoint (min_size 0: the latest). Prints the signed note
// verbatim, or with `json` {size, root_hash, sequence, chain_hash, note}
// (hashes in hex).
absl::Status RunCheckpoint(const ConnectionOptions& conn, uint64_t min_size,
                           bool json, std::ostream& out);

// Proof.GetReceipt; writes its c2sp tlog-proof text (extra = entry bytes,
// or with `key_evidence` the entry and its key's entries, FORMAT.md 10.5)
// to `out_file` after checking that the proof leads to the checkpoint's
// root; prints {index, event_id, tenant, type, tree_size, leaf_hash,
// root_hash, out} and, with key_evidence, key_entries (their indexes).
absl::Status RunProve(const ConnectionOptions& conn, const EntrySelector& entry,
                      bool key_evidence, const std::string& out_file,
                      std::ostream& out);

// Proof.GetConsistencyProof (new_size 0: the latest checkpoint). Prints one
// base64 hash per line (the file ledger-verify consistency --proof reads),
// or with `json` {old_size, new_size, hashes} (hashes in hex).
absl::Status RunConsistency(const ConnectionOptions& conn, uint64_t old_size,
                            uint64_t new_size, bool json, std::ostream& out);

// A message in the proto3 JSON mapping with the proto field names (64-bit
// integers as strings, as the mapping has them).
absl::StatusOr<Json> MessageJson(const google::protobuf::Message& message);

// An entry as `get` prints it: its fields with hashes in hex, the event in
// the proto3 JSON mapping and the entry bytes in base64.
absl::StatusOr<Json> EntryJson(const v1::Entry& entry);

// Query.GetEntry as JSON: the entry's fields with hashes in hex, the event
// in the proto3 JSON mapping (snake_case, as append reads it) and the entry
// bytes in base64.
absl::Status RunGet(const ConnectionOptions& conn, const EntrySelector& entry,
                    std::ostream& out);

// Offline: verifies tlog-proof files like `ledger-verify proof --json` and
// prints one report per line. Returns whether every proof is VALID; an
// error only for unusable key files.
absl::StatusOr<bool> RunVerify(const std::vector<std::string>& proof_files,
                               const std::vector<std::string>& key_files,
                               const std::vector<std::string>& emitter_files,
                               const std::string& origin, std::ostream& out);

}  // namespace ledger::ctl
