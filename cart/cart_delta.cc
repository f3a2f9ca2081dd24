// CartState::DeltaOf: the delta-state of an OR-Set mutation (cart_state.h
// states the contract; docs/design.md, 'Size-independent writes'). It
// mirrors ApplyOrSet (or_set.cc) case by case, but writes what the
// mutation adds into a state of its own instead of changing this one:
// the contribution it makes, and, as context, its id and the tags it
// removes. tests/cart/cart_delta_test.cc holds the two to each other.
#include <algorithm>
#include <string>

#include "cart/cart_internal.h"
#include "cart/cart_state.h"
#include "common/assert.h"

namespace trolley {

Result<CartState> CartState::DeltaOf(const Mutation& m, const CartLimits& limits) const {
  if (semantics_ != CartSemantics::kOrSet) {
    return Status::FailedPrecondition(
        "cart: a union-max cart has no delta (a line is one value, and a remove cannot be "
        "shipped without the cart); write its whole state");
  }
  bool retry = false;
  if (Status s = Admit(m, limits, retry); !s.ok()) return s;
  CartState delta(semantics_);
  if (retry) return delta;
  const size_t before = EncodedBytes();
  if (before + GrowthBytesMax(m) > limits.encoded_bytes_max) {
    // Near the size limit only the applied state tells (as in Apply).
    CartState next = *this;
    if (Status s = next.ApplyChecked(m, limits); !s.ok()) return s;
    if (Status s = CheckGrowth(m, limits, next.EncodedBytes(), before); !s.ok()) return s;
  }
  if (Status s = OrSetDelta(m, limits, delta); !s.ok()) return s;
  delta.context_.Add(m.id);
  delta.CheckInvariants();
  return delta;
}

bool CartState::LiveOutside(uint64_t tag, const std::string& sku) const {
  if (!context_.Covers(tag)) return false;  // every live tag is in the context
  for (const auto& [line_sku, line] : lines_) {
    if (line_sku != sku && line.contains(tag)) return true;
  }
  return false;
}

Status CartState::OrSetDelta(const Mutation& m, const CartLimits& limits, CartState& delta) const {
  const auto it = lines_.find(m.sku);
  // The tags of this state's line `m.sku`: what a removal without observed
  // tags removes (ApplyOrSet: "what this state holds was observed").
  auto kill_line = [&] {
    if (it == lines_.end()) return;
    for (const auto& [tag, c] : it->second) delta.context_.Add(tag);
  };
  // KillObserved's effect: every named tag is seen from now on, except one
  // live in another line (of a remove's or set's sku), which stays live.
  auto kill_observed = [&](const std::string* sku) {
    for (uint64_t tag : *m.observed) {
      if (sku == nullptr || !LiveOutside(tag, *sku)) delta.context_.Add(tag);
    }
  };
  auto contribution = [&](CartContribution::Kind kind, uint32_t quantity) {
    CartContribution c{kind, quantity, m.now_ms, m.attributes};
    if (c.attributes.empty() && it != lines_.end()) {
      c.attributes = cart_internal::NewestContribution(it->second).attributes;
    }
    delta.lines_[m.sku].emplace(m.id, std::move(c));
  };
  const bool remove = m.kind == Mutation::Kind::kRemove ||
                      (m.kind == Mutation::Kind::kSetQuantity && m.quantity == 0);
  if (remove) {
    if (m.observed) {
      kill_observed(&m.sku);
    } else {
      kill_line();
    }
    return Status::Ok();
  }
  switch (m.kind) {
    case Mutation::Kind::kAdd: {
      if (Status s = CheckNewLine(m, limits); !s.ok()) return s;
      const uint64_t current = it == lines_.end() ? 0 : cart_internal::RawQuantity(it->second);
      if (current >= limits.quantity_max) return Status::Ok();  // capped out: only the id
      contribution(CartContribution::Kind::kAdd, static_cast<uint32_t>(std::min<uint64_t>(
                                                     m.quantity, limits.quantity_max - current)));
      return Status::Ok();
    }
    case Mutation::Kind::kSetQuantity: {
      if (Status s = CheckNewLine(m, limits); !s.ok()) return s;
      if (m.observed) {
        kill_observed(&m.sku);
      } else {
        kill_line();
      }
      contribution(CartContribution::Kind::kSet, m.quantity);
      return Status::Ok();
    }
    case Mutation::Kind::kClear: {
      if (m.observed) {
        kill_observed(nullptr);
        return Status::Ok();
      }
      for (const auto& [sku, line] : lines_) {
        for (const auto& [tag, c] : line) delta.context_.Add(tag);
      }
      return Status::Ok();
    }
    case Mutation::Kind::kRemove:
      break;  // handled above
  }
  TROLLEY_ASSERT_MSG(false, "unreachable mutation kind in OrSetDelta");
  return Status::Ok();
}

}  // namespace trolley
