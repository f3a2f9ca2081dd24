#include "wire/handshake.h"

#include <utility>

namespace trolley {

bool ClientMayAsk(const Message& m) {
  return std::holds_alternative<ClientGet>(m) || std::holds_alternative<ClientPut>(m) ||
         std::holds_alternative<RingInfoRequest>(m) || std::holds_alternative<StatusRequest>(m) ||
         std::holds_alternative<Ping>(m) || std::holds_alternative<ReplicaGet>(m) ||
         std::holds_alternative<CartUpdate>(m);
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

}  // namespace

InboundPolicy::InboundPolicy(std::string self_node_id, const std::vector<std::string>& members)
    : self_node_id_(std::move(self_node_id)) {
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
  state.hello_done = true;
  state.peer = hello->node_id;
  Admission a;
  a.kind = Admission::Kind::kAnswer;
  a.reply = HelloReply{kProtocolVersion, self_node_id_};
  return a;
}

Status CheckHelloReply(const HelloReply& reply, std::string_view expected_node_id) {
  if (reply.protocol_version != kProtocolVersion) {
    return Status::FailedPrecondition("the node speaks protocol " +
                                      std::to_string(reply.protocol_version) + ", this side " +
                                      std::to_string(kProtocolVersion));
  }
  if (!expected_node_id.empty() && reply.node_id != expected_node_id) {
    return Status::FailedPrecondition("the node answered as '" + reply.node_id + "', not '" +
                                      std::string(expected_node_id) + "'");
  }
  return Status::Ok();
}

}  // namespace trolley
