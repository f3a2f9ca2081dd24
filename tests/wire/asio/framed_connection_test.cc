// Goal: FramedConnection (wire/asio/framed_connection.h) keeps its header's
// invariants on real sockets: frames round-trip in order however large,
// frames queued in one loop turn leave in one write, an oversized frame is
// refused (with a last frame from on_bad_input) and the connection closed,
// a partial frame or a missing first frame times out, and closing with
// writes queued either flushes them (CloseAfterFlush) or drops them without
// callbacks (Close). Method: an acceptor on 127.0.0.1:0 and one io_context
// on the test thread; the other end is a FramedConnection or a raw socket
// that writes hand-made bytes and reads until end of stream.
#include "wire/asio/framed_connection.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/run_until.h"

namespace trolley {
namespace {

using tcp = asio::ip::tcp;
using std::chrono::milliseconds;

using test_support::RunUntil;

// What one side's callbacks saw.
struct Seen {
  std::vector<std::string> frames;
  int reads = 0;
  std::vector<Status> bad_input;
  std::optional<Status> closed;
};

FramedConnectionCallbacks Record(Seen& seen) {
  FramedConnectionCallbacks c;
  c.on_read = [&seen] { ++seen.reads; };
  c.on_frame = [&seen](std::string frame) { seen.frames.push_back(std::move(frame)); };
  c.on_bad_input = [&seen](const Status& why) { seen.bad_input.push_back(why); };
  c.on_close = [&seen](const Status& why) {
    EXPECT_FALSE(seen.closed.has_value()) << "on_close twice";
    seen.closed = why;
  };
  return c;
}

class FramedConnectionTest : public ::testing::Test {
 protected:
  FramedConnectionTest() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}

  // The server side of a new connection, accepted and started.
  std::shared_ptr<TcpFramedConnection> Accept(FramedConnectionOptions options, Seen& seen) {
    std::optional<tcp::socket> accepted;
    acceptor_.async_accept([&](boost::system::error_code ec, tcp::socket s) {
      EXPECT_FALSE(ec) << ec.message();
      accepted.emplace(std::move(s));
    });
    EXPECT_TRUE(RunUntil(io_, [&] { return accepted.has_value(); }));
    auto c = std::make_shared<TcpFramedConnection>(std::move(*accepted), std::move(options),
                                                   Record(seen));
    c->Start();
    return c;
  }

  // A FramedConnection dialled to the acceptor, and the accepted other end.
  std::shared_ptr<TcpFramedConnection> Dial(FramedConnectionOptions options, Seen& seen) {
    auto c =
        std::make_shared<TcpFramedConnection>(tcp::socket(io_), std::move(options), Record(seen));
    c->Connect(acceptor_.local_endpoint(), [this](Status s) { connected_ = s; });
    return c;
  }

  // A raw socket connected to the acceptor (the test's hand-made peer).
  tcp::socket RawClient() {
    tcp::socket s(io_);
    s.connect(acceptor_.local_endpoint());
    return s;
  }

  // Reads `s` until end of stream (or 5 s); the bytes read.
  std::string ReadToEnd(tcp::socket& s) {
    std::string got;
    bool eof = false;
    std::array<char, 4096> buf{};
    std::function<void()> next = [&] {
      s.async_read_some(asio::buffer(buf), [&](boost::system::error_code ec, size_t n) {
        got.append(buf.data(), n);
        if (ec) {
          eof = true;
          return;
        }
        next();
      });
    };
    next();
    EXPECT_TRUE(RunUntil(io_, [&] { return eof; })) << "the connection was not closed";
    return got;
  }

  // Runs the loop for `d`.
  void Pause(milliseconds d) {
    asio::steady_timer pause(io_, d);
    bool waited = false;
    pause.async_wait([&](boost::system::error_code) { waited = true; });
    EXPECT_TRUE(RunUntil(io_, [&] { return waited; }));
  }

  asio::io_context io_{1};
  tcp::acceptor acceptor_;
  std::optional<Status> connected_;  // Dial()'s outcome
};

FramedConnectionOptions IdleTimeout(milliseconds timeout) {
  FramedConnectionOptions options;
  options.idle_frame_timeout = timeout;
  return options;
}

std::vector<std::string> FramesIn(std::string_view bytes) {
  FrameDecoder decoder;
  EXPECT_TRUE(decoder.Feed(bytes).ok());
  std::vector<std::string> out;
  for (;;) {
    auto f = decoder.Next();
    if (!f.ok() || !*f) break;
    out.push_back(std::move(**f));
  }
  return out;
}

TEST_F(FramedConnectionTest, FramesRoundTripInOrderBothWays) {
  Seen client_seen, server_seen;
  auto client = Dial({}, client_seen);
  // Queued before the dial completes: goes out once connected.
  const std::vector<std::string> payloads = {"hello", "", std::string(1 << 20, 'x'), "z"};
  for (const std::string& p : payloads) client->SendFrame(p);
  auto server = Accept({}, server_seen);
  ASSERT_TRUE(RunUntil(io_, [&] { return server_seen.frames.size() == payloads.size(); }));
  EXPECT_EQ(server_seen.frames, payloads);
  EXPECT_GT(server_seen.reads, 1) << "a 1 MiB frame takes more than one 64 KiB read";

  ASSERT_TRUE(server->SendMessage(Ping{7}).ok());
  server->SendFrame("reply");
  ASSERT_TRUE(RunUntil(io_, [&] { return client_seen.frames.size() == 2; }));
  EXPECT_EQ(client_seen.frames[1], "reply");
  EXPECT_TRUE(client_seen.bad_input.empty());
  EXPECT_FALSE(client_seen.closed.has_value());
  client->Close();
  ASSERT_TRUE(RunUntil(io_, [&] { return server_seen.closed.has_value(); }));
  EXPECT_EQ(server_seen.closed->code(), StatusCode::kUnavailable);
}

TEST_F(FramedConnectionTest, FramesQueuedInOneTurnLeaveInOneWrite) {
  Seen client_seen, server_seen;
  auto client = Dial({}, client_seen);
  auto server = Accept({}, server_seen);
  ASSERT_TRUE(RunUntil(io_, [&] { return connected_.has_value(); }));
  ASSERT_TRUE(connected_->ok()) << connected_->ToString();
  client->SendFrame("first");
  ASSERT_TRUE(RunUntil(io_, [&] { return server_seen.frames.size() == 1; }));
  const uint64_t writes_before = client->writes_started();
  for (int i = 0; i < 100; ++i) client->SendFrame("frame " + std::to_string(i));
  EXPECT_EQ(client->writes_started(), writes_before) << "nothing is written inside the turn";
  ASSERT_TRUE(RunUntil(io_, [&] { return server_seen.frames.size() == 101; }));
  EXPECT_EQ(client->writes_started(), writes_before + 1);
  EXPECT_EQ(server_seen.frames[100], "frame 99");
}

TEST_F(FramedConnectionTest, OversizedFrameIsRefusedAndClosed) {
  Seen seen;
  tcp::socket raw = RawClient();
  FramedConnectionOptions options;
  options.frame_bytes_max = 1024;
  auto server = Accept(options, seen);
  std::string bytes;
  AppendFrame(bytes, "fine");
  AppendFrameHeader(bytes, 1025);  // one byte over the limit; no payload follows
  asio::write(raw, asio::buffer(bytes));
  ASSERT_TRUE(RunUntil(io_, [&] { return !seen.bad_input.empty(); }));
  EXPECT_EQ(seen.frames, std::vector<std::string>{"fine"}) << "frames before the bad one count";
  EXPECT_EQ(seen.bad_input[0].code(), StatusCode::kInvalidArgument);
  EXPECT_NE(seen.bad_input[0].message().find("exceeds the limit of 1024"), std::string::npos)
      << seen.bad_input[0].ToString();
  EXPECT_FALSE(server->is_sending());
  const std::string rest = ReadToEnd(raw);
  EXPECT_TRUE(rest.empty());
  ASSERT_TRUE(seen.closed.has_value());
  EXPECT_EQ(seen.closed->code(), StatusCode::kInvalidArgument);
}

TEST_F(FramedConnectionTest, RefusalSendsTheLastFrameFromOnBadInput) {
  std::optional<Status> closed;
  tcp::socket raw = RawClient();
  std::optional<tcp::socket> accepted;
  acceptor_.async_accept(
      [&](boost::system::error_code, tcp::socket s) { accepted.emplace(std::move(s)); });
  ASSERT_TRUE(RunUntil(io_, [&] { return accepted.has_value(); }));
  std::shared_ptr<TcpFramedConnection> server;
  FramedConnectionCallbacks callbacks;
  callbacks.on_frame = [](std::string) {};
  callbacks.on_bad_input = [&](const Status& why) {
    server->SendFrame("refused: " + why.message());
  };
  callbacks.on_close = [&](const Status& why) { closed = why; };
  FramedConnectionOptions options;
  options.frame_bytes_max = 100;
  server = std::make_shared<TcpFramedConnection>(std::move(*accepted), options, callbacks);
  server->Start();
  std::string bytes;
  AppendFrameHeader(bytes, 1u << 30);
  asio::write(raw, asio::buffer(bytes));
  const auto frames = FramesIn(ReadToEnd(raw));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0], "refused: frame of 1073741824 bytes exceeds the limit of 100");
  EXPECT_TRUE(closed.has_value());
}

TEST_F(FramedConnectionTest, PartialFrameTimesOut) {
  Seen seen;
  tcp::socket raw = RawClient();
  auto server = Accept(IdleTimeout(milliseconds(200)), seen);
  std::string bytes;
  AppendFrame(bytes, "whole");
  AppendFrameHeader(bytes, 100);
  bytes += "only part of the payload";
  const auto start = std::chrono::steady_clock::now();
  asio::write(raw, asio::buffer(bytes));
  ReadToEnd(raw);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, milliseconds(190));
  EXPECT_LT(took, milliseconds(2000));
  EXPECT_EQ(seen.frames, std::vector<std::string>{"whole"});
  ASSERT_EQ(seen.bad_input.size(), 1u);
  EXPECT_EQ(seen.bad_input[0].code(), StatusCode::kTimeout);
  EXPECT_EQ(seen.bad_input[0].message(), "a partial frame saw no bytes for 200 ms");
}

TEST_F(FramedConnectionTest, BytesThatKeepComingResetThePartialFrameTimeout) {
  Seen seen;
  tcp::socket raw = RawClient();
  auto server = Accept(IdleTimeout(milliseconds(200)), seen);
  std::string bytes;
  AppendFrame(bytes, std::string(10, 'a'));
  // Dribble the frame out a byte every 50 ms: 700 ms in all, never idle 200 ms.
  for (char b : bytes) {
    asio::write(raw, asio::buffer(&b, 1));
    Pause(milliseconds(50));
  }
  ASSERT_TRUE(RunUntil(io_, [&] { return seen.frames.size() == 1; }));
  EXPECT_TRUE(seen.bad_input.empty());
  // A whole frame leaves nothing waiting: no timeout afterwards either.
  Pause(milliseconds(400));
  EXPECT_TRUE(seen.bad_input.empty());
  EXPECT_TRUE(server->is_open());
}

TEST_F(FramedConnectionTest, MissingFirstFrameTimesOut) {
  Seen seen;
  tcp::socket raw = RawClient();
  FramedConnectionOptions options = IdleTimeout(milliseconds(150));
  options.first_frame_description = "Hello";
  auto server = Accept(options, seen);
  ReadToEnd(raw);
  ASSERT_EQ(seen.bad_input.size(), 1u);
  EXPECT_EQ(seen.bad_input[0].message(), "no Hello within 150 ms");
}

TEST_F(FramedConnectionTest, CloseAfterFlushWritesEverythingQueuedThenCloses) {
  Seen seen;
  tcp::socket raw = RawClient();
  auto server = Accept({}, seen);
  std::vector<std::string> sent;
  for (int i = 0; i < 50; ++i) {
    sent.push_back(std::string(10'000, static_cast<char>('a' + i % 26)));
    server->SendFrame(sent.back());
  }
  server->CloseAfterFlush(Status::Unavailable("shutting down"));
  server->SendFrame("queued after the close: dropped");
  EXPECT_EQ(FramesIn(ReadToEnd(raw)), sent);
  ASSERT_TRUE(seen.closed.has_value());
  EXPECT_EQ(seen.closed->message(), "shutting down");
}

TEST_F(FramedConnectionTest, CloseWithAWriteInFlightDropsTheRestWithoutCallbacks) {
  Seen seen;
  tcp::socket raw = RawClient();
  auto server = Accept({}, seen);
  // More than the socket buffers hold while nobody reads: the write stays
  // in flight, and more frames wait behind it.
  server->SendFrame(std::string(4 << 20, 'w'));
  ASSERT_TRUE(RunUntil(io_, [&] { return server->writes_started() == 1; }));
  server->SendFrame("behind the write");
  EXPECT_GT(server->queued_bytes(), size_t{4 << 20});
  server->Close();
  EXPECT_FALSE(server->is_open());
  const std::string got = ReadToEnd(raw);
  EXPECT_LT(got.size(), size_t{4 << 20} + 4) << "the closed connection finished its writes";
  // Handlers ran (ReadToEnd drove the loop) and none called back.
  EXPECT_FALSE(seen.closed.has_value());
  EXPECT_TRUE(seen.frames.empty());
}

TEST_F(FramedConnectionTest, EndOfStreamClosesOnce) {
  Seen seen;
  tcp::socket raw = RawClient();
  auto server = Accept({}, seen);
  raw.close();
  ASSERT_TRUE(RunUntil(io_, [&] { return seen.closed.has_value(); }));
  EXPECT_EQ(seen.closed->code(), StatusCode::kUnavailable);
  EXPECT_EQ(seen.closed->message(), "closed by the other end");
  EXPECT_FALSE(server->is_open());
}

TEST_F(FramedConnectionTest, RefusedDialReportsUnavailable) {
  const tcp::endpoint gone = acceptor_.local_endpoint();
  acceptor_.close();
  Seen seen;
  auto c = std::make_shared<TcpFramedConnection>(tcp::socket(io_), FramedConnectionOptions{},
                                                 Record(seen));
  c->SendFrame("never sent");
  std::optional<Status> connected;
  c->Connect(gone, [&](Status s) { connected = s; });
  ASSERT_TRUE(RunUntil(io_, [&] { return connected.has_value(); }));
  EXPECT_EQ(connected->code(), StatusCode::kUnavailable);
  EXPECT_FALSE(c->is_open());
  EXPECT_FALSE(seen.closed.has_value());
}

}  // namespace
}  // namespace trolley
