#include "node/server/admin_http.h"

// clang-format off
#include "common/asio.h"
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
// clang-format on

#include <chrono>

namespace trolley {
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kRequestTimeout = std::chrono::seconds(10);
constexpr uint32_t kHeaderBytesMax = 8 * 1024;
constexpr uint64_t kBodyBytesMax = 4 * 1024;

}  // namespace

// One connection: read one request, hand it to the handler, write its
// answer, close.
class AdminHttp::Session : public std::enable_shared_from_this<AdminHttp::Session> {
 public:
  Session(AdminHttp* owner, uint64_t id, tcp::socket socket)
      : owner_(owner), id_(id), stream_(std::move(socket)) {
    parser_.header_limit(kHeaderBytesMax);
    parser_.body_limit(kBodyBytesMax);
  }

  void Start() {
    stream_.expires_after(kRequestTimeout);
    http::async_read(
        stream_, buffer_, parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  // The owner is closing (or gone): forget it, close the socket.
  void Detach() {
    owner_ = nullptr;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
      Write(AdminResponse{413, "text/plain; charset=utf-8", "request too large\n"});
      return;
    }
    if (ec) {
      Finish();
      return;
    }
    const auto& request = parser_.get();
    AdminRequest r{std::string(request.method_string()), std::string(request.target()),
                   request.body()};
    stream_.expires_never();  // a backup may take long; the handler answers once
    std::weak_ptr<Session> weak = shared_from_this();
    owner_->handler_(r, [weak](AdminResponse response) {
      if (auto self = weak.lock()) self->Write(std::move(response));
    });
  }

  void Write(AdminResponse r) {
    if (owner_ == nullptr || responded_) return;
    responded_ = true;
    response_.result(r.status);
    response_.version(11);
    response_.set(http::field::server, "trolleyd");
    response_.set(http::field::content_type, r.content_type);
    response_.set(http::field::connection, "close");
    response_.body() = std::move(r.body);
    response_.prepare_payload();
    stream_.expires_after(kRequestTimeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code, size_t) { self->Finish(); });
  }

  void Finish() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    if (owner_ != nullptr) owner_->sessions_.erase(id_);
    owner_ = nullptr;
  }

  AdminHttp* owner_;
  uint64_t id_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request_parser<http::string_body> parser_;
  http::response<http::string_body> response_;
  bool responded_ = false;
};

AdminHttp::AdminHttp(asio::io_context& io, Handler handler)
    : acceptor_(io), handler_(std::move(handler)) {}

AdminHttp::~AdminHttp() { Close(); }

Result<std::unique_ptr<AdminHttp>> AdminHttp::Start(asio::io_context& io, const std::string& host,
                                                    uint16_t port, Handler handler) {
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(host, ec);
  if (ec) {
    return Status::InvalidArgument("admin.host: '" + host + "' is not an IP address");
  }
  const std::string address = (ip.is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(port);
  std::unique_ptr<AdminHttp> admin(new AdminHttp(io, std::move(handler)));
  const tcp::endpoint endpoint(ip, port);
  admin->acceptor_.open(endpoint.protocol(), ec);
  if (!ec) admin->acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) admin->acceptor_.bind(endpoint, ec);
  if (!ec) admin->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IOError("cannot listen on " + address +
                           " (admin.host, admin.port): " + ec.message());
  }
  admin->Accept();
  return admin;
}

void AdminHttp::Accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (closed_ || ec == asio::error::operation_aborted) return;
    if (!ec) {
      if (sessions_.size() >= kConnectionsMax) {
        boost::system::error_code ignored;
        socket.close(ignored);
      } else {
        auto session = std::make_shared<Session>(this, ++last_session_, std::move(socket));
        sessions_[last_session_] = session;
        session->Start();
      }
    }
    Accept();
  });
}

void AdminHttp::Close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (auto& [id, session] : sessions) session->Detach();
}

uint16_t AdminHttp::port() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec).port();
}

}  // namespace trolley
