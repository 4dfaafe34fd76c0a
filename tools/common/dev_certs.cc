#include "tools/common/dev_certs.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "base/strings.h"

namespace ledger::devcerts {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Free>;
using Cert = std::unique_ptr<X509, Free>;
using Bio = std::unique_ptr<BIO, Free>;

// OpenSSL's error queue as text (and emptied), after `what`.
absl::Status OpenSslError(std::string_view what) {
  std::string detail;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    detail += detail.empty() ? "" : "; ";
    detail += buf;
  }
  return absl::InternalError(
      StrCat(what, " failed", detail.empty() ? "" : ": ", detail));
}

Key NewKey() { return Key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")); }

absl::StatusOr<std::string> BioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  if (n <= 0 || data == nullptr) return OpenSslError("PEM encoding");
  return std::string(data, static_cast<size_t>(n));
}

absl::StatusOr<std::string> KeyPem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr,
                               nullptr) != 1) {
    return OpenSslError("writing a PEM private key");
  }
  return BioText(bio.get());
}

absl::StatusOr<std::string> CertPem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return OpenSslError("writing a PEM certificate");
  }
  return BioText(bio.get());
}

absl::StatusOr<Key> ParseKey(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Key key(bio == nullptr
              ? nullptr
              : PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("CA key: not a PEM private key");
  }
  return key;
}

absl::StatusOr<Cert> ParseCert(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Cert cert(bio == nullptr
                ? nullptr
                : PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("CA certificate: not a PEM certificate");
  }
  return cert;
}

// A new certificate for `key`: version 3, a random positive 127-bit serial
// number, the validity window and a subject with CN `common_name` (if not
// empty).
absl::StatusOr<Cert> NewCert(EVP_PKEY* key, std::string_view common_name,
                             const Validity& validity) {
  Cert cert(X509_new());
  if (cert == nullptr || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return OpenSslError("creating a certificate");
  }
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) {
    return OpenSslError("drawing a serial number");
  }
  serial[0] &= 0x7F;
  serial[0] |= 0x40;  // positive, and never shorter than 16 bytes
  std::unique_ptr<BIGNUM, Free> bn(BN_bin2bn(serial, sizeof(serial), nullptr));
  if (bn == nullptr ||
      BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) ==
          nullptr) {
    return OpenSslError("setting the serial number");
  }
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()),
                    absl::ToTimeT(validity.not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()),
                    absl::ToTimeT(validity.not_after)) == nullptr) {
    return OpenSslError("setting the validity window");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!common_name.empty()) {
    const std::string cn(common_name);
    if (X509_NAME_add_entry_by_txt(
            name, "CN", MBSTRING_UTF8,
            reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
            0) != 1) {
      return OpenSslError("setting the subject name");
    }
  }
  if (X509_set_pubkey(cert.get(), key) != 1) {
    return OpenSslError("setting the public key");
  }
  return cert;
}

// Adds the extension `nid` = `value` (OpenSSL's configuration syntax);
// `issuer` is the signing CA's certificate (the certificate itself for a
// self-signed one).
absl::Status AddExtension(X509* cert, X509* issuer, int nid,
                          const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, Free> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslError(StrCat("adding the extension ", value));
  }
  return absl::OkStatus();
}

absl::Status AddName(GENERAL_NAMES* names, int type, ASN1_STRING* value) {
  GENERAL_NAME* name = GENERAL_NAME_new();
  if (name == nullptr) {
    ASN1_STRING_free(value);
    return OpenSslError("allocating a subject alternative name");
  }
  GENERAL_NAME_set0_value(name, type, value);
  if (sk_GENERAL_NAME_push(names, name) == 0) {
    GENERAL_NAME_free(name);
    return OpenSslError("adding a subject alternative name");
  }
  return absl::OkStatus();
}

absl::Status AddIa5Name(GENERAL_NAMES* names, int type,
                        const std::string& text) {
  ASN1_IA5STRING* value = ASN1_IA5STRING_new();
  if (value == nullptr ||
      ASN1_STRING_set(value, text.data(), static_cast<int>(text.size())) != 1) {
    ASN1_IA5STRING_free(value);
    return OpenSslError("encoding a subject alternative name");
  }
  return AddName(names, type, value);
}

// The subjectAltName extension, built name by name (no configuration
// syntax: a URI may contain commas).
absl::Status AddSubjectAltNames(X509* cert, const LeafSpec& spec) {
  if (spec.uris.empty() && spec.dns.empty() && spec.ips.empty()) {
    return absl::OkStatus();
  }
  std::unique_ptr<GENERAL_NAMES, Free> names(sk_GENERAL_NAME_new_null());
  if (names == nullptr) return OpenSslError("allocating the SAN list");
  for (const std::string& uri : spec.uris) {
    if (absl::Status s = AddIa5Name(names.get(), GEN_URI, uri); !s.ok()) {
      return s;
    }
  }
  for (const std::string& dns : spec.dns) {
    if (absl::Status s = AddIa5Name(names.get(), GEN_DNS, dns); !s.ok()) {
      return s;
    }
  }
  for (const std::string& ip : spec.ips) {
    ASN1_OCTET_STRING* address = a2i_IPADDRESS(ip.c_str());
    if (address == nullptr) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          StrCat("ips: \"", ip, "\" is not an IPv4 or IPv6 address"));
    }
    if (absl::Status s = AddName(names.get(), GEN_IPADD, address); !s.ok()) {
      return s;
    }
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0,
                        X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError("adding the subject alternative names");
  }
  return absl::OkStatus();
}

absl::Status Sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) {
    return OpenSslError("signing the certificate");
  }
  return absl::OkStatus();
}

}  // namespace

Validity ValidFor(absl::Duration lifetime, absl::Time now) {
  return Validity{now - absl::Hours(1), now + lifetime};
}

Validity Expired(absl::Time now) {
  return Validity{now - absl::Hours(48), now - absl::Hours(24)};
}

Validity NotYetValid(absl::Time now) {
  return Validity{now + absl::Hours(24), now + absl::Hours(48)};
}

std::string IdentityUri(std::string_view role, std::string_view name) {
  return StrCat("spiffe://annotation-ledger/", role, "/", name);
}

LeafSpec NodeLeaf(std::string_view node_name) {
  LeafSpec spec;
  spec.common_name = IdentityUri("node", node_name);
  spec.uris = {spec.common_name};
  spec.dns = {"localhost"};
  spec.ips = {"127.0.0.1", "::1"};
  spec.server_auth = true;
  spec.client_auth = true;
  return spec;
}

LeafSpec ClientLeaf(std::string_view role, std::string_view name) {
  LeafSpec spec;
  spec.common_name = std::string(name);
  spec.uris = {IdentityUri(role, name)};
  spec.client_auth = true;
  return spec;
}

absl::StatusOr<CertificateAuthority> CertificateAuthority::Create(
    std::string_view common_name, Validity validity) {
  Key key = NewKey();
  if (key == nullptr) return OpenSslError("generating the CA key");
  absl::StatusOr<Cert> cert = NewCert(key.get(), common_name, validity);
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();
  if (X509_set_issuer_name(c, X509_get_subject_name(c)) != 1) {
    return OpenSslError("setting the issuer name");
  }
  for (auto [nid, value] : {
           std::pair{NID_basic_constraints, "critical,CA:TRUE"},
           std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
           std::pair{NID_subject_key_identifier, "hash"},
           std::pair{NID_authority_key_identifier, "keyid:always"},
       }) {
    if (absl::Status s = AddExtension(c, c, nid, value); !s.ok()) return s;
  }
  if (absl::Status s = Sign(c, key.get()); !s.ok()) return s;
  Pem pem;
  absl::StatusOr<std::string> key_pem = KeyPem(key.get());
  if (!key_pem.ok()) return key_pem.status();
  absl::StatusOr<std::string> cert_pem = CertPem(c);
  if (!cert_pem.ok()) return cert_pem.status();
  pem.key = *std::move(key_pem);
  pem.cert = *std::move(cert_pem);
  return CertificateAuthority(std::move(pem));
}

absl::StatusOr<CertificateAuthority> CertificateAuthority::FromPem(Pem pem) {
  absl::StatusOr<Key> key = ParseKey(pem.key);
  if (!key.ok()) return key.status();
  absl::StatusOr<Cert> cert = ParseCert(pem.cert);
  if (!cert.ok()) return cert.status();
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "the CA key does not belong to the CA certificate");
  }
  return CertificateAuthority(std::move(pem));
}

absl::StatusOr<Pem> CertificateAuthority::Issue(const LeafSpec& spec) const {
  if (spec.common_name.empty() && spec.uris.empty() && spec.dns.empty() &&
      spec.ips.empty()) {
    return absl::InvalidArgumentError(
        "a leaf certificate needs a common name or a subject alternative "
        "name");
  }
  absl::StatusOr<Key> ca_key = ParseKey(pem_.key);
  if (!ca_key.ok()) return ca_key.status();
  absl::StatusOr<Cert> ca_cert = ParseCert(pem_.cert);
  if (!ca_cert.ok()) return ca_cert.status();

  Key key = NewKey();
  if (key == nullptr) return OpenSslError("generating a key");
  absl::StatusOr<Cert> cert =
      NewCert(key.get(), spec.common_name, spec.validity);
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();
  if (X509_set_issuer_name(c, X509_get_subject_name(ca_cert->get())) != 1) {
    return OpenSslError("setting the issuer name");
  }
  std::string usage;
  if (spec.server_auth) usage = "serverAuth";
  if (spec.client_auth) usage += usage.empty() ? "clientAuth" : ",clientAuth";
  X509* ca = ca_cert->get();
  if (absl::Status s =
          AddExtension(c, ca, NID_basic_constraints, "critical,CA:FALSE");
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          AddExtension(c, ca, NID_key_usage, "critical,digitalSignature");
      !s.ok()) {
    return s;
  }
  if (!usage.empty()) {
    if (absl::Status s = AddExtension(c, ca, NID_ext_key_usage, usage.c_str());
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = AddSubjectAltNames(c, spec); !s.ok()) return s;
  if (absl::Status s = AddExtension(c, ca, NID_subject_key_identifier, "hash");
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          AddExtension(c, ca, NID_authority_key_identifier, "keyid:always");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = Sign(c, ca_key->get()); !s.ok()) return s;
  absl::StatusOr<std::string> key_pem = KeyPem(key.get());
  if (!key_pem.ok()) return key_pem.status();
  absl::StatusOr<std::string> cert_pem = CertPem(c);
  if (!cert_pem.ok()) return cert_pem.status();
  return Pem{*std::move(key_pem), *std::move(cert_pem)};
}

absl::Status WriteFile(const std::string& path, std::string_view contents,
                       mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return absl::InternalError(
        StrCat("cannot create ", path, ": ", strerror(errno)));
  }
  // The file may have existed with other permissions, and the umask may
  // have narrowed `mode`: set it exactly, before anything is written.
  if (fchmod(fd, mode) != 0) {
    const int err = errno;
    close(fd);
    return absl::InternalError(
        StrCat("cannot set the mode of ", path, ": ", strerror(err)));
  }
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      close(fd);
      return absl::InternalError(
          StrCat("cannot write ", path, ": ", strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  if (close(fd) != 0) {
    return absl::InternalError(
        StrCat("cannot write ", path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status WritePem(const Pem& pem, const std::string& cert_path,
                      const std::string& key_path) {
  if (absl::Status s = WriteFile(key_path, pem.key, 0600); !s.ok()) return s;
  return WriteFile(cert_path, pem.cert, 0644);
}

}  // namespace ledger::devcerts
