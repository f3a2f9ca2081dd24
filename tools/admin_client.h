// AdminCall: one HTTP request to a trolleyd's admin listener (admin.host,
// admin.port; node/server/admin_http.h), for `trolley admin`. Blocking,
// bounded by `timeout`; one connection per call.
#pragma once

#include <chrono>
#include <string>

#include "common/status.h"

namespace trolley {

struct AdminReply {
  unsigned status = 0;  // the HTTP status
  std::string body;
};

// `address` is host:port. An error when the node could not be reached or
// did not answer within `timeout`; any HTTP status is a reply.
Result<AdminReply> AdminCall(const std::string& address, const std::string& method,
                             const std::string& target, const std::string& body,
                             std::chrono::milliseconds timeout);

}  // namespace trolley
