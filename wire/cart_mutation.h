// A cart mutation on the wire: the one place that turns a cart/ Mutation
// or guest-cart merge into a CartUpdate (the Cart API, the simulator's
// devices) and back (the coordinating node, node/cart_update.h). Pure.
//
// OR-Set removes, sets and clears carry the tags the shopper observed; on
// the node, `observed` is always set for them (an empty list removes
// nothing), never for adds or union+max (which removes by reading first).
#pragma once

#include <string>

#include "cart/cart_state.h"
#include "cart/guest_merge.h"
#include "wire/messages.h"

namespace trolley {

// The CartUpdate for `m` on cart `cart_id` of namespace `ns` (request id and
// TTL left for the caller).
CartUpdate CartUpdateOf(const std::string& ns, const std::string& cart_id, const Mutation& m);

// The mutation a CartUpdate asks for, as cart/ applies it in a namespace of
// `semantics`. `m` is one of the four shopper mutations (kAdd..kClear;
// asserted).
Mutation CartMutationOf(const CartUpdate& m, CartSemantics semantics);

// A guest-cart merge (cart/guest_merge.h) as two updates: merge `guest`
// (the guest cart's state; only its lines count) into user cart `user_id`
// of `user_ns` under `merge_id`; then mark guest cart `guest_id` of
// `guest_ns` as merged into "user_ns/user_id". The merge id is the first
// update's mutation_id and names the second, which records no mutation.
CartUpdate GuestMergeUpdateOf(const std::string& user_ns, const std::string& user_id,
                              const CartState& guest, GuestMergeStrategy strategy,
                              uint64_t merge_id, uint64_t now_ms);
CartUpdate MarkMergedUpdateOf(const std::string& guest_ns, const std::string& guest_id,
                              const std::string& merged_into, uint64_t merge_id, uint64_t now_ms);
GuestMergeStrategy GuestMergeStrategyOf(CartMergeStrategy strategy);

// The mutation id of checkout `order_id` of cart `cart_id` in namespace `ns`
// (CartClient::Checkout, the simulator's devices): one id per (cart, order),
// never a session's, so a retried checkout removes nothing more. Odd.
uint64_t CheckoutMutationId(const std::string& ns, const std::string& cart_id,
                            const std::string& order_id);

}  // namespace trolley
