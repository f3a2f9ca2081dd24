#include "common/key.h"

#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack
#include <xxhash.h>

#include "common/assert.h"

namespace trolley {

uint64_t KeyHash(std::string_view ns, std::string_view key) {
  // Length-prefix the namespace so ("ab","c") and ("a","bc") differ.
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  const uint32_t ns_size = static_cast<uint32_t>(ns.size());
  XXH3_64bits_update(&state, &ns_size, sizeof(ns_size));
  XXH3_64bits_update(&state, ns.data(), ns.size());
  XXH3_64bits_update(&state, key.data(), key.size());
  return XXH3_64bits_digest(&state);
}

uint64_t PartitionFirstHash(uint32_t partition, uint32_t log2_partitions) {
  TROLLEY_ASSERT(log2_partitions <= 16);
  TROLLEY_ASSERT(partition < (uint32_t{1} << log2_partitions));
  if (log2_partitions == 0) return 0;
  return static_cast<uint64_t>(partition) << (64 - log2_partitions);
}

uint32_t PartitionOfHash(uint64_t hash, uint32_t log2_partitions) {
  TROLLEY_ASSERT(log2_partitions <= 16);
  if (log2_partitions == 0) return 0;
  return static_cast<uint32_t>(hash >> (64 - log2_partitions));
}

}  // namespace trolley
