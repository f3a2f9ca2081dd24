#include "node/cart_update.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cart/guest_merge.h"

namespace trolley {
namespace {

// A user cart's "ns/cart_id" at the store's largest namespace and key is a
// mark cart/ takes and the wire carries.
static_assert(kCartKeyBytesMax == kNamespaceBytesMax + 1 + kKeyBytesMax);
static_assert(kCartKeyBytesMax <= kCartMergedIntoBytesMax);

// The cart limits of every namespace: the node does not configure its own
// (NamespaceOptions), so it applies CartLimits' defaults, as CartClient
// does unless told otherwise.
const CartLimits kNamespaceCartLimits{};

uint64_t ExpiryOf(uint64_t requested_ttl_ms, const NamespaceOptions& ns, uint64_t wall_ms) {
  const uint64_t ttl_ms = requested_ttl_ms != 0 ? requested_ttl_ms : ns.ttl_ms;
  return ttl_ms == 0 ? 0 : wall_ms + ttl_ms;
}

Result<CartSemantics> SemanticsOf(const NamespaceOptions& ns) {
  if (ns.merge == "or-set") return CartSemantics::kOrSet;
  if (ns.merge == "union-max") return CartSemantics::kUnionMax;
  return Status::FailedPrecondition("namespace '" + ns.name + "' holds no carts (merge = \"" +
                                    ns.merge +
                                    "\"): cart updates need merge = \"or-set\" or \"union-max\"");
}

// The cart `current` holds: its siblings decoded and merged.
Result<CartState> MergedCart(const SiblingSet& current, CartSemantics semantics,
                             const ObjectKey& key) {
  std::vector<CartState> carts;
  carts.reserve(current.size());
  for (const Sibling& s : current.siblings()) {
    if (s.tombstone) continue;  // a delete: the update's context covers it
    Result<CartState> cart = CartState::Decode(s.value, semantics);
    if (!cart.ok()) {
      return Status(cart.status().code(), key.ns + "/" + key.key + " does not hold a " +
                                              std::string(CartSemanticsName(semantics)) +
                                              " cart: " + cart.status().message());
    }
    carts.push_back(std::move(*cart));
  }
  if (carts.size() == 1) return std::move(carts.front());
  return CartState::Merge(semantics, carts);
}

Result<WriteTransform> MutationTransform(const CartUpdate& m, const NamespaceOptions& ns,
                                         CartSemantics semantics) {
  if (semantics == CartSemantics::kUnionMax && m.kind != CartMutationKind::kAdd) {
    return Status::FailedPrecondition(
        "namespace '" + ns.name +
        "' is union-max: its removes, sets and clears are a read-modify-write with the read's "
        "context (CartClient does it); only adds are coordinated on the node");
  }
  return WriteTransform(
      [semantics, mutation = CartMutationOf(m, semantics),
       key = ObjectKey{m.ns, m.cart_id}](const SiblingSet& current) -> Result<std::string> {
        Result<CartState> cart = MergedCart(current, semantics, key);
        if (!cart.ok()) return cart.status();
        if (Status s = cart->Apply(mutation, kNamespaceCartLimits); !s.ok()) return s;
        return cart->Encode();
      });
}

// The guest cart a kMergeGuest update carries: untrusted bytes, decoded
// and held to the namespace's limits before any write starts.
Result<CartState> GuestCartOf(const CartUpdate& m, const NamespaceOptions& ns,
                              CartSemantics semantics) {
  const CartLimits& limits = kNamespaceCartLimits;
  if (m.guest.size() > limits.encoded_bytes_max) {
    return Status::LimitExceeded(
        "guest merge into " + ns.name + "/" + m.cart_id + ": the guest cart is " +
        std::to_string(m.guest.size()) +
        " bytes, above encoded_bytes_max = " + std::to_string(limits.encoded_bytes_max));
  }
  Result<CartState> guest = CartState::Decode(m.guest, semantics);
  if (!guest.ok()) {
    return Status::InvalidArgument(
        "guest merge into " + ns.name + "/" + m.cart_id + ": the guest cart sent is not a " +
        std::string(CartSemanticsName(semantics)) + " cart (" + guest.status().message() +
        "); send the guest cart's state as CartState::Encode gives it, from a namespace of "
        "the same semantics");
  }
  if (guest->lines().size() > limits.lines_max) {
    return Status::LimitExceeded("guest merge into " + ns.name + "/" + m.cart_id +
                                 ": the guest cart has " + std::to_string(guest->lines().size()) +
                                 " lines, above lines_max = " + std::to_string(limits.lines_max));
  }
  return guest;
}

// kMergeGuest: the guest's lines merged into the coordinator's copy of the
// user cart (cart/guest_merge.h), all stamped with the client's clock so
// every coordinator computes the same contributions.
Result<WriteTransform> GuestMergeTransform(const CartUpdate& m, const NamespaceOptions& ns,
                                           CartSemantics semantics, uint64_t wall_ms) {
  Result<CartState> guest = GuestCartOf(m, ns, semantics);
  if (!guest.ok()) return guest.status();
  return WriteTransform(
      [semantics, guest = std::make_shared<const CartState>(std::move(guest).value()),
       strategy = GuestMergeStrategyOf(m.strategy), merge_id = m.mutation_id,
       now_ms = m.now_ms != 0 ? m.now_ms : wall_ms,
       key = ObjectKey{m.ns, m.cart_id}](const SiblingSet& current) -> Result<std::string> {
        Result<CartState> user = MergedCart(current, semantics, key);
        if (!user.ok()) return user.status();
        Result<CartState> merged =
            MergeGuestCart(*guest, *user, strategy, kNamespaceCartLimits, merge_id, now_ms);
        if (!merged.ok()) return merged.status();
        return merged->Encode();
      });
}

// kMarkMerged: the coordinator's copy of the guest cart, marked. Records no
// mutation id: a mark is not a change to the cart's lines.
Result<WriteTransform> MarkMergedTransform(const CartUpdate& m, CartSemantics semantics) {
  if (m.merged_into.empty() || m.merged_into.size() > kCartKeyBytesMax) {
    return Status::InvalidArgument("mark " + m.ns + "/" + m.cart_id +
                                   " merged: merged_into must name the user cart as "
                                   "\"ns/cart_id\", 1.." +
                                   std::to_string(kCartKeyBytesMax) + " bytes (it is " +
                                   std::to_string(m.merged_into.size()) + ")");
  }
  return WriteTransform([semantics, target = m.merged_into, key = ObjectKey{m.ns, m.cart_id}](
                            const SiblingSet& current) -> Result<std::string> {
    Result<CartState> cart = MergedCart(current, semantics, key);
    if (!cart.ok()) return cart.status();
    if (Status s = cart->MarkMergedInto(target); !s.ok()) return s;
    return cart->Encode();
  });
}

Result<WriteTransform> TransformOf(const CartUpdate& m, const NamespaceOptions& ns,
                                   CartSemantics semantics, uint64_t wall_ms) {
  switch (m.kind) {
    case CartMutationKind::kMergeGuest:
      return GuestMergeTransform(m, ns, semantics, wall_ms);
    case CartMutationKind::kMarkMerged:
      return MarkMergedTransform(m, semantics);
    case CartMutationKind::kAdd:
    case CartMutationKind::kSetQuantity:
    case CartMutationKind::kRemove:
    case CartMutationKind::kClear:
      break;
  }
  return MutationTransform(m, ns, semantics);
}

}  // namespace

CoordinatedWrite PutWriteOf(ClientPut m, const NamespaceOptions& ns, uint64_t wall_ms) {
  CoordinatedWrite out;
  out.client_id = m.id;
  out.key = ObjectKey{std::move(m.ns), std::move(m.key)};
  out.intent.context = std::move(m.context);
  out.intent.tombstone = m.tombstone;
  out.intent.value = std::move(m.value);
  out.intent.write_id = m.write_id;
  out.intent.timestamp_ms = wall_ms;
  if (!m.tombstone) out.intent.expiry_ms = ExpiryOf(m.ttl_ms, ns, wall_ms);
  return out;
}

Result<CoordinatedWrite> CartWriteOf(const CartUpdate& m, const NamespaceOptions& ns,
                                     uint64_t wall_ms) {
  Result<CartSemantics> semantics = SemanticsOf(ns);
  if (!semantics.ok()) return semantics.status();
  CoordinatedWrite out;
  out.client_id = m.id;
  out.key = ObjectKey{m.ns, m.cart_id};
  out.reply = CoordinatedWrite::Reply::kCartUpdate;
  out.intent.timestamp_ms = wall_ms;
  out.intent.expiry_ms = ExpiryOf(m.ttl_ms, ns, wall_ms);
  Result<WriteTransform> transform = TransformOf(m, ns, *semantics, wall_ms);
  if (!transform.ok()) return transform.status();
  out.intent.transform = std::move(transform).value();
  return out;
}

}  // namespace trolley
