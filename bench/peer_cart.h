// PeerCart: the cart as the Redis and PostgreSQL adapters store it, a
// plain sku -> quantity map, serialised as JSON ({"sku-1": 3, ...}; in
// PostgreSQL a jsonb column). These stores serialise read-modify-writes
// (WATCH/MULTI/EXEC, SELECT ... FOR UPDATE), so they need no merge
// metadata: this is what a team would store there, and what the cart's
// "last writer serialised" semantics amounts to.
//
// Apply() is the same mutation Trolley's Cart API performs (cart/
// cart_state.h): add sums (capped at quantity_max), set replaces (0
// removes), remove deletes, checkout empties the cart (what it bought is
// what the cart held). Decode treats its input as untrusted.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/target.h"
#include "bench/workload.h"
#include "common/status.h"

namespace trolley::bench {

class PeerCart {
 public:
  // An empty text (no such key / row) is an empty cart. InvalidArgument
  // for anything that is not an object of sku -> quantity in [1, 2^32).
  static Result<PeerCart> Decode(std::string_view json);
  std::string Encode() const;

  // A cart from lines stored one per field or row (the per-line layouts);
  // InvalidArgument for a quantity that is not an integer in [1, 2^32).
  static Result<PeerCart> FromLines(
      const std::vector<std::pair<std::string, std::string>>& sku_and_quantity);

  // Applies an add, set, remove or checkout; a get leaves the cart as it is.
  void Apply(const CartOp& op, uint32_t quantity_max);

  const std::map<std::string, uint32_t>& lines() const { return lines_; }
  std::vector<CartLineView> View() const;

 private:
  std::map<std::string, uint32_t> lines_;
};

}  // namespace trolley::bench
