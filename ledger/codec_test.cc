#include "ledger/codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

namespace ledger {
namespace {

using ::testing::HasSubstr;

std::string Hex(std::string_view s) { return crypto::HexEncode(s); }

crypto::Hash HashOf(uint8_t fill) {
  crypto::Hash h;
  h.fill(fill);
  return h;
}

TEST(EncoderTest, IntegersAreBigEndian) {
  Encoder e;
  e.PutU8(0xAB);
  e.PutU32(0x01020304);
  e.PutU64(0x0102030405060708);
  EXPECT_EQ(Hex(e.bytes()), "ab010203040102030405060708");
}

TEST(EncoderTest, SignedIntegersAreTwosComplement) {
  Encoder e;
  e.PutI64(-1);
  e.PutI64(std::numeric_limits<int64_t>::min());
  e.PutI64(1);
  EXPECT_EQ(Hex(e.bytes()),
            "ffffffffffffffff8000000000000000"
            "0000000000000001");
}

TEST(EncoderTest, BytesAreLengthPrefixedAndRawIsNot) {
  Encoder e;
  e.PutBytes("abc");
  e.PutBytes("");
  e.PutRaw("xy");
  EXPECT_EQ(Hex(e.bytes()),
            "00000003616263"
            "00000000"
            "7879");
}

TEST(EncoderTest, OptionalHashHasAPresenceByte) {
  Encoder e;
  e.PutOptionalHash(std::nullopt);
  e.PutOptionalHash(HashOf(0x5A));
  EXPECT_EQ(Hex(e.bytes()), "0001" + Hex(crypto::AsView(HashOf(0x5A))));
}

TEST(EncoderTest, TakeMovesTheBytesOut) {
  Encoder e(16);
  e.PutU32(7);
  std::string out = e.Take();
  EXPECT_EQ(Hex(out), "00000007");
}

TEST(SizeCounterTest, CountsWhatTheEncoderWrites) {
  Encoder e;
  SizeCounter c;
  auto write = [](auto& sink) {
    sink.PutU8(1);
    sink.PutU32(2);
    sink.PutU64(3);
    sink.PutI64(-4);
    sink.PutBytes("hello");
    sink.PutRaw("raw");
    sink.PutHash(HashOf(1));
    sink.PutOptionalHash(std::nullopt);
    sink.PutOptionalHash(HashOf(2));
  };
  write(e);
  write(c);
  EXPECT_EQ(c.size(), e.bytes().size());
}

TEST(DecoderTest, ReadsWhatTheEncoderWrote) {
  Encoder e;
  e.PutU8(200);
  e.PutU32(0xDEADBEEF);
  e.PutU64(0xFFFFFFFFFFFFFFFF);
  e.PutI64(-42);
  e.PutBytes("text");
  e.PutRaw("rw");
  e.PutHash(HashOf(9));
  e.PutOptionalHash(std::nullopt);
  e.PutOptionalHash(HashOf(8));
  e.PutU32(2);
  const std::string bytes = e.Take();

  Decoder d(bytes);
  EXPECT_EQ(*d.GetU8("a"), 200);
  EXPECT_EQ(*d.GetU32("b"), 0xDEADBEEFu);
  EXPECT_EQ(*d.GetU64("c"), 0xFFFFFFFFFFFFFFFFu);
  EXPECT_EQ(*d.GetI64("d"), -42);
  absl::StatusOr<std::string_view> text = d.GetBytes("e", 4);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "text");
  // A view into the input, not a copy.
  EXPECT_GE(text->data(), bytes.data());
  EXPECT_LT(text->data(), bytes.data() + bytes.size());
  EXPECT_EQ(*d.GetRaw("f", 2), "rw");
  EXPECT_EQ(*d.GetHash("g"), HashOf(9));
  EXPECT_EQ(*d.GetOptionalHash("h"), std::nullopt);
  EXPECT_EQ(*d.GetOptionalHash("i"), HashOf(8));
  EXPECT_EQ(*d.GetCount("j", 2, 0), 2u);
  EXPECT_EQ(d.remaining(), 0u);
  EXPECT_TRUE(d.Finish("thing").ok());
}

TEST(DecoderTest, TruncationNamesTheField) {
  const std::string three(3, '\0');
  Decoder d(three);
  absl::StatusOr<uint32_t> v = d.GetU32("schema_version");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(v.status().message(),
            "schema_version: truncated (needs 4 bytes, 3 left)");
  // A failed read consumes nothing.
  EXPECT_EQ(d.remaining(), 3u);
  EXPECT_FALSE(d.GetU64("x").ok());
  EXPECT_FALSE(d.GetI64("x").ok());
  EXPECT_FALSE(d.GetHash("x").ok());
  EXPECT_FALSE(d.GetRaw("x", 4).ok());
  EXPECT_TRUE(d.GetRaw("x", 3).ok());
  EXPECT_FALSE(d.GetU8("x").ok());
}

TEST(DecoderTest, BytesLongerThanTheInputAreTruncated) {
  Encoder e;
  e.PutU32(10);
  e.PutRaw("short");
  Decoder d(e.bytes());
  absl::StatusOr<std::string_view> v = d.GetBytes("producer", 100);
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(), HasSubstr("producer: truncated"));
}

TEST(DecoderTest, BytesOverTheLimitAreRejectedBeforeReading) {
  Encoder e;
  e.PutBytes("12345");
  Decoder d(e.bytes());
  absl::StatusOr<std::string_view> v = d.GetBytes("region", 4);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(),
            "region: length 5 exceeds the limit of 4 bytes");
  Decoder ok(e.bytes());
  EXPECT_EQ(*ok.GetBytes("region", 5), "12345");
}

TEST(DecoderTest, OptionalHashFlagMustBeZeroOrOne) {
  for (uint8_t flag : {2, 0x80, 0xFF}) {
    Encoder e;
    e.PutU8(flag);
    e.PutHash(HashOf(1));
    Decoder d(e.bytes());
    absl::StatusOr<std::optional<crypto::Hash>> h =
        d.GetOptionalHash("content_sha256");
    ASSERT_FALSE(h.ok());
    EXPECT_THAT(h.status().message(),
                HasSubstr("content_sha256: presence flag must be 0 or 1"));
  }
  Encoder present;
  present.PutU8(1);
  present.PutRaw("short");
  Decoder d(present.bytes());
  EXPECT_FALSE(d.GetOptionalHash("h").ok());
}

TEST(DecoderTest, CountAboveTheLimitIsRejected) {
  Encoder e;
  e.PutU32(11);
  e.PutRaw(std::string(1000, 'x'));
  Decoder d(e.bytes());
  absl::StatusOr<uint32_t> n = d.GetCount("subjects", 10, 18);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().message(), "subjects: 11 items exceed the limit of 10");
}

TEST(DecoderTest, CountThatCannotFitInTheInputIsRejected) {
  Encoder e;
  e.PutU32(0xFFFFFFFF);
  e.PutRaw(std::string(100, 'x'));
  Decoder d(e.bytes());
  absl::StatusOr<uint32_t> n = d.GetCount("back_links", UINT32_MAX, 13);
  ASSERT_FALSE(n.ok());
  EXPECT_THAT(n.status().message(), HasSubstr("back_links: truncated"));
  // Exactly enough bytes for the items is accepted.
  Encoder fits;
  fits.PutU32(4);
  fits.PutRaw(std::string(52, 'x'));
  Decoder f(fits.bytes());
  EXPECT_EQ(*f.GetCount("back_links", UINT32_MAX, 13), 4u);
  Encoder short_by_one;
  short_by_one.PutU32(4);
  short_by_one.PutRaw(std::string(51, 'x'));
  Decoder s(short_by_one.bytes());
  EXPECT_FALSE(s.GetCount("back_links", UINT32_MAX, 13).ok());
}

TEST(DecoderTest, FinishRejectsTrailingBytes) {
  Decoder d("abc");
  ASSERT_TRUE(d.GetU8("a").ok());
  absl::Status s = d.Finish("event");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "event: 2 trailing bytes");
}

TEST(PrefixFieldTest, PrependsWithoutSeparatorAndKeepsTheCode) {
  absl::Status s = PrefixField(
      absl::InvalidArgumentError("id: must not be empty"), "subjects[2].");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "subjects[2].id: must not be empty");
  EXPECT_TRUE(PrefixField(absl::OkStatus(), "x.").ok());
}

}  // namespace
}  // namespace ledger
