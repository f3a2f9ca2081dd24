// Goal: PutQuorum and GetQuorum decide exactly when W/R answers are in or
// no longer possible, count each target once, and repair only replicas
// that miss something. Method: table-style sequences of answers.
#include <gtest/gtest.h>

#include "node/get_quorum.h"
#include "node/put_quorum.h"

namespace trolley {
namespace {

const std::vector<std::string> kThree = {"n1", "n2", "n3"};

TEST(PutQuorumTest, SucceedsAtWAcks) {
  PutQuorum q(2, kThree);
  EXPECT_EQ(q.Decision(), QuorumDecision::kPending);
  q.AddAck("n1");
  EXPECT_EQ(q.Decision(), QuorumDecision::kPending);
  q.AddAck("n3");
  EXPECT_EQ(q.Decision(), QuorumDecision::kSucceeded);
  EXPECT_EQ(q.Unanswered(), (std::vector<std::string>{"n2"}));
}

TEST(PutQuorumTest, FailsWhenWIsNoLongerReachable) {
  PutQuorum q(2, kThree);
  q.AddAck("n1");
  q.AddFailure("n2");
  EXPECT_EQ(q.Decision(), QuorumDecision::kPending);  // n3 may still ack
  q.AddFailure("n3");
  EXPECT_EQ(q.Decision(), QuorumDecision::kFailed);
}

TEST(PutQuorumTest, DuplicateAndStrayAnswersDoNotCount) {
  PutQuorum q(2, kThree);
  q.AddAck("n1");
  q.AddAck("n1");        // re-delivered reply
  q.AddAck("intruder");  // never asked
  EXPECT_EQ(q.acks(), 1u);
  EXPECT_EQ(q.Decision(), QuorumDecision::kPending);
  q.AddFailure("n1");  // an ack is not taken back
  EXPECT_EQ(q.failures(), 0u);
}

TEST(PutQuorumTest, WEqualsNNeedsEveryone) {
  for (uint32_t acks = 0; acks <= 3; ++acks) {
    PutQuorum q(3, kThree);
    for (uint32_t i = 0; i < acks; ++i) q.AddAck(kThree[i]);
    EXPECT_EQ(q.Decision(), acks == 3 ? QuorumDecision::kSucceeded : QuorumDecision::kPending);
  }
}

TEST(PutQuorumTest, FewerTargetsThanWFailsAtOnce) {
  PutQuorum q(2, {"n1"});
  q.AddAck("n1");
  EXPECT_EQ(q.Decision(), QuorumDecision::kFailed);
}

SiblingSet StateWith(const std::string& value, ActorId actor, const SiblingSet* base = nullptr) {
  SiblingSet s = base ? *base : SiblingSet();
  WriteIntent w;
  if (base) w.context = base->context();
  w.value = value;
  s.ApplyWrite(w, actor, 0);
  return s;
}

TEST(GetQuorumTest, SucceedsAtRAnswersAndNotFoundIsAnAnswer) {
  GetQuorum q(2, kThree);
  q.AddState("n1", SiblingSet());  // not found
  EXPECT_EQ(q.Decision(), QuorumDecision::kPending);
  q.AddState("n2", StateWith("cart", 1));
  EXPECT_EQ(q.Decision(), QuorumDecision::kSucceeded);
  EXPECT_EQ(q.merged().size(), 1u);
}

TEST(GetQuorumTest, FailsWhenRIsNoLongerReachable) {
  GetQuorum q(2, kThree);
  q.AddFailure("n1");
  q.AddFailure("n2");
  EXPECT_EQ(q.Decision(), QuorumDecision::kFailed);
}

TEST(GetQuorumTest, RepairsOnlyStaleReplicasWithTheMergedState) {
  const SiblingSet old_state = StateWith("v1", 1);
  const SiblingSet new_state = StateWith("v2", 1, &old_state);
  const SiblingSet concurrent = StateWith("other", 2);
  GetQuorum q(2, kThree);
  q.AddState("n1", new_state);
  q.AddState("n2", old_state);
  q.AddState("n3", concurrent);
  ASSERT_TRUE(q.AllAnswered());
  // Every replica misses something of the join (n1 lacks "other").
  EXPECT_EQ(q.RepairTargets(), (std::vector<std::string>{"n1", "n2", "n3"}));
  EXPECT_EQ(q.merged().size(), 2u);

  GetQuorum same(2, kThree);
  same.AddState("n1", new_state);
  same.AddState("n2", new_state);
  same.AddFailure("n3");
  EXPECT_TRUE(same.RepairTargets().empty());  // nobody stale; failed ones are not repaired
}

}  // namespace
}  // namespace trolley
