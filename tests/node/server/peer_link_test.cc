// Goal: PeerLink (node/server/peer_link.h) opens with this node's Hello,
// delivers what the peer sends after a HelloReply naming the member
// dialled, treats any other answer or a refused dial as unreachable with a
// redial backoff, and drops messages past output_bytes_max. Method: a real
// loopback acceptor plays the peer, through a TcpFramedConnection
// (wire/asio/framed_connection.h, tested on its own) on the same io_context.
#include "node/server/peer_link.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/run_until.h"
#include "wire/message_codec.h"

namespace trolley {
namespace {

using tcp = asio::ip::tcp;
using std::chrono::milliseconds;

using test_support::RunUntil;

class PeerLinkTest : public ::testing::Test {
 protected:
  PeerLinkTest() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}

  std::unique_ptr<PeerLink> Link(size_t output_bytes_max = 1 << 20) {
    PeerLinkCallbacks callbacks;
    callbacks.on_message = [this](const std::string& peer, Message m) {
      EXPECT_EQ(peer, "n2");
      delivered_.push_back(std::move(m));
    };
    callbacks.on_unreachable = [this](const std::string& peer) {
      EXPECT_EQ(peer, "n2");
      ++unreachable_;
    };
    return std::make_unique<PeerLink>(io_, "n1", "n2", acceptor_.local_endpoint(), output_bytes_max,
                                      /*tls=*/nullptr, callbacks);
  }

  // Accepts the link's connection as the peer; its messages land in received_.
  void AcceptAsPeer() {
    std::optional<tcp::socket> accepted;
    acceptor_.async_accept([&](boost::system::error_code ec, tcp::socket s) {
      ASSERT_FALSE(ec) << ec.message();
      accepted.emplace(std::move(s));
    });
    ASSERT_TRUE(RunUntil(io_, [&] { return accepted.has_value(); }));
    FramedConnectionCallbacks callbacks;
    callbacks.on_frame = [this](std::string frame) {
      auto m = DecodeMessage(frame);
      ASSERT_TRUE(m.ok()) << m.status().ToString();
      received_.push_back(std::move(*m));
    };
    peer_ = std::make_shared<TcpFramedConnection>(std::move(*accepted), FramedConnectionOptions{},
                                                  callbacks);
    peer_->Start();
  }

  asio::io_context io_{1};
  tcp::acceptor acceptor_;
  std::shared_ptr<TcpFramedConnection> peer_;
  std::vector<Message> received_;   // by the peer
  std::vector<Message> delivered_;  // by the link
  int unreachable_ = 0;
};

TEST_F(PeerLinkTest, HelloFirstThenMessagesInOrderAndThePeersMessagesDelivered) {
  auto link = Link();
  link->Send(Ping{1});
  link->Send(Ping{2});
  EXPECT_FALSE(link->idle());
  AcceptAsPeer();
  ASSERT_TRUE(RunUntil(io_, [&] { return received_.size() == 3; }));
  EXPECT_EQ(received_[0], Message(Hello{kProtocolVersion, "n1"}));
  EXPECT_EQ(received_[1], Message(Ping{1}));
  EXPECT_EQ(received_[2], Message(Ping{2}));
  ASSERT_TRUE(peer_->SendMessage(HelloReply{kProtocolVersion, "n2"}).ok());
  ASSERT_TRUE(peer_->SendMessage(Pong{3}).ok());
  ASSERT_TRUE(RunUntil(io_, [&] { return delivered_.size() == 1; }));
  EXPECT_EQ(delivered_[0], Message(Pong{3}));
  EXPECT_EQ(unreachable_, 0);
  link->Close();
}

TEST_F(PeerLinkTest, AnswerFromAnotherNodeIsUnreachableAndBacksOff) {
  auto link = Link();
  link->Send(Ping{1});
  AcceptAsPeer();
  ASSERT_TRUE(peer_->SendMessage(HelloReply{kProtocolVersion, "n3"}).ok());
  ASSERT_TRUE(RunUntil(io_, [&] { return unreachable_ == 1; }));
  EXPECT_TRUE(link->idle());
  // Within the backoff (50 ms) a send neither dials nor queues.
  link->Send(Ping{2});
  EXPECT_TRUE(link->idle());
  EXPECT_TRUE(delivered_.empty());
}

TEST_F(PeerLinkTest, RefusedDialIsUnreachableAndRedialsAfterTheBackoff) {
  auto link = Link();
  acceptor_.close();
  link->Send(Ping{1});
  ASSERT_TRUE(RunUntil(io_, [&] { return unreachable_ == 1; }));
  link->Send(Ping{2});
  EXPECT_TRUE(link->idle()) << "dialled again within the backoff";
  asio::steady_timer wait(io_, milliseconds(60));
  bool waited = false;
  wait.async_wait([&](boost::system::error_code) { waited = true; });
  ASSERT_TRUE(RunUntil(io_, [&] { return waited; }));
  link->Send(Ping{3});
  EXPECT_FALSE(link->idle());
  ASSERT_TRUE(RunUntil(io_, [&] { return unreachable_ == 2; }));
}

TEST_F(PeerLinkTest, MessagesPastTheQueueLimitAreDropped) {
  auto link = Link(/*output_bytes_max=*/200);
  for (uint64_t i = 0; i < 50; ++i) link->Send(Ping{i});  // queued while dialling
  AcceptAsPeer();
  ASSERT_TRUE(peer_->SendMessage(HelloReply{kProtocolVersion, "n2"}).ok());
  ASSERT_TRUE(RunUntil(io_, [&] { return !received_.empty(); }));
  link->Send(Ping{999});
  ASSERT_TRUE(RunUntil(io_, [&] { return received_.back() == Message(Ping{999}); }));
  EXPECT_EQ(received_[0], Message(Hello{kProtocolVersion, "n1"}));
  EXPECT_EQ(received_[1], Message(Ping{0}));
  EXPECT_LT(received_.size(), 50u) << "nothing was dropped past 200 bytes";
  EXPECT_GT(received_.size(), 3u);
  EXPECT_EQ(unreachable_, 0);
}

}  // namespace
}  // namespace trolley
