#include "simulation/checker.h"

#include <algorithm>
#include <iterator>
#include <optional>

#include "cart/cart_state.h"

namespace trolley::sim {
namespace {

bool Contains(const std::vector<uint64_t>& sorted, uint64_t id) {
  return std::binary_search(sorted.begin(), sorted.end(), id);
}

constexpr uint64_t kQuantityMax = 999;  // CartLimits{}.quantity_max

}  // namespace

std::vector<uint64_t> MutationRecord::MaybeObserved() const {
  std::vector<uint64_t> out;
  for (const Attempt& a : attempts) {
    if (a.killer && a.written) out.insert(out.end(), a.observed.begin(), a.observed.end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<uint64_t> MutationRecord::SurelyObserved() const {
  if (acked_attempt >= 0) return attempts[static_cast<size_t>(acked_attempt)].observed;
  std::optional<std::vector<uint64_t>> out;
  for (const Attempt& a : attempts) {
    if (!a.killer || !a.written) continue;
    if (!out) {
      out = a.observed;
      continue;
    }
    std::vector<uint64_t> both;
    std::set_intersection(out->begin(), out->end(), a.observed.begin(), a.observed.end(),
                          std::back_inserter(both));
    out = std::move(both);
  }
  return out ? *out : std::vector<uint64_t>();
}

std::set<std::string> MutationRecord::SurelyActedOn() const {
  if (acked_attempt >= 0) return attempts[static_cast<size_t>(acked_attempt)].skus;
  std::optional<std::set<std::string>> out;
  for (const Attempt& a : attempts) {
    if (!a.killer || !a.written) continue;
    if (!out) {
      out = a.skus;
      continue;
    }
    std::set<std::string> both;
    std::set_intersection(out->begin(), out->end(), a.skus.begin(), a.skus.end(),
                          std::inserter(both, both.end()));
    out = std::move(both);
  }
  return out ? *out : std::set<std::string>();
}

uint32_t History::Observe(const ObjectKey& key, CartSemantics semantics, const Mutation& m,
                          const CartState& read) {
  CartHistory& h = carts_[key];
  h.semantics = semantics;
  auto [it, inserted] = h.mutations.try_emplace(m.id);
  MutationRecord& rec = it->second;
  if (inserted) {
    rec.id = m.id;
    rec.kind = m.kind;
    rec.sku = m.sku;
  }
  const auto number = static_cast<uint32_t>(rec.attempts.size());
  MutationRecord::Attempt& attempt = rec.attempts.emplace_back();
  const bool set = m.kind == Mutation::Kind::kSetQuantity;
  if (m.kind == Mutation::Kind::kAdd || (set && m.quantity > 0)) {
    if (!rec.contribution) rec.quantity = m.quantity;
    rec.contribution = true;
  }
  if (m.kind == Mutation::Kind::kAdd) return number;
  rec.killer = true;
  attempt.killer = true;
  if (!set || m.quantity == 0) rec.removes_line = true;
  std::vector<uint64_t> observed;
  const bool clear = m.kind == Mutation::Kind::kClear;
  for (const auto& [sku, line] : read.lines()) {
    if (!clear && sku != m.sku) continue;
    attempt.skus.insert(sku);
    if (semantics == CartSemantics::kOrSet) {
      for (const auto& [tag, c] : line) observed.push_back(tag);
    }
  }
  if (!clear) attempt.skus.insert(m.sku);
  if (semantics == CartSemantics::kOrSet && m.observed) observed = *m.observed;  // as sent
  if (semantics == CartSemantics::kUnionMax) {
    for (const uint64_t id : read.context().Ids()) {
      auto c = h.mutations.find(id);
      if (c != h.mutations.end() && c->second.IsContribution() &&
          attempt.skus.contains(c->second.sku)) {
        observed.push_back(id);
      }
    }
  }
  std::sort(observed.begin(), observed.end());
  observed.erase(std::unique(observed.begin(), observed.end()), observed.end());
  attempt.observed = std::move(observed);
  return number;
}

MutationRecord* History::Find(const ObjectKey& key, uint64_t mutation_id) {
  auto it = carts_.find(key);
  if (it == carts_.end()) return nullptr;
  auto m = it->second.mutations.find(mutation_id);
  return m == it->second.mutations.end() ? nullptr : &m->second;
}

void History::Written(const ObjectKey& key, uint64_t mutation_id, uint32_t attempt) {
  MutationRecord* m = Find(key, mutation_id);
  if (m == nullptr) return;
  m->written = true;
  if (attempt < m->attempts.size()) m->attempts[attempt].written = true;
}

void History::Acked(const ObjectKey& key, uint64_t mutation_id, uint32_t attempt) {
  MutationRecord* m = Find(key, mutation_id);
  if (m == nullptr) return;
  m->acked = true;
  if (attempt < m->attempts.size()) m->acked_attempt = static_cast<int>(attempt);
}

void History::MarkCheckout(const ObjectKey& key, uint64_t mutation_id) {
  MutationRecord* m = Find(key, mutation_id);
  if (m != nullptr) m->checkout = true;
}

void History::CheckoutAcked(const ObjectKey& key, uint64_t mutation_id, uint64_t now_ns) {
  checkout_acks_[key].emplace_back(now_ns, mutation_id);
}

uint64_t History::NoteRead(const ObjectKey& key, const CartState& read, uint64_t started_ns) {
  const auto acks = checkout_acks_.find(key);
  if (acks == checkout_acks_.end()) return 0;
  uint64_t seen = 0;
  for (const auto& [acked_ns, id] : acks->second) {
    const MutationRecord* m = Find(key, id);
    if (acked_ns >= started_ns || m == nullptr) continue;
    for (uint64_t tag : m->SurelyObserved()) seen += read.HasLiveTag(tag) ? 1 : 0;
  }
  bought_read_again_ += seen;
  return seen;
}

// A failure of mutation `id` of `key`, unless a power loss took it from the
// last disk that held it (then counted as lost_unsynced). True: a failure.
bool History::Fail(const ObjectKey& key, uint64_t id, std::string what, CheckResult& result) const {
  if (lost_to_power_loss_.contains({key, id})) {
    ++result.lost_unsynced;
    if (result.notes.size() < 20)
      result.notes.push_back("(lost with the last disk that held it, in a power loss) " + what);
    return false;
  }
  if (result.failures.size() < 20) result.failures.push_back(std::move(what));
  return true;
}

namespace {

// Every mutation `final_cart` knows was applied to this cart by a device (a
// contribution tag or a context id from elsewhere is a phantom).
void CountPhantoms(const CartHistory& h, const std::string& name, const CartState& final_cart,
                   const std::map<uint64_t, std::string>& live, CheckResult& result) {
  for (const uint64_t id : final_cart.context().Ids()) {
    if (h.mutations.contains(id)) continue;
    ++result.phantoms;
    if (result.failures.size() < 20) {
      result.failures.push_back("phantom mutation in " + name + ": context id " +
                                std::to_string(id) + " was never applied to this cart");
    }
  }
  for (const auto& [tag, sku] : live) {
    auto m = h.mutations.find(tag);
    if (m != h.mutations.end() && m->second.IsContribution() && m->second.sku == sku) continue;
    ++result.phantoms;
    if (result.failures.size() < 20) {
      result.failures.push_back("phantom contribution in " + name + ": sku=" + sku + " tag " +
                                std::to_string(tag) + " is no add or set of that line");
    }
  }
}

// union+max: resurrections and lost increments, reported. `killed`: the
// contributions some written remove, set or clear observed; `contributions`:
// the written ones by line.
void CountUnionMaxLosses(const CartHistory& h, const CartState& final_cart,
                         const std::set<uint64_t>& killed,
                         const std::map<std::string, std::vector<uint64_t>>& contributions,
                         CheckResult& result) {
  for (const auto& [id, r] : h.mutations) {
    if (!r.acked || !r.RemovesLine()) continue;
    const std::vector<uint64_t> observed = r.SurelyObserved();
    for (const std::string& sku : r.SurelyActedOn()) {
      if (!final_cart.lines().contains(sku)) continue;
      bool all_observed = true;
      if (auto cs = contributions.find(sku); cs != contributions.end()) {
        for (uint64_t cid : cs->second) {
          if (!Contains(observed, cid)) {
            all_observed = false;
            break;
          }
        }
      }
      if (all_observed) ++result.resurrections;
    }
  }
  for (const auto& [sku, line] : final_cart.lines()) {
    uint64_t sets = 0, adds = 0;
    for (const auto& [id, c] : h.mutations) {
      if (!c.acked || !c.IsContribution() || c.sku != sku || killed.contains(id)) continue;
      if (c.kind == Mutation::Kind::kAdd) {
        adds += c.quantity;
      } else {
        sets = std::max<uint64_t>(sets, c.quantity);
      }
    }
    const uint64_t intent = std::min(sets + adds, kQuantityMax);
    uint64_t have = 0;
    for (const auto& [tag, c] : line) have = std::max<uint64_t>(have, c.quantity);
    if (have < intent) result.lost_increments += intent - have;
  }
}

}  // namespace

// OR-Set: no tag an acked remove, set, clear or checkout surely observed is
// live in the final cart (`live`: tag -> sku).
void History::CheckOrSetKills(const ObjectKey& key, const CartHistory& h,
                              const std::map<uint64_t, std::string>& live,
                              CheckResult& result) const {
  const std::string name = key.ns + "/" + key.key;
  for (const auto& [id, r] : h.mutations) {
    if (!r.acked || !r.IsKiller()) continue;
    if (r.checkout) ++result.checkouts_acked;
    const std::string what = r.checkout ? "checked-out contribution back: " + name + " checkout"
                                        : "observed remove undone: " + name + " " +
                                              std::string(MutationKindName(r.kind));
    for (uint64_t tag : r.SurelyObserved()) {
      if (!live.contains(tag)) continue;
      if (Fail(key, r.id,
               what + " mutation=" + std::to_string(r.id) + " observed tag " + std::to_string(tag) +
                   " of sku=" + live.at(tag) + ", which is live again",
               result)) {
        ++(r.checkout ? result.checkouts_back : result.removes_undone);
      }
    }
  }
}

void History::Check(const ObjectKey& key, const CartState& final_cart, CheckResult& result) const {
  auto hit = carts_.find(key);
  if (hit == carts_.end()) return;
  const CartHistory& h = hit->second;
  const bool or_set = h.semantics == CartSemantics::kOrSet;
  const std::string name = key.ns + "/" + key.key;

  std::map<uint64_t, std::string> live;  // tag -> sku
  for (const auto& [sku, line] : final_cart.lines()) {
    for (const auto& [tag, c] : line) live.emplace(tag, sku);
  }
  // Contributions some written remove, set or clear observed: `killed` for
  // quantities, `removed` for a line's presence (union+max: only removals
  // of the line; a set > 0 keeps the line).
  std::set<uint64_t> killed, removed;
  std::map<std::string, std::vector<uint64_t>> contributions;  // sku -> written contribution ids
  for (const auto& [id, r] : h.mutations) {
    if (r.written && r.IsContribution()) contributions[r.sku].push_back(id);
    if (!r.written || !r.IsKiller()) continue;
    for (uint64_t c : r.MaybeObserved()) {
      if (c == id) continue;
      killed.insert(c);
      if (or_set || r.RemovesLine()) removed.insert(c);
    }
  }
  CountPhantoms(h, name, final_cart, live, result);

  for (const auto& [id, c] : h.mutations) {
    if (!c.acked || !c.IsContribution()) continue;
    if (c.kind == Mutation::Kind::kAdd) ++result.acked_adds;  // as first issued
    if (removed.contains(c.id)) continue;
    const bool present =
        or_set ? live.contains(c.id) && live.at(c.id) == c.sku : final_cart.lines().contains(c.sku);
    if (present) continue;
    if (Fail(key, c.id,
             "acknowledged " + std::string(MutationKindName(c.kind)) + " lost: " + name +
                 " sku=" + c.sku + " mutation=" + std::to_string(c.id) +
                 " (no remove, set or clear observed it)",
             result)) {
      ++result.lost_adds;
    }
  }
  if (or_set) return CheckOrSetKills(key, h, live, result);
  CountUnionMaxLosses(h, final_cart, killed, contributions, result);
}

}  // namespace trolley::sim
