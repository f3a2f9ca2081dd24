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
//
// WipedNodeIsRebuiltByAntiEntropy: the same load, with anti-entropy on,
// no hints, and n3 wiped instead; after the restart half of the keys take
// no more writes (a write ships the key's whole state to every replica).
// Afterwards n3's own copy of every key (ReplicaGet: that node alone, no
// quorum, no read repair) must come to hold every acknowledged value and
// cart line within a bound, without any read through the cluster
// (docs/design.md, 'Active anti-entropy'); then, with n1 and n2 killed, a
// read with R=1 coordinated by n3 must show the same.
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

// The writer of both tests: rounds of WriteRound through n1's keys on one
// thread, while the test thread kills node `wiped`, deletes its data dir
// and restarts it; the load goes on until 4 rounds after the restart.
struct LoadAndWipe {
  // From before the kill on, only the first half of the keys takes writes:
  // the other half is cold, so that no later write (which carries the whole
  // merged state to every replica) can refill the wiped node.
  bool cold_half_after_restart = false;
  std::vector<std::string> kv_keys, cart_ids;
  Acked acked;
  int rounds_after_restart = 0;
  std::unique_ptr<BlockingClient> kv;  // the writer's last client, for reads afterwards
};

std::vector<std::string> Half(const std::vector<std::string>& keys) {
  return {keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(keys.size() / 2)};
}

ClusterOptions LostDiskOptions(const std::string& config_tail = "") {
  ClusterOptions options;
  options.namespaces = {"kv:n=3,r=2,w=2,durability=sync",
                        "carts:n=3,r=2,w=2,durability=sync,merge=or-set"};
  options.config_tail = config_tail;
  return options;
}

void RunLoadAndWipe(Cluster& cluster, int wiped, LoadAndWipe& run) {
  std::vector<NodeId> members;
  for (const std::string& id : cluster.node_ids()) members.push_back(NodeId{id});
  auto ring = Ring::Build(members, cluster.options().partitions);
  ASSERT_TRUE(ring.ok()) << ring.status().ToString();
  const std::string n1 = cluster.node_id(0);
  run.kv_keys = KeysCoordinatedBy(*ring, "kv", "blind", n1, kKvKeys);
  run.cart_ids = KeysCoordinatedBy(*ring, "carts", "cart", n1, kCarts);

  ClientOptions client_options;
  for (int i = 0; i < cluster.size(); ++i) client_options.seeds.push_back(cluster.address(i));
  client_options.timeout = std::chrono::milliseconds(3000);
  // The writer's clients. A client that saw n1 fail routes n1's keys to
  // the next replica for a while; the writer takes new clients once the
  // node is back (`generation`), so that the load after the restart goes
  // through n1 again: its new life is what must not lose writes.
  std::unique_ptr<BlockingCartClient> carts;
  auto connect = [&] {
    auto k = BlockingClient::Create(client_options);
    auto c = BlockingCartClient::Create(client_options);
    if (!k.ok() || !c.ok()) return false;
    run.kv = std::move(k).value();
    carts = std::move(c).value();
    return true;
  };
  ASSERT_TRUE(connect());

  Acked& acked = run.acked;
  std::atomic<bool> stop{false};
  std::atomic<int> generation{0};
  std::atomic<int> rounds_after_restart{0};
  std::atomic<bool> cold{false};  // rounds write the hot half only
  std::thread writer([&] {
    int seen_generation = 0;
    for (int round = 0; !stop.load(); ++round) {
      if (generation.load() != seen_generation) {
        seen_generation = generation.load();
        if (!connect()) continue;
      }
      if (cold.load()) {
        WriteRound(round, *run.kv, *carts, Half(run.kv_keys), Half(run.cart_ids), acked);
      } else {
        WriteRound(round, *run.kv, *carts, run.kv_keys, run.cart_ids, acked);
      }
      if (seen_generation > 0) ++rounds_after_restart;
    }
  });
  auto rounds_done = [&] {
    std::lock_guard lk(acked.mu);
    return acked.rounds;
  };
  // Load before the fault, the fault under load, then load through the new life.
  EXPECT_TRUE(WaitFor([&] { return rounds_done() >= 3; }, 30s));
  if (run.cold_half_after_restart) {
    // From here on no write touches the cold half, before the wipe too: a
    // write copies its whole key to every replica, so one landing on the
    // new life would do anti-entropy's work. The round running now may
    // still write it; wait for it to end.
    cold = true;
    const int before = rounds_done();
    EXPECT_TRUE(WaitFor([&] { return rounds_done() >= before + 1; }, 30s));
  }
  cluster.Kill(wiped);
  std::error_code ec;
  std::filesystem::remove_all(cluster.data_dir(wiped), ec);
  EXPECT_FALSE(ec) << ec.message();
  const bool restarted = cluster.Restart(wiped).ok();
  generation = 1;
  EXPECT_TRUE(restarted) << cluster.LogTail(wiped);
  EXPECT_TRUE(WaitFor([&] { return rounds_after_restart.load() >= 4; }, 60s));
  stop = true;
  writer.join();
  ASSERT_TRUE(restarted);
  run.rounds_after_restart = rounds_after_restart.load();
}

TEST(LostDiskTest, WipedNodeUnderLoadLosesNoAcknowledgedWrite) {
  Cluster cluster(LostDiskOptions());
  ASSERT_TRUE(cluster.Start().ok());
  LoadAndWipe run;
  RunLoadAndWipe(cluster, 0, run);
  if (HasFatalFailure()) return;
  Acked& acked = run.acked;
  BlockingClient* kv = run.kv.get();
  const auto& kv_keys = run.kv_keys;
  const auto& cart_ids = run.cart_ids;
  const int rounds_at_restart = acked.rounds - run.rounds_after_restart;

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

// The state of `key` as node `conn` holds it: its own copy (ReplicaGet),
// or a ClientGet with R=1 coordinated by it (`client_get`). Empty if absent.
Result<SiblingSet> StateOn(NodeConnection& conn, const std::string& ns, const std::string& key,
                           bool client_get) {
  if (!client_get) {
    auto reply = ReadReplica(conn, key, ns);
    if (!reply.ok()) return reply.status();
    return reply->state;
  }
  auto reply = conn.Call(ClientGet{.ns = ns, .key = key, .r = 1}, kCallTimeout);
  if (!reply.ok()) return reply.status();
  const auto* get = std::get_if<ClientGetReply>(&*reply);
  if (get == nullptr) return Status::Corruption("unexpected reply");
  if (get->code == StatusCode::kNotFound) return SiblingSet();
  if (get->code != StatusCode::kOk) return Status(get->code, get->message);
  return get->state;
}

// How many acknowledged kv values and cart lines node `conn` does not hold
// (see StateOn); `first` names the first one.
Result<int> MissingOn(NodeConnection& conn, LoadAndWipe& run, bool client_get, std::string* first) {
  int missing = 0;
  auto note = [&](const std::string& what) {
    if (missing++ == 0) *first = what;
  };
  for (const std::string& key : run.kv_keys) {
    auto state = StateOn(conn, "kv", key, client_get);
    if (!state.ok()) return state.status();
    const std::vector<std::string> held = Values(*state);
    for (const std::string& value : run.acked.kv[key]) {
      if (std::find(held.begin(), held.end(), value) == held.end()) note(key + " = " + value);
    }
  }
  for (const std::string& cart : run.cart_ids) {
    auto state = StateOn(conn, "carts", cart, client_get);
    if (!state.ok()) return state.status();
    std::vector<CartState> siblings;
    for (const Sibling& s : state->siblings()) {
      if (s.tombstone) continue;
      auto decoded = CartState::Decode(s.value, CartSemantics::kOrSet);
      if (!decoded.ok()) return decoded.status();
      siblings.push_back(std::move(decoded).value());
    }
    const CartState merged = CartState::Merge(CartSemantics::kOrSet, siblings);
    for (const std::string& sku : run.acked.carts[cart]) {
      if (!merged.lines().contains(sku)) note(cart + " line " + sku);
    }
  }
  return missing;
}

TEST(LostDiskTest, WipedNodeIsRebuiltByAntiEntropy) {
  // No hints (only anti-entropy can refill n3); exchanges every 20 ms,
  // abandoned after 2 s (a request sent while a link still connects can be
  // lost, and the 60 s default would stall n3's rounds past the bound).
  Cluster cluster(
      LostDiskOptions("hints_max = 0\n[aae]\ninterval_ms = 20\nexchange_timeout_ms = 2000\n"));
  ASSERT_TRUE(cluster.Start().ok());
  LoadAndWipe run;
  run.cold_half_after_restart = true;
  RunLoadAndWipe(cluster, 2, run);
  if (HasFatalFailure()) return;
  int acked_values = 0, acked_lines = 0;
  for (const auto& [key, values] : run.acked.kv) acked_values += static_cast<int>(values.size());
  for (const auto& [cart, lines] : run.acked.carts) acked_lines += static_cast<int>(lines.size());
  EXPECT_GT(acked_values, kKvKeys * 4);

  auto n3 = cluster.Connect(2);
  ASSERT_TRUE(n3.ok()) << n3.status().ToString();
  const auto start = std::chrono::steady_clock::now();
  std::string first_missing;
  int missing = -1;
  const bool rebuilt = WaitFor(
      [&] {
        auto m = MissingOn(**n3, run, /*client_get=*/false, &first_missing);
        missing = m.ok() ? *m : -1;
        return missing == 0;
      },
      30s, 200ms);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  std::printf(
      "[lost disk, aae] rounds %d (%d after the restart), acked kv values %d, cart lines %d; "
      "n3 held them all again %lld ms after the load stopped (missing at the end: %d)\n",
      run.acked.rounds, run.rounds_after_restart, acked_values, acked_lines,
      static_cast<long long>(took.count()), missing);
  EXPECT_TRUE(rebuilt) << missing << " missing on n3, first: " << first_missing << "\n"
                       << cluster.AllLogTails();
  // The cold keys came back through anti-entropy (no read ran, no hints).
  // An exchange counts its repairs once they are all acknowledged, which
  // may be a moment after n3 holds the data: wait for the count too.
  const uint64_t cold_keys = (run.kv_keys.size() + run.cart_ids.size()) / 2;
  uint64_t repaired = 0;
  WaitFor(
      [&] {
        repaired = SumCounter(cluster, "aae_keys_repaired");
        return repaired >= cold_keys;
      },
      10s, 100ms);
  std::printf("[lost disk, aae] aae_keys_repaired over the nodes: %llu\n",
              static_cast<unsigned long long>(repaired));
  EXPECT_GE(repaired, cold_keys);

  // The same through the client path: n3 alone answers a read with R=1.
  cluster.Kill(0);
  cluster.Kill(1);
  auto alone = MissingOn(**n3, run, /*client_get=*/true, &first_missing);
  ASSERT_TRUE(alone.ok()) << alone.status().ToString();
  EXPECT_EQ(*alone, 0) << "first: " << first_missing;
}

}  // namespace
}  // namespace trolley::integration
