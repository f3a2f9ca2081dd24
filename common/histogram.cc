#include "common/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "common/assert.h"

namespace trolley {
namespace {

constexpr uint64_t kExactMax = uint64_t{2} << LatencyHistogram::kSubBucketHalfBits;  // 256
constexpr uint64_t kHalf = uint64_t{1} << LatencyHistogram::kSubBucketHalfBits;      // 128

}  // namespace

size_t LatencyHistogram::BucketOf(uint64_t value_us) {
  if (value_us < kExactMax) return static_cast<size_t>(value_us);
  const int top_bit = std::bit_width(value_us) - 1;  // >= 8
  if (top_bit >= kValueBitsMax) return kBucketCount - 1;
  const int shift = top_bit - kSubBucketHalfBits;  // >= 1
  const uint64_t top = value_us >> shift;          // in [128, 256)
  TROLLEY_ASSERT(top >= kHalf);
  TROLLEY_ASSERT(top < 2 * kHalf);
  return static_cast<size_t>(kExactMax + static_cast<uint64_t>(shift - 1) * kHalf + (top - kHalf));
}

uint64_t LatencyHistogram::LowestOf(size_t bucket) {
  TROLLEY_ASSERT(bucket < kBucketCount);
  if (bucket < kExactMax) return bucket;
  const uint64_t j = bucket - kExactMax;
  const uint64_t shift = j / kHalf + 1;
  return (kHalf + j % kHalf) << shift;
}

uint64_t LatencyHistogram::HighestOf(size_t bucket) {
  if (bucket < kExactMax) return LowestOf(bucket);
  const uint64_t shift = (bucket - kExactMax) / kHalf + 1;
  return LowestOf(bucket) + (uint64_t{1} << shift) - 1;
}

void LatencyHistogram::RecordN(uint64_t value_us, uint64_t n) {
  if (n == 0) return;
  const size_t bucket = BucketOf(value_us);
  if (bucket >= counts_.size()) counts_.resize(bucket + 1, 0);
  counts_[bucket] += n;
  count_ += n;
  min_ = std::min(min_, value_us);
  max_ = std::max(max_, value_us);
  sum_ += static_cast<long double>(value_us) * static_cast<long double>(n);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  if (other.counts_.size() > counts_.size()) counts_.resize(other.counts_.size(), 0);
  for (size_t i = 0; i < other.counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

void LatencyHistogram::Reset() { *this = LatencyHistogram(); }

uint64_t LatencyHistogram::CountAtOrBelow(uint64_t value) const {
  const size_t last = std::min(BucketOf(value) + 1, counts_.size());
  uint64_t n = 0;
  for (size_t b = 0; b < last; ++b) n += counts_[b];
  return n;
}

double LatencyHistogram::Mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / static_cast<long double>(count_));
}

uint64_t LatencyHistogram::Percentile(double q) const {
  TROLLEY_ASSERT(q >= 0);
  TROLLEY_ASSERT(q <= 100);
  if (count_ == 0) return 0;
  if (q >= 100) return max_;
  if (q <= 0) return min_;
  // The rank of the sample at the q-th percentile, 1-based: ceil(q% of count).
  // The tolerance keeps 99.9% of 1000 at rank 999 despite 0.999 * 1000 not
  // being exact in binary floating point.
  const double exact_rank = q / 100.0 * static_cast<double>(count_);
  auto rank = static_cast<uint64_t>(std::ceil(exact_rank - 1e-6));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      // The top bucket also holds every value past the tracked range.
      if (i == kBucketCount - 1) return max_;
      return std::clamp(HighestOf(i), min_, max_);
    }
  }
  TROLLEY_ASSERT(false);  // count_ is the sum of counts_
  return max_;
}

}  // namespace trolley
