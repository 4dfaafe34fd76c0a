#include "node/tls_files.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <vector>

#include "base/strings.h"
#include "crypto/key_file.h"

namespace ledger::node {
namespace {

struct Free {
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};

std::string Mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

absl::StatusOr<std::string> Read(std::string_view setting,
                                 const std::string& path) {
  absl::StatusOr<std::string> text = crypto::ReadFileToString(path);
  if (!text.ok()) return Annotate(text.status(), setting);
  return text;
}

// The certificates in `pem`, in order (OpenSSL's error queue is cleared:
// reading stops at the first block that is not a certificate).
std::vector<std::unique_ptr<X509, Free>> Certificates(const std::string& pem) {
  std::vector<std::unique_ptr<X509, Free>> out;
  std::unique_ptr<BIO, Free> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (bio != nullptr) {
    X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (cert == nullptr) break;
    out.emplace_back(cert);
  }
  ERR_clear_error();
  return out;
}

}  // namespace

absl::StatusOr<TlsMaterial> LoadTlsFiles(const std::string& ca_file,
                                         const std::string& cert_file,
                                         const std::string& key_file) {
  // The key's permissions first: a key others could read is refused even
  // if everything else is wrong too.
  struct stat st;
  if (stat(key_file.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(
          StrCat("tls.key_file: ", key_file, " does not exist"));
    }
    return absl::PermissionDeniedError(
        StrCat("tls.key_file: cannot read ", key_file, ": ", strerror(err)));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(StrCat(
        "tls.key_file: ", key_file, " has mode ", Mode(st.st_mode),
        ": a private key must be readable by its owner only, not by its "
        "group or others; run chmod 600 ",
        key_file, " (and consider the key exposed if others could read it)"));
  }
  TlsMaterial tls;
  absl::StatusOr<std::string> ca = Read("tls.ca_file", ca_file);
  if (!ca.ok()) return ca.status();
  absl::StatusOr<std::string> chain = Read("tls.cert_file", cert_file);
  if (!chain.ok()) return chain.status();
  absl::StatusOr<std::string> key = Read("tls.key_file", key_file);
  if (!key.ok()) return key.status();
  tls.ca_pem = *std::move(ca);
  tls.cert_chain_pem = *std::move(chain);
  tls.key_pem = *std::move(key);

  if (Certificates(tls.ca_pem).empty()) {
    return absl::InvalidArgumentError(
        StrCat("tls.ca_file: ", ca_file,
               " holds no PEM certificate (-----BEGIN CERTIFICATE-----)"));
  }
  auto certs = Certificates(tls.cert_chain_pem);
  if (certs.empty()) {
    return absl::InvalidArgumentError(
        StrCat("tls.cert_file: ", cert_file,
               " holds no PEM certificate (-----BEGIN CERTIFICATE-----)"));
  }
  std::unique_ptr<BIO, Free> bio(BIO_new_mem_buf(
      tls.key_pem.data(), static_cast<int>(tls.key_pem.size())));
  std::unique_ptr<EVP_PKEY, Free> pkey(
      bio == nullptr
          ? nullptr
          : PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (pkey == nullptr) {
    // Nothing of the file's content goes into the message.
    return absl::InvalidArgumentError(StrCat(
        "tls.key_file: ", key_file, " holds no unencrypted PEM private key"));
  }
  if (X509_check_private_key(certs[0].get(), pkey.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        StrCat("tls.key_file: ", key_file,
               " is not the key of the first certificate in tls.cert_file ",
               cert_file));
  }
  return tls;
}

}  // namespace ledger::node
