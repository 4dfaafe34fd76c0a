#include "tools/common/dev_certs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/strings.h"

namespace ledger::devcerts {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
using Cert = std::unique_ptr<X509, X509Free>;

Cert Parse(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  EXPECT_NE(cert, nullptr) << pem;
  return Cert(cert);
}

// X509_V_OK, or OpenSSL's reason for refusing `leaf` under `ca` (the
// checks a TLS peer makes, for the given purpose).
int Verify(const std::string& ca, const std::string& leaf,
           int purpose = X509_PURPOSE_SSL_CLIENT) {
  Cert ca_cert = Parse(ca);
  Cert leaf_cert = Parse(leaf);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca_cert.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf_cert.get(), nullptr);
  X509_STORE_CTX_set_purpose(ctx, purpose);
  const int ok = X509_verify_cert(ctx);
  const int error = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  ERR_clear_error();
  return error;
}

// The SANs of `cert` as "URI:...", "DNS:...", "IP:...".
std::vector<std::string> Sans(const std::string& pem) {
  Cert cert = Parse(pem);
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    int type = 0;
    const auto* value =
        static_cast<const ASN1_STRING*>(GENERAL_NAME_get0_value(name, &type));
    const std::string bytes(
        reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
        static_cast<size_t>(ASN1_STRING_length(value)));
    if (type == GEN_URI) out.push_back("URI:" + bytes);
    if (type == GEN_DNS) out.push_back("DNS:" + bytes);
    if (type == GEN_IPADD) out.push_back(StrCat("IP:", bytes.size(), "B"));
  }
  GENERAL_NAMES_free(names);
  return out;
}

class DevCertsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<CertificateAuthority> ca =
        CertificateAuthority::Create("test CA");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_.emplace(*std::move(ca));
  }
  std::optional<CertificateAuthority> ca_;
};

TEST_F(DevCertsTest, ClientLeafVerifiesUnderItsCaWithItsUri) {
  absl::StatusOr<Pem> leaf = ca_->Issue(ClientLeaf("emitter", "acme"));
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_THAT(leaf->key, HasSubstr("-----BEGIN PRIVATE KEY-----"));
  EXPECT_EQ(Verify(ca_->pem().cert, leaf->cert), X509_V_OK);
  EXPECT_THAT(Sans(leaf->cert),
              ElementsAre("URI:spiffe://annotation-ledger/emitter/acme"));
  // A client certificate does not serve a TLS server.
  EXPECT_NE(Verify(ca_->pem().cert, leaf->cert, X509_PURPOSE_SSL_SERVER),
            X509_V_OK);
}

TEST_F(DevCertsTest, NodeLeafServesLocalhostAndBothLoopbacks) {
  absl::StatusOr<Pem> leaf = ca_->Issue(NodeLeaf("node-1"));
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_EQ(Verify(ca_->pem().cert, leaf->cert, X509_PURPOSE_SSL_SERVER),
            X509_V_OK);
  EXPECT_EQ(Verify(ca_->pem().cert, leaf->cert, X509_PURPOSE_SSL_CLIENT),
            X509_V_OK);
  EXPECT_THAT(Sans(leaf->cert),
              ElementsAre("URI:spiffe://annotation-ledger/node/node-1",
                          "DNS:localhost", "IP:4B", "IP:16B"));
  Cert cert = Parse(leaf->cert);
  EXPECT_EQ(X509_check_host(cert.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "::1", 0), 1);
}

TEST_F(DevCertsTest, ExpiredAndNotYetValidLeavesAreRefused) {
  LeafSpec spec = ClientLeaf("admin", "old");
  spec.validity = Expired();
  absl::StatusOr<Pem> expired = ca_->Issue(spec);
  ASSERT_TRUE(expired.ok()) << expired.status();
  EXPECT_EQ(Verify(ca_->pem().cert, expired->cert),
            X509_V_ERR_CERT_HAS_EXPIRED);
  spec.validity = NotYetValid();
  absl::StatusOr<Pem> early = ca_->Issue(spec);
  ASSERT_TRUE(early.ok()) << early.status();
  EXPECT_EQ(Verify(ca_->pem().cert, early->cert),
            X509_V_ERR_CERT_NOT_YET_VALID);
}

TEST_F(DevCertsTest, LeafOfAnotherCaIsRefused) {
  absl::StatusOr<CertificateAuthority> other =
      CertificateAuthority::Create("another CA");
  ASSERT_TRUE(other.ok()) << other.status();
  absl::StatusOr<Pem> leaf = other->Issue(ClientLeaf("admin", "intruder"));
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_NE(Verify(ca_->pem().cert, leaf->cert), X509_V_OK);
  EXPECT_EQ(Verify(other->pem().cert, leaf->cert), X509_V_OK);
}

TEST_F(DevCertsTest, FromPemRoundTripsAndRefusesAMismatchedKey) {
  absl::StatusOr<CertificateAuthority> again =
      CertificateAuthority::FromPem(ca_->pem());
  ASSERT_TRUE(again.ok()) << again.status();
  absl::StatusOr<Pem> leaf = again->Issue(ClientLeaf("regulator", "r"));
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_EQ(Verify(ca_->pem().cert, leaf->cert), X509_V_OK);

  absl::StatusOr<CertificateAuthority> other =
      CertificateAuthority::Create("another CA");
  ASSERT_TRUE(other.ok());
  absl::StatusOr<CertificateAuthority> mixed =
      CertificateAuthority::FromPem(Pem{other->pem().key, ca_->pem().cert});
  EXPECT_EQ(mixed.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(DevCertsTest, BadSpecsAreRefused) {
  LeafSpec spec;
  EXPECT_EQ(ca_->Issue(spec).status().code(),
            absl::StatusCode::kInvalidArgument);
  spec.common_name = "x";
  spec.ips = {"localhost"};
  absl::StatusOr<Pem> bad_ip = ca_->Issue(spec);
  EXPECT_EQ(bad_ip.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_ip.status().message()), HasSubstr("localhost"));
}

TEST_F(DevCertsTest, WritePemMakesTheKeyPrivate) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = StrCat(base != nullptr ? base : "/tmp", "/devcerts.XXXXXX");
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  const std::string key = dir + "/a.key", cert = dir + "/a.pem";
  // An existing world-readable file is narrowed, not kept as it was.
  ASSERT_TRUE(WriteFile(key, "old", 0644).ok());
  ASSERT_TRUE(WritePem(ca_->pem(), cert, key).ok());
  struct stat st;
  ASSERT_EQ(stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(cert.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ledger::devcerts
