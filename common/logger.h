// Logger: how core code reports events without linking a logging library.
//
// Lines are an event name first, then key=value fields, e.g.
// "hint.dropped target=n3 key=carts/u1 reason=age". Logging never affects a
// decision. The runtime forwards to spdlog; tests and the simulator may
// capture or discard.
#pragma once

#include <string>
#include <string_view>

namespace trolley {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

class Logger {
 public:
  virtual ~Logger() = default;
  virtual void Log(LogLevel level, std::string_view line) = 0;
};

// Discards everything.
class NullLogger final : public Logger {
 public:
  void Log(LogLevel, std::string_view) override {}
};

}  // namespace trolley
