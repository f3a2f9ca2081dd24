// Seeded random SiblingSets for the codec and message tests.
//
// Every state is one the protocol can reach: built through ApplyWrite and
// Merge (never field by field), so it passes CheckInvariants and a decoder
// that refuses it has a bug. The same seed gives the same state on every
// machine (common/random.h); a test prints its seed to replay a failure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/random.h"
#include "storage/sibling_set.h"

namespace trolley::test_support {

// Between `size_min` and `size_max` bytes (inclusive), each of any value.
std::string RandomBytes(Random& rng, size_t size_min, size_t size_max);

// A reachable state: 1 to 4 replicas take up to `steps_max` random steps,
// each a write (blind, from a fresh read or from a stale one; some deletes,
// retries and expiries; values of up to 64 bytes) or a merge of another
// replica's state. The result is one replica's state, or all merged.
// More steps give more siblings, and larger states.
SiblingSet RandomState(Random& rng, uint64_t steps_max = 20);

}  // namespace trolley::test_support
