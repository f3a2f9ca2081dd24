// Node: the replica-side protocol of one trolleyd process: coordinator for
// client gets and puts, replica for other coordinators, sloppy quorum with
// fallbacks and hints, hint delivery, read repair, and forwarding of
// requests for keys this node does not replicate.
//
// Sans-IO (DESIGN.md §1): it learns only through OnMessage(), Tick() and
// the Engine's callbacks, and acts only through NodeEnv. Same inputs and
// same Env behaviour give the same decisions. Not thread-safe: one thread
// drives it, and the Engine's callbacks must run on that thread.
//
// Put, as coordinator (a node in the key's preference list, or any node
// when no primary is reachable):
//   1. apply the write to the local engine (durable under its mode); this
//      issues the new dot and counts as one ack. A coordinator outside the
//      preference list keeps that copy too, though no read asks it: its
//      next write to the key builds on it, and must, since a new dot's
//      context covers every earlier counter of this actor for the key;
//      without the earlier siblings here, the replicas would drop them as
//      superseded (not storing it lost acknowledged adds in 12 of
//      simulator seeds 1..200);
//   2. send the resulting state to the other targets: up primaries, and for
//      each primary believed down, the next up fallback with hint_for set;
//   3. answer the client after W acks (kOk with the new state), or with
//      kUnavailable once W can no longer be reached, or kTimeout at the
//      request deadline;
//   4. a target silent for replica_timeout_ms, or reported unreachable by
//      the transport, is suspected down and replaced by the next unused
//      fallback; a primary that no fallback
//      covers gets a durable hint on the coordinator itself, so it catches
//      up when it answers again without waiting for a read.
// Forwarding: a node outside the key's preference list forwards a client
// request to the first primary it believes up; if that primary is reported
// unreachable, or is silent for replica_timeout_ms, the request is
// re-routed once (to the next primary, or coordinated here) within its
// original deadline.
// Get: read locally and from the up primaries, answer after R states
// (not-found is a state; a primary silent for replica_timeout_ms or
// reported unreachable counts as a failure), then send the merged state to every replica that
// answered with less (read repair: a merge, never an overwrite).
// Hint delivery: every hint_delivery_interval_ms, hints for peers that
// answer are sent in batches (ReplicaWrite with durable set: the owner
// replies only once the merged state is on its disk, Engine::Sync, not
// merely committed); a hint is removed only after its owner acknowledged a
// state covering it; failures back off exponentially with jitter. Hints
// older than hint_age_max_ms are dropped with a log line, and new hints
// beyond hints_max are refused with one.
// Status: a StatusRequest from any endpoint (an admin tool's connection or
// a node) gets a StatusReply describing this node as it sees itself; a
// ReplicaGet from a client connection is answered like one from a
// coordinator (one replica's local state, no quorum).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "node/env.h"
#include "node/get_quorum.h"
#include "node/put_quorum.h"
#include "ring/preference_list.h"
#include "ring/ring.h"

namespace trolley {

// StatusReply's per-peer hint counts read at most this many hints per peer
// (HintStore has no per-target count); the count is a lower bound once it
// reaches this.
inline constexpr size_t kStatusPeerHintsCountedMax = 1000;

struct NamespaceOptions {
  std::string name;
  uint32_t n = 3;
  uint32_t r = 2;
  uint32_t w = 2;
  uint64_t ttl_ms = 0;  // default expiry of writes; 0 = never
  // How clients resolve siblings ("union-max" | "or-set"). Opaque to the
  // node, which stores values as bytes; reported to clients in RingInfo.
  std::string merge = "union-max";
};

struct NodeOptions {
  std::string node_id;
  std::vector<NamespaceOptions> namespaces;
  // node id -> "host:port", for RingInfo replies (clients route with it).
  std::vector<std::pair<std::string, std::string>> member_addresses;
  uint64_t request_timeout_ms = 2000;      // default client request deadline
  uint64_t replica_timeout_ms = 500;       // silent replica -> suspected, replaced
  uint64_t ping_interval_ms = 500;         // probe suspected peers
  uint64_t hint_delivery_interval_ms = 200;
  uint64_t hint_backoff_max_ms = 10'000;
  size_t hint_batch_max = 64;              // hints in flight per target
  uint64_t hints_max = 1'000'000;          // stored hints; more are refused and logged
  uint64_t hint_age_max_ms = 7ull * 24 * 3600 * 1000;
};

struct NodeStats {
  uint64_t puts_ok = 0, puts_failed = 0, gets_ok = 0, gets_failed = 0;
  uint64_t forwarded = 0, hints_stored = 0, hints_delivered = 0, hints_dropped = 0;
  uint64_t read_repairs = 0, fallback_writes = 0;
};

// The actor id for one life of a node's data: `incarnation` is the engine's actor epoch, new at
// every start (docs/design.md, 'Versions: dotted version vector sets', 'Actor epochs').
ActorId ActorIdFor(const std::string& node_id, uint64_t incarnation);

class Node {
 public:
  // `ring` must contain options.node_id. Namespaces: N <= ring size is not
  // required (the preference list is then shorter), 1 <= R, W <= N is.
  static Result<std::unique_ptr<Node>> Create(NodeOptions options, NodeEnv env, Ring ring);

  void OnMessage(const Endpoint& from, Message message);
  // Advances every timer; call every few milliseconds.
  void Tick();
  // The transport could not reach `node` (connect refused, reset): it is
  // suspected, and requests waiting on it move on at once (see above).
  void OnPeerUnreachable(const std::string& node);

  bool IsUp(const std::string& node) const;
  const NodeStats& stats() const { return stats_; }
  const Ring& ring() const { return ring_; }
  ActorId actor() const { return actor_; }
  // Requests still tracked (for tests: everything settles to zero).
  size_t PendingRequests() const { return puts_.size() + gets_.size() + forwards_.size(); }

 private:
  struct PutTarget {
    std::string node;
    std::string hint_for;  // non-empty: a fallback standing in for this primary
    uint64_t sent_ns = 0;
    bool answered = false;
  };
  struct PutOp {
    Endpoint client;
    RequestId client_id;
    ObjectKey key;
    uint32_t w = 0;
    PreferenceList pref;
    SiblingSet state;
    std::optional<PutQuorum> quorum;
    std::vector<PutTarget> targets;
    std::set<std::string> used;  // nodes already asked
    uint64_t deadline_ns = 0;
    bool replied = false;
    // The local engine decided the new state (`state`): replication has
    // started, before the local commit.
    bool decided = false;
    bool local_done = false;    // the local commit called back
    bool self_replica = false;  // this node's own commit counts toward W
  };
  struct GetOp {
    Endpoint client;
    RequestId client_id;
    ObjectKey key;
    std::optional<GetQuorum> quorum;
    uint64_t sent_ns = 0;
    uint64_t deadline_ns = 0;
    bool replied = false;
  };
  struct ForwardOp {
    Endpoint client;
    RequestId client_id;
    std::string to;
    bool is_put = false;
    uint64_t deadline_ns = 0;
    uint64_t sent_ns = 0;
    Message request;        // as the client sent it, to re-route
    bool rerouted = false;  // re-routed requests are not re-routed again
  };
  struct HintDelivery {
    std::string target;
    ObjectKey key;
    SiblingSet state;
    uint64_t sent_ns = 0;
  };
  struct PeerState {
    bool suspected = false;
    uint64_t last_ping_ns = 0;
    uint64_t hint_backoff_ms = 0;
    uint64_t next_hint_round_ns = 0;
    size_t hints_in_flight = 0;
  };

  // What a client request needs before it runs: its namespace, preference
  // list, the quorum to wait for (R or W) and its deadline.
  struct RequestPlan {
    const NamespaceOptions* ns = nullptr;
    PreferenceList pref;
    uint32_t quorum = 0;
    uint64_t timeout_ms = 0;
    bool self_primary = false;
  };

  Node(NodeOptions options, NodeEnv env, Ring ring);
  // InvalidArgument (to reply with) for an unknown namespace or a quorum
  // larger than the namespace's N.
  Result<RequestPlan> PlanRequest(const std::string& ns, const std::string& key,
                                  std::string_view quorum_name, uint32_t quorum_asked,
                                  uint32_t timeout_ms) const;

  void OnClientPut(const Endpoint& from, ClientPut m);
  void OnClientGet(const Endpoint& from, ClientGet m);
  void OnReplicaWrite(const Endpoint& from, ReplicaWrite m);
  void OnReplicaWriteReply(const Endpoint& from, const ReplicaWriteReply& m);
  void OnReplicaGet(const Endpoint& from, const ReplicaGet& m);
  void OnReplicaGetReply(const Endpoint& from, const ReplicaGetReply& m);
  void OnForwardedReply(const Endpoint& from, Message reply);
  void OnRingInfoRequest(const Endpoint& from, const RingInfoRequest& m);
  void OnStatusRequest(const Endpoint& from, const StatusRequest& m);

  // The local engine's two callbacks for a coordinated put: the new state
  // is decided (replicate it now), then stored here (count this node).
  void LocalPutDecided(uint64_t op_id, SiblingSet state);
  void LocalPutDone(uint64_t op_id, Result<SiblingSet> result);
  void Replicate(uint64_t op_id, PutOp& op);
  void SendToTarget(uint64_t op_id, PutOp& op, PutTarget target);
  void ReplaceSilentTarget(uint64_t op_id, PutOp& op, PutTarget& target);
  // Replies if the quorum decided; true once the op can be dropped (its
  // local commit and every target answered).
  bool SettlePut(PutOp& op);
  // Stores a hint; `then` (if any) runs once it is durable (or refused).
  void StoreHint(const std::string& target, const ObjectKey& key, const SiblingSet& state,
                 std::function<void(Status)> then = nullptr);
  void ReplyPut(PutOp& op, StatusCode code, std::string message);
  void FinishGetIfDecided(uint64_t op_id, GetOp& op);
  void ReplyGet(GetOp& op, StatusCode code, std::string message);
  void ReadRepair(const GetOp& op);

  void TickPuts(uint64_t now);
  void TickGets(uint64_t now);
  void TickForwards(uint64_t now);
  void TickPeers(uint64_t now);
  void TickHints(uint64_t now);
  void HintDeliveryFailed(const std::string& target);

  bool Forward(const Endpoint& from, RequestId client_id, const PreferenceList& pref,
               Message request, uint64_t timeout_ms);
  // Handles a forwarded request again after its primary was found down.
  void Reroute(ForwardOp op, uint64_t now);
  const NamespaceOptions* FindNamespace(const std::string& ns) const;
  void MarkHeard(const std::string& node);
  void Suspect(const std::string& node, std::string_view why);
  RequestId NextId() { return RequestId{++last_id_}; }
  uint64_t Now() const { return env_.clock->NowMonotonicNs(); }
  void Log(LogLevel level, const std::string& line) { env_.log->Log(level, line); }

  NodeOptions options_;
  NodeEnv env_;
  Ring ring_;
  ActorId actor_ = 0;
  uint64_t last_id_ = 0;
  std::map<uint64_t, PutOp> puts_;      // by the id used toward replicas
  std::map<uint64_t, GetOp> gets_;
  std::map<uint64_t, ForwardOp> forwards_;
  std::map<uint64_t, HintDelivery> deliveries_;
  std::map<std::string, PeerState> peers_;
  uint64_t next_hint_tick_ns_ = 0;
  uint64_t hint_count_ = 0;  // approximate (adds may merge); bounds the store
  // This node's share of ring_ for StatusReply, computed on the first
  // StatusRequest (a walk of every partition); ring_ never changes.
  struct RingShare {
    uint32_t owned = 0;
    uint32_t replicated = 0;
  };
  std::optional<RingShare> ring_share_;
  NodeStats stats_;
};

}  // namespace trolley
