// Goal: a node whose data dir is wiped while it takes writes (SIGKILL,
// rm -rf, restart: a replaced disk, an operator's mistake) loses no
// acknowledged write, here or on the other replicas. Before actor epochs the
// emptied dir started again at the actor id of its first life, so its new
// dots were dots the others had already seen, and they dropped its new
// writes as old (Riak's kv679; docs/design.md, 'Versions: dotted version
// vector sets', 'Actor epochs').
// Method: 3 real trolleyd processes, N=3 R=2 W=2 (sync). A writer thread
// drives the client library: blind kv puts (no context) and cart adds, all
// to keys coordinated by n1, and records what was acknowledged. Meanwhile
// n1 is SIGKILLed, its data dir deleted, and n1 restarted; the load goes on
// through it. Afterwards every key is read with R=3 and must hold every
// acknowledged value and every acknowledged cart line.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cart/cart_state.h"
#include "client/cart_client.h"
#include "client/client.h"
#include "ring/preference_list.h"
#include "ring/ring.h"
#include "tests/integration/cluster_harness.h"

namespace trolley::integration {
namespace {

constexpr int kKvKeys = 20;
constexpr int kCarts = 10;

// What the writer was told succeeded: kv key -> values, cart -> skus.
struct Acked {
  std::mutex mu;
  std::map<std::string, std::set<std::string>> kv;
  std::map<std::string, std::set<std::string>> carts;
  int rounds = 0;
  int failed = 0;
};

// The first `count` keys "<prefix>-<i>" whose coordinator (first primary)
// is `node`: the client sends their writes there.
std::vector<std::string> KeysCoordinatedBy(const Ring& ring, const std::string& ns,
                                           const std::string& prefix, const std::string& node,
                                           int count) {
  std::vector<std::string> out;
  for (int i = 0; static_cast<int>(out.size()) < count; ++i) {
    const std::string key = prefix + "-" + std::to_string(i);
    if (PreferenceListForKey(ring, ns, key, 3).primaries.front().name == node) out.push_back(key);
  }
  return out;
}

// One round: a blind put of a new value to every kv key, then one new line
// in every cart. Failures (n1 down, or restarting) are expected and not acked.
void WriteRound(int round, BlockingClient& kv, BlockingCartClient& carts,
                const std::vector<std::string>& kv_keys, const std::vector<std::string>& cart_ids,
                Acked& acked) {
  for (const std::string& key : kv_keys) {
    const std::string value = key + "-round-" + std::to_string(round);
    auto put = kv.Put("kv", key, value, Context{});
    std::lock_guard lk(acked.mu);
    if (put.ok()) {
      acked.kv[key].insert(value);
    } else {
      ++acked.failed;
    }
  }
  for (const std::string& cart : cart_ids) {
    const std::string sku = "sku-" + std::to_string(round);
    auto add = carts.Add("carts", cart, sku, 1);
    std::lock_guard lk(acked.mu);
    if (add.ok()) {
      acked.carts[cart].insert(sku);
    } else {
      ++acked.failed;
    }
  }
  std::lock_guard lk(acked.mu);
  acked.rounds = round + 1;
}

// The cart as R=3 reads it: every sibling decoded and merged.
Result<CartState> ReadCartAll(BlockingClient& client, const std::string& cart) {
  RequestOptions all;
  all.r = 3;
  auto read = client.Get("carts", cart, all);
  if (!read.ok()) return read.status();
  std::vector<CartState> siblings;
  for (const Value& v : read->siblings) {
    if (v.tombstone) continue;
    auto state = CartState::Decode(v.bytes, CartSemantics::kOrSet);
    if (!state.ok()) return state.status();
    siblings.push_back(std::move(state).value());
  }
  return CartState::Merge(CartSemantics::kOrSet, siblings);
}

TEST(LostDiskTest, WipedNodeUnderLoadLosesNoAcknowledgedWrite) {
  ClusterOptions options;
  options.namespaces = {"kv:n=3,r=2,w=2,durability=sync",
                        "carts:n=3,r=2,w=2,durability=sync,merge=or-set"};
  Cluster cluster(options);
  ASSERT_TRUE(cluster.Start().ok());
  std::vector<NodeId> members;
  for (const std::string& id : cluster.node_ids()) members.push_back(NodeId{id});
  auto ring = Ring::Build(members, options.partitions);
  ASSERT_TRUE(ring.ok()) << ring.status().ToString();
  const std::string n1 = cluster.node_id(0);
  const auto kv_keys = KeysCoordinatedBy(*ring, "kv", "blind", n1, kKvKeys);
  const auto cart_ids = KeysCoordinatedBy(*ring, "carts", "cart", n1, kCarts);

  ClientOptions client_options;
  for (int i = 0; i < cluster.size(); ++i) client_options.seeds.push_back(cluster.address(i));
  client_options.timeout = std::chrono::milliseconds(3000);
  // The writer's clients. A client that saw n1 fail routes n1's keys to
  // the next replica for a while; the writer takes new clients once n1 is
  // back (`generation`), so that the load after the restart goes through
  // n1 again: its new life is what must not lose writes.
  std::unique_ptr<BlockingClient> kv;
  std::unique_ptr<BlockingCartClient> carts;
  auto connect = [&] {
    auto k = BlockingClient::Create(client_options);
    auto c = BlockingCartClient::Create(client_options);
    if (!k.ok() || !c.ok()) return false;
    kv = std::move(k).value();
    carts = std::move(c).value();
    return true;
  };
  ASSERT_TRUE(connect());

  Acked acked;
  std::atomic<bool> stop{false};
  std::atomic<int> generation{0};
  std::atomic<int> rounds_after_restart{0};
  std::thread writer([&] {
    int seen_generation = 0;
    for (int round = 0; !stop.load(); ++round) {
      if (generation.load() != seen_generation) {
        seen_generation = generation.load();
        if (!connect()) continue;
      }
      WriteRound(round, *kv, *carts, kv_keys, cart_ids, acked);
      if (seen_generation > 0) ++rounds_after_restart;
    }
  });
  auto rounds_done = [&] {
    std::lock_guard lk(acked.mu);
    return acked.rounds;
  };
  // Load before the fault, the fault under load, then load through the new n1.
  EXPECT_TRUE(WaitFor([&] { return rounds_done() >= 3; }, 30s));
  cluster.Kill(0);
  std::error_code ec;
  std::filesystem::remove_all(cluster.data_dir(0), ec);
  EXPECT_FALSE(ec) << ec.message();
  const bool restarted = cluster.Restart(0).ok();
  generation = 1;
  EXPECT_TRUE(restarted) << cluster.LogTail(0);
  EXPECT_TRUE(WaitFor([&] { return rounds_after_restart.load() >= 4; }, 60s));
  stop = true;
  writer.join();
  ASSERT_TRUE(restarted);
  const int rounds_at_restart = rounds_done() - rounds_after_restart.load();

  // R=3: a write n1 holds under a dot the others already hold with other
  // content meets both versions here, and only one of them survives.
  int acked_values = 0, missing = 0;
  std::string first_missing;
  for (const std::string& key : kv_keys) {
    RequestOptions all;
    all.r = 3;
    auto read = kv->Get("kv", key, all);
    ASSERT_TRUE(read.ok()) << key << ": " << read.status().ToString();
    std::set<std::string> held;
    for (const Value& v : read->siblings) held.insert(v.bytes);
    for (const std::string& value : acked.kv[key]) {
      ++acked_values;
      if (held.contains(value)) continue;
      if (missing++ == 0) first_missing = key + " = " + value;
    }
  }
  int acked_lines = 0, missing_lines = 0;
  for (const std::string& cart : cart_ids) {
    auto state = ReadCartAll(*kv, cart);
    ASSERT_TRUE(state.ok()) << cart << ": " << state.status().ToString();
    for (const std::string& sku : acked.carts[cart]) {
      ++acked_lines;
      if (state->lines().contains(sku)) continue;
      if (missing_lines++ == 0 && first_missing.empty()) first_missing = cart + " line " + sku;
    }
  }
  std::printf(
      "[lost disk] rounds %d (%d after the restart), acked kv values %d, acked cart "
      "lines %d, failed writes %d; missing: %d values, %d lines\n",
      acked.rounds, acked.rounds - rounds_at_restart, acked_values, acked_lines, acked.failed,
      missing, missing_lines);
  EXPECT_GT(acked_values, kKvKeys * 4);
  EXPECT_EQ(missing, 0) << "acknowledged writes lost, first: " << first_missing;
  EXPECT_EQ(missing_lines, 0) << "acknowledged cart lines lost, first: " << first_missing;
}

}  // namespace
}  // namespace trolley::integration
