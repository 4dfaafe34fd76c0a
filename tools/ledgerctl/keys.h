#pragma once

// Key commands: keygen (local), register-key, revoke-key, keys rotate,
// list-keys and keys (the node's note verifier keys).

#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "crypto/bytes.h"
#include "crypto/note.h"
#include "tools/ledgerctl/client.h"

namespace ledger::ctl {

struct KeygenResult {
  std::string name;
  crypto::Hash key_id{};  // ledger::KeyIdOf(public key)
  std::string verifier_key;
  std::string private_key_file;
  std::string public_key_file;

  // {name, key_id (hex), verifier_key, private_key_file, public_key_file}
  Json ToJson() const;
};

// Generates an Ed25519 signer named `name` and writes DIR/NAME.key (the
// signer key, mode 0600) and DIR/NAME.pub (its verifier key line, 0644).
// Creates `dir` (mode 0700) if it is missing. AlreadyExists, touching
// nothing, if either file exists; InvalidArgument for a bad key name.
absl::StatusOr<KeygenResult> Keygen(std::string_view name,
                                    const std::string& dir);

// The log key a cluster's nodes share (docs/cluster.md): an Ed25519 signer
// named `origin`, written to `path` (mode 0600) and its verifier key line to
// `path` + ".pub". AlreadyExists if either exists; InvalidArgument for an
// origin that is not a key name.
absl::StatusOr<KeygenResult> ClusterLogKey(std::string_view origin,
                                           const std::string& path);

// Reads the single verifier key of a .pub file. InvalidArgument if the file
// holds none or more than one.
absl::StatusOr<crypto::NoteVerifier> ReadSingleVerifierKey(
    const std::string& path);

struct RegisterKeyOptions {
  std::string pub_file;
  std::string tenant;
  std::string producer;
  std::string valid_from;   // RFC 3339, optional
  std::string valid_until;  // RFC 3339, optional
};

// Admin.RegisterEmitterKey; prints the EntryRef JSON. The node records
// the authenticated caller as the registration's actor.
absl::Status RunRegisterKey(const ConnectionOptions& conn,
                            const RegisterKeyOptions& options,
                            std::ostream& out);

// Admin.RevokeEmitterKey of the key with the 64-hex-digit ID; prints the
// EntryRef JSON.
absl::Status RunRevokeKey(const ConnectionOptions& conn,
                          std::string_view key_id_hex, std::string_view reason,
                          std::ostream& out);

struct RotateKeyOptions {
  std::string key_id;    // the old key, 64 hex digits
  std::string pub_file;  // the new key's .pub file
  std::string reason;
  std::string valid_until;  // RFC 3339, optional
};

// Admin.RotateEmitterKey; prints the EntryRef JSON of the key.rotated entry.
absl::Status RunRotateKey(const ConnectionOptions& conn,
                          const RotateKeyOptions& options, std::ostream& out);

// Admin.ListKeys; prints {"keys":[...]}.
absl::Status RunListKeys(const ConnectionOptions& conn, std::ostream& out);

// Admin.GetNodeInfo. With `note_only`, prints the note verifier keys one per
// line (a file ledger-verify --keys accepts); otherwise the node info JSON.
absl::Status RunNodeKeys(const ConnectionOptions& conn, bool note_only,
                         std::ostream& out);

// `ledgerctl policy check FILE`: parses a risk policy offline
// (docs/risk-rules.md) and prints its name and SHA-256 as JSON; the
// parser's error (line and key) otherwise.
absl::Status RunPolicyCheck(const std::string& file, std::ostream& out);
// `ledgerctl policy set FILE`: Admin.SetRiskPolicy; prints the
// policy.changed entry, the policy's version and SHA-256 as JSON.
absl::Status RunPolicySet(const ConnectionOptions& conn,
                          const std::string& file, std::ostream& out);

}  // namespace ledger::ctl
