// Cart view tokens: the printable context of a cart view, which a shopper's
// next remove, set, clear or checkout carries so that it acts on exactly
// what the shopper saw (docs/design.md, 'Cart updates on the node').
//
// A token holds the view's lines with their contribution tags: the lines
// let a checkout return what was bought, the tags are the
// Mutation::observed of a removal. It is the cart's own encoding
// (CartState::Encode of CartState::LinesOnly), in hex; it names no node and
// needs no server state. Tokens come back from clients, so decoding is
// untrusted input: it is bounded by view_token_bytes_max and validated as a
// stored cart is. Pure.
#pragma once

#include <string>
#include <string_view>

#include "cart/cart_state.h"
#include "common/status.h"

namespace trolley {

// Twice (hex) the largest cart encoding the default CartLimits allow.
inline constexpr size_t kViewTokenBytesMax = 2 * 256 * 1024;

// The token of `view` (any state; only its lines are kept).
std::string CartViewToken(const CartState& view);

// The lines a token names, as a CartState of `semantics` holding lines
// only. InvalidArgument for a token that is not hex, too long, not a cart,
// or a cart of the other semantics, saying which.
Result<CartState> ParseCartViewToken(std::string_view token, CartSemantics semantics);

}  // namespace trolley
