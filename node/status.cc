#include "node/status.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>

#include "common/assert.h"
#include "ring/preference_list.h"

namespace trolley {

NodeStatus::NodeStatus(NodeContext& ctx, const FailureDetector& detector)
    : ctx_(ctx), detector_(detector) {}

void NodeStatus::OnRingInfoRequest(const Endpoint& from, const RingInfoRequest& m) {
  const Membership& membership = ctx_.membership();
  RingInfoReply reply;
  reply.id = m.id;
  reply.ring_version = membership.epoch();
  for (const NodeId& owner : membership.ring().Owners()) reply.owners.push_back(owner.name);
  reply.members = membership.addresses();
  for (const NamespaceOptions& ns : ctx_.options().namespaces) {
    reply.namespaces.push_back(NamespaceInfo{ns.name, ns.n, ns.r, ns.w, ns.ttl_ms, ns.merge});
  }
  ctx_.Send(from, std::move(reply));
}

const NodeStatus::RingShare& NodeStatus::Share() {
  const Membership& membership = ctx_.membership();
  if (ring_share_ && ring_share_->epoch == membership.epoch()) return *ring_share_;
  const Ring& ring = membership.ring();
  const NodeId self{ctx_.self()};
  RingShare share;
  share.epoch = membership.epoch();
  share.owned = static_cast<uint32_t>(ring.PartitionsOwnedBy(self).size());
  uint32_t n_max = 0;
  for (const NamespaceOptions& ns : ctx_.options().namespaces) n_max = std::max(n_max, ns.n);
  for (uint32_t p = 0; n_max > 0 && p < ring.PartitionCount(); ++p) {
    if (ContainsNode(PreferenceListForPartition(ring, p, n_max).primaries, self.name)) {
      ++share.replicated;
    }
  }
  TROLLEY_ASSERT(share.owned <= share.replicated || n_max == 0);
  ring_share_ = share;
  return *ring_share_;
}

void NodeStatus::OnStatusRequest(const Endpoint& from, const StatusRequest& m,
                                 uint64_t pending_requests, std::vector<AaePairStatus> aae_pairs) {
  const RingShare& share = Share();
  StatusReply reply;
  reply.id = m.id;
  reply.node_id = ctx_.self();
  reply.incarnation = ctx_.env().engine->incarnation();
  reply.actor = ctx_.actor();
  reply.partitions = ctx_.membership().ring().PartitionCount();
  reply.partitions_owned = share.owned;
  reply.partitions_replicated = share.replicated;
  reply.pending_requests = pending_requests;
  FillHints(reply);
  reply.counters = ctx_.registry().CounterValues();
  reply.aae_pairs_total = static_cast<uint32_t>(aae_pairs.size());
  if (aae_pairs.size() > kStatusAaePairsMax) aae_pairs.resize(kStatusAaePairsMax);
  reply.aae_pairs = std::move(aae_pairs);
  if (reply.message.size() > kStatusMessageBytesMax) reply.message.resize(kStatusMessageBytesMax);
  ctx_.Send(from, std::move(reply));
}

void NodeStatus::FillHints(StatusReply& reply) {
  Status failed = Status::Ok();
  auto note = [&failed](std::string_view what, const Status& s) {
    if (failed.ok() && !s.ok()) failed = Status(s.code(), std::string(what) + ": " + s.message());
  };
  HintStore& hints = ctx_.env().engine->hints();
  if (Result<HintStats> stats = hints.Stats(); stats.ok()) {
    reply.hints_pending = stats->count;
    reply.hints_oldest_ms = stats->oldest_created_ms;
  } else {
    note("hint stats", stats.status());
  }
  std::set<std::string> with_hints;
  if (auto targets = hints.Targets(); targets.ok()) {
    with_hints.insert(targets->begin(), targets->end());
  } else {
    note("hint targets", targets.status());
  }
  for (const std::string& member : ctx_.membership().PeersOf(ctx_.self())) {
    PeerStatus peer{.node_id = member, .up = detector_.IsUp(member)};
    if (with_hints.count(member)) {
      if (auto held = hints.List(member, kStatusPeerHintsCountedMax); held.ok()) {
        peer.hints_pending = held->size();
      } else {
        note("hints for " + member, held.status());
      }
    }
    reply.peers.push_back(std::move(peer));
  }
  reply.code = failed.code();
  reply.message = failed.message();
}

void NodeStatus::CheckInvariants() const {
  if (!ring_share_) return;
  TROLLEY_ASSERT(ring_share_->epoch == ctx_.membership().epoch());
  TROLLEY_ASSERT(ring_share_->owned <= ring_share_->replicated ||
                 ctx_.options().namespaces.empty());
  TROLLEY_ASSERT(ring_share_->replicated <= ctx_.membership().ring().PartitionCount());
}

}  // namespace trolley
