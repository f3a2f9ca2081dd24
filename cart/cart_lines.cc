// A cart as a head and lines (cart_lines.h). The join of one line is the
// ORSWOT rule of CartState::Merge (or_set.cc) for two states, asked of the
// line alone: a contribution survives iff the other state holds it in this
// line or has not seen it (its context does not cover the tag).
#include "cart/cart_lines.h"

#include <set>
#include <utility>

#include "cart/cart_internal.h"
#include "common/assert.h"

namespace trolley {

CartLineSizes& CartLineSizes::operator+=(const CartLineSizes& o) {
  lines += o.lines;
  sku_bytes += o.sku_bytes;
  contributions += o.contributions;
  with_attributes += o.with_attributes;
  attributes_words += o.attributes_words;
  return *this;
}

CartLineSizes& CartLineSizes::operator-=(const CartLineSizes& o) {
  TROLLEY_ASSERT(lines >= o.lines && sku_bytes >= o.sku_bytes && contributions >= o.contributions &&
                 with_attributes >= o.with_attributes && attributes_words >= o.attributes_words);
  lines -= o.lines;
  sku_bytes -= o.sku_bytes;
  contributions -= o.contributions;
  with_attributes -= o.with_attributes;
  attributes_words -= o.attributes_words;
  return *this;
}

CartSplit SplitCart(const CartState& cart) {
  TROLLEY_ASSERT(cart.semantics() == CartSemantics::kOrSet);
  CartSplit out;
  out.head.context = cart.context();
  out.head.merged_into = cart.merged_into();
  out.lines = cart.lines();
  for (const auto& [sku, line] : out.lines) {
    out.head.sizes += cart_internal::SizesOfLine(sku, line);
  }
  return out;
}

CartState AssembleCart(const CartSplit& split) {
  CartLineSizes sizes;
  CartParts parts{CartSemantics::kOrSet, split.lines, split.head.context, split.head.merged_into};
  for (const auto& [sku, line] : split.lines) sizes += cart_internal::SizesOfLine(sku, line);
  TROLLEY_ASSERT_MSG(sizes == split.head.sizes, "a cart head's sizes are not its lines'");
  return CartState::FromParts(std::move(parts));
}

size_t EncodedBytes(const CartHead& head) {
  return cart_internal::EncodedBytesOf(head.sizes, head.context, head.merged_into);
}

namespace {

// The join of line `sku` as `head` (with `ours`) and `delta` hold it.
std::optional<CartContributions> JoinLine(const CartContext& ours_context,
                                          const std::optional<CartContributions>& ours,
                                          const CartContext& theirs_context,
                                          const CartContributions* theirs) {
  CartContributions out;
  if (ours) {
    for (const auto& [tag, c] : *ours) {
      if ((theirs != nullptr && theirs->contains(tag)) || !theirs_context.Covers(tag)) {
        out.emplace(tag, c);
      }
    }
  }
  if (theirs != nullptr) {
    for (const auto& [tag, c] : *theirs) {
      const bool held = ours && ours->contains(tag);
      if (!held && ours_context.Covers(tag)) continue;  // we saw it and dropped it
      auto [it, inserted] = out.try_emplace(tag, c);
      if (!inserted && c > it->second) it->second = c;  // Merge's tie-break, within one sku
    }
  }
  if (out.empty()) return std::nullopt;
  return out;
}

}  // namespace

std::vector<CartLineWrite> JoinDeltaIntoLines(CartHead& head, const CartState& delta,
                                              std::span<const std::string> scope,
                                              const CartLineReader& read) {
  TROLLEY_ASSERT(delta.semantics() == CartSemantics::kOrSet);
  std::set<std::string> skus(scope.begin(), scope.end());
  for (const auto& [sku, line] : delta.lines()) skus.insert(sku);
  std::vector<CartLineWrite> writes;
  for (const std::string& sku : skus) {
    const std::optional<CartContributions> ours = read(sku);
    const auto theirs = delta.lines().find(sku);
    std::optional<CartContributions> joined =
        JoinLine(head.context, ours, delta.context(),
                 theirs == delta.lines().end() ? nullptr : &theirs->second);
    if (joined == ours) continue;
    if (ours) head.sizes -= cart_internal::SizesOfLine(sku, *ours);
    if (joined) head.sizes += cart_internal::SizesOfLine(sku, *joined);
    writes.push_back(CartLineWrite{sku, std::move(joined)});
  }
  head.context.Join(delta.context());
  cart_internal::JoinMergedInto(head.merged_into, delta.merged_into());
  return writes;
}

}  // namespace trolley
