#include "bench/peer_cart.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/enum_names.h"

namespace trolley::bench {

namespace {

constexpr EnumName<CartLayout> kCartLayoutNames[] = {{CartLayout::kWholeCart, "whole-cart"},
                                                     {CartLayout::kPerLine, "per-line"}};

}  // namespace

std::string_view CartLayoutName(CartLayout layout) { return NameOf(kCartLayoutNames, layout); }

Result<CartLayout> ParseCartLayout(std::string_view text) {
  return ParseName(kCartLayoutNames, text, "--layout");
}

Result<PeerCart> PeerCart::Decode(std::string_view json) {
  PeerCart cart;
  if (json.empty()) return cart;
  const nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::InvalidArgument("peer cart: not a JSON object: " +
                                   std::string(json.substr(0, 64)));
  }
  for (const auto& [sku, quantity] : doc.items()) {
    if (!quantity.is_number_unsigned() || quantity.get<uint64_t>() == 0 ||
        quantity.get<uint64_t>() > std::numeric_limits<uint32_t>::max()) {
      return Status::InvalidArgument("peer cart: line '" + sku +
                                     "' has no quantity in [1, 2^32): " + quantity.dump());
    }
    cart.lines_[sku] = quantity.get<uint32_t>();
  }
  return cart;
}

Result<PeerCart> PeerCart::FromLines(
    const std::vector<std::pair<std::string, std::string>>& sku_and_quantity) {
  PeerCart cart;
  for (const auto& [sku, text] : sku_and_quantity) {
    uint64_t quantity = 0;
    const bool digits =
        !text.empty() && text.size() <= 10 &&
        std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits) quantity = std::stoull(text);
    if (!digits || quantity == 0 || quantity > std::numeric_limits<uint32_t>::max()) {
      return Status::InvalidArgument("peer cart: line '" + sku +
                                     "' has no quantity in [1, 2^32): '" + text.substr(0, 32) +
                                     "'");
    }
    cart.lines_[sku] = static_cast<uint32_t>(quantity);
  }
  return cart;
}

std::string PeerCart::Encode() const {
  nlohmann::json doc = nlohmann::json::object();
  for (const auto& [sku, quantity] : lines_) doc[sku] = quantity;
  return doc.dump();
}

void PeerCart::Apply(const CartOp& op, uint32_t quantity_max) {
  switch (op.type) {
    case CartOp::Type::kGet:
      return;
    case CartOp::Type::kAdd: {
      uint32_t& quantity = lines_[op.sku];
      quantity =
          static_cast<uint32_t>(std::min<uint64_t>(uint64_t{quantity} + op.quantity, quantity_max));
      if (quantity == 0) lines_.erase(op.sku);
      return;
    }
    case CartOp::Type::kSetQuantity:
      if (op.quantity == 0) {
        lines_.erase(op.sku);
      } else {
        lines_[op.sku] = std::min(op.quantity, quantity_max);
      }
      return;
    case CartOp::Type::kRemove:
      lines_.erase(op.sku);
      return;
    case CartOp::Type::kCheckout:
      lines_.clear();
      return;
  }
}

std::vector<CartLineView> PeerCart::View() const {
  std::vector<CartLineView> out;
  out.reserve(lines_.size());
  for (const auto& [sku, quantity] : lines_) out.push_back({sku, quantity});
  return out;
}

}  // namespace trolley::bench
