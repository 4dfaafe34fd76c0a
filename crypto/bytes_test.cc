#include "crypto/bytes.h"

#include <gtest/gtest.h>

namespace ledger::crypto {
namespace {

TEST(HexTest, RoundTripsAndRejectsBadDigits) {
  EXPECT_EQ(HexEncode(std::string("\x00\xff\x10", 3)), "00ff10");
  EXPECT_EQ(*HexDecode("00FF10"), std::string("\x00\xff\x10", 3));
  EXPECT_FALSE(HexDecode("abc").ok());
  EXPECT_FALSE(HexDecode("zz").ok());
}

TEST(Base64Test, MatchesRfc4648Vectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(*Base64Decode("Zm9vYg=="), "foob");
}

TEST(Base64Test, FastAndConstantTimeEncodersAgree) {
  // Every length mod 3 and every byte value, against libsodium's encoder
  // (Base64EncodeSecret) and back through the strict decoder.
  std::string bytes;
  for (int i = 0; i < 770; ++i) {
    bytes.push_back(static_cast<char>((i * 167 + 13) & 0xff));
    const std::string text = Base64Encode(bytes);
    ASSERT_EQ(text, Base64EncodeSecret(bytes)) << "length " << bytes.size();
    ASSERT_EQ(*Base64Decode(text), bytes);
  }
}

TEST(Base64Test, RejectsMissingPaddingAndGarbage) {
  EXPECT_FALSE(Base64Decode("Zg").ok());
  EXPECT_FALSE(Base64Decode("Zg==\n").ok());
  EXPECT_FALSE(Base64Decode("Z!==").ok());
}

TEST(ToArrayTest, RejectsWrongSize) {
  EXPECT_FALSE((ToArray<4>("abc", "x")).ok());
  EXPECT_TRUE((ToArray<3>("abc", "x")).ok());
}

}  // namespace
}  // namespace ledger::crypto
