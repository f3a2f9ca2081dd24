// Helpers shared by the cart/ sources. Not part of the public API.
#pragma once

#include <cstdint>
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
