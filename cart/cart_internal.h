// Helpers shared by the cart/ sources. Not part of the public API.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cart/cart_lines.h"
#include "cart/cart_state.h"

namespace trolley {

// A CartState's fields as Decode reads them, already checked.
struct CartParts {
  CartSemantics semantics;
  std::map<std::string, CartContributions> lines;
  CartContext context;
  std::optional<std::string> merged_into;
};

}  // namespace trolley

namespace trolley::cart_internal {

// `s` in single quotes for an error message: non-printable bytes as \xNN,
// cut after 64 bytes. Skus and keys come from clients.
std::string Quoted(std::string_view s);

// A line's quantity before capping: the largest "set" (or 0) plus the sum
// of the "add"s. 64-bit: a line of many concurrent adds cannot overflow it.
uint64_t RawQuantity(const CartContributions& line);

// The contribution whose attributes the line shows: the newest by (at_ms, tag).
const CartContribution& NewestContribution(const CartContributions& line);

// `s` in format version 1 (a CartRecord), as releases before version 2
// wrote it, or version 2 (a CartColumns with tombstones and applied ids):
// for tests that an old value still reads. The context's ids that are not
// live are written as removed tags (OR-Set) or applied ids (union+max).
std::string EncodeV1(const CartState& s);
std::string EncodeV2(const CartState& s);
// What a version 3 encoding writes after the lines: a cart's causal context
// and its merge mark, or others (EncodeLinesOnly: exactly the live tags,
// no mark). The context must cover every live tag of the state encoded.
struct CartTail {
  const CartContext& context;
  const std::optional<std::string>& merged_into;
};

// Apply's checks, for a cart of `semantics` whose context is `context`, in
// Apply's order: ok with retry = true when the context covers m.id, else
// ok or the refusal.
Status AdmitMutation(const CartContext& context, CartSemantics semantics, const Mutation& m,
                     const CartLimits& limits, bool& retry);
// Ok, or the LimitExceeded of growing a cart of `lines` lines and `context`
// from `before` to `bytes` encoded bytes past limits.encoded_bytes_max.
Status CheckGrowth(const Mutation& m, const CartLimits& limits, size_t bytes, size_t before,
                   size_t lines, const CartContext& context);
// An upper bound on how much applying `m` can grow a cart's encoding;
// `line` is the cart's line m.sku (null: none).
size_t GrowthBytesMax(const Mutation& m, const CartContributions* line);
// The merge mark of a join: the greatest of the two (a total order, so
// Merge stays a join when siblings disagree).
void JoinMergedInto(std::optional<std::string>& into, const std::optional<std::string>& other);
// Ok, or the LimitExceeded of m making a new line in a full cart.
Status CheckNewLine(const Mutation& m, const CartLimits& limits, bool has_line, size_t lines);

// What a delta is computed from: a cart however it is held (a CartState,
// or a head and lines read one at a time).
struct CartDeltaSource {
  const CartContext& context;
  CartLineSizes sizes;  // of all its lines
  const std::optional<std::string>& merged_into;
  const CartContributions* line;  // line m.sku, or null
  // True if `tag` is live in a line other than `sku`.
  std::function<bool(uint64_t tag, const std::string& sku)> live_outside;
  // Every line's sku (what a clear acts on), and any line.
  std::function<std::vector<std::string>()> skus;
  CartLineReader read;
};
// CartState::DeltaOf of an OR-Set cart given as `source` (cart_delta.cc).
Result<CartState> OrSetDeltaOf(const CartDeltaSource& source, const Mutation& m,
                               const CartLimits& limits);

// What line `sku` adds to a cart's encoding (CartLineSizes).
CartLineSizes SizesOfLine(const std::string& sku, const CartContributions& line);
// The encoded size of a cart whose lines have `sizes` and whose tail is
// `context` and `merged_into`.
size_t EncodedBytesOf(const CartLineSizes& sizes, const CartContext& context,
                      const std::optional<std::string>& merged_into);

// `s` as a CartColumns of format version 2 or 3 (Encode), with `s`'s own
// tail or, in version 3, `tail`.
std::string EncodeColumns(const CartState& s, uint16_t version);
std::string EncodeColumns(const CartState& s, uint16_t version, const CartTail& tail);

}  // namespace trolley::cart_internal
