#include "node/node_metrics.h"

#include <string>

namespace trolley {
namespace {

Counter& C(MetricRegistry& r, std::string_view name, const char* help) {
  return r.AddCounter(std::string(name), help);
}
Gauge& G(MetricRegistry& r, std::string_view name, const char* help) {
  return r.AddGauge(std::string(name), help);
}

}  // namespace

NodeMetrics::NodeMetrics(MetricRegistry& r)
    : puts_ok(C(r, metric::kPutsOk, "Client puts this node coordinated that were acknowledged.")),
      puts_failed(C(r, metric::kPutsFailed,
                    "Client puts this node coordinated that failed (unavailable, local error).")),
      gets_ok(C(r, metric::kGetsOk, "Client gets this node coordinated that met R.")),
      gets_failed(C(r, metric::kGetsFailed, "Client gets this node coordinated that failed.")),
      forwarded(C(r, metric::kForwarded,
                  "Client requests forwarded to a primary of their key (each try counts).")),
      hints_stored(C(r, metric::kHintsStored, "Hints this node stored as a coordinator.")),
      hints_delivered(C(r, metric::kHintsDelivered, "Hints their owner acknowledged.")),
      hints_dropped(C(r, metric::kHintsDropped, "Hints refused (hints_max) or dropped (age).")),
      read_repairs(C(r, metric::kReadRepairs, "Replicas sent a merged state after a get.")),
      fallback_writes(C(r, metric::kFallbackWrites,
                        "Replica writes sent to a fallback standing in for a primary.")),
      aae_exchanges(C(r, metric::kAaeExchanges, "Anti-entropy exchanges this node ran.")),
      aae_exchanges_clean(C(r, metric::kAaeExchangesClean,
                            "Exchanges that compared and repaired every difference they found.")),
      aae_exchanges_failed(C(r, metric::kAaeExchangesFailed,
                             "Exchanges abandoned or cut short (timeout, error, peer down).")),
      aae_segments_differing(
          C(r, metric::kAaeSegmentsDiffering, "Tree segments found differing by exchanges.")),
      aae_keys_repaired(
          C(r, metric::kAaeKeysRepaired, "Keys anti-entropy repaired by merge (either way).")),
      aae_keys_rehashed(C(r, metric::kAaeKeysRehashed,
                          "Keys whose tree entry had drifted (expiry) and was re-hashed.")),
      aae_tree_rebuilds(C(r, metric::kAaeTreeRebuilds,
                          "Anti-entropy trees rebuilt from the per-key index (one per open).")),
      aae_tree_rebuilt_keys(
          C(r, metric::kAaeTreeRebuiltKeys, "Per-key index entries read by tree rebuilds.")),
      aae_tree_index_fixed(C(r, metric::kAaeTreeIndexFixed,
                             "Per-key index entries a verify sweep found wrong and fixed.")),
      slow_requests(C(r, metric::kSlowRequests,
                      "Client requests answered after limits.slow_request_ms (logged).")),
      puts_in_flight(G(r, metric::kPutsInFlight, "Puts being coordinated.")),
      gets_in_flight(G(r, metric::kGetsInFlight, "Gets being coordinated.")),
      forwards_in_flight(G(r, metric::kForwardsInFlight, "Forwarded requests awaiting a reply.")),
      hint_deliveries_in_flight(
          G(r, metric::kHintDeliveriesInFlight, "Hints sent to their owner, not yet answered.")),
      replica_requests_in_flight(
          G(r, metric::kReplicaRequestsInFlight, "Replica writes received and not yet answered.")),
      aae_exchanges_in_flight(
          G(r, metric::kAaeExchangesInFlight, "Anti-entropy exchanges running (0 or 1).")),
      put_latency_us(r.AddHistogram(std::string(metric::kPutLatencyUs),
                                    "Client put latency at the coordinator, microseconds.")),
      get_latency_us(r.AddHistogram(std::string(metric::kGetLatencyUs),
                                    "Client get latency at the coordinator, microseconds.")),
      cart_update_latency_us(
          r.AddHistogram(std::string(metric::kCartUpdateLatencyUs),
                         "Client cart update latency at the coordinator, microseconds.")),
      get_versions(r.AddHistogram(std::string(metric::kGetVersions),
                                  "Versions (siblings) a successful get returned.",
                                  HistogramUnit::kCount)),
      put_object_bytes(
          r.AddHistogram(std::string(metric::kPutObjectBytes),
                         "Value bytes of a write's new state (put or cart update), all siblings.",
                         HistogramUnit::kBytes)) {}

}  // namespace trolley
