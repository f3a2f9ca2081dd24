// Shared by the wire tests: seeded random messages with non-trivial
// contents. Random states and bytes come from tests/support/random_state.h,
// hand-built Cap'n Proto payloads from tests/support/capnp_words.h.
#pragma once

#include <cstddef>

#include "common/random.h"
#include "wire/messages.h"

namespace trolley::wire_test {

// One message of the variant's alternative `index`, every field set.
Message RandomMessage(Random& rng, size_t index);

}  // namespace trolley::wire_test
