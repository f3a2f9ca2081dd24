#include "common/host_port.h"

#include <charconv>

namespace trolley {

Result<HostPort> ParseHostPort(std::string_view text, std::string_view field) {
  const size_t colon = text.rfind(':');
  const auto bad = [&](const char* what) {
    return Status::InvalidArgument(std::string(field) + ": '" + std::string(text) + "' " + what);
  };
  if (colon == std::string_view::npos || colon == 0) {
    return bad("is not host:port (e.g. 127.0.0.1:7101)");
  }
  const std::string_view digits = text.substr(colon + 1);
  uint32_t port = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || port == 0 ||
      port > 65535) {
    return bad("has no valid port (1..65535)");
  }
  return HostPort{std::string(text.substr(0, colon)), static_cast<uint16_t>(port)};
}

}  // namespace trolley
