// The one include of Boost.Asio's SSL layer (asio::ssl over OpenSSL), after
// common/asio.h so that Boost 1.74's <utility> fix applies to it too. Only
// wire/asio/ and code that links trolley_wire_asio (which links
// OpenSSL::SSL) include it.
#pragma once

// clang-format off
#include "common/asio.h"
#include <boost/asio/ssl.hpp>
// clang-format on
