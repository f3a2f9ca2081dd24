// Seeded property-test cases for GoogleTest: case c of a run seeded s draws
// from Random(s + c), so a failure names the one seed that replays it.
// Header-only; the checks are EXPECT/ASSERTs of the running test.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "common/random.h"

namespace trolley::test_support {

// Calls fn(rng, c) for c = 0 .. cases - 1, rng = Random(base_seed + c),
// with "seed=<base_seed + c>" in the trace of any failure; stops after the
// first case that fails (an ASSERT in fn ends that case only).
template <typename Fn>  // (Random&, uint64_t c) -> void
void RunSeededCases(uint64_t base_seed, uint64_t cases, Fn fn) {
  for (uint64_t c = 0; c < cases; ++c) {
    const uint64_t seed = base_seed + c;
    SCOPED_TRACE("seed=" + std::to_string(seed));
    Random rng(seed);
    fn(rng, c);
    if (::testing::Test::HasFailure()) return;
  }
}

}  // namespace trolley::test_support
