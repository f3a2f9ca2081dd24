// ZipfSampler: ranks 1..n drawn with P(k) proportional to 1 / k^s, for the
// flash-sale workload's product popularity (rank 1 is the hottest product).
//
// Method: rejection-inversion, W. Hörmann and G. Derflinger, "Rejection-
// inversion to generate variates from monotone discrete distributions",
// ACM TOMACS 6(3), 1996. It inverts the integral H of the continuous hat
// h(x) = x^-s and accepts or rejects; exact for any n and s >= 0, O(1)
// memory and O(1) expected time (under 1.1 draws per sample in practice),
// so a million products cost nothing to set up. Rejected alternatives: a
// CDF table with binary search (exact but n doubles of memory and O(n)
// setup), and YCSB's Gray et al. formula (approximate: its frequencies
// drift from 1/k^s, which the unit test would catch).
//
// Deterministic given the Random; not thread-safe (one per thread).
#pragma once

#include <cstdint>

#include "common/random.h"

namespace trolley::bench {

class ZipfSampler {
 public:
  // n >= 1 ranks, exponent s >= 0 (0: uniform).
  ZipfSampler(uint64_t n, double exponent);

  // A rank in [1, n].
  uint64_t Sample(Random& random) const;

  uint64_t n() const { return n_; }
  double exponent() const { return s_; }

  // The exact probability of rank k (for tests; O(n)).
  double Probability(uint64_t k) const;

 private:
  double H(double x) const;         // integral of h from 1 to x, shifted: (x^(1-s) - 1) / (1 - s)
  double HInverse(double x) const;  // its inverse
  double h(double x) const;         // x^-s

  uint64_t n_;
  double s_;
  double h_integral_x1_;  // H(1.5) - 1
  double h_integral_n_;   // H(n + 0.5)
  double s_threshold_;    // the squeeze: k - x <= this accepts at once
};

}  // namespace trolley::bench
