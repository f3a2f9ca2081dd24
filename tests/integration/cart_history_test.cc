// Goal: a cart's size does not grow with its history (issue 15): one
// shopper adding and removing the same sku kCycles times through real
// trolleyd processes leaves an empty cart under 1 KB on every replica
// (format version 2 kept a tombstone per add: 128 KB after 14,000 cycles).
// Method: 3 real trolleyd processes, or-set namespace N=3 R=2 W=2; the Cart
// API adds one sku, then removes it with the view's token, kCycles times
// (ids numbered by the client's session for the cart). Then every node's
// own copy (ReplicaGet: no quorum, no repair) is read until it holds the
// last removal: each must be an empty cart of under 1 KB. The fast suite
// runs 2,000 cycles (300 in a sanitizer build); cart_history_slow_test
// (label slow) runs 20,000.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cart/cart_state.h"
#include "client/cart_client.h"
#include "tests/integration/cluster_harness.h"
#include "tests/integration/replica_cart.h"

namespace trolley::integration {
namespace {

constexpr int kCycles = TROLLEY_CART_CYCLES;
constexpr size_t kEmptyCartBytesMax = 1024;

TEST(CartHistoryTest, AddRemoveCyclesLeaveASmallEmptyCartOnEveryReplica) {
  ClusterOptions options;
  options.namespaces = {"carts:n=3,r=2,w=2,merge=or-set,durability=flush"};
  Cluster cluster(options);
  ASSERT_TRUE(cluster.Start().ok());
  ClientOptions o;
  for (int i = 0; i < cluster.size(); ++i) o.seeds.push_back(cluster.address(i));
  auto shopper =
      BlockingCartClient::Create(o, {CartNamespace{"carts", CartSemantics::kOrSet, {}, 0}});
  ASSERT_TRUE(shopper.ok()) << shopper.status().ToString();
  const std::string key = "one-shopper";
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    auto added = (*shopper)->Add("carts", key, "sku-1", 1);
    ASSERT_TRUE(added.ok()) << "cycle " << cycle << ": " << added.status().ToString();
    ASSERT_EQ(added->lines.size(), 1u) << "cycle " << cycle;
    auto removed = (*shopper)->Remove("carts", key, "sku-1", 0, added->context);
    ASSERT_TRUE(removed.ok()) << "cycle " << cycle << ": " << removed.status().ToString();
    ASSERT_TRUE(removed->lines.empty()) << "cycle " << cycle;
  }
  // The third replica gets the last writes after the W=2 acks: wait until
  // every node's copy is the same cart.
  std::vector<Result<ReplicaCart>> replicas;
  const bool converged = WaitFor(
      [&] {
        replicas.clear();
        for (int node = 0; node < cluster.size(); ++node) {
          replicas.push_back(ReadCartAt(cluster, node, key));
        }
        for (const auto& r : replicas) {
          if (!r.ok() || r->cart != replicas.front()->cart) return false;
        }
        return true;
      },
      20s, 100ms);
  EXPECT_TRUE(converged) << "the replicas' copies never became equal";
  for (int node = 0; node < cluster.size(); ++node) {
    const Result<ReplicaCart>& replica = replicas[static_cast<size_t>(node)];
    ASSERT_TRUE(replica.ok()) << cluster.node_id(node) << ": " << replica.status().ToString();
    EXPECT_TRUE(replica->cart.Lines(CartLimits{}).empty()) << replica->cart.DebugString();
    EXPECT_LT(replica->value_bytes_max, kEmptyCartBytesMax) << replica->cart.DebugString();
    std::printf("%d add/remove cycles: %s holds %zu sibling(s), the largest %zu bytes\n", kCycles,
                cluster.node_id(node).c_str(), replica->siblings, replica->value_bytes_max);
  }
}

}  // namespace
}  // namespace trolley::integration
