// The parts of CartState both semantics share: validation, the context's
// idempotence, Lines(), the guest-merge mark, invariants. The semantics live in
// union_max.cc and or_set.cc; the encoding in cart_codec.cc.
#include "cart/cart_state.h"

#include <algorithm>
#include <utility>

#include "cart/cart_internal.h"
#include "common/assert.h"

namespace trolley {

using cart_internal::Quoted;

namespace cart_internal {

std::string Quoted(std::string_view s) {
  constexpr size_t kShownBytesMax = 64;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < kShownBytesMax; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  out += "'";
  if (s.size() > kShownBytesMax) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

uint64_t RawQuantity(const CartContributions& line) {
  uint64_t set_max = 0;
  uint64_t adds = 0;
  for (const auto& [tag, c] : line) {
    if (c.kind == CartContribution::Kind::kSet) {
      set_max = std::max<uint64_t>(set_max, c.quantity);
    } else {
      adds += c.quantity;
    }
  }
  return set_max + adds;
}

const CartContribution& NewestContribution(const CartContributions& line) {
  TROLLEY_ASSERT(!line.empty());
  auto newest = line.begin();
  for (auto it = line.begin(); it != line.end(); ++it) {
    // Ties on at_ms go to the larger tag; the map is sorted by tag, so >=.
    if (it->second.at_ms >= newest->second.at_ms) newest = it;
  }
  return newest->second;
}

}  // namespace cart_internal

namespace {

Status Limit(std::string message) { return Status::LimitExceeded("cart: " + std::move(message)); }
Status Invalid(std::string message) {
  return Status::InvalidArgument("cart: " + std::move(message));
}

Status ValidateAttributes(const Mutation& m, const CartLimits& limits) {
  if (m.attributes.size() > limits.attributes_max) {
    return Limit(std::string(MutationKindName(m.kind)) + " of sku " + Quoted(m.sku) + " has " +
                 std::to_string(m.attributes.size()) +
                 " attributes, above attributes_max = " + std::to_string(limits.attributes_max));
  }
  for (const auto& [key, value] : m.attributes) {
    if (key.empty()) {
      return Invalid(std::string(MutationKindName(m.kind)) + " of sku " + Quoted(m.sku) +
                     " has an attribute with an empty key");
    }
    if (key.size() + value.size() > limits.attribute_bytes_max) {
      return Limit("attribute " + Quoted(key) + " of sku " + Quoted(m.sku) + " is " +
                   std::to_string(key.size() + value.size()) +
                   " bytes (key + value), above attribute_bytes_max = " +
                   std::to_string(limits.attribute_bytes_max));
    }
  }
  return Status::Ok();
}

Status ValidateSku(const Mutation& m, const CartLimits& limits) {
  if (m.sku.empty()) return Invalid(std::string(MutationKindName(m.kind)) + " with an empty sku");
  if (m.sku.size() > limits.sku_bytes_max) {
    return Limit("sku " + Quoted(m.sku) + " is " + std::to_string(m.sku.size()) +
                 " bytes, above sku_bytes_max = " + std::to_string(limits.sku_bytes_max));
  }
  return Status::Ok();
}

Status ValidateObserved(const Mutation& m, const CartLimits& limits, CartSemantics semantics) {
  if (!m.observed) return Status::Ok();
  const std::string kind(MutationKindName(m.kind));
  if (m.kind == Mutation::Kind::kAdd) return Invalid("an add takes no observed tags");
  if (semantics != CartSemantics::kOrSet) {
    return Invalid(kind + " with observed tags: only an or-set cart removes by tag");
  }
  if (m.observed->size() > limits.observed_tags_max) {
    return Limit(
        kind + " names " + std::to_string(m.observed->size()) +
        " observed tags, above observed_tags_max = " + std::to_string(limits.observed_tags_max));
  }
  for (uint64_t tag : *m.observed) {
    if (tag == 0) return Invalid(kind + " names observed tag 0; tags are nonzero");
    if (tag == m.id) return Invalid(kind + " names its own id among the tags it observed");
  }
  return Status::Ok();
}

Status ValidateMutation(const Mutation& m, const CartLimits& limits) {
  const std::string kind(MutationKindName(m.kind));
  switch (m.kind) {
    case Mutation::Kind::kAdd:
    case Mutation::Kind::kSetQuantity: {
      if (Status s = ValidateSku(m, limits); !s.ok()) return s;
      if (m.kind == Mutation::Kind::kAdd && m.quantity == 0) {
        return Invalid("add of quantity 0 for sku " + Quoted(m.sku) + "; an add adds 1 or more");
      }
      if (m.quantity > limits.quantity_max) {
        return Limit(kind + " of quantity " + std::to_string(m.quantity) + " for sku " +
                     Quoted(m.sku) +
                     " is above quantity_max = " + std::to_string(limits.quantity_max));
      }
      return ValidateAttributes(m, limits);
    }
    case Mutation::Kind::kRemove:
    case Mutation::Kind::kClear: {
      if (m.kind == Mutation::Kind::kRemove) {
        if (Status s = ValidateSku(m, limits); !s.ok()) return s;
      } else if (!m.sku.empty()) {
        return Invalid("clear takes no sku, got " + Quoted(m.sku));
      }
      if (m.quantity != 0) {
        return Invalid(kind + " takes no quantity, got " + std::to_string(m.quantity));
      }
      if (!m.attributes.empty()) return Invalid(kind + " takes no attributes");
      return Status::Ok();
    }
  }
  return Invalid("unknown mutation kind " + std::to_string(static_cast<int>(m.kind)));
}

}  // namespace

std::string_view MutationKindName(Mutation::Kind kind) {
  switch (kind) {
    case Mutation::Kind::kAdd:
      return "add";
    case Mutation::Kind::kSetQuantity:
      return "set_quantity";
    case Mutation::Kind::kRemove:
      return "remove";
    case Mutation::Kind::kClear:
      return "clear";
  }
  TROLLEY_ASSERT_MSG(false, "unknown Mutation::Kind");
  return "";
}

std::string_view CartSemanticsName(CartSemantics semantics) {
  switch (semantics) {
    case CartSemantics::kUnionMax:
      return "union-max";
    case CartSemantics::kOrSet:
      return "or-set";
  }
  return "unknown";
}

Mutation Mutation::Add(uint64_t id, std::string sku, uint32_t n, uint64_t now_ms,
                       CartAttributes attributes) {
  return Mutation{id, Kind::kAdd, std::move(sku), n, std::move(attributes), now_ms};
}

Mutation Mutation::SetQuantity(uint64_t id, std::string sku, uint32_t q, uint64_t now_ms,
                               CartAttributes attributes) {
  return Mutation{id, Kind::kSetQuantity, std::move(sku), q, std::move(attributes), now_ms};
}

Mutation Mutation::Remove(uint64_t id, std::string sku, uint64_t now_ms) {
  return Mutation{id, Kind::kRemove, std::move(sku), 0, {}, now_ms};
}

Mutation Mutation::Clear(uint64_t id, uint64_t now_ms) {
  return Mutation{id, Kind::kClear, "", 0, {}, now_ms};
}

namespace cart_internal {

Status AdmitMutation(const CartContext& context, CartSemantics semantics, const Mutation& m,
                     const CartLimits& limits, bool& retry) {
  retry = false;
  if (m.id == 0) return Invalid("mutation id 0 is reserved; ids are nonzero");
  if (context.Covers(m.id)) {
    retry = true;
    return Status::Ok();
  }
  if (limits.quantity_max > kCartQuantityLimit) {
    return Invalid("quantity_max = " + std::to_string(limits.quantity_max) +
                   " is above what a cart stores (" + std::to_string(kCartQuantityLimit) + ")");
  }
  if (Status s = ValidateMutation(m, limits); !s.ok()) return s;
  return ValidateObserved(m, limits, semantics);
}

Status CheckGrowth(const Mutation& m, const CartLimits& limits, size_t bytes, size_t before,
                   size_t lines, const CartContext& context) {
  // Refuse only growth past the limit, so a cart over it (limits lowered,
  // a large version-2 history) can still shrink.
  if (bytes <= limits.encoded_bytes_max || bytes <= before) return Status::Ok();
  return Limit(std::string(MutationKindName(m.kind)) + " would make the encoded cart " +
               std::to_string(bytes) + " bytes, above encoded_bytes_max = " +
               std::to_string(limits.encoded_bytes_max) + " (" + std::to_string(lines) +
               " lines, " + std::to_string(context.sessions().size()) + " sessions and " +
               std::to_string(context.dots().size()) + " other ids in the context)");
}

size_t GrowthBytesMax(const Mutation& m, const CartContributions* line) {
  // Generous on purpose (Apply asserts it holds): a new line (its sku, its
  // entry in the line list), one contribution, the id in the context, each
  // with word rounding, and the contribution's attributes, given or
  // inherited from the line.
  const CartAttributes* attributes = &m.attributes;
  if (attributes->empty() && line != nullptr) attributes = &NewestContribution(*line).attributes;
  size_t bytes = 128 + 2 * m.sku.size();
  for (const auto& [key, value] : *attributes) bytes += 64 + 2 * (key.size() + value.size());
  // Observed tags this state lacks join the context, 8 bytes each at most.
  if (m.observed) bytes += 16 + 8 * m.observed->size();
  return bytes;
}

void JoinMergedInto(std::optional<std::string>& into, const std::optional<std::string>& other) {
  if (other && (!into || *into < *other)) into = other;
}

Status CheckNewLine(const Mutation& m, const CartLimits& limits, bool has_line, size_t lines) {
  if (has_line || lines < limits.lines_max) return Status::Ok();
  return Limit(std::string(MutationKindName(m.kind)) + " of new sku " + Quoted(m.sku) +
               ": the cart has " + std::to_string(lines) +
               " lines, lines_max = " + std::to_string(limits.lines_max));
}

}  // namespace cart_internal

Status CartState::Admit(const Mutation& m, const CartLimits& limits, bool& retry) const {
  return cart_internal::AdmitMutation(context_, semantics_, m, limits, retry);
}

Status CartState::CheckGrowth(const Mutation& m, const CartLimits& limits, size_t bytes,
                              size_t before) const {
  return cart_internal::CheckGrowth(m, limits, bytes, before, lines_.size(), context_);
}

Status CartState::Apply(const Mutation& m, const CartLimits& limits) {
  bool retry = false;
  if (Status s = Admit(m, limits, retry); !s.ok() || retry) return s;

  // Only the size limit can refuse a mutation once it changed the state
  // (ApplyOrSet / ApplyUnionMax refuse before changing anything). So when
  // even the most this mutation can add fits, it is applied in place;
  // otherwise on a copy, kept only if it fits.
  const size_t before = EncodedBytes();
  const size_t growth_max = GrowthBytesMax(m);
  if (before + growth_max <= limits.encoded_bytes_max) {
    if (Status s = ApplyChecked(m, limits); !s.ok()) return s;
    TROLLEY_ASSERT_MSG(EncodedBytes() <= before + growth_max,
                       "a mutation grew the cart past GrowthBytesMax");
    return Status::Ok();
  }
  CartState next = *this;
  if (Status s = next.ApplyChecked(m, limits); !s.ok()) return s;
  if (Status s = CheckGrowth(m, limits, next.EncodedBytes(), before); !s.ok()) return s;
  *this = std::move(next);
  return Status::Ok();
}

Status CartState::ApplyChecked(const Mutation& m, const CartLimits& limits) {
  const Status s =
      semantics_ == CartSemantics::kOrSet ? ApplyOrSet(m, limits) : ApplyUnionMax(m, limits);
  if (!s.ok()) return s;
  context_.Add(m.id);
  CheckInvariants();
  TROLLEY_ASSERT(Applied(m.id));
  return Status::Ok();
}

size_t CartState::GrowthBytesMax(const Mutation& m) const {
  const auto it = lines_.find(m.sku);
  return cart_internal::GrowthBytesMax(m, it == lines_.end() ? nullptr : &it->second);
}

Status CartState::CheckNewLine(const Mutation& m, const CartLimits& limits) const {
  return cart_internal::CheckNewLine(m, limits, lines_.contains(m.sku), lines_.size());
}

bool CartState::HasLiveTag(uint64_t tag) const {
  for (const auto& [sku, line] : lines_) {
    if (line.contains(tag)) return true;
  }
  return false;
}

std::vector<uint64_t> CartState::ObservedTags(const std::string* sku) const {
  std::vector<uint64_t> tags;
  for (const auto& [line_sku, line] : lines_) {
    if (sku != nullptr && line_sku != *sku) continue;
    for (const auto& [tag, c] : line) tags.push_back(tag);
  }
  std::sort(tags.begin(), tags.end());
  return tags;
}

CartState CartState::LinesOnly() const {
  CartState out(semantics_);
  out.lines_ = lines_;
  for (const auto& [sku, line] : lines_) {
    for (const auto& [tag, c] : line) out.context_.Add(tag);
  }
  return out;
}

bool CartState::Applied(uint64_t mutation_id) const { return context_.Covers(mutation_id); }

void CartState::ForgetContextId(uint64_t id) {
  TROLLEY_ASSERT(!HasLiveTag(id));
  context_.Forget(id);
  CheckInvariants();
}

CartState CartState::Merge(CartSemantics semantics, std::span<const CartState> siblings) {
  CartState out(semantics);
  for (const CartState& s : siblings) {
    TROLLEY_ASSERT_MSG(s.semantics_ == semantics, "merging carts of different semantics");
    s.CheckInvariants();
    cart_internal::JoinMergedInto(out.merged_into_, s.merged_into_);
  }
  if (semantics == CartSemantics::kOrSet) {
    MergeOrSet(siblings, out);
  } else {
    MergeUnionMax(siblings, out);
  }
  // After the lines: the OR-Set merge reads each sibling's own context.
  for (const CartState& s : siblings) out.context_.Join(s.context_);
  out.CheckInvariants();
  return out;
}

std::vector<CartLine> CartState::Lines(const CartLimits& limits) const {
  std::vector<CartLine> out;
  out.reserve(lines_.size());
  for (const auto& [sku, line] : lines_) {
    const uint64_t quantity =
        std::min<uint64_t>(cart_internal::RawQuantity(line), limits.quantity_max);
    if (quantity == 0) continue;
    out.push_back(CartLine{sku, static_cast<uint32_t>(quantity),
                           cart_internal::NewestContribution(line).attributes});
  }
  return out;
}

Status CartState::MarkMergedInto(std::string_view user_key) {
  if (user_key.empty()) return Invalid("cannot mark a cart merged into an empty key");
  if (user_key.size() > kCartKeyBytesMax) {
    return Limit("merged-into key " + Quoted(user_key) + " is " + std::to_string(user_key.size()) +
                 " bytes, above the key limit of " + std::to_string(kCartKeyBytesMax));
  }
  merged_into_ = std::string(user_key);
  CheckInvariants();
  return Status::Ok();
}

void CartState::CheckInvariants() const {
  for (const auto& [sku, line] : lines_) {
    TROLLEY_ASSERT(!sku.empty());
    TROLLEY_ASSERT(!line.empty());
    for (const auto& [tag, c] : line) {
      TROLLEY_ASSERT(tag != 0);
      TROLLEY_ASSERT(c.quantity >= 1);
      for (const auto& [key, value] : c.attributes) TROLLEY_ASSERT(!key.empty());
    }
  }
  context_.CheckInvariants();
  std::vector<uint64_t> tags;
  for (const auto& [sku, line] : lines_) {
    if (semantics_ == CartSemantics::kUnionMax) {
      TROLLEY_ASSERT(line.size() == 1);
      TROLLEY_ASSERT(line.begin()->second.kind == CartContribution::Kind::kSet);
    }
    for (const auto& [tag, c] : line) {
      TROLLEY_ASSERT_MSG(context_.Covers(tag), "a live tag is not in the cart's context");
      tags.push_back(tag);
    }
  }
  if (semantics_ == CartSemantics::kOrSet) {
    std::sort(tags.begin(), tags.end());
    TROLLEY_ASSERT(std::adjacent_find(tags.begin(), tags.end()) == tags.end());
  }
  TROLLEY_ASSERT(!merged_into_ || !merged_into_->empty());
}

std::string CartState::DebugString() const {
  std::string out = std::string(CartSemanticsName(semantics_)) + " cart";
  if (merged_into_) out += " merged into " + Quoted(*merged_into_);
  out += ": " + std::to_string(lines_.size()) + " lines, context of " +
         std::to_string(context_.sessions().size()) + " sessions and " +
         std::to_string(context_.dots().size()) + " other ids\n";
  out += "  context:";
  for (const auto& [session, max] : context_.sessions()) {
    out += " " + std::to_string(MutationIdOf(session, 1)) + ".." +
           std::to_string(MutationIdOf(session, max));
  }
  for (const uint64_t id : context_.dots()) out += " " + std::to_string(id);
  out += "\n";
  for (const auto& [sku, line] : lines_) {
    out += "  " + Quoted(sku) + " =" + std::to_string(cart_internal::RawQuantity(line)) + ":";
    for (const auto& [tag, c] : line) {
      out += std::string(" ") + (c.kind == CartContribution::Kind::kSet ? "set" : "add") +
             std::to_string(c.quantity) + "#" + std::to_string(tag) + "@" + std::to_string(c.at_ms);
      for (const auto& [k, v] : c.attributes) out += " " + k + "=" + v;
    }
    out += "\n";
  }
  return out;
}

}  // namespace trolley
