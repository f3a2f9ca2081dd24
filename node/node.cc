#include "node/node.h"

#include <utility>

#include "common/assert.h"
#include "common/key.h"
#include "node/request_plan.h"

namespace trolley {
namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};

Status CheckNamespaces(const std::vector<NamespaceOptions>& namespaces) {
  for (const NamespaceOptions& ns : namespaces) {
    if (ns.n < 1 || ns.r < 1 || ns.w < 1 || ns.r > ns.n || ns.w > ns.n) {
      return Status::InvalidArgument(
          "namespace '" + ns.name + "': need 1 <= r <= n and 1 <= w <= n, got n=" +
          std::to_string(ns.n) + " r=" + std::to_string(ns.r) + " w=" + std::to_string(ns.w));
    }
  }
  return Status::Ok();
}

}  // namespace

ActorId ActorIdFor(const std::string& node_id, uint64_t incarnation) {
  return KeyHash("actor/" + node_id, std::to_string(incarnation));
}

Result<std::unique_ptr<Node>> Node::Create(NodeOptions options, NodeEnv env, Ring ring) {
  if (!env.transport || !env.clock || !env.engine || !env.random || !env.log) {
    return Status::InvalidArgument("NodeEnv is missing an interface");
  }
  if (!ring.Contains(NodeId{options.node_id})) {
    return Status::InvalidArgument("node id '" + options.node_id +
                                   "' is not a member of the ring: add it to cluster.members");
  }
  if (Status s = CheckNamespaces(options.namespaces); !s.ok()) return s;
  Result<Membership> membership = Membership::Create(std::move(ring), options.member_addresses);
  if (!membership.ok()) return membership.status();
  const ActorId actor = ActorIdFor(options.node_id, env.engine->incarnation());
  return std::unique_ptr<Node>(
      new Node(std::move(options), env, std::move(membership).value(), actor));
}

Node::Node(NodeOptions options, NodeEnv env, Membership membership, ActorId actor)
    : ctx_(std::move(options), env, std::move(membership), actor) {}

void Node::OnMessage(const Endpoint& from, Message message) {
  if (from.IsNode()) {
    detector_.Heard(from.node);
    RoutePeerEvents();  // before the message: a peer back up starts with no backoff
  }
  Dispatch(from, message);
  RoutePeerEvents();
}

void Node::Dispatch(const Endpoint& from, Message& message) {
  std::visit(Overloaded{
                 [&](ClientPut& m) { OnClientPut(from, std::move(m)); },
                 [&](ClientGet& m) { OnClientGet(from, std::move(m)); },
                 [&](ReplicaWrite& m) { replica_.OnReplicaWrite(from, std::move(m)); },
                 [&](ReplicaWriteReply& m) { OnReplicaWriteReply(from, m); },
                 [&](ReplicaGet& m) { replica_.OnReplicaGet(from, m); },
                 [&](ReplicaGetReply& m) { OnReplicaGetReply(from, m); },
                 [&](AaeHashRequest& m) { aae_local_.OnAaeHashRequest(from, m); },
                 [&](AaeHashReply& m) { aae_.OnAaeHashReply(from, m); },
                 [&](AaeKeysRequest& m) { aae_local_.OnAaeKeysRequest(from, m); },
                 [&](AaeKeysReply& m) { aae_.OnAaeKeysReply(from, m); },
                 [&](ClientPutReply& m) { forwarder_.OnForwardedReply(from, std::move(m)); },
                 [&](ClientGetReply& m) { forwarder_.OnForwardedReply(from, std::move(m)); },
                 [&](RingInfoRequest& m) { status_.OnRingInfoRequest(from, m); },
                 [&](StatusRequest& m) {
                   status_.OnStatusRequest(from, m, PendingRequests(), aae_.PairStatus());
                 },
                 [&](CartUpdate& m) { OnCartUpdate(from, std::move(m)); },
                 [&](CartUpdateReply& m) { forwarder_.OnForwardedReply(from, std::move(m)); },
                 [&](Ping& m) { ctx_.Send(from, Pong{m.nonce}); },
                 [&](Pong&) {},
                 [&](ErrorReply& m) {
                   ctx_.Log(LogLevel::kWarn,
                            "peer.error_reply from=" + from.node + " message=" + m.message);
                 },
                 [&](auto&) {
                   ctx_.Log(LogLevel::kWarn, "node.unexpected_message type=" +
                                                 std::string(MessageName(Message(message))));
                 },
             },
             message);
}

template <typename Reply>
void Node::Refuse(const Endpoint& from, RequestId id, const Status& why) {
  ctx_.Send(from, Reply{id, why.code(), why.message(), {}});
}

template <typename Request>
bool Node::ForwardedToPrimary(const Endpoint& from, const Request& m, const RequestPlan& plan) {
  // A request forwarded once is coordinated where it lands.
  return !plan.self_primary && !m.forwarded &&
         forwarder_.Forward(from, m.id, plan.pref, m, plan.timeout_ms);
}

void Node::OnClientPut(const Endpoint& from, ClientPut m) {
  Result<RequestPlan> plan = PlanRequest(ctx_, m.ns, m.key, "w", m.w, m.timeout_ms);
  if (!plan.ok()) return Refuse<ClientPutReply>(from, m.id, plan.status());
  if (ForwardedToPrimary(from, m, *plan)) return;
  CoordinatedWrite write = PutWriteOf(std::move(m), *plan->ns, ctx_.WallMs());
  puts_.Start(from, std::move(write), std::move(plan).value());
}

void Node::OnCartUpdate(const Endpoint& from, CartUpdate m) {
  Result<RequestPlan> plan = PlanRequest(ctx_, m.ns, m.cart_id, "w", m.w, m.timeout_ms);
  Result<CoordinatedWrite> write =
      plan.ok() ? CartWriteOf(m, *plan->ns, ctx_.WallMs()) : plan.status();
  if (!write.ok()) return Refuse<CartUpdateReply>(from, m.id, write.status());
  // Routed as a put: to the first primary believed up, else coordinated
  // here (a fallback coordinator: the update is never refused for want of
  // a primary while W nodes are reachable).
  if (ForwardedToPrimary(from, m, *plan)) return;
  puts_.Start(from, std::move(write).value(), std::move(plan).value());
}

void Node::OnClientGet(const Endpoint& from, ClientGet m) {
  Result<RequestPlan> plan = PlanRequest(ctx_, m.ns, m.key, "r", m.r, m.timeout_ms);
  if (!plan.ok()) return Refuse<ClientGetReply>(from, m.id, plan.status());
  if (ForwardedToPrimary(from, m, *plan)) return;
  gets_.Start(from, m, *plan);
}

void Node::OnReplicaWriteReply(const Endpoint& from, const ReplicaWriteReply& m) {
  // A hint delivery's answer, or else a put's (read repair acks match
  // neither and are dropped by the put coordinator).
  if (handoff_.OnReplicaWriteReply(from, m)) return;
  if (aae_.OnReplicaWriteReply(from, m)) return;
  puts_.OnReplicaWriteReply(from, m);
}

void Node::OnReplicaGetReply(const Endpoint& from, const ReplicaGetReply& m) {
  if (aae_.OnReplicaGetReply(from, m)) return;  // an anti-entropy repair's read
  gets_.OnReplicaGetReply(from, m);
}

void Node::RouteReroutes(std::vector<Reroute> reroutes) {
  for (Reroute& r : reroutes) {
    std::visit(Overloaded{[&](ClientPut& m) { OnClientPut(r.client, std::move(m)); },
                          [&](ClientGet& m) { OnClientGet(r.client, std::move(m)); },
                          [&](CartUpdate& m) { OnCartUpdate(r.client, std::move(m)); },
                          [](auto&) { TROLLEY_ASSERT(false); }},
               r.request);
  }
}

void Node::RoutePeerEvents() {
  while (detector_.HasEvents()) {
    for (const PeerEvent& e : detector_.TakeEvents()) {
      switch (e.kind) {
        case PeerEvent::Kind::kUp:
          handoff_.OnPeerUp(e.node);
          break;
        case PeerEvent::Kind::kSuspected:
          break;  // each module asks IsUp() when it next picks a target
        case PeerEvent::Kind::kUnreachable:
          RouteReroutes(forwarder_.OnPeerUnreachable(e.node));
          puts_.OnPeerUnreachable(e.node);
          gets_.OnPeerUnreachable(e.node);
          aae_.OnPeerUnreachable(e.node);
          break;
      }
    }
  }
}

void Node::OnPeerUnreachable(const std::string& node) {
  detector_.Unreachable(node);
  RoutePeerEvents();
}

void Node::Tick() {
  const uint64_t now = ctx_.Now();
  puts_.Tick(now);
  gets_.Tick(now);
  RouteReroutes(forwarder_.Tick(now));
  detector_.Tick(now);
  handoff_.Tick(now);
  aae_.Tick(now);
  RoutePeerEvents();
}

void Node::CheckInvariants() const {
  ctx_.membership().CheckInvariants();
  detector_.CheckInvariants();
  handoff_.CheckInvariants();
  puts_.CheckInvariants();
  gets_.CheckInvariants();
  forwarder_.CheckInvariants();
  replica_.CheckInvariants();
  status_.CheckInvariants();
  aae_.CheckInvariants();
}

}  // namespace trolley
