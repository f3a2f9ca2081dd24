#include "node/hinted_handoff.h"

#include <algorithm>
#include <utility>

#include "common/assert.h"

namespace trolley {

HintedHandoff::HintedHandoff(NodeContext& ctx, FailureDetector& detector)
    : ctx_(ctx), detector_(detector) {
  if (auto stats = ctx_.env().engine->hints().Stats(); stats.ok()) hint_count_ = stats->count;
}

Status HintedHandoff::StoreHint(const std::string& target, const ObjectKey& key,
                                const SiblingSet& state, std::function<void(Status)> then) {
  if (target == ctx_.self()) {
    if (then) then(Status::Ok());
    return Status::Ok();
  }
  const NodeOptions& options = ctx_.options();
  if (hint_count_ >= options.hints_max) {
    ctx_.metrics().hints_dropped.Increment();
    ctx_.Log(LogLevel::kError,
             "hint.dropped target=" + target + " key=" + KeyName(key) +
                 " reason=store_full hints_max=" + std::to_string(options.hints_max));
    return Status::Busy("hint store full (hints_max)");
  }
  ++hint_count_;
  ctx_.metrics().hints_stored.Increment();
  ctx_.env().engine->hints().Add(
      Hint{target, key, state, ctx_.WallMs()},
      [ctx = &ctx_, target, key, then = std::move(then)](Status s) {
        if (!s.ok()) {
          ctx->Log(LogLevel::kError, "hint.store_failed target=" + target + " key=" + KeyName(key) +
                                         " error=" + s.ToString());
        }
        if (then) then(s);
      });
  return Status::Ok();
}

void HintedHandoff::AcceptFallbackWrite(std::string hint_for, ObjectKey key, SiblingSet state,
                                        std::function<void(Status)> done) {
  // Not bounded by hints_max: refusing would fail the coordinator's write
  // for a peer that merely sits on the other side of a partition.
  ++hint_count_;
  ctx_.env().engine->hints().Add(
      Hint{std::move(hint_for), std::move(key), std::move(state), ctx_.WallMs()}, std::move(done));
}

HintedHandoff::Delivery HintedHandoff::Finish(std::map<uint64_t, Delivery>::iterator it) {
  Delivery delivery = std::move(it->second);
  deliveries_.erase(it);
  PeerDelivery& peer = peers_[delivery.target];
  TROLLEY_ASSERT(peer.in_flight > 0);
  --peer.in_flight;
  ctx_.metrics().hint_deliveries_in_flight.Decrement();
  return delivery;
}

bool HintedHandoff::OnReplicaWriteReply(const Endpoint& from, const ReplicaWriteReply& m) {
  auto it = deliveries_.find(m.id.value);
  if (it == deliveries_.end()) return false;
  if (it->second.target != from.node) return true;  // a stray reply with a delivery's id
  Delivery delivery = Finish(it);
  if (m.code != StatusCode::kOk) {
    DeliveryFailed(delivery.target);
    return true;
  }
  peers_[delivery.target].backoff_ms = 0;
  ctx_.metrics().hints_delivered.Increment();
  ctx_.env().engine->hints().RemoveDelivered(delivery.target, delivery.key, delivery.state,
                                             [this](Status s) {
                                               if (s.ok() && hint_count_ > 0) --hint_count_;
                                             });
  return true;
}

void HintedHandoff::OnPeerUp(const std::string& node) {
  auto it = peers_.find(node);
  if (it == peers_.end()) return;
  it->second.backoff_ms = 0;
  it->second.next_round_ns = 0;
}

void HintedHandoff::DeliveryFailed(const std::string& target) {
  const NodeOptions& options = ctx_.options();
  PeerDelivery& peer = peers_[target];
  const uint64_t base = std::max<uint64_t>(options.hint_delivery_interval_ms, 1);
  peer.backoff_ms = std::min(std::max(peer.backoff_ms * 2, base), options.hint_backoff_max_ms);
  const uint64_t jitter = ctx_.env().random->Uniform(peer.backoff_ms / 2 + 1);
  peer.next_round_ns = ctx_.Now() + (peer.backoff_ms + jitter) * kNsPerMs;
}

void HintedHandoff::TimeOutDeliveries(uint64_t now) {
  for (auto it = deliveries_.begin(); it != deliveries_.end();) {
    if (now < it->second.sent_ns + ctx_.options().replica_timeout_ms * kNsPerMs) {
      ++it;
      continue;
    }
    auto next = std::next(it);
    const std::string target = Finish(it).target;
    it = next;
    detector_.Suspect(target, "hint delivery timed out");
    DeliveryFailed(target);
  }
}

void HintedHandoff::Tick(uint64_t now) {
  TimeOutDeliveries(now);
  if (now < next_round_ns_) return;
  next_round_ns_ = now + ctx_.options().hint_delivery_interval_ms * kNsPerMs;
  auto targets = ctx_.env().engine->hints().Targets();
  if (!targets.ok()) return;
  const uint64_t wall_ms = ctx_.WallMs();
  for (const std::string& target : *targets) {
    // Not a member (left the ring), or this node: nobody to deliver to.
    if (target == ctx_.self() || !ctx_.membership().Contains(target)) continue;
    if (!detector_.IsUp(target)) continue;
    const PeerDelivery& peer = peers_[target];
    if (peer.in_flight > 0 || now < peer.next_round_ns) continue;
    DeliverTo(target, now, wall_ms);
  }
}

void HintedHandoff::DeliverTo(const std::string& target, uint64_t now, uint64_t wall_ms) {
  const NodeOptions& options = ctx_.options();
  auto hints = ctx_.env().engine->hints().List(target, options.hint_batch_max);
  if (!hints.ok()) return;
  for (Hint& hint : *hints) {
    if (wall_ms > hint.created_ms + options.hint_age_max_ms) {
      ctx_.metrics().hints_dropped.Increment();
      ctx_.Log(LogLevel::kError,
               "hint.dropped target=" + target + " key=" + KeyName(hint.key) +
                   " reason=age hint_age_max_ms=" + std::to_string(options.hint_age_max_ms));
      ctx_.env().engine->hints().Drop(target, hint.key, [this](Status s) {
        if (s.ok() && hint_count_ > 0) --hint_count_;
      });
      continue;
    }
    const RequestId id = ctx_.NextId();
    // durable: the owner replies once the state is on its disk, not just
    // committed, because the reply deletes the hint (under `flush` a power
    // loss of the owner would otherwise lose what the hint held).
    ctx_.SendToNode(target, ReplicaWrite{id, hint.key.ns, hint.key.key, hint.state, "",
                                         /*durable=*/true});
    deliveries_[id.value] = Delivery{target, std::move(hint.key), std::move(hint.state), now};
    ++peers_[target].in_flight;
    ctx_.metrics().hint_deliveries_in_flight.Increment();
  }
}

void HintedHandoff::CheckInvariants() const {
  TROLLEY_ASSERT(ctx_.metrics().hint_deliveries_in_flight.value() == deliveries_.size());
  if (deliveries_.empty()) {  // the common case, without a map
    for (const auto& [target, peer] : peers_) {
      TROLLEY_ASSERT_MSG(peer.in_flight == 0, target);
      TROLLEY_ASSERT_MSG(peer.backoff_ms <= ctx_.options().hint_backoff_max_ms, target);
    }
    return;
  }
  std::map<std::string, size_t> in_flight;
  for (const auto& [id, delivery] : deliveries_) {
    TROLLEY_ASSERT_MSG(delivery.target != ctx_.self(), delivery.target);
    TROLLEY_ASSERT_MSG(ctx_.membership().Contains(delivery.target), delivery.target);
    ++in_flight[delivery.target];
  }
  for (const auto& [target, peer] : peers_) {
    const auto counted = in_flight.find(target);
    TROLLEY_ASSERT_MSG(peer.in_flight == (counted == in_flight.end() ? 0 : counted->second),
                       target);
    TROLLEY_ASSERT_MSG(peer.in_flight <= ctx_.options().hint_batch_max, target);
    TROLLEY_ASSERT_MSG(peer.backoff_ms <= ctx_.options().hint_backoff_max_ms, target);
  }
  for (const auto& [target, count] : in_flight) TROLLEY_ASSERT_MSG(peers_.count(target), target);
}

}  // namespace trolley
