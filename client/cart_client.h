// CartClient: the Cart API a cart service calls (docs/design.md, 'The Cart
// API'), on top of Client. A cart is one key; its value is a CartState (cart/cart_state.h),
// whose siblings this layer merges, so callers never see siblings.
//
// Mutations are one request, coordinated on the node (docs/design.md, 'Cart
// updates on the node'): the coordinator applies the mutation to its own
// copy and replicates the result like a put, answering after W acks. An
// add never reads first, so it is refused only when fewer than W nodes are
// reachable at all. Every view carries a context token (CartView::context):
// an OR-Set remove, set, clear or checkout that passes the token of the
// view the shopper acted on removes exactly what that view showed, through
// any coordinator, however stale its copy; an add the view did not show is
// never removed. Without a token, the client reads the cart first (a read
// quorum, which can be refused while replicas are down) and acts on what it
// read. union+max carts cannot remove by tag: their removes, sets and
// clears are a read-modify-write with the read's context (read R, apply,
// write W), as in Dynamo.
// Each mutation has an id (generated when the caller passes 0). The id is
// recorded in the cart's causal context, so retrying a mutation with the
// same id, through any node, never applies it twice, even while the first
// attempt is still replicating. Generated ids are numbered per cart by a
// session (cart/cart_context.h, CartSession): a cart's ids from one client
// then cost 8 bytes in all. A mutation that fails (the caller may not retry
// it) ends its cart's session, so no gap is left in the next session's ids. A read that finds
// siblings writes the merged cart back (with the joined context), so siblings do not pile up.
//
// Checkout (OR-Set only) returns the lines of the view a token names and
// removes exactly those contributions, under a mutation id derived from
// the order id: lines added meanwhile stay in the cart, and a retry with
// the same order id and token returns the same lines and removes nothing
// more. A bought contribution's tag stays in the cart's causal context, so no replica, hint or
// repair brings it back.
//
// Namespaces: the caller declares each cart namespace's semantics (the same
// `merge` as in the nodes' config; a mismatch is a FailedPrecondition on
// the first read of a cart written with the other one), limits, and TTL
// (0: the namespace's TTL on the nodes; every write refreshes it).
//
// Guest carts: MergeGuest() moves a guest cart's lines into a user cart at
// login (strategies sum, max, keep-user; cart/guest_merge.h), then marks the
// guest cart as merged into the user cart instead of deleting it. Both steps
// are CartUpdates coordinated on the node (the merge is computed by the user
// cart's coordinator against its own copy), so the user cart is never read:
// like an add, a merge is refused only when fewer than W nodes are
// reachable (or the merge would pass lines_max, or the guest cart is over
// the limits: kLimitExceeded naming the limit). The guest cart is read
// from one replica (r = 1); pass the guest cart's view instead and nothing
// is read at all. Doing the same merge again, through any node, changes
// nothing (its mutation ids derive from the two carts' keys). If the mark
// fails after the merge landed, the error is returned: calling MergeGuest
// again is safe.
//
// Errors: what Client returns (kUnavailable, kTimeout after its retries),
// kLimitExceeded / kInvalidArgument from the cart rules (lines per cart,
// quantity per line, sizes) with the limit named, kCorruption if a stored
// value is not a cart, kInvalidArgument for an undeclared namespace.
// Threading: like Client (async on the caller's io_context).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cart/cart_state.h"
#include "cart/guest_merge.h"
#include "client/client.h"

namespace trolley {

// The carts whose session a CartClient remembers (see NewMutationId).
inline constexpr size_t kCartSessionsMax = 100'000;

struct CartNamespace {
  std::string name;
  CartSemantics semantics = CartSemantics::kUnionMax;
  CartLimits limits;
  uint64_t ttl_ms = 0;  // 0: the nodes' namespace TTL
};

// What a cart read returns.
struct CartView {
  std::string ns, cart_id;
  bool found = false;
  std::vector<CartLine> lines;             // sorted by sku, quantity >= 1
  size_t siblings_merged = 0;              // versions the read found (1 = no conflict)
  uint64_t expiry_ms = 0;                  // wall clock; 0 = never
  std::optional<std::string> merged_into;  // a guest cart merged at login: "ns/cart_id"
  // The token of this view (cart/view_token.h): pass it to the next
  // remove, set, clear or checkout the shopper makes from this view.
  std::string context;
};

// What a checkout bought, and the cart after it.
struct CheckoutResult {
  std::vector<CartLine> lines;  // the lines of the view the token named
  CartView cart;                // what is left (lines added meanwhile)
};

// The cart namespaces of a cluster, from its namespace list (merge
// "union-max" or "or-set"; others are skipped), with default limits.
std::vector<CartNamespace> CartNamespacesOf(const std::vector<NamespaceInfo>& namespaces);

class CartClient {
 public:
  using ViewCallback = std::function<void(Result<CartView>)>;
  using CheckoutCallback = std::function<void(Result<CheckoutResult>)>;

  CartClient(Client& client, std::vector<CartNamespace> namespaces);

  void Get(const std::string& ns, const std::string& cart_id, ViewCallback done);
  void Add(const std::string& ns, const std::string& cart_id, const std::string& sku,
           uint32_t quantity, std::map<std::string, std::string> attributes, uint64_t mutation_id,
           ViewCallback done);
  // `context`: the token of the view the shopper acted on; empty: read first.
  void SetQuantity(const std::string& ns, const std::string& cart_id, const std::string& sku,
                   uint32_t quantity, uint64_t mutation_id, ViewCallback done,
                   const std::string& context = "");
  void Remove(const std::string& ns, const std::string& cart_id, const std::string& sku,
              uint64_t mutation_id, ViewCallback done, const std::string& context = "");
  void Clear(const std::string& ns, const std::string& cart_id, uint64_t mutation_id,
             ViewCallback done, const std::string& context = "");
  // Any mutation (its id 0: one is generated; its now_ms 0: the wall
  // clock). For an OR-Set removal, mutation.observed, else `context`'s
  // tags, else a read's.
  void Mutate(const std::string& ns, const std::string& cart_id, Mutation mutation,
              ViewCallback done, const std::string& context = "");
  // OR-Set only (FailedPrecondition otherwise). `context` empty: the cart
  // is read first and its lines are what is bought.
  void Checkout(const std::string& ns, const std::string& cart_id, const std::string& order_id,
                const std::string& context, CheckoutCallback done);
  // Returns the user cart after the merge.
  void MergeGuest(const std::string& guest_ns, const std::string& guest_id,
                  const std::string& user_ns, const std::string& user_id,
                  GuestMergeStrategy strategy, ViewCallback done);
  // The same from the guest cart's view the caller holds (its token names
  // the lines that move): no read. InvalidArgument for a view without a
  // token or whose token does not parse.
  void MergeGuest(const CartView& guest, const std::string& user_ns, const std::string& user_id,
                  GuestMergeStrategy strategy, ViewCallback done);

  // A mutation id for cart (ns, cart_id), numbered by this client's session
  // for that cart: pass it to a mutation and reuse it for every retry of
  // that mutation. (Passing 0 asks for one per call.)
  uint64_t NextMutationId(const std::string& ns, const std::string& cart_id) {
    return NewMutationId(ns + "/" + cart_id);
  }

  Client& client() { return client_; }

 private:
  struct Read {
    CartState state;
    Context context;
    size_t siblings = 0;
    uint64_t expiry_ms = 0;
    bool found = false;
  };
  using ReadCallback = std::function<void(Result<Read>)>;

  Result<const CartNamespace*> Find(const std::string& ns) const;
  // read_quorum 0: the namespace's R.
  void ReadCart(const CartNamespace& ns, const std::string& cart_id, ReadCallback done,
                uint32_t read_quorum = 0);
  void WriteCart(const CartNamespace& ns, const std::string& cart_id, const CartState& state,
                 const Context& context, uint64_t write_id, ViewCallback done);
  // The mutation as one CartUpdate; `m` is complete (OR-Set removals carry
  // their observed tags).
  void SendUpdate(const CartNamespace& ns, const std::string& cart_id, const Mutation& m,
                  ViewCallback done);
  // union+max removals: read, apply, write back with the read's context.
  void ReadModifyWrite(const CartNamespace& ns, const std::string& cart_id, Mutation m,
                       ViewCallback done);
  // The guest merge's CartUpdate to the user cart; then, when `mark`, the
  // guest cart's mark (MarkGuestMerged); answers with the user cart.
  void MergeGuestState(const CartNamespace& gn, const std::string& guest_id, const CartState& guest,
                       bool mark, const std::string& user_ns, const std::string& user_id,
                       GuestMergeStrategy strategy, ViewCallback done);
  void MarkGuestMerged(const CartNamespace& gn, const std::string& guest_id,
                       const std::string& user_key, uint64_t merge_id, uint64_t now_ms,
                       CartView user_view, ViewCallback done);
  CartView ViewOf(const CartNamespace& ns, const std::string& cart_id, const Read& read) const;
  // The merge of a write's answer (siblings concurrent with it included).
  Result<Read> ReadOfWrite(const CartNamespace& ns, const WriteResult& w) const;
  uint64_t NewId();
  // The next mutation id for cart `key` ("ns/cart_id"): its session's next.
  uint64_t NewMutationId(const std::string& key);
  // After a failed mutation on `key`: its next id starts a new session.
  void EndSession(const std::string& key);

  Client& client_;
  std::map<std::string, CartNamespace> namespaces_;
  uint64_t id_state_;
  // Per cart this client mutated, its session. At most kCartSessionsMax:
  // beyond it the oldest-created goes (its cart's next id starts a new one).
  struct Session {
    CartSession ids;
    uint64_t created;  // its number in session_order_
  };
  std::map<std::string, Session> sessions_;
  std::map<uint64_t, std::string> session_order_;  // creation number -> key
  uint64_t sessions_created_ = 0;
};

// The same, waiting for each call; owns its BlockingClient.
class BlockingCartClient {
 public:
  static Result<std::unique_ptr<BlockingCartClient>> Create(ClientOptions options,
                                                            std::vector<CartNamespace> namespaces);
  // The namespaces and their semantics as the cluster reports them.
  static Result<std::unique_ptr<BlockingCartClient>> Create(ClientOptions options);
  Result<CartView> Get(const std::string& ns, const std::string& cart_id);
  Result<CartView> Add(const std::string& ns, const std::string& cart_id, const std::string& sku,
                       uint32_t quantity, std::map<std::string, std::string> attributes = {},
                       uint64_t mutation_id = 0);
  Result<CartView> SetQuantity(const std::string& ns, const std::string& cart_id,
                               const std::string& sku, uint32_t quantity, uint64_t mutation_id = 0,
                               const std::string& context = "");
  Result<CartView> Remove(const std::string& ns, const std::string& cart_id, const std::string& sku,
                          uint64_t mutation_id = 0, const std::string& context = "");
  Result<CartView> Clear(const std::string& ns, const std::string& cart_id,
                         uint64_t mutation_id = 0, const std::string& context = "");
  Result<CartView> Mutate(const std::string& ns, const std::string& cart_id, Mutation mutation,
                          const std::string& context = "");
  Result<CheckoutResult> Checkout(const std::string& ns, const std::string& cart_id,
                                  const std::string& order_id, const std::string& context);
  Result<CartView> MergeGuest(const std::string& guest_ns, const std::string& guest_id,
                              const std::string& user_ns, const std::string& user_id,
                              GuestMergeStrategy strategy);
  Result<CartView> MergeGuest(const CartView& guest, const std::string& user_ns,
                              const std::string& user_id, GuestMergeStrategy strategy);
  CartClient& async() { return *carts_; }
  BlockingClient& client() { return *client_; }

 private:
  BlockingCartClient() = default;
  template <typename T, typename Start>
  Result<T> Wait(Start start);
  std::unique_ptr<BlockingClient> client_;
  std::unique_ptr<CartClient> carts_;
};

}  // namespace trolley
