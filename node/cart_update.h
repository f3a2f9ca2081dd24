// CartUpdate on the node: a shopper's cart mutation as a computed write
// (docs/design.md, 'Cart updates on the node').
//
// Node turns a CartUpdate into a CoordinatedWrite whose value is computed by
// the engine from the coordinator's own copy of the cart, inside the queued
// write (storage/sibling_set.h, WriteTransform): decode every sibling, merge
// them with the namespace's semantics (cart/cart_state.h), apply the
// mutation, encode. The new sibling's context is the copy's, so it replaces
// every sibling it merged; the PutCoordinator then replicates it as it does
// a put. No read quorum is needed: an add is applied to whatever the
// coordinator holds, and the merge of replicas (reads, repair, hints) joins
// it with the rest.
//
// OR-Set removes, sets and clears act on the tags the shopper observed
// (CartUpdate::observed, carried from the view it acted on), never on the
// coordinator's copy: a stale coordinator still removes all of them, and
// an add the shopper did not see stays. union+max cannot remove by tag, so
// its removes, sets and clears are refused here (FailedPrecondition): the
// Cart API does them as a read-modify-write with the read's context.
//
// A guest-cart merge at login is two updates (wire/cart_mutation.h,
// GuestMergeUpdateOf): kMergeGuest carries the guest cart's state, decoded
// here as untrusted input and held to the namespace's CartLimits before
// anything is written; the transform merges it into the coordinator's copy
// of the user cart with GuestMergeMutations (adds only, ids derived from
// the merge id, so a retry through any coordinator changes nothing), in
// both semantics. kMarkMerged marks the coordinator's copy of the guest
// cart merged_into the user cart and records no mutation. Neither reads a
// quorum (docs/design.md, 'Cart updates on the node').
//
// Pure: the transform runs on any thread (LmdbEngine's writer) and may run
// more than once for one write.
#pragma once

#include <cstdint>

#include "cart/cart_state.h"
#include "common/status.h"
#include "node/node_options.h"
#include "storage/engine.h"
#include "wire/cart_mutation.h"
#include "wire/messages.h"

namespace trolley {

// A write this node coordinates: a client put, or a cart update whose value
// the engine computes. The reply is a ClientPutReply or a CartUpdateReply.
struct CoordinatedWrite {
  enum class Reply : uint8_t { kPut, kCartUpdate };
  RequestId client_id;
  ObjectKey key;
  WriteIntent intent;
  Reply reply = Reply::kPut;
};

// The write of put `m` in namespace `ns` at the coordinator's wall clock
// `wall_ms` (its TTL, or else the namespace's, from now).
CoordinatedWrite PutWriteOf(ClientPut m, const NamespaceOptions& ns, uint64_t wall_ms);

// The computed write of `m` in namespace `ns` at `wall_ms`: FailedPrecondition
// for a namespace that holds no carts, or a union+max remove, set or clear;
// for kMergeGuest, InvalidArgument for a guest state that is not a cart of
// the namespace's semantics and LimitExceeded for one over the namespace's
// limits (lines_max, encoded_bytes_max); for kMarkMerged, InvalidArgument
// for an empty or over-long merged_into. The transform's own errors (a
// stored value that is not a cart, a merge past lines_max) are the reply's.
Result<CoordinatedWrite> CartWriteOf(const CartUpdate& m, const NamespaceOptions& ns,
                                     uint64_t wall_ms);

}  // namespace trolley
