#include "crypto/aead.h"

#include <gtest/gtest.h>

#include <string>

namespace ledger::crypto {
namespace {

std::string Unhex(std::string_view hex) {
  absl::StatusOr<std::string> bytes = HexDecode(hex);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.value_or("");
}

template <size_t N>
std::array<uint8_t, N> Array(std::string_view hex) {
  absl::StatusOr<std::array<uint8_t, N>> a = ToArray<N>(Unhex(hex), "array");
  EXPECT_TRUE(a.ok()) << a.status();
  return a.value_or(std::array<uint8_t, N>{});
}

// draft-irtf-cfrg-xchacha-03, appendix A.3.1: the AEAD test vector.
constexpr std::string_view kDraftKey =
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
constexpr std::string_view kDraftNonce =
    "404142434445464748494a4b4c4d4e4f5051525354555657";
constexpr std::string_view kDraftAad = "50515253c0c1c2c3c4c5c6c7";
constexpr std::string_view kDraftPlaintext =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one "
    "tip for the future, sunscreen would be it.";
constexpr std::string_view kDraftSealed =
    "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
    "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
    "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
    "21f9664c97637da9768812f615c68b13b52e"
    "c0875924c1c7987947deafd8780acf49";  // tag

TEST(AeadTest, SealMatchesTheXChaChaDraftVector) {
  const std::string sealed = AeadSeal(Array<kAeadKeySize>(kDraftKey),
                                      Array<kAeadNonceSize>(kDraftNonce),
                                      Unhex(kDraftAad), kDraftPlaintext);
  EXPECT_EQ(HexEncode(sealed), kDraftSealed);
}

TEST(AeadTest, OpenReturnsThePlaintextOfTheDraftVector) {
  absl::StatusOr<std::string> plain = AeadOpen(
      Array<kAeadKeySize>(kDraftKey), Array<kAeadNonceSize>(kDraftNonce),
      Unhex(kDraftAad), Unhex(kDraftSealed));
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, kDraftPlaintext);
}

TEST(AeadTest, OpenRefusesAnyChangeAsDataLoss) {
  const AeadKey key = Array<kAeadKeySize>(kDraftKey);
  const AeadNonce nonce = Array<kAeadNonceSize>(kDraftNonce);
  const std::string aad = Unhex(kDraftAad);
  const std::string sealed = Unhex(kDraftSealed);

  AeadKey other_key = key;
  other_key[0] ^= 1;
  AeadNonce other_nonce = nonce;
  other_nonce[23] ^= 1;
  std::string flipped = sealed;
  flipped[5] ^= 1;
  std::string bad_tag = sealed;
  bad_tag.back() ^= 1;

  EXPECT_TRUE(
      absl::IsDataLoss(AeadOpen(other_key, nonce, aad, sealed).status()));
  EXPECT_TRUE(
      absl::IsDataLoss(AeadOpen(key, other_nonce, aad, sealed).status()));
  EXPECT_TRUE(
      absl::IsDataLoss(AeadOpen(key, nonce, aad + "x", sealed).status()));
  EXPECT_TRUE(absl::IsDataLoss(AeadOpen(key, nonce, aad, flipped).status()));
  EXPECT_TRUE(absl::IsDataLoss(AeadOpen(key, nonce, aad, bad_tag).status()));
  EXPECT_TRUE(absl::IsDataLoss(
      AeadOpen(key, nonce, aad, sealed.substr(0, kAeadTagSize - 1)).status()));
}

TEST(AeadTest, EmptyPlaintextIsJustATag) {
  const AeadKey key = NewAeadKey();
  const AeadNonce nonce = NewAeadNonce();
  const std::string sealed = AeadSeal(key, nonce, "aad", "");
  EXPECT_EQ(sealed.size(), kAeadTagSize);
  absl::StatusOr<std::string> plain = AeadOpen(key, nonce, "aad", sealed);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, "");
}

// RFC 4231, test case 2.
TEST(AeadTest, HmacSha256MatchesRfc4231) {
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(AeadTest, RandomKeysAndNoncesDiffer) {
  EXPECT_NE(NewAeadKey(), NewAeadKey());
  EXPECT_NE(NewAeadNonce(), NewAeadNonce());
  EXPECT_EQ(SecureRandomBytes(40).size(), 40u);
  EXPECT_NE(SecureRandomBytes(32), SecureRandomBytes(32));
}

TEST(AeadTest, WipeZeroes) {
  std::string secret = "secret bytes";
  Wipe(secret);
  EXPECT_EQ(secret, std::string(12, '\0'));
  AeadKey key = NewAeadKey();
  Wipe(key);
  EXPECT_EQ(key, AeadKey{});
}

}  // namespace
}  // namespace ledger::crypto
