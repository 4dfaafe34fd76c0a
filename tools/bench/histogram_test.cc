#include "tools/bench/histogram.h"

#include <cmath>
#include <cstdint>

#include "gtest/gtest.h"

namespace ledger::bench {
namespace {

TEST(HistogramTest, EmptyHistogramReportsZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.ValueAtPercentile(50), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
}

TEST(HistogramTest, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 0; v < 256; ++v) h.Record(v);
  EXPECT_EQ(h.ValueAtPercentile(0), 0u);
  EXPECT_EQ(h.ValueAtPercentile(50), 127u);
  EXPECT_EQ(h.ValueAtPercentile(100), 255u);
}

TEST(HistogramTest, BucketsAreContiguousAndNarrow) {
  for (size_t b = 1; b < Histogram::BucketOf(Histogram::kMaxValue); ++b) {
    ASSERT_EQ(Histogram::BucketLow(b), Histogram::BucketHigh(b - 1) + 1) << b;
    const uint64_t low = Histogram::BucketLow(b);
    const uint64_t width = Histogram::BucketHigh(b) - low + 1;
    ASSERT_LE(width * 128, std::max<uint64_t>(low, 128)) << b;
    ASSERT_EQ(Histogram::BucketOf(low), b);
    ASSERT_EQ(Histogram::BucketOf(Histogram::BucketHigh(b)), b);
  }
}

TEST(HistogramTest, PercentilesOfUniformValuesAreWithinHalfAPercent) {
  Histogram h;
  for (uint64_t v = 1; v <= 1'000'000; ++v) h.Record(v * 1000);  // 1us..1s
  EXPECT_EQ(h.count(), 1'000'000u);
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    const double want = p / 100.0 * 1e9;
    const double got = static_cast<double>(h.ValueAtPercentile(p));
    EXPECT_NEAR(got, want, want * 0.005) << "p" << p;
  }
  EXPECT_EQ(h.ValueAtPercentile(100), 1'000'000'000u);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_NEAR(h.mean(), 500'000'500.0, 1.0);
}

TEST(HistogramTest, TailPercentileSeesTheOutliers) {
  Histogram h;
  for (int i = 0; i < 990; ++i) h.Record(1'000'000);  // 1 ms
  for (int i = 0; i < 10; ++i) h.Record(50'000'000);  // 50 ms
  EXPECT_NEAR(static_cast<double>(h.ValueAtPercentile(99)), 1e6, 1e4);
  EXPECT_NEAR(static_cast<double>(h.ValueAtPercentile(99.9)), 5e7, 5e5);
}

TEST(HistogramTest, MergeEqualsRecordingEverythingInOne) {
  Histogram a, b, all;
  for (uint64_t v = 1; v < 5000; ++v) {
    (v % 3 == 0 ? a : b).Record(v * 777);
    all.Record(v * 777);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  for (double p : {1.0, 50.0, 99.0, 99.99}) {
    EXPECT_EQ(a.ValueAtPercentile(p), all.ValueAtPercentile(p));
  }
}

TEST(HistogramTest, HugeValuesAreClamped) {
  Histogram h;
  h.Record(~uint64_t{0});
  EXPECT_EQ(h.max(), Histogram::kMaxValue);
  EXPECT_EQ(h.ValueAtPercentile(50), Histogram::kMaxValue);
}

}  // namespace
}  // namespace ledger::bench
