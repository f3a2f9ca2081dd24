// CartState: the value of one shopping cart, and how its siblings merge.
//
// The store keeps opaque values with siblings (storage/sibling_set.h); this
// is the value of a cart key. A client reads a key's siblings, decodes each,
// merges them into one CartState, applies a Mutation and writes the result
// back with the context it read (docs/design.md, 'The Cart API'). The
// deterministic simulator does the same with its own replicas. Pure: no
// I/O, no clock (time comes in as Mutation::now_ms), no randomness. Value
// type; not thread-safe.
//
// Two semantics, fixed per namespace and recorded in the state itself (a
// value is never read with the other one: Decode refuses it):
//
//  * union+max (Dynamo §6.1). A line is (sku, quantity, attributes); Merge
//    takes the union of lines, each with its largest quantity. Small and
//    simple, with two documented anomalies:
//      - resurrection: Remove deletes the line locally; a concurrent sibling
//        that still holds it brings it back on the next Merge. (Lowering a
//        quantity is undone the same way.)
//      - collapse: concurrent "+1" from two devices each make quantity 1;
//        Merge keeps 1, not 2.
//
//  * OR-Set (observed-remove set, add-wins; Shapiro, Preguiça, Baquero,
//    Zawirski, "A comprehensive study of Convergent and Commutative
//    Replicated Data Types", INRIA RR-7506, 2011, §3.3.5), held as an
//    ORSWOT (Bieniusa et al., "An optimized conflict-free replicated set",
//    2012): no tombstones. A line is a set of contributions, each tagged
//    with the id of the mutation that made it: Add(+n) adds an "add n";
//    SetQuantity(q) removes the contributions of that sku it observed and
//    adds a "set q"; Remove removes the observed contributions; Clear
//    removes every observed contribution. Quantity = the largest surviving
//    "set" (or 0) + the sum of surviving "add"s, capped at quantity_max.
//    The state's causal context (cart/cart_context.h) holds every mutation
//    id it has seen; a removal drops the observed contributions and adds
//    their tags to the context (also tags it has not seen yet: when that
//    contribution arrives, it is dropped). Merge keeps a contribution iff
//    every sibling either holds it or has not seen it (its context does not
//    cover the tag). So concurrent "+1"s both count, a concurrent add
//    survives a remove that did not observe it, and an observed remove
//    never comes back, while a removed contribution leaves nothing behind
//    but its id in the context, which costs nothing once its session's ids
//    are contiguous.
//
// Idempotence (both semantics). Every mutation carries a nonzero id; Apply
// adds it to the context, and Apply of an id the context covers (Applied())
// changes nothing. Merge joins contexts, so a mutation applied in any
// sibling is applied in the merge, forever: no window, no eviction. A
// mutation id is a dot (cart_context.h): numbered by a session without gaps
// (CartSession), a cart's ids cost 8 bytes per session; any other id costs
// 8 bytes for good (as a version-2 tombstone did). union+max keeps the
// context for idempotence only.
//
// Size. A mutation that would grow the encoding past encoded_bytes_max is
// refused with LimitExceeded naming the limit: the cart becomes read-only
// rather than silently unsafe. (Mutations that shrink it are accepted.)
//
// Limits and capping (CartLimits). An Add whose result would exceed
// quantity_max is capped at quantity_max, not refused: an always-writable
// cart should take a "+1" click; the click is still recorded as applied.
// An Add of more than quantity_max at once, a SetQuantity above it, a new
// line beyond lines_max, and oversized skus and attributes are refused
// with LimitExceeded naming the limit and the value. Concurrent adds can
// still push an OR-Set line past quantity_max; Lines() caps what it shows.
//
// Attributes (a small free-form map such as size or colour) describe a
// line. A mutation with attributes sets them; one without keeps the
// line's current ones. In OR-Set each contribution carries the line's
// attributes and the line shows those of its newest contribution by
// (now_ms, tag): last writer wins, by client clock.
//
// Invariants, checked by CheckInvariants():
//  1. Lines are keyed by non-empty skus; every line has >= 1 contribution;
//     every contribution has a nonzero tag and quantity >= 1, and its
//     attributes have non-empty keys.
//  2. union+max: exactly one contribution per line, of kind set.
//  3. OR-Set: no tag appears in two lines.
//  4. Every live tag is covered by the context; the context is canonical
//     (cart_context.h); merged_into, when present, is non-empty.
// Decode checks the same on untrusted bytes and returns Corruption instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cart/cart_context.h"
#include "common/status.h"

namespace trolley {

enum class CartSemantics : uint8_t { kUnionMax, kOrSet };

// "union-max" or "or-set".
std::string_view CartSemanticsName(CartSemantics semantics);

struct CartLimits {
  size_t lines_max = 200;                 // lines in one cart
  uint32_t quantity_max = 999;            // per line; at most kCartQuantityLimit
  size_t encoded_bytes_max = 256 * 1024;  // Encode().size()
  size_t attributes_max = 8;              // per line
  size_t attribute_bytes_max = 256;       // key + value of one attribute
  size_t sku_bytes_max = 128;
  size_t observed_tags_max = 8192;  // Mutation::observed
};

// The format version this build writes, and the newest it reads (it reads
// every version from 1).
inline constexpr uint16_t kCartFormatVersion = 3;
inline constexpr size_t kCartHeaderBytes = 4;
inline constexpr char kCartMagic[2] = {'T', 'K'};
// The largest quantity a cart stores (the format's bound): a larger
// CartLimits::quantity_max is refused by Apply.
inline constexpr uint32_t kCartQuantityLimit = 0x7fffffff;
// MarkMergedInto's key, "ns/cart_id": the store's namespace and key limits
// (storage/engine.h: 64 and 400 bytes) and the slash; node/cart_update.cc
// asserts the sum.
inline constexpr size_t kCartKeyBytesMax = 64 + 1 + 400;

using CartAttributes = std::map<std::string, std::string>;

// One line as a shopper sees it.
struct CartLine {
  std::string sku;
  uint32_t quantity = 0;  // 1..quantity_max
  CartAttributes attributes;
  friend bool operator==(const CartLine&, const CartLine&) = default;
};

// One change to a cart, as the client issues it. `id` names the mutation
// for idempotence and must be unique per cart: a session's numbering
// (CartSession) keeps the cart small; random 64-bit ids are unique too.
struct Mutation {
  enum class Kind : uint8_t {
    kAdd,          // quantity += n; n in 1..quantity_max
    kSetQuantity,  // quantity = q; q in 0..quantity_max, 0 means kRemove
    kRemove,       // the line goes; quantity and attributes must be empty
    kClear,        // every line goes; sku, quantity and attributes must be empty
  };
  uint64_t id = 0;  // nonzero
  Kind kind = Kind::kAdd;
  std::string sku;
  uint32_t quantity = 0;
  CartAttributes attributes;
  uint64_t now_ms = 0;  // the client's wall clock, Unix ms
  // OR-Set remove, set and clear only: the contribution tags of the view the
  // shopper acted on (CartState::ObservedTags). When given, exactly these
  // are removed, whether or not this state holds them yet: a tag it lacks
  // joins the context, which drops the contribution when it arrives, so
  // a coordinator with an older copy still applies the removal fully, and
  // a contribution the shopper did not see is never removed. A tag live
  // in another line than a remove's or set's sku is left alone. When
  // absent, what this state holds is what was observed (a client applying
  // the mutation to the state it just read). At most observed_tags_max.
  std::optional<std::vector<uint64_t>> observed{};

  static Mutation Add(uint64_t id, std::string sku, uint32_t n, uint64_t now_ms,
                      CartAttributes attributes = {});
  static Mutation SetQuantity(uint64_t id, std::string sku, uint32_t q, uint64_t now_ms,
                              CartAttributes attributes = {});
  static Mutation Remove(uint64_t id, std::string sku, uint64_t now_ms);
  static Mutation Clear(uint64_t id, uint64_t now_ms);

  friend bool operator==(const Mutation&, const Mutation&) = default;
};

// "add", "set_quantity", "remove", "clear": a kind as errors and the
// simulator's checker name it.
std::string_view MutationKindName(Mutation::Kind kind);

// Internal structure, exposed read-only for tests, the simulator's checker
// and debugging. In union+max a line has one contribution (kind kSet) whose
// tag is the id of the last mutation that wrote the line.
struct CartContribution {
  enum class Kind : uint8_t { kAdd, kSet };
  Kind kind = Kind::kAdd;
  uint32_t quantity = 0;  // >= 1
  uint64_t at_ms = 0;     // the mutation's now_ms
  CartAttributes attributes;
  friend bool operator==(const CartContribution&, const CartContribution&) = default;
  friend auto operator<=>(const CartContribution&, const CartContribution&) = default;
};
using CartContributions = std::map<uint64_t, CartContribution>;  // by tag

struct CartParts;  // cart_internal.h
struct CartSplit;  // cart_lines.h

class CartState {
 public:
  // An empty cart.
  explicit CartState(CartSemantics semantics) : semantics_(semantics) {}

  CartSemantics semantics() const { return semantics_; }

  // Applies `m`. On error the state is unchanged. If Applied(m.id), returns
  // ok and changes nothing (checked before anything else but id != 0).
  // Errors: InvalidArgument for a malformed mutation (id 0, empty sku, add
  // of 0, an empty attribute key, fields a kind does not take) or limits
  // with quantity_max above kCartQuantityLimit; LimitExceeded for a limit, with its name and the
  // value (see the file comment for which are capped).
  [[nodiscard]] Status Apply(const Mutation& m, const CartLimits& limits);

  // The delta of `m` on this state (delta-state CRDTs: Almeida, Shoker,
  // Baquero, "Delta state replicated data types", 2018), OR-Set only: the
  // state holding just what Apply(m) adds, so that a replica can join the
  // change instead of the whole cart (docs/design.md, 'Size-independent
  // writes'). Its lines are the contribution m makes (add, set), its
  // context m's id and the tags m removes (a tag live in another line than
  // a remove's or set's sku is left out, as Apply leaves it live). So:
  //   1. Merge({*this, delta}) == this state after Apply(m, limits), and
  //      Apply's errors are DeltaOf's, for the same state and mutation;
  //   2. for any T that has merged this state, Merge({T, delta}) ==
  //      Merge({T, this state after m}) (1 and the join laws);
  //   3. its size depends on m, not on the cart: one contribution, m's id
  //      and the tags m names (a remove or set without observed tags names
  //      its line's, a clear without them every live tag).
  // A retry (Applied(m.id)) gives an empty delta. FailedPrecondition for a
  // union+max cart (it has no per-contribution removal to ship).
  Result<CartState> DeltaOf(const Mutation& m, const CartLimits& limits) const;

  // The merge of a key's siblings: a join (commutative, associative,
  // idempotent), so the same siblings in any order, grouped any way, give
  // equal states and byte-identical encodings. Every sibling must have
  // `semantics` (Decode guarantees it; asserted). No siblings: an empty
  // cart. Contexts are joined.
  static CartState Merge(CartSemantics semantics, std::span<const CartState> siblings);

  // The lines a shopper sees, sorted by sku, each with quantity >= 1
  // (capped at limits.quantity_max).
  std::vector<CartLine> Lines(const CartLimits& limits) const;

  // True if Apply of a mutation with this id would change nothing.
  bool Applied(uint64_t mutation_id) const;
  // True if some line holds a contribution tagged `tag`.
  bool HasLiveTag(uint64_t tag) const;
  // Drops `id` (not live) from the context: the removal it stood for can
  // come undone. Only the simulator's planted bug remove-forgets-context
  // calls it (simulation/planted_bug.h).
  void ForgetContextId(uint64_t id);

  // The contribution tags of line `sku` (sorted; empty if there is no such
  // line), or of every line when `sku` is null: what a remove, set or clear
  // acting on this state observes (Mutation::observed).
  std::vector<uint64_t> ObservedTags(const std::string* sku) const;
  // This state's lines, with a context of exactly their tags (no other
  // ids, no merge mark): what a view token carries (cart/view_token.h).
  CartState LinesOnly() const;
  // LinesOnly().Encode(), without copying the lines.
  std::string EncodeLinesOnly() const;

  // Guest carts: after a guest cart is merged into a user's cart at login
  // (cart/guest_merge.h), the guest cart is marked rather than deleted, so
  // a device still holding it can tell where its lines went. The mark
  // survives Merge (the greatest key wins if siblings disagree); Apply
  // still works on a marked cart (the Cart API decides to redirect).
  // InvalidArgument for an empty key, LimitExceeded beyond kCartKeyBytesMax.
  const std::optional<std::string>& merged_into() const { return merged_into_; }
  [[nodiscard]] Status MarkMergedInto(std::string_view user_key);

  // The stored bytes (layout in cart_codec.cc): 4-byte header, then a
  // single-segment Cap'n Proto CartColumns (cart/cart.capnp). Deterministic:
  // equal states give equal bytes. Asserts CheckInvariants().
  std::string Encode() const;
  // Encode().size(), computed without encoding.
  size_t EncodedBytes() const;
  // Untrusted input (disk, network). Never crashes or asserts on it; reads
  // are bounded by Cap'n Proto traversal and nesting limits. Errors: a
  // newer format version, or a cart of the other semantics (a namespace
  // whose semantics changed) -> FailedPrecondition; anything else wrong ->
  // Corruption, saying what. A decoded state passes CheckInvariants().
  // CartLimits are not applied: a cart written under other limits reads.
  static Result<CartState> Decode(std::string_view bytes, CartSemantics expected);

  void CheckInvariants() const;
  // One line per cart line, for test failures and logs.
  std::string DebugString() const;

  // Read-only internals (see CartContribution).
  const std::map<std::string, CartContributions>& lines() const { return lines_; }
  const CartContext& context() const { return context_; }

  friend bool operator==(const CartState&, const CartState&) = default;
  // A cart from a head and lines (cart_lines.h), through FromParts.
  friend CartState AssembleCart(const CartSplit& split);

 private:
  // From checked parts (Decode); asserts the invariants.
  static CartState FromParts(CartParts parts);
  // Apply's checks before anything changes: ok with retry = true when m.id
  // is applied already (Apply changes nothing), else ok or the refusal.
  Status Admit(const Mutation& m, const CartLimits& limits, bool& retry) const;
  // Ok, or the LimitExceeded of a mutation that grows this cart from
  // `before` to `bytes` encoded bytes, past limits.encoded_bytes_max.
  Status CheckGrowth(const Mutation& m, const CartLimits& limits, size_t bytes,
                     size_t before) const;
  // Apply after validation: the semantics, then the id into the context.
  // Changes nothing on error.
  Status ApplyChecked(const Mutation& m, const CartLimits& limits);
  // An upper bound on how much Apply(m) can grow EncodedBytes().
  size_t GrowthBytesMax(const Mutation& m) const;
  Status ApplyUnionMax(const Mutation& m, const CartLimits& limits);
  Status ApplyOrSet(const Mutation& m, const CartLimits& limits);
  static void MergeUnionMax(std::span<const CartState> siblings, CartState& out);
  static void MergeOrSet(std::span<const CartState> siblings, CartState& out);
  Status CheckNewLine(const Mutation& m, const CartLimits& limits) const;
  // OR-Set: removes the live contributions `observed` names (of line `sku`
  // only, or of any line when `sku` is null) and adds every named tag to
  // the context.
  void KillObserved(const std::vector<uint64_t>& observed, const std::string* sku);

  CartSemantics semantics_;
  std::map<std::string, CartContributions> lines_;  // by sku
  CartContext context_;                             // every id seen
  std::optional<std::string> merged_into_;
};

}  // namespace trolley
