#include "node/forwarder.h"

#include <algorithm>
#include <utility>

#include "common/assert.h"

namespace trolley {
namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};

// The variant index of the reply that answers `request`.
size_t ReplyKindOf(const Message& request) {
  if (std::holds_alternative<ClientPut>(request)) return Message(ClientPutReply{}).index();
  if (std::holds_alternative<ClientGet>(request)) return Message(ClientGetReply{}).index();
  TROLLEY_ASSERT(std::holds_alternative<CartUpdate>(request));
  return Message(CartUpdateReply{}).index();
}

Message TimeoutReplyTo(const Message& request, RequestId client_id, const std::string& why) {
  if (std::holds_alternative<ClientPut>(request)) {
    return ClientPutReply{client_id, StatusCode::kTimeout, why, {}};
  }
  if (std::holds_alternative<ClientGet>(request)) {
    return ClientGetReply{client_id, StatusCode::kTimeout, why, {}};
  }
  TROLLEY_ASSERT(std::holds_alternative<CartUpdate>(request));
  return CartUpdateReply{client_id, StatusCode::kTimeout, why, {}};
}

}  // namespace

Forwarder::Forwarder(NodeContext& ctx, FailureDetector& detector)
    : ctx_(ctx), detector_(detector) {}

bool Forwarder::Forward(const Endpoint& client, RequestId client_id, const PreferenceList& pref,
                        Message request, uint64_t timeout_ms) {
  for (const NodeId& primary : pref.primaries) {
    if (primary.name == ctx_.self() || !detector_.IsUp(primary.name)) continue;
    const RequestId id = ctx_.NextId();
    Message original = request;  // kept to re-route if this primary turns out to be down
    std::visit(Overloaded{[&](ClientPut& m) { m.id = id, m.forwarded = true; },
                          [&](ClientGet& m) { m.id = id, m.forwarded = true; },
                          [&](CartUpdate& m) { m.id = id, m.forwarded = true; },
                          [](auto&) { TROLLEY_ASSERT(false); }},
               request);
    const uint64_t now = ctx_.Now();
    auto [it, inserted] = forwards_.try_emplace(
        id.value, ForwardOp{client, client_id, primary.name, now + timeout_ms * kNsPerMs, now,
                            std::move(original)});
    TROLLEY_ASSERT(inserted);
    ctx_.metrics().forwards_in_flight.Increment();
    ctx_.SendToNode(primary.name, std::move(request));
    ctx_.metrics().forwarded.Increment();
    return true;
  }
  return false;  // no primary reachable: coordinate here
}

void Forwarder::OnForwardedReply(const Endpoint& from, Message reply) {
  const RequestId id = std::visit(
      Overloaded{[](ClientPutReply& m) { return m.id; }, [](ClientGetReply& m) { return m.id; },
                 [](CartUpdateReply& m) { return m.id; }, [](auto&) { return RequestId{}; }},
      reply);
  auto it = forwards_.find(id.value);
  if (it == forwards_.end() || it->second.to != from.node) return;  // late or stray
  // Only the reply that matches the request's kind answers it.
  if (ReplyKindOf(it->second.request) != reply.index()) return;
  std::visit(Overloaded{[&](ClientPutReply& m) { m.id = it->second.client_id; },
                        [&](ClientGetReply& m) { m.id = it->second.client_id; },
                        [&](CartUpdateReply& m) { m.id = it->second.client_id; }, [](auto&) {}},
             reply);
  ctx_.Send(it->second.client, std::move(reply));
  Retire(it);
}

Reroute Forwarder::TakeForReroute(OpMap::iterator it, uint64_t now) {
  // The original request again, with what is left of its deadline: the
  // primary it went to is now suspected, so Node sends it to the next one
  // or coordinates it here.
  ForwardOp& op = it->second;
  const uint64_t left_ms =
      op.deadline_ns > now ? std::max<uint64_t>(1, (op.deadline_ns - now) / kNsPerMs) : 1;
  const auto timeout_ms = static_cast<uint32_t>(std::min<uint64_t>(left_ms, UINT32_MAX));
  std::visit(Overloaded{[&](ClientPut& m) { m.timeout_ms = timeout_ms; },
                        [&](ClientGet& m) { m.timeout_ms = timeout_ms; },
                        [&](CartUpdate& m) { m.timeout_ms = timeout_ms; },
                        [](auto&) { TROLLEY_ASSERT(false); }},
             op.request);
  Reroute out{op.client, std::move(op.request)};
  Retire(it);
  return out;
}

std::vector<Reroute> Forwarder::OnPeerUnreachable(const std::string& node) {
  std::vector<Reroute> reroute;
  const uint64_t now = ctx_.Now();
  for (auto it = forwards_.begin(); it != forwards_.end();) {
    auto next = std::next(it);
    if (it->second.to == node) reroute.push_back(TakeForReroute(it, now));
    it = next;
  }
  return reroute;
}

std::vector<Reroute> Forwarder::Tick(uint64_t now) {
  std::vector<Reroute> reroute;
  const uint64_t replica_timeout_ns = ctx_.options().replica_timeout_ms * kNsPerMs;
  for (auto it = forwards_.begin(); it != forwards_.end();) {
    auto next = std::next(it);
    ForwardOp& op = it->second;
    if (now < op.deadline_ns) {
      // A primary silent for replica_timeout_ms is suspected and the request
      // re-routed, as a coordinator replaces a silent replica.
      if (now >= op.sent_ns + replica_timeout_ns) {
        detector_.Suspect(op.to, "forwarded request timed out");
        reroute.push_back(TakeForReroute(it, now));
      }
      it = next;
      continue;
    }
    const std::string msg = "forwarded to " + op.to + " and got no answer in time";
    detector_.Suspect(op.to, "forwarded request timed out");
    ctx_.Send(op.client, TimeoutReplyTo(op.request, op.client_id, msg));
    Retire(it);
    it = next;
  }
  return reroute;
}

void Forwarder::Retire(OpMap::iterator it) {
  forwards_.erase(it);
  ctx_.metrics().forwards_in_flight.Decrement();
}

void Forwarder::CheckInvariants() const {
  TROLLEY_ASSERT(ctx_.metrics().forwards_in_flight.value() == forwards_.size());
  for (const auto& [id, op] : forwards_) {
    TROLLEY_ASSERT_MSG(op.to != ctx_.self(), op.to);
    TROLLEY_ASSERT(std::holds_alternative<ClientPut>(op.request) ||
                   std::holds_alternative<ClientGet>(op.request) ||
                   std::holds_alternative<CartUpdate>(op.request));
    TROLLEY_ASSERT(op.sent_ns <= op.deadline_ns);
  }
}

}  // namespace trolley
