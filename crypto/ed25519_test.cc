#include "crypto/ed25519.h"

#include <gtest/gtest.h>

namespace ledger::crypto {
namespace {

struct Rfc8032Vector {
  const char* seed;
  const char* public_key;
  const char* message;
  const char* signature;
};

// RFC 8032 section 7.1, TEST 1-3.
constexpr Rfc8032Vector kVectors[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
     "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
};

TEST(Ed25519Test, MatchesRfc8032Vectors) {
  for (const Rfc8032Vector& v : kVectors) {
    Ed25519PrivateKey key = Ed25519PrivateKey::FromSeed(
        *ToArray<kEd25519SeedSize>(*HexDecode(v.seed), "seed"));
    EXPECT_EQ(HexEncode(key.public_key()), v.public_key);
    std::string msg = *HexDecode(v.message);
    Ed25519Signature sig = key.Sign(msg);
    EXPECT_EQ(HexEncode(sig), v.signature);
    EXPECT_TRUE(Ed25519Verify(key.public_key(), msg, sig));
  }
}

TEST(Ed25519Test, RejectsTamperedMessageSignatureAndKey) {
  Ed25519PrivateKey key = Ed25519PrivateKey::Generate();
  Ed25519Signature sig = key.Sign("hello");
  EXPECT_TRUE(Ed25519Verify(key.public_key(), "hello", sig));
  EXPECT_FALSE(Ed25519Verify(key.public_key(), "hellp", sig));
  Ed25519Signature bad = sig;
  bad[10] ^= 1;
  EXPECT_FALSE(Ed25519Verify(key.public_key(), "hello", bad));
  EXPECT_FALSE(
      Ed25519Verify(Ed25519PrivateKey::Generate().public_key(), "hello", sig));
}

TEST(Ed25519Test, SeedRoundTrips) {
  Ed25519PrivateKey key = Ed25519PrivateKey::Generate();
  Ed25519PrivateKey again = Ed25519PrivateKey::FromSeed(key.seed());
  EXPECT_EQ(again.public_key(), key.public_key());
}

}  // namespace
}  // namespace ledger::crypto
