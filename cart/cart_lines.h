// An OR-Set cart held as a head and one record per line: the layout in
// which joining a delta (CartState::DeltaOf) reads and writes only the
// lines the delta names, whatever the cart holds (docs/design.md,
// 'Size-independent writes', step 2). Pure, in memory; the engine that
// stores heads and lines as records is the next step.
//
// Contract (tests/cart/cart_lines_test.cc):
//  1. AssembleCart(SplitCart(s)) == s, and EncodedBytes(head) ==
//     s.EncodedBytes() (what CartLimits::encoded_bytes_max is checked on).
//  2. JoinDeltaIntoLines(head, delta, scope, read) changes the head and
//     returns the writes of the lines that change, such that the cart
//     assembled from them equals CartState::Merge({cart, delta}), when
//     `scope` names every line of the cart that holds a tag of the
//     delta's context which the delta does not hold itself (DeltaOf's
//     delta: the mutation's sku; a clear's: every line), and no tag is
//     live in two different lines of the cart and the delta (mutation ids
//     are unique per cart, so a tag is one sku's contribution).
// Value types; not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cart/cart_context.h"
#include "cart/cart_state.h"
#include "common/status.h"

namespace trolley {

// What a cart's encoding costs per line, summed over lines (so a head can
// keep it current as lines change): lines, sku bytes, contributions,
// contributions with attributes and their attributes' Cap'n Proto words.
struct CartLineSizes {
  uint64_t lines = 0;
  uint64_t sku_bytes = 0;
  uint64_t contributions = 0;
  uint64_t with_attributes = 0;
  uint64_t attributes_words = 0;
  CartLineSizes& operator+=(const CartLineSizes& o);
  CartLineSizes& operator-=(const CartLineSizes& o);  // asserts no field goes below 0
  friend bool operator==(const CartLineSizes&, const CartLineSizes&) = default;
};

// Everything of an OR-Set cart but its lines.
struct CartHead {
  CartContext context;
  std::optional<std::string> merged_into;
  CartLineSizes sizes;  // of the lines
  friend bool operator==(const CartHead&, const CartHead&) = default;
};

struct CartSplit {
  CartHead head;
  std::map<std::string, CartContributions> lines;  // by sku
  friend bool operator==(const CartSplit&, const CartSplit&) = default;
};

// `cart` (OR-Set, asserted) as a head and lines.
CartSplit SplitCart(const CartState& cart);
// The cart of a head and lines; asserts its invariants (cart_state.h) and
// that the head's sizes are the lines'.
CartState AssembleCart(const CartSplit& split);
// The encoded size of the cart a head describes (CartState::EncodedBytes).
size_t EncodedBytes(const CartHead& head);

// The records an engine stores (cart/cart.capnp: CartHeadRecord,
// CartLineRecord), framed like a cart value with magic "TH" / "TL".
// Decoding is untrusted input (disk): Corruption saying what is wrong,
// FailedPrecondition for a newer format, never a crash; a line's sku (its
// key) only names it in errors.
std::string EncodeCartHead(const CartHead& head);
Result<CartHead> DecodeCartHead(std::string_view bytes);
std::string EncodeCartLine(const CartContributions& line);
Result<CartContributions> DecodeCartLine(std::string_view bytes, const std::string& sku);
// AssembleCart of records read from disk: Corruption instead of an
// assertion when the lines and the head disagree (a tag in two lines, a
// live tag the context does not cover, sizes that are not the lines').
Result<CartState> AssembleStoredCart(const CartSplit& split);

// A line as stored: nullopt when the cart has no such line.
using CartLineReader = std::function<std::optional<CartContributions>(const std::string& sku)>;
// A line to store: nullopt to delete it.
struct CartLineWrite {
  std::string sku;
  std::optional<CartContributions> line;
  friend bool operator==(const CartLineWrite&, const CartLineWrite&) = default;
};

// CartState::DeltaOf of the cart held as `head` and lines, reading line
// m.sku through `read`, and every line `skus` lists only for a clear
// without observed tags (or for the size limit when a mutation nears it);
// `live_outside(tag, sku)`: `tag` is live in a line other than `sku` (the
// removal's observed tags that are another line's stay live). The same
// delta and errors as DeltaOf of the assembled cart.
Result<CartState> DeltaOfLines(
    const CartHead& head, const Mutation& m, const CartLimits& limits, const CartLineReader& read,
    const std::function<std::vector<std::string>()>& skus,
    const std::function<bool(uint64_t, const std::string&)>& live_outside);

// Joins `delta` (an OR-Set state; usually a DeltaOf) into the cart whose
// head is `head` and whose lines `read` returns, reading only the delta's
// lines and `scope`'s. Updates `head`; returns the writes of the lines
// that changed, in sku order.
std::vector<CartLineWrite> JoinDeltaIntoLines(CartHead& head, const CartState& delta,
                                              std::span<const std::string> scope,
                                              const CartLineReader& read);

}  // namespace trolley
