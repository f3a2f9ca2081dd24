#include "node/membership.h"

#include <set>

#include "common/assert.h"

namespace trolley {

Result<Membership> Membership::Create(Ring ring, Addresses addresses, uint64_t epoch) {
  if (epoch < kFirstEpoch) {
    return Status::InvalidArgument("membership epoch " + std::to_string(epoch) + " is below " +
                                   std::to_string(kFirstEpoch));
  }
  if (ring.Nodes().empty()) return Status::InvalidArgument("membership: the ring has no members");
  std::set<std::string> seen;
  for (const auto& [node, address] : addresses) {
    if (!ring.Contains(NodeId{node})) {
      return Status::InvalidArgument("member address for '" + node +
                                     "', which is not a member of the ring");
    }
    if (!seen.insert(node).second) {
      return Status::InvalidArgument("member '" + node + "' has two addresses");
    }
  }
  return Membership(std::move(ring), std::move(addresses), epoch);
}

std::vector<std::string> Membership::PeersOf(const std::string& self) const {
  std::vector<std::string> out;
  for (const NodeId& n : ring_.Nodes()) {
    if (n.name != self) out.push_back(n.name);
  }
  return out;
}

void Membership::CheckInvariants() const {
  TROLLEY_ASSERT(epoch_ >= kFirstEpoch);
  TROLLEY_ASSERT(!ring_.Nodes().empty());
}

}  // namespace trolley
