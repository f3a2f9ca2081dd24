// Node: the replica-side protocol of one trolleyd process, as a thin
// router over the modules of the node core (docs/design.md, 'The node
// core'). It owns the modules and the context they share, and routes to
// them every input: messages, ticks, unreachable peers, and the peer
// events the failure detector raises. It decides nothing itself beyond
// where a client request goes (a plan, then the forwarder or a
// coordinator).
//
// Levels (a module calls only modules below it; none calls Node):
//   0  FailureDetector   which peers are up; raises PeerEvents
//   1  HintedHandoff     hints kept for peers, and their delivery
//   1  AaeLocalTree      this node's anti-entropy hashes and listings; serves peers
//   2  PutCoordinator, GetCoordinator (with read repair), Forwarder,
//      Replica           the request roles
//   2  AntiEntropy       exchanges with the other replicas of each partition
//   3  NodeStatus        StatusReply and RingInfoReply (reads only)
// The forwarder hands requests to re-route back to Node (a Reroute), which
// routes them like new client requests; events from the failure detector
// are drained after every input and routed upward: kUp to hinted handoff,
// kUnreachable to the forwarder and both coordinators.
//
// Sans-IO: it learns only through OnMessage(), Tick(), OnPeerUnreachable()
// and the Engine's callbacks, and acts only through NodeEnv. Same inputs
// and same Env behaviour give the same decisions. Not thread-safe: one
// thread drives it, and the Engine's callbacks must run on that thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "node/aae_local_tree.h"
#include "node/anti_entropy.h"
#include "node/env.h"
#include "node/failure_detector.h"
#include "node/forwarder.h"
#include "node/get_coordinator.h"
#include "node/hinted_handoff.h"
#include "node/membership.h"
#include "node/node_context.h"
#include "node/node_metrics.h"
#include "node/node_options.h"
#include "node/put_coordinator.h"
#include "node/replica.h"
#include "node/status.h"
#include "ring/ring.h"

namespace trolley {

// The actor id for one life of a node's data: `incarnation` is the engine's
// actor epoch, new at every start (docs/design.md, 'Versions: dotted version
// vector sets', 'Actor epochs').
ActorId ActorIdFor(const std::string& node_id, uint64_t incarnation);

class Node {
 public:
  // `ring` must contain options.node_id, and options.member_addresses name
  // ring members only, once each. Namespaces: N <= ring size is not
  // required (the preference list is then shorter), 1 <= R, W <= N is.
  static Result<std::unique_ptr<Node>> Create(NodeOptions options, NodeEnv env, Ring ring);

  void OnMessage(const Endpoint& from, Message message);
  // Advances every timer; call every few milliseconds.
  void Tick();
  // The transport could not reach `node` (connect refused, reset): it is
  // suspected, and requests waiting on it move on at once.
  void OnPeerUnreachable(const std::string& node);

  bool IsUp(const std::string& node) const { return detector_.IsUp(node); }
  // Every counter, gauge and latency histogram of this node
  // (node/node_metrics.h).
  const MetricRegistry& metrics() const { return ctx_.registry(); }
  const Membership& membership() const { return ctx_.membership(); }
  const Ring& ring() const { return ctx_.membership().ring(); }
  ActorId actor() const { return ctx_.actor(); }
  // Anti-entropy: the tombstone purge rule for the engine's sweep (a copy,
  // callable from any thread) and the state of each (partition, peer) pair.
  TombstoneCutoff TombstoneCutoffSnapshot() const { return aae_.TombstoneCutoffSnapshot(); }
  std::vector<AaePairStatus> AaeStatus() const { return aae_.PairStatus(); }
  // Client requests still tracked (for tests: everything settles to zero).
  size_t PendingRequests() const {
    return puts_.InFlight() + gets_.InFlight() + forwarder_.InFlight();
  }

  // Asserts every module's invariants (each documented in its header).
  // The simulator calls it after every event; cost O(requests in flight).
  void CheckInvariants() const;

 private:
  Node(NodeOptions options, NodeEnv env, Membership membership, ActorId actor);

  void OnClientPut(const Endpoint& from, ClientPut m);
  void OnClientGet(const Endpoint& from, ClientGet m);
  void OnCartUpdate(const Endpoint& from, CartUpdate m);
  // Answers client request `id` with a `Reply` carrying `why`.
  template <typename Reply>
  void Refuse(const Endpoint& from, RequestId id, const Status& why);
  // Whether client request `m` went on to a primary of `plan` (this node
  // is none, `m` was not forwarded already, and a primary is believed up);
  // if not, this node coordinates it.
  template <typename Request>
  bool ForwardedToPrimary(const Endpoint& from, const Request& m, const RequestPlan& plan);
  void OnReplicaWriteReply(const Endpoint& from, const ReplicaWriteReply& m);
  void OnReplicaGetReply(const Endpoint& from, const ReplicaGetReply& m);
  void Dispatch(const Endpoint& from, Message& message);
  void RouteReroutes(std::vector<Reroute> reroutes);
  // Routes the failure detector's queued events to the modules above it,
  // until none is left.
  void RoutePeerEvents();

  NodeContext ctx_;
  FailureDetector detector_{ctx_};
  HintedHandoff handoff_{ctx_, detector_};
  PutCoordinator puts_{ctx_, detector_, handoff_};
  GetCoordinator gets_{ctx_, detector_};
  Forwarder forwarder_{ctx_, detector_};
  Replica replica_{ctx_, handoff_};
  AaeLocalTree aae_local_{ctx_};
  AntiEntropy aae_{ctx_, detector_, aae_local_};
  NodeStatus status_{ctx_, detector_};
};

}  // namespace trolley
