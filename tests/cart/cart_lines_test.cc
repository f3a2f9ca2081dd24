// cart_lines.h against CartState: splitting and assembling round-trips
// with the same encoded size, and joining a DeltaOf into a cart held as a
// head and lines, reading only the lines the delta names, gives
// CartState::Merge of the whole cart and the delta, at the coordinator and
// at any replica that has merged the coordinator's copy.
#include "cart/cart_lines.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
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

// The skus a delta of `m` must be joined with besides its own lines: the
// mutation's line, or every line for a clear.
std::vector<std::string> ScopeOf(const Mutation& m, const CartState& cart) {
  if (m.kind != Mutation::Kind::kClear) return {m.sku};
  std::vector<std::string> all;
  for (const auto& [sku, line] : cart.lines()) all.push_back(sku);
  return all;
}

struct JoinResult {
  CartState cart{CartSemantics::kOrSet};
  std::set<std::string> read;  // the lines the join asked for
  size_t written = 0;
};

// Joins `delta` into `cart` held as a head and lines, as an engine would.
JoinResult JoinAsLines(const CartState& cart, const CartState& delta,
                       const std::vector<std::string>& scope) {
  CartSplit split = SplitCart(cart);
  JoinResult out;
  const std::vector<CartLineWrite> writes = JoinDeltaIntoLines(
      split.head, delta, scope, [&](const std::string& sku) -> std::optional<CartContributions> {
        out.read.insert(sku);
        auto it = split.lines.find(sku);
        if (it == split.lines.end()) return std::nullopt;
        return it->second;
      });
  for (const CartLineWrite& w : writes) {
    EXPECT_TRUE(out.read.contains(w.sku)) << "wrote a line it did not read: " << w.sku;
    if (w.line) {
      split.lines[w.sku] = *w.line;
    } else {
      EXPECT_EQ(split.lines.erase(w.sku), 1u) << "deleted a line that was not there";
    }
  }
  out.written = writes.size();
  out.cart = AssembleCart(split);
  return out;
}

TEST(CartLinesTest, SplitAndAssembleRoundTripWithTheEncodedSize) {
  test_support::RunSeededCases(test_support::PropertyBaseSeed(), 2000, [&](Random& rng, uint64_t) {
    cart_test::RandomHistory history;
    std::vector<CartState> devices = cart_test::RandomDevices(rng, history);
    if (rng.Chance(0.2)) {
      ASSERT_TRUE(devices[0].MarkMergedInto("carts/user").ok());
    }
    for (const CartState& s : devices) {
      const CartSplit split = SplitCart(s);
      EXPECT_EQ(split.lines.size(), s.lines().size());
      EXPECT_EQ(EncodedBytes(split.head), s.EncodedBytes());
      EXPECT_EQ(AssembleCart(split), s);
    }
  });
}

TEST(CartLinesTest, JoiningADeltaLineByLineIsMergingTheWholeCart) {
  uint64_t cases = 0, lines_read = 0, cart_lines = 0, writes = 0;
  test_support::RunSeededCases(
      test_support::PropertyBaseSeed(), test_support::PropertyCases(), [&](Random& rng, uint64_t) {
        cart_test::RandomHistory history;
        history.observed_of_own_line = true;  // a view token's tags are its lines'
        const std::vector<CartState> devices = cart_test::RandomDevices(rng, history);
        const CartState& s = devices[0];                              // the coordinator's copy
        const CartState t = cart_test::Join(devices[1], devices[0]);  // a replica that merged it
        const CartState other = devices[2];                           // one that did not
        const Mutation m = cart_test::RandomMutation(rng, devices, history);
        const Result<CartState> delta = s.DeltaOf(m, cart_test::RandomLimits(rng));
        if (!delta.ok()) return;
        const std::vector<std::string> scope = ScopeOf(m, s);
        for (const CartState* at : {&s, &t, &other}) {
          // A replica scopes a clear by its own lines (it scans them).
          const JoinResult joined = JoinAsLines(*at, *delta, at == &s ? scope : ScopeOf(m, *at));
          ASSERT_EQ(joined.cart, cart_test::Join(*at, *delta)) << "at:\n"
                                                               << at->DebugString() << "delta:\n"
                                                               << delta->DebugString();
          if (m.kind != Mutation::Kind::kClear) {
            EXPECT_LE(joined.read.size(), 1u);
          }
          lines_read += joined.read.size();
          cart_lines += at->lines().size();
          writes += joined.written;
        }
        ++cases;
      });
  if (HasFailure()) return;
  EXPECT_GT(cases, 0u);
  EXPECT_GT(writes, 0u);
  std::printf("line joins: %llu cases; %llu lines read and %llu written of %llu held\n",
              static_cast<unsigned long long>(cases), static_cast<unsigned long long>(lines_read),
              static_cast<unsigned long long>(writes), static_cast<unsigned long long>(cart_lines));
}

TEST(CartLinesTest, DeltaOfLinesIsDeltaOfTheAssembledCart) {
  uint64_t cases = 0, ok = 0, full_scans = 0;
  test_support::RunSeededCases(
      test_support::PropertyBaseSeed(), test_support::PropertyCases(), [&](Random& rng, uint64_t) {
        cart_test::RandomHistory history;
        const std::vector<CartState> devices = cart_test::RandomDevices(rng, history);
        const CartState& s = devices[rng.Uniform(devices.size())];
        const Mutation m = cart_test::RandomMutation(rng, devices, history);
        const CartLimits limits = cart_test::RandomLimits(rng);
        const CartSplit split = SplitCart(s);
        std::set<std::string> read;
        bool scanned = false;
        const Result<CartState> lines_delta = DeltaOfLines(
            split.head, m, limits,
            [&](const std::string& sku) -> std::optional<CartContributions> {
              read.insert(sku);
              auto it = split.lines.find(sku);
              if (it == split.lines.end()) return std::nullopt;
              return it->second;
            },
            [&] {
              scanned = true;
              std::vector<std::string> out;
              for (const auto& [sku, line] : split.lines) out.push_back(sku);
              return out;
            },
            [&](uint64_t tag, const std::string& sku) {
              for (const auto& [line_sku, line] : split.lines) {
                if (line_sku != sku && line.contains(tag)) return true;
              }
              return false;
            });
        const Result<CartState> delta = s.DeltaOf(m, limits);
        ASSERT_EQ(lines_delta.ok(), delta.ok()) << delta.status().ToString();
        if (!delta.ok()) {
          EXPECT_EQ(lines_delta.status(), delta.status())
              << lines_delta.status().ToString() << " / " << delta.status().ToString();
        } else {
          EXPECT_EQ(*lines_delta, *delta);
          ++ok;
        }
        // Far from the size limit, an add, set or remove reads its line only.
        const bool near_limit = s.EncodedBytes() + 4096 > limits.encoded_bytes_max;
        if (m.kind != Mutation::Kind::kClear && !near_limit) {
          EXPECT_FALSE(scanned);
          EXPECT_LE(read.size(), 1u);
        }
        full_scans += scanned ? 1 : 0;
        ++cases;
      });
  if (HasFailure()) return;
  EXPECT_GT(ok, 0u);
  EXPECT_GT(full_scans, 0u);  // clears
  EXPECT_LT(full_scans, cases / 2);
}

TEST(CartLinesTest, AnAddToALargeCartReadsAndWritesOneLine) {
  CartState cart(CartSemantics::kOrSet);
  for (uint64_t i = 1; i <= 150; ++i) {
    cart_test::MustApply(cart, Mutation::Add(i, "sku-" + std::to_string(i), 1, cart_test::kT0));
  }
  const Mutation add = Mutation::Add(500, "sku-7", 2, cart_test::kT0);
  const Result<CartState> delta = cart.DeltaOf(add, cart_test::kLimits);
  ASSERT_TRUE(delta.ok());
  const JoinResult joined = JoinAsLines(cart, *delta, {add.sku});
  EXPECT_EQ(joined.read, (std::set<std::string>{"sku-7"}));
  EXPECT_EQ(joined.written, 1u);
  CartState applied = cart;
  cart_test::MustApply(applied, add);
  EXPECT_EQ(joined.cart, applied);
}

}  // namespace
}  // namespace trolley
