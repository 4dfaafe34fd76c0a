#pragma once

// Development certificates, made with OpenSSL's API: a certificate
// authority, and leaf certificates for nodes and clients carrying the SAN
// URIs that a node's access policy matches
// ("spiffe://annotation-ledger/<role>/<name>"). For tests, ledger-bench's
// mTLS runs and local experiments; deploy/dev-ca.sh makes the same shapes
// with the OpenSSL command line. Keys are EC P-256; certificates are X.509
// v3 signed with ECDSA-SHA256.
//
// Not for production: keys are generated in memory and returned as
// unencrypted PEM.

#include <sys/types.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace ledger::devcerts {

// A private key and its certificate, both PEM.
struct Pem {
  std::string key;   // PKCS#8 ("BEGIN PRIVATE KEY"), unencrypted
  std::string cert;  // one certificate
};

// A certificate's validity window.
struct Validity {
  absl::Time not_before;
  absl::Time not_after;
};

// From an hour before `now` (so that a clock slightly behind still accepts
// the certificate) to `now` + `lifetime`.
Validity ValidFor(absl::Duration lifetime, absl::Time now = absl::Now());
// A window that ended a day before `now`.
Validity Expired(absl::Time now = absl::Now());
// A window that starts a day after `now`.
Validity NotYetValid(absl::Time now = absl::Now());

// What a leaf certificate says.
struct LeafSpec {
  std::string common_name;        // the subject's CN; may be empty
  std::vector<std::string> uris;  // SAN URIs
  std::vector<std::string> dns;   // SAN DNS names
  std::vector<std::string> ips;   // SAN IP addresses, "127.0.0.1", "::1"
  Validity validity = ValidFor(absl::Hours(24 * 365));
  bool server_auth = false;  // extendedKeyUsage serverAuth
  bool client_auth = true;   // extendedKeyUsage clientAuth
};

// "spiffe://annotation-ledger/<role>/<name>": the SAN URI of a dev
// identity (role: emitter, officer, regulator, admin or node).
std::string IdentityUri(std::string_view role, std::string_view name);

// A node's certificate: CN and SAN URI IdentityUri("node", node_name), DNS
// SAN "localhost", IP SANs 127.0.0.1 and ::1, for TLS servers and clients
// (nodes also connect to each other).
LeafSpec NodeLeaf(std::string_view node_name);

// A client's certificate: CN `name`, SAN URI IdentityUri(role, name),
// client authentication only.
LeafSpec ClientLeaf(std::string_view role, std::string_view name);

class CertificateAuthority {
 public:
  // A new self-signed CA (fresh key, subject CN = `common_name`, basic
  // constraints CA:TRUE), valid ten years unless told otherwise.
  static absl::StatusOr<CertificateAuthority> Create(
      std::string_view common_name,
      Validity validity = ValidFor(absl::Hours(24 * 3650)));
  // A CA from its PEM key and certificate (InvalidArgument if they do not
  // parse or do not belong together).
  static absl::StatusOr<CertificateAuthority> FromPem(Pem pem);

  // The CA's key and certificate; pem().cert is what a node's and a
  // client's `ca` file holds.
  const Pem& pem() const { return pem_; }

  // A leaf certificate for a fresh key, signed by this CA.
  // InvalidArgument for an IP SAN that is not an address, or a spec
  // naming nothing (no CN and no SAN).
  absl::StatusOr<Pem> Issue(const LeafSpec& spec) const;

 private:
  explicit CertificateAuthority(Pem pem) : pem_(std::move(pem)) {}
  Pem pem_;
};

// Writes `contents` to `path` with permission bits `mode` (also when the
// file exists; a key file is never readable by others, not even briefly).
absl::Status WriteFile(const std::string& path, std::string_view contents,
                       mode_t mode);
// The certificate to `cert_path` (0644) and the key to `key_path` (0600).
absl::Status WritePem(const Pem& pem, const std::string& cert_path,
                      const std::string& key_path);

}  // namespace ledger::devcerts
