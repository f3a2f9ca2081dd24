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
#include "tests/support/property_env.h"
#include "tests/support/seeded_cases.h"

namespace trolley {
namespace {

using cart_test::kLimits;
using cart_test::kT0;
using cart_test::MustApply;

constexpr CartSemantics kOrSet = CartSemantics::kOrSet;

CartState Join(const CartState& a, const CartState& b) {
  const std::vector<CartState> both{a, b};
  return CartState::Merge(kOrSet, both);
}

std::vector<uint64_t> LiveTags(const CartState& s) { return s.ObservedTags(nullptr); }

// Tags a shopper's view could name: some of `s`'s, a few of other devices',
// ids never applied anywhere, and ids applied but removed since.
std::vector<uint64_t> SomeTags(Random& rng, const std::vector<CartState>& devices,
                               const std::vector<uint64_t>& issued) {
  std::vector<uint64_t> out;
  for (uint64_t n = rng.Uniform(5); n > 0; --n) {
    const uint64_t pick = rng.Uniform(3);
    if (pick == 0) {
      const std::vector<uint64_t> tags = LiveTags(devices[rng.Uniform(devices.size())]);
      if (!tags.empty()) out.push_back(tags[rng.Uniform(tags.size())]);
    } else if (pick == 1 && !issued.empty()) {
      out.push_back(issued[rng.Uniform(issued.size())]);
    } else {
      out.push_back(1'000'000 + rng.Uniform(1'000'000));
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// A random mutation over a few skus; ids fresh (usually) or a retry.
Mutation RandomMutation(Random& rng, const std::vector<CartState>& devices,
                        std::vector<uint64_t>& issued, uint64_t& next_id) {
  const uint64_t id =
      !issued.empty() && rng.Chance(0.1) ? issued[rng.Uniform(issued.size())] : next_id++;
  issued.push_back(id);
  const std::string sku = "sku-" + std::to_string(rng.Uniform(6));
  CartAttributes attributes;
  if (rng.Chance(0.2)) attributes["size"] = rng.Chance(0.5) ? "M" : "L";
  const uint64_t now = kT0 + rng.Uniform(1000);
  Mutation m;
  switch (rng.Uniform(8)) {
    case 0:
    case 1:
    case 2:
      return Mutation::Add(id, sku, 1 + static_cast<uint32_t>(rng.Uniform(4)), now, attributes);
    case 3:
    case 4:
      m = Mutation::SetQuantity(id, sku, static_cast<uint32_t>(rng.Uniform(6)), now, attributes);
      break;
    case 5:
    case 6:
      m = Mutation::Remove(id, sku, now);
      break;
    default:
      m = Mutation::Clear(id, now);
      break;
  }
  if (rng.Chance(0.7)) {
    m.observed = SomeTags(rng, devices, issued);
    std::erase(*m.observed, m.id);  // a mutation never observes itself
  }
  return m;
}

// Three devices apply random mutations (applying only what succeeds) and
// merge each other's states now and then.
std::vector<CartState> RandomDevices(Random& rng, std::vector<uint64_t>& issued,
                                     uint64_t& next_id) {
  std::vector<CartState> devices(3, CartState(kOrSet));
  for (uint64_t step = rng.Uniform(40); step > 0; --step) {
    CartState& s = devices[rng.Uniform(devices.size())];
    if (rng.Chance(0.2)) {
      s = CartState::Merge(kOrSet, devices);
      continue;
    }
    (void)s.Apply(RandomMutation(rng, devices, issued, next_id), kLimits);
  }
  return devices;
}

CartLimits RandomLimits(Random& rng) {
  if (rng.Chance(0.7)) return kLimits;
  CartLimits tight;  // to reach lines_max, the quantity cap and the size limit
  tight.lines_max = 1 + rng.Uniform(4);
  tight.quantity_max = 1 + static_cast<uint32_t>(rng.Uniform(6));
  tight.encoded_bytes_max = 200 + rng.Uniform(400);
  return tight;
}

struct Counts {
  uint64_t applied = 0, retries = 0, refused = 0, with_lines = 0, removals = 0;
};

void CheckOneCase(Random& rng, Counts& counts) {
  std::vector<uint64_t> issued;
  uint64_t next_id = 1;
  const std::vector<CartState> devices = RandomDevices(rng, issued, next_id);
  const CartState& s = devices[0];
  const CartState t = Join(devices[0], devices[1]);  // has merged s
  const Mutation m = RandomMutation(rng, devices, issued, next_id);
  const CartLimits limits = RandomLimits(rng);

  CartState applied = s;
  const Status st = applied.Apply(m, limits);
  const Result<CartState> delta = s.DeltaOf(m, limits);
  ASSERT_EQ(st.ok(), delta.ok()) << st.ToString() << " / " << delta.status().ToString();
  if (!st.ok()) {
    EXPECT_EQ(st, delta.status()) << st.ToString() << " / " << delta.status().ToString();
    ++counts.refused;
    return;
  }
  const CartState joined = Join(s, *delta);
  ASSERT_EQ(joined, applied) << "state:\n"
                             << s.DebugString() << "delta:\n"
                             << delta->DebugString() << "applied:\n"
                             << applied.DebugString();
  EXPECT_EQ(joined.Encode(), applied.Encode());
  EXPECT_EQ(Join(t, *delta), Join(t, applied));

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
  if (!m.observed && m.kind == Mutation::Kind::kClear) named += LiveTags(s).size();
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
      MustApply(cart, Mutation::Add(i + 1, "sku-" + std::to_string(i), 2, kT0));
    }
    Result<CartState> add = cart.DeltaOf(Mutation::Add(1000, "sku-0", 1, kT0), kLimits);
    Mutation set = Mutation::SetQuantity(1001, "sku-0", 5, kT0);
    set.observed = std::vector<uint64_t>{1};
    Result<CartState> set_delta = cart.DeltaOf(set, kLimits);
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
  EXPECT_EQ(cart.DeltaOf(Mutation::Add(1, "a", 1, kT0), kLimits).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST(CartDeltaTest, ARetryHasAnEmptyDelta) {
  CartState cart(kOrSet);
  MustApply(cart, Mutation::Add(7, "a", 1, kT0));
  Result<CartState> again = cart.DeltaOf(Mutation::Add(7, "a", 1, kT0), kLimits);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, CartState(kOrSet));
}

}  // namespace
}  // namespace trolley
