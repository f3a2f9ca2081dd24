// PutQuorum: counts the replica answers to one replicated write and
// decides when the coordinator may answer the client.
//
// Pure: it sends nothing and owns no timer; the coordinator feeds it acks,
// failures and timeouts and acts on Decision(). Modelled on Riak's
// riak_kv_put_core. Counting rules:
//   - the coordinator's own durable write counts as one ack;
//   - an ack from a fallback counts toward W (sloppy quorum);
//   - each target answers at most once; a second answer is ignored
//     (re-delivered replies never count twice);
//   - the write has failed once fewer than W acks remain possible.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace trolley {

enum class QuorumDecision { kPending, kSucceeded, kFailed };

class PutQuorum {
 public:
  // `targets`: every node asked to store the write, the coordinator included.
  // Requires w >= 1; with fewer targets than w the write has failed at once.
  PutQuorum(uint32_t w, std::vector<std::string> targets);

  // A fallback asked after the first round (a target was silent).
  void AddTarget(const std::string& target);
  void AddAck(const std::string& target);
  void AddFailure(const std::string& target);  // error reply, timeout, unreachable

  QuorumDecision Decision() const;
  uint32_t acks() const { return acks_; }
  uint32_t failures() const { return failures_; }
  // Targets that have not answered yet, in the order given.
  std::vector<std::string> Unanswered() const;
  // Whether `target` is a target that has not answered yet (no copies).
  bool IsWaitingFor(const std::string& target) const;

 private:
  enum class Answer : uint8_t { kNone, kAck, kFailure };
  bool Record(const std::string& target, Answer answer);

  uint32_t w_;
  std::vector<std::string> targets_;
  std::vector<Answer> answers_;
  uint32_t acks_ = 0;
  uint32_t failures_ = 0;
};

}  // namespace trolley
