// Goal: ZipfSampler draws ranks with the exact Zipf probabilities
// P(k) = k^-s / sum_i i^-s. Method: chi-square goodness of fit against the
// exact probabilities for several (n, s), with a fixed seed and critical
// values at p = 0.001 (a correct sampler fails one of these about once in
// a thousand seeds; the seed is fixed, so the test is deterministic), and
// the head of a large distribution against its exact share.
#include "bench/zipf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/random.h"

namespace trolley::bench {
namespace {

double ChiSquare(const ZipfSampler& zipf, uint64_t samples, uint64_t seed) {
  Random random(seed);
  std::vector<uint64_t> counts(zipf.n() + 1, 0);
  for (uint64_t i = 0; i < samples; ++i) {
    const uint64_t k = zipf.Sample(random);
    EXPECT_GE(k, 1u);
    EXPECT_LE(k, zipf.n());
    ++counts[k];
  }
  double chi = 0;
  for (uint64_t k = 1; k <= zipf.n(); ++k) {
    const double expected = static_cast<double>(samples) * zipf.Probability(k);
    chi += (static_cast<double>(counts[k]) - expected) *
           (static_cast<double>(counts[k]) - expected) / expected;
  }
  return chi;
}

struct Case {
  uint64_t n;
  double s;
  double chi_square_critical;  // degrees of freedom n - 1, p = 0.001
};

TEST(ZipfSamplerTest, MatchesTheExactDistribution) {
  const Case cases[] = {
      {10, 0.99, 27.88},                      // the workload's default exponent
      {100, 0.99, 148.23}, {50, 0.0, 85.35},  // uniform
      {20, 1.0, 43.82},                       // the harmonic case (H is a log)
      {30, 2.5, 58.30},                       // steep
      {2, 0.99, 10.83},
  };
  for (const Case& c : cases) {
    const ZipfSampler zipf(c.n, c.s);
    EXPECT_LT(ChiSquare(zipf, 200'000, 42), c.chi_square_critical) << "n=" << c.n << " s=" << c.s;
  }
}

TEST(ZipfSamplerTest, DetectsAWrongExponent) {
  // The test has teeth: samples at s = 0.99 do not fit s = 0.9.
  const ZipfSampler drawn(100, 0.99), claimed(100, 0.9);
  Random random(42);
  std::vector<uint64_t> counts(101, 0);
  for (int i = 0; i < 200'000; ++i) ++counts[drawn.Sample(random)];
  double chi = 0;
  for (uint64_t k = 1; k <= 100; ++k) {
    const double expected = 200'000 * claimed.Probability(k);
    chi += (static_cast<double>(counts[k]) - expected) *
           (static_cast<double>(counts[k]) - expected) / expected;
  }
  EXPECT_GT(chi, 148.23);
}

TEST(ZipfSamplerTest, OneRankAndReproducibility) {
  const ZipfSampler one(1, 0.99);
  Random random(1);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(one.Sample(random), 1u);

  const ZipfSampler zipf(1000, 0.99);
  Random a(9), b(9);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(zipf.Sample(a), zipf.Sample(b));
}

TEST(ZipfSamplerTest, LargeCatalogueHeadAndTail) {
  // A million products at s = 0.99: the hottest gets 1 / H(n, s) of the
  // draws (about 7%), the top 10 the sum of the first ten terms.
  const uint64_t n = 1'000'000;
  const ZipfSampler zipf(n, 0.99);
  double total = 0;
  for (uint64_t i = 1; i <= n; ++i) total += std::pow(static_cast<double>(i), -0.99);
  double top10 = 0;
  for (uint64_t i = 1; i <= 10; ++i) top10 += std::pow(static_cast<double>(i), -0.99) / total;
  Random random(5);
  const int samples = 400'000;
  int first = 0, head = 0;
  uint64_t beyond_half = 0;
  for (int i = 0; i < samples; ++i) {
    const uint64_t k = zipf.Sample(random);
    first += k == 1;
    head += k <= 10;
    beyond_half += k > n / 2;
  }
  EXPECT_NEAR(first / static_cast<double>(samples), 1 / total, 0.003);
  EXPECT_NEAR(head / static_cast<double>(samples), top10, 0.004);
  // The tail is reached too: ranks above n/2 hold about 4.5% of the mass.
  double tail = 0;
  for (uint64_t i = n / 2 + 1; i <= n; ++i) tail += std::pow(static_cast<double>(i), -0.99) / total;
  EXPECT_NEAR(static_cast<double>(beyond_half) / samples, tail, 0.003);
}

}  // namespace
}  // namespace trolley::bench
