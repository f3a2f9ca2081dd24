// Goal: key hashes are stable (stored data is laid out by them) and
// partitions are contiguous hash ranges for every power-of-two Q.
#include "common/key.h"

#include <gtest/gtest.h>

namespace trolley {
namespace {

TEST(KeyHashTest, StableAcrossReleases) {
  // Pinned: changing KeyHash moves every stored object to another partition.
  EXPECT_EQ(KeyHash("carts", "user-1"), KeyHash("carts", "user-1"));
  const uint64_t pinned = KeyHash("carts", "user-1");
  EXPECT_EQ(pinned, 0x150d61032e7fea57ULL) << std::hex << pinned;
}

TEST(KeyHashTest, NamespaceIsPartOfTheHash) {
  EXPECT_NE(KeyHash("carts", "u1"), KeyHash("guest-carts", "u1"));
  EXPECT_NE(KeyHash("ab", "c"), KeyHash("a", "bc"));
}

TEST(PartitionTest, PartitionsAreContiguousRanges) {
  for (uint32_t log2q = 0; log2q <= 10; ++log2q) {
    const uint32_t q = 1u << log2q;
    for (uint32_t p = 0; p < q; ++p) {
      const uint64_t first = PartitionFirstHash(p, log2q);
      EXPECT_EQ(PartitionOfHash(first, log2q), p);
      if (p + 1 < q) {
        EXPECT_EQ(PartitionOfHash(PartitionFirstHash(p + 1, log2q) - 1, log2q), p);
      } else {
        EXPECT_EQ(PartitionOfHash(UINT64_MAX, log2q), p);
      }
    }
  }
}

}  // namespace
}  // namespace trolley
