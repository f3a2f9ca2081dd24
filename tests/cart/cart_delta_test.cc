// CartState::DeltaOf against Apply (cart_state.h, its contract 1-3): over
// random related OR-Set states and random mutations, joining the delta is
// applying the mutation, for the state it was computed on and for any state
// that has merged it, with the same errors; and its size does not grow with
// the cart.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "cart/cart_state.h"
#include "common/random.h"
#include "tests/cart/cart_test_util.h"
#include "tests/cart/random_history.h"
#include "tests/support/property_env.h"
#include "tests/support/seeded_cases.h"

namespace trolley {
namespace {

constexpr CartSemantics kOrSet = CartSemantics::kOrSet;

struct Counts {
  uint64_t applied = 0, retries = 0, refused = 0, with_lines = 0, removals = 0;
};

void CheckOneCase(Random& rng, Counts& counts) {
  cart_test::RandomHistory history;
  const std::vector<CartState> devices = cart_test::RandomDevices(rng, history);
  const CartState& s = devices[0];
  const CartState t = cart_test::Join(devices[0], devices[1]);  // has merged s
  const Mutation m = cart_test::RandomMutation(rng, devices, history);
  const CartLimits limits = cart_test::RandomLimits(rng);

  CartState applied = s;
  const Status st = applied.Apply(m, limits);
  const Result<CartState> delta = s.DeltaOf(m, limits);
  ASSERT_EQ(st.ok(), delta.ok()) << st.ToString() << " / " << delta.status().ToString();
  if (!st.ok()) {
    EXPECT_EQ(st, delta.status()) << st.ToString() << " / " << delta.status().ToString();
    ++counts.refused;
    return;
  }
  const CartState joined = cart_test::Join(s, *delta);
  ASSERT_EQ(joined, applied) << "state:\n"
                             << s.DebugString() << "delta:\n"
                             << delta->DebugString() << "applied:\n"
                             << applied.DebugString();
  EXPECT_EQ(joined.Encode(), applied.Encode());
  EXPECT_EQ(cart_test::Join(t, *delta), cart_test::Join(t, applied));

  // Its size is the mutation's: at most one contribution, m's id and what it names.
  size_t contributions = 0;
  for (const auto& [sku, line] : delta->lines()) contributions += line.size();
  EXPECT_LE(contributions, 1u);
  const size_t ids = delta->context().Ids().size();
  if (s.Applied(m.id)) {
    EXPECT_EQ(ids, 0u);
    ++counts.retries;
    return;
  }
  size_t named = 1 + (m.observed ? m.observed->size() : 0);
  if (!m.observed && m.kind == Mutation::Kind::kClear) named += cart_test::LiveTags(s).size();
  if (!m.observed && m.kind != Mutation::Kind::kClear) named += s.ObservedTags(&m.sku).size();
  EXPECT_LE(ids, named);
  ++counts.applied;
  if (contributions > 0) ++counts.with_lines;
  if (ids > 1) ++counts.removals;
}

TEST(CartDeltaTest, JoiningTheDeltaIsApplyingTheMutation) {
  Counts counts;
  test_support::RunSeededCases(test_support::PropertyBaseSeed(), test_support::PropertyCases(),
                               [&](Random& rng, uint64_t) { CheckOneCase(rng, counts); });
  if (HasFailure()) return;
  // Every kind of outcome occurred.
  EXPECT_GT(counts.applied, 0u);
  EXPECT_GT(counts.retries, 0u);
  EXPECT_GT(counts.refused, 0u);
  EXPECT_GT(counts.with_lines, 0u);
  EXPECT_GT(counts.removals, 0u);
  std::printf(
      "deltas: %llu applied (%llu with a contribution, %llu removing), %llu retries, "
      "%llu refused\n",
      static_cast<unsigned long long>(counts.applied),
      static_cast<unsigned long long>(counts.with_lines),
      static_cast<unsigned long long>(counts.removals),
      static_cast<unsigned long long>(counts.retries),
      static_cast<unsigned long long>(counts.refused));
}

TEST(CartDeltaTest, SizeDoesNotGrowWithTheCart) {
  std::vector<size_t> add_bytes, set_bytes, cart_bytes;
  for (const size_t lines : {1u, 150u}) {
    CartState cart(kOrSet);
    for (size_t i = 0; i < lines; ++i) {
      cart_test::MustApply(cart,
                           Mutation::Add(i + 1, "sku-" + std::to_string(i), 2, cart_test::kT0));
    }
    Result<CartState> add =
        cart.DeltaOf(Mutation::Add(1000, "sku-0", 1, cart_test::kT0), cart_test::kLimits);
    Mutation set = Mutation::SetQuantity(1001, "sku-0", 5, cart_test::kT0);
    set.observed = std::vector<uint64_t>{1};
    Result<CartState> set_delta = cart.DeltaOf(set, cart_test::kLimits);
    ASSERT_TRUE(add.ok() && set_delta.ok());
    EXPECT_EQ(set_delta->context().Ids(), (std::vector<uint64_t>{1, 1001}));
    add_bytes.push_back(add->Encode().size());
    set_bytes.push_back(set_delta->Encode().size());
    cart_bytes.push_back(cart.Encode().size());
  }
  EXPECT_EQ(add_bytes[0], add_bytes[1]);  // one contribution and one id, at any size
  EXPECT_EQ(set_bytes[0], set_bytes[1]);
  EXPECT_GT(cart_bytes[1], 20 * add_bytes[1]);
}

TEST(CartDeltaTest, UnionMaxHasNoDelta) {
  CartState cart(CartSemantics::kUnionMax);
  EXPECT_EQ(
      cart.DeltaOf(Mutation::Add(1, "a", 1, cart_test::kT0), cart_test::kLimits).status().code(),
      StatusCode::kFailedPrecondition);
}

TEST(CartDeltaTest, ARetryHasAnEmptyDelta) {
  CartState cart(kOrSet);
  cart_test::MustApply(cart, Mutation::Add(7, "a", 1, cart_test::kT0));
  Result<CartState> again =
      cart.DeltaOf(Mutation::Add(7, "a", 1, cart_test::kT0), cart_test::kLimits);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, CartState(kOrSet));
}

}  // namespace
}  // namespace trolley
