#include "tools/verify/report.h"

#include <gtest/gtest.h>

#include "tools/verify/format.h"

namespace ledger::verify {
namespace {

TEST(ReportTest, ValidReportPrintsFieldsInOrder) {
  Report r("proof", "a.tlog");
  r.Set("index", uint64_t{5});
  r.Set("origin", "example.com/log");
  r.Set("signed_by", std::vector<std::string>{"log", "node-1"});
  r.Set("index", uint64_t{6});  // replaced in place
  EXPECT_TRUE(r.valid());
  EXPECT_EQ(r.ToText(),
            "VALID proof a.tlog\n"
            "  index: 6\n"
            "  origin: example.com/log\n"
            "  signed_by: log, node-1\n");
  EXPECT_EQ(r.ToJson(),
            "{\"kind\":\"proof\",\"subject\":\"a.tlog\",\"result\":\"VALID\","
            "\"index\":6,\"origin\":\"example.com/log\","
            "\"signed_by\":[\"log\",\"node-1\"]}");
}

TEST(ReportTest, FirstFailureWins) {
  Report r("checkpoint", "cp");
  r.Set("emitter_signature", true);
  r.Fail("checkpoint", absl::DataLossError("bad signature"));
  r.Fail("inclusion", "later");
  EXPECT_FALSE(r.valid());
  EXPECT_EQ(r.failed_check(), "checkpoint");
  EXPECT_EQ(r.reason(), "bad signature");
  EXPECT_EQ(r.ToText(),
            "INVALID checkpoint cp\n"
            "  failed check: checkpoint\n"
            "  reason: bad signature\n"
            "  emitter_signature: true\n");
  EXPECT_EQ(r.ToJson(),
            "{\"kind\":\"checkpoint\",\"subject\":\"cp\",\"result\":"
            "\"INVALID\",\"failed_check\":\"checkpoint\",\"reason\":\"bad "
            "signature\",\"emitter_signature\":true}");
}

TEST(ReportTest, JsonQuoteEscapesAndRepairsUtf8) {
  EXPECT_EQ(JsonQuote("a\"b\\c\n\t\x01"), "\"a\\\"b\\\\c\\n\\t\\u0001\"");
  EXPECT_EQ(JsonQuote("\xE2\x80\x94 ok"), "\"\xE2\x80\x94 ok\"");
  EXPECT_EQ(JsonQuote("bad\xFF"), "\"bad\\ufffd\"");
  EXPECT_EQ(JsonQuote("\xE2\x80"), "\"\\ufffd\\ufffd\"");
}

TEST(FormatTest, Rfc3339UsesTheShortestOfThreeSixOrNineDigits) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(1'740'988'800'000'000'000), "2025-03-03T08:00:00Z");
  EXPECT_EQ(FormatRfc3339(1'740'988'800'120'000'000),
            "2025-03-03T08:00:00.120Z");
  EXPECT_EQ(FormatRfc3339(1'740'988'800'000'123'000),
            "2025-03-03T08:00:00.000123Z");
  EXPECT_EQ(FormatRfc3339(1'740'988'800'000'000'007),
            "2025-03-03T08:00:00.000000007Z");
  EXPECT_EQ(FormatRfc3339(-1'000'000), "1969-12-31T23:59:59.999Z");
}

TEST(FormatTest, EnumNames) {
  EXPECT_EQ(RiskGradeName(RiskGrade::kCritical), "critical");
  EXPECT_EQ(ActorKindName(ActorKind::kModel), "model");
  EXPECT_EQ(LinkKindName(LinkKind::kAnnotation), "annotation");
}

}  // namespace
}  // namespace ledger::verify
