// Goal: on random concurrent histories, both cart semantics converge, retries
// never change a cart twice, and merge is a join; the OR-Set never undoes an
// observed remove and never loses an add no remove observed; union+max
// loses no line that no remove observed, and its resurrections happen and
// are counted (Dynamo's anomaly; docs/design.md, 'The Cart API').
//
// Method: 3-5 replicas (devices), each holding a list of sibling states.
// Each step is one of: a new mutation at a replica, which first merges what
// it holds (or, for a stale device, applies to one sibling and adds the
// result as another sibling); a retry of an earlier mutation (same id) at a
// random replica; gossip of siblings from one replica to another. Ids are
// mostly numbered by one session per device (so contexts compact), some
// random; OR-Set removals sometimes carry another device's view's tags
// (Mutation::observed, as a view token does), applied to whatever copy they
// land on. After full gossip every replica merges everything, in its own
// random order.
//
// Next to every sibling runs a reference model that knows nothing of
// contexts or encodings, only causality: the set of contribution tags
// (add/set mutation ids) the sibling has seen, the subset that a remove,
// set or clear observed ("killed"), and the mutation ids applied. Merge of
// models is set union; an operation observes exactly the model's live tags
// (or the tags it carries). For the OR-Set the live tags per sku, the
// context (applied ids and killed tags) and the quantities must equal the
// model's after every step: no observed remove undone, no unobserved add
// lost. For union+max every line must come from a known
// write, every line with an unkilled write must exist, and final lines
// whose write a remove observed are counted as resurrections.
//
// Cases are seeded: TROLLEY_PROPERTY_SEED and TROLLEY_PROPERTY_CASES
// override the defaults; a failure prints the command that replays it, and
// a replay of one case (TROLLEY_PROPERTY_CASES=1) prints every step.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cart/cart_state.h"
#include "common/random.h"
#include "tests/support/property_env.h"

namespace trolley {
namespace {

const uint64_t kBaseSeed = test_support::PropertyBaseSeed();
const uint64_t kCases = test_support::PropertyCases();
const bool kTrace = kCases == 1;

// Small enough that no line reaches quantity_max (the model does not cap)
// and the idempotence window never evicts (the model has no window).
const CartLimits kLimits{};
constexpr uint32_t kAddMax = 3;
constexpr uint32_t kSetMax = 5;
constexpr int kStepsMax = 40;
static_assert(kStepsMax * kAddMax + kSetMax < 999);
static_assert(kStepsMax < 1024);

const char* const kSkus[] = {"apple", "pear", "kiwi", "fig"};

using Tags = std::set<uint64_t>;

// What one sibling has seen (see the file comment).
struct Model {
  Tags created;  // ids of add and set(q > 0) mutations: contribution tags
  Tags killed;   // the created tags a remove, set or clear observed
  Tags applied;  // mutation ids

  void Join(const Model& o) {
    created.insert(o.created.begin(), o.created.end());
    killed.insert(o.killed.begin(), o.killed.end());
    applied.insert(o.applied.begin(), o.applied.end());
  }
};

struct Sibling {
  CartState state;
  Model model;
};

struct Stats {
  uint64_t steps = 0;
  uint64_t retries = 0;
  uint64_t retries_absorbed = 0;
  uint64_t stale_writes = 0;
  uint64_t resurrections = 0;    // union+max: final lines a remove had observed
  uint64_t lost_increments = 0;  // union+max: final quantity below the OR-Set's
  uint64_t siblings_max = 0;
};

std::string Show(const Tags& tags) {
  std::string out = "{";
  for (uint64_t t : tags) out += std::to_string(t) + " ";
  return out + "}";
}

class History {
 public:
  History(uint64_t seed, CartSemantics semantics) : rng_(seed), semantics_(semantics) {
    Random shape(seed ^ 0x5eed);
    replicas_.resize(shape.Range(3, 5));
    for (auto& r : replicas_) r.push_back(Sibling{CartState(semantics), Model{}});
    // One session per device, numbering its ids (cart/cart_context.h).
    for (size_t i = 0; i < replicas_.size(); ++i) sessions_.emplace_back(shape.Next() >> 20);
    steps_ = static_cast<int>(shape.Range(5, kStepsMax));
  }

  int steps() const { return steps_; }

  // One random step; false (with *why) if a check failed.
  bool Step(std::string* why, Stats& stats) {
    ++stats.steps;
    const uint64_t pick = rng_.Uniform(100);
    const size_t r = rng_.Uniform(replicas_.size());
    bool ok = true;
    if (pick < 50) {
      ok = Mutate(r, NewMutation(r), why, stats);
    } else if (pick < 65 && !issued_.empty()) {
      ++stats.retries;
      const Mutation m = issued_[rng_.Uniform(issued_.size())];
      Trace("retry #" + std::to_string(m.id));
      ok = Mutate(r, m, why, stats);
    } else {
      ok = Gossip(r, why);
    }
    for (const auto& siblings : replicas_) {
      stats.siblings_max = std::max<uint64_t>(stats.siblings_max, siblings.size());
    }
    return ok;
  }

  // Every replica merges everything, in its own order: all must be equal to
  // the byte, and the result must satisfy the model and the merge laws.
  bool Converge(std::string* why, Stats& stats) {
    std::vector<Sibling> all;
    for (const auto& siblings : replicas_) all.insert(all.end(), siblings.begin(), siblings.end());
    Model model;
    for (const Sibling& s : all) model.Join(s.model);
    std::string bytes;
    for (size_t i = 0; i < replicas_.size(); ++i) {
      std::vector<CartState> states;
      for (const Sibling& s : all) states.push_back(s.state);
      for (size_t j = states.size(); j > 1; --j) std::swap(states[j - 1], states[rng_.Uniform(j)]);
      const CartState merged = CartState::Merge(semantics_, states);
      const std::string b = merged.Encode();
      if (i == 0) bytes = b;
      if (b != bytes)
        return Fail(why, "replicas did not converge: replica " + std::to_string(i) +
                             " merged to\n" + merged.DebugString());
      replicas_[i] = {Sibling{merged, model}};
    }
    const Sibling& final_state = replicas_[0][0];
    if (!CheckSibling(final_state, why)) return false;
    if (!CheckFinal(final_state, why, stats)) return false;
    return CheckMergeLaws(all, why);
  }

 private:
  // The merge of what replica r holds.
  CartState ViewAt(size_t r) const {
    std::vector<CartState> states;
    for (const Sibling& s : replicas_[r]) states.push_back(s.state);
    return CartState::Merge(semantics_, states);
  }

  Mutation NewMutation(size_t r) {
    // Mostly numbered by the device's session; some random 64-bit ids (old
    // clients, checkout and guest-merge ids).
    const uint64_t id = rng_.Chance(0.75) ? sessions_[r].Next() : rng_.Next() | 1;
    now_ms_ += rng_.Uniform(1000);
    const uint64_t jitter = rng_.Uniform(500);  // device clocks disagree a little
    const uint64_t now = now_ms_ > jitter ? now_ms_ - jitter : 0;
    const std::string sku = kSkus[rng_.Uniform(std::size(kSkus))];
    CartAttributes attributes;
    if (rng_.Chance(0.2)) attributes["size"] = rng_.Chance(0.5) ? "S" : "L";
    const uint64_t kind = rng_.Uniform(100);
    Mutation m;
    if (kind < 45) {
      m = Mutation::Add(id, sku, 1 + static_cast<uint32_t>(rng_.Uniform(kAddMax)), now, attributes);
    } else if (kind < 65) {
      m = Mutation::SetQuantity(id, sku, static_cast<uint32_t>(rng_.Uniform(kSetMax + 1)), now,
                                attributes);
    } else if (kind < 93) {
      m = Mutation::Remove(id, sku, now);
    } else {
      m = Mutation::Clear(id, now);
    }
    // An OR-Set removal that carries the tags of another device's view (a
    // view token), applied wherever it lands: a stale copy, a newer one.
    if (semantics_ == CartSemantics::kOrSet && m.kind != Mutation::Kind::kAdd && rng_.Chance(0.4)) {
      const CartState view = ViewAt(rng_.Uniform(replicas_.size()));
      m.observed = view.ObservedTags(m.kind == Mutation::Kind::kClear ? nullptr : &m.sku);
    }
    issued_.push_back(m);
    by_id_[m.id] = m;
    return m;
  }

  // Applies m at replica r: merges what r holds first, or (a stale device)
  // applies to one sibling and keeps the result as another sibling.
  bool Mutate(size_t r, const Mutation& m, std::string* why, Stats& stats) {
    std::vector<Sibling>& siblings = replicas_[r];
    const bool stale = siblings.size() > 1 && rng_.Chance(0.25);
    Sibling base{CartState(semantics_), Model{}};
    if (stale) {
      ++stats.stale_writes;
      base = siblings[rng_.Uniform(siblings.size())];
    } else {
      std::vector<CartState> states;
      for (const Sibling& s : siblings) {
        states.push_back(s.state);
        base.model.Join(s.model);
      }
      base.state = CartState::Merge(semantics_, states);
    }
    Trace(std::string(stale ? "stale " : "") + "apply at r" + std::to_string(r) + ": " +
          Describe(m));
    Sibling next = base;
    const Status st = next.state.Apply(m, kLimits);
    if (!st.ok()) return Fail(why, "Apply failed: " + st.ToString());
    // Applied here, or its contribution already named by a removal that saw
    // it elsewhere (so it was applied there, and its effects merge in from
    // there): the context covers it either way, and a retry changes nothing.
    if (base.model.applied.contains(m.id) || base.model.killed.contains(m.id)) {
      ++stats.retries_absorbed;
      if (!(next.state == base.state)) {
        return Fail(why, "retry of #" + std::to_string(m.id) +
                             " (already applied here) changed the cart from\n" +
                             base.state.DebugString() + "to\n" + next.state.DebugString());
      }
    } else {
      ApplyToModel(m, next.model);
    }
    if (!next.state.Applied(m.id)) return Fail(why, "Applied() is false right after Apply");
    // The same mutation again, at once: nothing changes.
    const CartState once = next.state;
    if (!next.state.Apply(m, kLimits).ok() || !(next.state == once)) {
      return Fail(why, "applying #" + std::to_string(m.id) + " twice changed the cart");
    }
    if (!CheckSibling(next, why)) return false;
    if (rng_.Chance(0.1) && !CheckRoundTrip(next.state, why)) return false;
    if (stale) {
      AddSibling(siblings, std::move(next));
    } else {
      siblings = {std::move(next)};
    }
    return true;
  }

  // The model's view of m (m not yet applied there).
  void ApplyToModel(const Mutation& m, Model& model) const {
    const bool removes = m.kind != Mutation::Kind::kAdd;
    const bool creates = m.kind == Mutation::Kind::kAdd ||
                         (m.kind == Mutation::Kind::kSetQuantity && m.quantity > 0);
    if (removes && m.observed) {
      // Exactly the observed tags, held here or not (they are of this sku).
      model.killed.insert(m.observed->begin(), m.observed->end());
    } else if (removes) {
      for (uint64_t t : model.created) {
        if (model.killed.contains(t)) continue;
        if (m.kind == Mutation::Kind::kClear || by_id_.at(t).sku == m.sku) model.killed.insert(t);
      }
    }
    // A tag the model already killed stays dead: the mutation was applied
    // where it was killed (or named by a removal that saw it), so we never
    // get here for it.
    if (creates) model.created.insert(m.id);
    model.applied.insert(m.id);
  }

  // Sends siblings of a random replica to replica r (anti-entropy, read
  // repair or a hint: the store keeps them as siblings or they merge).
  bool Gossip(size_t r, std::string* why) {
    const size_t from = rng_.Uniform(replicas_.size());
    if (from == r) return true;
    Trace("gossip r" + std::to_string(from) + " -> r" + std::to_string(r));
    const std::vector<Sibling> sent = replicas_[from];
    for (const Sibling& s : sent) {
      if (rng_.Chance(0.7)) AddSibling(replicas_[r], s);
    }
    // Too many siblings: the replica merges them (a client read-modify-write).
    if (replicas_[r].size() > 4) {
      Sibling merged{CartState(semantics_), Model{}};
      std::vector<CartState> states;
      for (const Sibling& s : replicas_[r]) {
        states.push_back(s.state);
        merged.model.Join(s.model);
      }
      merged.state = CartState::Merge(semantics_, states);
      if (!CheckSibling(merged, why)) return false;
      replicas_[r] = {std::move(merged)};
    }
    return true;
  }

  static void AddSibling(std::vector<Sibling>& siblings, Sibling s) {
    for (const Sibling& existing : siblings) {
      if (existing.state == s.state) return;  // re-delivery adds no sibling
    }
    siblings.push_back(std::move(s));
  }

  // The implementation agrees with the model.
  bool CheckSibling(const Sibling& s, std::string* why) const {
    s.state.CheckInvariants();
    // The context: every id applied, and every tag a removal named.
    const std::vector<uint64_t> ids = s.state.context().Ids();
    const Tags context(ids.begin(), ids.end());
    Tags seen = s.model.applied;
    seen.insert(s.model.killed.begin(), s.model.killed.end());
    if (context != seen) {
      return Fail(why, "the context holds " + Show(context) + " but the model has seen " +
                           Show(seen) + "\n" + s.state.DebugString());
    }
    return semantics_ == CartSemantics::kOrSet ? CheckOrSet(s, why) : CheckUnionMax(s, why);
  }

  bool CheckOrSet(const Sibling& s, std::string* why) const {
    std::map<std::string, Tags> expected;
    std::map<std::string, uint64_t> quantity;
    std::map<std::string, uint64_t> set_max;
    for (uint64_t t : s.model.created) {
      if (s.model.killed.contains(t)) continue;
      const Mutation& m = by_id_.at(t);
      expected[m.sku].insert(t);
      if (m.kind == Mutation::Kind::kAdd) {
        quantity[m.sku] += m.quantity;
      } else {
        set_max[m.sku] = std::max<uint64_t>(set_max[m.sku], m.quantity);
      }
    }
    std::map<std::string, Tags> actual;
    for (const auto& [sku, line] : s.state.lines()) {
      for (const auto& [tag, c] : line) actual[sku].insert(tag);
    }
    for (const auto& [sku, tags] : actual) {
      for (uint64_t t : tags) {
        if (s.model.killed.contains(t)) {
          return Fail(why, "observed remove undone: tag " + std::to_string(t) + " of " + sku +
                               " is live again\n" + s.state.DebugString());
        }
      }
    }
    if (actual != expected) {
      std::string detail;
      for (const char* sku : kSkus) {
        detail += std::string(" ") + sku + ": has " + Show(actual[sku]) + " model " +
                  Show(expected[sku]) + "\n";
      }
      return Fail(why, "live tags differ from the model (an add lost or a remove undone)\n" +
                           detail + s.state.DebugString());
    }
    for (const CartLine& line : s.state.Lines(kLimits)) {
      const uint64_t want = set_max[line.sku] + quantity[line.sku];
      if (line.quantity != want) {
        return Fail(why, "quantity of " + line.sku + " is " + std::to_string(line.quantity) +
                             ", the model says " + std::to_string(want));
      }
    }
    return true;
  }

  bool CheckUnionMax(const Sibling& s, std::string* why) const {
    for (const auto& [sku, line] : s.state.lines()) {
      const uint64_t tag = line.begin()->first;
      if (!s.model.created.contains(tag) || by_id_.at(tag).sku != sku) {
        return Fail(why, "line " + sku + " comes from no known write (tag " + std::to_string(tag) +
                             ")\n" + s.state.DebugString());
      }
    }
    for (uint64_t t : s.model.created) {
      if (s.model.killed.contains(t)) continue;
      if (!s.state.lines().contains(by_id_.at(t).sku)) {
        return Fail(why, "line " + by_id_.at(t).sku + " is gone though no remove observed #" +
                             std::to_string(t) + "\n" + s.state.DebugString());
      }
    }
    return true;
  }

  // After convergence: the explicit forms of the two OR-Set promises, and
  // union+max's anomaly counts.
  bool CheckFinal(const Sibling& s, std::string* why, Stats& stats) const {
    std::map<std::string, uint64_t> adds;
    std::map<std::string, uint64_t> set_max;
    for (uint64_t t : s.model.created) {
      const Mutation& m = by_id_.at(t);
      bool live = false;
      for (const auto& [sku, line] : s.state.lines()) live |= line.contains(t);
      if (s.model.killed.contains(t)) {
        if (live && semantics_ == CartSemantics::kOrSet) {
          return Fail(why, "observed remove of #" + std::to_string(t) + " undone");
        }
        continue;
      }
      if (semantics_ == CartSemantics::kOrSet && !live) {
        return Fail(why,
                    "add #" + std::to_string(t) + " of " + m.sku + " lost: no remove observed it");
      }
      if (m.kind == Mutation::Kind::kAdd) {
        adds[m.sku] += m.quantity;
      } else {
        set_max[m.sku] = std::max<uint64_t>(set_max[m.sku], m.quantity);
      }
    }
    if (semantics_ == CartSemantics::kUnionMax) {
      for (const auto& [sku, line] : s.state.lines()) {
        if (s.model.killed.contains(line.begin()->first)) ++stats.resurrections;
      }
      for (const CartLine& line : s.state.Lines(kLimits)) {
        // What the OR-Set would show for the same history.
        if (line.quantity < set_max[line.sku] + adds[line.sku]) ++stats.lost_increments;
      }
    }
    return true;
  }

  bool CheckMergeLaws(const std::vector<Sibling>& all, std::string* why) {
    auto pick = [&]() -> const CartState& { return all[rng_.Uniform(all.size())].state; };
    const CartState& x = pick();
    const CartState& y = pick();
    const CartState& z = pick();
    auto join = [&](const CartState& a, const CartState& b) {
      return CartState::Merge(semantics_, std::vector<CartState>{a, b});
    };
    if (!(join(x, y) == join(y, x))) return Fail(why, "merge is not commutative");
    if (!(join(join(x, y), z) == join(x, join(y, z)))) {
      return Fail(why, "merge is not associative");
    }
    if (!(join(x, x) == x)) return Fail(why, "merge is not idempotent");
    return true;
  }

  bool CheckRoundTrip(const CartState& s, std::string* why) const {
    const std::string bytes = s.Encode();
    if (bytes.size() != s.EncodedBytes()) return Fail(why, "EncodedBytes() is not exact");
    Result<CartState> decoded = CartState::Decode(bytes, semantics_);
    if (!decoded.ok()) return Fail(why, "decode failed: " + decoded.status().ToString());
    if (!(*decoded == s)) return Fail(why, "round trip changed the cart");
    return true;
  }

  static std::string Describe(const Mutation& m) {
    static const char* const kKinds[] = {"add", "set", "remove", "clear"};
    std::string out =
        std::string(kKinds[static_cast<int>(m.kind)]) + " #" + std::to_string(m.id) + " " + m.sku;
    if (m.kind == Mutation::Kind::kAdd || m.kind == Mutation::Kind::kSetQuantity) {
      out += " " + std::to_string(m.quantity);
    }
    return out;
  }

  void Trace(const std::string& line) const {
    if (kTrace) std::printf("  %s\n", line.c_str());
  }

  static bool Fail(std::string* why, std::string message) {
    *why = std::move(message);
    return false;
  }

  Random rng_;
  CartSemantics semantics_;
  std::vector<std::vector<Sibling>> replicas_;
  std::vector<Mutation> issued_;
  std::map<uint64_t, Mutation> by_id_;
  std::vector<CartSession> sessions_;  // per replica (device)
  uint64_t now_ms_ = 1'700'000'000'000;
  int steps_ = 0;
};

std::string Replay(uint64_t seed) {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return "\n  replay: TROLLEY_PROPERTY_SEED=" + std::to_string(seed) +
         " TROLLEY_PROPERTY_CASES=1 build/tests/cart/cart_property_test --gtest_filter=" +
         info->test_suite_name() + "." + info->name();
}

Stats RunCases(CartSemantics semantics) {
  Stats stats;
  for (uint64_t i = 0; i < kCases; ++i) {
    const uint64_t seed = kBaseSeed + i;
    History h(seed, semantics);
    std::string why;
    for (int s = 0; s < h.steps(); ++s) {
      if (!h.Step(&why, stats)) {
        ADD_FAILURE() << "step " << s << ": " << why << Replay(seed);
        return stats;
      }
    }
    if (!h.Converge(&why, stats)) {
      ADD_FAILURE() << "after full gossip: " << why << Replay(seed);
      return stats;
    }
  }
  std::printf(
      "%s: %llu cases, %llu steps, %llu retries (%llu absorbed), %llu stale writes, "
      "up to %llu siblings; %llu resurrections, %llu lines with lost increments\n",
      std::string(CartSemanticsName(semantics)).c_str(), static_cast<unsigned long long>(kCases),
      static_cast<unsigned long long>(stats.steps), static_cast<unsigned long long>(stats.retries),
      static_cast<unsigned long long>(stats.retries_absorbed),
      static_cast<unsigned long long>(stats.stale_writes),
      static_cast<unsigned long long>(stats.siblings_max),
      static_cast<unsigned long long>(stats.resurrections),
      static_cast<unsigned long long>(stats.lost_increments));
  // Both semantics absorb retries, given enough cases to reach them.
  if (kCases >= 1000) {
    EXPECT_GT(stats.retries_absorbed, 0u);
  }
  return stats;
}

TEST(CartPropertyTest, OrSetConvergesNeverUndoesAnObservedRemoveNeverLosesAnAdd) {
  const Stats stats = RunCases(CartSemantics::kOrSet);
  if (HasFailure() || kCases < 1000) return;
  // The generator reaches the interesting shapes.
  EXPECT_GT(stats.stale_writes, 0u);
  EXPECT_GE(stats.siblings_max, 3u);
}

TEST(CartPropertyTest, UnionMaxConvergesAndCountsResurrections) {
  const Stats stats = RunCases(CartSemantics::kUnionMax);
  if (HasFailure() || kCases < 1000) return;
  // Dynamo's anomalies are real here, and the counters see them.
  EXPECT_GT(stats.resurrections, 0u);
  EXPECT_GT(stats.lost_increments, 0u);
}

}  // namespace
}  // namespace trolley
