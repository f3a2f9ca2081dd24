#include "storage/namespace_router.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "common/assert.h"
#include "common/key.h"
#include "storage/key_layout.h"

namespace trolley {
namespace {

// A key's position in the engines' key order (storage/key_layout.h).
struct Position {
  uint64_t hash;
  const ObjectKey* key;
};

bool Less(const Position& a, const Position& b) {
  return key_layout::CompareObjectKeys(a.hash, *a.key, b.hash, *b.key) < 0;
}

bool Same(const Position& a, const Position& b) { return a.hash == b.hash && *a.key == *b.key; }

// Merges runs that are each in key order (one per engine) into one run in
// key order, at most `limit` long. A key in several runs is taken once, from
// run `owner(key)` if it is among them, else from the lowest such run.
// `*cut` is set when entries were left over.
template <typename T, typename KeyOf, typename Owner>
std::vector<T> MergeRuns(std::vector<std::vector<T>>& runs, size_t limit, KeyOf key_of, Owner owner,
                         bool* cut) {
  std::vector<std::vector<uint64_t>> hashes(runs.size());
  for (size_t r = 0; r < runs.size(); ++r) {
    hashes[r].reserve(runs[r].size());
    for (const T& item : runs[r]) {
      hashes[r].push_back(KeyHash(key_of(item).ns, key_of(item).key));
      // The Engine contract: pages are in hash order.
      TROLLEY_ASSERT(hashes[r].size() == 1 || hashes[r][hashes[r].size() - 2] <= hashes[r].back());
    }
  }
  auto head = [&](size_t r, const std::vector<size_t>& pos) {
    return Position{hashes[r][pos[r]], &key_of(runs[r][pos[r]])};
  };
  std::vector<size_t> pos(runs.size(), 0);
  std::vector<T> out;
  *cut = false;
  std::vector<size_t> same;
  for (;;) {
    size_t best = runs.size();
    for (size_t r = 0; r < runs.size(); ++r) {
      if (pos[r] == runs[r].size()) continue;
      if (best == runs.size() || Less(head(r, pos), head(best, pos))) best = r;
    }
    if (best == runs.size()) break;
    if (out.size() >= limit) {
      *cut = true;
      break;
    }
    const Position min = head(best, pos);
    same.clear();
    for (size_t r = 0; r < runs.size(); ++r) {
      if (pos[r] < runs[r].size() && Same(head(r, pos), min)) same.push_back(r);
    }
    TROLLEY_ASSERT(!same.empty() && same.front() == best);
    const size_t preferred = owner(*min.key);
    const size_t take =
        std::find(same.begin(), same.end(), preferred) != same.end() ? preferred : best;
    out.push_back(std::move(runs[take][pos[take]]));  // `min` may dangle from here on
    for (const size_t r : same) ++pos[r];
  }
  TROLLEY_ASSERT(out.size() <= limit);
  return out;
}

}  // namespace

NamespaceRouter::NamespaceRouter(std::vector<Engine*> engines,
                                 std::map<std::string, size_t, std::less<>> engine_of_namespace,
                                 size_t default_engine)
    : engines_(std::move(engines)),
      engine_of_namespace_(std::move(engine_of_namespace)),
      default_engine_(default_engine) {
  TROLLEY_ASSERT_MSG(!engines_.empty(), "NamespaceRouter needs at least one engine");
  TROLLEY_ASSERT(default_engine_ < engines_.size());
  std::set<const Engine*> distinct;
  for (const Engine* e : engines_) {
    TROLLEY_ASSERT(e != nullptr);
    TROLLEY_ASSERT_MSG(distinct.insert(e).second, "an engine is listed twice");
  }
  for (const auto& [ns, index] : engine_of_namespace_) {
    TROLLEY_ASSERT(!ns.empty() && ns.size() <= kNamespaceBytesMax);
    TROLLEY_ASSERT(index < engines_.size());
  }
}

size_t NamespaceRouter::EngineIndexFor(std::string_view ns) const {
  const auto it = engine_of_namespace_.find(ns);
  return it == engine_of_namespace_.end() ? default_engine_ : it->second;
}

Result<SiblingSet> NamespaceRouter::Get(const ObjectKey& key) { return EngineFor(key.ns).Get(key); }

void NamespaceRouter::Put(ObjectKey key, WriteIntent intent, ActorId actor, StateCallback decided,
                          StateCallback done) {
  Engine& engine = EngineFor(key.ns);
  engine.Put(std::move(key), std::move(intent), actor, std::move(decided), std::move(done));
}

void NamespaceRouter::Merge(ObjectKey key, SiblingSet remote, StateCallback done) {
  Engine& engine = EngineFor(key.ns);
  engine.Merge(std::move(key), std::move(remote), std::move(done));
}

Result<ScanPage> NamespaceRouter::Scan(uint64_t first_hash, uint64_t last_hash,
                                       const ObjectKey* resume_after, size_t limit) {
  if (single()) return engines_[0]->Scan(first_hash, last_hash, resume_after, limit);
  // Each engine's first `limit` keys after `resume_after` include every key
  // of the merged first `limit`.
  std::vector<std::vector<KeyState>> runs;
  runs.reserve(engines_.size());
  bool any_more = false;
  for (Engine* engine : engines_) {
    auto page = engine->Scan(first_hash, last_hash, resume_after, limit);
    if (!page.ok()) return page.status();
    TROLLEY_ASSERT(page->entries.size() <= limit);
    any_more = any_more || page->more;
    runs.push_back(std::move(page->entries));
  }
  ScanPage out;
  bool cut = false;
  out.entries = MergeRuns(
      runs, limit, [](const KeyState& ks) -> const ObjectKey& { return ks.key; },
      [this](const ObjectKey& k) { return EngineIndexFor(k.ns); }, &cut);
  // A key is left after this page iff some engine had one past its page
  // (any_more) or one of the pages was not taken whole (cut).
  out.more = any_more || cut;
  return out;
}

void NamespaceRouter::Sweep(uint64_t tombstone_grace_ms, TombstoneCutoff cutoff,
                            SweepCallback done) {
  if (single()) return engines_[0]->Sweep(tombstone_grace_ms, cutoff, std::move(done));
  // Children may call back on their own threads, concurrently, or inline.
  // Each writes only its own slot; the release/acquire countdown hands
  // every slot to the last one, which alone reads them. No lock: the
  // router stays free of threading primitives (scripts/check-layering.sh).
  struct Join {
    std::atomic<size_t> remaining;
    std::vector<std::optional<Result<SweepReport>>> results;  // by engine index
    SweepCallback done;
  };
  auto join = std::make_shared<Join>();
  join->remaining.store(engines_.size());
  join->results.resize(engines_.size());
  join->done = std::move(done);
  for (size_t i = 0; i < engines_.size(); ++i) {
    engines_[i]->Sweep(tombstone_grace_ms, cutoff, [join, i](Result<SweepReport> r) {
      TROLLEY_ASSERT(!join->results[i].has_value());  // each child calls back once
      join->results[i] = std::move(r);
      const size_t before = join->remaining.fetch_sub(1, std::memory_order_acq_rel);
      TROLLEY_ASSERT(before > 0);
      if (before > 1) return;
      SweepReport sum;
      for (const std::optional<Result<SweepReport>>& result : join->results) {
        if (!result->ok()) return join->done(result->status());
        sum.keys_scanned += (*result)->keys_scanned;
        sum.expired_removed += (*result)->expired_removed;
        sum.tombstones_purged += (*result)->tombstones_purged;
        sum.tombstones_kept += (*result)->tombstones_kept;
        sum.aae_index_fixed += (*result)->aae_index_fixed;
      }
      join->done(sum);
    });
  }
}

std::vector<uint64_t> NamespaceRouter::AaeSegments(uint32_t first, uint32_t count) {
  std::vector<uint64_t> out(count, 0);
  for (Engine* engine : engines_) {  // the tree of the union is the XOR of the trees
    const std::vector<uint64_t> part = engine->AaeSegments(first, count);
    for (uint32_t i = 0; i < count; ++i) out[i] ^= part[i];
  }
  return out;
}

std::vector<uint64_t> NamespaceRouter::AaeBranches(uint32_t first, uint32_t count) {
  std::vector<uint64_t> out(count, 0);
  for (Engine* engine : engines_) {
    const std::vector<uint64_t> part = engine->AaeBranches(first, count);
    for (uint32_t i = 0; i < count; ++i) out[i] ^= part[i];
  }
  return out;
}

Result<std::vector<AaeKeyVersion>> NamespaceRouter::AaeSegmentKeys(uint32_t segment) {
  if (single()) return engines_[0]->AaeSegmentKeys(segment);
  std::vector<AaeKeyVersion> out;
  for (Engine* engine : engines_) {
    auto keys = engine->AaeSegmentKeys(segment);
    if (!keys.ok()) return keys.status();
    for (AaeKeyVersion& k : *keys) out.push_back(std::move(k));
  }
  std::sort(out.begin(), out.end(), [](const AaeKeyVersion& a, const AaeKeyVersion& b) {
    return key_layout::CompareObjectKeys(a.key, b.key) < 0;
  });
  return out;
}

AaeTreeStats NamespaceRouter::AaeStats() {
  AaeTreeStats sum;
  for (Engine* engine : engines_) {
    const AaeTreeStats s = engine->AaeStats();
    sum.rebuilds += s.rebuilds;
    sum.rebuilt_keys += s.rebuilt_keys;
    sum.verify_fixed += s.verify_fixed;
  }
  return sum;
}

HintStore& NamespaceRouter::hints() {
  if (single()) return engines_[0]->hints();
  return *this;
}

void NamespaceRouter::Sync(std::string_view ns, DoneCallback done) {
  EngineFor(ns).Sync(ns, std::move(done));
}

void NamespaceRouter::Cork() {
  for (Engine* engine : engines_) engine->Cork();
}

void NamespaceRouter::Uncork() {
  for (auto it = engines_.rbegin(); it != engines_.rend(); ++it) (*it)->Uncork();
}

uint64_t NamespaceRouter::incarnation() const {
  uint64_t sum = 0;
  for (const Engine* engine : engines_) sum += engine->incarnation();  // mod 2^64
  return sum;
}

void NamespaceRouter::Add(Hint hint, DoneCallback done) {
  HintStore& store = EngineFor(hint.key.ns).hints();
  store.Add(std::move(hint), std::move(done));
}

Result<std::vector<Hint>> NamespaceRouter::List(std::string_view target, size_t limit) {
  if (single()) return engines_[0]->hints().List(target, limit);
  std::vector<std::vector<Hint>> runs;
  runs.reserve(engines_.size());
  for (Engine* engine : engines_) {
    auto listed = engine->hints().List(target, limit);
    if (!listed.ok()) return listed.status();
    runs.push_back(std::move(listed).value());
  }
  bool cut = false;
  return MergeRuns(
      runs, limit, [](const Hint& h) -> const ObjectKey& { return h.key; },
      [this](const ObjectKey& k) { return EngineIndexFor(k.ns); }, &cut);
}

Result<std::vector<std::string>> NamespaceRouter::Targets() {
  if (single()) return engines_[0]->hints().Targets();
  std::vector<std::string> out;
  for (Engine* engine : engines_) {
    auto targets = engine->hints().Targets();
    if (!targets.ok()) return targets.status();
    for (std::string& t : *targets) out.push_back(std::move(t));
  }
  // The hints table's order (storage/key_layout.h).
  auto less = [](const std::string& a, const std::string& b) {
    return key_layout::CompareHintTargets(a, b) < 0;
  };
  std::sort(out.begin(), out.end(), less);
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void NamespaceRouter::RemoveDelivered(std::string target, ObjectKey key, SiblingSet delivered,
                                      DoneCallback done) {
  HintStore& store = EngineFor(key.ns).hints();
  store.RemoveDelivered(std::move(target), std::move(key), std::move(delivered), std::move(done));
}

void NamespaceRouter::Drop(std::string target, ObjectKey key, DoneCallback done) {
  HintStore& store = EngineFor(key.ns).hints();
  store.Drop(std::move(target), std::move(key), std::move(done));
}

Result<HintStats> NamespaceRouter::Stats() {
  if (single()) return engines_[0]->hints().Stats();
  HintStats sum;
  for (Engine* engine : engines_) {
    auto stats = engine->hints().Stats();
    if (!stats.ok()) return stats.status();
    sum.count += stats->count;
    if (stats->oldest_created_ms != 0 &&
        (sum.oldest_created_ms == 0 || stats->oldest_created_ms < sum.oldest_created_ms)) {
      sum.oldest_created_ms = stats->oldest_created_ms;
    }
  }
  return sum;
}

}  // namespace trolley
