// Goal: measure how fast active anti-entropy rebuilds a node that lost its
// disk (docs/design.md, 'Active anti-entropy'; the figure is recorded in
// docs/benchmarks.md). A measurement, not a check of speed: it fails only
// if the node does not hold every cart again within the time limit.
// Method: 3 real trolleyd processes, N=3 R=2 W=2, namespace carts (or-set,
// flush, to load fast). TROLLEY_REBUILD_CARTS carts (default 100,000), one
// line each, written by 8 threads through the cart client; then n3 is
// SIGKILLed, its data dir deleted, and n3 restarted empty. From the moment
// it answers again the test polls, every second, the nodes' counters of
// keys repaired; once they add up to the carts, it reads n3's own copy of
// every cart still missing (ReplicaGet: no quorum, no read repair), again
// every second until none is. The rebuild took between the moment the
// counters first showed enough repairs and the end of the pass that found
// nothing missing (both printed; the reads of that pass are the gap);
// keys/s is carts / the later one. TROLLEY_REBUILD_AAE, if set, is appended to the nodes'
// config (e.g. "[aae]\nkeys_per_second = 20000\n"; default: the node's
// default throttles). Labelled slow: minutes, not seconds.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "cart/cart_state.h"
#include "client/cart_client.h"
#include "tests/integration/cluster_harness.h"

namespace trolley::integration {
namespace {

constexpr int kWriters = 8;

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v == nullptr ? fallback : std::string(v);
}

std::string CartId(int i) { return "rebuild-" + std::to_string(i); }

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Whether n3's own copy of cart `i` holds its line.
bool HeldOn(NodeConnection& conn, int i) {
  auto reply = ReadReplica(conn, CartId(i));
  if (!reply.ok()) return false;
  for (const Sibling& s : reply->state.siblings()) {
    if (s.tombstone) continue;
    auto cart = CartState::Decode(s.value, CartSemantics::kOrSet);
    if (cart.ok() && cart->lines().contains("sku-" + std::to_string(i))) return true;
  }
  return false;
}

// Writes carts [0, count) with kWriters threads; the number acknowledged.
int LoadCarts(Cluster& cluster, int count) {
  ClientOptions options;
  for (int i = 0; i < cluster.size(); ++i) options.seeds.push_back(cluster.address(i));
  options.timeout = std::chrono::milliseconds(5000);
  std::atomic<int> next{0}, acked{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&] {
      auto client = BlockingCartClient::Create(options);
      if (!client.ok()) return;
      for (int i = next++; i < count; i = next++) {
        if ((*client)->Add("carts", CartId(i), "sku-" + std::to_string(i), 1).ok()) ++acked;
      }
    });
  }
  for (std::thread& t : writers) t.join();
  return acked.load();
}

TEST(AaeRebuildTest, WipedNodeRebuildRate) {
  const int carts = std::stoi(EnvOr("TROLLEY_REBUILD_CARTS", "100000"));
  const std::string aae_config = EnvOr("TROLLEY_REBUILD_AAE", "");
  const auto limit = std::chrono::seconds(std::stoi(EnvOr("TROLLEY_REBUILD_LIMIT_S", "480")));
  ClusterOptions options;
  options.namespaces = {"carts:n=3,r=2,w=2,durability=flush,merge=or-set"};
  options.config_tail = aae_config;
  Cluster cluster(options);
  ASSERT_TRUE(cluster.Start().ok());

  const auto load_start = std::chrono::steady_clock::now();
  const int acked = LoadCarts(cluster, carts);
  const double load_s = SecondsSince(load_start);
  ASSERT_EQ(acked, carts) << "every cart must be acknowledged before the wipe";

  cluster.Kill(2);
  std::error_code ec;
  std::filesystem::remove_all(cluster.data_dir(2), ec);
  ASSERT_FALSE(ec) << ec.message();
  const uint64_t repaired_before = SumCounter(cluster, "aae_keys_repaired");
  ASSERT_TRUE(cluster.Restart(2).ok()) << cluster.LogTail(2);
  const auto start = std::chrono::steady_clock::now();

  auto n3 = cluster.Connect(2);
  ASSERT_TRUE(n3.ok()) << n3.status().ToString();
  std::vector<int> missing(carts);
  for (int i = 0; i < carts; ++i) missing[i] = i;
  double counters_s = -1;  // when the repairs first added up
  double next_report_s = 10;
  while (!missing.empty() && std::chrono::steady_clock::now() - start < limit) {
    const uint64_t repaired = SumCounter(cluster, "aae_keys_repaired") - repaired_before;
    if (repaired >= static_cast<uint64_t>(carts)) {
      if (counters_s < 0) counters_s = SecondsSince(start);
      std::vector<int> still;
      for (int i : missing) {
        if (!HeldOn(**n3, i)) still.push_back(i);
      }
      missing = std::move(still);
    }
    if (SecondsSince(start) >= next_report_s) {
      std::printf("[aae rebuild] %.0f s: %llu keys repaired since the wipe\n", SecondsSince(start),
                  static_cast<unsigned long long>(repaired));
      std::fflush(stdout);
      next_report_s += 10;
    }
    if (!missing.empty()) std::this_thread::sleep_for(1s);
  }
  const double rebuild_s = SecondsSince(start);
  const uint64_t repaired = SumCounter(cluster, "aae_keys_repaired") - repaired_before;
  std::printf(
      "[aae rebuild] carts=%d loaded in %.1f s (%.0f/s); n3 wiped and restarted; repairs added "
      "up after %.1f s, every cart read back on n3 after %.1f s: %.0f keys/s of rebuild "
      "(aae_keys_repaired over the nodes: %llu; missing at the end: %zu; aae config: %s)\n",
      carts, load_s, carts / load_s, counters_s, rebuild_s, carts / rebuild_s,
      static_cast<unsigned long long>(repaired), missing.size(),
      aae_config.empty() ? "defaults" : aae_config.c_str());
  EXPECT_TRUE(missing.empty()) << missing.size() << " carts missing on n3 after " << rebuild_s
                               << " s\n"
                               << cluster.AllLogTails();
}

}  // namespace
}  // namespace trolley::integration
