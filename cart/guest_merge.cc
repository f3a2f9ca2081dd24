#include "cart/guest_merge.h"

#include <map>
#include <string>
#include <utility>

#include "common/assert.h"
#include "common/enum_names.h"
#include "common/key.h"

namespace trolley {

namespace {

constexpr EnumName<GuestMergeStrategy> kGuestMergeStrategyNames[] = {
    {GuestMergeStrategy::kSum, "sum"},
    {GuestMergeStrategy::kMax, "max"},
    {GuestMergeStrategy::kKeepUser, "keep-user"}};

}  // namespace

std::string_view GuestMergeStrategyName(GuestMergeStrategy strategy) {
  return NameOf(kGuestMergeStrategyNames, strategy);
}

uint64_t GuestMergeId(std::string_view guest_ns, std::string_view guest_id,
                      std::string_view user_ns, std::string_view user_id) {
  return KeyHash("guest-merge/" + std::string(guest_ns) + "/" + std::string(guest_id),
                 std::string(user_ns) + "/" + std::string(user_id)) |
         1;
}

uint64_t GuestMergeMutationId(uint64_t merge_id, std::string_view sku) {
  // The merge id goes into the hash's length-prefixed namespace part, so
  // (merge_id, sku) pairs cannot collide by shifting bytes between them.
  std::string ns = "trolley.guest-merge.";
  for (int i = 0; i < 8; ++i) ns.push_back(static_cast<char>((merge_id >> (8 * i)) & 0xff));
  const uint64_t id = KeyHash(ns, sku);
  return id == 0 ? 1 : id;
}

Result<std::vector<Mutation>> GuestMergeMutations(const CartState& guest, const CartState& user,
                                                  GuestMergeStrategy strategy,
                                                  const CartLimits& limits, uint64_t merge_id,
                                                  uint64_t now_ms) {
  if (merge_id == 0) {
    return Status::InvalidArgument("guest merge: merge id 0 is reserved; ids are nonzero");
  }
  std::map<std::string, uint32_t> user_quantity;
  for (const CartLine& line : user.Lines(limits)) user_quantity.emplace(line.sku, line.quantity);

  std::vector<Mutation> out;
  size_t new_lines = 0;
  for (const CartLine& g : guest.Lines(limits)) {
    TROLLEY_ASSERT(g.quantity >= 1 && g.quantity <= limits.quantity_max);
    const uint64_t id = GuestMergeMutationId(merge_id, g.sku);
    const auto u = user_quantity.find(g.sku);
    if (u == user_quantity.end()) {
      ++new_lines;
      out.push_back(Mutation::Add(id, g.sku, g.quantity, now_ms, g.attributes));
      continue;
    }
    switch (strategy) {
      case GuestMergeStrategy::kSum:
        if (u->second < limits.quantity_max) {
          out.push_back(Mutation::Add(id, g.sku, g.quantity, now_ms));  // Apply caps the sum
        }
        break;
      case GuestMergeStrategy::kMax:
        // An add of the difference, not a SetQuantity: a set removes the
        // contributions of the copy it is applied to, and a merge applied
        // on the node (a stale coordinator, a late retry) must never remove
        // an add made after it was computed (docs/design.md, 'Guest carts').
        if (g.quantity > u->second) {
          out.push_back(Mutation::Add(id, g.sku, g.quantity - u->second, now_ms));
        }
        break;
      case GuestMergeStrategy::kKeepUser:
        break;
    }
  }
  const size_t lines = user_quantity.size() + new_lines;
  if (new_lines > 0 && lines > limits.lines_max) {
    return Status::LimitExceeded("guest merge (" + std::string(GuestMergeStrategyName(strategy)) +
                                 ") would give the user cart " + std::to_string(lines) +
                                 " lines, above lines_max = " + std::to_string(limits.lines_max) +
                                 " (user has " + std::to_string(user_quantity.size()) +
                                 ", guest adds " + std::to_string(new_lines) + " new)");
  }
  return out;
}

Result<CartState> MergeGuestCart(const CartState& guest, const CartState& user,
                                 GuestMergeStrategy strategy, const CartLimits& limits,
                                 uint64_t merge_id, uint64_t now_ms) {
  Result<std::vector<Mutation>> mutations =
      GuestMergeMutations(guest, user, strategy, limits, merge_id, now_ms);
  if (!mutations.ok()) return mutations.status();
  CartState merged = user;
  for (const Mutation& m : *mutations) {
    if (Status s = merged.Apply(m, limits); !s.ok()) {
      return Status(s.code(), "guest merge: " + s.message());
    }
  }
  return merged;
}

}  // namespace trolley
