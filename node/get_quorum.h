// GetQuorum: collects replica states for one read, decides when the
// coordinator may answer, and computes the read repair.
//
// Pure, like PutQuorum (Riak's riak_kv_get_core): states are merged as
// they arrive (merge is a join, so arrival order does not matter); the
// read succeeds after R answers (a "not found" is an answer: an empty
// state) and fails once fewer than R remain possible. Once every target
// answered or the coordinator gives up waiting, RepairTargets() names the
// replicas whose state does not already cover the merged one: they get
// the merged state (read repair), never an overwrite.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "node/put_quorum.h"
#include "storage/sibling_set.h"

namespace trolley {

class GetQuorum {
 public:
  // Requires 1 <= r <= targets.size().
  GetQuorum(uint32_t r, std::vector<std::string> targets);

  void AddState(const std::string& target, const SiblingSet& state);  // absent = empty set
  void AddFailure(const std::string& target);

  QuorumDecision Decision() const;
  bool AllAnswered() const { return answered_ == targets_.size(); }
  const SiblingSet& merged() const { return merged_; }
  const std::vector<std::string>& targets() const { return targets_; }
  std::vector<std::string> Unanswered() const;
  // Answered targets whose state misses something of merged().
  std::vector<std::string> RepairTargets() const;

 private:
  struct Reply {
    bool answered = false;
    bool failed = false;
    SiblingSet state;
  };

  uint32_t r_;
  std::vector<std::string> targets_;
  std::vector<Reply> replies_;
  uint32_t states_ = 0;
  uint32_t failures_ = 0;
  uint32_t answered_ = 0;
  SiblingSet merged_;
};

}  // namespace trolley
