#include "wire/cart_mutation.h"

#include <vector>

#include "common/assert.h"
#include "common/key.h"

namespace trolley {

static_assert(static_cast<int>(CartMutationKind::kAdd) == static_cast<int>(Mutation::Kind::kAdd));
static_assert(static_cast<int>(CartMutationKind::kClear) ==
              static_cast<int>(Mutation::Kind::kClear));
static_assert(static_cast<int>(CartMergeStrategy::kKeepUser) ==
              static_cast<int>(GuestMergeStrategy::kKeepUser));

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
  TROLLEY_ASSERT(m.kind <= CartMutationKind::kClear);
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

CartUpdate GuestMergeUpdateOf(const std::string& user_ns, const std::string& user_id,
                              const CartState& guest, GuestMergeStrategy strategy,
                              uint64_t merge_id, uint64_t now_ms) {
  return CartUpdate{.ns = user_ns,
                    .cart_id = user_id,
                    .kind = CartMutationKind::kMergeGuest,
                    .now_ms = now_ms,
                    .mutation_id = merge_id,
                    // The lines and their tags; the guest's causal context
                    // and mark are no part of the merge.
                    .guest = guest.LinesOnly().Encode(),
                    .strategy = static_cast<CartMergeStrategy>(strategy)};
}

CartUpdate MarkMergedUpdateOf(const std::string& guest_ns, const std::string& guest_id,
                              const std::string& merged_into, uint64_t merge_id, uint64_t now_ms) {
  return CartUpdate{.ns = guest_ns,
                    .cart_id = guest_id,
                    .kind = CartMutationKind::kMarkMerged,
                    .now_ms = now_ms,
                    .mutation_id = merge_id,
                    .merged_into = merged_into};
}

GuestMergeStrategy GuestMergeStrategyOf(CartMergeStrategy strategy) {
  return static_cast<GuestMergeStrategy>(strategy);
}

uint64_t CheckoutMutationId(const std::string& ns, const std::string& cart_id,
                            const std::string& order_id) {
  return KeyHash("checkout/" + ns + "/" + cart_id, order_id) | 1;
}

}  // namespace trolley
