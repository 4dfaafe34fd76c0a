#include "tools/common/client_tls.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <toml++/toml.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "base/strings.h"

namespace ledger::client_tls {
namespace {

std::string OctalMode(mode_t mode) {
  std::string out = "0";
  for (int shift = 6; shift >= 0; shift -= 3) {
    out.push_back(static_cast<char>('0' + ((mode >> shift) & 7)));
  }
  return out;
}

// The whole file; NotFound / PermissionDenied / Internal naming `what`.
absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     std::string_view what) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno != 0 ? errno : EIO;
    std::string msg =
        StrCat("cannot read ", what, " ", path, ": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(msg);
    if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
    return absl::InternalError(msg);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return std::move(text).str();
}

// The oldest OpenSSL error on this thread, or "unknown reason"; clears the
// queue.
std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown reason";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

std::unique_ptr<BIO, BioFree> MemBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioFree>(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Every certificate of a PEM text, in order. InvalidArgument if there is
// none or one does not parse.
absl::StatusOr<std::vector<X509Ptr>> ParseCertificates(const std::string& pem,
                                                       const std::string& path,
                                                       std::string_view what) {
  std::vector<X509Ptr> certs;
  auto bio = MemBio(pem);
  ERR_clear_error();
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(x);
  }
  // The loop ends on end of input (PEM_R_NO_START_LINE) or on a bad block.
  const unsigned long last = ERR_peek_last_error();
  const bool clean_end = ERR_GET_LIB(last) == ERR_LIB_PEM &&
                         ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
  if (last != 0 && !clean_end) {
    return absl::InvalidArgumentError(StrCat(what, " ", path,
                                             ": not a valid PEM certificate (",
                                             OpenSslError(), ")"));
  }
  ERR_clear_error();
  if (certs.empty()) {
    return absl::InvalidArgumentError(
        StrCat(what, " ", path,
               ": holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")"));
  }
  return certs;
}

std::string AsnTime(const ASN1_TIME* t) {
  auto bio = std::unique_ptr<BIO, BioFree>(BIO_new(BIO_s_mem()));
  ASN1_TIME_print(bio.get(), t);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

// First SAN URI, else "cn:<common name>", else "".
std::string CertificateIdentity(X509* cert) {
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  std::string uri;
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names) && uri.empty(); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
      if (name->type != GEN_URI) continue;
      const ASN1_IA5STRING* s = name->d.uniformResourceIdentifier;
      uri.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                 static_cast<size_t>(ASN1_STRING_length(s)));
    }
    GENERAL_NAMES_free(names);
  }
  if (!uri.empty()) return uri;
  const X509_NAME* subject = X509_get_subject_name(cert);
  const int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (at < 0) return "";
  const ASN1_STRING* cn =
      X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
  return StrCat(
      "cn:",
      std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(cn)),
                       static_cast<size_t>(ASN1_STRING_length(cn))));
}

// Reads the private key file, refusing one that group or others may read.
absl::StatusOr<std::string> ReadPrivateKey(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    std::string msg =
        StrCat("cannot read private key ", path, ": ", std::strerror(err));
    return err == ENOENT ? absl::NotFoundError(msg)
                         : absl::PermissionDeniedError(msg);
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(
        StrCat("private key ", path, " is readable by group or others (mode ",
               OctalMode(st.st_mode), "); run: chmod 600 ", path));
  }
  return ReadFile(path, "private key");
}

// "profile P: " or "LEDGER_PROFILE=P: " before a profile's errors.
std::string ProfileSource(const ClientFlags& flags) {
  return flags.profile.empty() ? StrCat(kProfileEnv, " (the environment)")
                               : std::string("--profile");
}

absl::Status ProfileKeyError(const std::string& path, const toml::node& node,
                             std::string_view key, std::string_view what) {
  return absl::InvalidArgumentError(
      StrCat(path, ":", static_cast<uint64_t>(node.source().begin.line), ": ",
             key, ": ", what));
}

}  // namespace

void AddClientFlags(CLI::App* app, ClientFlags* flags) {
  app->add_option("--profile", flags->profile,
                  StrCat("client profile file (TOML: address, ca, cert, key); "
                         "default: $",
                         kProfileEnv));
  app->add_option("--ca", flags->ca,
                  "CA certificates (PEM) the node's certificate chains to");
  app->add_option("--cert", flags->cert, "client certificate chain (PEM)");
  app->add_option("--key", flags->key, "client private key (PEM, mode 0600)");
  app->add_flag("--insecure-plaintext", flags->insecure_plaintext,
                "no TLS: only for a node started with --insecure-plaintext");
}

absl::StatusOr<ClientProfile> ParseClientProfile(std::string_view text,
                                                 const std::string& path) {
  toml::table table;
  // toml++ reports syntax errors by exception; they stop here.
  try {
    table = toml::parse(text, std::string_view(path));
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(
        StrCat(path, ":", static_cast<uint64_t>(e.source().begin.line), ": ",
               e.description()));
  }
  ClientProfile profile;
  profile.path = path;
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  const auto file = [&](const std::string& value) {
    if (value.empty() || std::filesystem::path(value).is_absolute() ||
        dir.empty()) {
      return value;
    }
    return (dir / value).string();
  };
  bool has_files = false;
  const toml::node* plaintext_node = nullptr;
  for (auto&& [key, node] : table) {
    const std::string_view k = key.str();
    if (k == "insecure_plaintext") {
      const toml::value<bool>* v = node.as_boolean();
      if (v == nullptr) {
        return ProfileKeyError(path, node, k, "must be true or false");
      }
      profile.insecure_plaintext = v->get();
      plaintext_node = &node;
      continue;
    }
    std::string* out = k == "address" ? &profile.address
                       : k == "ca"    ? &profile.ca
                       : k == "cert"  ? &profile.cert
                       : k == "key"   ? &profile.key
                                      : nullptr;
    if (out == nullptr) {
      return ProfileKeyError(
          path, node, k,
          "unknown key (known: address, ca, cert, key, insecure_plaintext)");
    }
    const toml::value<std::string>* v = node.as_string();
    if (v == nullptr || v->get().empty()) {
      return ProfileKeyError(path, node, k, "must be a non-empty string");
    }
    *out = k == "address" ? v->get() : file(v->get());
    has_files = has_files || k != "address";
  }
  if (profile.insecure_plaintext && has_files) {
    return ProfileKeyError(
        path, *plaintext_node, "insecure_plaintext",
        "true together with ca, cert or key: a profile is either mTLS or "
        "plaintext; remove one or the other");
  }
  return profile;
}

absl::StatusOr<ClientProfile> LoadClientProfile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path, "profile");
  if (!text.ok()) return text.status();
  return ParseClientProfile(*text, path);
}

absl::StatusOr<ClientSettings> ResolveClientSettings(
    const ClientFlags& flags, std::string_view default_address,
    const char* env_profile) {
  const bool tls_flags =
      !flags.ca.empty() || !flags.cert.empty() || !flags.key.empty();
  if (flags.insecure_plaintext && tls_flags) {
    return absl::InvalidArgumentError(
        "--insecure-plaintext cannot be combined with --ca, --cert or --key");
  }
  ClientProfile profile;
  const std::string profile_path =
      !flags.profile.empty()
          ? flags.profile
          : (env_profile != nullptr ? std::string(env_profile) : "");
  if (!profile_path.empty()) {
    absl::StatusOr<ClientProfile> loaded = LoadClientProfile(profile_path);
    if (!loaded.ok()) return Annotate(loaded.status(), ProfileSource(flags));
    profile = *std::move(loaded);
  }
  ClientSettings s;
  s.profile = profile.path;
  s.address = flags.address.has_value()  ? *flags.address
              : !profile.address.empty() ? profile.address
                                         : std::string(default_address);
  if (s.address.empty()) {
    return absl::InvalidArgumentError("the node address must not be empty");
  }
  // A TLS flag turns a plaintext profile into mTLS: flags win.
  s.insecure_plaintext =
      flags.insecure_plaintext || (profile.insecure_plaintext && !tls_flags);
  if (s.insecure_plaintext) return s;
  s.ca = !flags.ca.empty() ? flags.ca : profile.ca;
  s.cert = !flags.cert.empty() ? flags.cert : profile.cert;
  s.key = !flags.key.empty() ? flags.key : profile.key;
  std::vector<std::string> missing;
  if (s.ca.empty()) missing.push_back("--ca");
  if (s.cert.empty()) missing.push_back("--cert");
  if (s.key.empty()) missing.push_back("--key");
  if (!missing.empty()) {
    std::string list;
    for (const std::string& m : missing) {
      list += list.empty() ? m : StrCat(", ", m);
    }
    return absl::InvalidArgumentError(StrCat(
        "mutual TLS needs a CA, a client certificate and its key; missing: ",
        list,
        profile.path.empty() ? std::string()
                             : StrCat(" (not in profile ", profile.path, ")"),
        ". Pass --profile FILE (e.g. a <role>.profile written by "
        "deploy/dev-ca.sh) or set ",
        kProfileEnv,
        ", or give --ca, --cert and --key; only for a node started with "
        "--insecure-plaintext, pass --insecure-plaintext"));
  }
  return s;
}

absl::StatusOr<Endpoint> MakeEndpoint(const ClientSettings& settings) {
  Endpoint endpoint;
  endpoint.address = settings.address;
  if (settings.insecure_plaintext) {
    endpoint.credentials = grpc::InsecureChannelCredentials();
    return endpoint;
  }
  absl::StatusOr<std::string> ca = ReadFile(settings.ca, "CA file");
  if (!ca.ok()) return ca.status();
  if (absl::Status s = ParseCertificates(*ca, settings.ca, "CA file").status();
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::string> chain = ReadFile(settings.cert, "certificate");
  if (!chain.ok()) return chain.status();
  absl::StatusOr<std::vector<X509Ptr>> certs =
      ParseCertificates(*chain, settings.cert, "certificate");
  if (!certs.ok()) return certs.status();
  X509* leaf = (*certs)[0].get();

  absl::StatusOr<std::string> key = ReadPrivateKey(settings.key);
  if (!key.ok()) return key.status();
  std::unique_ptr<EVP_PKEY, PkeyFree> pkey;
  {
    auto bio = MemBio(*key);
    ERR_clear_error();
    pkey.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  }
  absl::Status problem;
  if (pkey == nullptr) {
    problem = absl::InvalidArgumentError(
        StrCat("private key ", settings.key,
               ": not an unencrypted PEM private key (", OpenSslError(), ")"));
  } else if (X509_check_private_key(leaf, pkey.get()) != 1) {
    ERR_clear_error();
    problem = absl::InvalidArgumentError(
        StrCat("private key ", settings.key, " does not belong to certificate ",
               settings.cert));
  } else if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0) {
    problem = absl::FailedPreconditionError(StrCat(
        "certificate ", settings.cert, " is not valid before ",
        AsnTime(X509_get0_notBefore(leaf)), " (check this machine's clock)"));
  } else if (X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0) {
    problem = absl::FailedPreconditionError(
        StrCat("certificate ", settings.cert, " expired on ",
               AsnTime(X509_get0_notAfter(leaf)),
               "; issue a new one (deploy/dev-ca.sh for local use)"));
  }
  if (problem.ok()) {
    endpoint.tls = true;
    endpoint.identity = CertificateIdentity(leaf);
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = *ca;
    options.pem_cert_chain = *chain;
    options.pem_private_key = *key;
    endpoint.credentials = grpc::SslCredentials(options);
    OPENSSL_cleanse(options.pem_private_key.data(),
                    options.pem_private_key.size());
  }
  OPENSSL_cleanse(key->data(), key->size());
  if (!problem.ok()) return problem;
  return endpoint;
}

absl::StatusOr<Endpoint> ResolveEndpoint(const ClientFlags& flags,
                                         std::string_view default_address) {
  absl::StatusOr<ClientSettings> settings =
      ResolveClientSettings(flags, default_address, std::getenv(kProfileEnv));
  if (!settings.ok()) return settings.status();
  return MakeEndpoint(*settings);
}

std::shared_ptr<grpc::Channel> CreateChannel(
    const Endpoint& endpoint, const grpc::ChannelArguments& args) {
  return grpc::CreateCustomChannel(endpoint.address, endpoint.credentials,
                                   args);
}

}  // namespace ledger::client_tls
