#include "client/node_connection.h"

#include <array>

#include "common/asio.h"
#include "common/host_port.h"
#include "wire/frame.h"
#include "wire/message_codec.h"

namespace trolley {
namespace {

using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

template <typename M>
void SetId(M& m, RequestId id) {
  if constexpr (requires { m.id; }) m.id = id;
}

}  // namespace

struct NodeConnection::Impl {
  asio::io_context io{1};
  tcp::socket socket{io};
  FrameDecoder decoder;
  std::array<char, 64 * 1024> chunk{};
  uint64_t last_id = 0;
  bool broken = false;

  // Runs the one operation `start` begins until it completes or `deadline`
  // passes (then the socket is closed and the call gives kTimeout).
  template <typename Start>
  Status RunOne(Start start, Clock::time_point deadline, std::string_view what) {
    bool done = false;
    boost::system::error_code result;
    start([&](boost::system::error_code ec, auto&&...) {
      done = true;
      result = ec;
    });
    io.restart();
    io.run_until(deadline);
    if (!done) {
      boost::system::error_code ignored;
      socket.close(ignored);
      io.restart();
      io.run();
      broken = true;
      return Status::Timeout(std::string(what) + " timed out");
    }
    if (result) {
      broken = true;
      return Status::Unavailable(std::string(what) + ": " + result.message());
    }
    return Status::Ok();
  }

  Status Write(const std::string& bytes, Clock::time_point deadline) {
    return RunOne([&](auto handler) { asio::async_write(socket, asio::buffer(bytes), handler); },
                  deadline, "send");
  }

  Result<Message> Read(Clock::time_point deadline) {
    for (;;) {
      auto frame = decoder.Next();
      if (!frame.ok()) {
        broken = true;
        return Status::Corruption("bad frame from node: " + frame.status().message());
      }
      if (*frame) {
        auto m = DecodeMessage(**frame);
        if (!m.ok()) broken = true;
        return m;
      }
      size_t got = 0;
      Status s = RunOne(
          [&](auto handler) {
            socket.async_read_some(asio::buffer(chunk),
                                   [&got, handler](boost::system::error_code ec, size_t n) mutable {
                                     got = n;
                                     handler(ec);
                                   });
          },
          deadline, "waiting for the reply");
      if (!s.ok()) return s;
      if (Status fed = decoder.Feed(chunk.data(), got); !fed.ok()) {
        broken = true;
        return Status::Corruption("bad frame from node: " + fed.message());
      }
    }
  }
};

NodeConnection::NodeConnection(std::unique_ptr<Impl> impl, std::string address)
    : impl_(std::move(impl)), address_(std::move(address)) {}

NodeConnection::~NodeConnection() = default;

bool NodeConnection::is_open() const { return !impl_->broken; }

Result<std::unique_ptr<NodeConnection>> NodeConnection::Connect(const std::string& address,
                                                               std::chrono::milliseconds timeout) {
  auto hp = ParseHostPort(address, "node address");
  if (!hp.ok()) return hp.status();
  const auto deadline = Clock::now() + timeout;
  auto impl = std::make_unique<Impl>();
  boost::system::error_code ec;
  tcp::resolver resolver(impl->io);
  auto endpoints = resolver.resolve(hp->host, std::to_string(hp->port), ec);
  if (ec || endpoints.empty()) {
    return Status::Unavailable("cannot resolve " + address + ": " + ec.message());
  }
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  Status s = impl->RunOne([&](auto handler) { impl->socket.async_connect(endpoint, handler); },
                          deadline, "connect to " + address);
  if (!s.ok()) return Status(s.code(), s.message() + " (is trolleyd running there?)");
  impl->socket.set_option(tcp::no_delay(true), ec);

  std::string hello;
  (void)AppendMessageFrame(hello, Hello{kProtocolVersion, ""});
  if (s = impl->Write(hello, deadline); !s.ok()) return s;
  auto reply = impl->Read(deadline);
  if (!reply.ok()) return reply.status();
  if (const ErrorReply* e = std::get_if<ErrorReply>(&*reply)) {
    return Status(e->code, address + " refused the connection: " + e->message);
  }
  const HelloReply* hr = std::get_if<HelloReply>(&*reply);
  if (hr == nullptr) {
    return Status::Corruption(address + " answered Hello with " + std::string(MessageName(*reply)));
  }
  if (hr->protocol_version != kProtocolVersion) {
    return Status::FailedPrecondition(address + " speaks protocol " +
                                      std::to_string(hr->protocol_version) + ", this client " +
                                      std::to_string(kProtocolVersion));
  }
  auto conn = std::unique_ptr<NodeConnection>(new NodeConnection(std::move(impl), address));
  conn->node_id_ = hr->node_id;
  return conn;
}

Result<Message> NodeConnection::Call(Message request, std::chrono::milliseconds timeout) {
  if (impl_->broken) {
    return Status::Unavailable("connection to " + address_ + " is closed after an earlier error");
  }
  const auto deadline = Clock::now() + timeout;
  const RequestId id{++impl_->last_id};
  std::visit([&](auto& m) { SetId(m, id); }, request);
  std::string bytes;
  if (Status s = AppendMessageFrame(bytes, request); !s.ok()) return s;
  if (Status s = impl_->Write(bytes, deadline); !s.ok()) return s;
  for (;;) {
    auto reply = impl_->Read(deadline);
    if (!reply.ok()) return reply.status();
    const RequestId got = RequestIdOf(*reply);
    if (const ErrorReply* e = std::get_if<ErrorReply>(&*reply)) {
      if (got == id || got.value == 0) return Status(e->code, address_ + ": " + e->message);
      continue;
    }
    if (got == id) return reply;
    // A reply to an earlier call that timed out on our side: skip it.
  }
}

}  // namespace trolley
