// Goal: merging a guest cart into a user cart follows its strategy (sum,
// max, keep-user), caps quantities, refuses to exceed lines_max with an
// error naming it, and is idempotent: the same merge again, directly or
// after the user cart's siblings were merged, changes nothing.
// Method: hand-built guest and user carts in both semantics.
#include "cart/guest_merge.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/cart/cart_test_util.h"

namespace trolley::cart_test {
namespace {

constexpr uint64_t kMergeId = 0x5eed;

class GuestMergeTest : public ::testing::TestWithParam<CartSemantics> {
 protected:
  // guest: apple 3 (size S), pear 2, kiwi 998.  user: apple 5 (size M), kiwi 4, fig 1.
  void SetUp() override {
    MustApply(guest_, Mutation::Add(1, "apple", 3, kT0, {{"size", "S"}}));
    MustApply(guest_, Mutation::Add(2, "pear", 2, kT0, {{"ripe", "yes"}}));
    MustApply(guest_, Mutation::Add(3, "kiwi", 998, kT0));
    MustApply(user_, Mutation::Add(11, "apple", 5, kT0, {{"size", "M"}}));
    MustApply(user_, Mutation::Add(12, "kiwi", 4, kT0));
    MustApply(user_, Mutation::Add(13, "fig", 1, kT0));
  }

  CartState Merged(GuestMergeStrategy strategy, const CartState& user) const {
    Result<CartState> r = MergeGuestCart(guest_, user, strategy, kLimits, kMergeId, kT0 + 10);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return user;
    r->CheckInvariants();
    return std::move(r).value();
  }

  // The merged quantities of apple, pear, kiwi and fig, in that order.
  static std::vector<uint32_t> FruitQuantities(const CartState& m) {
    std::vector<uint32_t> quantities;
    for (const char* sku : {"apple", "pear", "kiwi", "fig"}) quantities.push_back(Quantity(m, sku));
    return quantities;
  }

  CartState guest_{GetParam()};
  CartState user_{GetParam()};
};

INSTANTIATE_TEST_SUITE_P(Both, GuestMergeTest,
                         ::testing::Values(CartSemantics::kUnionMax, CartSemantics::kOrSet),
                         ParamName);

TEST_P(GuestMergeTest, SumAddsAndCaps) {
  const CartState m = Merged(GuestMergeStrategy::kSum, user_);
  EXPECT_EQ(FruitQuantities(m), (std::vector<uint32_t>{8, 2, 999, 1}))
      << "kiwi: 4 + 998 capped at quantity_max, not an error";
  const std::vector<CartLine> lines = m.Lines(kLimits);
  EXPECT_EQ(lines[0].attributes.at("size"), "M") << "the user's attributes stay";
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[3].sku, "pear");
  EXPECT_EQ(lines[3].attributes.at("ripe"), "yes") << "a new line takes the guest's";
}

TEST_P(GuestMergeTest, MaxTakesTheLarger) {
  const CartState m = Merged(GuestMergeStrategy::kMax, user_);
  EXPECT_EQ(FruitQuantities(m), (std::vector<uint32_t>{5, 2, 998, 1}));
  EXPECT_EQ(m.Lines(kLimits)[0].attributes.at("size"), "M");
}

// A merge only adds, whatever the strategy: applied to a copy that missed
// a concurrent add (a stale coordinator, a late retry), it removes nothing.
TEST_P(GuestMergeTest, MaxAddsTheDifferenceAndRemovesNothing) {
  for (GuestMergeStrategy strategy :
       {GuestMergeStrategy::kSum, GuestMergeStrategy::kMax, GuestMergeStrategy::kKeepUser}) {
    Result<std::vector<Mutation>> ms =
        GuestMergeMutations(guest_, user_, strategy, kLimits, kMergeId, kT0);
    ASSERT_TRUE(ms.ok());
    for (const Mutation& m : *ms) EXPECT_EQ(m.kind, Mutation::Kind::kAdd) << m.sku;
  }
  if (GetParam() != CartSemantics::kOrSet) return;
  // kiwi: guest 998 over user 4 is an add of 994. A concurrent add of kiwi
  // that the merge's copy did not hold counts on top.
  CartState other = user_;
  ASSERT_TRUE(other.Apply(Mutation::Add(0xadd, "kiwi", 1, kT0), kLimits).ok());
  const CartState merged = Merged(GuestMergeStrategy::kMax, user_);
  EXPECT_EQ(Quantity(merged, "kiwi"), 998u);
  const CartState both = CartState::Merge(GetParam(), std::vector{merged, other});
  EXPECT_EQ(Quantity(both, "kiwi"), 999u) << both.DebugString();
}

TEST_P(GuestMergeTest, KeepUserOnlyAddsMissingLines) {
  const CartState m = Merged(GuestMergeStrategy::kKeepUser, user_);
  EXPECT_EQ(FruitQuantities(m), (std::vector<uint32_t>{5, 2, 4, 1}));
  Result<std::vector<Mutation>> ms =
      GuestMergeMutations(guest_, user_, GuestMergeStrategy::kKeepUser, kLimits, kMergeId, kT0);
  ASSERT_TRUE(ms.ok());
  ASSERT_EQ(ms->size(), 1u);
  EXPECT_EQ((*ms)[0].sku, "pear");
  EXPECT_EQ((*ms)[0].id, GuestMergeMutationId(kMergeId, "pear"));
}

TEST_P(GuestMergeTest, SameMergeTwiceChangesNothing) {
  for (GuestMergeStrategy strategy :
       {GuestMergeStrategy::kSum, GuestMergeStrategy::kMax, GuestMergeStrategy::kKeepUser}) {
    SCOPED_TRACE(std::string(GuestMergeStrategyName(strategy)));
    const CartState once = Merged(strategy, user_);
    EXPECT_EQ(Merged(strategy, once), once);
    // The mutations, replayed onto the merged cart, are all already applied.
    Result<std::vector<Mutation>> ms =
        GuestMergeMutations(guest_, user_, strategy, kLimits, kMergeId, kT0 + 10);
    ASSERT_TRUE(ms.ok());
    CartState replayed = once;
    for (const Mutation& m : *ms) {
      EXPECT_TRUE(replayed.Applied(m.id));
      MustApply(replayed, m);
    }
    EXPECT_EQ(replayed, once);
    // A different login (another merge id) does merge again.
    if (strategy == GuestMergeStrategy::kSum) {
      Result<CartState> again =
          MergeGuestCart(guest_, once, strategy, kLimits, kMergeId + 1, kT0 + 20);
      ASSERT_TRUE(again.ok());
      EXPECT_EQ(Quantity(*again, "apple"), 11u);
    }
  }
}

// The user cart has two siblings: device A did the merge, device B did not
// but added a line. Merging the siblings and doing the merge again (the
// login retried on B) counts the guest once.
TEST_P(GuestMergeTest, SameMergeAfterMergingSiblingsChangesNothing) {
  const CartState a = Merged(GuestMergeStrategy::kSum, user_);
  CartState b = user_;
  MustApply(b, Mutation::Add(21, "plum", 1, kT0 + 5));
  const CartState siblings = MergeOf({a, b});
  const CartState again = Merged(GuestMergeStrategy::kSum, siblings);
  EXPECT_EQ(again, siblings);
  EXPECT_EQ(Quantity(again, "apple"), 8u);
  EXPECT_EQ(Quantity(again, "plum"), 1u);
  // Both devices ran the same merge concurrently: still counted once.
  const CartState b_merged = Merged(GuestMergeStrategy::kSum, b);
  const CartState both = MergeOf({a, b_merged});
  EXPECT_EQ(Quantity(both, "apple"), 8u);
  EXPECT_EQ(Quantity(both, "pear"), 2u);
  EXPECT_EQ(Quantity(both, "plum"), 1u);
}

TEST_P(GuestMergeTest, LinesMaxIsAnErrorAndMergesNothing) {
  CartLimits limits;
  limits.lines_max = 3;
  Result<CartState> r =
      MergeGuestCart(guest_, user_, GuestMergeStrategy::kSum, limits, kMergeId, kT0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kLimitExceeded);
  EXPECT_EQ(r.status().message(),
            "guest merge (sum) would give the user cart 4 lines, above lines_max = 3 (user has "
            "3, guest adds 1 new)");
  r = MergeGuestCart(guest_, user_, GuestMergeStrategy::kKeepUser, limits, kMergeId, kT0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("lines_max = 3"), std::string::npos);
  // Exactly at the limit is fine.
  limits.lines_max = 4;
  EXPECT_TRUE(MergeGuestCart(guest_, user_, GuestMergeStrategy::kMax, limits, kMergeId, kT0).ok());
}

TEST_P(GuestMergeTest, MarkTheGuestCartMerged) {
  const CartState user = Merged(GuestMergeStrategy::kMax, user_);
  CartState guest = guest_;
  ASSERT_TRUE(guest.MarkMergedInto("user:42").ok());
  EXPECT_EQ(guest.merged_into(), "user:42");
  EXPECT_EQ(guest.Lines(kLimits), guest_.Lines(kLimits)) << "marked, not emptied";
  // A device that still holds the unmarked guest cart learns of the mark
  // when the siblings merge, and the guest cart decodes with it.
  const CartState merged = MergeOf({guest_, guest});
  EXPECT_EQ(merged.merged_into(), "user:42");
  Result<CartState> decoded = CartState::Decode(merged.Encode(), GetParam());
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->merged_into(), "user:42");
  EXPECT_EQ(Merged(GuestMergeStrategy::kMax, user), user) << "merging the marked guest again";
}

TEST_P(GuestMergeTest, EmptyGuestAndBadMergeId) {
  const CartState empty(GetParam());
  Result<std::vector<Mutation>> ms =
      GuestMergeMutations(empty, user_, GuestMergeStrategy::kSum, kLimits, kMergeId, kT0);
  ASSERT_TRUE(ms.ok());
  EXPECT_TRUE(ms->empty());
  ms = GuestMergeMutations(guest_, user_, GuestMergeStrategy::kSum, kLimits, 0, kT0);
  ASSERT_FALSE(ms.ok());
  EXPECT_EQ(ms.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(ms.status().message().find("merge id 0"), std::string::npos);
}

// The guest cart may use the other semantics (another namespace): only its
// lines matter.
TEST_P(GuestMergeTest, GuestOfTheOtherSemantics) {
  const CartSemantics other =
      GetParam() == CartSemantics::kOrSet ? CartSemantics::kUnionMax : CartSemantics::kOrSet;
  CartState guest(other);
  MustApply(guest, Mutation::Add(1, "apple", 3, kT0));
  Result<CartState> r =
      MergeGuestCart(guest, user_, GuestMergeStrategy::kSum, kLimits, kMergeId, kT0);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Quantity(*r, "apple"), 8u);
}

TEST(GuestMergeIdTest, DependsOnBothPartsAndIsStable) {
  EXPECT_EQ(GuestMergeMutationId(7, "apple"), GuestMergeMutationId(7, "apple"));
  EXPECT_NE(GuestMergeMutationId(7, "apple"), GuestMergeMutationId(8, "apple"));
  EXPECT_NE(GuestMergeMutationId(7, "apple"), GuestMergeMutationId(7, "apples"));
  EXPECT_NE(GuestMergeMutationId(7, "apple"), 0u);
  // Pinned: stored carts hold these ids, and two client releases merging
  // the same guest must derive the same ones (KeyHash is XXH3-64, stable by
  // contract).
  EXPECT_EQ(GuestMergeMutationId(7, "apple"), 5188068599904008591u);
}

TEST(GuestMergeLoginIdTest, OnePerLoginStableAndNeverZero) {
  const uint64_t id = GuestMergeId("guest", "g1", "carts", "u1");
  EXPECT_NE(id, 0u);
  EXPECT_EQ(GuestMergeId("guest", "g1", "carts", "u1"), id);  // every retry
  EXPECT_NE(GuestMergeId("guest", "g2", "carts", "u1"), id);
  EXPECT_NE(GuestMergeId("guest", "g1", "carts", "u2"), id);
  EXPECT_NE(GuestMergeId("guest", "g1", "carts-b", "u1"), id);
}

}  // namespace
}  // namespace trolley::cart_test
