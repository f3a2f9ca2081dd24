// The flash-sale and browse workloads: which cart operation a shopper does
// next, and what the acknowledged operations guarantee about the carts at
// the end (the ledger the fault mode checks). Pure: no I/O, no clock; the
// driver (load.h) calls it and a Target (target.h) executes the operations.
//
// Shoppers and carts. Cart i is shopper i's ("cart-<i>"). A shopper has at
// most one operation in flight (the driver keeps a busy flag per cart), as
// a person clicking does; that also makes "what had been acknowledged when
// this operation started" well defined, which the ledger relies on.
//
// Operations. The mix picks the kind: add (1 unit of a product drawn from
// the Zipf popularity, rank 1 hottest, sku "sku-<rank>"), get (read the
// cart), set/remove (half each: set the quantity of a line to 1..5, or
// remove it; the line is one the shopper has, else a Zipf draw),
// or checkout (buy what the cart holds: it reads the lines and empties the
// cart). Checkouts are not drawn like the others: a shopper checks out
// after its K-th modification (add, set, remove) since its last checkout,
// K drawn uniformly from [M/2, 3M/2] each time (the first time, at a
// uniform point of that cycle), M = (add + set_remove) / checkout shares of
// the mix. So checkouts are the mix's share of the
// operations, and a cart holds what ~M/2 modifications left in it. (Drawn
// at random like the others, the gaps would be geometric and the mean cart
// twice as large: a shopper's cart would not remember its last checkout.)
// The flash-sale mix has 2.5 checkouts per 70 modifications (about 3,000
// per 85,000, the design documents' peak): M = 28, and a cart holds about
// ten lines instead of growing for the whole run.
//
// The ledger's check (per cart, per sku), valid for any target whose cart
// merges concurrent versions as an OR-Set (Trolley's carts-orset) or
// serialises them (PostgreSQL, Redis): the line's quantity read back at the
// end must be at least
//     min(quantity_max, base + acked_adds)
// where, counting from the last set/remove *issued* on that line (acked or
// not): base = q if that was an acknowledged SetQuantity(q), else 0; and
// acked_adds = the sum of acknowledged adds issued after it. Why a lower
// bound: an operation that failed may still have landed (a timeout is not
// a no), so an unacknowledged add may add more and an unacknowledged
// set/remove may have removed what it observed; but a set/remove only
// removes what its read observed, and with one operation per shopper in
// flight it cannot observe adds issued after it. So an acknowledged add is
// lost only if the store lost it. The bound is derived for OR-Set and for
// stores that serialise; for Trolley's union-max "carts" namespace it is
// not a guarantee (concurrent versions merge by max, by design). A
// checkout counts as a remove of every line of its cart: when it starts,
// every line's bound drops to 0 (it buys what it observed). The ledger
// then forgets those lines, as a remove forgets its line: a shopper sets
// and removes lines it has, not lines it bought or removed before.
//
// The cart-size workload (WorkloadOptions::cart_lines = L > 0) measures
// what a cart's size costs (docs/benchmarks.md, 'What a cart's size
// costs'). Before the measured run the driver fills every cart to L
// distinct lines, "sku-1" .. "sku-L", one unit each (CartFillOp). Then
// every operation is a SetQuantity of one of those lines, made from the
// view the cart's previous operation returned: the cart's n-th operation
// sets line n % L + 1 to 2 + (n / L) % 2 (2, then 3, then 2 again), so
// every operation changes the cart, none adds or removes a line, and the
// cart stays at L lines. A set, rather than an add and a remove of a new
// SKU alternating, because each operation then has the same shape (one
// contribution replaced by one) and the cart never passes through L + 1
// lines. The mix and the products play no part in it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bench/zipf.h"
#include "common/random.h"
#include "common/status.h"

namespace trolley::bench {

// The kinds latency is reported by.
enum class OpKind : uint8_t { kAdd = 0, kGet = 1, kSetOrRemove = 2, kCheckout = 3 };
inline constexpr size_t kOpKindCount = 4;
std::string_view OpKindName(OpKind kind);  // "add", "get", "set/remove", "checkout"
std::string_view OpKindKey(OpKind kind);   // "add", "get", "set_remove", "checkout" (JSON keys)

struct CartOp {
  enum class Type : uint8_t { kAdd, kGet, kSetQuantity, kRemove, kCheckout };
  Type type = Type::kGet;
  uint64_t cart = 0;      // the shopper's index
  std::string sku;        // add, set, remove
  uint32_t quantity = 0;  // add: units added; set: the new quantity
  OpKind kind() const;

  static CartOp Add(uint64_t cart, std::string sku, uint32_t n = 1) {
    return {Type::kAdd, cart, std::move(sku), n};
  }
  static CartOp SetQuantity(uint64_t cart, std::string sku, uint32_t q) {
    return {Type::kSetQuantity, cart, std::move(sku), q};
  }
  static CartOp Remove(uint64_t cart, std::string sku) {
    return {Type::kRemove, cart, std::move(sku), 0};
  }
  static CartOp Get(uint64_t cart) { return {Type::kGet, cart, "", 0}; }
  static CartOp Checkout(uint64_t cart) { return {Type::kCheckout, cart, "", 0}; }
};

std::string CartIdOf(uint64_t cart);  // "cart-<i>"
std::string SkuOf(uint64_t rank);     // "sku-<rank>"

// Shares of the four kinds, in percent of operations (they need not sum
// to 100; they are normalised).
struct OpMix {
  double add = 60, get = 30, set_remove = 10, checkout = 0;
  // 2.5 checkouts per 70 modifications: the design documents' 3,000
  // checkouts per 85,000 modifications (3.5%).
  static OpMix FlashSale() { return {60, 30, 10, 2.5}; }
  static OpMix Browse() { return {8, 90, 2, 0.35}; }
  // "add=60,get=30,set_remove=10,checkout=2.5" (any subset; missing kinds are 0).
  static Result<OpMix> Parse(std::string_view text);
  std::string ToString() const;
};

struct WorkloadOptions {
  uint64_t carts = 10'000;
  uint64_t products = 10'000;
  double zipf_exponent = 0.99;
  OpMix mix;
  uint32_t set_quantity_max = 5;
  uint32_t quantity_max = 999;  // the cart's own cap (CartLimits::quantity_max)
  uint32_t cart_lines = 0;      // > 0: the cart-size workload, every cart held at this many lines
};

// The cart-size workload's fill: the add that creates line `line` (0-based,
// below the workload's cart_lines) of `cart`.
CartOp CartFillOp(uint64_t cart, uint32_t line);

// The lower bound of one line, as described in the file comment.
struct LineBound {
  uint32_t base = 0;           // an acked SetQuantity(q) since the last set/remove issued
  uint64_t acked_adds = 0;     // units of acked adds since then
  uint64_t acked_add_ops = 0;  // acked add operations since the line was last removed
  uint64_t Bound(uint32_t quantity_max) const;
};

// What the checker found for the lines of one cart read back.
struct LineShortfall {
  uint64_t cart = 0;
  std::string sku;
  uint64_t expected_at_least = 0;
  uint32_t found = 0;
};

class Ledger {
 public:
  // Called when an operation starts and when it ends (acked = the target
  // said ok). Start of a set/remove resets the line's bound (see above).
  void OnStart(const CartOp& op);
  void OnDone(const CartOp& op, bool acked);

  // The lines of `cart` the ledger knows: those added or set since the
  // cart's last checkout and the line's last remove (what the shopper's
  // sets and removes pick from).
  const std::map<std::string, LineBound>& LinesOf(uint64_t cart) const;
  // The carts touched, ascending.
  std::vector<uint64_t> Carts() const;
  uint64_t acked_add_ops() const { return acked_add_ops_; }

  // Compares a cart read back (sku -> quantity) with the bounds; appends
  // every line below its bound to `out` and returns how many lines it checked.
  size_t Check(uint64_t cart, const std::map<std::string, uint32_t>& read_back,
               uint32_t quantity_max, std::vector<LineShortfall>& out) const;

 private:
  // Hashed: every operation looks its cart up, and an ordered map of 10 000
  // carts cost the load generator a tenth of its CPU in cache misses.
  std::unordered_map<uint64_t, std::map<std::string, LineBound>> carts_;
  uint64_t acked_add_ops_ = 0;
};

// Chooses operations. Deterministic given the seed.
class Workload {
 public:
  Workload(const WorkloadOptions& options, uint64_t seed);

  // A uniformly chosen cart among those with index % stride == offset
  // (how threads split the shoppers); stride >= 1, offset < stride.
  uint64_t PickCart(uint64_t stride, uint64_t offset);
  // The next operation of the shopper of `cart`, given what the ledger
  // knows of its lines.
  CartOp Next(uint64_t cart, const Ledger& ledger);

  const WorkloadOptions& options() const { return options_; }
  Random& random() { return random_; }

 private:
  WorkloadOptions options_;
  Random random_;
  ZipfSampler zipf_;
  CartOp NextDrawn(uint64_t cart, const Ledger& ledger);  // add, get, set or remove
  CartOp NextHoldingSize(uint64_t cart);                  // the cart-size workload's set

  // Modifications a shopper makes before its next checkout, and since its last.
  struct CheckoutClock {
    uint32_t due = 0, done = 0;
  };
  uint32_t DrawCheckoutGap();

  double add_share_, get_share_;           // cumulative thresholds in [0, 1], checkouts aside
  double modifications_per_checkout_ = 0;  // M above; 0: no checkouts
  std::unordered_map<uint64_t, CheckoutClock> checkout_clocks_;
  std::unordered_map<uint64_t, uint64_t> sets_issued_;  // cart-size workload, per cart
};

}  // namespace trolley::bench
