// MetricRegistry: the one place a process keeps its named counters, gauges
// and latency histograms, so that every reader (StatusReply, the CLI, the
// simulator's report, the Prometheus exporter) enumerates the same
// list instead of copying fields one by one.
//
// Who drives it: the owner (a Node) registers every metric once, at
// construction, and keeps the returned references; its modules bump them
// as things happen. Readers enumerate with ForEach() or look one up by
// name. Pure: no clock, no I/O; a histogram records whatever duration its
// caller measured with its own Clock.
//
// Threading: none. One thread registers, updates and reads (the node's
// driver thread).
//
// Invariants:
//   1. A name is registered once, whatever its kind (asserted).
//   2. Names are [a-z0-9_]+ (asserted): valid Prometheus metric names.
//   3. References returned by Add*() stay valid for the registry's life.
//   4. Counters only go up (Counter has no way down).
//   5. Enumeration order is registration order: deterministic, so the
//      simulator's output and StatusReply never depend on a hash order.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/histogram.h"

namespace trolley {

// A monotonic count of events since the registry was made.
class Counter {
 public:
  void Increment() { ++value_; }
  void Add(uint64_t n) { value_ += n; }
  uint64_t value() const { return value_; }

 private:
  uint64_t value_ = 0;
};

// A value that goes up and down (things in flight).
class Gauge {
 public:
  void Increment() { ++value_; }
  void Decrement();  // asserts it does not go below zero
  void Set(uint64_t v) { value_ = v; }
  uint64_t value() const { return value_; }

 private:
  uint64_t value_ = 0;
};

enum class MetricKind { kCounter, kGauge, kHistogram };

// What a histogram's values count: an exporter picks bucket bounds (and
// Prometheus' base unit, seconds or bytes) by it.
enum class HistogramUnit { kMicroseconds, kCount, kBytes };

// One counter's or gauge's value by name, as StatusReply carries it.
struct NamedValue {
  std::string name;
  uint64_t value = 0;
  friend bool operator==(const NamedValue&, const NamedValue&) = default;
};

class MetricRegistry {
 public:
  MetricRegistry() = default;
  MetricRegistry(const MetricRegistry&) = delete;
  MetricRegistry& operator=(const MetricRegistry&) = delete;

  // `help` is one sentence for humans (and Prometheus' # HELP line).
  Counter& AddCounter(std::string name, std::string help);
  Gauge& AddGauge(std::string name, std::string help);
  // Latencies in microseconds, unless `unit` says otherwise (the class is
  // a log-linear histogram of any unsigned values).
  LatencyHistogram& AddHistogram(std::string name, std::string help,
                                 HistogramUnit unit = HistogramUnit::kMicroseconds);

  // One registered metric, for enumeration. Exactly one of the pointers is
  // set, matching kind.
  struct Entry {
    std::string name;
    std::string help;
    MetricKind kind = MetricKind::kCounter;
    HistogramUnit unit = HistogramUnit::kMicroseconds;  // histograms only
    const Counter* counter = nullptr;
    const Gauge* gauge = nullptr;
    const LatencyHistogram* histogram = nullptr;
  };
  // Every metric, in registration order.
  void ForEach(const std::function<void(const Entry&)>& fn) const;
  size_t size() const { return entries_.size(); }

  // Counters (not gauges or histograms) as (name, value), in registration
  // order: what StatusReply carries.
  std::vector<NamedValue> CounterValues() const;
  // A counter's or gauge's value. The name must exist (asserted), so a
  // typo in a reader fails loudly instead of reading 0.
  uint64_t Value(std::string_view name) const;
  bool Has(std::string_view name) const { return index_.count(name) != 0; }
  // nullptr if there is no histogram of that name.
  const LatencyHistogram* FindHistogram(std::string_view name) const;

 private:
  struct Slot {
    Entry entry;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<LatencyHistogram> histogram;
  };
  Slot& Register(std::string name, std::string help, MetricKind kind);

  std::vector<std::unique_ptr<Slot>> entries_;
  std::map<std::string, size_t, std::less<>> index_;
};

// Sums of counters by name over many registries (the simulator adds every
// node and every life of it). Keeps first-seen order.
class CounterTotals {
 public:
  void Add(const std::vector<NamedValue>& values);
  void Add(const CounterTotals& other) { Add(other.values_); }
  // 0 for a name never added.
  uint64_t Get(std::string_view name) const;
  const std::vector<NamedValue>& values() const { return values_; }

 private:
  std::vector<NamedValue> values_;
};

// The value of `name` in a list; 0 if absent (an older node that did not
// count it).
uint64_t FindValue(const std::vector<NamedValue>& values, std::string_view name);

}  // namespace trolley
