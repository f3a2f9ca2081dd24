// NodeStatus: answers the questions asked about this node rather than
// about a key: StatusRequest (the node as it sees itself: ring share,
// hints, peers, every counter of its metric registry, and its
// anti-entropy per partition and peer) and
// RingInfoRequest (the membership: owners, member addresses, its epoch,
// and the namespaces). The top level of the node core (docs/design.md,
// 'The node core'): it only reads (the failure detector's view, the hint
// store, the registry); Node passes the count of requests in flight and
// the anti-entropy pairs.
//
// StatusReply's per-peer hint counts read at most kStatusPeerHintsCountedMax
// hints per peer (HintStore has no per-target count): a lower bound once
// they reach it.
//
// Invariants (CheckInvariants):
//   1. the cached ring share belongs to the current membership epoch, and
//      owned <= replicated <= partitions (owned may exceed replicated only
//      with no namespace, when nothing is replicated).
// Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "node/failure_detector.h"
#include "node/node_context.h"

namespace trolley {

inline constexpr size_t kStatusPeerHintsCountedMax = 1000;

class NodeStatus {
 public:
  NodeStatus(NodeContext& ctx, const FailureDetector& detector);

  // `aae_pairs`: AntiEntropy::PairStatus(); the reply carries the first
  // kStatusAaePairsMax of them.
  void OnStatusRequest(const Endpoint& from, const StatusRequest& m, uint64_t pending_requests,
                       std::vector<AaePairStatus> aae_pairs);
  void OnRingInfoRequest(const Endpoint& from, const RingInfoRequest& m);

  void CheckInvariants() const;

 private:
  // This node's share of the ring, computed on the first StatusRequest of
  // an epoch (a walk of every partition).
  struct RingShare {
    uint64_t epoch = 0;
    uint32_t owned = 0;
    uint32_t replicated = 0;
  };
  const RingShare& Share();
  // Fills the hint figures; the first failed hint store read becomes the
  // reply's code (the figures it would have given stay 0).
  void FillHints(StatusReply& reply);

  NodeContext& ctx_;
  const FailureDetector& detector_;
  std::optional<RingShare> ring_share_;
};

}  // namespace trolley
