#include "client/node_connection.h"

#include <deque>
#include <optional>

#include "common/asio.h"
#include "common/host_port.h"
#include "wire/asio/framed_connection.h"
#include "wire/asio/tls.h"
#include "wire/handshake.h"
#include "wire/message_codec.h"

namespace trolley {
namespace {

using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

template <typename M>
void SetId(M& m, RequestId id) {
  if constexpr (requires { m.id; }) m.id = id;
}

}  // namespace

// A FramedConnection (wire/asio/framed_connection.h) on a private
// io_context that runs only while a call waits.
struct NodeConnection::Impl {
  asio::io_context io{1};
  std::unique_ptr<asio::ssl::context> tls;  // null: plain TCP
  std::shared_ptr<TcpOrTlsConnection> framed;
  std::deque<std::string> frames;  // read, not yet taken
  Status failure;                  // why the connection broke
  uint64_t last_id = 0;
  bool broken = false;

  explicit Impl(std::unique_ptr<asio::ssl::context> tls_context) : tls(std::move(tls_context)) {
    FramedConnectionCallbacks callbacks;
    callbacks.on_frame = [this](std::string frame) { frames.push_back(std::move(frame)); };
    callbacks.on_bad_input = [this](const Status& why) {
      failure = Status::Corruption("bad frame from node: " + why.message());
    };
    callbacks.on_close = [this](const Status& why) {
      if (failure.ok()) failure = Status::Unavailable(why.message());
    };
    framed = std::make_shared<TcpOrTlsConnection>(
        tls == nullptr ? TcpOrTlsStream(tcp::socket(io)) : TcpOrTlsStream(tcp::socket(io), *tls),
        FramedConnectionOptions{}, std::move(callbacks));
  }
  ~Impl() { framed->Close(); }

  // Runs the loop until `done()` or `deadline` (then the connection is
  // closed and the call gives kTimeout) or the connection broke.
  template <typename Done>
  Status RunUntil(Done done, SteadyClock::time_point deadline, std::string_view what) {
    for (;;) {
      if (done()) return Status::Ok();
      if (!failure.ok()) break;
      if (SteadyClock::now() >= deadline) {
        framed->Close();
        broken = true;
        return Status::Timeout(std::string(what) + " timed out");
      }
      io.restart();
      if (io.run_one_until(deadline) == 0 && !done() && failure.ok() &&
          SteadyClock::now() < deadline) {
        failure = Status::Unavailable("the connection stopped");
      }
    }
    broken = true;
    framed->Close();
    return Status(failure.code(), std::string(what) + ": " + failure.message());
  }

  Result<Message> Read(SteadyClock::time_point deadline) {
    if (Status s = RunUntil([&] { return !frames.empty(); }, deadline, "waiting for the reply");
        !s.ok()) {
      return s;
    }
    auto m = DecodeMessage(frames.front());
    frames.pop_front();
    if (!m.ok()) {
      broken = true;
      framed->Close();
    }
    return m;
  }
};

NodeConnection::NodeConnection(std::unique_ptr<Impl> impl, std::string address)
    : impl_(std::move(impl)), address_(std::move(address)) {}

NodeConnection::~NodeConnection() = default;

bool NodeConnection::is_open() const { return !impl_->broken; }

Result<std::unique_ptr<NodeConnection>> NodeConnection::Connect(const std::string& address,
                                                                std::chrono::milliseconds timeout,
                                                                const TlsFiles& tls) {
  auto hp = ParseHostPort(address, "node address");
  if (!hp.ok()) return hp.status();
  const auto deadline = SteadyClock::now() + timeout;
  std::unique_ptr<asio::ssl::context> context;
  if (tls.enabled()) {
    auto made = MakeTlsContext(tls, TlsRole::kClient);
    if (!made.ok()) return made.status();
    context = std::move(*made);
  }
  auto impl = std::make_unique<Impl>(std::move(context));
  boost::system::error_code ec;
  tcp::resolver resolver(impl->io);
  auto endpoints = resolver.resolve(hp->host, std::to_string(hp->port), ec);
  if (ec || endpoints.empty()) {
    return Status::Unavailable("cannot resolve " + address + ": " + ec.message());
  }
  std::optional<Status> connected;
  (void)impl->framed->SendMessage(Hello{kProtocolVersion, ""});
  Result<PeerIdentity> identity = PeerIdentity{};
  impl->framed->Connect(endpoints.begin()->endpoint(), [&](Status s) {
    // Before the Hello goes out: the other end proved to be a node.
    if (s.ok()) identity = DialledNodeIdentity(impl->framed->stream().tls_handle(), "");
    if (s.ok() && !identity.ok()) {
      impl->framed->Close();
      s = identity.status();
    }
    connected = s;
  });
  Status s =
      impl->RunUntil([&] { return connected.has_value(); }, deadline, "connect to " + address);
  if (s.ok()) s = *connected;
  if (!identity.ok()) {
    return Status(identity.status().code(), address + ": " + identity.status().message());
  }
  if (!s.ok()) {
    // A refused TLS handshake means a node answered: the question is the
    // certificates, not whether trolleyd runs.
    const bool handshake = s.message().find("TLS handshake") != std::string::npos;
    return Status(s.code(), s.message() + (handshake ? " (is TLS on there, and do this client's CA "
                                                       "and certificate match the cluster's?)"
                                                     : " (is trolleyd running there?)"));
  }
  auto reply = impl->Read(deadline);
  if (!reply.ok()) return reply.status();
  if (const ErrorReply* e = std::get_if<ErrorReply>(&*reply)) {
    return Status(e->code, address + " refused the connection: " + e->message);
  }
  const HelloReply* hr = std::get_if<HelloReply>(&*reply);
  if (hr == nullptr) {
    return Status::Corruption(address + " answered Hello with " + std::string(MessageName(*reply)));
  }
  if (Status checked = CheckHelloReply(*hr, "", *identity); !checked.ok()) {
    return Status(checked.code(), address + ": " + checked.message());
  }
  auto conn = std::unique_ptr<NodeConnection>(new NodeConnection(std::move(impl), address));
  conn->node_id_ = hr->node_id;
  return conn;
}

Result<Message> NodeConnection::Call(Message request, std::chrono::milliseconds timeout) {
  if (impl_->broken) {
    return Status::Unavailable("connection to " + address_ + " is closed after an earlier error");
  }
  const auto deadline = SteadyClock::now() + timeout;
  const RequestId id{++impl_->last_id};
  std::visit([&](auto& m) { SetId(m, id); }, request);
  if (Status s = impl_->framed->SendMessage(request); !s.ok()) return s;
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
