// Membership: who is in the cluster, as one value: the ring (partition
// claim), every member's client address, and the epoch that names this
// version of the two. Every module reads the ring through it, and
// RingInfoReply reports its epoch (ring_version), so that when membership
// can change a client can tell an old claim from a new one.
//
// Today it is static: built once at start, epoch kFirstEpoch. A later
// change of membership makes a new Membership with a higher epoch.
// See docs/design.md, 'The node core'.
//
// Invariants (Create checks them all; the value is immutable, so the cheap
// CheckInvariants, run after every simulated event, re-checks 1 and 3):
//   1. epoch >= kFirstEpoch.
//   2. every address names a ring member, at most once.
//   3. the ring has at least one member.
// Threading: an immutable value.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "ring/ring.h"

namespace trolley {

class Membership {
 public:
  static constexpr uint64_t kFirstEpoch = 1;
  using Addresses = std::vector<std::pair<std::string, std::string>>;  // node id, host:port

  // InvalidArgument for an address of a node outside the ring, a node
  // given two addresses, or an epoch below kFirstEpoch. Addresses may name
  // only some members (a test cluster without sockets names none).
  static Result<Membership> Create(Ring ring, Addresses addresses, uint64_t epoch = kFirstEpoch);

  const Ring& ring() const { return ring_; }
  const Addresses& addresses() const { return addresses_; }
  uint64_t epoch() const { return epoch_; }
  bool Contains(const std::string& node) const { return ring_.Contains(NodeId{node}); }
  // Every member but `self`, in ring order.
  std::vector<std::string> PeersOf(const std::string& self) const;

  void CheckInvariants() const;

 private:
  Membership(Ring ring, Addresses addresses, uint64_t epoch)
      : ring_(std::move(ring)), addresses_(std::move(addresses)), epoch_(epoch) {}

  Ring ring_;
  Addresses addresses_;
  uint64_t epoch_;
};

}  // namespace trolley
