// Goal: FramedConnection over TLS (TcpOrTlsStream and tls.h) authenticates
// both ends as docs/design.md, 'Security: TLS and identities' says: two
// nodes of one CA handshake and learn each other's member id from the
// certificate; a client without a certificate, one from another CA, and a
// plain-TCP stranger all fail the node's handshake (on_close says "TLS
// handshake") while the node's acceptor keeps serving; a client's role is
// read from its certificate. The class still instantiates for a bare
// asio::ssl::stream. Method: certificates made by scripts/dev-certs.sh in a
// temp dir, an acceptor on 127.0.0.1:0, one io_context on the test thread.
#include <gtest/gtest.h>

#include <optional>

#include "tests/support/dev_certs.h"
#include "tests/support/run_until.h"
#include "tests/support/temp_dir.h"
#include "wire/asio/framed_connection.h"
#include "wire/asio/framed_connection_impl.h"
#include "wire/asio/ssl.h"
#include "wire/asio/tls.h"

namespace trolley {

using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;
template class FramedConnection<TlsStream>;

namespace {

using tcp = asio::ip::tcp;
using test_support::RunUntil;

TEST(FramedConnectionTlsTest, InstantiatesForAnSslStream) {
  asio::io_context io{1};
  asio::ssl::context tls(asio::ssl::context::tls_client);
  FramedConnectionCallbacks callbacks;
  callbacks.on_frame = [](std::string) {};
  auto c = std::make_shared<FramedConnection<TlsStream>>(TlsStream(io, tls),
                                                         FramedConnectionOptions{}, callbacks);
  c->SendFrame("queued before any handshake");
  EXPECT_GT(c->queued_bytes(), 0u);
  c->Close();
  EXPECT_FALSE(c->is_open());
  EXPECT_EQ(c->queued_bytes(), 0u);
}

struct Seen {
  std::vector<std::string> frames;
  std::optional<Status> closed;
};

FramedConnectionCallbacks Record(Seen& seen) {
  FramedConnectionCallbacks c;
  c.on_frame = [&seen](std::string frame) { seen.frames.push_back(std::move(frame)); };
  c.on_close = [&seen](const Status& why) { seen.closed = why; };
  return c;
}

class TlsConnectionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test_support::TempDir("trolley-tls-test");
    const std::string d = dir_->path();
    ASSERT_TRUE(test_support::MakeDevCerts(d, {"cluster", "n1", "n2"}).ok());
    ASSERT_TRUE(test_support::MakeDevCerts(d + "/other", {"cluster", "n2"}).ok());
  }
  static void TearDownTestSuite() { delete dir_; }

  TlsConnectionTest() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}

  static TlsFiles Files(const std::string& ca_dir, const std::string& stem) {
    if (stem.empty()) return TlsFiles{ca_dir + "/ca.pem", "", ""};
    return TlsFiles{ca_dir + "/ca.pem", ca_dir + "/" + stem + ".pem", ca_dir + "/" + stem + ".key"};
  }
  std::unique_ptr<asio::ssl::context> Context(const TlsFiles& files, TlsRole role) {
    auto c = MakeTlsContext(files, role);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // Accepts one connection as node n1 (TLS) and starts it.
  void AcceptAsNode(Seen& seen) {
    acceptor_.async_accept([this, &seen](boost::system::error_code ec, tcp::socket s) {
      ASSERT_FALSE(ec) << ec.message();
      server_ = std::make_shared<TcpOrTlsConnection>(TcpOrTlsStream(std::move(s), *node_tls_),
                                                     FramedConnectionOptions{}, Record(seen));
      server_->Start();
    });
  }

  // Dials the acceptor with `stream`; `connected` gets Connect()'s result.
  std::shared_ptr<TcpOrTlsConnection> Dial(TcpOrTlsStream stream, Seen& seen,
                                           std::optional<Status>& connected) {
    auto c = std::make_shared<TcpOrTlsConnection>(std::move(stream), FramedConnectionOptions{},
                                                  Record(seen));
    c->SendFrame("hello");
    c->Connect(acceptor_.local_endpoint(), [&connected](Status s) { connected = s; });
    return c;
  }

  // Accepts as node n1, dials it with `tls` and runs until the node read
  // the client's first frame; returns the client's end.
  std::shared_ptr<TcpOrTlsConnection> DialUntilServed(asio::ssl::context& tls, Seen& server_seen,
                                                      Seen& client_seen,
                                                      std::optional<Status>& connected) {
    AcceptAsNode(server_seen);
    auto client = Dial(TcpOrTlsStream(tcp::socket(io_), tls), client_seen, connected);
    EXPECT_TRUE(RunUntil(io_, [&] { return server_seen.frames.size() == 1; }));
    return client;
  }

  // A client with `files` is refused by the node's handshake.
  void ExpectRefused(std::unique_ptr<asio::ssl::context> client_tls) {
    Seen server_seen, client_seen;
    std::optional<Status> connected;
    AcceptAsNode(server_seen);
    auto client = client_tls == nullptr
                      ? Dial(TcpOrTlsStream(tcp::socket(io_)), client_seen, connected)
                      : Dial(TcpOrTlsStream(tcp::socket(io_), *client_tls), client_seen, connected);
    ASSERT_TRUE(RunUntil(io_, [&] { return server_seen.closed.has_value(); }));
    EXPECT_NE(server_seen.closed->message().find("TLS handshake"), std::string::npos)
        << server_seen.closed->ToString();
    EXPECT_TRUE(server_seen.frames.empty());
    // The node's refusal log can still name who it was.
    EXPECT_EQ(server_->RemoteAddress().rfind("127.0.0.1:", 0), 0u) << server_->RemoteAddress();
    // The client learns it too: its handshake fails, or (TLS 1.3, where the
    // node checks the client's certificate after the client finished) the
    // connection closes.
    ASSERT_TRUE(RunUntil(io_, [&] {
      return (connected.has_value() && !connected->ok()) || client_seen.closed.has_value();
    }));
    client->Close();
  }

  static test_support::TempDir* dir_;
  asio::io_context io_{1};
  tcp::acceptor acceptor_;
  std::unique_ptr<asio::ssl::context> node_tls_ =
      Context(Files(dir_->path(), "node-n1"), TlsRole::kNode);
  std::shared_ptr<TcpOrTlsConnection> server_;
};

test_support::TempDir* TlsConnectionTest::dir_ = nullptr;

TEST_F(TlsConnectionTest, NodesOfOneCaHandshakeAndLearnEachOthersIds) {
  auto n2_tls = Context(Files(dir_->path(), "node-n2"), TlsRole::kNode);
  Seen server_seen, client_seen;
  std::optional<Status> connected;
  auto client = DialUntilServed(*n2_tls, server_seen, client_seen, connected);
  ASSERT_EQ(server_seen.frames.size(), 1u);
  ASSERT_TRUE(connected.has_value() && connected->ok());
  EXPECT_EQ(server_seen.frames[0], "hello");
  server_->SendFrame("hello back");
  ASSERT_TRUE(RunUntil(io_, [&] { return client_seen.frames.size() == 1; }));
  EXPECT_EQ(client_seen.frames[0], "hello back");

  auto client_as_seen = PeerIdentityOf(server_->stream().tls_handle());
  ASSERT_TRUE(client_as_seen.ok()) << client_as_seen.status().ToString();
  EXPECT_EQ(client_as_seen->Describe(), "node n2");
  auto server_as_seen = PeerIdentityOf(client->stream().tls_handle());
  ASSERT_TRUE(server_as_seen.ok());
  EXPECT_EQ(server_as_seen->Describe(), "node n1");
  client->Close();
  server_->Close();
}

TEST_F(TlsConnectionTest, ClientRolesComeFromTheirCertificates) {
  for (const auto& [stem, described] : std::vector<std::pair<std::string, std::string>>{
           {"client-admin", "client admin (write)"}, {"client-reader", "client reader (read)"}}) {
    auto client_tls = Context(Files(dir_->path(), stem), TlsRole::kClient);
    Seen server_seen, client_seen;
    std::optional<Status> connected;
    auto client = DialUntilServed(*client_tls, server_seen, client_seen, connected);
    ASSERT_EQ(server_seen.frames.size(), 1u);
    auto identity = PeerIdentityOf(server_->stream().tls_handle());
    ASSERT_TRUE(identity.ok());
    EXPECT_EQ(identity->Describe(), described);
    client->Close();
    server_->Close();
  }
}

TEST_F(TlsConnectionTest, ClientWithoutCertificateIsRefused) {
  ExpectRefused(Context(Files(dir_->path(), ""), TlsRole::kClient));
}

TEST_F(TlsConnectionTest, CertificateOfAnotherCaIsRefused) {
  ExpectRefused(Context(Files(dir_->path() + "/other", "node-n2"), TlsRole::kNode));
}

TEST_F(TlsConnectionTest, PlainTcpStrangerIsRefusedAndTheNodeKeepsAccepting) {
  ExpectRefused(nullptr);
  // The next, valid, connection is served.
  auto n2_tls = Context(Files(dir_->path(), "node-n2"), TlsRole::kNode);
  Seen server_seen, client_seen;
  std::optional<Status> connected;
  auto client = DialUntilServed(*n2_tls, server_seen, client_seen, connected);
  EXPECT_EQ(server_seen.frames.size(), 1u);
  client->Close();
  server_->Close();
}

TEST_F(TlsConnectionTest, ANodeRefusesToDialANodeOfAnotherCa) {
  // The dialler checks the node too: n2 of this CA dials a node of another.
  auto other_node = Context(Files(dir_->path() + "/other", "node-n2"), TlsRole::kNode);
  node_tls_ = std::move(other_node);
  auto n2_tls = Context(Files(dir_->path(), "node-n2"), TlsRole::kNode);
  Seen server_seen, client_seen;
  std::optional<Status> connected;
  AcceptAsNode(server_seen);
  auto client = Dial(TcpOrTlsStream(tcp::socket(io_), *n2_tls), client_seen, connected);
  ASSERT_TRUE(RunUntil(io_, [&] { return connected.has_value(); }));
  EXPECT_FALSE(connected->ok());
  EXPECT_NE(connected->message().find("TLS handshake"), std::string::npos);
  client->Close();
}

// Connect()'s done runs after the handshake and before any queued frame
// is written, so a dialler that dislikes the certificate sends nothing.
TEST_F(TlsConnectionTest, ConnectDoneMayCloseBeforeAnythingIsSent) {
  auto n2_tls = Context(Files(dir_->path(), "node-n2"), TlsRole::kNode);
  Seen server_seen, client_seen;
  AcceptAsNode(server_seen);
  auto client = std::make_shared<TcpOrTlsConnection>(
      TcpOrTlsStream(tcp::socket(io_), *n2_tls), FramedConnectionOptions{}, Record(client_seen));
  client->SendFrame("must not leave");
  std::optional<std::string> server_seen_by_client;
  client->Connect(acceptor_.local_endpoint(), [&](Status s) {
    ASSERT_TRUE(s.ok()) << s.ToString();
    auto identity = PeerIdentityOf(client->stream().tls_handle());
    ASSERT_TRUE(identity.ok());
    server_seen_by_client = identity->Describe();
    client->Close();
  });
  ASSERT_TRUE(RunUntil(io_, [&] { return server_seen.closed.has_value(); }));
  EXPECT_EQ(server_seen_by_client, "node n1");
  EXPECT_TRUE(server_seen.frames.empty());
  EXPECT_EQ(client->writes_started(), 0u);
}

// A stranger that opens TCP and never starts the TLS handshake is closed by
// the idle-frame timeout, like one that never sends its first frame.
TEST_F(TlsConnectionTest, AStalledHandshakeIsClosedByTheIdleTimeout) {
  Seen server_seen;
  acceptor_.async_accept([&](boost::system::error_code ec, tcp::socket s) {
    ASSERT_FALSE(ec) << ec.message();
    FramedConnectionOptions options;
    options.idle_frame_timeout = std::chrono::milliseconds(100);
    options.first_frame_description = "Hello";
    server_ = std::make_shared<TcpOrTlsConnection>(TcpOrTlsStream(std::move(s), *node_tls_),
                                                   std::move(options), Record(server_seen));
    server_->Start();
  });
  tcp::socket silent(io_);
  silent.connect(acceptor_.local_endpoint());
  ASSERT_TRUE(RunUntil(io_, [&] { return server_seen.closed.has_value(); }));
  EXPECT_NE(server_seen.closed->message().find("no Hello within 100 ms"), std::string::npos)
      << server_seen.closed->ToString();
}

TEST(TlsContextTest, MissingFilesAreNamed) {
  auto none = MakeTlsContext(TlsFiles{"/nonexistent/ca.pem", "", ""}, TlsRole::kClient);
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(none.status().message().find("tls.ca_file"), std::string::npos);
  auto half = MakeTlsContext(TlsFiles{"/x/ca.pem", "", ""}, TlsRole::kNode);
  EXPECT_EQ(half.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(CertificateFileIdentity("/nonexistent.pem").ok());
}

}  // namespace
}  // namespace trolley
