// Replica: this node as a replica for other coordinators: it merges the
// states they send (ReplicaWrite; or keeps them as hints when it is a
// fallback, through hinted handoff) and answers reads of its local state
// (ReplicaGet, also from a client connection: one replica's state, no
// quorum). Level 2 of the node core (docs/design.md, 'The node core'): it
// calls hinted handoff to keep a fallback write, and nothing above.
//
// A write is answered once committed (under the engine's durability), or,
// with durable set (a hint delivery, whose sender deletes the hint on this
// reply), once it is on disk (Engine::Sync). Only then does the engine's
// Sync cost anything (an early fsync under `flush`).
//
// Invariants (CheckInvariants):
//   1. every write received is answered exactly once: the open writes by
//      (sender, id) count each arrival (a duplicated message is a second
//      write), an answer must find its entry (asserted when it is sent).
//   2. the replica_requests_in_flight gauge equals the open writes.
// Not thread-safe; the engine's callbacks run on the node's thread.
#pragma once

#include <cstdint>
#include <map>
#include <utility>

#include "node/hinted_handoff.h"
#include "node/node_context.h"

namespace trolley {

class Replica {
 public:
  Replica(NodeContext& ctx, HintedHandoff& handoff);

  void OnReplicaWrite(const Endpoint& from, ReplicaWrite m);
  void OnReplicaGet(const Endpoint& from, const ReplicaGet& m);

  size_t OpenWrites() const { return open_count_; }
  void CheckInvariants() const;

 private:
  using OpenKey = std::pair<Endpoint, uint64_t>;
  // Sends the one answer to a write, closing its open entry.
  void Answer(const Endpoint& to, RequestId id, const Status& s);

  NodeContext& ctx_;
  HintedHandoff& handoff_;
  std::map<OpenKey, uint32_t> open_;  // writes received and not answered, by sender and id
  size_t open_count_ = 0;             // sum of open_'s counts
};

}  // namespace trolley
