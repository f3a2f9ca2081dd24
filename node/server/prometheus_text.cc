#include "node/server/prometheus_text.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <map>
#include <span>

namespace trolley {
namespace {

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::span<const uint64_t> BoundsOf(HistogramUnit unit) {
  switch (unit) {
    case HistogramUnit::kMicroseconds:
      return kLatencyBoundsUs;
    case HistogramUnit::kCount:
      return kCountBounds;
    case HistogramUnit::kBytes:
      return kBytesBounds;
  }
  return kCountBounds;
}

prometheus::ClientMetric::Histogram ToHistogram(const LatencyHistogram& h, HistogramUnit unit) {
  // Dividing (not multiplying by 1e-6) gives the double nearest the exact
  // quotient: 100 us prints as 0.0001.
  const double divisor = unit == HistogramUnit::kMicroseconds ? 1e6 : 1.0;
  prometheus::ClientMetric::Histogram out;
  out.sample_count = h.count();
  out.sample_sum = static_cast<double>(h.Sum()) / divisor;
  for (uint64_t bound : BoundsOf(unit)) {
    out.bucket.push_back({h.CountAtOrBelow(bound), static_cast<double>(bound) / divisor});
  }
  return out;
}

}  // namespace

struct PrometheusText::Families {
  std::vector<prometheus::MetricFamily> list;
  std::map<std::string, size_t> index;  // name -> position in list
};

PrometheusText::PrometheusText() : families_(std::make_unique<Families>()) {}
PrometheusText::~PrometheusText() = default;

std::string PrometheusText::ExportedName(const MetricRegistry::Entry& entry) {
  std::string name = "trolley_" + entry.name;
  if (entry.kind == MetricKind::kHistogram && entry.unit == HistogramUnit::kMicroseconds &&
      EndsWith(name, "_us")) {
    name.resize(name.size() - 3);
    name += "_seconds";
  }
  return name;
}

void PrometheusText::Add(const MetricRegistry& registry, const Labels& labels) {
  registry.ForEach([&](const MetricRegistry::Entry& e) {
    const std::string name = ExportedName(e);
    auto [it, added] = families_->index.try_emplace(name, families_->list.size());
    if (added) {
      prometheus::MetricFamily family;
      family.name = name;
      family.help = e.help;
      family.type = e.kind == MetricKind::kCounter ? prometheus::MetricType::Counter
                    : e.kind == MetricKind::kGauge ? prometheus::MetricType::Gauge
                                                   : prometheus::MetricType::Histogram;
      families_->list.push_back(std::move(family));
    }
    prometheus::ClientMetric metric;
    for (const auto& [key, value] : labels) metric.label.push_back({key, value});
    switch (e.kind) {
      case MetricKind::kCounter:
        metric.counter.value = static_cast<double>(e.counter->value());
        break;
      case MetricKind::kGauge:
        metric.gauge.value = static_cast<double>(e.gauge->value());
        break;
      case MetricKind::kHistogram:
        metric.histogram = ToHistogram(*e.histogram, e.unit);
        break;
    }
    families_->list[it->second].metric.push_back(std::move(metric));
  });
}

std::string PrometheusText::Serialize() const {
  return prometheus::TextSerializer().Serialize(families_->list);
}

}  // namespace trolley
