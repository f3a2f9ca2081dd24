#include "bench/zipf.h"

#include <algorithm>
#include <cmath>

#include "common/assert.h"

namespace trolley::bench {
namespace {

// log1p(x) / x, continuous at 0 (Taylor series near it).
double Log1pOverX(double x) {
  if (std::fabs(x) > 1e-8) return std::log1p(x) / x;
  return 1 - x * (0.5 - x * (1.0 / 3 - 0.25 * x));
}

// expm1(x) / x, continuous at 0.
double Expm1OverX(double x) {
  if (std::fabs(x) > 1e-8) return std::expm1(x) / x;
  return 1 + x * 0.5 * (1 + x * (1.0 / 3) * (1 + 0.25 * x));
}

}  // namespace

ZipfSampler::ZipfSampler(uint64_t n, double exponent) : n_(n), s_(exponent) {
  TROLLEY_ASSERT(n >= 1);
  TROLLEY_ASSERT(exponent >= 0);
  TROLLEY_ASSERT(std::isfinite(exponent));
  h_integral_x1_ = H(1.5) - 1;
  h_integral_n_ = H(static_cast<double>(n) + 0.5);
  s_threshold_ = 2 - HInverse(H(2.5) - h(2));
}

// H(x) = integral of t^-s dt from 1 to x = (x^(1-s) - 1) / (1 - s), and
// log(x) when s = 1; written with expm1 so that it is accurate near s = 1.
double ZipfSampler::H(double x) const {
  const double log_x = std::log(x);
  return Expm1OverX((1 - s_) * log_x) * log_x;
}

double ZipfSampler::HInverse(double x) const {
  double t = x * (1 - s_);
  t = std::max(t, -1.0);  // rounding near the lower end
  return std::exp(Log1pOverX(t) * x);
}

double ZipfSampler::h(double x) const { return std::exp(-s_ * std::log(x)); }

uint64_t ZipfSampler::Sample(Random& random) const {
  // Draw u uniformly in (H(1.5) - 1, H(n + 0.5)]: the hat's area, where the
  // strip of rank k is [H(k + 0.5) - h(k), H(k + 0.5)] (its exact mass is
  // h(k)) and rank 1's strip extends to the left end. Accept k if u falls
  // in its strip.
  for (;;) {
    const double u = h_integral_n_ + random.NextDouble() * (h_integral_x1_ - h_integral_n_);
    const double x = HInverse(u);
    auto k = static_cast<uint64_t>(std::max(1.0, std::floor(x + 0.5)));
    k = std::min(k, n_);
    const double kd = static_cast<double>(k);
    if (kd - x <= s_threshold_ || u >= H(kd + 0.5) - h(kd)) return k;
  }
}

double ZipfSampler::Probability(uint64_t k) const {
  TROLLEY_ASSERT(k >= 1);
  TROLLEY_ASSERT(k <= n_);
  double total = 0;
  for (uint64_t i = 1; i <= n_; ++i) total += h(static_cast<double>(i));
  return h(static_cast<double>(k)) / total;
}

}  // namespace trolley::bench
