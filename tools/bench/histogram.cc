#include "tools/bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace ledger::bench {
namespace {

// Values below 2^kSubBucketBits are counted exactly. Above, each power of
// two [2^k, 2^(k+1)) is split into kHalf buckets of width 2^(k-kBits+1).
constexpr int kSubBucketBits = 8;
constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;  // 256
constexpr uint64_t kHalf = kSubBuckets / 2;                      // 128
constexpr int kMaxBits = 40;
// Shift of the largest value: bit_width(kMaxValue) - kSubBucketBits.
constexpr int kMaxShift = kMaxBits - kSubBucketBits;
constexpr size_t kBucketCount = kMaxShift * kHalf + kSubBuckets;

// 0 for values below kSubBuckets; otherwise how far they are shifted.
int ShiftOf(uint64_t value) {
  int width = std::bit_width(value);
  return width <= kSubBucketBits ? 0 : width - kSubBucketBits;
}

}  // namespace

Histogram::Histogram() : buckets_(kBucketCount, 0) {}

size_t Histogram::BucketOf(uint64_t value) {
  value = std::min(value, kMaxValue);
  int shift = ShiftOf(value);
  // For shift > 0, value >> shift lies in [kHalf, kSubBuckets).
  return static_cast<size_t>(shift) * kHalf + (value >> shift);
}

uint64_t Histogram::BucketLow(size_t bucket) {
  if (bucket < kSubBuckets) return bucket;
  uint64_t shift = (bucket - kHalf) / kHalf;
  uint64_t sub = bucket - shift * kHalf;  // in [kHalf, kSubBuckets)
  return sub << shift;
}

uint64_t Histogram::BucketHigh(size_t bucket) {
  if (bucket < kSubBuckets) return bucket;
  uint64_t shift = (bucket - kHalf) / kHalf;
  return BucketLow(bucket) + ((uint64_t{1} << shift) - 1);
}

void Histogram::Record(uint64_t value) {
  value = std::min(value, kMaxValue);
  ++buckets_[BucketOf(value)];
  ++count_;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += value;
}

void Histogram::Merge(const Histogram& other) {
  for (size_t i = 0; i < kBucketCount; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

void Histogram::Clear() { *this = Histogram(); }

double Histogram::mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / count_);
}

uint64_t Histogram::ValueAtPercentile(double p) const {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  // The rank (1-based) of the value at p: at least 1, at most count_.
  uint64_t rank =
      static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBucketCount; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      uint64_t mid = BucketLow(i) + (BucketHigh(i) - BucketLow(i)) / 2;
      return std::clamp(mid, min(), max_);
    }
  }
  return max_;
}

}  // namespace ledger::bench
