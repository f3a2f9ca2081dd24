// wire/cart_mutation.h: a cart mutation survives the trip to a CartUpdate
// and back, and only OR-Set removals carry observed tags.
#include "wire/cart_mutation.h"

#include <gtest/gtest.h>

#include <vector>

namespace trolley {
namespace {

Mutation Remove() {
  Mutation m;
  m.id = 9;
  m.kind = Mutation::Kind::kRemove;
  m.sku = "apple";
  m.now_ms = 1'700'000'000'000;
  m.observed = std::vector<uint64_t>{3, 5};
  return m;
}

TEST(CartMutationTest, RoundTripsEveryField) {
  Mutation add;
  add.id = 7;
  add.kind = Mutation::Kind::kAdd;
  add.sku = "pear";
  add.quantity = 4;
  add.attributes = {{"size", "M"}};
  add.now_ms = 1'700'000'000'123;
  const CartUpdate u = CartUpdateOf("carts", "alice", add);
  EXPECT_EQ(u.ns, "carts");
  EXPECT_EQ(u.cart_id, "alice");
  EXPECT_EQ(u.kind, CartMutationKind::kAdd);
  EXPECT_TRUE(u.observed.empty());
  const Mutation back = CartMutationOf(u, CartSemantics::kOrSet);
  EXPECT_EQ(back.id, 7u);
  EXPECT_EQ(back.kind, Mutation::Kind::kAdd);
  EXPECT_EQ(back.sku, "pear");
  EXPECT_EQ(back.quantity, 4u);
  EXPECT_EQ(back.attributes, add.attributes);
  EXPECT_EQ(back.now_ms, add.now_ms);
  EXPECT_FALSE(back.observed.has_value()) << "an add removes nothing";
}

TEST(CartMutationTest, OnlyOrSetRemovalsCarryObservedTags) {
  const CartUpdate u = CartUpdateOf("carts", "alice", Remove());
  EXPECT_EQ(u.observed, (std::vector<uint64_t>{3, 5}));
  EXPECT_EQ(CartMutationOf(u, CartSemantics::kOrSet).observed, (std::vector<uint64_t>{3, 5}));
  EXPECT_FALSE(CartMutationOf(u, CartSemantics::kUnionMax).observed.has_value());
  CartUpdate none = u;
  none.observed.clear();
  const Mutation m = CartMutationOf(none, CartSemantics::kOrSet);
  ASSERT_TRUE(m.observed.has_value()) << "an empty list removes nothing; it is not 'all'";
  EXPECT_TRUE(m.observed->empty());
}

// A guest merge's updates: the guest's lines (not its context or mark) and
// the strategy under the merge id; the mark names the user cart.
TEST(CartMutationTest, GuestMergeUpdatesCarryTheGuestLinesAndTheMark) {
  CartState guest(CartSemantics::kOrSet);
  ASSERT_TRUE(guest.Apply(Mutation::Add(3, "apple", 2, 1), CartLimits{}).ok());
  ASSERT_TRUE(guest.Apply(Mutation::Remove(4, "apple", 2), CartLimits{}).ok());
  ASSERT_TRUE(guest.Apply(Mutation::Add(5, "pear", 1, 3), CartLimits{}).ok());
  ASSERT_TRUE(guest.MarkMergedInto("carts/old").ok());
  const CartUpdate merge =
      GuestMergeUpdateOf("carts", "u", guest, GuestMergeStrategy::kMax, 0x5eed, 9);
  EXPECT_EQ(merge.kind, CartMutationKind::kMergeGuest);
  EXPECT_EQ(merge.cart_id, "u");
  EXPECT_EQ(merge.mutation_id, 0x5eedu);
  EXPECT_EQ(merge.now_ms, 9u);
  EXPECT_EQ(GuestMergeStrategyOf(merge.strategy), GuestMergeStrategy::kMax);
  const CartState sent = CartState::Decode(merge.guest, CartSemantics::kOrSet).value();
  EXPECT_EQ(sent.Lines(CartLimits{}), guest.Lines(CartLimits{}));
  EXPECT_FALSE(sent.merged_into().has_value());
  EXPECT_FALSE(sent.Applied(4)) << "only the lines' tags travel";

  const CartUpdate mark = MarkMergedUpdateOf("guest", "g", "carts/u", 0x5eed, 9);
  EXPECT_EQ(mark.kind, CartMutationKind::kMarkMerged);
  EXPECT_EQ(mark.ns, "guest");
  EXPECT_EQ(mark.merged_into, "carts/u");
  EXPECT_TRUE(mark.guest.empty());
}

// A checkout's id names (namespace, cart, order) and nothing else: a retry
// of the same order, from any client, is the same mutation; another order,
// cart or namespace is another. Odd like every mutation id.
TEST(CartMutationTest, CheckoutIdsNameTheCartAndTheOrder) {
  const uint64_t id = CheckoutMutationId("carts", "u1", "order-7");
  EXPECT_EQ(id, CheckoutMutationId("carts", "u1", "order-7"));
  EXPECT_EQ(id & 1, 1u);
  EXPECT_NE(id, CheckoutMutationId("carts", "u1", "order-8"));
  EXPECT_NE(id, CheckoutMutationId("carts", "u2", "order-7"));
  EXPECT_NE(id, CheckoutMutationId("other", "u1", "order-7"));
  // "carts/u1" + "x/o" must not meet "carts/u1x" + "o".
  EXPECT_NE(CheckoutMutationId("carts", "u1", "x/o"), CheckoutMutationId("carts", "u1x", "o"));
}

}  // namespace
}  // namespace trolley
