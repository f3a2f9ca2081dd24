// union+max: Dynamo's shopping cart (DeCandia et al., "Dynamo: Amazon's
// Highly Available Key-value Store", SOSP 2007, §4.4 and §6.1). A line is
// one (quantity, attributes) value; siblings merge by union, each line
// taking its largest quantity. What that costs (resurrected removes,
// collapsed concurrent adds) is written in cart_state.h.
#include <algorithm>
#include <tuple>
#include <utility>

#include "cart/cart_internal.h"
#include "cart/cart_state.h"
#include "common/assert.h"

namespace trolley {

Status CartState::ApplyUnionMax(const Mutation& m, const CartLimits& limits) {
  TROLLEY_ASSERT(semantics_ == CartSemantics::kUnionMax);
  const auto it = lines_.find(m.sku);
  const CartContribution* current = it == lines_.end() ? nullptr : &it->second.begin()->second;
  switch (m.kind) {
    case Mutation::Kind::kAdd:
    case Mutation::Kind::kSetQuantity: {
      if (m.kind == Mutation::Kind::kSetQuantity && m.quantity == 0) {
        lines_.erase(m.sku);
        return Status::Ok();
      }
      if (Status s = CheckNewLine(m, limits); !s.ok()) return s;
      if (m.kind == Mutation::Kind::kAdd && current != nullptr &&
          current->quantity >= limits.quantity_max && m.attributes.empty()) {
        return Status::Ok();  // a "+1" on a full line: applied, changes nothing
      }
      uint32_t quantity = m.quantity;
      if (m.kind == Mutation::Kind::kAdd && current != nullptr) {
        // Capped, never lowered: a line already above a lowered limit keeps
        // its quantity.
        const uint64_t sum = uint64_t{current->quantity} + m.quantity;
        quantity = current->quantity >= limits.quantity_max
                       ? current->quantity
                       : static_cast<uint32_t>(std::min<uint64_t>(sum, limits.quantity_max));
      } else if (m.kind == Mutation::Kind::kAdd) {
        quantity = std::min(quantity, limits.quantity_max);
      }
      CartContribution next{CartContribution::Kind::kSet, quantity, m.now_ms, m.attributes};
      if (next.attributes.empty() && current != nullptr) next.attributes = current->attributes;
      CartContributions line;
      line.emplace(m.id, std::move(next));
      lines_[m.sku] = std::move(line);
      return Status::Ok();
    }
    case Mutation::Kind::kRemove:
      lines_.erase(m.sku);  // a concurrent sibling that still has it brings it back
      return Status::Ok();
    case Mutation::Kind::kClear:
      lines_.clear();
      return Status::Ok();
  }
  TROLLEY_ASSERT_MSG(false, "unknown Mutation::Kind");
  return Status::Ok();
}

void CartState::MergeUnionMax(std::span<const CartState> siblings, CartState& out) {
  TROLLEY_ASSERT(out.lines_.empty());
  // Per sku the greatest (quantity, at_ms, tag, kind, attributes): a total
  // order, so picking the greatest is a join whatever the siblings' order.
  auto key = [](const std::pair<const uint64_t, CartContribution>& e) {
    return std::tie(e.second.quantity, e.second.at_ms, e.first, e.second.kind, e.second.attributes);
  };
  for (const CartState& s : siblings) {
    for (const auto& [sku, line] : s.lines_) {
      TROLLEY_ASSERT(line.size() == 1);
      const auto& candidate = *line.begin();
      auto [it, inserted] = out.lines_.try_emplace(sku, line);
      if (!inserted && key(candidate) > key(*it->second.begin())) it->second = line;
    }
  }
}

}  // namespace trolley
