// FailureDetector: which peers this node believes up. The bottom level of
// the node core (docs/design.md, 'The node core'): it calls no other
// module. The modules above ask it IsUp() when they choose targets, and
// tell it when a peer stayed silent (Suspect); Node tells it when any
// message arrived from a peer (Heard) and when the transport could not
// reach one (Unreachable).
//
// Every change it sees is queued as a PeerEvent; Node drains the queue
// (TakeEvents) after each input and routes the events to the modules
// above: kUp to hinted handoff (a fresh start for its backoff),
// kUnreachable to the forwarder and both coordinators (stop waiting for
// that peer now). kSuspected goes to no module today: each consults
// IsUp() the next time it picks a target.
//
// Suspected peers are pinged every ping_interval_ms; any message from
// them, a Pong included, makes them up again. Sans-IO: sends through the
// context, reads the clock only through it. Not thread-safe.
//
// Invariants (CheckInvariants):
//   1. exactly the members other than this node have a PeerState.
//   2. a suspected peer was suspected at or before now (last_ping_ns).
//   3. an up peer's last_ping_ns is unused and 0 (reset when heard).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "node/node_context.h"

namespace trolley {

struct PeerEvent {
  enum class Kind { kUp, kSuspected, kUnreachable };
  Kind kind;
  std::string node;
  friend bool operator==(const PeerEvent&, const PeerEvent&) = default;
};

class FailureDetector {
 public:
  explicit FailureDetector(NodeContext& ctx);

  // This node itself is always up; a non-member never is.
  bool IsUp(const std::string& node) const;
  // A message from `node` arrived: up again if it was suspected.
  void Heard(const std::string& node);
  // `node` stayed silent past a timeout: suspected if it was up.
  void Suspect(const std::string& node, std::string_view why);
  // The transport could not reach `node`: suspected, and kUnreachable is
  // queued even if it already was (requests waiting on it move on).
  void Unreachable(const std::string& node);
  // Pings suspected peers every ping_interval_ms.
  void Tick(uint64_t now);

  // The events queued since the last call, oldest first.
  std::vector<PeerEvent> TakeEvents();
  bool HasEvents() const { return !events_.empty(); }

  void CheckInvariants() const;

 private:
  struct PeerState {
    bool suspected = false;
    uint64_t last_ping_ns = 0;  // when suspected or last pinged
  };

  NodeContext& ctx_;
  std::map<std::string, PeerState> peers_;
  std::vector<PeerEvent> events_;
};

}  // namespace trolley
