// Dots and version vectors: the causal bookkeeping of one key.
//
// An actor is one life of one node's data (docs/design.md, 'Versions: dotted version vector
// sets', 'Actor epochs'): every start of a node, clean or not, with its data dir as it was, emptied
// or restored from a copy, takes a new random epoch and so a new ActorId, so dots it may have
// forgotten can never be reissued. A Dot (actor,
// counter) names one write. A VersionVector maps actors to the largest counter seen; it covers a
// dot when vv[dot.actor] >= dot.counter.
//
// A version vector used as a *causal context* must be downward closed per
// actor: vv[a] = k means every dot (a, j <= k) of this key has been seen.
// SiblingSet keeps that true because an actor issues dots for a key in
// increasing order and always holds every dot it issued (see sibling_set.h).
//
// Lamport 1978; Mattern 1989; Dynamo (SOSP 2007) §4.4.
// Value types; not thread-safe.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace trolley {

using ActorId = uint64_t;

struct Dot {
  ActorId actor = 0;
  uint64_t counter = 0;  // >= 1 for a real dot
  friend auto operator<=>(const Dot&, const Dot&) = default;
};

std::string ToString(const Dot& dot);

class VersionVector {
 public:
  struct Entry {
    ActorId actor;
    uint64_t counter;  // >= 1; actors at 0 are not stored
    friend bool operator==(const Entry&, const Entry&) = default;
  };

  VersionVector() = default;
  // Entries in any order; duplicates keep the largest counter; zeros dropped.
  static VersionVector FromEntries(std::vector<Entry> entries);

  uint64_t Get(ActorId actor) const;
  bool Covers(const Dot& dot) const { return Get(dot.actor) >= dot.counter; }
  // True if every entry of `other` is <= the matching entry here.
  bool Descends(const VersionVector& other) const;
  // Pointwise max.
  void Join(const VersionVector& other);
  // Raises actor's entry to `counter` if it is lower.
  void Add(const Dot& dot);

  const std::vector<Entry>& entries() const { return entries_; }  // sorted by actor
  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  std::string ToString() const;

  friend bool operator==(const VersionVector&, const VersionVector&) = default;

 private:
  std::vector<Entry> entries_;  // sorted by actor, counters >= 1
};

// Partial order of two contexts.
enum class Causality { kEqual, kBefore, kAfter, kConcurrent };
Causality Compare(const VersionVector& a, const VersionVector& b);

}  // namespace trolley
