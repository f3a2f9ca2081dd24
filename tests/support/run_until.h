// RunUntil: drives an io_context on the test's thread until a condition
// holds, for tests of Asio code over loopback sockets. Header-only (a
// template), so trolley_test_support stays free of Boost.
#pragma once

#include <chrono>

#include "common/asio.h"

namespace trolley::test_support {

// Runs `io` one handler at a time until `done()` or `limit` passes; false
// on the timeout.
template <typename Done>
bool RunUntil(asio::io_context& io, Done done,
              std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  io.restart();
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.run_one_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace trolley::test_support
