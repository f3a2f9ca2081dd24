#include "client/cart_client.h"

#include <random>

#include "cart/view_token.h"
#include "common/clock.h"
#include "common/key.h"
#include "wire/cart_mutation.h"

namespace trolley {
namespace {

uint64_t NowMs() { return SystemClock().NowWallMs(); }

// splitmix64: spreads a seed into well-mixed ids.
uint64_t Mix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

CartClient::CartClient(Client& client, std::vector<CartNamespace> namespaces)
    : client_(client),
      id_state_((uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()) {
  for (CartNamespace& ns : namespaces) namespaces_[ns.name] = std::move(ns);
}

uint64_t CartClient::NewId() {
  uint64_t id = 0;
  while (id == 0) id = Mix(id_state_);
  return id;
}

uint64_t CartClient::NewMutationId(const std::string& key) {
  auto it = sessions_.find(key);
  if (it != sessions_.end() && it->second.ids.exhausted()) {
    EndSession(key);
    it = sessions_.end();
  }
  if (it == sessions_.end()) {
    if (sessions_.size() >= kCartSessionsMax)
      EndSession(std::string(session_order_.begin()->second));
    const uint64_t number = ++sessions_created_;
    it =
        sessions_.emplace(key, Session{CartSession(NewId() >> kMutationCounterBits), number}).first;
    session_order_.emplace(number, key);
  }
  return it->second.ids.Next();
}

void CartClient::EndSession(const std::string& key) {
  const auto it = sessions_.find(key);
  if (it == sessions_.end()) return;
  session_order_.erase(it->second.created);
  sessions_.erase(it);
}

Result<const CartNamespace*> CartClient::Find(const std::string& ns) const {
  auto it = namespaces_.find(ns);
  if (it == namespaces_.end()) {
    std::string known;
    for (const auto& [name, n] : namespaces_) known += (known.empty() ? "" : ", ") + name;
    return Status::InvalidArgument("'" + ns +
                                   "' is not a cart namespace of this client (declared: " +
                                   (known.empty() ? "none" : known) + ")");
  }
  return &it->second;
}

void CartClient::ReadCart(const CartNamespace& ns, const std::string& cart_id, ReadCallback done,
                          uint32_t read_quorum) {
  RequestOptions options;
  options.r = read_quorum;
  client_.Get(ns.name, cart_id, options,
              [semantics = ns.semantics, ns_name = ns.name, cart_id,
               done = std::move(done)](Result<ReadResult> r) {
                if (!r.ok()) return done(r.status());
                Read read{CartState(semantics), r->context, 0, 0, r->found};
                std::vector<CartState> siblings;
                for (const Value& v : r->siblings) {
                  ++read.siblings;
                  read.expiry_ms = std::max(read.expiry_ms, v.expiry_ms);
                  if (v.tombstone) continue;  // a delete concurrent with other versions
                  auto state = CartState::Decode(v.bytes, semantics);
                  if (!state.ok()) {
                    return done(Status(state.status().code(),
                                       ns_name + "/" + cart_id + " does not hold a " +
                                           std::string(CartSemanticsName(semantics)) +
                                           " cart: " + state.status().message()));
                  }
                  siblings.push_back(std::move(*state));
                }
                // One sibling (the usual case) is its own merge: skip the copy.
                read.state = siblings.size() == 1 ? std::move(siblings.front())
                                                  : CartState::Merge(semantics, siblings);
                return done(std::move(read));
              });
}

CartView CartClient::ViewOf(const CartNamespace& ns, const std::string& cart_id,
                            const Read& read) const {
  CartView view;
  view.ns = ns.name;
  view.cart_id = cart_id;
  view.found = read.found;
  view.lines = read.state.Lines(ns.limits);
  view.siblings_merged = read.siblings;
  view.expiry_ms = read.expiry_ms;
  view.merged_into = read.state.merged_into();
  view.context = CartViewToken(read.state);
  return view;
}

Result<CartClient::Read> CartClient::ReadOfWrite(const CartNamespace& ns,
                                                 const WriteResult& w) const {
  Read out{CartState(ns.semantics), w.context, 0, 0, true};
  std::vector<CartState> siblings;
  for (const Value& v : w.siblings) {
    ++out.siblings;
    out.expiry_ms = std::max(out.expiry_ms, v.expiry_ms);
    if (v.tombstone) continue;
    auto s = CartState::Decode(v.bytes, ns.semantics);
    if (!s.ok()) return s.status();
    siblings.push_back(std::move(*s));
  }
  out.state =
      siblings.size() == 1 ? std::move(siblings.front()) : CartState::Merge(ns.semantics, siblings);
  return out;
}

void CartClient::WriteCart(const CartNamespace& ns, const std::string& cart_id,
                           const CartState& state, const Context& context, uint64_t write_id,
                           ViewCallback done) {
  RequestOptions options;
  options.ttl_ms = ns.ttl_ms;
  std::string encoded = state.Encode();
  client_.Put(ns.name, cart_id, encoded, context, options, write_id,
              [this, &ns, cart_id, state, encoded, done = std::move(done)](Result<WriteResult> w) {
                if (!w.ok()) return done(w.status());
                // The usual case: the key now holds exactly what we wrote.
                if (w->siblings.size() == 1 && !w->siblings[0].tombstone &&
                    w->siblings[0].bytes == encoded) {
                  return done(ViewOf(ns, cart_id,
                                     Read{state, w->context, 1, w->siblings[0].expiry_ms, true}));
                }
                // Otherwise writes concurrent with ours left siblings: show
                // their merge.
                Result<Read> after = ReadOfWrite(ns, *w);
                if (!after.ok()) return done(after.status());
                done(ViewOf(ns, cart_id, *after));
              });
}

void CartClient::Get(const std::string& ns_name, const std::string& cart_id, ViewCallback done) {
  auto ns = Find(ns_name);
  if (!ns.ok()) return done(ns.status());
  const CartNamespace& n = **ns;
  ReadCart(n, cart_id, [this, &n, cart_id, done = std::move(done)](Result<Read> r) {
    if (!r.ok()) return done(r.status());
    CartView view = ViewOf(n, cart_id, *r);
    if (r->siblings <= 1) return done(std::move(view));
    // Resolve: write the merge back with the joined context. The read's
    // answer does not depend on it, so a failed write-back is not an error.
    WriteCart(n, cart_id, r->state, r->context, NewId(),
              [view = std::move(view), done = std::move(done)](Result<CartView>) mutable {
                done(std::move(view));
              });
  });
}

void CartClient::Mutate(const std::string& ns_name, const std::string& cart_id, Mutation m,
                        ViewCallback done, const std::string& context) {
  auto ns = Find(ns_name);
  if (!ns.ok()) return done(ns.status());
  const std::string key = ns_name + "/" + cart_id;
  if (m.id == 0) {
    m.id = NewMutationId(key);
    // A failure ends the session: the caller may never retry this id, and
    // a gap in a session's ids would keep its later ids in the cloud.
    done = [this, key, done = std::move(done)](Result<CartView> r) {
      if (!r.ok()) EndSession(key);
      done(std::move(r));
    };
  }
  if (m.now_ms == 0) m.now_ms = NowMs();
  const CartNamespace& n = **ns;
  if (m.kind == Mutation::Kind::kAdd) return SendUpdate(n, cart_id, m, std::move(done));
  if (n.semantics == CartSemantics::kUnionMax) {
    return ReadModifyWrite(n, cart_id, std::move(m), std::move(done));
  }
  const std::string* sku = m.kind == Mutation::Kind::kClear ? nullptr : &m.sku;
  if (!m.observed && !context.empty()) {
    Result<CartState> view = ParseCartViewToken(context, n.semantics);
    if (!view.ok()) return done(view.status());
    m.observed = view->ObservedTags(sku);
  }
  if (m.observed) return SendUpdate(n, cart_id, m, std::move(done));
  // No view to act on: read one (a quorum read, refused while too few
  // replicas answer), then remove what it shows.
  ReadCart(n, cart_id,
           [this, &n, cart_id, m = std::move(m), done = std::move(done)](Result<Read> r) mutable {
             if (!r.ok()) return done(r.status());
             m.observed =
                 r->state.ObservedTags(m.kind == Mutation::Kind::kClear ? nullptr : &m.sku);
             SendUpdate(n, cart_id, m, std::move(done));
           });
}

void CartClient::SendUpdate(const CartNamespace& ns, const std::string& cart_id, const Mutation& m,
                            ViewCallback done) {
  CartUpdate update = CartUpdateOf(ns.name, cart_id, m);
  RequestOptions options;
  options.ttl_ms = ns.ttl_ms;
  client_.Update(std::move(update), options,
                 [this, &ns, cart_id, done = std::move(done)](Result<WriteResult> w) {
                   if (!w.ok()) return done(w.status());
                   Result<Read> after = ReadOfWrite(ns, *w);
                   if (!after.ok()) return done(after.status());
                   done(ViewOf(ns, cart_id, *after));
                 });
}

void CartClient::ReadModifyWrite(const CartNamespace& n, const std::string& cart_id, Mutation m,
                                 ViewCallback done) {
  ReadCart(n, cart_id,
           [this, &n, cart_id, m = std::move(m), done = std::move(done)](Result<Read> r) {
             if (!r.ok()) return done(r.status());
             const bool already = r->state.Applied(m.id);
             if (Status s = r->state.Apply(m, n.limits); !s.ok()) return done(s);
             if (already && r->siblings <= 1)
               return done(ViewOf(n, cart_id, *r));  // a retry that landed
             // A fresh write id, not the mutation id: a retried mutation is a new
             // write of a newer state, and the store drops a write whose id it
             // already holds (found by the simulator). Retries are recognised by the
             // mutation id recorded in the cart instead.
             WriteCart(n, cart_id, r->state, r->context, NewId(), std::move(done));
           });
}

void CartClient::Checkout(const std::string& ns_name, const std::string& cart_id,
                          const std::string& order_id, const std::string& context,
                          CheckoutCallback done) {
  auto ns = Find(ns_name);
  if (!ns.ok()) return done(ns.status());
  const CartNamespace& n = **ns;
  if (n.semantics != CartSemantics::kOrSet) {
    return done(Status::FailedPrecondition(
        "checkout needs an or-set namespace: '" + ns_name +
        "' is union-max, which cannot remove exactly the contributions bought (a concurrent "
        "sibling would bring them back)"));
  }
  if (order_id.empty()) return done(Status::InvalidArgument("checkout: the order id is empty"));
  const uint64_t id = CheckoutMutationId(ns_name, cart_id, order_id);
  auto buy = [this, &n, cart_id, id, done](const CartState& view) {
    Mutation m = Mutation::Clear(id, NowMs());
    m.observed = view.ObservedTags(nullptr);
    std::vector<CartLine> lines = view.Lines(n.limits);
    SendUpdate(n, cart_id, m, [lines = std::move(lines), done](Result<CartView> after) mutable {
      if (!after.ok()) return done(after.status());
      done(CheckoutResult{std::move(lines), std::move(*after)});
    });
  };
  if (!context.empty()) {
    Result<CartState> view = ParseCartViewToken(context, n.semantics);
    if (!view.ok()) return done(view.status());
    return buy(*view);
  }
  ReadCart(n, cart_id, [buy, done](Result<Read> r) {
    if (!r.ok()) return done(r.status());
    buy(r->state);
  });
}

void CartClient::Add(const std::string& ns, const std::string& cart_id, const std::string& sku,
                     uint32_t quantity, std::map<std::string, std::string> attributes,
                     uint64_t mutation_id, ViewCallback done) {
  Mutate(ns, cart_id, Mutation::Add(mutation_id, sku, quantity, 0, std::move(attributes)),
         std::move(done));
}

void CartClient::SetQuantity(const std::string& ns, const std::string& cart_id,
                             const std::string& sku, uint32_t quantity, uint64_t mutation_id,
                             ViewCallback done, const std::string& context) {
  Mutate(ns, cart_id, Mutation::SetQuantity(mutation_id, sku, quantity, 0), std::move(done),
         context);
}

void CartClient::Remove(const std::string& ns, const std::string& cart_id, const std::string& sku,
                        uint64_t mutation_id, ViewCallback done, const std::string& context) {
  Mutate(ns, cart_id, Mutation::Remove(mutation_id, sku, 0), std::move(done), context);
}

void CartClient::Clear(const std::string& ns, const std::string& cart_id, uint64_t mutation_id,
                       ViewCallback done, const std::string& context) {
  Mutate(ns, cart_id, Mutation::Clear(mutation_id, 0), std::move(done), context);
}

void CartClient::MergeGuest(const std::string& guest_ns, const std::string& guest_id,
                            const std::string& user_ns, const std::string& user_id,
                            GuestMergeStrategy strategy, ViewCallback done) {
  auto g = Find(guest_ns);
  if (!g.ok()) return done(g.status());
  const CartNamespace& gn = **g;
  // One replica's copy of the guest cart is enough (r = 1): the merge is
  // of the lines the shopper filled as a guest, and a line that copy
  // missed stays in the guest cart. Only no replica answering refuses it.
  ReadCart(
      gn, guest_id,
      [this, &gn, guest_id, user_ns, user_id, strategy, done = std::move(done)](Result<Read> r) {
        if (!r.ok()) return done(r.status());
        const bool mark = r->found && r->state.merged_into() != user_ns + "/" + user_id;
        MergeGuestState(gn, guest_id, r->state, mark, user_ns, user_id, strategy, std::move(done));
      },
      /*r=*/1);
}

void CartClient::MergeGuest(const CartView& guest, const std::string& user_ns,
                            const std::string& user_id, GuestMergeStrategy strategy,
                            ViewCallback done) {
  auto g = Find(guest.ns);
  if (!g.ok()) return done(g.status());
  if (guest.context.empty()) {
    return done(Status::InvalidArgument(
        "guest merge: the view of " + guest.ns + "/" + guest.cart_id +
        " has no context token; pass a view the Cart API returned, or merge by the guest cart's "
        "id"));
  }
  Result<CartState> state = ParseCartViewToken(guest.context, (*g)->semantics);
  if (!state.ok()) return done(state.status());
  const bool mark = guest.found && guest.merged_into != user_ns + "/" + user_id;
  MergeGuestState(**g, guest.cart_id, *state, mark, user_ns, user_id, strategy, std::move(done));
}

void CartClient::MergeGuestState(const CartNamespace& gn, const std::string& guest_id,
                                 const CartState& guest, bool mark, const std::string& user_ns,
                                 const std::string& user_id, GuestMergeStrategy strategy,
                                 ViewCallback done) {
  auto u = Find(user_ns);
  if (!u.ok()) return done(u.status());
  const CartNamespace& un = **u;
  if (gn.semantics != un.semantics) {
    return done(Status::InvalidArgument("guest namespace '" + gn.name + "' and user namespace '" +
                                        user_ns + "' use different merge semantics"));
  }
  // One merge id per (guest cart, user cart): a repeated login merge is a no-op.
  const uint64_t merge_id = GuestMergeId(gn.name, guest_id, user_ns, user_id);
  const uint64_t now_ms = NowMs();
  CartUpdate update = GuestMergeUpdateOf(user_ns, user_id, guest, strategy, merge_id, now_ms);
  if (update.guest.size() > kCartGuestBytesMax) {
    return done(Status::LimitExceeded("guest merge: the guest cart " + gn.name + "/" + guest_id +
                                      " is " + std::to_string(update.guest.size()) +
                                      " bytes, above the " + std::to_string(kCartGuestBytesMax) +
                                      " a merge carries; remove lines from it first"));
  }
  RequestOptions options;
  options.ttl_ms = un.ttl_ms;
  // The merge, applied by the user cart's coordinator to its own copy
  // (node/cart_update.h): no read of the user cart.
  client_.Update(std::move(update), options,
                 [this, &gn, &un, guest_id, user_id, mark, merge_id, now_ms,
                  done = std::move(done)](Result<WriteResult> w) mutable {
                   if (!w.ok()) return done(w.status());
                   Result<Read> after = ReadOfWrite(un, *w);
                   if (!after.ok()) return done(after.status());
                   CartView user_view = ViewOf(un, user_id, *after);
                   if (!mark) return done(std::move(user_view));
                   MarkGuestMerged(gn, guest_id, un.name + "/" + user_id, merge_id, now_ms,
                                   std::move(user_view), std::move(done));
                 });
}

void CartClient::MarkGuestMerged(const CartNamespace& gn, const std::string& guest_id,
                                 const std::string& user_key, uint64_t merge_id, uint64_t now_ms,
                                 CartView user_view, ViewCallback done) {
  // Marked, not deleted: devices holding the guest cart can tell where its
  // lines went. Also coordinated on the node, without a read.
  RequestOptions options;
  options.ttl_ms = gn.ttl_ms;
  client_.Update(MarkMergedUpdateOf(gn.name, guest_id, user_key, merge_id, now_ms), options,
                 [user_view = std::move(user_view),
                  done = std::move(done)](Result<WriteResult> marked) mutable {
                   if (!marked.ok()) return done(marked.status());
                   done(std::move(user_view));
                 });
}

std::vector<CartNamespace> CartNamespacesOf(const std::vector<NamespaceInfo>& namespaces) {
  std::vector<CartNamespace> out;
  for (const NamespaceInfo& ns : namespaces) {
    if (ns.merge == "union-max")
      out.push_back(CartNamespace{ns.name, CartSemantics::kUnionMax, {}, 0});
    if (ns.merge == "or-set") out.push_back(CartNamespace{ns.name, CartSemantics::kOrSet, {}, 0});
  }
  return out;
}

// ---- BlockingCartClient ----

Result<std::unique_ptr<BlockingCartClient>> BlockingCartClient::Create(
    ClientOptions options, std::vector<CartNamespace> namespaces) {
  std::unique_ptr<BlockingCartClient> c(new BlockingCartClient());
  auto client = BlockingClient::Create(std::move(options));
  if (!client.ok()) return client.status();
  c->client_ = std::move(*client);
  c->carts_ = std::make_unique<CartClient>(c->client_->async(), std::move(namespaces));
  return c;
}

Result<std::unique_ptr<BlockingCartClient>> BlockingCartClient::Create(ClientOptions options) {
  auto client = BlockingClient::Create(std::move(options));
  if (!client.ok()) return client.status();
  auto namespaces = (*client)->Namespaces();
  if (!namespaces.ok()) return namespaces.status();
  std::unique_ptr<BlockingCartClient> c(new BlockingCartClient());
  c->client_ = std::move(*client);
  c->carts_ = std::make_unique<CartClient>(c->client_->async(), CartNamespacesOf(*namespaces));
  return c;
}

template <typename T, typename Start>
Result<T> BlockingCartClient::Wait(Start start) {
  std::optional<Result<T>> out;
  start([&](Result<T> r) { out.emplace(std::move(r)); });
  asio::io_context& io = client_->io();
  io.restart();
  while (!out) {
    if (io.run_one() == 0)
      return Status::Unavailable("internal: the client's event loop ran out of work");
  }
  return std::move(*out);
}

Result<CartView> BlockingCartClient::Get(const std::string& ns, const std::string& cart_id) {
  return Wait<CartView>([&](auto done) { carts_->Get(ns, cart_id, done); });
}
Result<CartView> BlockingCartClient::Add(const std::string& ns, const std::string& cart_id,
                                         const std::string& sku, uint32_t quantity,
                                         std::map<std::string, std::string> attributes,
                                         uint64_t mutation_id) {
  return Wait<CartView>(
      [&](auto done) { carts_->Add(ns, cart_id, sku, quantity, attributes, mutation_id, done); });
}
Result<CartView> BlockingCartClient::SetQuantity(const std::string& ns, const std::string& cart_id,
                                                 const std::string& sku, uint32_t quantity,
                                                 uint64_t mutation_id, const std::string& context) {
  return Wait<CartView>([&](auto done) {
    carts_->SetQuantity(ns, cart_id, sku, quantity, mutation_id, done, context);
  });
}
Result<CartView> BlockingCartClient::Remove(const std::string& ns, const std::string& cart_id,
                                            const std::string& sku, uint64_t mutation_id,
                                            const std::string& context) {
  return Wait<CartView>(
      [&](auto done) { carts_->Remove(ns, cart_id, sku, mutation_id, done, context); });
}
Result<CartView> BlockingCartClient::Clear(const std::string& ns, const std::string& cart_id,
                                           uint64_t mutation_id, const std::string& context) {
  return Wait<CartView>([&](auto done) { carts_->Clear(ns, cart_id, mutation_id, done, context); });
}
Result<CartView> BlockingCartClient::Mutate(const std::string& ns, const std::string& cart_id,
                                            Mutation mutation, const std::string& context) {
  return Wait<CartView>([&](auto done) { carts_->Mutate(ns, cart_id, mutation, done, context); });
}
Result<CheckoutResult> BlockingCartClient::Checkout(const std::string& ns,
                                                    const std::string& cart_id,
                                                    const std::string& order_id,
                                                    const std::string& context) {
  return Wait<CheckoutResult>(
      [&](auto done) { carts_->Checkout(ns, cart_id, order_id, context, done); });
}
Result<CartView> BlockingCartClient::MergeGuest(const CartView& guest, const std::string& user_ns,
                                                const std::string& user_id,
                                                GuestMergeStrategy strategy) {
  return Wait<CartView>(
      [&](auto done) { carts_->MergeGuest(guest, user_ns, user_id, strategy, done); });
}
Result<CartView> BlockingCartClient::MergeGuest(const std::string& guest_ns,
                                                const std::string& guest_id,
                                                const std::string& user_ns,
                                                const std::string& user_id,
                                                GuestMergeStrategy strategy) {
  return Wait<CartView>(
      [&](auto done) { carts_->MergeGuest(guest_ns, guest_id, user_ns, user_id, strategy, done); });
}

}  // namespace trolley
