// Goal: PrometheusText exports a MetricRegistry in the text exposition
// format: "trolley_" names, TYPE and HELP lines, counters and gauges with
// their values, histograms with cumulative buckets per unit (microseconds
// exported as seconds), _sum and _count, and labelled registries merged
// into one family. Method: a registry with one metric of each kind and
// known samples; the serialized text must hold the exact lines.
#include "node/server/prometheus_text.h"

#include <gtest/gtest.h>

#include <string>

namespace trolley {
namespace {

bool HasLine(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(PrometheusTextTest, EveryKindWithItsTypeHelpAndSamples) {
  MetricRegistry r;
  r.AddCounter("puts_ok", "Puts acknowledged.").Add(7);
  r.AddGauge("hints_pending", "Hints held.").Set(3);
  LatencyHistogram& latency = r.AddHistogram("put_latency_us", "Put latency, microseconds.");
  latency.Record(200);      // 0.0002 s
  latency.Record(3'000);    // 0.003 s
  latency.Record(700'000);  // 0.7 s
  LatencyHistogram& versions = r.AddHistogram("get_versions", "Versions.", HistogramUnit::kCount);
  versions.Record(1);
  versions.Record(1);
  versions.Record(2);
  PrometheusText exporter;
  exporter.Add(r);
  const std::string text = exporter.Serialize();

  EXPECT_TRUE(HasLine(text, "# HELP trolley_puts_ok Puts acknowledged.")) << text;
  EXPECT_TRUE(HasLine(text, "# TYPE trolley_puts_ok counter")) << text;
  EXPECT_TRUE(HasLine(text, "trolley_puts_ok 7")) << text;
  EXPECT_TRUE(HasLine(text, "# TYPE trolley_hints_pending gauge")) << text;
  EXPECT_TRUE(HasLine(text, "trolley_hints_pending 3")) << text;
  EXPECT_TRUE(HasLine(text, "# TYPE trolley_put_latency_seconds histogram")) << text;
  EXPECT_TRUE(HasLine(text, "trolley_put_latency_seconds_count 3")) << text;
  EXPECT_TRUE(HasLine(text, "trolley_put_latency_seconds_sum 0.7032")) << text;
  EXPECT_TRUE(HasLine(text, "trolley_put_latency_seconds_bucket{le=\"0.0001\"} 0")) << text;
  EXPECT_TRUE(HasLine(text, "trolley_put_latency_seconds_bucket{le=\"0.00025\"} 1")) << text;
  EXPECT_TRUE(HasLine(text, "trolley_put_latency_seconds_bucket{le=\"0.0025\"} 1")) << text;
  EXPECT_TRUE(HasLine(text, "trolley_put_latency_seconds_bucket{le=\"0.005\"} 2")) << text;
  EXPECT_TRUE(HasLine(text, "trolley_put_latency_seconds_bucket{le=\"0.5\"} 2")) << text;
  EXPECT_TRUE(HasLine(text, "trolley_put_latency_seconds_bucket{le=\"1\"} 3")) << text;
  EXPECT_TRUE(HasLine(text, "trolley_put_latency_seconds_bucket{le=\"+Inf\"} 3")) << text;
  EXPECT_TRUE(HasLine(text, "trolley_get_versions_bucket{le=\"0\"} 0")) << text;
  EXPECT_TRUE(HasLine(text, "trolley_get_versions_bucket{le=\"1\"} 2")) << text;
  EXPECT_TRUE(HasLine(text, "trolley_get_versions_bucket{le=\"2\"} 3")) << text;
  EXPECT_TRUE(HasLine(text, "trolley_get_versions_sum 4")) << text;
}

TEST(PrometheusTextTest, LabelledRegistriesShareOneFamily) {
  MetricRegistry sync, flush;
  sync.AddGauge("lmdb_map_bytes", "Map size.").Set(1024);
  flush.AddGauge("lmdb_map_bytes", "Map size.").Set(2048);
  PrometheusText exporter;
  exporter.Add(sync, {{"env", "sync"}});
  exporter.Add(flush, {{"env", "flush"}});
  const std::string text = exporter.Serialize();
  EXPECT_TRUE(HasLine(text, "trolley_lmdb_map_bytes{env=\"sync\"} 1024")) << text;
  EXPECT_TRUE(HasLine(text, "trolley_lmdb_map_bytes{env=\"flush\"} 2048")) << text;
  size_t types = 0;
  for (size_t at = text.find("# TYPE trolley_lmdb_map_bytes"); at != std::string::npos;
       at = text.find("# TYPE trolley_lmdb_map_bytes", at + 1)) {
    ++types;
  }
  EXPECT_EQ(types, 1u) << text;
}

}  // namespace
}  // namespace trolley
