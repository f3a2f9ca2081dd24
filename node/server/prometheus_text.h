// PrometheusText: MetricRegistry (common/metrics.h) contents in Prometheus'
// text exposition format 0.0.4, serialized by prometheus-cpp's
// TextSerializer (prometheus-cpp-core: the escaping and number formatting
// of the format are its, not ours).
//
// Names: every metric is exported as "trolley_" + its registry name; a
// histogram in microseconds ("put_latency_us") becomes seconds, Prometheus'
// base unit ("trolley_put_latency_seconds"). Histograms get fixed cumulative
// buckets per unit (kLatencyBoundsUs, kCountBounds, kBytesBounds), counted
// from the registry's log-linear histogram (LatencyHistogram::CountAtOrBelow:
// exact below 256, within 0.79% above); `_sum` and `_count` are exact.
// Registries added with labels (one per LMDB environment: env="sync") join
// the families of the same name, in the order first added.
//
// Who drives it: the admin listener's /metrics handler builds one per
// scrape on the event-loop thread. Not thread-safe.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/metrics.h"

namespace trolley {

inline constexpr uint64_t kLatencyBoundsUs[] = {100,     250,     500,       1'000,     2'500,
                                                5'000,   10'000,  25'000,    50'000,    100'000,
                                                250'000, 500'000, 1'000'000, 2'500'000, 10'000'000};
inline constexpr uint64_t kCountBounds[] = {0,  1,  2,   3,   4,   5,    8,   16,
                                            32, 64, 128, 256, 512, 1024, 2048};
inline constexpr uint64_t kBytesBounds[] = {64,       256,       1 << 10, 4 << 10, 16 << 10,
                                            64 << 10, 256 << 10, 1 << 20, 4 << 20, 8 << 20};

class PrometheusText {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  PrometheusText();
  ~PrometheusText();
  PrometheusText(const PrometheusText&) = delete;
  PrometheusText& operator=(const PrometheusText&) = delete;

  // Every metric of `registry`, each sample carrying `labels`.
  void Add(const MetricRegistry& registry, const Labels& labels = {});
  // The exposition text of everything added.
  std::string Serialize() const;

  // The exported name of a registry metric ("put_latency_us" ->
  // "trolley_put_latency_seconds").
  static std::string ExportedName(const MetricRegistry::Entry& entry);

 private:
  struct Families;
  std::unique_ptr<Families> families_;
};

}  // namespace trolley
