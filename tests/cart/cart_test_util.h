// Small helpers for the cart tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cart/cart_state.h"

namespace trolley::cart_test {

inline const CartLimits kLimits{};

// The wall-clock time (ms) of hand-written histories.
inline constexpr uint64_t kT0 = 1'700'000'000'000;

// The shown quantity of `sku`, 0 when absent.
inline uint32_t Quantity(const CartState& s, const std::string& sku,
                         const CartLimits& limits = kLimits) {
  for (const CartLine& line : s.Lines(limits)) {
    if (line.sku == sku) return line.quantity;
  }
  return 0;
}

// Applies `m`, which must succeed, and checks the invariants.
inline void MustApply(CartState& s, const Mutation& m, const CartLimits& limits = kLimits) {
  const Status st = s.Apply(m, limits);
  ASSERT_TRUE(st.ok()) << st.ToString();
  s.CheckInvariants();
}

inline CartState MergeOf(const std::vector<CartState>& siblings) {
  EXPECT_FALSE(siblings.empty());
  return CartState::Merge(siblings.front().semantics(), siblings);
}

inline std::string Name(CartSemantics s) { return std::string(CartSemanticsName(s)); }

// For INSTANTIATE_TEST_SUITE_P over both semantics.
inline std::string ParamName(const ::testing::TestParamInfo<CartSemantics>& param) {
  return param.param == CartSemantics::kOrSet ? "OrSet" : "UnionMax";
}

}  // namespace trolley::cart_test
