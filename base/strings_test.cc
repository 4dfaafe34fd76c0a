#include "base/strings.h"

#include <gtest/gtest.h>

namespace ledger {
namespace {

TEST(StrCatTest, JoinsStringsCharsAndIntegers) {
  EXPECT_EQ(StrCat("a", std::string_view("b"), std::string("c"), 'd', 42,
                   uint64_t{18446744073709551615u}, int64_t{-7}, true),
            "abcd4218446744073709551615-7true");
  EXPECT_EQ(StrCat(absl::string_view("x")), "x");
}

TEST(SplitTest, KeepsEmptyPieces) {
  EXPECT_EQ(Split("a,,b,", ','),
            (std::vector<std::string_view>{"a", "", "b", ""}));
  EXPECT_EQ(Split("", ','), (std::vector<std::string_view>{""}));
}

TEST(ParseCanonicalUint64Test, RejectsNonCanonicalForms) {
  EXPECT_EQ(ParseCanonicalUint64("0"), 0u);
  EXPECT_EQ(ParseCanonicalUint64("18446744073709551615"),
            18446744073709551615u);
  EXPECT_FALSE(ParseCanonicalUint64("").has_value());
  EXPECT_FALSE(ParseCanonicalUint64("01").has_value());
  EXPECT_FALSE(ParseCanonicalUint64("+1").has_value());
  EXPECT_FALSE(ParseCanonicalUint64(" 1").has_value());
  EXPECT_FALSE(ParseCanonicalUint64("18446744073709551616").has_value());
}

TEST(TrimTest, RemovesAsciiWhitespaceAtBothEnds) {
  EXPECT_EQ(Trim(" \t a b \r\n"), "a b");
  EXPECT_EQ(Trim("   "), "");
}

TEST(AnnotateTest, PrefixesTheMessageAndKeepsTheCode) {
  absl::Status s = Annotate(absl::NotFoundError("gone"), "reading x");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ToStd(s.message()), "reading x: gone");
  EXPECT_TRUE(Annotate(absl::OkStatus(), "ctx").ok());
}

}  // namespace
}  // namespace ledger
