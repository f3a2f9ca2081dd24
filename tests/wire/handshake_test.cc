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

// Only a node forwards: a client's request marked forwarded would be
// coordinated wherever it lands.
TEST(InboundPolicyTest, ClientMayNotMarkRequestsForwarded) {
  for (const Message& m : std::vector<Message>{ClientGet{.id = RequestId{3}, .forwarded = true},
                                               ClientPut{.id = RequestId{3}, .forwarded = true},
                                               CartUpdate{.id = RequestId{3}, .forwarded = true}}) {
    EXPECT_TRUE(MarkedForwarded(m)) << MessageName(m);
    InboundState client;
    (void)Policy().Admit(client, Hello{kProtocolVersion, ""});
    ExpectRefused(Policy().Admit(client, m), StatusCode::kInvalidArgument,
                  "marked forwarded: only nodes forward", RequestId{3});
    InboundState peer;
    (void)Policy().Admit(peer, Hello{kProtocolVersion, "n2"});
    EXPECT_EQ(Policy().Admit(peer, m).kind, Admission::Kind::kDeliver) << MessageName(m);
  }
  EXPECT_FALSE(MarkedForwarded(ClientGet{}));
  EXPECT_FALSE(MarkedForwarded(ReplicaWrite{}));
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

// ---- identities from TLS certificates (rules 2, 3 and 5) ----

const InboundPolicy& TlsPolicy() {
  static const InboundPolicy policy("n1", {"n1", "n2", "n3"}, /*tls=*/true);
  return policy;
}

PeerIdentity Node(std::string id) { return PeerIdentity{PeerIdentity::Kind::kNode, id, false}; }
PeerIdentity Client(std::string name, bool write) {
  return PeerIdentity{PeerIdentity::Kind::kClient, name, write};
}

// A connection's state before its Hello, with what its certificate proved.
InboundState Authenticated(PeerIdentity identity) {
  InboundState state;
  state.identity = std::move(identity);
  return state;
}

TEST(IdentityFromCertificateTest, ReadsTheTrolleyUriAndIgnoresOthers) {
  auto node = IdentityFromCertificate({"https://example.com/x", "trolley:node:n2"}, "n2");
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  EXPECT_EQ(node->kind, PeerIdentity::Kind::kNode);
  EXPECT_EQ(node->name, "n2");
  EXPECT_EQ(node->Describe(), "node n2");
  auto writer = IdentityFromCertificate({"trolley:client:write"}, "cart-service");
  ASSERT_TRUE(writer.ok());
  EXPECT_EQ(writer->kind, PeerIdentity::Kind::kClient);
  EXPECT_TRUE(writer->may_write());
  EXPECT_EQ(writer->Describe(), "client cart-service (write)");
  auto reader = IdentityFromCertificate({"trolley:client:read"}, "bi");
  ASSERT_TRUE(reader.ok());
  EXPECT_FALSE(reader->may_write());
  EXPECT_TRUE(PeerIdentity{}.may_write());  // TLS off: nothing is checked
}

TEST(IdentityFromCertificateTest, RefusesNoneSeveralOrUnknownIdentities) {
  for (const auto& uris :
       std::vector<std::vector<std::string>>{{},
                                             {"https://example.com"},
                                             {"trolley:node:n1", "trolley:client:write"},
                                             {"trolley:client:admin"},
                                             {"trolley:node:"},
                                             {"trolley:node:bad id"}}) {
    auto identity = IdentityFromCertificate(uris, "x");
    EXPECT_EQ(identity.status().code(), StatusCode::kFailedPrecondition)
        << (uris.empty() ? "(none)" : uris.front());
  }
}

TEST(InboundPolicyTlsTest, PeerHelloMustMatchTheCertificatesNode) {
  InboundState ok = Authenticated(Node("n2"));
  EXPECT_EQ(TlsPolicy().Admit(ok, Hello{kProtocolVersion, "n2"}).kind, Admission::Kind::kAnswer);
  EXPECT_EQ(ok.peer, "n2");

  InboundState other = Authenticated(Node("n3"));
  ExpectRefused(TlsPolicy().Admit(other, Hello{kProtocolVersion, "n2"}),
                StatusCode::kFailedPrecondition, "the certificate names node 'n3'");
  EXPECT_FALSE(other.hello_done);

  InboundState client = Authenticated(Client("alice", true));
  ExpectRefused(TlsPolicy().Admit(client, Hello{kProtocolVersion, "n2"}),
                StatusCode::kFailedPrecondition, "clients cannot speak as peers");
  EXPECT_FALSE(client.is_peer());
}

TEST(InboundPolicyTlsTest, UnauthenticatedConnectionsAreRefusedWhenTlsIsOn) {
  InboundState state;
  ExpectRefused(TlsPolicy().Admit(state, Hello{kProtocolVersion, ""}),
                StatusCode::kFailedPrecondition, "no verified certificate");
  // With TLS off the same Hello is a client's, and any member id is accepted.
  InboundState plain;
  EXPECT_EQ(Policy().Admit(plain, Hello{kProtocolVersion, "n2"}).kind, Admission::Kind::kAnswer);
}

TEST(InboundPolicyTlsTest, ReadOnlyClientsMayReadButTheirWritesAreRejected) {
  InboundState state = Authenticated(Client("bi", false));
  ASSERT_EQ(TlsPolicy().Admit(state, Hello{kProtocolVersion, ""}).kind, Admission::Kind::kAnswer);
  for (const Message& m : std::vector<Message>{ClientGet{RequestId{1}}, RingInfoRequest{},
                                               StatusRequest{}, Ping{}, ReplicaGet{}}) {
    EXPECT_EQ(TlsPolicy().Admit(state, m).kind, Admission::Kind::kDeliver) << MessageName(m);
  }
  for (const Message& m : std::vector<Message>{ClientPut{RequestId{9}}, CartUpdate{RequestId{9}}}) {
    const Admission a = TlsPolicy().Admit(state, m);
    ASSERT_EQ(a.kind, Admission::Kind::kReject) << MessageName(m);
    EXPECT_EQ(a.refusal.code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(a.refusal.message().find("may only read"), std::string::npos);
    EXPECT_EQ(std::get<ErrorReply>(a.reply).id, RequestId{9});
  }
  // Peer-only messages still close the connection (rule 3).
  ExpectRefused(TlsPolicy().Admit(state, ReplicaWrite{RequestId{4}}), StatusCode::kInvalidArgument,
                "not a client request", RequestId{4});
}

TEST(InboundPolicyTlsTest, WritersAndNodeCertificatesMayWriteAsClients) {
  for (const PeerIdentity& identity : {Client("svc", true), Node("n3")}) {
    InboundState state = Authenticated(identity);
    ASSERT_EQ(TlsPolicy().Admit(state, Hello{kProtocolVersion, ""}).kind, Admission::Kind::kAnswer);
    EXPECT_EQ(TlsPolicy().Admit(state, ClientPut{RequestId{1}}).kind, Admission::Kind::kDeliver);
    EXPECT_EQ(TlsPolicy().Admit(state, CartUpdate{RequestId{2}}).kind, Admission::Kind::kDeliver);
  }
}

TEST(CheckServerIdentityTest, ADialledNodeMustProveToBeTheMemberDialled) {
  EXPECT_TRUE(CheckServerIdentity(PeerIdentity{}, "n2").ok());  // TLS off
  EXPECT_TRUE(CheckServerIdentity(Node("n2"), "n2").ok());
  EXPECT_TRUE(CheckServerIdentity(Node("n3"), "").ok());  // a client dials any node
  const Status other = CheckServerIdentity(Node("n3"), "n2");
  EXPECT_EQ(other.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(other.message().find("dialled node 'n2' but its certificate names node 'n3'"),
            std::string::npos)
      << other.ToString();
  const Status client = CheckServerIdentity(Client("c", true), "");
  EXPECT_EQ(client.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(client.message().find("not a node's"), std::string::npos) << client.ToString();
}

TEST(CheckHelloReplyTest, TheNodesCertificateMustNameTheNodeThatAnswered) {
  EXPECT_TRUE(CheckHelloReply(HelloReply{kProtocolVersion, "n2"}, "n2", Node("n2")).ok());
  EXPECT_TRUE(CheckHelloReply(HelloReply{kProtocolVersion, "n2"}, "", Node("n2")).ok());
  const Status impostor = CheckHelloReply(HelloReply{kProtocolVersion, "n2"}, "", Node("n3"));
  EXPECT_EQ(impostor.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(impostor.message().find("certificate names node 'n3'"), std::string::npos);
  const Status client = CheckHelloReply(HelloReply{kProtocolVersion, "n2"}, "", Client("c", true));
  EXPECT_EQ(client.code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace trolley
