// Goal: MetricRegistry keeps each metric once, enumerates them in
// registration order with their kind, and reports counters as (name,
// value) lists that CounterTotals sums by name. Method: register a few
// metrics, bump them, read them back every way a reader does; death tests
// for the asserted misuse (a name twice, an invalid name, an unknown name).
#include "common/metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace trolley {
namespace {

TEST(MetricRegistryTest, CountersGaugesAndHistogramsEnumerateInRegistrationOrder) {
  MetricRegistry r;
  Counter& puts = r.AddCounter("puts_ok", "puts answered ok");
  Gauge& in_flight = r.AddGauge("puts_in_flight", "puts being coordinated");
  LatencyHistogram& latency = r.AddHistogram("put_latency_us", "put latency");
  Counter& gets = r.AddCounter("gets_ok", "gets answered ok");
  puts.Increment();
  puts.Add(2);
  gets.Increment();
  in_flight.Increment();
  in_flight.Increment();
  in_flight.Decrement();
  latency.Record(150);
  latency.Record(250);

  std::vector<std::string> names;
  std::vector<MetricKind> kinds;
  r.ForEach([&](const MetricRegistry::Entry& e) {
    names.push_back(e.name);
    kinds.push_back(e.kind);
    EXPECT_FALSE(e.help.empty());
    EXPECT_EQ((e.counter != nullptr) + (e.gauge != nullptr) + (e.histogram != nullptr), 1);
  });
  EXPECT_EQ(names,
            (std::vector<std::string>{"puts_ok", "puts_in_flight", "put_latency_us", "gets_ok"}));
  EXPECT_EQ(kinds, (std::vector<MetricKind>{MetricKind::kCounter, MetricKind::kGauge,
                                            MetricKind::kHistogram, MetricKind::kCounter}));
  EXPECT_EQ(r.size(), 4u);
  EXPECT_EQ(r.Value("puts_ok"), 3u);
  EXPECT_EQ(r.Value("gets_ok"), 1u);
  EXPECT_EQ(r.Value("puts_in_flight"), 1u);
  ASSERT_NE(r.FindHistogram("put_latency_us"), nullptr);
  EXPECT_EQ(r.FindHistogram("put_latency_us")->count(), 2u);
  EXPECT_EQ(r.FindHistogram("put_latency_us")->max(), 250u);
  EXPECT_EQ(r.FindHistogram("puts_ok"), nullptr);
  EXPECT_EQ(r.FindHistogram("nothing"), nullptr);
  EXPECT_TRUE(r.Has("gets_ok"));
  EXPECT_FALSE(r.Has("gets"));
  // Only counters travel in StatusReply.
  EXPECT_EQ(r.CounterValues(), (std::vector<NamedValue>{{"puts_ok", 3}, {"gets_ok", 1}}));
}

TEST(MetricRegistryTest, HistogramsKeepTheirUnit) {
  MetricRegistry r;
  r.AddHistogram("put_latency_us", "latency");
  r.AddHistogram("get_versions", "versions", HistogramUnit::kCount);
  r.AddHistogram("put_object_bytes", "bytes", HistogramUnit::kBytes);
  std::vector<HistogramUnit> units;
  r.ForEach([&](const MetricRegistry::Entry& e) { units.push_back(e.unit); });
  EXPECT_EQ(units, (std::vector<HistogramUnit>{HistogramUnit::kMicroseconds, HistogramUnit::kCount,
                                               HistogramUnit::kBytes}));
}

TEST(MetricRegistryTest, ReferencesStayValidAsMoreMetricsAreAdded) {
  MetricRegistry r;
  Counter& first = r.AddCounter("c0", "first");
  for (int i = 1; i < 100; ++i) r.AddCounter("c" + std::to_string(i), "more");
  first.Increment();
  EXPECT_EQ(r.Value("c0"), 1u);
  EXPECT_EQ(r.CounterValues().size(), 100u);
}

TEST(MetricRegistryDeathTest, MisuseIsAnAssertion) {
  MetricRegistry r;
  r.AddCounter("hints_stored", "x");
  EXPECT_DEATH(r.AddCounter("hints_stored", "again"), "hints_stored");
  EXPECT_DEATH(r.AddGauge("hints_stored", "same name, other kind"), "hints_stored");
  EXPECT_DEATH(r.AddCounter("Hints-Stored", "not a Prometheus name"), "Hints-Stored");
  EXPECT_DEATH(r.AddCounter("", "empty"), "ValidName");
  EXPECT_DEATH(r.Value("hint_stored"), "hint_stored");
  Gauge& g = r.AddGauge("in_flight", "x");
  EXPECT_DEATH(g.Decrement(), "value_ > 0");
}

TEST(CounterTotalsTest, SumsByNameKeepingFirstSeenOrder) {
  CounterTotals t;
  t.Add({{"a", 1}, {"b", 2}});
  t.Add({{"c", 5}, {"a", 10}});
  CounterTotals other;
  other.Add({{"b", 100}});
  t.Add(other);
  EXPECT_EQ(t.values(), (std::vector<NamedValue>{{"a", 11}, {"b", 102}, {"c", 5}}));
  EXPECT_EQ(t.Get("a"), 11u);
  EXPECT_EQ(t.Get("missing"), 0u);
  EXPECT_EQ(FindValue(t.values(), "c"), 5u);
  EXPECT_EQ(FindValue({}, "c"), 0u);
}

}  // namespace
}  // namespace trolley
