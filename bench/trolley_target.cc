#include "bench/trolley_target.h"

#include <algorithm>
#include <utility>

namespace trolley::bench {
namespace {

OpOutcome OutcomeOf(const Result<CartView>& r) {
  if (r.ok()) return OpOutcome::Of("", "");
  return OpOutcome::Of(std::string(StatusCodeName(r.status().code())), r.status().message());
}

}  // namespace

TrolleyTarget::TrolleyTarget(asio::io_context& io, TrolleyTargetOptions options)
    : io_(io), options_(std::move(options)) {}

TrolleyTarget::~TrolleyTarget() = default;

void TrolleyTarget::Connect(std::function<void(Status)> done) {
  auto client = Client::Create(io_, options_.client);
  if (!client.ok()) return done(client.status());
  client_ = std::move(*client);
  client_->Namespaces([this, done = std::move(done)](Result<std::vector<NamespaceInfo>> r) {
    if (!r.ok()) return done(r.status());
    std::vector<CartNamespace> carts = CartNamespacesOf(*r);
    bool found = false;
    std::string known;
    for (const CartNamespace& ns : carts) {
      found |= ns.name == options_.ns;
      known += (known.empty() ? "" : ", ") + ns.name;
    }
    if (!found) {
      return done(Status::InvalidArgument("namespace '" + options_.ns +
                                          "' is not a cart namespace of the cluster (cart "
                                          "namespaces: " +
                                          (known.empty() ? "none" : known) + ")"));
    }
    carts_ = std::make_unique<CartClient>(*client_, std::move(carts));
    done(Status::Ok());
  });
}

namespace {
const std::string kNoView;  // no token yet: the Cart API reads the cart first
}  // namespace

void TrolleyTarget::Execute(const CartOp& op, std::function<void(OpOutcome)> done) {
  TROLLEY_ASSERT(carts_ != nullptr);
  auto finish = [this, cart = op.cart, done = std::move(done)](Result<CartView> r) {
    if (r.ok()) views_[cart] = r->context;
    done(OutcomeOf(r));
  };
  const std::string cart_id = CartIdOf(op.cart);
  const auto view = views_.find(op.cart);
  const std::string& context = view == views_.end() ? kNoView : view->second;
  switch (op.type) {
    case CartOp::Type::kAdd:
      return carts_->Add(options_.ns, cart_id, op.sku, op.quantity, {}, 0, std::move(finish));
    case CartOp::Type::kGet:
      return carts_->Get(options_.ns, cart_id, std::move(finish));
    case CartOp::Type::kSetQuantity:
      return carts_->SetQuantity(options_.ns, cart_id, op.sku, op.quantity, 0, std::move(finish),
                                 context);
    case CartOp::Type::kRemove:
      return carts_->Remove(options_.ns, cart_id, op.sku, 0, std::move(finish), context);
    case CartOp::Type::kCheckout: {
      // A fresh order id per checkout: the client retries under it, so a
      // retried checkout buys the view's lines once.
      const std::string order_id = cart_id + "-order-" + std::to_string(++orders_);
      return carts_->Checkout(options_.ns, cart_id, order_id, context,
                              [finish = std::move(finish)](Result<CheckoutResult> r) {
                                if (!r.ok()) return finish(r.status());
                                finish(std::move(r->cart));
                              });
    }
  }
}

void TrolleyTarget::ReadCart(uint64_t cart,
                             std::function<void(Result<std::vector<CartLineView>>)> done) {
  TROLLEY_ASSERT(carts_ != nullptr);
  carts_->Get(options_.ns, CartIdOf(cart), [done = std::move(done)](Result<CartView> r) {
    if (!r.ok()) return done(r.status());
    std::vector<CartLineView> lines;
    lines.reserve(r->lines.size());
    for (const CartLine& line : r->lines) lines.push_back({line.sku, line.quantity});
    done(std::move(lines));
  });
}

void TrolleyTarget::StoredCartBytes(uint64_t cart, std::function<void(Result<size_t>)> done) {
  TROLLEY_ASSERT(client_ != nullptr);
  client_->Get(options_.ns, CartIdOf(cart), RequestOptions{},
               [done = std::move(done)](Result<ReadResult> r) {
                 if (!r.ok()) return done(r.status());
                 size_t bytes = 0;
                 for (const Value& v : r->siblings) bytes = std::max(bytes, v.bytes.size());
                 done(bytes);
               });
}

}  // namespace trolley::bench
