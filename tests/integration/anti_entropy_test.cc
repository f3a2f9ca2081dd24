// Goal: active anti-entropy brings a replica that missed writes up to date
// without any read of the keys (docs/design.md, 'Active anti-entropy'):
// the writes' hints are dropped (limits.hints_max = 0), so neither hint
// delivery nor read repair can be what delivers them.
// Method: 3 real trolleyd processes, N=3 R=2 W=2 (sync), exchanges every
// 20 ms, abandoned after 2 s (a request sent while a link still connects
// can be lost; the 60 s default would stall n3's rounds past the bound). n3 is stopped while 20
// keys are written through n1 (acknowledged by n1 and n2), then restarted. The test polls only the
// nodes' counters (StatusRequest), never a key, until they report at least 20 keys repaired and n3
// has run two rounds of clean exchanges (2 x 64 partitions x 2 peers; a clean one leaves nothing
// differing with that peer; bounded: 25 s). Then n1 and n2 are killed and every key is read with
// R=1 from n3 alone: each must hold its value. Before that, `trolley aae`
// and the StatusReply it reads must show n3's state per partition and peer:
// every pair exchanged cleanly, and the pairs' repairs add up.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "tests/integration/cluster_harness.h"

namespace trolley::integration {
namespace {

constexpr int kKeys = 20;
constexpr auto kCallTimeout = 3000ms;

// n3's StatusReply and `trolley aae` after its repair (see the goal above).
void CheckAaeStatusOfN3(Cluster& cluster, uint64_t keys_repaired_min) {
  uint64_t repaired_by_pairs = 0;
  for (int i = 0; i < cluster.size(); ++i) {
    auto conn = cluster.Connect(i);
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    auto st = GetStatus(**conn);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    // N = 3 on 3 nodes: every partition, with both other nodes.
    EXPECT_EQ(st->aae_pairs.size(), cluster.options().partitions * 2u);
    EXPECT_EQ(st->aae_pairs_total, st->aae_pairs.size());
    for (const AaePairStatus& p : st->aae_pairs) {
      repaired_by_pairs += p.keys_repaired;
      if (i == 2) {
        EXPECT_GT(p.last_clean_exchange_ms, 0u) << p.partition << " " << p.peer;
      }
    }
  }
  EXPECT_GE(repaired_by_pairs, keys_repaired_min);

  const CommandRun cli = RunCommand("'" TROLLEY_CLI_PATH "' --node " + cluster.address(2) + " aae");
  EXPECT_EQ(cli.exit_code, 0) << cli.output;
  const std::regex n3_pair(R"(^n3 +\d+ +n[12] +[0-9.]+s ago +[0-9.]+s ago +\d+ +\d+ +\d+$)");
  std::istringstream lines(cli.output);
  size_t n3_pairs = 0;
  for (std::string line; std::getline(lines, line);) n3_pairs += std::regex_match(line, n3_pair);
  EXPECT_EQ(n3_pairs, cluster.options().partitions * 2u) << cli.output;
}

TEST(AntiEntropyTest, DroppedHintsAreRepairedWithoutAnyRead) {
  ClusterOptions options;
  options.namespaces = {"kv:n=3,r=2,w=2,durability=sync"};
  options.config_tail = "hints_max = 0\n[aae]\ninterval_ms = 20\nexchange_timeout_ms = 2000\n";
  Cluster cluster(options);
  ASSERT_TRUE(cluster.Start().ok());
  ASSERT_TRUE(cluster.Stop(2).ok());

  auto n1 = cluster.Connect(0);
  ASSERT_TRUE(n1.ok()) << n1.status().ToString();
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) {
    keys.push_back("missed-" + std::to_string(i));
    ClientPut put{.id = RequestId{static_cast<uint64_t>(i + 1)},
                  .ns = "kv",
                  .key = keys.back(),
                  .value = "v" + std::to_string(i)};
    // Retried: just after the start a link may still be connecting.
    ASSERT_TRUE(WaitFor(
        [&] {
          auto reply = (*n1)->Call(put, kCallTimeout);
          const auto* p = reply.ok() ? std::get_if<ClientPutReply>(&*reply) : nullptr;
          return p != nullptr && p->code == StatusCode::kOk;
        },
        15s))
        << keys.back() << "\n"
        << cluster.AllLogTails();
  }
  n1->reset();
  const uint64_t repaired_before = SumCounter(cluster, "aae_keys_repaired");
  ASSERT_TRUE(cluster.Restart(2).ok()) << cluster.LogTail(2);

  const auto start = std::chrono::steady_clock::now();
  const uint64_t two_rounds = 2 * options.partitions * 2;
  const bool repaired = WaitFor(
      [&] {
        return SumCounter(cluster, "aae_keys_repaired") >= repaired_before + kKeys &&
               CounterOf(cluster, 2, "aae_exchanges_clean") >= two_rounds;
      },
      25s);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  std::printf("[anti-entropy] after %lld ms: aae_keys_repaired=%llu, n3 clean exchanges=%llu\n",
              static_cast<long long>(took.count()),
              static_cast<unsigned long long>(SumCounter(cluster, "aae_keys_repaired")),
              static_cast<unsigned long long>(CounterOf(cluster, 2, "aae_exchanges_clean")));
  EXPECT_TRUE(repaired) << cluster.AllLogTails();
  CheckAaeStatusOfN3(cluster, kKeys);

  // n3 alone: nothing else can answer, and no read ran before this point.
  cluster.Kill(0);
  cluster.Kill(1);
  auto n3 = cluster.Connect(2);
  ASSERT_TRUE(n3.ok()) << n3.status().ToString();
  int present = 0;
  for (int i = 0; i < kKeys; ++i) {
    auto reply = (*n3)->Call(
        ClientGet{
            .id = RequestId{static_cast<uint64_t>(100 + i)}, .ns = "kv", .key = keys[i], .r = 1},
        kCallTimeout);
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    const auto* g = std::get_if<ClientGetReply>(&*reply);
    ASSERT_NE(g, nullptr);
    if (g->code != StatusCode::kOk) continue;
    for (const Sibling& s : g->state.siblings()) present += s.value == "v" + std::to_string(i);
  }
  EXPECT_EQ(present, kKeys);
}

}  // namespace
}  // namespace trolley::integration
