// Goal: the cart-size workload's driver (bench/load.h) fills every cart to
// the asked number of lines before the run, checks each by reading it
// back, reports the fill, and then keeps every cart at that size; a fill
// that cannot complete fails the run. Method: RunLoad against an in-memory
// Target (one store per worker thread: a worker owns its carts), short
// windows.
#include "bench/load.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace trolley::bench {
namespace {

// Carts of one worker: cart -> sku -> quantity.
using Store = std::map<uint64_t, std::map<std::string, uint32_t>>;

class MemoryTarget : public Target {
 public:
  MemoryTarget(asio::io_context& io, Store& store, uint64_t failing_cart)
      : io_(io), store_(store), failing_cart_(failing_cart) {}

  void Connect(std::function<void(Status)> done) override { done(Status::Ok()); }

  void Execute(const CartOp& op, std::function<void(OpOutcome)> done) override {
    asio::post(io_, [this, op, done = std::move(done)] {
      if (op.cart == failing_cart_) return done(OpOutcome{false, "Unavailable", "down"});
      std::map<std::string, uint32_t>& lines = store_[op.cart];
      if (op.type == CartOp::Type::kAdd) lines[op.sku] += op.quantity;
      if (op.type == CartOp::Type::kSetQuantity) lines[op.sku] = op.quantity;
      if (op.type == CartOp::Type::kRemove) lines.erase(op.sku);
      done(OpOutcome{true, "", ""});
    });
  }

  void ReadCart(uint64_t cart,
                std::function<void(Result<std::vector<CartLineView>>)> done) override {
    std::vector<CartLineView> lines;
    for (const auto& [sku, quantity] : store_[cart]) lines.push_back({sku, quantity});
    done(std::move(lines));
  }

  void StoredCartBytes(uint64_t cart, std::function<void(Result<size_t>)> done) override {
    done(store_[cart].size() * 40);
  }

 private:
  asio::io_context& io_;
  Store& store_;
  uint64_t failing_cart_;
};

LoadOptions CartSizeOptions(uint32_t lines) {
  LoadOptions o;
  o.workload.carts = 20;
  o.workload.cart_lines = lines;
  o.workload.mix = OpMix{0, 0, 100, 0};
  o.workload_name = "cart-size";
  o.concurrency = 4;
  o.threads = 2;
  o.duration_s = 0.3;
  o.warmup_s = 0;
  o.progress = ProgressStyle::kOff;
  return o;
}

TargetFactory FactoryOf(std::vector<Store>& stores, uint64_t failing_cart) {
  return [&stores, failing_cart](asio::io_context& io,
                                 size_t worker) -> Result<std::unique_ptr<Target>> {
    return std::unique_ptr<Target>(
        std::make_unique<MemoryTarget>(io, stores.at(worker), failing_cart));
  };
}

TEST(CartSizeLoadTest, FillsEveryCartThenHoldsItsSize) {
  const LoadOptions o = CartSizeOptions(7);
  std::vector<Store> stores(o.threads);
  auto result = RunLoad(o, FactoryOf(stores, ~uint64_t{0}));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->fill.lines, 7u);
  EXPECT_EQ(result->fill.carts, 20u);
  EXPECT_EQ(result->fill.cart_bytes, 7u * 40);
  EXPECT_GT(result->OkOps(), 0u);
  EXPECT_EQ(result->recorder.kinds()[static_cast<size_t>(OpKind::kAdd)].ok(), 0u)
      << "the fill's adds are not measured";
  size_t carts = 0;
  bool some_line_set = false;
  for (const Store& store : stores) {
    for (const auto& [cart, lines] : store) {
      ++carts;
      EXPECT_EQ(lines.size(), 7u) << CartIdOf(cart);
      for (const auto& [sku, quantity] : lines) some_line_set |= quantity > 1;
    }
  }
  EXPECT_EQ(carts, 20u);
  EXPECT_TRUE(some_line_set);
}

TEST(CartSizeLoadTest, AFillThatCannotCompleteFailsTheRun) {
  const LoadOptions o = CartSizeOptions(3);
  std::vector<Store> stores(o.threads);
  auto result = RunLoad(o, FactoryOf(stores, 5));
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("fill: cart-5 line 1"), std::string::npos)
      << result.status().ToString();
}

}  // namespace
}  // namespace trolley::bench
