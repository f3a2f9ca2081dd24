// Goal: a CartUpdate becomes the computed write node/cart_update.h states:
// the transform merges every local sibling, applies the mutation with the
// namespace's semantics, and refuses what it must.
#include "node/cart_update.h"

#include <gtest/gtest.h>

#include <vector>

namespace trolley {
namespace {

constexpr uint64_t kNow = 1'700'000'000'000;

NamespaceOptions OrSet() { return NamespaceOptions{"carts", 3, 2, 2, 60'000, "or-set"}; }

// Two concurrent siblings, each one add.
SiblingSet TwoSiblings() {
  SiblingSet s;
  for (uint64_t id : {1u, 2u}) {
    CartState cart(CartSemantics::kOrSet);
    EXPECT_TRUE(cart.Apply(Mutation::Add(id, "apple", 1, kNow), CartLimits{}).ok());
    WriteIntent w;
    w.value = cart.Encode();
    s.ApplyWrite(std::move(w), /*actor=*/id, 0);
  }
  EXPECT_EQ(s.size(), 2u);
  return s;
}

CartState Decoded(const Result<std::string>& bytes) {
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  return CartState::Decode(bytes.value(), CartSemantics::kOrSet).value();
}

TEST(CartUpdateTest, AddMergesEverySiblingThenApplies) {
  const CartUpdate m{.id = RequestId{4},
                     .ns = "carts",
                     .cart_id = "c",
                     .sku = "apple",
                     .quantity = 2,
                     .now_ms = kNow,
                     .mutation_id = 3,
                     .ttl_ms = 5'000};
  Result<CoordinatedWrite> w = CartWriteOf(m, OrSet(), kNow);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->reply, CoordinatedWrite::Reply::kCartUpdate);
  EXPECT_EQ(w->client_id, RequestId{4});
  EXPECT_EQ(w->intent.expiry_ms, kNow + 5'000) << "the update's TTL before the namespace's";
  const CartState cart = Decoded(w->intent.transform(TwoSiblings()));
  EXPECT_EQ(cart.ObservedTags(nullptr), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(cart.Lines(CartLimits{})[0].quantity, 4u);
}

TEST(CartUpdateTest, RemovalActsOnTheObservedTagsOnly) {
  const CartUpdate m{.id = RequestId{4},
                     .ns = "carts",
                     .cart_id = "c",
                     .kind = CartMutationKind::kRemove,
                     .sku = "apple",
                     .now_ms = kNow,
                     .mutation_id = 5,
                     .observed = {1, 7}};
  EXPECT_EQ(CartMutationOf(m, CartSemantics::kOrSet).observed, (std::vector<uint64_t>{1, 7}));
  Result<CoordinatedWrite> w = CartWriteOf(m, OrSet(), kNow);
  ASSERT_TRUE(w.ok());
  const CartState cart = Decoded(w->intent.transform(TwoSiblings()));
  EXPECT_EQ(cart.ObservedTags(nullptr), (std::vector<uint64_t>{2})) << "2 was not seen";
  EXPECT_TRUE(cart.context().Covers(1));
  EXPECT_TRUE(cart.context().Covers(7)) << "7 is in the context before its add arrives";
  EXPECT_FALSE(cart.HasLiveTag(7));
}

// A coordinator whose copy missed an add the shopper saw still removes it
// (its id joins the context, so the add is dropped when it arrives), and an
// add the shopper did not see survives the merge.
TEST(CartUpdateTest, StaleCoordinatorRemoveRemovesWhatTheShopperSawOnly) {
  CartSession phone(0x70), laptop(0x1a);
  const uint64_t seen_1 = phone.Next(), seen_2 = phone.Next(), unseen = laptop.Next();
  CartState stale(CartSemantics::kOrSet);  // the coordinator's copy: the first add only
  ASSERT_TRUE(stale.Apply(Mutation::Add(seen_1, "apple", 1, kNow), CartLimits{}).ok());
  CartState full = stale;  // another replica: both adds the shopper saw, then a concurrent one
  ASSERT_TRUE(full.Apply(Mutation::Add(seen_2, "apple", 2, kNow), CartLimits{}).ok());
  const std::vector<uint64_t> view = full.ObservedTags(nullptr);  // the shopper's token
  ASSERT_TRUE(full.Apply(Mutation::Add(unseen, "apple", 5, kNow + 1), CartLimits{}).ok());

  const CartUpdate m{.id = RequestId{4},
                     .ns = "carts",
                     .cart_id = "c",
                     .kind = CartMutationKind::kRemove,
                     .sku = "apple",
                     .now_ms = kNow + 2,
                     .mutation_id = phone.Next(),
                     .observed = view};
  Result<CoordinatedWrite> w = CartWriteOf(m, OrSet(), kNow);
  ASSERT_TRUE(w.ok());
  SiblingSet coordinator;
  WriteIntent stored;
  stored.value = stale.Encode();
  coordinator.ApplyWrite(std::move(stored), 1, 0);
  const CartState after = Decoded(w->intent.transform(coordinator));
  EXPECT_TRUE(after.lines().empty());
  const CartState merged = CartState::Merge(CartSemantics::kOrSet, std::vector{after, full});
  EXPECT_EQ(merged.ObservedTags(nullptr), (std::vector<uint64_t>{unseen}))
      << "the seen adds stay removed, the unseen one survives\n"
      << merged.DebugString();
  EXPECT_EQ(merged.Lines(CartLimits{})[0].quantity, 5u);
  // The phone's session ids are contiguous: one context entry for them.
  EXPECT_EQ(merged.context().sessions().at(0x70), 3u);
}

TEST(CartUpdateTest, RefusesWhatANamespaceCannotDo) {
  CartUpdate m{.ns = "carts", .cart_id = "c", .kind = CartMutationKind::kClear, .mutation_id = 5};
  NamespaceOptions union_max = OrSet();
  union_max.merge = "union-max";
  EXPECT_EQ(CartWriteOf(m, union_max, kNow).status().code(), StatusCode::kFailedPrecondition);
  NamespaceOptions raw = OrSet();
  raw.merge = "siblings";
  const Status s = CartWriteOf(m, raw, kNow).status();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("holds no carts"), std::string::npos) << s.message();
  // A value that is not a cart is refused by the transform, not overwritten.
  m.kind = CartMutationKind::kAdd;
  m.sku = "apple";
  m.quantity = 1;
  Result<CoordinatedWrite> w = CartWriteOf(m, OrSet(), kNow);
  ASSERT_TRUE(w.ok());
  SiblingSet raw_value;
  WriteIntent bytes;
  bytes.value = "not a cart";
  raw_value.ApplyWrite(std::move(bytes), 1, 0);
  const Result<std::string> r = w->intent.transform(raw_value);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("carts/c does not hold a or-set cart"), std::string::npos)
      << r.status().message();
}

}  // namespace
}  // namespace trolley
