// Goal: hostile or broken input on one connection gets an ErrorReply where
// possible and that connection closed within a bounded time, and affects
// nothing else: a normal client on another connection keeps working
// between and after the cases, the process stays alive, data stays.
// Method: raw POSIX sockets to a real trolleyd (cluster_harness.h), bytes
// built by hand (Cap'n Proto words per capnproto.org/encoding.html); each
// hand-built payload is first checked against the codec in-process, so a
// mistake in the test's bytes cannot pass for a node behaviour.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <random>

#include "common/assert.h"
#include "tests/integration/cluster_harness.h"
#include "tests/support/capnp_words.h"
#include "wire/frame.h"
#include "wire/message_codec.h"

namespace trolley::integration {
namespace {

using Clock = std::chrono::steady_clock;
using Strings = std::vector<std::string>;
using test_support::FlatArray;
using test_support::ListPointer;
using test_support::StructPointer;
using test_support::TextWords;

// ---- raw bytes

std::string Frame(std::string_view payload) {
  std::string out;
  AppendFrame(out, payload);
  return out;
}
std::string MessageFrame(const Message& m) {
  std::string out;
  TROLLEY_ASSERT(AppendMessageFrame(out, m).ok());
  return out;
}
std::string ClientHello() { return MessageFrame(Hello{kProtocolVersion, ""}); }

// Envelope -> ClientGet whose ns (a Data pointer) is a struct pointer
// leading a `depth`-deep chain of struct pointers.
std::string DeepChainClientGet(int depth) {
  std::vector<uint64_t> w = {StructPointer(0, 1, 1),
                             2 /* clientGet */,
                             StructPointer(0, 1, 2),
                             9 /* id */,
                             StructPointer(1, 0, 1) /* ns -> w[6] */,
                             0 /* key, below */};
  for (int i = 0; i < depth; ++i) w.push_back(StructPointer(0, 0, 1));
  w.push_back(0);
  const size_t key_at = w.size();
  w[5] = ListPointer(static_cast<int32_t>(key_at - 6), 2, 1);
  w.push_back(TextWords("k")[0]);
  return FlatArray(w);
}

// Envelope -> Ping{nonce} with an unknown second pointer leading a
// `depth`-deep chain (a field this build does not know).
std::string PingWithDeepUnknownField(int depth, uint64_t nonce) {
  std::vector<uint64_t> w = {StructPointer(0, 1, 1), 10 /* ping */, StructPointer(0, 1, 1), nonce,
                             StructPointer(0, 0, 1)};
  for (int i = 0; i < depth; ++i) w.push_back(StructPointer(0, 0, 1));
  w.push_back(0);
  return FlatArray(w);
}

// Envelope -> ClientPut{ns "carts", key, value "v"} whose context is an
// inline-composite list claiming `elements` zero-sized entries.
std::string ClientPutClaimingContext(const std::string& key, uint32_t elements) {
  TROLLEY_ASSERT(key.size() <= 16);
  std::vector<uint64_t> w = {StructPointer(0, 1, 1),
                             4 /* clientPut */,
                             StructPointer(0, 1, 4),
                             11 /* id */,
                             ListPointer(3, 2, 5) /* ns -> w[8] */,
                             ListPointer(3, 2, key.size()) /* key -> w[9..10] */,
                             ListPointer(4, 7, 0) /* context: tag at w[11], 0 words */,
                             ListPointer(4, 2, 1) /* value -> w[12] */};
  w.push_back(TextWords("carts")[0]);
  std::vector<uint64_t> k = TextWords(key);
  k.resize(2, 0);
  w.insert(w.end(), k.begin(), k.end());
  w.push_back(StructPointer(static_cast<int32_t>(elements), 0, 0));  // tag: element count
  w.push_back(TextWords("v")[0]);
  return FlatArray(w);
}

// Envelope with union discriminant `which` and an empty struct.
std::string EnvelopeOfType(uint16_t which) {
  return FlatArray({StructPointer(0, 1, 1), which, StructPointer(0, 1, 0), 0});
}

// ---- a raw connection

class RawConnection {
 public:
  explicit RawConnection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      error_ = std::string("connect: ") + std::strerror(errno);
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool ok() const { return fd_ >= 0; }
  const std::string& error() const { return error_; }

  // Sends all of `bytes`; false if the node closed first (which some cases
  // allow: it may refuse before reading everything).
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  struct Outcome {
    std::string bytes;    // everything read
    bool closed = false;  // EOF or reset seen
    std::string how;      // "eof", "reset", "timeout"
    std::chrono::milliseconds after{0};
  };
  // Reads until the node closes the connection or `timeout` passes.
  Outcome ReadUntilClosed(std::chrono::milliseconds timeout) {
    Outcome out;
    const auto start = Clock::now();
    const auto deadline = start + timeout;
    char buf[64 * 1024];
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        out.how = "timeout";
        break;
      }
      pollfd p{fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) continue;  // re-checks the deadline
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        out.bytes.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      out.closed = true;
      out.how = n == 0 ? "eof" : std::string("error: ") + std::strerror(errno);
      break;
    }
    out.after = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    return out;
  }

  // Reads until one whole message arrived; an error on close or timeout.
  Result<Message> ReadMessage(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    char buf[64 * 1024];
    for (;;) {
      auto frame = decoder_.Next();
      if (!frame.ok()) return frame.status();
      if (*frame) return DecodeMessage(**frame);
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return Status::Timeout("no message in time");
      pollfd p{fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r <= 0) continue;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Status::Unavailable("connection closed while waiting for a message");
      if (Status s = decoder_.Feed(buf, static_cast<size_t>(n)); !s.ok()) return s;
    }
  }

 private:
  int fd_ = -1;
  std::string error_;
  FrameDecoder decoder_;
};

// The whole messages in `bytes` (a trailing partial frame is ignored).
std::vector<Message> DecodeAll(const std::string& bytes) {
  std::vector<Message> out;
  FrameDecoder decoder;
  (void)decoder.Feed(bytes);
  for (;;) {
    auto frame = decoder.Next();
    if (!frame.ok() || !*frame) break;
    auto m = DecodeMessage(**frame);
    if (!m.ok()) {
      ADD_FAILURE() << "the node sent an undecodable frame: " << m.status().ToString();
      break;
    }
    out.push_back(std::move(*m));
  }
  return out;
}

struct Expectation {
  bool hello_reply = false;          // a HelloReply comes first
  bool error_reply_required = true;  // else it may or may not arrive
  std::optional<StatusCode> code{};  // of the ErrorReply
  std::string message_has{};         // a substring of its message
  uint64_t error_id = 0;             // its request id
  std::chrono::milliseconds close_within = 3s;
  std::chrono::milliseconds close_not_before = 0ms;
};

// Sends `bytes` on a new connection to `port` and checks what comes back:
// optionally a HelloReply, then an ErrorReply as expected, then the close.
void ExpectRefusedAndClosed(uint16_t port, const std::string& bytes, const Expectation& e) {
  RawConnection conn(port);
  ASSERT_TRUE(conn.ok()) << conn.error();
  const bool sent_all = conn.Send(bytes);
  const RawConnection::Outcome out = conn.ReadUntilClosed(e.close_within + 2s);
  EXPECT_TRUE(out.closed) << "the node kept the connection open for " << out.after.count() << " ms";
  EXPECT_LE(out.after, e.close_within) << "closed (" << out.how << ") too late";
  EXPECT_GE(out.after, e.close_not_before) << "closed (" << out.how << ") too early";
  const std::vector<Message> got = DecodeAll(out.bytes);
  size_t next = 0;
  if (e.hello_reply) {
    ASSERT_GE(got.size(), 1u) << "no HelloReply (sent all: " << sent_all << ", " << out.how << ")";
    EXPECT_TRUE(std::holds_alternative<HelloReply>(got[0])) << MessageName(got[0]);
    next = 1;
  }
  if (got.size() == next) {
    EXPECT_FALSE(e.error_reply_required)
        << "no ErrorReply before the close (" << out.how << ", sent all: " << sent_all << ")";
    return;
  }
  ASSERT_EQ(got.size(), next + 1) << "more messages than a HelloReply and one ErrorReply";
  const ErrorReply* err = std::get_if<ErrorReply>(&got[next]);
  ASSERT_NE(err, nullptr) << "expected an ErrorReply, got " << MessageName(got[next]);
  if (e.code) {
    EXPECT_EQ(err->code, *e.code) << err->message;
  }
  EXPECT_NE(err->message.find(e.message_has), std::string::npos) << err->message;
  EXPECT_EQ(err->id.value, e.error_id);
}

std::string RandomBytes(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (char& ch : out) ch = static_cast<char>(rng() & 0xff);
  return out;
}

TEST(BadInputTest, HostileConnectionsAreClosedAndHarmNothingElse) {
  Cluster cluster;  // idle_frame_timeout_ms = 1000
  ASSERT_EQ(cluster.options().idle_frame_timeout_ms, 1000u);
  {
    const Status started = cluster.Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
  }
  const uint16_t port = cluster.port(0);
  auto client_or = cluster.Connect(0);
  ASSERT_TRUE(client_or.ok()) << client_or.status().ToString();
  std::unique_ptr<NodeConnection> client = std::move(*client_or);

  auto before = Put(*client, "cart-before", "kept");
  ASSERT_TRUE(before.ok()) << before.status().ToString();

  // After each case: the long-lived client on another connection still
  // writes and reads, and the node process lives.
  int step = 0;
  auto client_still_works = [&](const std::string& after_case) {
    SCOPED_TRACE("after case " + after_case);
    ASSERT_TRUE(cluster.IsRunning(0)) << "trolleyd died";
    ASSERT_TRUE(client->is_open());
    const std::string key = "cart-between-" + std::to_string(++step);
    auto put = Put(*client, key, after_case);
    ASSERT_TRUE(put.ok()) << put.status().ToString();
    auto got = Get(*client, key);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(Values(got->state), Strings{after_case});
  };
  client_still_works("none");

  // (a) 64 KiB of random bytes, as the first bytes of a connection and as
  // one frame's payload after a valid Hello.
  {
    SCOPED_TRACE("(a) random bytes");
    const std::string noise = RandomBytes(0x7201, 64 * 1024);
    ExpectRefusedAndClosed(port, noise, {.error_reply_required = false, .close_within = 3s});
    client_still_works("random-bytes");
    ExpectRefusedAndClosed(port, ClientHello() + Frame(noise.substr(0, 64 * 1024 - 8)),
                           {.hello_reply = true,
                            .code = StatusCode::kCorruption,
                            .message_has = "Cap'n Proto",
                            .close_within = 3s});
    client_still_works("random-frame");
  }

  // (b) A 4 GiB length prefix: refused at once, before any allocation.
  {
    SCOPED_TRACE("(b) 4 GiB length");
    const std::string huge("\xff\xff\xff\xff", 4);
    ExpectRefusedAndClosed(port, huge,
                           {.code = StatusCode::kInvalidArgument,
                            .message_has = "frame of 4294967295 bytes exceeds the limit",
                            .close_within = 2s});
    ExpectRefusedAndClosed(port, ClientHello() + huge,
                           {.hello_reply = true,
                            .code = StatusCode::kInvalidArgument,
                            .message_has = "exceeds the limit",
                            .close_within = 2s});
    ExpectRefusedAndClosed(port, ClientHello() + std::string(4, '\0'),
                           {.hello_reply = true,
                            .code = StatusCode::kCorruption,
                            .message_has = "truncated",
                            .close_within = 2s});
    client_still_works("huge-length");
  }

  // (c) Malformed Cap'n Proto after a valid Hello.
  {
    SCOPED_TRACE("(c) malformed Cap'n Proto");
    // A 1000-deep struct-pointer chain where ClientGet.ns (Data) belongs.
    const std::string deep = DeepChainClientGet(1000);
    ASSERT_FALSE(DecodeMessage(deep).ok());
    ExpectRefusedAndClosed(port, ClientHello() + Frame(deep),
                           {.hello_reply = true,
                            .code = StatusCode::kCorruption,
                            .message_has = "malformed Cap'n Proto message",
                            .close_within = 2s});
    client_still_works("deep-chain");

    // A context list claiming 4M zero-sized entries in an 80-byte payload:
    // the traversal limit refuses it. The same bytes claiming 0 entries are
    // a valid put (so the layout is right), sent first on the same connection.
    const std::string control = ClientPutClaimingContext("cart-raw", 0);
    const std::string claim = ClientPutClaimingContext("cart-raw", 1u << 22);
    ASSERT_TRUE(DecodeMessage(control).ok()) << DecodeMessage(control).status().ToString();
    ASSERT_FALSE(DecodeMessage(claim).ok());
    {
      RawConnection conn(port);
      ASSERT_TRUE(conn.ok()) << conn.error();
      ASSERT_TRUE(conn.Send(ClientHello() + Frame(control)));
      auto hello = conn.ReadMessage(3s);
      ASSERT_TRUE(hello.ok() && std::holds_alternative<HelloReply>(*hello));
      auto reply = conn.ReadMessage(5s);
      ASSERT_TRUE(reply.ok()) << reply.status().ToString();
      const auto* put = std::get_if<ClientPutReply>(&*reply);
      ASSERT_NE(put, nullptr) << MessageName(*reply);
      EXPECT_EQ(put->code, StatusCode::kOk) << put->message;
      EXPECT_EQ(put->id.value, 11u);
      EXPECT_EQ(Values(put->state), Strings{"v"});
      ASSERT_TRUE(conn.Send(Frame(claim)));
      const RawConnection::Outcome out = conn.ReadUntilClosed(4s);
      EXPECT_TRUE(out.closed) << out.how;
      const std::vector<Message> got = DecodeAll(out.bytes);
      ASSERT_EQ(got.size(), 1u);
      const auto* err = std::get_if<ErrorReply>(&got[0]);
      ASSERT_NE(err, nullptr) << MessageName(got[0]);
      EXPECT_EQ(err->code, StatusCode::kCorruption);
      EXPECT_NE(err->message.find("traversal limit"), std::string::npos) << err->message;
    }
    client_still_works("huge-list-claim");

    // Deep nesting in a field this build does not know is never followed
    // (forward compatibility, wire/message_codec.h): the Ping is answered
    // and the connection stays usable.
    const std::string ping = PingWithDeepUnknownField(1000, 5);
    ASSERT_TRUE(DecodeMessage(ping).ok());
    {
      RawConnection conn(port);
      ASSERT_TRUE(conn.ok()) << conn.error();
      ASSERT_TRUE(conn.Send(ClientHello() + Frame(ping)));
      auto hello = conn.ReadMessage(3s);
      ASSERT_TRUE(hello.ok() && std::holds_alternative<HelloReply>(*hello));
      auto pong = conn.ReadMessage(3s);
      ASSERT_TRUE(pong.ok()) << pong.status().ToString();
      ASSERT_TRUE(std::holds_alternative<Pong>(*pong)) << MessageName(*pong);
      EXPECT_EQ(std::get<Pong>(*pong).nonce, 5u);
      ASSERT_TRUE(conn.Send(MessageFrame(StatusRequest{RequestId{3}})));
      auto status = conn.ReadMessage(3s);
      ASSERT_TRUE(status.ok()) << status.status().ToString();
      ASSERT_TRUE(std::holds_alternative<StatusReply>(*status)) << MessageName(*status);
    }
    client_still_works("deep-unknown-field");
  }

  // (d) Half a frame, then silence: closed by the idle-frame timeout.
  {
    SCOPED_TRACE("(d) half-sent frame");
    std::string half = ClientHello();
    AppendFrameHeader(half, 1000);
    half += std::string(10, 'x');
    ExpectRefusedAndClosed(port, half,
                           {.hello_reply = true,
                            .code = StatusCode::kTimeout,
                            .message_has = "partial frame saw no bytes for 1000 ms",
                            .close_within = 3s,
                            .close_not_before = 900ms});
    // And a connection that never says Hello.
    ExpectRefusedAndClosed(port, "",
                           {.code = StatusCode::kTimeout,
                            .message_has = "no Hello within 1000 ms",
                            .close_within = 3s,
                            .close_not_before = 900ms});
    client_still_works("half-frame");
  }

  // (e) Valid frames a client may not send.
  {
    SCOPED_TRACE("(e) not for clients");
    const std::string unknown = EnvelopeOfType(23);
    ASSERT_EQ(DecodeMessage(unknown).status().message(), "unknown message type 23");
    ExpectRefusedAndClosed(port, ClientHello() + Frame(unknown),
                           {.hello_reply = true,
                            .code = StatusCode::kInvalidArgument,
                            .message_has = "unknown message type 23",
                            .close_within = 2s});
    client_still_works("unknown-member");

    WriteIntent intent;
    intent.value = "evil";
    SiblingSet evil;
    evil.ApplyWrite(std::move(intent), /*actor=*/42, 0);
    ExpectRefusedAndClosed(
        port,
        ClientHello() + MessageFrame(ReplicaWrite{RequestId{77}, "carts", "cart-evil", evil, ""}),
        {.hello_reply = true,
         .code = StatusCode::kInvalidArgument,
         .message_has = "ReplicaWrite is not a client request",
         .error_id = 77,
         .close_within = 2s});
    ExpectRefusedAndClosed(
        port,
        ClientHello() + MessageFrame(ReplicaWrite{RequestId{78}, "carts", "cart-evil", evil, "n2"}),
        {.hello_reply = true,
         .code = StatusCode::kInvalidArgument,
         .message_has = "ReplicaWrite is not a client request",
         .error_id = 78,
         .close_within = 2s});
    client_still_works("replica-write");
    // Nothing of it was stored on any node, as data or as a hint (a hint
    // would be delivered to its live owner once the hints drained).
    for (int i = 0; i < cluster.size(); ++i) {
      auto conn = cluster.Connect(i);
      ASSERT_TRUE(conn.ok()) << conn.status().ToString();
      uint64_t hints = 0;
      EXPECT_TRUE(WaitFor(
          [&] {
            auto status = GetStatus(**conn);
            hints = status.ok() ? status->hints_pending : ~uint64_t{0};
            return hints == 0;
          },
          10s))
          << cluster.node_id(i) << " holds " << hints << " hints";
    }
    for (int i = 0; i < cluster.size(); ++i) {
      auto conn = cluster.Connect(i);
      ASSERT_TRUE(conn.ok()) << conn.status().ToString();
      auto r = ReadReplica(**conn, "cart-evil");
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_FALSE(r->found) << cluster.node_id(i) << ": " << r->state.DebugString();
    }

    // The handshake's own rules.
    ExpectRefusedAndClosed(port, MessageFrame(Hello{kProtocolVersion + 98, ""}),
                           {.code = StatusCode::kFailedPrecondition,
                            .message_has = "protocol version 99 is not supported",
                            .close_within = 2s});
    ExpectRefusedAndClosed(port, MessageFrame(Hello{kProtocolVersion, "n9"}),
                           {.code = StatusCode::kFailedPrecondition,
                            .message_has = "not a member",
                            .close_within = 2s});
    ExpectRefusedAndClosed(port, MessageFrame(ClientGet{RequestId{5}, "carts", "k", 0, 0, false}),
                           {.code = StatusCode::kInvalidArgument,
                            .message_has = "the first message must be Hello",
                            .error_id = 5,
                            .close_within = 2s});
    ExpectRefusedAndClosed(port, ClientHello() + ClientHello(),
                           {.hello_reply = true,
                            .code = StatusCode::kInvalidArgument,
                            .message_has = "Hello sent twice",
                            .close_within = 2s});
    client_still_works("handshake");
  }

  // After all of it: the process lives, and what was written before reads back.
  int status = 0;
  EXPECT_EQ(::waitpid(cluster.pid(0), &status, WNOHANG), 0) << "trolleyd exited";
  EXPECT_TRUE(cluster.IsRunning(0));
  auto kept = Get(*client, "cart-before");
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(Values(kept->state), Strings{"kept"});
  auto fresh = cluster.Connect(0);
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  auto local = ReadReplica(**fresh, "cart-before");
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  EXPECT_TRUE(local->found);
  EXPECT_EQ(Values(local->state), Strings{"kept"});
}

}  // namespace
}  // namespace trolley::integration
