// HintedHandoff: the hints this node keeps for peers that could not take a
// write, and their delivery. One level above the failure detector
// (docs/design.md, 'The node core'): it asks it IsUp() and tells it
// Suspect(); the coordinators and the replica side call it; it calls none
// of them (a hint's `then` continuation is the engine's callback, passed
// through).
//
// Storing: StoreHint (a coordinator's own hint: counted, bounded by
// hints_max, refused beyond with a log line) and AcceptFallbackWrite (a
// peer's ReplicaWrite with hint_for set, this node being the fallback).
// Delivery: every hint_delivery_interval_ms, hints for peers believed up
// are sent in batches of at most hint_batch_max (ReplicaWrite with durable
// set: the owner replies once the merged state is on its disk); a hint is
// removed only after its owner acknowledged a state covering it; a failed
// or silent delivery backs the peer off exponentially with jitter, and a
// kUp event (OnPeerUp) clears the backoff. Hints older than
// hint_age_max_ms are dropped with a log line.
//
// The hint count (hint_count_) is an estimate that bounds the store: it
// starts from the store's count and goes up per add and down per
// acknowledged removal; adds that merge into an existing hint, and
// removals of a hint superseded meanwhile, make it drift from the store,
// which is why it is not compared with the store.
//
// Invariants (CheckInvariants):
//   1. for every peer, hints_in_flight equals the deliveries in flight to
//      it, and is at most hint_batch_max.
//   2. every delivery in flight goes to a member other than this node.
//   3. a peer's backoff is at most hint_backoff_max_ms.
//   4. the hint_deliveries_in_flight gauge equals the deliveries in flight.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "node/failure_detector.h"
#include "node/node_context.h"

namespace trolley {

class HintedHandoff {
 public:
  HintedHandoff(NodeContext& ctx, FailureDetector& detector);

  // Keeps `state` for `target` (a no-op for this node itself). Busy if
  // hints_max is reached (nothing stored, logged, counted as dropped);
  // otherwise `then` (if any) runs once the hint is durable or failed.
  Status StoreHint(const std::string& target, const ObjectKey& key, const SiblingSet& state,
                   std::function<void(Status)> then = nullptr);
  // A peer's fallback write for `hint_for`; `done` gets the store's answer.
  void AcceptFallbackWrite(std::string hint_for, ObjectKey key, SiblingSet state,
                           std::function<void(Status)> done);
  // A ReplicaWriteReply: true if it answered one of this module's
  // deliveries (then it is consumed), false if it is someone else's.
  bool OnReplicaWriteReply(const Endpoint& from, const ReplicaWriteReply& m);
  // The failure detector saw `node` come back: deliver without backoff.
  void OnPeerUp(const std::string& node);
  void Tick(uint64_t now);

  size_t DeliveriesInFlight() const { return deliveries_.size(); }
  void CheckInvariants() const;

 private:
  struct Delivery {
    std::string target;
    ObjectKey key;
    SiblingSet state;
    uint64_t sent_ns = 0;
  };
  struct PeerDelivery {
    uint64_t backoff_ms = 0;
    uint64_t next_round_ns = 0;
    size_t in_flight = 0;
  };

  void TimeOutDeliveries(uint64_t now);
  void DeliverTo(const std::string& target, uint64_t now, uint64_t wall_ms);
  // Removes one delivery from the books (map, per-peer count, gauge).
  Delivery Finish(std::map<uint64_t, Delivery>::iterator it);
  void DeliveryFailed(const std::string& target);

  NodeContext& ctx_;
  FailureDetector& detector_;
  std::map<uint64_t, Delivery> deliveries_;  // by request id
  std::map<std::string, PeerDelivery> peers_;
  uint64_t next_round_ns_ = 0;
  uint64_t hint_count_ = 0;  // an estimate that bounds the store (see above)
};

}  // namespace trolley
