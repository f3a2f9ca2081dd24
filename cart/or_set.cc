// OR-Set: the observed-remove set of Shapiro, Preguiça, Baquero and
// Zawirski ("A comprehensive study of Convergent and Commutative Replicated
// Data Types", INRIA RR-7506, 2011, §3.3.5), add-wins, with a line's
// elements being quantity contributions (an "add n" or a "set q") tagged by
// the mutation that made them. Held without tombstones, as an ORSWOT
// (Bieniusa et al., "An optimized conflict-free replicated set", 2012): the
// state's causal context (cart/cart_context.h) tells "removed" (seen, not
// held) from "not yet seen". Why that is enough: cart_state.h.
#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "cart/cart_internal.h"
#include "cart/cart_state.h"
#include "common/assert.h"

namespace trolley {
Status CartState::ApplyOrSet(const Mutation& m, const CartLimits& limits) {
  TROLLEY_ASSERT(semantics_ == CartSemantics::kOrSet);
  // Applied() covers every tag we hold or removed; so this tag is new.
  TROLLEY_ASSERT(!context_.Covers(m.id));
  TROLLEY_ASSERT(!HasLiveTag(m.id));
  const auto it = lines_.find(m.sku);
  const bool remove = m.kind == Mutation::Kind::kRemove ||
                      (m.kind == Mutation::Kind::kSetQuantity && m.quantity == 0);
  if (remove) {
    if (m.observed) {
      KillObserved(*m.observed, &m.sku);
      return Status::Ok();
    }
    // What this state holds was observed; its tags are in the context.
    if (it != lines_.end()) lines_.erase(it);
    return Status::Ok();
  }
  switch (m.kind) {
    case Mutation::Kind::kAdd: {
      if (Status s = CheckNewLine(m, limits); !s.ok()) return s;
      // Capped at quantity_max as this replica sees the line. A capped-out
      // add adds nothing but is still recorded as applied.
      const uint64_t current = it == lines_.end() ? 0 : cart_internal::RawQuantity(it->second);
      if (current >= limits.quantity_max) return Status::Ok();
      const auto n =
          static_cast<uint32_t>(std::min<uint64_t>(m.quantity, limits.quantity_max - current));
      CartContribution c{CartContribution::Kind::kAdd, n, m.now_ms, m.attributes};
      if (c.attributes.empty() && it != lines_.end()) {
        c.attributes = cart_internal::NewestContribution(it->second).attributes;
      }
      lines_[m.sku].emplace(m.id, std::move(c));
      return Status::Ok();
    }
    case Mutation::Kind::kSetQuantity: {
      if (Status s = CheckNewLine(m, limits); !s.ok()) return s;
      CartContribution c{CartContribution::Kind::kSet, m.quantity, m.now_ms, m.attributes};
      if (it != lines_.end() && c.attributes.empty()) {
        c.attributes = cart_internal::NewestContribution(it->second).attributes;
      }
      if (m.observed) {
        // Contributions the shopper did not see stay beside the "set"
        // (add-wins): the line shows the set plus their adds.
        KillObserved(*m.observed, &m.sku);
        lines_[m.sku].emplace(m.id, std::move(c));
        return Status::Ok();
      }
      CartContributions line;
      line.emplace(m.id, std::move(c));
      lines_[m.sku] = std::move(line);
      return Status::Ok();
    }
    case Mutation::Kind::kClear: {
      if (m.observed) {
        KillObserved(*m.observed, nullptr);
        return Status::Ok();
      }
      lines_.clear();
      return Status::Ok();
    }
    case Mutation::Kind::kRemove:
      break;  // handled above
  }
  TROLLEY_ASSERT_MSG(false, "unreachable mutation kind in ApplyOrSet");
  return Status::Ok();
}

void CartState::KillObserved(const std::vector<uint64_t>& observed, const std::string* sku) {
  TROLLEY_ASSERT(semantics_ == CartSemantics::kOrSet);
  for (uint64_t tag : observed) {
    for (auto line = lines_.begin(); line != lines_.end();) {
      auto next = std::next(line);
      if (line->second.contains(tag) && (sku == nullptr || line->first == *sku)) {
        line->second.erase(tag);
        if (line->second.empty()) lines_.erase(line);
      }
      line = next;
    }
    // Held here or not: seen from now on, so a copy that still holds it, or
    // the add itself arriving late, is dropped by Merge. A tag live in
    // another line is in the context already and stays live.
    context_.Add(tag);
  }
}

void CartState::MergeOrSet(std::span<const CartState> siblings, CartState& out) {
  TROLLEY_ASSERT(out.lines_.empty());
  // Each sibling's live tags, to ask "holds it" of every sibling.
  std::vector<std::set<uint64_t>> held(siblings.size());
  for (size_t i = 0; i < siblings.size(); ++i) {
    for (const auto& [sku, line] : siblings[i].lines_) {
      for (const auto& [tag, c] : line) held[i].insert(tag);
    }
  }
  // A contribution survives iff every sibling holds it or has not seen it
  // (ORSWOT): a sibling that saw it and dropped it removed it.
  auto survives = [&](uint64_t tag) {
    for (size_t i = 0; i < siblings.size(); ++i) {
      if (!held[i].contains(tag) && siblings[i].context_.Covers(tag)) return false;
    }
    return true;
  };
  // Surviving contributions, by tag. Two siblings hold the same tag with
  // different content only if one mutation was applied to two different
  // states (a retry through another replica: inherited attributes or the
  // quantity cap may differ) or a client reused an id for another sku; the
  // greatest (sku, contribution) wins, a total order, so merge stays a join.
  struct Winner {
    const std::string* sku;
    const CartContribution* c;
  };
  std::map<uint64_t, Winner> live;
  for (const CartState& s : siblings) {
    for (const auto& [sku, line] : s.lines_) {
      for (const auto& [tag, c] : line) {
        if (!survives(tag)) continue;
        auto [it, inserted] = live.try_emplace(tag, Winner{&sku, &c});
        if (!inserted && std::tie(sku, c) > std::tie(*it->second.sku, *it->second.c)) {
          it->second = Winner{&sku, &c};
        }
      }
    }
  }
  for (const auto& [tag, w] : live) out.lines_[*w.sku].emplace(tag, *w.c);
}

}  // namespace trolley
