#include "node/request_log.h"

#include <cstdio>

#include "common/assert.h"

namespace trolley {
namespace {

std::string Millis(uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", static_cast<double>(ns) / 1e6);
  return buf;
}

}  // namespace

std::string SlowRequestLine(const RequestSummary& summary) {
  TROLLEY_ASSERT(summary.key != nullptr);
  std::string line = "request.slow op=" + std::string(summary.op) +
                     " key=" + KeyName(*summary.key) +
                     " code=" + std::string(StatusCodeName(summary.code)) +
                     " total_ms=" + Millis(summary.total_ns);
  for (const RequestPhase& phase : summary.phases) {
    line += " " + std::string(phase.name) + "_ms=" + (phase.ns ? Millis(*phase.ns) : "pending");
  }
  if (!summary.detail.empty()) line += " detail=\"" + summary.detail + "\"";
  return line;
}

bool ReportRequestDone(NodeContext& ctx, const RequestSummary& summary) {
  const uint64_t threshold_ms = ctx.options().slow_request_ms;
  if (threshold_ms == 0 || summary.total_ns < threshold_ms * kNsPerMs) return false;
  ctx.metrics().slow_requests.Increment();
  ctx.Log(LogLevel::kWarn, SlowRequestLine(summary));
  return true;
}

}  // namespace trolley
