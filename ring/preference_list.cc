#include "ring/preference_list.h"

#include "common/assert.h"

namespace trolley {

PreferenceList PreferenceListForPartition(const Ring& ring, uint32_t partition, uint32_t n_val) {
  TROLLEY_ASSERT(n_val >= 1);
  TROLLEY_ASSERT(partition < ring.PartitionCount());
  const std::vector<NodeId>& nodes = ring.Nodes();
  const uint32_t mask = ring.PartitionCount() - 1;  // a power of two
  std::vector<bool> seen(nodes.size(), false);
  size_t seen_count = 0;
  PreferenceList list;
  // Every member owns a partition, so one lap meets them all; stop early
  // once it has.
  for (uint32_t step = 0; step < ring.PartitionCount() && seen_count < nodes.size(); ++step) {
    const uint32_t index = ring.OwnerIndexOf((partition + step) & mask);
    if (seen[index]) continue;
    seen[index] = true;
    ++seen_count;
    auto& into = (list.primaries.size() < n_val) ? list.primaries : list.fallbacks;
    into.push_back(nodes[index]);
  }
  TROLLEY_ASSERT(seen_count == nodes.size());
  TROLLEY_ASSERT(list.primaries.front() == ring.OwnerOf(partition));
  return list;
}

PreferenceList PreferenceListForKey(const Ring& ring, std::string_view ns, std::string_view key,
                                    uint32_t n_val) {
  return PreferenceListForPartition(ring, ring.PartitionOf(ns, key), n_val);
}

std::vector<QuorumTarget> SelectQuorumTargets(const PreferenceList& list,
                                              const std::function<bool(const NodeId&)>& is_up) {
  std::vector<QuorumTarget> targets;
  targets.reserve(list.primaries.size());
  size_t next_fallback = 0;
  for (const NodeId& primary : list.primaries) {
    if (is_up(primary)) {
      targets.push_back({primary, std::nullopt});
      continue;
    }
    while (next_fallback < list.fallbacks.size() && !is_up(list.fallbacks[next_fallback])) {
      ++next_fallback;
    }
    if (next_fallback == list.fallbacks.size()) continue;  // no stand-in left
    targets.push_back({list.fallbacks[next_fallback], primary});
    ++next_fallback;
  }
  TROLLEY_ASSERT(targets.size() <= list.primaries.size());
  return targets;
}

}  // namespace trolley
