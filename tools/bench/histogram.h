#pragma once

// A log-bucketed latency histogram in the manner of HdrHistogram: values
// (nanoseconds) are counted in buckets whose width is at most 1/128 of their
// lower bound; a percentile is reported as its bucket's midpoint, within
// 0.4% of the true value (exact below 256 ns). Fixed memory (about 36 KiB),
// O(1) Record, mergeable: each thread records into its own histogram and the
// driver merges them. Not thread-safe.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ledger::bench {

class Histogram {
 public:
  // Values above kMaxValue (about 18 minutes in ns) are clamped to it.
  static constexpr uint64_t kMaxValue = (uint64_t{1} << 40) - 1;

  Histogram();

  void Record(uint64_t value);
  void Merge(const Histogram& other);
  void Clear();

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const;

  // The value at percentile `p` in [0, 100]: the smallest recorded value v
  // such that at least p% of all values are <= v, reported as the midpoint
  // of v's bucket (clamped to [min(), max()]). 0 for an empty histogram.
  uint64_t ValueAtPercentile(double p) const;

  // Bucket arithmetic, exposed for tests.
  static size_t BucketOf(uint64_t value);
  static uint64_t BucketLow(size_t bucket);
  static uint64_t BucketHigh(size_t bucket);  // inclusive

 private:
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  uint64_t min_ = ~uint64_t{0};
  uint64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace ledger::bench
