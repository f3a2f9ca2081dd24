// NodeMetrics: every metric a Node keeps, registered once in the node's
// MetricRegistry (common/metrics.h), with the one definition of each name.
//
// Readers never copy these fields: StatusReply carries the registry's
// counters as (name, value) pairs, `trolley status` prints that list, and
// the simulator's report sums them by name (metric::k* below). See
// docs/design.md, 'The node core'.
//
// Who drives it: the node's modules bump the counters and record coordinator latencies measured
// with the node's Clock. Threading: the node's driver thread only.
#pragma once

#include <string_view>

#include "common/metrics.h"

namespace trolley {

namespace metric {
// Counters: the names StatusReply, the CLI and the simulator's report use.
inline constexpr std::string_view kPutsOk = "puts_ok";
inline constexpr std::string_view kPutsFailed = "puts_failed";
inline constexpr std::string_view kGetsOk = "gets_ok";
inline constexpr std::string_view kGetsFailed = "gets_failed";
inline constexpr std::string_view kForwarded = "forwarded";
inline constexpr std::string_view kHintsStored = "hints_stored";
inline constexpr std::string_view kHintsDelivered = "hints_delivered";
inline constexpr std::string_view kHintsDropped = "hints_dropped";
inline constexpr std::string_view kReadRepairs = "read_repairs";
inline constexpr std::string_view kFallbackWrites = "fallback_writes";
// Histograms: client request latency at the coordinator, in microseconds,
// from the request's arrival to its reply (ok or not).
inline constexpr std::string_view kPutLatencyUs = "put_latency_us";
inline constexpr std::string_view kGetLatencyUs = "get_latency_us";
}  // namespace metric

struct NodeMetrics {
  explicit NodeMetrics(MetricRegistry& registry);

  Counter& puts_ok;
  Counter& puts_failed;
  Counter& gets_ok;
  Counter& gets_failed;
  Counter& forwarded;
  Counter& hints_stored;
  Counter& hints_delivered;
  Counter& hints_dropped;
  Counter& read_repairs;
  Counter& fallback_writes;
  LatencyHistogram& put_latency_us;
  LatencyHistogram& get_latency_us;
};

}  // namespace trolley
