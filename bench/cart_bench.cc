// cart_bench: what an add costs the coordinator's cart code at a cart's
// size, today's whole-cart path against the delta path of docs/design.md,
// 'Size-independent writes', in one binary so that figures are ratios
// from one run.
//
//   ./build/bench/cart_bench --benchmark_min_time=1
//
// WholeCart/L: the node's computed write for an add to an L-line OR-Set
// cart (node/cart_update.cc): decode the stored value, apply, encode.
// DeltaLines/L: the same add as steps 1-2 do it on the cart held as a
// head and lines: DeltaOfLines, then JoinDeltaIntoLines, reading and
// writing its one line. The in-memory CPU only: neither counts the
// records' codecs of step 3, the storage or the network.
#include <benchmark/benchmark.h>

#include <optional>
#include <string>
#include <vector>

#include "cart/cart_lines.h"
#include "cart/cart_state.h"
#include "common/assert.h"

namespace trolley {
namespace {

constexpr uint64_t kT0 = 1'700'000'000'000;
const CartLimits kLimits{};

CartState CartOfLines(int64_t lines) {
  CartState cart(CartSemantics::kOrSet);
  for (int64_t i = 0; i < lines; ++i) {
    const Status s = cart.Apply(
        Mutation::Add(static_cast<uint64_t>(i) + 1, "sku-" + std::to_string(100000 + i), 1, kT0),
        kLimits);
    TROLLEY_ASSERT(s.ok());
  }
  return cart;
}

// Adds of a fresh id to the cart's first line (kept under quantity_max).
Mutation AddOf(uint64_t n) { return Mutation::Add(1'000'000 + n, "sku-100000", 1, kT0 + n); }

void WholeCart(benchmark::State& state) {
  const std::string stored = CartOfLines(state.range(0)).Encode();
  uint64_t n = 0;
  for (auto _ : state) {
    Result<CartState> cart = CartState::Decode(stored, CartSemantics::kOrSet);
    TROLLEY_ASSERT(cart.ok());
    TROLLEY_ASSERT(cart->Apply(AddOf(n++ % 500), kLimits).ok());
    std::string out = cart->Encode();
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}

void DeltaLines(benchmark::State& state) {
  const CartSplit split = SplitCart(CartOfLines(state.range(0)));
  const CartLineReader read = [&](const std::string& s) -> std::optional<CartContributions> {
    auto it = split.lines.find(s);
    if (it == split.lines.end()) return std::nullopt;
    return it->second;
  };
  const auto no_scan = []() -> std::vector<std::string> {
    TROLLEY_ASSERT_MSG(false, "an add far from the size limit reads its line only");
    return {};
  };
  const auto live_outside = [](uint64_t, const std::string&) { return false; };
  const std::string sku = "sku-100000";
  uint64_t n = 0;
  for (auto _ : state) {
    Result<CartState> delta =
        DeltaOfLines(split.head, AddOf(n++ % 500), kLimits, read, no_scan, live_outside);
    TROLLEY_ASSERT(delta.ok());
    CartHead head = split.head;
    std::vector<CartLineWrite> writes =
        JoinDeltaIntoLines(head, *delta, std::span<const std::string>(&sku, 1), read);
    benchmark::DoNotOptimize(writes);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(WholeCart)->Arg(1)->Arg(10)->Arg(100)->Arg(200);
BENCHMARK(DeltaLines)->Arg(1)->Arg(10)->Arg(100)->Arg(200);

}  // namespace
}  // namespace trolley

BENCHMARK_MAIN();
