// Goal: CartContext is a set of mutation ids whose canonical form
// (cart/cart_context.h) is unique, and CartSession numbers ids without gaps.
#include "cart/cart_context.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "common/random.h"

namespace trolley {
namespace {

// Random ids of a few sessions with small counters, so chains form.
std::vector<uint64_t> RandomIds(Random& rng) {
  std::vector<uint64_t> ids;
  const uint64_t n = rng.Range(0, 30);
  for (uint64_t i = 0; i < n; ++i) {
    ids.push_back(MutationIdOf(rng.Range(0, 3), static_cast<uint32_t>(rng.Range(0, 12))) |
                  (rng.Chance(0.1) ? rng.Next() : 0));
  }
  ids.erase(std::remove(ids.begin(), ids.end(), 0u), ids.end());
  return ids;
}

CartContext Of(const std::vector<uint64_t>& ids) {
  CartContext c;
  for (uint64_t id : ids) c.Add(id);
  c.CheckInvariants();
  return c;
}

TEST(CartContextTest, IsTheSetOfItsIdsInOneCanonicalForm) {
  Random rng(1515);
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint64_t> ids = RandomIds(rng);
    const std::set<uint64_t> set(ids.begin(), ids.end());
    const CartContext a = Of(ids);
    std::reverse(ids.begin(), ids.end());
    const CartContext b = Of(ids);
    EXPECT_EQ(a, b) << "the order of Add does not matter";
    EXPECT_EQ(a.Ids(), std::vector<uint64_t>(set.begin(), set.end()));
    for (uint64_t id : set) EXPECT_TRUE(a.Covers(id));
    // Join is union, in any grouping.
    const std::vector<uint64_t> more = RandomIds(rng);
    CartContext joined = a;
    joined.Join(Of(more));
    joined.CheckInvariants();
    std::vector<uint64_t> all = ids;
    all.insert(all.end(), more.begin(), more.end());
    EXPECT_EQ(joined, Of(all));
    // The encoded parts read back; Forget removes exactly one id.
    std::vector<uint64_t> maxima;
    for (const auto& [session, max] : a.sessions()) maxima.push_back(MutationIdOf(session, max));
    const auto parts =
        CartContext::FromParts(maxima, std::vector<uint64_t>(a.dots().begin(), a.dots().end()));
    ASSERT_TRUE(parts.has_value());
    EXPECT_EQ(*parts, a);
    if (!set.empty()) {
      const uint64_t gone = *std::next(set.begin(), static_cast<long>(rng.Uniform(set.size())));
      CartContext forgot = a;
      forgot.Forget(gone);
      forgot.CheckInvariants();
      std::set<uint64_t> rest = set;
      rest.erase(gone);
      EXPECT_EQ(forgot, Of(std::vector<uint64_t>(rest.begin(), rest.end())));
    }
  }
}

TEST(CartContextTest, ASessionWithoutGapsIsOneEntry) {
  CartSession session(42);
  CartContext c;
  std::vector<uint64_t> ids;
  for (int i = 0; i < 1000; ++i) ids.push_back(session.Next());
  std::reverse(ids.begin(), ids.end());  // arriving backwards: the cloud fills, then folds
  for (uint64_t id : ids) c.Add(id);
  EXPECT_EQ(c.sessions(), (std::map<uint64_t, uint32_t>{{42, 1000}}));
  EXPECT_TRUE(c.dots().empty());
}

TEST(CartContextTest, SessionRunsOutAfterItsCounters) {
  CartSession session(7);
  uint64_t last = 0;
  while (!session.exhausted()) last = session.Next();
  EXPECT_EQ(last, MutationIdOf(7, kMutationCounterMax));
  EXPECT_EQ(MutationSession(last), 7u);
}

}  // namespace
}  // namespace trolley
