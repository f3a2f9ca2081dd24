#include "bench/workload.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "common/assert.h"

namespace trolley::bench {

std::string_view OpKindName(OpKind kind) {
  switch (kind) {
    case OpKind::kAdd:
      return "add";
    case OpKind::kGet:
      return "get";
    case OpKind::kSetOrRemove:
      return "set/remove";
    case OpKind::kCheckout:
      return "checkout";
  }
  return "?";
}

std::string_view OpKindKey(OpKind kind) {
  return kind == OpKind::kSetOrRemove ? "set_remove" : OpKindName(kind);
}

OpKind CartOp::kind() const {
  switch (type) {
    case Type::kAdd:
      return OpKind::kAdd;
    case Type::kGet:
      return OpKind::kGet;
    case Type::kSetQuantity:
    case Type::kRemove:
      return OpKind::kSetOrRemove;
    case Type::kCheckout:
      return OpKind::kCheckout;
  }
  return OpKind::kGet;
}

std::string CartIdOf(uint64_t cart) { return "cart-" + std::to_string(cart); }
std::string SkuOf(uint64_t rank) { return "sku-" + std::to_string(rank); }

Result<OpMix> OpMix::Parse(std::string_view text) {
  OpMix mix{0, 0, 0, 0};
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = text.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return Status::InvalidArgument("--mix: '" + std::string(item) + "' is not kind=percent");
    }
    const std::string name(item.substr(0, eq)), value(item.substr(eq + 1));
    char* end = nullptr;
    const double share = std::strtod(value.c_str(), &end);
    if (value.empty() || end != value.c_str() + value.size() || !(share >= 0)) {
      return Status::InvalidArgument("--mix: '" + value + "' is not a share >= 0");
    }
    if (name == "add") {
      mix.add = share;
    } else if (name == "get") {
      mix.get = share;
    } else if (name == "set_remove" || name == "set" || name == "update") {
      mix.set_remove = share;
    } else if (name == "checkout") {
      mix.checkout = share;
    } else {
      return Status::InvalidArgument("--mix: unknown kind '" + name +
                                     "' (add, get, set_remove, checkout)");
    }
  }
  if (mix.add + mix.get + mix.set_remove <= 0) {
    // Checkouts come after modifications (Workload::Next): alone, none runs.
    return Status::InvalidArgument("--mix: add, get and set_remove sum to 0");
  }
  return mix;
}

std::string OpMix::ToString() const {
  char buf[128];
  std::snprintf(buf, sizeof buf, "add=%g,get=%g,set_remove=%g,checkout=%g", add, get, set_remove,
                checkout);
  return buf;
}

uint64_t LineBound::Bound(uint32_t quantity_max) const {
  return std::min<uint64_t>(quantity_max, base + acked_adds);
}

void Ledger::OnStart(const CartOp& op) {
  switch (op.type) {
    case CartOp::Type::kCheckout:
      // It buys (removes) whatever it observes: every line may be gone, and
      // the shopper's later sets and removes pick from what it adds next.
      carts_[op.cart].clear();
      return;
    case CartOp::Type::kRemove:
      // From here on, the line may be gone (if this lands, acked or not).
      carts_[op.cart].erase(op.sku);
      return;
    case CartOp::Type::kSetQuantity: {
      // From here on, what the line held may be gone.
      LineBound& line = carts_[op.cart][op.sku];
      line.base = 0;
      line.acked_adds = 0;
      return;
    }
    case CartOp::Type::kAdd:
    case CartOp::Type::kGet:
      return;
  }
}

void Ledger::OnDone(const CartOp& op, bool acked) {
  switch (op.type) {
    case CartOp::Type::kGet:
    case CartOp::Type::kCheckout:
    case CartOp::Type::kRemove:
      carts_.try_emplace(op.cart);  // read back at the end too
      return;
    case CartOp::Type::kAdd:
    case CartOp::Type::kSetQuantity:
      break;
  }
  LineBound& line = carts_[op.cart][op.sku];
  if (!acked) return;
  if (op.type == CartOp::Type::kAdd) {
    line.acked_adds += op.quantity;
    ++line.acked_add_ops;
    ++acked_add_ops_;
  } else {
    line.base = op.quantity;
  }
}

const std::map<std::string, LineBound>& Ledger::LinesOf(uint64_t cart) const {
  static const std::map<std::string, LineBound> kNone;
  auto it = carts_.find(cart);
  return it == carts_.end() ? kNone : it->second;
}

std::vector<uint64_t> Ledger::Carts() const {
  std::vector<uint64_t> out;
  out.reserve(carts_.size());
  for (const auto& [cart, lines] : carts_) out.push_back(cart);
  std::sort(out.begin(), out.end());
  return out;
}

size_t Ledger::Check(uint64_t cart, const std::map<std::string, uint32_t>& read_back,
                     uint32_t quantity_max, std::vector<LineShortfall>& out) const {
  size_t checked = 0;
  for (const auto& [sku, line] : LinesOf(cart)) {
    const uint64_t bound = line.Bound(quantity_max);
    if (bound == 0) continue;
    ++checked;
    auto it = read_back.find(sku);
    const uint32_t found = it == read_back.end() ? 0 : it->second;
    if (found < bound) out.push_back(LineShortfall{cart, sku, bound, found});
  }
  return checked;
}

Workload::Workload(const WorkloadOptions& options, uint64_t seed)
    : options_(options), random_(seed), zipf_(options.products, options.zipf_exponent) {
  TROLLEY_ASSERT(options.carts >= 1);
  TROLLEY_ASSERT(options.set_quantity_max >= 1);
  const OpMix& mix = options.mix;
  const double total = mix.add + mix.get + mix.set_remove;
  TROLLEY_ASSERT(total > 0);
  add_share_ = mix.add / total;
  get_share_ = add_share_ + mix.get / total;
  if (mix.checkout > 0) {
    modifications_per_checkout_ = std::max(1.0, (mix.add + mix.set_remove) / mix.checkout);
  }
}

uint64_t Workload::PickCart(uint64_t stride, uint64_t offset) {
  TROLLEY_ASSERT(stride >= 1);
  TROLLEY_ASSERT(offset < stride);
  TROLLEY_ASSERT(offset < options_.carts);
  // Carts offset, offset + stride, ... below options_.carts.
  const uint64_t owned = (options_.carts - offset + stride - 1) / stride;
  return offset + stride * random_.Uniform(owned);
}

uint32_t Workload::DrawCheckoutGap() {
  const double m = modifications_per_checkout_;
  const auto lo = static_cast<uint64_t>(std::max(1.0, std::round(m / 2)));
  const auto hi = static_cast<uint64_t>(std::max(1.0, std::round(3 * m / 2)));
  return static_cast<uint32_t>(random_.Range(lo, hi));
}

CartOp CartFillOp(uint64_t cart, uint32_t line) { return CartOp::Add(cart, SkuOf(line + 1), 1); }

CartOp Workload::NextHoldingSize(uint64_t cart) {
  const uint64_t lines = options_.cart_lines;
  TROLLEY_ASSERT(lines > 0);
  const uint64_t n = sets_issued_[cart]++;
  // Line n % L + 1 holds 1 after the fill, then 2, 3, 2, ...: every set changes it.
  return CartOp::SetQuantity(cart, SkuOf(n % lines + 1),
                             static_cast<uint32_t>(2 + (n / lines) % 2));
}

CartOp Workload::Next(uint64_t cart, const Ledger& ledger) {
  if (options_.cart_lines > 0) return NextHoldingSize(cart);
  CartOp op = NextDrawn(cart, ledger);
  if (modifications_per_checkout_ <= 0 || op.type == CartOp::Type::kGet) return op;
  CheckoutClock& clock = checkout_clocks_[cart];
  if (clock.due == 0) {
    // A shopper met for the first time is somewhere in its cycle, so that
    // checkouts run at their share from the start of a run, not only once
    // every cart has made its first M/2 modifications.
    clock.due = DrawCheckoutGap();
    clock.done = static_cast<uint32_t>(random_.Uniform(clock.due));
  }
  if (clock.done < clock.due) {
    ++clock.done;
    return op;
  }
  clock = CheckoutClock{DrawCheckoutGap(), 0};
  return CartOp::Checkout(cart);
}

CartOp Workload::NextDrawn(uint64_t cart, const Ledger& ledger) {
  CartOp op;
  op.cart = cart;
  const double x = random_.NextDouble();
  if (x < add_share_) {
    op.type = CartOp::Type::kAdd;
    op.sku = SkuOf(zipf_.Sample(random_));
    op.quantity = 1;
    return op;
  }
  if (x < get_share_) {
    op.type = CartOp::Type::kGet;
    return op;
  }
  // Set or remove a line the shopper has (as far as the ledger knows),
  // else a popular product.
  const auto& lines = ledger.LinesOf(cart);
  if (lines.empty()) {
    op.sku = SkuOf(zipf_.Sample(random_));
  } else {
    auto it = lines.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(random_.Uniform(lines.size())));
    op.sku = it->first;
  }
  if (random_.Chance(0.5)) {
    op.type = CartOp::Type::kSetQuantity;
    op.quantity = static_cast<uint32_t>(random_.Range(1, options_.set_quantity_max));
  } else {
    op.type = CartOp::Type::kRemove;
  }
  return op;
}

}  // namespace trolley::bench
