// ForEachStillPresent: a walk over a module's table of operations in
// flight (PutCoordinator's puts, GetCoordinator's gets) that may retire
// operations as it goes. It visits, in key order, every operation present
// when the walk starts and still present when its turn comes: a visit may
// erase any entry (itself included), and entries it adds are not visited.
// Pure; no state of its own.
#pragma once

#include <vector>

namespace trolley {

template <typename Map, typename Visit>  // Visit: (typename Map::iterator) -> void
void ForEachStillPresent(Map& ops, Visit visit) {
  std::vector<typename Map::key_type> keys;
  keys.reserve(ops.size());
  for (const auto& entry : ops) keys.push_back(entry.first);
  for (const auto& key : keys) {
    auto it = ops.find(key);
    if (it != ops.end()) visit(it);
  }
}

}  // namespace trolley
