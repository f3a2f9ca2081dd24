// Handshake and authorization: who may send what on a Trolley connection
// (docs/design.md, 'The runtime: trolleyd' and 'Security: TLS and
// identities'). Pure decisions on messages and on the identity a TLS
// certificate proved, no I/O: node/server/ applies them to its inbound
// connections and peer links, client/ to its connections, and tests/wire/
// drives them directly. wire/asio/tls.h reads the identity from a
// verified certificate (IdentityFromCertificate below does the parsing).
//
// Identities (PeerIdentity): with TLS on, every connection's other end
// proved one by a certificate of the cluster CA, named by a subjectAltName
// URI: "trolley:node:<member id>" (a node), "trolley:client:write" or
// "trolley:client:read" (a client and its role). With TLS off (loopback,
// or `insecure = true`) the identity is kUnauthenticated and rules 2, 3 and
// 5 check nothing about it.
//
// Rules on an inbound connection (InboundPolicy::Admit):
//   1. The first message must be a Hello speaking kProtocolVersion; it is
//      answered with a HelloReply carrying this node's id.
//   2. A Hello with a node id makes the connection that peer's link: the id
//      must be a configured member other than this node, and with TLS on
//      the certificate must be that node's (a client's certificate, or
//      another node's, is refused). After that every message is the peer's
//      to deliver.
//   3. A Hello with an empty node id makes it a client's connection: the
//      client may send only what ClientMayAsk allows (ClientGet, ClientPut,
//      CartUpdate, RingInfoRequest, StatusRequest, Ping, ReplicaGet), and
//      never one marked `forwarded` (MarkedForwarded: only a node forwards
//      a request, and a forwarded one is coordinated where it lands).
//   4. A second Hello, or anything rules 1-3 refuse, gets an ErrorReply and
//      the connection is closed; the refusal never affects other
//      connections.
//   5. A write (ClientWrites: ClientPut, CartUpdate) from a client whose
//      certificate grants only "read" gets an ErrorReply
//      (FailedPrecondition) and the connection stays open. A node's
//      certificate used by a client (an operator's tool) may write.
// On an outbound connection (a peer link or a client's), CheckHelloReply
// accepts the node's HelloReply when it speaks kProtocolVersion, for a
// peer link names the member that was dialled, and with TLS on comes from
// a node certificate naming the same node.
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
// Rule 3: a ClientGet, ClientPut or CartUpdate with `forwarded` set.
bool MarkedForwarded(const Message& message);
// Rule 5: the client requests that write.
bool ClientWrites(const Message& message);

// Who the other end of a connection proved to be (see the top of this file).
struct PeerIdentity {
  enum class Kind { kUnauthenticated, kNode, kClient };
  Kind kind = Kind::kUnauthenticated;
  // kNode: the member id; kClient: the certificate's common name (logs only).
  std::string name;
  bool client_may_write = false;  // kClient: the "write" role
  bool may_write() const { return kind != Kind::kClient || client_may_write; }
  // "node n1", "client alice (read)", "unauthenticated": for messages.
  std::string Describe() const;
};

// The identity a verified certificate names: `uris` are its
// subjectAltName URIs (other schemes than "trolley:" are ignored),
// `common_name` its subject CN. FailedPrecondition when it names none, or
// more than one, or a malformed one.
Result<PeerIdentity> IdentityFromCertificate(const std::vector<std::string>& uris,
                                             std::string_view common_name);

// What one inbound connection has said so far.
struct InboundState {
  PeerIdentity identity;  // set by the server before the first message
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
    kReject,   // send `reply` (an ErrorReply); the connection stays open
  };
  Kind kind = Kind::kDeliver;
  Message reply;   // kAnswer, kRefuse and kReject
  Status refusal;  // kRefuse, kReject: the code and reason (the ErrorReply's too)
};

// The ErrorReply refusing with `why` (the message cut to
// kStatusMessageBytesMax).
ErrorReply RefusalReply(RequestId id, const Status& why);

class InboundPolicy {
 public:
  // `members`: every configured member id; `self_node_id` is one of them.
  // `tls`: every connection is TLS, so an unauthenticated identity is
  // refused (a server bug if it ever happens).
  InboundPolicy(std::string self_node_id, const std::vector<std::string>& members,
                bool tls = false);

  // Rules 1-4 for `message`, the next one read on the connection whose
  // state is `state` (updated by an answered Hello).
  Admission Admit(InboundState& state, const Message& message) const;

 private:
  Admission AdmitHello(InboundState& state, const Message& message) const;
  // Rule 2's and 3's identity checks for a Hello claiming `node_id`.
  Status CheckHelloIdentity(const PeerIdentity& identity, const std::string& node_id) const;

  std::string self_node_id_;
  bool tls_ = false;
  std::set<std::string, std::less<>> peers_;  // members other than this node
};

// The outbound side: Ok if `reply` accepts the Hello this side sent. With a
// non-empty `expected_node_id` (a peer link), the reply must come from that
// node. With TLS (`server` authenticated), the server's certificate must be
// a node's naming the node the reply names. FailedPrecondition otherwise,
// naming what the node said.
Status CheckHelloReply(const HelloReply& reply, std::string_view expected_node_id,
                       const PeerIdentity& server = {});
// The part of that a dialler checks right after the TLS handshake, before
// it sends anything: `server` (what the certificate proved) is a node's
// and, with a non-empty `expected_node_id`, names that node. Ok when
// unauthenticated (TLS off).
Status CheckServerIdentity(const PeerIdentity& server, std::string_view expected_node_id);

}  // namespace trolley
