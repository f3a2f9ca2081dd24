// NodeMetrics: every metric a Node keeps, registered once in the node's
// MetricRegistry (common/metrics.h), with the one definition of each name.
//
// Readers never copy these fields: StatusReply carries the registry's
// counters as (name, value) pairs, `trolley status` prints that list, and
// the simulator's report sums them by name (metric::k* below). See
// docs/design.md, 'The node core'.
//
// Who drives it: the node's modules bump the counters, keep the in-flight
// gauges equal to the size of their maps (checked by their
// CheckInvariants()), and record coordinator latencies measured with the
// node's Clock. Threading: the node's driver thread only.
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
inline constexpr std::string_view kAaeExchanges = "aae_exchanges";
inline constexpr std::string_view kAaeExchangesClean = "aae_exchanges_clean";
inline constexpr std::string_view kAaeExchangesFailed = "aae_exchanges_failed";
inline constexpr std::string_view kAaeSegmentsDiffering = "aae_segments_differing";
inline constexpr std::string_view kAaeKeysRepaired = "aae_keys_repaired";
inline constexpr std::string_view kAaeKeysRehashed = "aae_keys_rehashed";
// The engine's hash-tree counters (storage/engine.h, AaeTreeStats), copied
// in by the anti-entropy module.
inline constexpr std::string_view kAaeTreeRebuilds = "aae_tree_rebuilds";
inline constexpr std::string_view kAaeTreeRebuiltKeys = "aae_tree_rebuilt_keys";
inline constexpr std::string_view kAaeTreeIndexFixed = "aae_tree_index_fixed";
inline constexpr std::string_view kSlowRequests = "slow_requests";
// Gauges: work in flight, one per module that tracks requests.
inline constexpr std::string_view kPutsInFlight = "puts_in_flight";
inline constexpr std::string_view kGetsInFlight = "gets_in_flight";
inline constexpr std::string_view kForwardsInFlight = "forwards_in_flight";
inline constexpr std::string_view kHintDeliveriesInFlight = "hint_deliveries_in_flight";
inline constexpr std::string_view kReplicaRequestsInFlight = "replica_requests_in_flight";
inline constexpr std::string_view kAaeExchangesInFlight = "aae_exchanges_in_flight";
// Histograms: client request latency at the coordinator, in microseconds,
// from the request's arrival to its reply (ok or not). One per operation;
// a new coordinated operation registers its own here, records it the same
// way and reports itself to ReportRequestDone (node/request_log.h) with its
// phases: the exporter and the slow-request log need nothing more.
inline constexpr std::string_view kPutLatencyUs = "put_latency_us";
inline constexpr std::string_view kGetLatencyUs = "get_latency_us";
inline constexpr std::string_view kCartUpdateLatencyUs = "cart_update_latency_us";
// Versions per read (Dynamo, section 6.3: the siblings a successful get
// returned, 0 for not found) and the bytes of a put's decided state (every
// sibling's value).
inline constexpr std::string_view kGetVersions = "get_versions";
inline constexpr std::string_view kPutObjectBytes = "put_object_bytes";
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
  Counter& aae_exchanges;
  Counter& aae_exchanges_clean;
  Counter& aae_exchanges_failed;
  Counter& aae_segments_differing;
  Counter& aae_keys_repaired;
  Counter& aae_keys_rehashed;
  Counter& aae_tree_rebuilds;
  Counter& aae_tree_rebuilt_keys;
  Counter& aae_tree_index_fixed;
  Counter& slow_requests;
  Gauge& puts_in_flight;
  Gauge& gets_in_flight;
  Gauge& forwards_in_flight;
  Gauge& hint_deliveries_in_flight;
  Gauge& replica_requests_in_flight;
  Gauge& aae_exchanges_in_flight;
  LatencyHistogram& put_latency_us;
  LatencyHistogram& get_latency_us;
  LatencyHistogram& cart_update_latency_us;
  LatencyHistogram& get_versions;
  LatencyHistogram& put_object_bytes;
};

}  // namespace trolley
