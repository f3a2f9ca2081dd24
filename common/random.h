// Random: the only source of randomness in core code.
//
// A small, fast, seedable generator (SplitMix64 to seed xoshiro256**), so a
// seed printed by a test or the simulator replays the same choices on every
// machine and standard library (std::uniform_int_distribution is not
// portable across implementations, so it is not used).
#pragma once

#include <cstdint>

namespace trolley {

class Random {
 public:
  explicit Random(uint64_t seed);

  uint64_t Next();
  // Uniform in [0, bound); bound > 0. Unbiased (rejection sampling).
  uint64_t Uniform(uint64_t bound);
  // Uniform in [lo, hi]; lo <= hi.
  uint64_t Range(uint64_t lo, uint64_t hi);
  // True with probability `p` in [0, 1].
  bool Chance(double p);
  // Uniform in [0, 1).
  double NextDouble();

 private:
  uint64_t s_[4];
};

}  // namespace trolley
