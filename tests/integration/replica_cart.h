// ReadCartAt: one node's own copy of an OR-Set cart (ReplicaGet: no quorum,
// no read repair), its siblings decoded and merged, for tests that check
// what each replica holds rather than what a quorum read returns.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "cart/cart_state.h"
#include "tests/integration/cluster_harness.h"

namespace trolley::integration {

struct ReplicaCart {
  size_t siblings = 0;
  size_t value_bytes_max = 0;
  CartState cart{CartSemantics::kOrSet};
};

// NotFound when node `node` holds no copy of `key`.
inline Result<ReplicaCart> ReadCartAt(Cluster& cluster, int node, const std::string& key,
                                      const std::string& ns = "carts") {
  auto conn = cluster.Connect(node);
  if (!conn.ok()) return conn.status();
  auto reply = ReadReplica(**conn, key, ns);
  if (!reply.ok()) return reply.status();
  if (!reply->found) return Status::NotFound(key + " not on " + cluster.node_id(node));
  ReplicaCart out;
  std::vector<CartState> carts;
  for (const Sibling& s : reply->state.siblings()) {
    if (s.tombstone) continue;
    ++out.siblings;
    out.value_bytes_max = std::max(out.value_bytes_max, s.value.size());
    auto cart = CartState::Decode(s.value, CartSemantics::kOrSet);
    if (!cart.ok()) return cart.status();
    carts.push_back(std::move(*cart));
  }
  out.cart = CartState::Merge(CartSemantics::kOrSet, carts);
  return out;
}

}  // namespace trolley::integration
