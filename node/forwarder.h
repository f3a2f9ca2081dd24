// Forwarder: sends a client request for a key this node does not replicate
// to the first primary it believes up, and relays the answer back.
// Level 2 of the node core (docs/design.md, 'The node core'): it asks the
// failure detector IsUp() and tells it Suspect(); it calls nothing above
// it, and in particular never coordinates a request itself.
//
// If the primary is reported unreachable, or is silent for
// replica_timeout_ms (it is then suspected), the request is re-routed
// within its original deadline: the forwarder hands the original request
// back to Node (a Reroute, with what is left of the deadline), and Node
// routes it again as a new client request: to the next primary it believes
// up, or to a coordinator here. Each re-route skips the primaries
// suspected so far, so a request goes to each primary at most once per
// suspicion and ends by its deadline. That keeps the forwarder below the coordinators
// instead of calling into them. A forwarded request that gets no answer
// by its deadline is answered kTimeout here.
//
// Invariants (CheckInvariants), for every forwarded request in flight:
//   1. it went to a node other than this one (a primary of its key).
//   2. it carries a ClientPut, a ClientGet or a CartUpdate.
//   3. it was sent before its deadline.
//   4. the forwards_in_flight gauge equals the requests in flight.
// A forwarded request is answered at most once: the answer retires it.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "node/failure_detector.h"
#include "node/node_context.h"
#include "ring/preference_list.h"

namespace trolley {

// A client request to route again, as the client sent it, with its
// timeout_ms cut to what is left of its original deadline.
struct Reroute {
  Endpoint client;
  Message request;  // ClientPut, ClientGet or CartUpdate
};

class Forwarder {
 public:
  Forwarder(NodeContext& ctx, FailureDetector& detector);

  // Sends `request` (a ClientPut, ClientGet or CartUpdate from `client`) to
  // the first up primary of `pref`. False if none is up: the caller
  // coordinates it.
  bool Forward(const Endpoint& client, RequestId client_id, const PreferenceList& pref,
               Message request, uint64_t timeout_ms);
  // A ClientPutReply, ClientGetReply or CartUpdateReply from a primary:
  // relayed to the client if it answers a request in flight from that
  // primary, of the same kind.
  void OnForwardedReply(const Endpoint& from, Message reply);
  // Requests waiting on `node`, to route again now.
  std::vector<Reroute> OnPeerUnreachable(const std::string& node);
  // Answers requests past their deadline; returns the ones to route again
  // (their primary was silent for replica_timeout_ms).
  std::vector<Reroute> Tick(uint64_t now);

  size_t InFlight() const { return forwards_.size(); }
  void CheckInvariants() const;

 private:
  struct ForwardOp {
    Endpoint client;
    RequestId client_id;
    std::string to;
    uint64_t deadline_ns = 0;
    uint64_t sent_ns = 0;
    Message request;  // as the client sent it, to re-route
  };
  using OpMap = std::map<uint64_t, ForwardOp>;

  // Takes the op out (erases it) as a Reroute with its remaining deadline.
  Reroute TakeForReroute(OpMap::iterator it, uint64_t now);
  void Retire(OpMap::iterator it);

  NodeContext& ctx_;
  FailureDetector& detector_;
  OpMap forwards_;  // by the request id used toward the primary
};

}  // namespace trolley
