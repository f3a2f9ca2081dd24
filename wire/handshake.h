// Handshake and authorization: who may send what on a Trolley connection
// (docs/design.md, 'The runtime: trolleyd'). Pure decisions on messages,
// no I/O: node/server/ applies them to its inbound connections and peer
// links, client/ to its connections, and tests/wire/ drives them directly.
//
// Rules on an inbound connection (InboundPolicy::Admit):
//   1. The first message must be a Hello speaking kProtocolVersion; it is
//      answered with a HelloReply carrying this node's id.
//   2. A Hello with a node id makes the connection that peer's link: the id
//      must be a configured member other than this node. After that every
//      message is the peer's to deliver.
//   3. A Hello with an empty node id makes it a client's connection: the
//      client may send only what ClientMayAsk allows (ClientGet, ClientPut,
//      CartUpdate, RingInfoRequest, StatusRequest, Ping, ReplicaGet).
//   4. A second Hello, or anything a rule refuses, gets an ErrorReply and
//      the connection is closed; the refusal never affects other
//      connections.
// On an outbound connection (a peer link or a client's), CheckHelloReply
// accepts the node's HelloReply when it speaks kProtocolVersion and, for a
// peer link, names the member that was dialled.
// Threading: InboundPolicy is immutable after construction; one
// InboundState per connection, used by that connection's thread.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "wire/messages.h"

namespace trolley {

// Rule 3: what a client may send once its Hello is answered.
bool ClientMayAsk(const Message& message);

// What one inbound connection has said so far.
struct InboundState {
  bool hello_done = false;
  std::string peer;  // after a peer's Hello: its node id; empty for a client
  bool is_peer() const { return !peer.empty(); }
};

// The decision on one message.
struct Admission {
  enum class Kind {
    kAnswer,   // a Hello: send `reply` (a HelloReply)
    kDeliver,  // a request or a peer's message: hand it to the node
    kRefuse,   // send `reply` (an ErrorReply), then close the connection
  };
  Kind kind = Kind::kDeliver;
  Message reply;   // kAnswer and kRefuse
  Status refusal;  // kRefuse: the code and reason (the ErrorReply's too)
};

// The ErrorReply refusing with `why` (the message cut to
// kStatusMessageBytesMax).
ErrorReply RefusalReply(RequestId id, const Status& why);

class InboundPolicy {
 public:
  // `members`: every configured member id; `self_node_id` is one of them.
  InboundPolicy(std::string self_node_id, const std::vector<std::string>& members);

  // Rules 1-4 for `message`, the next one read on the connection whose
  // state is `state` (updated by an answered Hello).
  Admission Admit(InboundState& state, const Message& message) const;

 private:
  Admission AdmitHello(InboundState& state, const Message& message) const;

  std::string self_node_id_;
  std::set<std::string, std::less<>> peers_;  // members other than this node
};

// The outbound side: Ok if `reply` accepts the Hello this side sent. With a
// non-empty `expected_node_id` (a peer link), the reply must come from that
// node. FailedPrecondition otherwise, naming what the node said.
Status CheckHelloReply(const HelloReply& reply, std::string_view expected_node_id);

}  // namespace trolley
