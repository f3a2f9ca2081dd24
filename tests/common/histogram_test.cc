// Goal: LatencyHistogram reports every percentile within its stated
// relative error (never below the true value), merges losslessly, and
// handles the extremes. Method: known distributions whose exact
// percentiles are computed from the sorted samples.
#include "common/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/random.h"

namespace trolley {
namespace {

// The exact q-th percentile of sorted samples, by the same rank rule
// (rank = ceil(q% of n), 1-based).
uint64_t ExactPercentile(const std::vector<uint64_t>& sorted, double q) {
  auto rank = static_cast<size_t>(std::ceil(q / 100.0 * static_cast<double>(sorted.size()) - 1e-6));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void ExpectWithinError(const LatencyHistogram& h, std::vector<uint64_t> samples) {
  std::sort(samples.begin(), samples.end());
  for (double q : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99}) {
    const uint64_t exact = ExactPercentile(samples, q);
    const uint64_t got = h.Percentile(q);
    EXPECT_GE(got, exact) << "q=" << q;
    EXPECT_LE(static_cast<double>(got),
              static_cast<double>(exact) * (1 + LatencyHistogram::kRelativeErrorMax) + 1e-9)
        << "q=" << q;
  }
  EXPECT_EQ(h.Percentile(100), samples.back());
  EXPECT_EQ(h.Percentile(0), samples.front());
  EXPECT_EQ(h.count(), samples.size());
}

TEST(LatencyHistogramTest, BucketsAreContiguousAndWithinTheRelativeError) {
  EXPECT_EQ(LatencyHistogram::LowestOf(0), 0u);
  for (size_t i = 0; i + 1 < LatencyHistogram::kBucketCount; ++i) {
    ASSERT_EQ(LatencyHistogram::HighestOf(i) + 1, LatencyHistogram::LowestOf(i + 1)) << i;
    const uint64_t lo = LatencyHistogram::LowestOf(i), hi = LatencyHistogram::HighestOf(i);
    ASSERT_EQ(LatencyHistogram::BucketOf(lo), i);
    ASSERT_EQ(LatencyHistogram::BucketOf(hi), i);
    if (lo > 0) {
      ASSERT_LE(static_cast<double>(hi - lo) / static_cast<double>(lo),
                LatencyHistogram::kRelativeErrorMax);
    }
  }
  EXPECT_EQ(LatencyHistogram::HighestOf(LatencyHistogram::kBucketCount - 1),
            (uint64_t{1} << LatencyHistogram::kValueBitsMax) - 1);
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram h;
  std::vector<uint64_t> samples;
  for (uint64_t v = 0; v < 256; ++v) {
    h.Record(v);
    samples.push_back(v);
  }
  for (double q : {1.0, 50.0, 90.0, 99.0}) {
    EXPECT_EQ(h.Percentile(q), ExactPercentile(samples, q)) << q;
  }
  EXPECT_EQ(h.Percentile(50), 127u);  // rank 128 of 256
}

TEST(LatencyHistogramTest, UniformOneToHundredThousand) {
  LatencyHistogram h;
  std::vector<uint64_t> samples;
  for (uint64_t v = 1; v <= 100'000; ++v) {
    h.Record(v);
    samples.push_back(v);
  }
  ExpectWithinError(h, samples);
  EXPECT_NEAR(static_cast<double>(h.Percentile(99)), 99'000, 99'000 * 0.008);
  EXPECT_NEAR(h.Mean(), 50'000.5, 1e-6);
}

TEST(LatencyHistogramTest, TailIsFoundAtTheRightRank) {
  // 990 fast samples, 10 slow: p99 is the last fast one, p99.1 a slow one.
  LatencyHistogram h;
  h.RecordN(1'000, 990);
  h.RecordN(250'000, 10);
  EXPECT_GE(h.Percentile(99), 1'000u);
  EXPECT_LE(h.Percentile(99), 1'008u);
  EXPECT_GE(h.Percentile(99.1), 250'000u);
  EXPECT_EQ(h.Percentile(99.9), 250'000u);  // clamped to max
  EXPECT_EQ(h.max(), 250'000u);
  EXPECT_EQ(h.min(), 1'000u);
}

TEST(LatencyHistogramTest, LogNormalSamplesAgainstExactPercentiles) {
  Random random(7);
  LatencyHistogram h;
  std::vector<uint64_t> samples;
  for (int i = 0; i < 200'000; ++i) {
    // Box-Muller: log-normal around 1 ms with a long tail.
    const double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
    const double z = std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
    const auto v = static_cast<uint64_t>(std::exp(std::log(1000.0) + 1.2 * z));
    h.Record(v);
    samples.push_back(v);
  }
  ExpectWithinError(h, samples);
}

TEST(LatencyHistogramTest, MergeEqualsRecordingEverythingInOne) {
  Random random(3);
  LatencyHistogram a, b, all;
  std::vector<uint64_t> samples;
  for (int i = 0; i < 50'000; ++i) {
    const uint64_t v = random.Uniform(uint64_t{1} << (8 + random.Uniform(16)));
    (i % 3 == 0 ? a : b).Record(v);
    all.Record(v);
    samples.push_back(v);
  }
  LatencyHistogram merged;
  merged.Merge(a);
  merged.Merge(b);
  merged.Merge(LatencyHistogram());  // an empty one changes nothing
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_DOUBLE_EQ(merged.Mean(), all.Mean());
  for (double q : {0.0, 25.0, 50.0, 90.0, 99.0, 99.9, 100.0}) {
    EXPECT_EQ(merged.Percentile(q), all.Percentile(q)) << q;
  }
  ExpectWithinError(merged, samples);
}

TEST(LatencyHistogramTest, Extremes) {
  LatencyHistogram empty;
  EXPECT_EQ(empty.count(), 0u);
  EXPECT_EQ(empty.Percentile(99), 0u);
  EXPECT_EQ(empty.max(), 0u);
  EXPECT_EQ(empty.min(), 0u);
  EXPECT_EQ(empty.Mean(), 0.0);

  LatencyHistogram h;
  h.Record(0);
  h.Record(UINT64_MAX);  // beyond the tracked range: top bucket, exact max
  h.Record(uint64_t{1} << 40);
  EXPECT_EQ(h.count(), 3u);
  EXPECT_EQ(h.Percentile(0), 0u);
  EXPECT_EQ(h.Percentile(30), 0u);
  EXPECT_EQ(h.Percentile(100), UINT64_MAX);
  // Both huge values share the top bucket, which reports the exact max:
  // above the true p50 (2^40), never below it.
  EXPECT_EQ(h.Percentile(50), UINT64_MAX);

  LatencyHistogram one;
  one.Record(123'456);
  for (double q : {0.0, 50.0, 99.9, 100.0}) EXPECT_EQ(one.Percentile(q), 123'456u) << q;

  one.Reset();
  EXPECT_EQ(one.count(), 0u);
  EXPECT_EQ(one.Percentile(50), 0u);
}

// CountAtOrBelow counts whole buckets: exact up to 255; above, it counts
// the values of the bound's own bucket too (at most 0.79% above it), never
// one of a higher bucket. Sum() is exact.
TEST(LatencyHistogramTest, CountAtOrBelowAndSum) {
  LatencyHistogram h;
  EXPECT_EQ(h.CountAtOrBelow(1000), 0u);
  for (uint64_t v : {0, 1, 1, 2, 255, 256, 1000, 1003, 1004, 5000}) h.Record(v);
  EXPECT_EQ(h.CountAtOrBelow(0), 1u);
  EXPECT_EQ(h.CountAtOrBelow(1), 3u);
  EXPECT_EQ(h.CountAtOrBelow(254), 4u);
  EXPECT_EQ(h.CountAtOrBelow(255), 5u);
  EXPECT_EQ(h.CountAtOrBelow(256), 6u);
  // 1000..1003 share a bucket (4 wide at 2^9..2^10); 1004 starts the next.
  EXPECT_EQ(h.CountAtOrBelow(1000), 8u);
  EXPECT_EQ(h.CountAtOrBelow(1003), 8u);
  EXPECT_EQ(h.CountAtOrBelow(1004), 9u);
  EXPECT_EQ(h.CountAtOrBelow(uint64_t{1} << 40), 10u);
  EXPECT_EQ(static_cast<uint64_t>(h.Sum()), 0u + 1 + 1 + 2 + 255 + 256 + 1000 + 1003 + 1004 + 5000);
}

}  // namespace
}  // namespace trolley
