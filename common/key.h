// Keys and their position on the ring.
//
// An object is named by (namespace, key). Its 64-bit position is XXH3-64 of
// the namespace and the key, so the same cart id in two namespaces lands on
// different partitions. The ring (ring/) cuts the 64-bit space into Q equal
// ranges, Q a power of two, so partition p is the contiguous hash range
// [p << (64 - log2 Q), (p + 1) << (64 - log2 Q)). Storage lays keys out by
// this hash (big-endian first), which makes every partition a contiguous
// key range for every Q.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace trolley {

// Stable across releases and machines: stored data is laid out by it.
uint64_t KeyHash(std::string_view ns, std::string_view key);

// The first hash of partition `partition` when the ring has 2^log2_partitions partitions.
uint64_t PartitionFirstHash(uint32_t partition, uint32_t log2_partitions);

// The partition that holds `hash` on a ring of 2^log2_partitions partitions.
uint32_t PartitionOfHash(uint64_t hash, uint32_t log2_partitions);

}  // namespace trolley
