#pragma once

// Key files. A private key file holds one signer key
// ("PRIVATE+KEY+name+id+base64"), mode 0600; a public key file holds one or
// more verifier keys ("name+id+base64"), one per line.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/note.h"

namespace ledger::crypto {

// Creates `path` (it must not exist: AlreadyExists otherwise) with mode 0600
// for a private key or 0644 otherwise, writes `contents` and fsyncs it.
absl::Status WriteKeyFile(const std::string& path, std::string_view contents,
                          bool is_private);

// Reads a whole file; NotFound if it is missing.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Reads a private key file. FailedPrecondition if the file can be read by
// group or others (the message says how to fix the mode).
absl::StatusOr<NoteSigner> ReadSignerKeyFile(const std::string& path);

// Reads verifier keys, one per line ('#' comments and blank lines allowed).
absl::StatusOr<std::vector<NoteVerifier>> ReadVerifierKeyFile(
    const std::string& path);

}  // namespace ledger::crypto
