// Guest-cart merge: at login, the lines of the cart a shopper filled as a
// guest move into their user cart (docs/design.md,
// 'The Cart API', 'Guest carts').
//
// The merge is expressed as ordinary Mutations on the user cart, adds
// only, so it goes through the same Apply, the same idempotence and the
// same sibling merge as a shopper's clicks (the simulator models it as
// such). The coordinating node computes and applies them to its own copy of
// the user cart (node/cart_update.h, CartMutationKind::kMergeGuest). Each mutation's
// id is derived from (merge_id, sku) (GuestMergeMutationId), so doing the
// same merge again, on the same user cart or on any sibling or merge of
// siblings that saw it, changes nothing: the ids are already applied
// (every cart's causal context keeps them for good, cart_state.h).
// The caller picks merge_id once per (guest cart, user cart) login, e.g. a
// hash of both keys, and uses it for every retry.
//
// Strategies, per guest line (quantities as Lines() shows them):
//   kSum       user + guest, capped at quantity_max (an Add; capping is not
//              an error);
//   kMax       the larger of the two: when the guest's is larger, an Add of
//              the difference (never a SetQuantity, so a merge removes
//              nothing: applied to any copy, late or twice, it cannot undo
//              an add; a concurrent add still counts on top);
//   kKeepUser  the user's lines stay as they are; guest lines the user does
//              not have are added.
// A guest line the user does not have is an Add with the guest's attributes,
// whatever the strategy; for a line both have the user's attributes stay.
// The guest cart itself is not changed: mark it with
// CartState::MarkMergedInto(user_key) and write it back, so devices still
// holding it can tell where its lines went.
//
// Pure functions; no state.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "cart/cart_state.h"
#include "common/status.h"

namespace trolley {

enum class GuestMergeStrategy : uint8_t { kSum, kMax, kKeepUser };

std::string_view GuestMergeStrategyName(GuestMergeStrategy strategy);

// The id of the guest-merge mutation for `sku`: XXH3-64 of merge_id and the
// sku (common/key.h KeyHash, stable across releases and machines), never 0.
uint64_t GuestMergeMutationId(uint64_t merge_id, std::string_view sku);

// The merge id of one login: guest cart (guest_ns, guest_id) into user cart
// (user_ns, user_id), the same for every retry, never 0. The Cart API and
// the simulator's devices both use it.
uint64_t GuestMergeId(std::string_view guest_ns, std::string_view guest_id,
                      std::string_view user_ns, std::string_view user_id);

// The mutations that merge `guest` into `user`, in sku order, all stamped
// now_ms. Empty when there is nothing to do (e.g. the merge was already
// applied). Errors: InvalidArgument for merge_id 0; LimitExceeded naming
// lines_max when the user cart would get more lines than that (nothing is
// merged then: the shopper must remove lines first).
Result<std::vector<Mutation>> GuestMergeMutations(const CartState& guest, const CartState& user,
                                                  GuestMergeStrategy strategy,
                                                  const CartLimits& limits, uint64_t merge_id,
                                                  uint64_t now_ms);

// GuestMergeMutations applied to a copy of `user`: the new user cart, or the
// first error (from GuestMergeMutations, or an Apply refused by
// encoded_bytes_max), in which case nothing is merged.
Result<CartState> MergeGuestCart(const CartState& guest, const CartState& user,
                                 GuestMergeStrategy strategy, const CartLimits& limits,
                                 uint64_t merge_id, uint64_t now_ms);

}  // namespace trolley
