// PutCoordinator: drives the client puts and cart updates this node
// coordinates (node/cart_update.h), from the local write to the client's
// answer and the last replica's reply. A cart update is a put whose value
// the engine computes from the local copy; from then on both are the same.
// Level 2 of the node core (docs/design.md, 'The node core'): it asks the
// failure detector IsUp() and tells it Suspect(), and gives hinted handoff
// the writes a target could not take; it calls nothing above it. Node
// hands it planned puts (Start), replica replies, unreachable peers and
// ticks.
//
// A put (as coordinator: a node in the key's preference list, or any node
// when no primary is reachable):
//   1. applies the write to the local engine; once the engine decided the
//      new state (its `decided` callback) replication starts, in parallel
//      with the local commit. A coordinator outside the preference list
//      keeps that copy too, though no read asks it: its next write to the
//      key builds on it, and must, since a new dot's context covers every
//      earlier counter of this actor for the key (not storing it lost
//      acknowledged adds in 12 of simulator seeds 1..200);
//   2. sends the state to the other targets: up primaries, and for each
//      primary believed down the next up fallback with hint_for set; a
//      primary no fallback covers gets a durable hint here;
//   3. answers the client after W acks (kOk with the new state), with
//      kUnavailable once W can no longer be reached, or kTimeout at the
//      deadline (then every target still silent gets a hint here);
//   4. a target silent for replica_timeout_ms, or reported unreachable, is
//      suspected and replaced by the next unused fallback, or hinted here.
// Each answer records put_latency_us (cart_update_latency_us for a
// CartUpdate) and goes to the slow-request log with
// its phases: queue (arrival to the engine's decision), local_commit
// (arrival to the local commit's callback) and replica_acks (decision to
// the answer).
// Each put's progress is one PutPhase (node/put_phase.h).
//
// Invariants (CheckInvariants), for every put in flight:
//   1. before its state is decided it has no quorum, no targets and no
//      local role; after, it has a quorum and a local role.
//   2. decided and not answered => its quorum is still pending (a decided
//      quorum is answered at once).
//   3. kDraining => some target has not answered (else it was retired).
//   4. a target that has not answered is unanswered in the quorum too, is
//      not this node, and is among the nodes used (answered ones are not
//      checked again: the simulator runs this after every event).
//   5. a local role of kReplica with the commit not done => this node is
//      unanswered in the quorum.
//   6. the puts_in_flight gauge equals the puts in flight.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "node/cart_update.h"
#include "node/failure_detector.h"
#include "node/hinted_handoff.h"
#include "node/node_context.h"
#include "node/put_phase.h"
#include "node/put_quorum.h"
#include "node/request_plan.h"

namespace trolley {

class PutCoordinator {
 public:
  PutCoordinator(NodeContext& ctx, FailureDetector& detector, HintedHandoff& handoff);

  // A client put or cart update this node coordinates, planned by Node
  // (plan.quorum = W); answered as write.reply says.
  void Start(const Endpoint& client, CoordinatedWrite write, RequestPlan plan);
  // A replica's answer; late or unknown ids are ignored.
  void OnReplicaWriteReply(const Endpoint& from, const ReplicaWriteReply& m);
  // Stop waiting for `node`: as if every write sent to it timed out.
  void OnPeerUnreachable(const std::string& node);
  void Tick(uint64_t now);

  size_t InFlight() const { return puts_.size(); }
  void CheckInvariants() const;

 private:
  // How this node's own copy counts toward W.
  enum class LocalRole : uint8_t {
    kUnknown,       // not decided yet
    kReplica,       // a primary: its commit is one ack
    kHintFallback,  // standing in for a primary: its durable hint is one ack
    kCopyOnly,      // outside the preference list: keeps a copy, no ack
  };
  struct Target {
    std::string node;
    std::string hint_for;  // non-empty: a fallback standing in for this primary
    uint64_t sent_ns = 0;
    bool answered = false;
  };
  struct PutOp {
    Endpoint client;
    RequestId client_id;
    CoordinatedWrite::Reply reply = CoordinatedWrite::Reply::kPut;
    ObjectKey key;
    uint32_t w = 0;
    PreferenceList pref;
    SiblingSet state;  // the decided state
    std::optional<PutQuorum> quorum;
    std::vector<Target> targets;
    std::set<std::string> used;  // nodes already asked
    uint64_t start_ns = 0;
    std::optional<uint64_t> decided_ns;  // the engine decided the state
    std::optional<uint64_t> stored_ns;   // the local commit called back
    uint64_t deadline_ns = 0;
    PutPhase phase = PutPhase::kWriting;
    LocalRole local_role = LocalRole::kUnknown;
  };
  using OpMap = std::map<uint64_t, PutOp>;

  // The local engine's callbacks: the new state is decided (replicate it
  // now), then stored here (count this node if it is a replica).
  void LocalPutDecided(uint64_t op_id, SiblingSet state);
  void LocalPutDone(uint64_t op_id, Result<SiblingSet> result);
  void Replicate(uint64_t op_id, PutOp& op);
  // This node is the fallback for `owner`: its ack is its durable hint.
  void HintHereAsFallback(uint64_t op_id, PutOp& op, const std::string& owner);
  void SendToTarget(uint64_t op_id, PutOp& op, Target target);
  void ReplaceSilentTarget(uint64_t op_id, PutOp& op, const Target& silent);
  // Gives up on the targets still silent at the deadline: hints them here.
  void HintUnansweredTargets(PutOp& op);
  void TickOne(uint64_t op_id, PutOp& op, uint64_t now, std::vector<uint64_t>& retire);
  void HintTarget(const PutOp& op, const Target& target);

  // Answers the client if the quorum has decided (and it was not answered).
  void AnswerIfQuorumDecided(PutOp& op);
  void Answer(PutOp& op, StatusCode code, std::string message);
  // Its phases to the slow-request log (node/request_log.h).
  void ReportAnswered(const PutOp& op, StatusCode code, uint64_t now);
  // True once nothing is outstanding: answered, stored, every target done.
  static bool Done(const PutOp& op);
  // Erases the op if Done(); the iterator is invalid afterwards.
  void RetireIfDone(OpMap::iterator it);
  void Retire(OpMap::iterator it);

  NodeContext& ctx_;
  FailureDetector& detector_;
  HintedHandoff& handoff_;
  OpMap puts_;  // by the request id used toward replicas
};

}  // namespace trolley
