// The one include of Boost.Asio. Boost 1.74's awaitable.hpp uses
// std::exchange without including <utility>, which g++ 12 in C++20 mode
// rejects; including it first here fixes that everywhere.
#pragma once

// clang-format off
#include <utility>
#include <boost/asio.hpp>
// clang-format on

namespace trolley {
namespace asio = boost::asio;
}  // namespace trolley
