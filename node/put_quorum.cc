#include "node/put_quorum.h"

#include "common/assert.h"

namespace trolley {

PutQuorum::PutQuorum(uint32_t w, std::vector<std::string> targets)
    : w_(w), targets_(std::move(targets)), answers_(targets_.size(), Answer::kNone) {
  TROLLEY_ASSERT(w_ >= 1);
}

bool PutQuorum::Record(const std::string& target, Answer answer) {
  for (size_t i = 0; i < targets_.size(); ++i) {
    if (targets_[i] != target) continue;
    if (answers_[i] != Answer::kNone) return false;  // answered already
    answers_[i] = answer;
    return true;
  }
  return false;  // not asked: a stray or forged reply
}

void PutQuorum::AddTarget(const std::string& target) {
  for (const std::string& t : targets_) {
    if (t == target) return;
  }
  targets_.push_back(target);
  answers_.push_back(Answer::kNone);
}

void PutQuorum::AddAck(const std::string& target) {
  if (Record(target, Answer::kAck)) ++acks_;
}

void PutQuorum::AddFailure(const std::string& target) {
  if (Record(target, Answer::kFailure)) ++failures_;
}

QuorumDecision PutQuorum::Decision() const {
  if (acks_ >= w_) return QuorumDecision::kSucceeded;
  const uint32_t possible = static_cast<uint32_t>(targets_.size()) - failures_;
  if (possible < w_) return QuorumDecision::kFailed;
  return QuorumDecision::kPending;
}

bool PutQuorum::IsWaitingFor(const std::string& target) const {
  for (size_t i = 0; i < targets_.size(); ++i) {
    if (answers_[i] == Answer::kNone && targets_[i] == target) return true;
  }
  return false;
}

std::vector<std::string> PutQuorum::Unanswered() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < targets_.size(); ++i) {
    if (answers_[i] == Answer::kNone) out.push_back(targets_[i]);
  }
  return out;
}

}  // namespace trolley
