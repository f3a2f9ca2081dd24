// HostPort: a "host:port" network address as written in configs and flags.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace trolley {

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const { return host + ":" + std::to_string(port); }
};

// "host:port" with a numeric port 1..65535 (the host is everything before
// the last colon). InvalidArgument prefixed with `field`, the setting's name.
Result<HostPort> ParseHostPort(std::string_view text, std::string_view field);

}  // namespace trolley
