// A cart mutation on the wire: the one place that turns a cart/ Mutation
// into a CartUpdate (the Cart API, the simulator's devices) and back (the
// coordinating node, node/cart_update.h). Pure.
//
// OR-Set removes, sets and clears carry the tags the shopper observed; on
// the node, `observed` is always set for them (an empty list removes
// nothing), never for adds or union+max (which removes by reading first).
#pragma once

#include <string>

#include "cart/cart_state.h"
#include "wire/messages.h"

namespace trolley {

// The CartUpdate for `m` on cart `cart_id` of namespace `ns` (request id and
// TTL left for the caller).
CartUpdate CartUpdateOf(const std::string& ns, const std::string& cart_id, const Mutation& m);

// The mutation a CartUpdate asks for, as cart/ applies it in a namespace of
// `semantics`.
Mutation CartMutationOf(const CartUpdate& m, CartSemantics semantics);

}  // namespace trolley
