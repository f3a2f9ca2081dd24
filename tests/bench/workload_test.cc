// Goal: the flash-sale workload picks operations in the configured mix,
// spreads shoppers over threads as documented, and its ledger demands
// exactly what acknowledged operations guarantee: every acked add, unless
// a set/remove of that line, or a checkout of its cart, was issued after it. Method: table-style
// ledger scenarios, each with the read-back that must pass and one that
// must fail; seeded loops for the mix.
#include "bench/workload.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace trolley::bench {
namespace {

void Do(Ledger& ledger, const CartOp& op, bool acked) {
  ledger.OnStart(op);
  ledger.OnDone(op, acked);
}
size_t Shortfalls(const Ledger& ledger, uint64_t cart, std::map<std::string, uint32_t> lines,
                  uint32_t quantity_max = 999) {
  std::vector<LineShortfall> out;
  ledger.Check(cart, lines, quantity_max, out);
  return out.size();
}

TEST(OpMixTest, Parse) {
  auto mix = OpMix::Parse("add=50,get=40,set_remove=10");
  ASSERT_TRUE(mix.ok());
  EXPECT_EQ(mix->add, 50);
  EXPECT_EQ(mix->get, 40);
  EXPECT_EQ(mix->set_remove, 10);
  auto reads = OpMix::Parse("get=1");
  ASSERT_TRUE(reads.ok());
  EXPECT_EQ(reads->add, 0);
  EXPECT_EQ(reads->get, 1);
  EXPECT_FALSE(OpMix::Parse("add=x").ok());
  EXPECT_FALSE(OpMix::Parse("add=-1").ok());
  EXPECT_FALSE(OpMix::Parse("buy=10").ok());
  EXPECT_FALSE(OpMix::Parse("add").ok());
  EXPECT_FALSE(OpMix::Parse("add=0,get=0").ok());
  EXPECT_EQ(OpMix::Parse(OpMix::FlashSale().ToString())->add, 60);
  EXPECT_EQ(OpMix::Parse(OpMix::FlashSale().ToString())->checkout, 2.5);
  EXPECT_EQ(OpMix::Parse("get=1,checkout=1")->checkout, 1);
  EXPECT_FALSE(OpMix::Parse("checkout=1").ok());  // nothing to check out after
  EXPECT_EQ(OpMix::Parse("add=1")->checkout, 0);  // missing kinds are 0: no checkout
}

TEST(WorkloadTest, MixIsFollowed) {
  WorkloadOptions options;
  options.mix = OpMix::FlashSale();
  options.carts = 50;  // each shopper checks out many times
  Workload workload(options, 1);
  Ledger ledger;
  std::map<CartOp::Type, int> counts;
  const int n = 100'000;
  for (int i = 0; i < n; ++i) {
    const CartOp op = workload.Next(workload.PickCart(1, 0), ledger);
    ++counts[op.type];
    if (op.type == CartOp::Type::kAdd) {
      EXPECT_EQ(op.quantity, 1u);
      EXPECT_EQ(op.sku.rfind("sku-", 0), 0u);
    }
    if (op.type == CartOp::Type::kSetQuantity) {
      EXPECT_GE(op.quantity, 1u);
      EXPECT_LE(op.quantity, options.set_quantity_max);
    }
  }
  // Checkouts take the place of one modification in 29 (M = 70 / 2.5 = 28
  // modifications, then the checkout).
  EXPECT_NEAR(counts[CartOp::Type::kGet] / double{n}, 0.30, 0.01);
  EXPECT_NEAR(counts[CartOp::Type::kAdd] / double{n}, 0.60 * 28 / 29, 0.01);
  EXPECT_NEAR((counts[CartOp::Type::kSetQuantity] + counts[CartOp::Type::kRemove]) / double{n},
              0.10 * 28 / 29, 0.01);
  EXPECT_NEAR(counts[CartOp::Type::kSetQuantity] / double{n}, 0.05 * 28 / 29, 0.005);
  // About 3,000 checkouts per 85,000 modifications (adds, sets, removes).
  const double modifications = counts[CartOp::Type::kAdd] + counts[CartOp::Type::kSetQuantity] +
                               counts[CartOp::Type::kRemove];
  EXPECT_NEAR(counts[CartOp::Type::kCheckout] / modifications, 3000.0 / 85000, 0.003);
}

TEST(WorkloadTest, CheckoutsRunAtTheirShareFromTheStart) {
  // 10 operations per shopper on average: far fewer than the 28
  // modifications between two checkouts, yet checkouts keep their share.
  WorkloadOptions options;
  options.mix = OpMix::FlashSale();
  Workload workload(options, 7);
  Ledger ledger;
  double modifications = 0, checkouts = 0;
  for (int i = 0; i < 100'000; ++i) {
    const CartOp op = workload.Next(workload.PickCart(1, 0), ledger);
    checkouts += op.type == CartOp::Type::kCheckout;
    modifications += op.type != CartOp::Type::kCheckout && op.type != CartOp::Type::kGet;
  }
  EXPECT_NEAR(checkouts / modifications, 3000.0 / 85000, 0.006);
}

TEST(WorkloadTest, NoCheckoutsWithoutAShare) {
  WorkloadOptions options;
  options.mix = OpMix{100, 0, 0, 0};
  options.carts = 1;
  Workload workload(options, 6);
  Ledger ledger;
  for (int i = 0; i < 10'000; ++i) EXPECT_EQ(workload.Next(0, ledger).type, CartOp::Type::kAdd);
}

TEST(WorkloadTest, BrowseIsReadHeavyAndHotProductsDominate) {
  WorkloadOptions options;
  options.mix = OpMix::Browse();
  options.products = 1000;
  Workload workload(options, 2);
  Ledger ledger;
  int gets = 0, adds = 0, hottest = 0;
  for (int i = 0; i < 50'000; ++i) {
    const CartOp op = workload.Next(7, ledger);
    gets += op.type == CartOp::Type::kGet;
    if (op.type == CartOp::Type::kAdd) {
      ++adds;
      hottest += op.sku == "sku-1";
    }
  }
  EXPECT_NEAR(gets / 50'000.0, 0.90, 0.01);
  // P(rank 1) for n = 1000, s = 0.99 is about 0.129.
  EXPECT_NEAR(hottest / static_cast<double>(adds), 0.129, 0.015);
}

TEST(WorkloadTest, SetAndRemoveTargetTheShoppersLines) {
  WorkloadOptions options;
  options.mix = OpMix{0, 0, 1, 0};
  Workload workload(options, 3);
  Ledger ledger;
  Do(ledger, CartOp::Add(5, "sku-77"), true);
  Do(ledger, CartOp::Add(5, "sku-3"), true);
  for (int i = 0; i < 200; ++i) {
    const CartOp op = workload.Next(5, ledger);
    EXPECT_TRUE(op.sku == "sku-77" || op.sku == "sku-3") << op.sku;
    EXPECT_TRUE(op.type == CartOp::Type::kSetQuantity || op.type == CartOp::Type::kRemove);
  }
}

TEST(WorkloadTest, SetsAndRemovesSkipLinesBoughtOrRemoved) {
  WorkloadOptions options;
  options.mix = OpMix{0, 0, 1, 0};
  Workload workload(options, 3);
  Ledger ledger;
  Do(ledger, CartOp::Add(5, "sku-77"), true);
  Do(ledger, CartOp::Add(5, "sku-3"), true);
  Do(ledger, CartOp::Checkout(5), true);  // bought both
  Do(ledger, CartOp::Add(5, "sku-12"), true);
  Do(ledger, CartOp::Add(5, "sku-40"), true);
  Do(ledger, CartOp::Remove(5, "sku-40"), true);
  EXPECT_EQ(ledger.LinesOf(5).size(), 1u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(workload.Next(5, ledger).sku, "sku-12");
  EXPECT_EQ(ledger.Carts(), (std::vector<uint64_t>{5}));
}

TEST(WorkloadTest, ThreadsSplitTheShoppers) {
  WorkloadOptions options;
  options.carts = 10;
  Workload workload(options, 4);
  std::set<uint64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    const uint64_t cart = workload.PickCart(3, 1);
    EXPECT_EQ(cart % 3, 1u);
    EXPECT_LT(cart, 10u);
    seen.insert(cart);
  }
  EXPECT_EQ(seen, (std::set<uint64_t>{1, 4, 7}));
}

TEST(LedgerTest, AckedAddsMustAllBeThere) {
  Ledger ledger;
  Do(ledger, CartOp::Add(1, "a"), true);
  Do(ledger, CartOp::Add(1, "a", 2), true);
  Do(ledger, CartOp::Add(1, "a"), false);  // failed: may or may not be there
  Do(ledger, CartOp::Add(1, "b"), true);
  EXPECT_EQ(ledger.LinesOf(1).at("a").Bound(999), 3u);
  EXPECT_EQ(Shortfalls(ledger, 1, {{"a", 3}, {"b", 1}}), 0u);
  EXPECT_EQ(Shortfalls(ledger, 1, {{"a", 4}, {"b", 1}}), 0u);  // the failed add landed
  EXPECT_EQ(Shortfalls(ledger, 1, {{"a", 2}, {"b", 1}}), 1u);  // one acked unit lost
  EXPECT_EQ(Shortfalls(ledger, 1, {{"a", 3}}), 1u);            // a whole line lost
  EXPECT_EQ(ledger.acked_add_ops(), 3u);
}

TEST(LedgerTest, AnIssuedRemoveReleasesWhatCameBefore) {
  Ledger ledger;
  Do(ledger, CartOp::Add(1, "a"), true);
  Do(ledger, CartOp::Remove(1, "a"), false);  // may have landed: "a" may be gone
  EXPECT_EQ(Shortfalls(ledger, 1, {}), 0u);
  Do(ledger, CartOp::Add(1, "a"), true);  // issued after the remove: must survive it
  EXPECT_EQ(Shortfalls(ledger, 1, {}), 1u);
  EXPECT_EQ(Shortfalls(ledger, 1, {{"a", 1}}), 0u);
}

TEST(LedgerTest, AnAckedSetIsTheNewBase) {
  Ledger ledger;
  Do(ledger, CartOp::Add(2, "a", 4), true);
  Do(ledger, CartOp::SetQuantity(2, "a", 2), true);
  Do(ledger, CartOp::Add(2, "a"), true);
  EXPECT_EQ(ledger.LinesOf(2).at("a").Bound(999), 3u);
  EXPECT_EQ(Shortfalls(ledger, 2, {{"a", 3}}), 0u);
  EXPECT_EQ(Shortfalls(ledger, 2, {{"a", 2}}), 1u);
  // A failed set: the line may hold anything from 0 up; only later acks count.
  Do(ledger, CartOp::SetQuantity(2, "a", 5), false);
  EXPECT_EQ(Shortfalls(ledger, 2, {}), 0u);
}

TEST(LedgerTest, AnIssuedCheckoutReleasesEveryLineBeforeIt) {
  Ledger ledger;
  Do(ledger, CartOp::Add(6, "a"), true);
  Do(ledger, CartOp::Add(6, "b", 3), true);
  Do(ledger, CartOp::Add(7, "a"), true);   // another shopper's cart: untouched
  Do(ledger, CartOp::Checkout(6), false);  // may have landed: both lines may be gone
  EXPECT_EQ(Shortfalls(ledger, 6, {}), 0u);
  EXPECT_EQ(Shortfalls(ledger, 7, {}), 1u);
  Do(ledger, CartOp::Add(6, "b"), true);  // issued after the checkout: must survive it
  EXPECT_EQ(Shortfalls(ledger, 6, {}), 1u);
  EXPECT_EQ(Shortfalls(ledger, 6, {{"b", 1}}), 0u);
  EXPECT_EQ(ledger.LinesOf(6).at("b").acked_add_ops, 1u);  // the one since the checkout
  EXPECT_EQ(ledger.acked_add_ops(), 4u);
}

TEST(WorkloadTest, CheckoutsKeepCartsNearTenLines) {
  // Simulates a store that applies every operation: with the flash-sale
  // mix, a cart averages about ten lines (the design documents' cart)
  // instead of growing for the whole run.
  WorkloadOptions options;
  options.mix = OpMix::FlashSale();
  options.carts = 100;
  Workload workload(options, 5);
  Ledger ledger;
  std::map<uint64_t, std::set<std::string>> carts;
  double lines_sum = 0;
  const int n = 200'000;
  for (int i = 0; i < n; ++i) {
    const CartOp op = workload.Next(workload.PickCart(1, 0), ledger);
    Do(ledger, op, true);
    std::set<std::string>& lines = carts[op.cart];
    if (op.type == CartOp::Type::kAdd || op.type == CartOp::Type::kSetQuantity)
      lines.insert(op.sku);
    if (op.type == CartOp::Type::kRemove) lines.erase(op.sku);
    if (op.type == CartOp::Type::kCheckout) lines.clear();
    lines_sum += static_cast<double>(lines.size());
  }
  EXPECT_GT(lines_sum / n, 7);
  EXPECT_LT(lines_sum / n, 13);
}

// A store that applies the cart-size workload's operations: sku -> quantity per cart.
using CartModel = std::map<uint64_t, std::map<std::string, uint32_t>>;
void Apply(CartModel& carts, const CartOp& op) {
  std::map<std::string, uint32_t>& lines = carts[op.cart];
  switch (op.type) {
    case CartOp::Type::kAdd:
      lines[op.sku] += op.quantity;
      break;
    case CartOp::Type::kSetQuantity:
      lines[op.sku] = op.quantity;
      break;
    case CartOp::Type::kRemove:
      lines.erase(op.sku);
      break;
    case CartOp::Type::kCheckout:
      lines.clear();
      break;
    case CartOp::Type::kGet:
      break;
  }
}

TEST(CartSizeWorkloadTest, TheFillMakesExactlyLDistinctLines) {
  for (uint32_t lines : {1u, 7u, 100u}) {
    CartModel carts;
    for (uint64_t cart : {0u, 3u}) {
      for (uint32_t line = 0; line < lines; ++line) {
        const CartOp op = CartFillOp(cart, line);
        EXPECT_EQ(op.type, CartOp::Type::kAdd);
        EXPECT_EQ(op.cart, cart);
        Apply(carts, op);
      }
      EXPECT_EQ(carts[cart].size(), lines);
      for (const auto& [sku, quantity] : carts[cart]) EXPECT_EQ(quantity, 1u) << sku;
    }
  }
}

TEST(CartSizeWorkloadTest, EveryOperationKeepsTheCartAtLLinesAndChangesIt) {
  for (uint32_t lines : {1u, 5u, 100u}) {
    WorkloadOptions options;
    options.carts = 10;
    options.cart_lines = lines;
    options.mix = OpMix{0, 0, 100, 0};
    Workload workload(options, 11);
    Ledger ledger;
    CartModel carts;
    for (uint64_t cart = 0; cart < options.carts; ++cart) {
      for (uint32_t line = 0; line < lines; ++line) Apply(carts, CartFillOp(cart, line));
    }
    const CartModel filled = carts;
    std::map<uint64_t, uint64_t> ops_per_cart;
    for (int i = 0; i < 5000; ++i) {
      const uint64_t cart = workload.PickCart(1, 0);
      const CartOp op = workload.Next(cart, ledger);
      ASSERT_EQ(op.type, CartOp::Type::kSetQuantity);
      ASSERT_EQ(op.cart, cart);
      ASSERT_TRUE(filled.at(cart).count(op.sku)) << op.sku << " is not a line of the fill";
      ASSERT_NE(carts[cart][op.sku], op.quantity) << "a set that changes nothing";
      Do(ledger, op, true);
      Apply(carts, op);
      ASSERT_EQ(carts[cart].size(), lines);
      ++ops_per_cart[cart];
    }
    // Round robin over the lines: after whole rounds every line was set as often.
    for (const auto& [cart, n] : ops_per_cart) {
      if (n < 2 * lines) continue;
      std::set<uint32_t> quantities;
      for (const auto& [sku, quantity] : carts[cart]) quantities.insert(quantity);
      EXPECT_LE(quantities.size(), 2u);
      EXPECT_FALSE(quantities.count(1)) << "cart " << cart << " has a line never set";
    }
  }
}

TEST(LedgerTest, BoundIsCappedAtTheCartsQuantityMax) {
  Ledger ledger;
  for (int i = 0; i < 12; ++i) Do(ledger, CartOp::Add(3, "a"), true);
  EXPECT_EQ(Shortfalls(ledger, 3, {{"a", 10}}, 10), 0u);
  EXPECT_EQ(Shortfalls(ledger, 3, {{"a", 9}}, 10), 1u);
}

TEST(LedgerTest, GetsAreReadBackTooAndCartsAreListed) {
  Ledger ledger;
  CartOp get{CartOp::Type::kGet, 9, "", 0};
  Do(ledger, get, true);
  Do(ledger, CartOp::Add(4, "x"), true);
  EXPECT_EQ(ledger.Carts(), (std::vector<uint64_t>{4, 9}));
  EXPECT_TRUE(ledger.LinesOf(9).empty());
  EXPECT_TRUE(ledger.LinesOf(12345).empty());
}

}  // namespace
}  // namespace trolley::bench
