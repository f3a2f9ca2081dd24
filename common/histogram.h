// LatencyHistogram: an HDR-style log-linear histogram of latencies in
// microseconds, for the load generator (bench/) and the node's coordinator latencies
// (common/metrics.h). Modelled on Gil Tene's HdrHistogram (hdrhistogram.org), which Debian does not
// package for C++; no code is borrowed.
//
// Layout. Values 0..255 us each have their own bucket (exact). Above that,
// every power-of-two range [2^b, 2^(b+1)) is split into 128 equal buckets,
// so a bucket is at most 1/128 of its lowest value wide: any value is
// reported within 0.79% of itself (kRelativeErrorMax), like HdrHistogram
// with 2 significant digits. Values up to 2^kValueBitsMax us (about 19
// hours) are tracked; larger ones count in the top bucket, whose
// percentiles are reported as max() (exact). Buckets are allocated on
// demand, up to the highest one used, so a histogram of millisecond
// latencies costs about 11 KB.
//
// Percentile(q) returns the highest value equivalent to the bucket that
// holds the q-th percentile sample (rank ceil(q/100 * count)), clamped to
// [min(), max()]: never below the true percentile, at most 0.79% above it.
// Percentile(100) is the exact max, Percentile(0) the exact min.
//
// Threading: none; one thread records. Merge() a copy to combine threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace trolley {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketHalfBits = 7;  // 128 buckets per power of two
  static constexpr int kValueBitsMax = 36;      // 2^36 us ~ 19 hours
  static constexpr double kRelativeErrorMax = 1.0 / 128;
  // 0..255 exact, then 128 buckets for each power of two from 2^8 to 2^35.
  static constexpr size_t kBucketCount =
      (size_t{2} << kSubBucketHalfBits) +
      static_cast<size_t>(kValueBitsMax - kSubBucketHalfBits - 1) *
          (size_t{1} << kSubBucketHalfBits);

  void Record(uint64_t value_us) { RecordN(value_us, 1); }
  void RecordN(uint64_t value_us, uint64_t n);
  void Merge(const LatencyHistogram& other);
  void Reset();

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double Mean() const;
  // The sum of every value recorded (for Prometheus' _sum).
  long double Sum() const { return sum_; }
  // The values recorded that are at most `value`, counting whole buckets:
  // exact up to 255, and above that it may also count values up to 0.79%
  // above `value` (those sharing its bucket). For Prometheus' cumulative
  // buckets (le = value).
  uint64_t CountAtOrBelow(uint64_t value) const;
  // q in [0, 100]; 0 for an empty histogram.
  uint64_t Percentile(double q) const;

  // The bucket of a value, and the range of values [lowest, highest] a
  // bucket stands for. Exposed for tests.
  static size_t BucketOf(uint64_t value_us);
  static uint64_t LowestOf(size_t bucket);
  static uint64_t HighestOf(size_t bucket);

 private:
  std::vector<uint64_t> counts_;  // grows to the highest bucket used
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  long double sum_ = 0;  // for Mean(); exact well past 2^64 us-samples
};

}  // namespace trolley
