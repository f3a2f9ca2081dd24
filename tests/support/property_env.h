// The seed and case count of a property test run, from the environment, so
// that the command a failure prints replays it: TROLLEY_PROPERTY_SEED
// (default 20261121) is the first case's seed, case i runs seed + i, and
// TROLLEY_PROPERTY_CASES (default 10000) is how many cases run
// (scripts/test.sh lowers it under the sanitizers; 1 replays one case).
#pragma once

#include <cstdint>

namespace trolley::test_support {

// The number in environment variable `name` (decimal), or `fallback` if the
// variable is not set or empty.
uint64_t EnvOr(const char* name, uint64_t fallback);

// TROLLEY_PROPERTY_SEED, or the default.
uint64_t PropertyBaseSeed();

// TROLLEY_PROPERTY_CASES, or the default.
uint64_t PropertyCases();

}  // namespace trolley::test_support
