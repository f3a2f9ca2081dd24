#include "common/random.h"

#include "common/assert.h"

namespace trolley {
namespace {

uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Random::Random(uint64_t seed) {
  for (auto& s : s_) s = SplitMix64(seed);
}

uint64_t Random::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

uint64_t Random::Uniform(uint64_t bound) {
  TROLLEY_ASSERT(bound > 0);
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % bound);
  uint64_t x = Next();
  while (x >= limit) x = Next();
  return x % bound;
}

uint64_t Random::Range(uint64_t lo, uint64_t hi) {
  TROLLEY_ASSERT(lo <= hi);
  if (lo == 0 && hi == UINT64_MAX) return Next();
  return lo + Uniform(hi - lo + 1);
}

bool Random::Chance(double p) { return NextDouble() < p; }

double Random::NextDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

}  // namespace trolley
