#include "node/get_quorum.h"

#include "common/assert.h"

namespace trolley {

GetQuorum::GetQuorum(uint32_t r, std::vector<std::string> targets)
    : r_(r), targets_(std::move(targets)), replies_(targets_.size()) {
  TROLLEY_ASSERT(r_ >= 1);
  TROLLEY_ASSERT(r_ <= targets_.size());
}

void GetQuorum::AddState(const std::string& target, const SiblingSet& state) {
  for (size_t i = 0; i < targets_.size(); ++i) {
    if (targets_[i] != target || replies_[i].answered) continue;
    replies_[i].answered = true;
    replies_[i].state = state;
    merged_.Merge(state);
    ++states_;
    ++answered_;
    return;
  }
}

void GetQuorum::AddFailure(const std::string& target) {
  for (size_t i = 0; i < targets_.size(); ++i) {
    if (targets_[i] != target || replies_[i].answered) continue;
    replies_[i].answered = true;
    replies_[i].failed = true;
    ++failures_;
    ++answered_;
    return;
  }
}

QuorumDecision GetQuorum::Decision() const {
  if (states_ >= r_) return QuorumDecision::kSucceeded;
  if (static_cast<uint32_t>(targets_.size()) - failures_ < r_) return QuorumDecision::kFailed;
  return QuorumDecision::kPending;
}

std::vector<std::string> GetQuorum::Unanswered() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < targets_.size(); ++i) {
    if (!replies_[i].answered) out.push_back(targets_[i]);
  }
  return out;
}

std::vector<std::string> GetQuorum::RepairTargets() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < targets_.size(); ++i) {
    const Reply& reply = replies_[i];
    if (reply.answered && !reply.failed && !reply.state.Covers(merged_)) {
      out.push_back(targets_[i]);
    }
  }
  return out;
}

}  // namespace trolley
