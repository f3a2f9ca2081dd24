// AdminHttp: trolleyd's admin listener, a small HTTP/1.1 server (Boost.Beast)
// on the node's event loop, for monitoring and operators (docs/operations.md,
// 'Metrics, health checks and backups'). It knows no route itself: Server
// gives it a handler per request and answers with what the handler returns.
//
// Who drives it: Server::Impl starts it when admin.port is set and closes it
// at shutdown. Threading: the event-loop thread only; a handler may answer
// later (a backup runs on another thread and posts its answer back to the
// loop), through the Respond callback, exactly once.
//
// Untrusted input: request head at most 8 KiB and body at most 4 KiB (else
// 413 and close); a request must arrive within 10 s of the connection (else
// it is closed); at most kConnectionsMax connections at once (more are
// closed at accept). One request per connection (Connection: close).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/asio.h"
#include "common/status.h"

namespace trolley {

struct AdminRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // "/metrics"
  std::string body;
};

struct AdminResponse {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class AdminHttp {
 public:
  static constexpr size_t kConnectionsMax = 16;
  using Respond = std::function<void(AdminResponse)>;
  using Handler = std::function<void(const AdminRequest&, Respond)>;

  // Binds `host` (an IP address) and `port` (0 picks a free one: port()
  // tells which) and starts accepting.
  static Result<std::unique_ptr<AdminHttp>> Start(asio::io_context& io, const std::string& host,
                                                  uint16_t port, Handler handler);
  ~AdminHttp();
  AdminHttp(const AdminHttp&) = delete;
  AdminHttp& operator=(const AdminHttp&) = delete;

  // Stops accepting and closes every connection (answers not yet sent are
  // dropped).
  void Close();
  uint16_t port() const;

  class Session;

 private:
  AdminHttp(asio::io_context& io, Handler handler);
  void Accept();

  asio::ip::tcp::acceptor acceptor_;
  Handler handler_;
  std::map<uint64_t, std::shared_ptr<Session>> sessions_;
  uint64_t last_session_ = 0;
  bool closed_ = false;
};

}  // namespace trolley
