// Goal: the admin listener of a real trolleyd serves what a monitoring
// system scrapes, and the figures move with the load: /healthz and /readyz
// answer (and /readyz turns 503 when fewer than W nodes are up), and
// /metrics, scraped with curl during a load, shows the versions-per-read
// histogram filling with reads of several versions and the hint gauge
// rising while a replica is down and falling back to 0 once it is back.
// Method: 3 trolleyd processes (N=3 R=2 W=2, sync) with admin ports; n3 is
// SIGKILLed; a writer thread makes blind puts (no context: each adds a
// sibling) to keys that n1 coordinates and n3 replicates, and a reader
// thread gets them through n1, while the test scrapes n1's /metrics with
// curl. Then n3 restarts and hint delivery must empty n1's hints.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ring/preference_list.h"
#include "ring/ring.h"
#include "tests/integration/cluster_harness.h"

namespace trolley::integration {
namespace {

std::string Url(const Cluster& cluster, int i, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(cluster.admin_port(i)) + path;
}

// One scrape of node i's /metrics; fails the test on anything but a 200.
std::string Scrape(const Cluster& cluster, int i) {
  auto reply = Curl(Url(cluster, i, "/metrics"));
  EXPECT_TRUE(reply.ok()) << reply.status().ToString();
  if (!reply.ok()) return "";
  EXPECT_EQ(reply->http_status, 200) << reply->body;
  return reply->body;
}

double Value(const std::string& text, const std::string& name) {
  auto v = MetricValue(text, name);
  EXPECT_TRUE(v.has_value()) << name << " is not in the scrape:\n" << text.substr(0, 3000);
  return v.value_or(-1);
}

// Keys whose preference list (N=3 of 3 nodes: every node) starts with n1,
// so that n1 coordinates them without forwarding.
std::vector<std::string> KeysCoordinatedByN1(int count) {
  auto ring = Ring::Build({NodeId{"n1"}, NodeId{"n2"}, NodeId{"n3"}}, 64).value();
  std::vector<std::string> out;
  for (int i = 0; static_cast<int>(out.size()) < count; ++i) {
    const std::string key = "cart-" + std::to_string(i);
    if (PreferenceListForKey(ring, "carts", key, 3).primaries.front().name == "n1") {
      out.push_back(key);
    }
  }
  return out;
}

// /healthz and /readyz answer 200 on a healthy cluster; other paths 404.
void ExpectHealthRoutesAnswer(const Cluster& cluster) {
  auto health = Curl(Url(cluster, 0, "/healthz"));
  ASSERT_TRUE(health.ok()) << health.status().ToString();
  EXPECT_EQ(health->http_status, 200);
  EXPECT_EQ(health->body, "ok\n");
  auto ready = Curl(Url(cluster, 0, "/readyz"));
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->http_status, 200) << ready->body;
  auto missing = Curl(Url(cluster, 0, "/nope"));
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->http_status, 404);
}

// Every metric docs/grafana-dashboard.json queries is in `loaded` (a
// scrape): the dashboard cannot drift from what trolleyd serves.
void ExpectEveryDashboardMetricServed(const std::string& loaded) {
  std::ifstream dashboard_file(std::string(TROLLEY_SOURCE_DIR) + "/docs/grafana-dashboard.json");
  ASSERT_TRUE(dashboard_file.good());
  std::stringstream dashboard;
  dashboard << dashboard_file.rdbuf();
  const std::string text = dashboard.str();
  const std::regex name_re("trolley_[a-z_]+");
  std::set<std::string> queried;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), name_re);
       it != std::sregex_iterator(); ++it) {
    queried.insert(std::regex_replace(it->str(), std::regex("_(bucket|sum|count)$"), ""));
  }
  EXPECT_GE(queried.size(), 20u);
  for (const std::string& name : queried) {
    EXPECT_NE(loaded.find("# TYPE " + name + " "), std::string::npos)
        << "docs/grafana-dashboard.json queries " << name << ", which trolleyd does not serve";
  }
}

// With n2 and n3 down, W=2 cannot be met: n1's /readyz turns 503 and says
// why.
void ExpectNotReadyWithTwoNodesDown(Cluster& cluster, const std::string& key) {
  cluster.Kill(1);
  cluster.Kill(2);
  std::string why;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto conn = cluster.Connect(0);  // a write makes n1 notice
        if (conn.ok()) (void)Put(**conn, key, "probe");
        auto r = Curl(Url(cluster, 0, "/readyz"));
        why = r.ok() ? r->body : r.status().ToString();
        return r.ok() && r->http_status == 503;
      },
      30s, 200ms))
      << why;
  EXPECT_NE(why.find("needs w=2"), std::string::npos) << why;
}

TEST(MetricsTest, ScrapedDuringALoadVersionsPerReadAndHintGaugesMove) {
  ClusterOptions options;
  options.admin = true;
  Cluster cluster(options);
  ASSERT_TRUE(cluster.Start().ok());

  ExpectHealthRoutesAnswer(cluster);

  const std::string before = Scrape(cluster, 0);
  EXPECT_EQ(Value(before, "trolley_get_versions_count"), 0);
  EXPECT_EQ(Value(before, "trolley_hints_pending"), 0);
  EXPECT_GE(Value(before, "trolley_lmdb_map_bytes{env=\"sync\"}"), 1 << 20);

  cluster.Kill(2);  // n3: n1 keeps hints for it
  const std::vector<std::string> keys = KeysCoordinatedByN1(10);
  std::atomic<bool> stop{false};
  std::atomic<int> puts_ok{0}, gets_ok{0};
  std::thread writer([&] {
    auto conn = cluster.Connect(0);
    ASSERT_TRUE(conn.ok());
    for (int round = 0; round < 8 && !stop; ++round) {
      for (const std::string& key : keys) {
        if (Put(**conn, key, key + "-v" + std::to_string(round)).ok()) ++puts_ok;
      }
    }
  });
  std::thread reader([&] {
    auto conn = cluster.Connect(0);
    ASSERT_TRUE(conn.ok());
    while (!stop) {
      for (const std::string& key : keys) {
        if (Get(**conn, key).ok()) ++gets_ok;
      }
    }
  });

  // Scrape while the load runs, until reads of several versions and
  // pending hints both show (bounded).
  std::string during;
  double versions_count = 0, multi_version_reads = 0, hints_pending = 0;
  EXPECT_TRUE(WaitFor(
      [&] {
        during = Scrape(cluster, 0);
        versions_count = Value(during, "trolley_get_versions_count");
        multi_version_reads =
            versions_count - Value(during, "trolley_get_versions_bucket{le=\"1\"}");
        hints_pending = Value(during, "trolley_hints_pending");
        return multi_version_reads > 0 && hints_pending > 0;
      },
      30s, 100ms))
      << "versions count " << versions_count << ", reads of 2+ versions " << multi_version_reads
      << ", hints pending " << hints_pending;
  writer.join();
  stop = true;
  reader.join();
  EXPECT_GT(puts_ok.load(), 0);
  EXPECT_GT(gets_ok.load(), 0);

  const std::string loaded = Scrape(cluster, 0);
  EXPECT_GT(Value(loaded, "trolley_get_versions_count"), versions_count - 1);
  EXPECT_GT(Value(loaded, "trolley_get_versions_sum"), Value(loaded, "trolley_get_versions_count"))
      << "blind puts make siblings: the average read sees more than one version";
  EXPECT_GT(Value(loaded, "trolley_hints_stored"), 0);
  EXPECT_GT(Value(loaded, "trolley_put_latency_seconds_count"), 0);
  EXPECT_GT(Value(loaded, "trolley_put_object_bytes_count"), 0);
  EXPECT_GT(Value(loaded, "trolley_lmdb_commits{env=\"sync\"}"), 0);
  EXPECT_GT(Value(loaded, "trolley_lmdb_fsync_seconds_count{env=\"sync\"}"), 0);
  EXPECT_GT(Value(loaded, "trolley_lmdb_map_used_bytes{env=\"sync\"}"), 0);

  ExpectEveryDashboardMetricServed(loaded);

  // n3 back: hint delivery empties n1's hints, and the gauge follows.
  ASSERT_TRUE(cluster.Restart(2).ok());
  double pending_after = -1;
  EXPECT_TRUE(WaitFor(
      [&] {
        const std::string scrape = Scrape(cluster, 0);
        pending_after = Value(scrape, "trolley_hints_pending");
        return pending_after == 0 && Value(scrape, "trolley_hints_delivered") > 0;
      },
      30s, 100ms))
      << "hints pending " << pending_after;

  ExpectNotReadyWithTwoNodesDown(cluster, keys[0]);
}

}  // namespace
}  // namespace trolley::integration
