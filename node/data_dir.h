#pragma once

// The node's data directory:
//
//   DATA/origin            the log's origin line, written once
//   DATA/db/               the RocksDB ledger (ledger::Ledger::Open)
//   DATA/keys/             mode 0700
//   DATA/keys/node.key     log signer: Ed25519 (0x01), key name = origin;
//                          signs checkpoints and ledger-internal entries
//   DATA/keys/cosigner.key timestamped cosigner (0x04), name =
//                          origin + "/" + node_name
//   DATA/keys/node.pub     both verifier keys, one per line
//   DATA/keys/last-checkpoint.note
//                          the rollback guard (node/rollback_guard.h): the
//                          last checkpoint this node signed; at creation a
//                          signed checkpoint of the empty tree
//
// Everything is created on first start (private keys mode 0600) and only
// read afterwards; a missing piece next to an existing ledger is an error,
// never silently regenerated. keys/ is created whole: its files are written
// into keys.new/, synced, and the directory renamed, so a keys/ directory
// without its guard was not left by a crash but changed afterwards.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/note.h"

namespace ledger::node {

struct NodeIdentity {
  NodeIdentity(std::string origin, crypto::NoteSigner log_signer,
               crypto::NoteSigner cosigner)
      : origin(std::move(origin)),
        log_signer(std::move(log_signer)),
        cosigner(std::move(cosigner)) {}

  std::string origin;
  crypto::NoteSigner log_signer;
  crypto::NoteSigner cosigner;

  // The log key first, then the cosigner key.
  std::vector<crypto::NoteVerifier> verifiers() const {
    return {log_signer.verifier(), cosigner.verifier()};
  }
};

struct DataDirLayout {
  explicit DataDirLayout(const std::string& dir)
      : root(dir),
        origin_file(dir + "/origin"),
        db(dir + "/db"),
        keys(dir + "/keys"),
        node_key(keys + "/node.key"),
        cosigner_key(keys + "/cosigner.key"),
        node_pub(keys + "/node.pub"),
        guard(keys + "/last-checkpoint.note"),
        acked_head(keys + "/acked-head"),
        keys_staging(dir + "/keys.new") {}
  std::string root, origin_file, db, keys, node_key, cosigner_key, node_pub,
      guard, acked_head, keys_staging;
};

// Opens `dir`, creating whatever is missing on first start. `origin` empty:
// use the stored origin or generate "annotation-ledger.local/<8 hex>".
// FailedPrecondition (the message says what to do) if the stored origin
// differs from a non-empty `origin`, if key names do not match origin and
// `node_name`, or if keys are missing beside an existing ledger.
// `log_key_file` non-empty (a cluster node): the log key is that file's (a
// key file as keys/node.key, named after the origin), copied into a new
// directory and required to equal keys/node.key of an existing one; every
// node of a cluster signs with it (docs/cluster.md).
absl::StatusOr<NodeIdentity> OpenDataDir(const std::string& dir,
                                         std::string_view origin,
                                         std::string_view node_name,
                                         const std::string& log_key_file = "");

// Loads an initialised directory without creating anything (NotFound if it
// was never initialised).
absl::StatusOr<NodeIdentity> LoadDataDir(const std::string& dir);

}  // namespace ledger::node
