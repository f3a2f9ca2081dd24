// Goal: InboundPolicy and CheckHelloReply (wire/handshake.h) decide who may
// send what exactly as the header's rules say, with no sockets involved.
// Method: table-style sequences of messages fed to one InboundState, each
// checked for the decision, the reply and the state it leaves.
#include "wire/handshake.h"

#include <gtest/gtest.h>

namespace trolley {
namespace {

const InboundPolicy& Policy() {
  static const InboundPolicy policy("n1", {"n1", "n2", "n3"});
  return policy;
}

void ExpectRefused(const Admission& a, StatusCode code, std::string_view message_has,
                   RequestId id = RequestId{}) {
  ASSERT_EQ(a.kind, Admission::Kind::kRefuse);
  EXPECT_EQ(a.refusal.code(), code);
  EXPECT_NE(a.refusal.message().find(message_has), std::string::npos) << a.refusal.message();
  const ErrorReply* e = std::get_if<ErrorReply>(&a.reply);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->id, id);
  EXPECT_EQ(e->code, code);
  EXPECT_EQ(e->message, a.refusal.message());
}

TEST(InboundPolicyTest, ClientHelloIsAnsweredThenClientRequestsAreDelivered) {
  InboundState state;
  const Admission hello = Policy().Admit(state, Hello{kProtocolVersion, ""});
  ASSERT_EQ(hello.kind, Admission::Kind::kAnswer);
  EXPECT_EQ(std::get<HelloReply>(hello.reply), (HelloReply{kProtocolVersion, "n1"}));
  EXPECT_TRUE(state.hello_done);
  EXPECT_FALSE(state.is_peer());
  for (const Message& m :
       std::vector<Message>{ClientGet{RequestId{1}}, ClientPut{RequestId{2}}, RingInfoRequest{},
                            StatusRequest{}, Ping{}, ReplicaGet{}, CartUpdate{}}) {
    EXPECT_EQ(Policy().Admit(state, m).kind, Admission::Kind::kDeliver) << MessageName(m);
  }
}

TEST(InboundPolicyTest, ClientMayNotSendPeerMessages) {
  InboundState state;
  (void)Policy().Admit(state, Hello{kProtocolVersion, ""});
  ExpectRefused(Policy().Admit(state, ReplicaWrite{RequestId{77}}), StatusCode::kInvalidArgument,
                "ReplicaWrite is not a client request", RequestId{77});
  EXPECT_FALSE(ClientMayAsk(ReplicaWrite{}));
  EXPECT_FALSE(ClientMayAsk(HelloReply{}));
  EXPECT_FALSE(ClientMayAsk(ErrorReply{}));
  EXPECT_FALSE(ClientMayAsk(CartUpdateReply{}));
  EXPECT_FALSE(ClientMayAsk(AaeHashRequest{}));
  EXPECT_FALSE(ClientMayAsk(AaeKeysRequest{}));
}

TEST(InboundPolicyTest, MemberHelloMakesAPeerLinkThatMaySendAnything) {
  InboundState state;
  const Admission hello = Policy().Admit(state, Hello{kProtocolVersion, "n2"});
  ASSERT_EQ(hello.kind, Admission::Kind::kAnswer);
  EXPECT_EQ(state.peer, "n2");
  EXPECT_EQ(Policy().Admit(state, ReplicaWrite{RequestId{5}}).kind, Admission::Kind::kDeliver);
  EXPECT_EQ(Policy().Admit(state, ClientGet{}).kind, Admission::Kind::kDeliver);
}

TEST(InboundPolicyTest, StrangersAndThisNodeItselfAreNotPeers) {
  for (const std::string who : {"n9", "n1"}) {
    InboundState state;
    ExpectRefused(Policy().Admit(state, Hello{kProtocolVersion, who}),
                  StatusCode::kFailedPrecondition,
                  "node '" + who + "' is not a member of this cluster as configured on n1");
    EXPECT_FALSE(state.hello_done);
  }
}

TEST(InboundPolicyTest, FirstMessageMustBeAHelloInThisProtocol) {
  InboundState state;
  ExpectRefused(Policy().Admit(state, ClientGet{RequestId{9}}), StatusCode::kInvalidArgument,
                "the first message must be Hello, got ClientGet", RequestId{9});
  ExpectRefused(Policy().Admit(state, Hello{kProtocolVersion + 98, ""}),
                StatusCode::kFailedPrecondition, "protocol version 99 is not supported");
  EXPECT_FALSE(state.hello_done);
}

TEST(InboundPolicyTest, SecondHelloIsRefused) {
  InboundState state;
  (void)Policy().Admit(state, Hello{kProtocolVersion, "n3"});
  ExpectRefused(Policy().Admit(state, Hello{kProtocolVersion, "n3"}), StatusCode::kInvalidArgument,
                "Hello sent twice");
}

TEST(InboundPolicyTest, RefusalReplyIsCutToTheStatusMessageLimit) {
  const ErrorReply e =
      RefusalReply(RequestId{3}, Status::InvalidArgument(std::string(10'000, 'x')));
  EXPECT_EQ(e.message.size(), kStatusMessageBytesMax);
  EXPECT_EQ(e.id, RequestId{3});
}

TEST(CheckHelloReplyTest, VersionAndExpectedNode) {
  EXPECT_TRUE(CheckHelloReply(HelloReply{kProtocolVersion, "n2"}, "n2").ok());
  EXPECT_TRUE(CheckHelloReply(HelloReply{kProtocolVersion, "n2"}, "").ok());
  const Status wrong_node = CheckHelloReply(HelloReply{kProtocolVersion, "n3"}, "n2");
  EXPECT_EQ(wrong_node.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(wrong_node.message(), "the node answered as 'n3', not 'n2'");
  const Status old = CheckHelloReply(HelloReply{kProtocolVersion + 1, "n2"}, "");
  EXPECT_EQ(old.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(old.message().find("speaks protocol 2"), std::string::npos);
}

}  // namespace
}  // namespace trolley
