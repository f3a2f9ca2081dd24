#include "common/metrics.h"

#include <algorithm>

#include "common/assert.h"

namespace trolley {
namespace {

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

void Gauge::Decrement() {
  TROLLEY_ASSERT(value_ > 0);
  --value_;
}

MetricRegistry::Slot& MetricRegistry::Register(std::string name, std::string help,
                                               MetricKind kind) {
  TROLLEY_ASSERT_MSG(ValidName(name), name);
  TROLLEY_ASSERT_MSG(index_.count(name) == 0, name);
  auto slot = std::make_unique<Slot>();
  slot->entry.name = name;
  slot->entry.help = std::move(help);
  slot->entry.kind = kind;
  index_.emplace(std::move(name), entries_.size());
  entries_.push_back(std::move(slot));
  return *entries_.back();
}

Counter& MetricRegistry::AddCounter(std::string name, std::string help) {
  Slot& slot = Register(std::move(name), std::move(help), MetricKind::kCounter);
  slot.counter = std::make_unique<Counter>();
  slot.entry.counter = slot.counter.get();
  return *slot.counter;
}

Gauge& MetricRegistry::AddGauge(std::string name, std::string help) {
  Slot& slot = Register(std::move(name), std::move(help), MetricKind::kGauge);
  slot.gauge = std::make_unique<Gauge>();
  slot.entry.gauge = slot.gauge.get();
  return *slot.gauge;
}

LatencyHistogram& MetricRegistry::AddHistogram(std::string name, std::string help,
                                               HistogramUnit unit) {
  Slot& slot = Register(std::move(name), std::move(help), MetricKind::kHistogram);
  slot.entry.unit = unit;
  slot.histogram = std::make_unique<LatencyHistogram>();
  slot.entry.histogram = slot.histogram.get();
  return *slot.histogram;
}

void MetricRegistry::ForEach(const std::function<void(const Entry&)>& fn) const {
  for (const auto& slot : entries_) fn(slot->entry);
}

std::vector<NamedValue> MetricRegistry::CounterValues() const {
  std::vector<NamedValue> out;
  for (const auto& slot : entries_) {
    if (slot->counter) out.push_back(NamedValue{slot->entry.name, slot->counter->value()});
  }
  return out;
}

uint64_t MetricRegistry::Value(std::string_view name) const {
  auto it = index_.find(name);
  TROLLEY_ASSERT_MSG(it != index_.end(), name);
  const Slot& slot = *entries_[it->second];
  TROLLEY_ASSERT_MSG(slot.histogram == nullptr, name);
  return slot.counter ? slot.counter->value() : slot.gauge->value();
}

const LatencyHistogram* MetricRegistry::FindHistogram(std::string_view name) const {
  auto it = index_.find(name);
  if (it == index_.end()) return nullptr;
  return entries_[it->second]->histogram.get();
}

void CounterTotals::Add(const std::vector<NamedValue>& values) {
  for (const NamedValue& v : values) {
    auto it = std::find_if(values_.begin(), values_.end(),
                           [&](const NamedValue& have) { return have.name == v.name; });
    if (it == values_.end()) {
      values_.push_back(v);
    } else {
      it->value += v.value;
    }
  }
}

uint64_t CounterTotals::Get(std::string_view name) const { return FindValue(values_, name); }

uint64_t FindValue(const std::vector<NamedValue>& values, std::string_view name) {
  for (const NamedValue& v : values) {
    if (v.name == name) return v.value;
  }
  return 0;
}

}  // namespace trolley
