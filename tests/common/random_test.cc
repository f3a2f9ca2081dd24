// Goal: the generator is reproducible from its seed and Uniform stays in range.
#include "common/random.h"

#include <gtest/gtest.h>

namespace trolley {
namespace {

TEST(RandomTest, SameSeedSameSequence) {
  Random a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    differs |= x != c.Next();
  }
  EXPECT_TRUE(differs);
}

TEST(RandomTest, UniformInRangeAndCoversIt) {
  Random r(1);
  int seen[7] = {};
  for (int i = 0; i < 7000; ++i) {
    const uint64_t x = r.Uniform(7);
    ASSERT_LT(x, 7u);
    ++seen[x];
  }
  for (int count : seen) EXPECT_GT(count, 800);
}

}  // namespace
}  // namespace trolley
