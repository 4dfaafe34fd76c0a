#pragma once

// The node's TLS material, read from the files the configuration names
// ([tls] ca_file, cert_file, key_file) and checked before gRPC sees it, so
// that a mistake is reported as which file is wrong and how, instead of a
// TLS server that fails every handshake. The private key never appears in
// a message or a log line.

#include <string>

#include "absl/status/statusor.h"

namespace ledger::node {

struct TlsMaterial {
  std::string ca_pem;          // the CA bundle client certificates chain to
  std::string cert_chain_pem;  // this node's certificate chain
  std::string key_pem;         // its private key
};

// Reads and checks the three files: each exists and is readable; the key
// file is readable by its owner only (PermissionDenied naming the file and
// its mode otherwise: group or other permission bits set, as for a file
// written without a restrictive umask; fix with chmod 600); the CA file
// and the certificate file hold PEM certificates; the key file holds a PEM
// private key that belongs to the first certificate of the chain.
// InvalidArgument naming the setting (tls.ca_file, ...) and the path.
absl::StatusOr<TlsMaterial> LoadTlsFiles(const std::string& ca_file,
                                         const std::string& cert_file,
                                         const std::string& key_file);

}  // namespace ledger::node
