// Preference lists and sloppy-quorum targets (Dynamo §4.3, §4.6).
//
// The preference list of a partition is found by walking the ring
// clockwise from it (p, p + 1, ... mod Q) and taking each owner the first
// time it is met: the first n_val distinct owners are the primaries (the
// replicas), every other member follows, in walk order, as a fallback.
// Skipping owners already taken is what keeps the replicas on n_val
// distinct nodes even when one node owns neighbouring partitions.
//
// SelectQuorumTargets() applies the sloppy quorum: a primary that is up is
// its own target; a primary that is down is replaced by the next up
// fallback not used yet, which stores the write as a hint for that primary.
//
// Both are pure functions of their arguments: liveness comes in as a
// predicate, so the same ring and the same answers give the same targets on
// every machine and in the simulator.
//
// Invariants of a PreferenceList made here:
//   1. primaries and fallbacks are disjoint and hold no duplicates;
//   2. together they are exactly ring.Nodes();
//   3. primaries.size() == min(n_val, ring.Nodes().size()): when n_val
//      exceeds the member count the list holds only the members there are,
//      and there are no fallbacks;
//   4. primaries[0] owns the partition.
// Threading: pure functions; no shared state.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "ring/node_id.h"
#include "ring/ring.h"

namespace trolley {

struct PreferenceList {
  std::vector<NodeId> primaries;  // the replicas, in walk order
  std::vector<NodeId> fallbacks;  // everyone else, in walk order

  friend bool operator==(const PreferenceList&, const PreferenceList&) = default;
};

// One node a request is sent to. hint_for names the primary that `target`
// stands in for (the hint's intended owner); empty when `target` is itself
// a primary.
struct QuorumTarget {
  NodeId target;
  std::optional<NodeId> hint_for;

  friend bool operator==(const QuorumTarget&, const QuorumTarget&) = default;
};

// The preference list of `partition` (< ring.PartitionCount()) for n_val
// replicas (n_val >= 1; namespace config validation guarantees it).
PreferenceList PreferenceListForPartition(const Ring& ring, uint32_t partition, uint32_t n_val);

// The preference list of the partition holding (ns, key).
PreferenceList PreferenceListForKey(const Ring& ring, std::string_view ns, std::string_view key,
                                    uint32_t n_val);

// The sloppy-quorum targets for `list`, one per primary that is up or has
// an up fallback to stand in for it, in primaries order. Fallbacks are used
// in walk order, each at most once. A down primary with no up fallback left
// gets no target, so fewer than primaries.size() targets means not every
// replica can be reached; the coordinator decides whether R or W can still
// be met. is_up is called at most once per node.
std::vector<QuorumTarget> SelectQuorumTargets(const PreferenceList& list,
                                              const std::function<bool(const NodeId&)>& is_up);

}  // namespace trolley
