#include "tools/admin_client.h"

// clang-format off
#include "common/asio.h"
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
// clang-format on

#include "common/host_port.h"

namespace trolley {
namespace beast = boost::beast;
namespace http = beast::http;

Result<AdminReply> AdminCall(const std::string& address, const std::string& method,
                             const std::string& target, const std::string& body,
                             std::chrono::milliseconds timeout) {
  auto hp = ParseHostPort(address, "--admin");
  if (!hp.ok()) return hp.status();
  asio::io_context io;
  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  http::request<http::string_body> request{http::string_to_verb(method), target, 11};
  request.set(http::field::host, hp->host);
  request.set(http::field::content_type, "text/plain");
  request.body() = body;
  request.prepare_payload();
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  beast::error_code failure;
  const std::string stage_connect = "connect to", stage_write = "send to", stage_read = "read from";
  const std::string* stage = &stage_connect;

  asio::ip::tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(hp->host, std::to_string(hp->port), failure);
  if (failure) {
    return Status::Unavailable("cannot resolve " + address + ": " + failure.message());
  }
  stream.expires_after(timeout);
  stream.async_connect(endpoints, [&](beast::error_code connect_ec, auto) {
    if (connect_ec) {
      failure = connect_ec;
      return;
    }
    stage = &stage_write;
    http::async_write(stream, request, [&](beast::error_code write_ec, size_t) {
      if (write_ec) {
        failure = write_ec;
        return;
      }
      stage = &stage_read;
      http::async_read(stream, buffer, parser,
                       [&](beast::error_code read_ec, size_t) { failure = read_ec; });
    });
  });
  io.run();
  if (failure) {
    return Status::Unavailable("cannot " + *stage + " the admin listener at " + address + ": " +
                               failure.message() + " (is admin.port set on that node?)");
  }
  return AdminReply{parser.get().result_int(), parser.get().body()};
}

}  // namespace trolley
