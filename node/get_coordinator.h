// GetCoordinator: drives the client gets this node coordinates, with read
// repair. Level 2 of the node core (docs/design.md, 'The node core'): it
// asks the failure detector IsUp() and tells it Suspect(); it calls
// nothing above it. Node hands it planned gets (Start), replica replies,
// unreachable peers and ticks.
//
// A get reads locally and from the up primaries, answers after R states
// (not-found is a state; a primary silent for replica_timeout_ms or
// reported unreachable counts as a failure), and once every target has
// answered sends the merged state to every replica that answered with less
// (read repair: a merge, never an overwrite). It answers kTimeout at the
// deadline. A get is in one of two states: waiting for R (kWaiting), or
// answered and waiting for the rest of the targets (kAnswered), for the
// read repair; it is retired once every target answered.
//
// Invariants (CheckInvariants), for every get in flight:
//   1. kWaiting => its quorum is still pending (a decided quorum is
//      answered at once).
//   2. some target has not answered (else it was repaired and retired).
//   3. its targets are distinct (primaries of the key, picked once).
//   4. the gets_in_flight gauge equals the gets in flight.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "node/failure_detector.h"
#include "node/get_quorum.h"
#include "node/node_context.h"
#include "node/request_plan.h"

namespace trolley {

class GetCoordinator {
 public:
  GetCoordinator(NodeContext& ctx, FailureDetector& detector);

  // A client get this node coordinates, planned by Node (plan.quorum = R).
  void Start(const Endpoint& client, const ClientGet& m, const RequestPlan& plan);
  void OnReplicaGetReply(const Endpoint& from, const ReplicaGetReply& m);
  // Stop waiting for `node`: its read counts as failed.
  void OnPeerUnreachable(const std::string& node);
  void Tick(uint64_t now);

  size_t InFlight() const { return gets_.size(); }
  void CheckInvariants() const;

 private:
  enum class GetState : uint8_t { kWaiting, kAnswered };
  struct GetOp {
    Endpoint client;
    RequestId client_id;
    ObjectKey key;
    std::optional<GetQuorum> quorum;
    uint64_t sent_ns = 0;
    std::optional<uint64_t> local_read_ns;  // this node's copy read (if a target)
    uint32_t r = 0;
    uint64_t deadline_ns = 0;
    GetState state = GetState::kWaiting;
  };
  using OpMap = std::map<uint64_t, GetOp>;

  // Answers the client if the quorum has decided; once every target has
  // answered, read-repairs and erases the op (the iterator is invalid).
  void AnswerAndRetireIfDone(OpMap::iterator it);
  void Answer(GetOp& op, StatusCode code, std::string message);
  void ReadRepair(const GetOp& op);

  NodeContext& ctx_;
  FailureDetector& detector_;
  OpMap gets_;  // by the request id used toward replicas
};

}  // namespace trolley
