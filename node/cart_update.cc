#include "node/cart_update.h"

#include <utility>
#include <vector>

namespace trolley {
namespace {

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
  if (*semantics == CartSemantics::kUnionMax && m.kind != CartMutationKind::kAdd) {
    return Status::FailedPrecondition(
        "namespace '" + ns.name +
        "' is union-max: its removes, sets and clears are a read-modify-write with the read's "
        "context (CartClient does it); only adds are coordinated on the node");
  }
  CoordinatedWrite out;
  out.client_id = m.id;
  out.key = ObjectKey{m.ns, m.cart_id};
  out.reply = CoordinatedWrite::Reply::kCartUpdate;
  out.intent.timestamp_ms = wall_ms;
  out.intent.expiry_ms = ExpiryOf(m.ttl_ms, ns, wall_ms);
  out.intent.transform = [semantics = *semantics, mutation = CartMutationOf(m, *semantics),
                          key = out.key](const SiblingSet& current) -> Result<std::string> {
    Result<CartState> cart = MergedCart(current, semantics, key);
    if (!cart.ok()) return cart.status();
    if (Status s = cart->Apply(mutation, CartLimits{}); !s.ok()) return s;
    return cart->Encode();
  };
  return out;
}

}  // namespace trolley
