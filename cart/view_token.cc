#include "cart/view_token.h"

#include "common/hex.h"

namespace trolley {

std::string CartViewToken(const CartState& view) { return Hex(view.EncodeLinesOnly()); }

Result<CartState> ParseCartViewToken(std::string_view token, CartSemantics semantics) {
  if (token.size() > kViewTokenBytesMax) {
    return Status::InvalidArgument("cart context token of " + std::to_string(token.size()) +
                                   " characters, above the limit of " +
                                   std::to_string(kViewTokenBytesMax));
  }
  Result<std::string> bytes = Unhex(token);
  if (!bytes.ok())
    return Status::InvalidArgument("cart context token: " + bytes.status().message());
  Result<CartState> state = CartState::Decode(*bytes, semantics);
  if (!state.ok()) {
    return Status::InvalidArgument("cart context token is not a " +
                                   std::string(CartSemanticsName(semantics)) +
                                   " cart view: " + state.status().message());
  }
  return state->LinesOnly();
}

}  // namespace trolley
