// Test members for ring tests: NodeIds n1..nN.
#pragma once

#include <string>
#include <vector>

#include "ring/node_id.h"

namespace trolley {

inline std::vector<NodeId> Members(int n) {
  std::vector<NodeId> members;
  for (int i = 1; i <= n; ++i) members.push_back({"n" + std::to_string(i)});
  return members;
}

}  // namespace trolley
