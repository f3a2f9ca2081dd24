// Shared by the wire tests: seeded random messages with non-trivial
// contents, and hand-built Cap'n Proto payloads (encoding spec:
// capnproto.org/encoding.html) for inputs our encoder never writes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/random.h"
#include "storage/sibling_set.h"
#include "wire/messages.h"

namespace trolley::wire_test {

std::string RandomBytes(Random& rng, size_t size_min, size_t size_max);

// A reachable state: a few replicas take random writes (blind, fresh or
// stale contexts; deletes, retries, expiries) and merge at random.
SiblingSet RandomState(Random& rng);

// One message of the variant's alternative `index`, every field set.
Message RandomMessage(Random& rng, size_t index);

// ---- Hand-built payloads

uint64_t StructPointer(int32_t offset_words, uint16_t data_words, uint16_t pointer_count);
// element_size: 2 = byte, 6 = pointer, 7 = inline composite (count in words).
uint64_t ListPointer(int32_t offset_words, uint64_t element_size, uint64_t count);
// A single-segment flat array holding `segment`.
std::string Payload(const std::vector<uint64_t>& segment);

}  // namespace trolley::wire_test
