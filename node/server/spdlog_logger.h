// SpdlogLogger: the node core's Logger (common/logger.h) on spdlog.
#pragma once

#include <spdlog/spdlog.h>

#include "common/logger.h"

namespace trolley {

class SpdlogLogger final : public Logger {
 public:
  void Log(LogLevel level, std::string_view line) override {
    switch (level) {
      case LogLevel::kDebug:
        spdlog::debug("{}", line);
        break;
      case LogLevel::kInfo:
        spdlog::info("{}", line);
        break;
      case LogLevel::kWarn:
        spdlog::warn("{}", line);
        break;
      case LogLevel::kError:
        spdlog::error("{}", line);
        break;
    }
  }
};

}  // namespace trolley
