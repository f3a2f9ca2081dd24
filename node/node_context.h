// NodeContext: what every module of the node core shares, so that none of
// them reaches into Node: the options, the Env (transport, clock, engine,
// random, log), the membership, this node's actor id, the request id
// counter, and the metrics. See docs/design.md, 'The node core'.
//
// Who drives it: Node makes one and hands each module a reference; the
// modules use it to act (send, log, count) and never to reach each other.
// Threading: the node's driver thread only.
//
// Invariants:
//   1. options.node_id is a member of membership.
//   2. request ids are handed out in increasing order from a random start
//      (NextId), one counter for the whole node: a reply's id names one
//      request of one module.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/metrics.h"
#include "node/env.h"
#include "node/membership.h"
#include "node/node_metrics.h"
#include "node/node_options.h"
#include "ring/node_id.h"
#include "storage/version_vector.h"

namespace trolley {

inline constexpr uint64_t kNsPerMs = 1'000'000;

class NodeContext {
 public:
  NodeContext(NodeOptions options, NodeEnv env, Membership membership, ActorId actor);
  NodeContext(const NodeContext&) = delete;
  NodeContext& operator=(const NodeContext&) = delete;

  const NodeOptions& options() const { return options_; }
  const std::string& self() const { return options_.node_id; }
  const NodeEnv& env() const { return env_; }
  const Membership& membership() const { return membership_; }
  ActorId actor() const { return actor_; }
  NodeMetrics& metrics() { return metrics_; }
  const NodeMetrics& metrics() const { return metrics_; }
  const MetricRegistry& registry() const { return registry_; }

  RequestId NextId() { return RequestId{++last_id_}; }
  uint64_t Now() const { return env_.clock->NowMonotonicNs(); }
  uint64_t WallMs() const { return env_.clock->NowWallMs(); }
  void Send(const Endpoint& to, Message message) const {
    env_.transport->Send(to, std::move(message));
  }
  void SendToNode(const std::string& node, Message message) const {
    env_.transport->Send(Endpoint{node, 0}, std::move(message));
  }
  void Log(LogLevel level, const std::string& line) const { env_.log->Log(level, line); }
  // nullptr for a namespace this node is not configured with.
  const NamespaceOptions* FindNamespace(const std::string& ns) const;

 private:
  NodeOptions options_;
  NodeEnv env_;
  Membership membership_;
  ActorId actor_;
  uint64_t last_id_;
  MetricRegistry registry_;
  NodeMetrics metrics_{registry_};
};

inline bool ContainsNode(const std::vector<NodeId>& nodes, const std::string& id) {
  return std::any_of(nodes.begin(), nodes.end(), [&](const NodeId& n) { return n.name == id; });
}

inline std::string KeyName(const ObjectKey& key) { return key.ns + "/" + key.key; }

}  // namespace trolley
