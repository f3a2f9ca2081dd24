// Goal: AdminHttp (node/server/admin_http.h) hands each request's method,
// target and body to its handler and writes the handler's answer, now or
// later, then closes; it answers 413 to a body over its limit without
// calling the handler, and Close() drops connections still waiting for an
// answer. Method: a real loopback listener on port 0 and raw HTTP/1.1
// requests written by an Asio client on the same io_context, driven by
// RunUntil; each response is read until the server closes.
#include "node/server/admin_http.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/run_until.h"

namespace trolley {
namespace {

using tcp = asio::ip::tcp;
using test_support::RunUntil;

class AdminHttpTest : public ::testing::Test {
 protected:
  void StartServer() {
    auto started = AdminHttp::Start(
        io_, "127.0.0.1", 0, [this](const AdminRequest& r, AdminHttp::Respond respond) {
          requests_.push_back(r);
          if (defer_) {
            deferred_ = std::move(respond);
          } else {
            respond(AdminResponse{200, "text/plain", "got " + r.target});
          }
        });
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    server_ = std::move(*started);
    ASSERT_NE(server_->port(), 0);
  }

  // Sends `raw` on a new connection; the reply is complete once the server
  // closes. `done` tells whether it did.
  struct Client {
    explicit Client(asio::io_context& io) : socket(io) {}
    tcp::socket socket;
    std::string request, response;
    char buf[4096];
    bool closed = false;
  };
  std::shared_ptr<Client> Send(const std::string& raw) {
    auto c = std::make_shared<Client>(io_);
    c->request = raw;
    const tcp::endpoint to(asio::ip::make_address("127.0.0.1"), server_->port());
    c->socket.async_connect(to, [c](boost::system::error_code ec) {
      if (ec) {
        c->closed = true;
        return;
      }
      asio::async_write(c->socket, asio::buffer(c->request),
                        [c](boost::system::error_code, size_t) { ReadMore(c); });
    });
    return c;
  }
  static void ReadMore(const std::shared_ptr<Client>& c) {
    c->socket.async_read_some(asio::buffer(c->buf), [c](boost::system::error_code ec, size_t n) {
      c->response.append(c->buf, n);
      if (ec) {
        c->closed = true;
      } else {
        ReadMore(c);
      }
    });
  }

  asio::io_context io_;
  std::unique_ptr<AdminHttp> server_;
  std::vector<AdminRequest> requests_;
  bool defer_ = false;
  std::optional<AdminHttp::Respond> deferred_;
};

TEST_F(AdminHttpTest, HandsTheRequestToTheHandlerAndWritesItsAnswer) {
  StartServer();
  auto c = Send("POST /admin/backup?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n/dir");
  ASSERT_TRUE(RunUntil(io_, [&] { return c->closed; }));
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_EQ(requests_[0].method, "POST");
  EXPECT_EQ(requests_[0].target, "/admin/backup?x=1");
  EXPECT_EQ(requests_[0].body, "/dir");
  EXPECT_EQ(c->response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << c->response;
  EXPECT_NE(c->response.find("Content-Type: text/plain\r\n"), std::string::npos) << c->response;
  EXPECT_NE(c->response.find("\r\n\r\ngot /admin/backup?x=1"), std::string::npos) << c->response;
}

TEST_F(AdminHttpTest, ABodyOverTheLimitIsRefusedWithoutTheHandler) {
  StartServer();
  const std::string body(8 * 1024, 'x');
  auto c = Send("POST /admin/backup HTTP/1.1\r\nHost: a\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
  ASSERT_TRUE(RunUntil(io_, [&] { return c->closed; }));
  EXPECT_TRUE(requests_.empty());
  EXPECT_EQ(c->response.rfind("HTTP/1.1 413", 0), 0u) << c->response;
}

TEST_F(AdminHttpTest, ALaterAnswerIsWrittenAndCloseDropsThoseStillWaiting) {
  defer_ = true;
  StartServer();
  auto answered = Send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(RunUntil(io_, [&] { return deferred_.has_value(); }));
  (*deferred_)(AdminResponse{503, "text/plain", "later\n"});
  deferred_.reset();
  ASSERT_TRUE(RunUntil(io_, [&] { return answered->closed; }));
  EXPECT_EQ(answered->response.rfind("HTTP/1.1 503", 0), 0u) << answered->response;
  EXPECT_NE(answered->response.find("later\n"), std::string::npos);

  auto dropped = Send("GET /never HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(RunUntil(io_, [&] { return deferred_.has_value(); }));
  server_->Close();
  ASSERT_TRUE(RunUntil(io_, [&] { return dropped->closed; }));
  EXPECT_TRUE(dropped->response.empty()) << dropped->response;
  (*deferred_)(AdminResponse{200, "text/plain", "too late"});  // ignored, no crash
  EXPECT_TRUE(RunUntil(io_, [] { return true; }));
  EXPECT_TRUE(dropped->response.empty()) << dropped->response;
}

}  // namespace
}  // namespace trolley
