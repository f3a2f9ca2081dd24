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

}  // namespace
}  // namespace trolley
