#include "wire/handshake.h"

#include <utility>

#include "ring/node_id.h"

namespace trolley {

bool ClientMayAsk(const Message& m) {
  return std::holds_alternative<ClientGet>(m) || std::holds_alternative<ClientPut>(m) ||
         std::holds_alternative<RingInfoRequest>(m) || std::holds_alternative<StatusRequest>(m) ||
         std::holds_alternative<Ping>(m) || std::holds_alternative<ReplicaGet>(m) ||
         std::holds_alternative<CartUpdate>(m);
}

bool MarkedForwarded(const Message& m) {
  if (const auto* get = std::get_if<ClientGet>(&m)) return get->forwarded;
  if (const auto* put = std::get_if<ClientPut>(&m)) return put->forwarded;
  if (const auto* update = std::get_if<CartUpdate>(&m)) return update->forwarded;
  return false;
}

bool ClientWrites(const Message& m) {
  return std::holds_alternative<ClientPut>(m) || std::holds_alternative<CartUpdate>(m);
}

std::string PeerIdentity::Describe() const {
  switch (kind) {
    case Kind::kUnauthenticated:
      return "unauthenticated";
    case Kind::kNode:
      return "node " + name;
    case Kind::kClient:
      break;
  }
  return "client " + (name.empty() ? std::string("(no CN)") : name) +
         (client_may_write ? " (write)" : " (read)");
}

Result<PeerIdentity> IdentityFromCertificate(const std::vector<std::string>& uris,
                                             std::string_view common_name) {
  constexpr std::string_view kScheme = "trolley:";
  constexpr std::string_view kNode = "trolley:node:";
  std::vector<std::string_view> ours;
  for (const std::string& uri : uris) {
    if (std::string_view(uri).substr(0, kScheme.size()) == kScheme) ours.push_back(uri);
  }
  const std::string who = "certificate '" + std::string(common_name) + "'";
  if (ours.empty()) {
    return Status::FailedPrecondition(who +
                                      " names no Trolley identity (a subjectAltName URI "
                                      "trolley:node:<id>, trolley:client:read or "
                                      "trolley:client:write)");
  }
  if (ours.size() > 1) {
    return Status::FailedPrecondition(who + " names more than one Trolley identity");
  }
  const std::string_view uri = ours.front();
  PeerIdentity identity;
  if (uri.substr(0, kNode.size()) == kNode) {
    identity.kind = PeerIdentity::Kind::kNode;
    identity.name = std::string(uri.substr(kNode.size()));
    if (Status s = ValidateNodeId(NodeId{identity.name}); !s.ok()) {
      return Status::FailedPrecondition(who + ": " + std::string(uri) + ": " + s.message());
    }
    return identity;
  }
  identity.kind = PeerIdentity::Kind::kClient;
  identity.name = std::string(common_name);
  if (uri == "trolley:client:write") {
    identity.client_may_write = true;
  } else if (uri != "trolley:client:read") {
    return Status::FailedPrecondition(who + ": unknown identity " + std::string(uri));
  }
  return identity;
}

ErrorReply RefusalReply(RequestId id, const Status& why) {
  return ErrorReply{id, why.code(), why.message().substr(0, kStatusMessageBytesMax)};
}

namespace {

Admission Refuse(RequestId id, Status why) {
  Admission a;
  a.kind = Admission::Kind::kRefuse;
  a.reply = RefusalReply(id, why);
  a.refusal = std::move(why);
  return a;
}

Admission Reject(RequestId id, Status why) {
  Admission a = Refuse(id, std::move(why));
  a.kind = Admission::Kind::kReject;
  return a;
}

}  // namespace

InboundPolicy::InboundPolicy(std::string self_node_id, const std::vector<std::string>& members,
                             bool tls)
    : self_node_id_(std::move(self_node_id)), tls_(tls) {
  for (const std::string& m : members) {
    if (m != self_node_id_) peers_.insert(m);
  }
}

Admission InboundPolicy::Admit(InboundState& state, const Message& m) const {
  if (!state.hello_done) return AdmitHello(state, m);
  if (std::holds_alternative<Hello>(m)) {
    return Refuse(RequestId{}, Status::InvalidArgument("Hello sent twice on one connection"));
  }
  if (!state.is_peer() && !ClientMayAsk(m)) {
    return Refuse(RequestIdOf(m), Status::InvalidArgument(std::string(MessageName(m)) +
                                                          " is not a client request"));
  }
  if (!state.is_peer() && MarkedForwarded(m)) {
    return Refuse(RequestIdOf(m), Status::InvalidArgument(std::string(MessageName(m)) +
                                                          " marked forwarded: only nodes forward"));
  }
  if (!state.is_peer() && ClientWrites(m) && !state.identity.may_write()) {
    return Reject(RequestIdOf(m),
                  Status::FailedPrecondition(
                      std::string(MessageName(m)) + " refused: " + state.identity.Describe() +
                      " may only read (its certificate says trolley:client:read; writing "
                      "needs a certificate with trolley:client:write)"));
  }
  return Admission{};
}

Admission InboundPolicy::AdmitHello(InboundState& state, const Message& m) const {
  const Hello* hello = std::get_if<Hello>(&m);
  if (hello == nullptr) {
    return Refuse(RequestIdOf(m), Status::InvalidArgument("the first message must be Hello, got " +
                                                          std::string(MessageName(m))));
  }
  if (hello->protocol_version != kProtocolVersion) {
    return Refuse(RequestId{}, Status::FailedPrecondition(
                                   "protocol version " + std::to_string(hello->protocol_version) +
                                   " is not supported; this node speaks " +
                                   std::to_string(kProtocolVersion) + " (upgrade the older side)"));
  }
  if (!hello->node_id.empty() && peers_.count(hello->node_id) == 0) {
    return Refuse(RequestId{},
                  Status::FailedPrecondition("node '" + hello->node_id +
                                             "' is not a member of this cluster as configured on " +
                                             self_node_id_));
  }
  if (Status s = CheckHelloIdentity(state.identity, hello->node_id); !s.ok()) {
    return Refuse(RequestId{}, std::move(s));
  }
  state.hello_done = true;
  state.peer = hello->node_id;
  Admission a;
  a.kind = Admission::Kind::kAnswer;
  a.reply = HelloReply{kProtocolVersion, self_node_id_};
  return a;
}

Status InboundPolicy::CheckHelloIdentity(const PeerIdentity& identity,
                                         const std::string& node_id) const {
  using Kind = PeerIdentity::Kind;
  if (identity.kind == Kind::kUnauthenticated) {
    if (!tls_) return Status::Ok();
    return Status::FailedPrecondition("no verified certificate on a TLS connection");
  }
  if (node_id.empty()) return Status::Ok();  // a client: any certificate of the CA
  if (identity.kind == Kind::kClient) {
    return Status::FailedPrecondition("Hello claims node '" + node_id +
                                      "' but the certificate is " + identity.Describe() +
                                      "'s: clients cannot speak as peers");
  }
  if (identity.name != node_id) {
    return Status::FailedPrecondition("Hello claims node '" + node_id +
                                      "' but the certificate names node '" + identity.name + "'");
  }
  return Status::Ok();
}

Status CheckHelloReply(const HelloReply& reply, std::string_view expected_node_id,
                       const PeerIdentity& server) {
  if (reply.protocol_version != kProtocolVersion) {
    return Status::FailedPrecondition("the node speaks protocol " +
                                      std::to_string(reply.protocol_version) + ", this side " +
                                      std::to_string(kProtocolVersion));
  }
  if (!expected_node_id.empty() && reply.node_id != expected_node_id) {
    return Status::FailedPrecondition("the node answered as '" + reply.node_id + "', not '" +
                                      std::string(expected_node_id) + "'");
  }
  if (server.kind == PeerIdentity::Kind::kNode && server.name != reply.node_id) {
    return Status::FailedPrecondition("the node answered as '" + reply.node_id +
                                      "' but its certificate names node '" + server.name + "'");
  }
  return CheckServerIdentity(server, expected_node_id);
}

Status CheckServerIdentity(const PeerIdentity& server, std::string_view expected_node_id) {
  switch (server.kind) {
    case PeerIdentity::Kind::kUnauthenticated:
      return Status::Ok();  // TLS off
    case PeerIdentity::Kind::kClient:
      return Status::FailedPrecondition("the node's certificate is " + server.Describe() +
                                        "'s, not a node's");
    case PeerIdentity::Kind::kNode:
      break;
  }
  if (!expected_node_id.empty() && server.name != expected_node_id) {
    return Status::FailedPrecondition("dialled node '" + std::string(expected_node_id) +
                                      "' but its certificate names node '" + server.name + "'");
  }
  return Status::Ok();
}

}  // namespace trolley
