#include "node/replica.h"

#include "common/assert.h"

namespace trolley {

Replica::Replica(NodeContext& ctx, HintedHandoff& handoff) : ctx_(ctx), handoff_(handoff) {}

void Replica::OnReplicaWrite(const Endpoint& from, ReplicaWrite m) {
  const RequestId id = m.id;
  ++open_[OpenKey{from, id.value}];
  ++open_count_;
  ctx_.metrics().replica_requests_in_flight.Increment();
  ObjectKey key{std::move(m.ns), std::move(m.key)};
  auto reply = [this, from, id, durable = m.durable, ns = key.ns](const Status& s) {
    if (!s.ok() || !durable) {
      Answer(from, id, s);
      return;
    }
    ctx_.env().engine->Sync(ns, [this, from, id](Status synced) { Answer(from, id, synced); });
  };
  if (!m.hint_for.empty() && m.hint_for != ctx_.self()) {
    handoff_.AcceptFallbackWrite(std::move(m.hint_for), std::move(key), std::move(m.state),
                                 [reply = std::move(reply)](Status s) { reply(s); });
    return;
  }
  ctx_.env().engine->Merge(std::move(key), std::move(m.state),
                           [reply = std::move(reply)](Result<SiblingSet> r) { reply(r.status()); });
}

void Replica::Answer(const Endpoint& to, RequestId id, const Status& s) {
  auto it = open_.find(OpenKey{to, id.value});
  TROLLEY_ASSERT_MSG(it != open_.end(), "a replica write answered twice");
  if (--it->second == 0) open_.erase(it);
  --open_count_;
  ctx_.metrics().replica_requests_in_flight.Decrement();
  ctx_.Send(to, ReplicaWriteReply{id, s.code(), s.message()});
}

void Replica::OnReplicaGet(const Endpoint& from, const ReplicaGet& m) {
  auto local = ctx_.env().engine->Get(ObjectKey{m.ns, m.key});
  if (local.ok()) {
    ctx_.Send(from, ReplicaGetReply{m.id, StatusCode::kOk, "", std::move(*local), true});
  } else if (local.status().IsNotFound()) {
    ctx_.Send(from, ReplicaGetReply{m.id, StatusCode::kNotFound, "", {}, false});
  } else {
    ctx_.Send(from,
              ReplicaGetReply{m.id, local.status().code(), local.status().message(), {}, false});
  }
}

void Replica::CheckInvariants() const {
  size_t open = 0;
  for (const auto& [key, count] : open_) {
    TROLLEY_ASSERT(count > 0);
    open += count;
  }
  TROLLEY_ASSERT(open == open_count_);
  TROLLEY_ASSERT(ctx_.metrics().replica_requests_in_flight.value() == open_count_);
}

}  // namespace trolley
