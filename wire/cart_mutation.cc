#include "wire/cart_mutation.h"

#include <vector>

namespace trolley {

static_assert(static_cast<int>(CartMutationKind::kAdd) == static_cast<int>(Mutation::Kind::kAdd));
static_assert(static_cast<int>(CartMutationKind::kClear) ==
              static_cast<int>(Mutation::Kind::kClear));

CartUpdate CartUpdateOf(const std::string& ns, const std::string& cart_id, const Mutation& m) {
  return CartUpdate{.ns = ns,
                    .cart_id = cart_id,
                    .kind = static_cast<CartMutationKind>(m.kind),
                    .sku = m.sku,
                    .quantity = m.quantity,
                    .attributes = {m.attributes.begin(), m.attributes.end()},
                    .now_ms = m.now_ms,
                    .mutation_id = m.id,
                    .observed = m.observed.value_or(std::vector<uint64_t>{})};
}

Mutation CartMutationOf(const CartUpdate& m, CartSemantics semantics) {
  Mutation out;
  out.id = m.mutation_id;
  out.kind = static_cast<Mutation::Kind>(m.kind);
  out.sku = m.sku;
  out.quantity = m.quantity;
  out.attributes = CartAttributes(m.attributes.begin(), m.attributes.end());
  out.now_ms = m.now_ms;
  if (semantics == CartSemantics::kOrSet && m.kind != CartMutationKind::kAdd) {
    out.observed = m.observed;
  }
  return out;
}

}  // namespace trolley
