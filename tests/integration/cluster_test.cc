// Goal: real trolleyd processes replicate, resolve concurrent writes, keep
// accepting writes with replicas down (hints, sloppy quorum with fallbacks)
// and catch restarted replicas up by hint delivery alone.
// Method: tests/integration/cluster_harness.h starts the processes on
// loopback; clients are NodeConnections. Replica states are checked with
// ReplicaGet (one node's own copy, no read repair) so that a hint-delivery
// bug cannot be hidden by a ClientGet's read repair. Every wait polls with
// a deadline.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "node/node_metrics.h"
#include "ring/preference_list.h"
#include "ring/ring.h"
#include "tests/integration/cluster_harness.h"

namespace trolley::integration {
namespace {

using Strings = std::vector<std::string>;
using Conn = std::unique_ptr<NodeConnection>;

#define ASSERT_OK(expr)                                                  \
  do {                                                                   \
    const Status assert_ok_status_ = (expr);                             \
    ASSERT_TRUE(assert_ok_status_.ok()) << assert_ok_status_.ToString(); \
  } while (false)

Conn MustConnect(const Cluster& cluster, int i) {
  auto conn = cluster.Connect(i);
  EXPECT_TRUE(conn.ok()) << cluster.node_id(i) << ": " << conn.status().ToString();
  return conn.ok() ? std::move(*conn) : nullptr;
}

// One connection per node (nullptr for nodes not running).
std::vector<Conn> ConnectAll(Cluster& cluster) {
  std::vector<Conn> conns;
  for (int i = 0; i < cluster.size(); ++i) {
    conns.push_back(cluster.IsRunning(i) ? MustConnect(cluster, i) : nullptr);
  }
  return conns;
}

// Every node's hints_pending; `why` says which node holds some, or failed.
bool NoHintsAnywhere(std::vector<Conn>& conns, std::string* why) {
  for (Conn& c : conns) {
    if (c == nullptr) continue;
    auto status = GetStatus(*c);
    if (!status.ok()) {
      *why = status.status().ToString();
      return false;
    }
    if (status->hints_pending != 0) {
      *why = status->node_id + " holds " + std::to_string(status->hints_pending) + " hints";
      return false;
    }
  }
  return true;
}

// Hints held for `target` across the nodes that run.
uint64_t HintsFor(std::vector<Conn>& conns, const std::string& target) {
  uint64_t total = 0;
  for (Conn& c : conns) {
    if (c == nullptr) continue;
    auto status = GetStatus(*c);
    if (!status.ok()) continue;
    for (const PeerStatus& p : status->peers) {
      if (p.node_id == target) total += p.hints_pending;
    }
  }
  return total;
}

// True when every node in `owners` holds `key` with exactly the live values
// `expected`, and all their states are equal. `why` says what differs.
bool ReplicasAgree(std::vector<Conn>& conns, const std::vector<int>& owners, const std::string& key,
                   const Strings& expected, std::string* why) {
  std::optional<SiblingSet> first;
  for (int i : owners) {
    auto r = ReadReplica(*conns[i], key);
    if (!r.ok()) {
      *why = r.status().ToString();
      return false;
    }
    if (!r->found) {
      *why = conns[i]->node_id() + " has no copy of " + key;
      return false;
    }
    if (Values(r->state) != expected) {
      *why = conns[i]->node_id() + " holds " + r->state.DebugString() + " for " + key;
      return false;
    }
    if (!first) {
      first = r->state;
    } else if (!(*first == r->state)) {
      *why = key + ": " + conns[i]->node_id() + " holds " + r->state.DebugString() + ", " +
             conns[owners[0]]->node_id() + " " + first->DebugString();
      return false;
    }
  }
  return true;
}

std::string StatusSummary(std::vector<Conn>& conns) {
  std::string out;
  for (Conn& c : conns) {
    if (c == nullptr) continue;
    auto s = GetStatus(*c);
    if (!s.ok()) {
      out += s.status().ToString() + "\n";
      continue;
    }
    out += s->node_id + ": hints_pending=" + std::to_string(s->hints_pending) +
           " hints_stored=" + std::to_string(FindValue(s->counters, metric::kHintsStored)) +
           " hints_delivered=" + std::to_string(FindValue(s->counters, metric::kHintsDelivered)) +
           " hints_dropped=" + std::to_string(FindValue(s->counters, metric::kHintsDropped)) +
           " fallback_writes=" + std::to_string(FindValue(s->counters, metric::kFallbackWrites)) +
           " peers:";
    for (const PeerStatus& p : s->peers) {
      out += " " + p.node_id + (p.up ? "(up," : "(down,") + std::to_string(p.hints_pending) + ")";
    }
    out += "\n";
  }
  return out;
}

// 1. Put/get, concurrent blind writes from two coordinators become two
// siblings, and a write with the read's context replaces both.
TEST(ClusterTest, PutGetSiblingsAndContextResolve) {
  Cluster cluster;
  ASSERT_OK(cluster.Start());
  std::vector<Conn> c = ConnectAll(cluster);
  ASSERT_TRUE(c[0] && c[1] && c[2]);

  auto put = Put(*c[0], "cart-1", "apple");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(Values(put->state), Strings{"apple"});
  auto got = Get(*c[1], "cart-1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(Values(got->state), Strings{"apple"});
  EXPECT_EQ(Get(*c[2], "no-such-cart").status().code(), StatusCode::kNotFound);

  // Two blind writes through two coordinators: neither replaces the other.
  ASSERT_EQ(cluster.node_id(0), c[0]->node_id());
  ASSERT_EQ(cluster.node_id(1), c[1]->node_id());
  auto a = Put(*c[0], "cart-2", "from-n1");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = Put(*c[1], "cart-2", "from-n2");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  auto both = Get(*c[2], "cart-2");
  ASSERT_TRUE(both.ok()) << both.status().ToString();
  EXPECT_EQ(both->state.size(), 2u) << both->state.DebugString();
  EXPECT_EQ(Values(both->state), (Strings{"from-n1", "from-n2"}));

  // A write with the context of that read covers both siblings.
  auto resolved = Put(*c[2], "cart-2", "resolved", both->state.context());
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  EXPECT_EQ(Values(resolved->state), Strings{"resolved"}) << resolved->state.DebugString();
  for (int i = 0; i < 3; ++i) {
    auto after = Get(*c[i], "cart-2");
    ASSERT_TRUE(after.ok()) << after.status().ToString();
    EXPECT_EQ(after->state.size(), 1u) << "via n" << i + 1 << ": " << after->state.DebugString();
    EXPECT_EQ(Values(after->state), Strings{"resolved"});
  }
  // And every replica converges on that one sibling (W=2 wrote two; the
  // third got the write too, or the gets above repaired it).
  std::string why;
  EXPECT_TRUE(WaitFor(
      [&] {
        return ReplicasAgree(c, {0, 1, 2}, "cart-2", {"resolved"}, &why);
      },
      10s))
      << why;
}

// 2. One replica SIGKILLed: writes and reads go on through the other two;
// after a restart the replica catches up from hints alone.
TEST(ClusterTest, KilledReplicaCatchesUpFromHints) {
  Cluster cluster;
  ASSERT_OK(cluster.Start());
  cluster.Kill(2);
  ASSERT_FALSE(cluster.IsRunning(2));
  std::vector<Conn> c = ConnectAll(cluster);
  ASSERT_TRUE(c[0] && c[1]);
  ASSERT_EQ(c[2], nullptr);

  constexpr int kKeys = 200;
  auto key_of = [](int i) { return "cart-" + std::to_string(i); };
  auto value_of = [](int i) { return "item-" + std::to_string(i); };
  for (int i = 0; i < kKeys; ++i) {
    auto put = Put(*c[i % 2], key_of(i), value_of(i));
    ASSERT_TRUE(put.ok()) << "put " << i << ": " << put.status().ToString();
    ASSERT_EQ(Values(put->state), Strings{value_of(i)});
  }
  for (int i = 0; i < kKeys; ++i) {
    auto got = Get(*c[(i + 1) % 2], key_of(i));
    ASSERT_TRUE(got.ok()) << "get " << i << ": " << got.status().ToString();
    ASSERT_EQ(Values(got->state), Strings{value_of(i)});
  }
  // n3 replicates every key (N = 3 of 3 nodes), so each put left one hint
  // for it on its coordinator (no fallback exists).
  EXPECT_TRUE(WaitFor([&] { return HintsFor(c, cluster.node_id(2)) == kKeys; }, 10s))
      << StatusSummary(c);

  ASSERT_OK(cluster.Restart(2));
  c[2] = MustConnect(cluster, 2);
  ASSERT_TRUE(c[2]);
  const auto restarted = std::chrono::steady_clock::now();
  // From here on only ReplicaGet and StatusRequest: no read repair.
  std::string why;
  const bool caught_up = WaitFor(
      [&] {
        if (!NoHintsAnywhere(c, &why)) return false;
        for (int i = 0; i < kKeys; ++i) {
          if (!ReplicasAgree(c, {0, 1, 2}, key_of(i), {value_of(i)}, &why)) return false;
        }
        return true;
      },
      30s, 50ms);
  ASSERT_TRUE(caught_up) << why << "\n" << StatusSummary(c);
  std::printf("n3 caught up %lld ms after its restart\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - restarted)
                                         .count()));
  uint64_t delivered = 0, read_repairs = 0;
  for (Conn& conn : c) {
    auto s = GetStatus(*conn);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    delivered += FindValue(s->counters, metric::kHintsDelivered);
    read_repairs += FindValue(s->counters, metric::kReadRepairs);
  }
  EXPECT_GE(delivered, uint64_t{kKeys});
  EXPECT_EQ(read_repairs, 0u) << "no read ever saw a stale replica";
}

// 3. Five nodes, N=3 W=2: with two of a key's three primaries SIGKILLed,
// writes succeed through fallbacks; restarted owners get the data back.
TEST(ClusterTest, FallbacksHandOffToRestartedOwners) {
  ClusterOptions options;
  options.nodes = 5;
  options.namespaces = {"carts:n=3,r=2,w=2,durability=sync"};
  Cluster cluster(options);
  ASSERT_OK(cluster.Start());
  std::vector<Conn> c = ConnectAll(cluster);
  for (const Conn& conn : c) ASSERT_TRUE(conn);

  // The ring the nodes build from the member list (server.cc Open()).
  std::vector<NodeId> members;
  for (const std::string& id : cluster.node_ids()) members.push_back(NodeId{id});
  auto ring = Ring::Build(members, options.partitions);
  ASSERT_TRUE(ring.ok()) << ring.status().ToString();
  {
    auto info = c[0]->Call(RingInfoRequest{}, kCallTimeout);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    const auto* reply = std::get_if<RingInfoReply>(&*info);
    ASSERT_NE(reply, nullptr);
    Strings owners;
    for (const NodeId& n : ring->Owners()) owners.push_back(n.name);
    ASSERT_EQ(reply->owners, owners) << "the test's ring differs from the nodes'";
  }
  auto primaries_of = [&](const std::string& key) {
    std::vector<int> out;
    for (const NodeId& n : PreferenceListForKey(*ring, "carts", key, 3).primaries) {
      out.push_back(cluster.IndexOf(n.name));
    }
    return out;
  };

  const std::string hot = "cart-hot";
  const std::vector<int> hot_owners = primaries_of(hot);
  ASSERT_EQ(hot_owners.size(), 3u);
  const std::set<int> down = {hot_owners[0], hot_owners[1]};
  // More keys whose primaries include both nodes that go down.
  std::vector<std::string> keys = {hot};
  for (int i = 0; keys.size() < 6 && i < 10000; ++i) {
    const std::string k = "cart-" + std::to_string(i);
    const std::vector<int> owners = primaries_of(k);
    if (std::count_if(owners.begin(), owners.end(), [&](int o) { return down.count(o) > 0; }) ==
        2) {
      keys.push_back(k);
    }
  }
  ASSERT_EQ(keys.size(), 6u);

  for (int i : down) cluster.Kill(i);
  for (int i : down) c[i].reset();

  // Each key is written through its one live primary, which coordinates.
  std::map<std::string, std::string> expected;
  for (const std::string& k : keys) {
    std::vector<int> owners = primaries_of(k);
    const int live =
        *std::find_if(owners.begin(), owners.end(), [&](int o) { return !down.count(o); });
    const int rounds = k == hot ? 3 : 1;
    VersionVector context;
    for (int r = 1; r <= rounds; ++r) {
      const std::string value = k + "-v" + std::to_string(r);
      auto put = Put(*c[live], k, value, context);
      ASSERT_TRUE(put.ok()) << k << " round " << r << ": " << put.status().ToString() << "\n"
                            << StatusSummary(c);
      ASSERT_EQ(Values(put->state), Strings{value}) << put->state.DebugString();
      context = put->state.context();
      expected[k] = value;
    }
  }
  // The down owners' copies exist only as hints, one per key and owner.
  for (int i : down) {
    EXPECT_TRUE(WaitFor([&] { return HintsFor(c, cluster.node_id(i)) == keys.size(); }, 10s))
        << cluster.node_id(i) << "\n"
        << StatusSummary(c);
  }
  // Every put needed a fallback's ack (its coordinator is the only live primary).
  uint64_t fallback_writes = 0;
  for (Conn& conn : c) {
    if (!conn) continue;
    auto s = GetStatus(*conn);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    fallback_writes += FindValue(s->counters, metric::kFallbackWrites);
  }
  EXPECT_GE(fallback_writes, keys.size() + 2) << StatusSummary(c);

  for (int i : down) ASSERT_OK(cluster.Restart(i));
  for (int i : down) {
    c[i] = MustConnect(cluster, i);
    ASSERT_TRUE(c[i]);
  }
  const auto restarted = std::chrono::steady_clock::now();
  std::string why;
  const bool caught_up = WaitFor(
      [&] {
        if (!NoHintsAnywhere(c, &why)) return false;
        for (const std::string& k : keys) {
          if (!ReplicasAgree(c, primaries_of(k), k, {expected[k]}, &why)) return false;
        }
        return true;
      },
      30s, 50ms);
  ASSERT_TRUE(caught_up) << why << "\n" << StatusSummary(c);
  std::printf("owners caught up %lld ms after their restart\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - restarted)
                                         .count()));
}

// SIGTERM (a clean stop) and SIGKILL both keep the node's data, and both
// give it a new actor epoch, hence a new actor id: nothing in a data dir can
// tell a clean restart from a restore of a cold copy (docs/design.md,
// 'Versions: dotted version vector sets', 'Actor epochs').
TEST(ClusterTest, CleanStopAndKillKeepDataAndTakeANewActor) {
  Cluster cluster;
  ASSERT_OK(cluster.Start());
  std::vector<Conn> c = ConnectAll(cluster);
  ASSERT_TRUE(c[0] && c[1] && c[2]);
  auto put = Put(*c[0], "cart-durable", "kept");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  std::string why;
  ASSERT_TRUE(WaitFor(
      [&] {
        return ReplicasAgree(c, {0, 1, 2}, "cart-durable", {"kept"}, &why);
      },
      10s))
      << why;
  auto before = GetStatus(*c[1]);
  ASSERT_TRUE(before.ok()) << before.status().ToString();

  c[1].reset();
  ASSERT_OK(cluster.Stop(1));
  ASSERT_FALSE(cluster.IsRunning(1));
  ASSERT_OK(cluster.Restart(1));
  c[1] = MustConnect(cluster, 1);
  ASSERT_TRUE(c[1]);
  auto after_stop = GetStatus(*c[1]);
  ASSERT_TRUE(after_stop.ok()) << after_stop.status().ToString();
  EXPECT_NE(after_stop->incarnation, before->incarnation);
  EXPECT_NE(after_stop->actor, before->actor);
  auto kept = ReadReplica(*c[1], "cart-durable");
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_TRUE(kept->found);
  EXPECT_EQ(Values(kept->state), Strings{"kept"});

  c[1].reset();
  cluster.Kill(1);
  ASSERT_OK(cluster.Restart(1));
  c[1] = MustConnect(cluster, 1);
  ASSERT_TRUE(c[1]);
  auto after_kill = GetStatus(*c[1]);
  ASSERT_TRUE(after_kill.ok()) << after_kill.status().ToString();
  EXPECT_NE(after_kill->incarnation, after_stop->incarnation);
  EXPECT_NE(after_kill->actor, after_stop->actor);
  kept = ReadReplica(*c[1], "cart-durable");
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_TRUE(kept->found);
  EXPECT_EQ(Values(kept->state), Strings{"kept"});
}

}  // namespace
}  // namespace trolley::integration
