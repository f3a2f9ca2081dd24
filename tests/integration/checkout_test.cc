// Goal: a checkout buys exactly the view the shopper saw (docs/design.md,
// 'Cart updates on the node'): it returns that view's lines and removes
// exactly their contributions; lines (and quantities) added meanwhile by
// another device stay; a retry with the same order id and token returns the
// same lines and removes nothing more; and a bought contribution never
// comes back, not even from a replica that was down during the checkout
// and held it (no hints: only the merge of copies and anti-entropy reach
// it).
// Method: 3 real trolleyd processes, or-set namespace N=3 R=2 W=2, two
// Cart API clients (two devices, two sessions). Every replica's own copy is
// read with ReplicaGet (no quorum, no repair).
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "client/cart_client.h"
#include "tests/integration/cluster_harness.h"
#include "tests/integration/replica_cart.h"

namespace trolley::integration {
namespace {

using Lines = std::map<std::string, uint32_t>;  // sku -> quantity

Lines LinesOf(const std::vector<CartLine>& lines) {
  Lines out;
  for (const CartLine& l : lines) out[l.sku] = l.quantity;
  return out;
}

std::unique_ptr<BlockingCartClient> Device(const Cluster& cluster) {
  ClientOptions o;
  for (int i = 0; i < cluster.size(); ++i) o.seeds.push_back(cluster.address(i));
  o.timeout = 8000ms;
  auto c = BlockingCartClient::Create(o, {CartNamespace{"carts", CartSemantics::kOrSet, {}, 0}});
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return std::move(*c);
}

ClusterOptions ThreeNodes(const std::string& config_tail = "") {
  ClusterOptions o;
  o.namespaces = {"carts:n=3,r=2,w=2,merge=or-set,durability=flush"};
  o.config_tail = config_tail;
  return o;
}

TEST(CheckoutTest, BuysExactlyTheViewAndARetryBuysNothingMore) {
  Cluster cluster(ThreeNodes());
  ASSERT_TRUE(cluster.Start().ok());
  auto phone = Device(cluster);
  auto laptop = Device(cluster);
  ASSERT_TRUE(phone->Add("carts", "c1", "apple", 2).ok());
  auto view = phone->Add("carts", "c1", "bread", 1);
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  // After the view the order is placed from: one more apple and a new line.
  ASSERT_TRUE(laptop->Add("carts", "c1", "apple", 1).ok());
  ASSERT_TRUE(laptop->Add("carts", "c1", "cheese", 1).ok());

  const Lines bought = {{"apple", 2}, {"bread", 1}};
  const Lines left = {{"apple", 1}, {"cheese", 1}};
  for (int attempt = 0; attempt < 2; ++attempt) {  // the order service retries
    auto order = phone->Checkout("carts", "c1", "order-1", view->context);
    ASSERT_TRUE(order.ok()) << attempt << ": " << order.status().ToString();
    EXPECT_EQ(LinesOf(order->lines), bought) << attempt;
    EXPECT_EQ(LinesOf(order->cart.lines), left) << attempt;
  }
  // The retry through another client (another process of the order service).
  auto again = laptop->Checkout("carts", "c1", "order-1", view->context);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(LinesOf(again->lines), bought);
  auto now = laptop->Get("carts", "c1");
  ASSERT_TRUE(now.ok()) << now.status().ToString();
  EXPECT_EQ(LinesOf(now->lines), left);
}

TEST(CheckoutTest, ABoughtLineNeverComesBackFromAReplicaThatMissedTheCheckout) {
  // No hints: the replica that was down learns the checkout only from the
  // other copies (read merge, anti-entropy).
  Cluster cluster(
      ThreeNodes("hints_max = 0\n[aae]\ninterval_ms = 20\nexchange_timeout_ms = 2000\n"));
  ASSERT_TRUE(cluster.Start().ok());
  auto shopper = Device(cluster);
  ASSERT_TRUE(shopper->Add("carts", "c2", "apple", 2).ok());
  auto view = shopper->Add("carts", "c2", "bread", 1);
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  // Every replica holds both lines before one of them goes down.
  ASSERT_TRUE(WaitFor(
      [&] {
        for (int i = 0; i < cluster.size(); ++i) {
          auto copy = ReadCartAt(cluster, i, "c2");
          if (!copy.ok() || copy->cart.Lines({}).size() != 2) return false;
        }
        return true;
      },
      10s));
  const int stale = 2;
  cluster.Kill(stale);
  auto order = shopper->Checkout("carts", "c2", "order-2", view->context);
  ASSERT_TRUE(order.ok()) << order.status().ToString();
  EXPECT_EQ(LinesOf(order->lines), (Lines{{"apple", 2}, {"bread", 1}}));
  EXPECT_TRUE(order->cart.lines.empty());
  ASSERT_TRUE(shopper->Add("carts", "c2", "cheese", 1).ok());
  ASSERT_TRUE(cluster.Restart(stale).ok());
  {
    auto copy = ReadCartAt(cluster, stale, "c2");  // still the old copy
    ASSERT_TRUE(copy.ok()) << copy.status().ToString();
    EXPECT_EQ(LinesOf(copy->cart.Lines({})), (Lines{{"apple", 2}, {"bread", 1}}));
  }
  // Reads never show a bought line again, and every copy converges on
  // what is left.
  const Lines left = {{"cheese", 1}};
  bool bought_came_back = false;
  const bool converged = WaitFor(
      [&] {
        auto read = shopper->Get("carts", "c2");
        if (read.ok() && LinesOf(read->lines) != left) bought_came_back = true;
        for (int i = 0; i < cluster.size(); ++i) {
          auto copy = ReadCartAt(cluster, i, "c2");
          if (!copy.ok() || LinesOf(copy->cart.Lines({})) != left) return false;
        }
        return true;
      },
      30s, 100ms);
  EXPECT_TRUE(converged) << cluster.AllLogTails();
  EXPECT_FALSE(bought_came_back);
  for (int i = 0; i < 20; ++i) {
    auto read = shopper->Get("carts", "c2");
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_EQ(LinesOf(read->lines), left);
  }
}

}  // namespace
}  // namespace trolley::integration
