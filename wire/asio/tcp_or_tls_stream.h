// TcpOrTlsStream: the byte stream of every Trolley connection, chosen at
// run time: a plain TCP socket (a node with TLS off: loopback, or
// `insecure = true`) or a TLS stream over one (asio::ssl::stream, OpenSSL).
// FramedConnection<TcpOrTlsStream> (framed_connection.h) is the one
// connection type of trolleyd's inbound connections, its peer links and
// the client library; see docs/design.md, 'Security: TLS and identities'.
//
// It offers what FramedConnection uses: async_read_some, async_write_some
// (so asio::async_write works), lowest_layer(), get_executor(), and
// async_handshake(), which for a plain socket completes at once (posted,
// never inline) with no error.
// Threading: like the socket it wraps (one io_context thread).
// Invariant: the kind (plain or TLS) is fixed at construction.
#pragma once

#include <utility>
#include <variant>

#include "common/asio.h"
#include "wire/asio/ssl.h"

namespace trolley {

class TcpOrTlsStream {
 public:
  using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;
  using executor_type = asio::ip::tcp::socket::executor_type;
  using lowest_layer_type = asio::ip::tcp::socket::lowest_layer_type;

  // Plain TCP.
  explicit TcpOrTlsStream(asio::ip::tcp::socket socket) : stream_(std::move(socket)) {}
  // TLS over `socket`; `tls` must outlive the stream.
  TcpOrTlsStream(asio::ip::tcp::socket socket, asio::ssl::context& tls)
      : stream_(std::in_place_type<TlsStream>, std::move(socket), tls) {}

  bool is_tls() const { return std::holds_alternative<TlsStream>(stream_); }
  // The OpenSSL session (peer certificate, cipher); null for plain TCP.
  SSL* tls_handle() {
    TlsStream* tls = std::get_if<TlsStream>(&stream_);
    return tls == nullptr ? nullptr : tls->native_handle();
  }

  executor_type get_executor() {
    return std::visit([](auto& s) { return s.lowest_layer().get_executor(); }, stream_);
  }
  lowest_layer_type& lowest_layer() {
    return std::visit([](auto& s) -> lowest_layer_type& { return s.lowest_layer(); }, stream_);
  }
  const lowest_layer_type& lowest_layer() const {
    return std::visit([](const auto& s) -> const lowest_layer_type& { return s.lowest_layer(); },
                      stream_);
  }

  template <typename Buffers, typename Handler>
  void async_read_some(const Buffers& buffers, Handler&& handler) {
    std::visit([&](auto& s) { s.async_read_some(buffers, std::forward<Handler>(handler)); },
               stream_);
  }
  template <typename Buffers, typename Handler>
  void async_write_some(const Buffers& buffers, Handler&& handler) {
    std::visit([&](auto& s) { s.async_write_some(buffers, std::forward<Handler>(handler)); },
               stream_);
  }
  // TLS: the handshake in `role`; plain: handler(no error), posted.
  template <typename Handler>
  void async_handshake(asio::ssl::stream_base::handshake_type role, Handler&& handler) {
    if (TlsStream* tls = std::get_if<TlsStream>(&stream_)) {
      tls->async_handshake(role, std::forward<Handler>(handler));
      return;
    }
    asio::post(get_executor(),
               [h = std::forward<Handler>(handler)]() mutable { h(boost::system::error_code{}); });
  }

 private:
  std::variant<asio::ip::tcp::socket, TlsStream> stream_;
};

}  // namespace trolley
