// The delta-state of an OR-Set mutation (CartState::DeltaOf states the
// contract; docs/design.md, 'Size-independent writes'), from a cart however
// it is held: a CartState, or a head and lines read one at a time
// (cart_lines.h, DeltaOfLines). It mirrors ApplyOrSet (or_set.cc) case by
// case, but writes what the mutation adds into a state of its own: the
// contribution it makes, and, as context, its id and the tags it removes.
// tests/cart/cart_delta_test.cc and cart_lines_test.cc hold it to Apply.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cart/cart_internal.h"
#include "cart/cart_lines.h"
#include "cart/cart_state.h"
#include "common/assert.h"

namespace trolley {
namespace {

// The delta once admitted and not a retry (ApplyOrSet's cases).
Status BuildOrSetDelta(const cart_internal::CartDeltaSource& src, const Mutation& m,
                       const CartLimits& limits, CartContext& context,
                       std::map<std::string, CartContributions>& lines) {
  const CartContributions* line = src.line;
  // A removal without observed tags removes what this copy holds of the
  // line ("what this state holds was observed").
  auto kill_line = [&] {
    if (line == nullptr) return;
    for (const auto& [tag, c] : *line) context.Add(tag);
  };
  // KillObserved's effect: every named tag is seen from now on, except one
  // live in another line (of a remove's or set's sku), which stays live.
  auto kill_observed = [&](const std::string* sku) {
    for (uint64_t tag : *m.observed) {
      if (sku == nullptr || !src.live_outside(tag, *sku)) context.Add(tag);
    }
  };
  auto contribution = [&](CartContribution::Kind kind, uint32_t quantity) {
    CartContribution c{kind, quantity, m.now_ms, m.attributes};
    if (c.attributes.empty() && line != nullptr) {
      c.attributes = cart_internal::NewestContribution(*line).attributes;
    }
    lines[m.sku].emplace(m.id, std::move(c));
  };
  auto new_line = [&] {
    return cart_internal::CheckNewLine(m, limits, line != nullptr, src.sizes.lines);
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
      if (Status s = new_line(); !s.ok()) return s;
      const uint64_t current = line == nullptr ? 0 : cart_internal::RawQuantity(*line);
      if (current >= limits.quantity_max) return Status::Ok();  // capped out: only the id
      contribution(CartContribution::Kind::kAdd, static_cast<uint32_t>(std::min<uint64_t>(
                                                     m.quantity, limits.quantity_max - current)));
      return Status::Ok();
    }
    case Mutation::Kind::kSetQuantity: {
      if (Status s = new_line(); !s.ok()) return s;
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
      for (const std::string& sku : src.skus()) {
        const std::optional<CartContributions> held = src.read(sku);
        if (!held) continue;
        for (const auto& [tag, c] : *held) context.Add(tag);
      }
      return Status::Ok();
    }
    case Mutation::Kind::kRemove:
      break;  // handled above
  }
  TROLLEY_ASSERT_MSG(false, "unreachable mutation kind in BuildOrSetDelta");
  return Status::Ok();
}

}  // namespace

namespace cart_internal {

Result<CartState> OrSetDeltaOf(const CartDeltaSource& src, const Mutation& m,
                               const CartLimits& limits) {
  bool retry = false;
  if (Status s = AdmitMutation(src.context, CartSemantics::kOrSet, m, limits, retry); !s.ok()) {
    return s;
  }
  if (retry) return CartState(CartSemantics::kOrSet);
  CartContext context;
  std::map<std::string, CartContributions> lines;
  if (Status s = BuildOrSetDelta(src, m, limits, context, lines); !s.ok()) return s;
  context.Add(m.id);
  CartSplit delta_split;
  delta_split.head.context = std::move(context);
  delta_split.lines = std::move(lines);
  for (const auto& [sku, line] : delta_split.lines) {
    delta_split.head.sizes += SizesOfLine(sku, line);
  }
  CartState delta = AssembleCart(delta_split);
  // Only the size limit is left: near it, the joined cart tells (as Apply
  // decides on a copy).
  const size_t before = EncodedBytesOf(src.sizes, src.context, src.merged_into);
  if (before + GrowthBytesMax(m, src.line) > limits.encoded_bytes_max) {
    CartHead after{src.context, src.merged_into, src.sizes};
    const std::vector<std::string> scope =
        m.kind == Mutation::Kind::kClear ? src.skus() : std::vector<std::string>{m.sku};
    (void)JoinDeltaIntoLines(after, delta, scope, src.read);
    if (Status s =
            CheckGrowth(m, limits, EncodedBytes(after), before, src.sizes.lines, src.context);
        !s.ok()) {
      return s;
    }
  }
  return delta;
}

}  // namespace cart_internal

Result<CartState> CartState::DeltaOf(const Mutation& m, const CartLimits& limits) const {
  if (semantics_ != CartSemantics::kOrSet) {
    return Status::FailedPrecondition(
        "cart: a union-max cart has no delta (a line is one value, and a remove cannot be "
        "shipped without the cart); write its whole state");
  }
  const auto it = lines_.find(m.sku);
  CartLineSizes sizes;
  for (const auto& [sku, line] : lines_) sizes += cart_internal::SizesOfLine(sku, line);
  const cart_internal::CartDeltaSource source{
      .context = context_,
      .sizes = sizes,
      .merged_into = merged_into_,
      .line = it == lines_.end() ? nullptr : &it->second,
      .live_outside =
          [this](uint64_t tag, const std::string& sku) {
            if (!context_.Covers(tag)) return false;  // every live tag is in the context
            for (const auto& [line_sku, line] : lines_) {
              if (line_sku != sku && line.contains(tag)) return true;
            }
            return false;
          },
      .skus =
          [this] {
            std::vector<std::string> out;
            for (const auto& [sku, line] : lines_) out.push_back(sku);
            return out;
          },
      .read = [this](const std::string& sku) -> std::optional<CartContributions> {
        auto found = lines_.find(sku);
        if (found == lines_.end()) return std::nullopt;
        return found->second;
      }};
  return cart_internal::OrSetDeltaOf(source, m, limits);
}

Result<CartState> DeltaOfLines(
    const CartHead& head, const Mutation& m, const CartLimits& limits, const CartLineReader& read,
    const std::function<std::vector<std::string>()>& skus,
    const std::function<bool(uint64_t, const std::string&)>& live_outside) {
  const std::optional<CartContributions> line = read(m.sku);
  const cart_internal::CartDeltaSource source{.context = head.context,
                                              .sizes = head.sizes,
                                              .merged_into = head.merged_into,
                                              .line = line ? &*line : nullptr,
                                              .live_outside = live_outside,
                                              .skus = skus,
                                              .read = read};
  return cart_internal::OrSetDeltaOf(source, m, limits);
}

}  // namespace trolley
