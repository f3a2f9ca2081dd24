#include "node/failure_detector.h"

#include "common/assert.h"

namespace trolley {

FailureDetector::FailureDetector(NodeContext& ctx) : ctx_(ctx) {
  for (const std::string& peer : ctx_.membership().PeersOf(ctx_.self())) peers_[peer] = PeerState{};
}

bool FailureDetector::IsUp(const std::string& node) const {
  if (node == ctx_.self()) return true;
  auto it = peers_.find(node);
  return it != peers_.end() && !it->second.suspected;
}

void FailureDetector::Heard(const std::string& node) {
  auto it = peers_.find(node);
  if (it == peers_.end() || !it->second.suspected) return;
  it->second = PeerState{};
  ctx_.Log(LogLevel::kInfo, "peer.up node=" + node);
  events_.push_back(PeerEvent{PeerEvent::Kind::kUp, node});
}

void FailureDetector::Suspect(const std::string& node, std::string_view why) {
  auto it = peers_.find(node);
  if (it == peers_.end() || it->second.suspected) return;
  it->second.suspected = true;
  it->second.last_ping_ns = ctx_.Now();
  ctx_.Log(LogLevel::kWarn, "peer.suspected node=" + node + " reason=" + std::string(why));
  events_.push_back(PeerEvent{PeerEvent::Kind::kSuspected, node});
}

void FailureDetector::Unreachable(const std::string& node) {
  Suspect(node, "unreachable");
  events_.push_back(PeerEvent{PeerEvent::Kind::kUnreachable, node});
}

void FailureDetector::Tick(uint64_t now) {
  for (auto& [node, peer] : peers_) {
    if (!peer.suspected) continue;
    if (now - peer.last_ping_ns < ctx_.options().ping_interval_ms * kNsPerMs) continue;
    peer.last_ping_ns = now;
    ctx_.SendToNode(node, Ping{ctx_.env().random->Next()});
  }
}

std::vector<PeerEvent> FailureDetector::TakeEvents() {
  std::vector<PeerEvent> out;
  out.swap(events_);
  return out;
}

void FailureDetector::CheckInvariants() const {
  // The constructor gave every other member a state and nothing inserts
  // since (lookups only), so equal sizes mean equal sets; comparing names
  // after every simulated event would cost a third of the simulator's time.
  TROLLEY_ASSERT(ctx_.membership().ring().Nodes().size() == peers_.size() + 1);
  const uint64_t now = ctx_.Now();
  for (const auto& [node, peer] : peers_) {
    if (peer.suspected) {
      TROLLEY_ASSERT_MSG(peer.last_ping_ns <= now, node);
    } else {
      TROLLEY_ASSERT_MSG(peer.last_ping_ns == 0, node);
    }
  }
}

}  // namespace trolley
