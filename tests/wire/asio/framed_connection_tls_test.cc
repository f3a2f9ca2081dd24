// Goal: FramedConnection's header says TLS is one more Stream type; this
// keeps that true. Method: the class is instantiated here for
// asio::ssl::stream<tcp::socket> (a compile error if it uses anything an
// SSL stream lacks), and one instance is created, queues a frame and closes.
// The TLS handshake itself is not part of FramedConnection yet.
#include <gtest/gtest.h>

#include <boost/asio/ssl.hpp>

#include "wire/asio/framed_connection.h"
#include "wire/asio/framed_connection_impl.h"

namespace trolley {

using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;
template class FramedConnection<TlsStream>;

namespace {

TEST(FramedConnectionTlsTest, InstantiatesForAnSslStream) {
  asio::io_context io{1};
  asio::ssl::context tls(asio::ssl::context::tls_client);
  FramedConnectionCallbacks callbacks;
  callbacks.on_frame = [](std::string) {};
  auto c = std::make_shared<FramedConnection<TlsStream>>(TlsStream(io, tls),
                                                         FramedConnectionOptions{}, callbacks);
  c->SendFrame("queued before any handshake");
  EXPECT_GT(c->queued_bytes(), 0u);
  EXPECT_TRUE(c->is_open());
  c->Close();
  EXPECT_FALSE(c->is_open());
  EXPECT_EQ(c->queued_bytes(), 0u);
}

}  // namespace
}  // namespace trolley
