// Goal: the sans-IO Node replicates with N/R/W quorums, keeps writing
// through failures (sloppy quorum, hints), catches owners up by hint
// delivery, read-repairs stale replicas and forwards requests.
// Method: several Nodes over an in-memory network the test delivers by
// hand, a ManualClock advanced by hand, real LMDB engines in temp dirs
// whose callbacks are queued and run by the test driver: no sockets, no
// sleeps. A "down" node neither receives nor sends.
#include "node/node.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "cart/cart_state.h"
#include "common/key.h"
#include "ring/preference_list.h"
#include "storage/aae_tree.h"
#include "storage/lmdb/lmdb_engine.h"
#include "tests/support/temp_dir.h"

namespace trolley {
namespace {

struct Packet {
  Endpoint from;
  Endpoint to;
  std::string to_node;
  Message message;
};

class TestCluster;

class TestTransport final : public Transport {
 public:
  TestTransport(TestCluster* cluster, std::string self)
      : cluster_(cluster), self_(std::move(self)) {}
  void Send(const Endpoint& to, Message message) override;

 private:
  TestCluster* cluster_;
  std::string self_;
};

class TestCluster {
 public:
  // Anti-entropy is off unless `tweak` turns it on: the other tests watch
  // replicas that only hints and reads may repair.
  explicit TestCluster(int nodes, uint32_t n = 3, uint32_t r = 2, uint32_t w = 2,
                       std::string merge = "union-max",
                       std::function<void(NodeOptions&)> tweak = nullptr)
      : tweak_(std::move(tweak)) {
    std::vector<NodeId> members;
    for (int i = 1; i <= nodes; ++i) members.push_back(NodeId{"n" + std::to_string(i)});
    ring_ = std::move(Ring::Build(members, 64)).value();
    for (const NodeId& id : members) {
      auto h = std::make_unique<Host>();
      h->transport = std::make_unique<TestTransport>(this, id.name);
      h->random = std::make_unique<Random>(std::hash<std::string>{}(id.name));
      hosts_[id.name] = std::move(h);
      Start(id.name, NamespaceOptions{"carts", n, r, w, 0, merge});
    }
  }
  ~TestCluster() {
    // Each Host's dir is removed with hosts_, once its engine is closed here.
    for (auto& [name, h] : hosts_) {
      h->node.reset();
      h->engine.reset();
    }
  }

  void Start(const std::string& name, NamespaceOptions ns) {
    Host& h = *hosts_[name];
    ns_ = ns;
    LmdbEngineOptions eo;
    eo.path = h.dir.path();
    eo.durability = Durability::kNone;
    eo.clock = &clock_;
    eo.completion_executor = [this](std::function<void()> fn) {
      std::lock_guard lk(mu_);
      completions_.push_back(std::move(fn));
    };
    h.engine = std::move(LmdbEngine::Open(eo)).value();
    NodeOptions no;
    no.node_id = name;
    no.namespaces = {ns};
    no.aae_enabled = false;
    if (tweak_) tweak_(no);
    NodeEnv env{h.transport.get(), &clock_, h.engine.get(), h.random.get(), &log_};
    h.node = std::move(Node::Create(no, env, ring_)).value();
  }

  // A crash: in-flight state is lost, the data dir stays.
  void Kill(const std::string& name) {
    down_.insert(name);
    hosts_[name]->node.reset();
    RunUntilQuiet();  // let the dead engine's queued writes finish
    hosts_[name]->engine.reset();
    std::lock_guard lk(mu_);
    completions_.clear();
  }
  void Restart(const std::string& name) {
    down_.erase(name);
    Start(name, ns_);
  }

  // While held, no engine calls back: a storage stall on every node.
  void HoldCompletions(bool held) { completions_held_ = held; }

  // Messages to `name` vanish silently (a partition, not a crash).
  void Silence(const std::string& name) { silenced_.insert(name); }
  void Unsilence(const std::string& name) { silenced_.erase(name); }

  void Send(const Endpoint& from, const Endpoint& to, Message m) {
    const std::string target = to.IsNode() ? to.node : client_host_;
    if (!to.IsNode()) {
      client_inbox_.push_back(std::move(m));
      return;
    }
    if (from.IsNode() && down_.count(from.node)) return;
    if (silenced_.count(target)) return;  // a partition: dropped without a word
    if (down_.count(target)) {
      // Like a refused TCP connect: the sender learns it, on a later step.
      if (from.IsNode()) unreachable_.push_back({from.node, target});
      return;
    }
    network_.push_back(Packet{from, to, target, std::move(m)});
  }

  // Delivers messages and engine completions until nothing moves.
  void RunUntilQuiet() {
    for (int guard = 0; guard < 10000; ++guard) {
      bool moved = false;
      while (!unreachable_.empty()) {
        auto [sender, target] = unreachable_.front();
        unreachable_.pop_front();
        if (hosts_[sender]->node && !down_.count(sender))
          hosts_[sender]->node->OnPeerUnreachable(target);
        moved = true;
      }
      while (!network_.empty()) {
        Packet p = std::move(network_.front());
        network_.pop_front();
        if (tap_) tap_(p);
        Host& h = *hosts_[p.to_node];
        if (h.node) h.node->OnMessage(p.from, std::move(p.message));
        moved = true;
      }
      for (auto& [name, h] : hosts_) {
        if (h->engine) (void)h->engine->SyncNow();  // every submitted write has called back
      }
      std::deque<std::function<void()>> ready;
      if (!completions_held_) {
        std::lock_guard lk(mu_);
        ready.swap(completions_);
      }
      for (auto& fn : ready) fn();
      moved |= !ready.empty();
      for (auto& [name, h] : hosts_) {
        if (h->node) h->node->CheckInvariants();  // every module's, after every round
      }
      if (!moved && network_.empty()) return;
    }
    ADD_FAILURE() << "cluster did not quiesce";
  }

  // Advance time in steps, ticking every node and delivering.
  void Advance(uint64_t ms, uint64_t step_ms = 10) {
    for (uint64_t t = 0; t < ms; t += step_ms) {
      clock_.AdvanceMs(step_ms);
      for (auto& [name, h] : hosts_) {
        if (h->node) h->node->Tick();
      }
      RunUntilQuiet();
    }
  }

  ClientPutReply Put(const std::string& via, const std::string& key, const std::string& value,
                     const VersionVector& context = {}, uint32_t w = 0) {
    ClientPut m;
    m.id = RequestId{++client_ids_};
    m.ns = "carts";
    m.key = key;
    m.value = value;
    m.context = context;
    m.w = w;
    return Call<ClientPutReply>(via, std::move(m), m.id);
  }
  StatusReply StatusOf(const std::string& via) {
    const RequestId id{++client_ids_};
    return Call<StatusReply>(via, StatusRequest{id}, id);
  }
  // Delivers `m` to node `to` as if node `from` had sent it.
  void InjectFromNode(const std::string& from, const std::string& to, Message m) {
    network_.push_back(Packet{Endpoint{from, 0}, Endpoint{to, 0}, to, std::move(m)});
  }
  // Sees every packet just before it is delivered to a node.
  void SetTap(std::function<void(const Packet&)> tap) { tap_ = std::move(tap); }
  ClientGetReply Get(const std::string& via, const std::string& key) {
    ClientGet m;
    m.id = RequestId{++client_ids_};
    m.ns = "carts";
    m.key = key;
    return Call<ClientGetReply>(via, std::move(m), m.id);
  }

  template <class Reply>
  Reply Call(const std::string& via, Message request, RequestId id) {
    client_host_ = via;
    network_.push_back(Packet{Endpoint{"", 1}, Endpoint{via, 0}, via, std::move(request)});
    for (int step = 0; step < 1000; ++step) {
      RunUntilQuiet();
      for (auto it = client_inbox_.begin(); it != client_inbox_.end(); ++it) {
        if (auto* r = std::get_if<Reply>(&*it); r && r->id == id) {
          Reply out = std::move(*r);
          client_inbox_.erase(it);
          return out;
        }
      }
      Advance(10);
    }
    ADD_FAILURE() << "no reply";
    return Reply{};
  }

  // The state a node stores locally for `key` (empty if absent).
  SiblingSet Local(const std::string& node, const std::string& key) {
    auto r = hosts_[node]->engine->Get(ObjectKey{"carts", key});
    return r.ok() ? std::move(r).value() : SiblingSet();
  }
  uint64_t HintCount(const std::string& node) {
    return hosts_[node]->engine->hints().Stats()->count;
  }
  PreferenceList Pref(const std::string& key) {
    return PreferenceListForKey(ring_, "carts", key, ns_.n);
  }
  Node& node(const std::string& name) { return *hosts_[name]->node; }
  Engine& engine(const std::string& name) { return *hosts_[name]->engine; }
  const Ring& ring() const { return ring_; }
  uint64_t WallMs() { return clock_.NowWallMs(); }
  void AdvanceClockOnly(uint64_t ms) { clock_.AdvanceMs(ms); }
  // Removes the node's data dir contents (it must be down): a lost disk.
  void WipeData(const std::string& name) {
    std::filesystem::remove_all(hosts_[name]->dir.path());
    std::filesystem::create_directories(hosts_[name]->dir.path());
  }

  static std::vector<std::string> Values(const SiblingSet& s) {
    std::vector<std::string> out;
    for (const Sibling& sib : s.siblings()) out.push_back(sib.value);
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  struct Host {
    test_support::TempDir dir{"trolley-node"};
    std::unique_ptr<TestTransport> transport;
    std::unique_ptr<Random> random;
    std::unique_ptr<LmdbEngine> engine;
    std::unique_ptr<Node> node;
  };
  std::function<void(NodeOptions&)> tweak_;
  Ring ring_ = std::move(Ring::Build({NodeId{"x"}}, 64)).value();
  NamespaceOptions ns_;
  ManualClock clock_;
  NullLogger log_;
  std::map<std::string, std::unique_ptr<Host>> hosts_;
  std::set<std::string> down_;
  std::set<std::string> silenced_;
  std::deque<Packet> network_;
  std::deque<std::pair<std::string, std::string>> unreachable_;  // (sender, target)
  std::vector<Message> client_inbox_;
  std::string client_host_;
  uint64_t client_ids_ = 0;
  std::function<void(const Packet&)> tap_;
  bool completions_held_ = false;
  std::mutex mu_;
  std::deque<std::function<void()>> completions_;
};

void TestTransport::Send(const Endpoint& to, Message message) {
  cluster_->Send(Endpoint{self_, 0}, to, std::move(message));
}

TEST(NodeTest, PutThenGetReturnsTheValueFromEveryReplica) {
  TestCluster c(3);
  const std::string primary = c.Pref("alice").primaries[0].name;
  auto put = c.Put(primary, "alice", "apple x1");
  ASSERT_EQ(put.code, StatusCode::kOk) << put.message;
  auto got = c.Get(primary, "alice");
  ASSERT_EQ(got.code, StatusCode::kOk) << got.message;
  EXPECT_EQ(TestCluster::Values(got.state), (std::vector<std::string>{"apple x1"}));
  c.RunUntilQuiet();
  for (const char* n : {"n1", "n2", "n3"}) {
    EXPECT_EQ(TestCluster::Values(c.Local(n, "alice")), (std::vector<std::string>{"apple x1"}))
        << n;
  }
}

TEST(NodeTest, StalledLocalWriteTimesOutAtTheDeadlineAndStillReplicatesLater) {
  TestCluster c(3);
  c.HoldCompletions(true);
  const ClientPutReply r = c.Put("n1", "alice", "apple");
  EXPECT_EQ(r.code, StatusCode::kTimeout) << r.message;
  EXPECT_NE(r.message.find("local write"), std::string::npos) << r.message;
  EXPECT_EQ(c.node("n1").PendingRequests(), 1u);  // kept until the engine calls back
  c.HoldCompletions(false);
  c.Advance(100);
  EXPECT_EQ(c.node("n1").PendingRequests(), 0u);
  for (const char* n : {"n1", "n2", "n3"}) {
    EXPECT_EQ(TestCluster::Values(c.Local(n, "alice")), std::vector<std::string>{"apple"}) << n;
  }
}

TEST(NodeTest, ConcurrentBlindPutsComeBackAsSiblings) {
  TestCluster c(3);
  const auto pref = c.Pref("bob");
  ASSERT_EQ(c.Put(pref.primaries[0].name, "bob", "from-phone").code, StatusCode::kOk);
  ASSERT_EQ(c.Put(pref.primaries[1].name, "bob", "from-laptop").code, StatusCode::kOk);
  auto got = c.Get(pref.primaries[2].name, "bob");
  ASSERT_EQ(got.code, StatusCode::kOk);
  EXPECT_EQ(TestCluster::Values(got.state),
            (std::vector<std::string>{"from-laptop", "from-phone"}));
  // Writing back with the joined context resolves them.
  auto resolved = c.Put(pref.primaries[0].name, "bob", "both", got.state.context());
  ASSERT_EQ(resolved.code, StatusCode::kOk);
  EXPECT_EQ(TestCluster::Values(c.Get(pref.primaries[1].name, "bob").state),
            (std::vector<std::string>{"both"}));
}

// 3 nodes, N=3: no fallback exists, so the coordinator keeps a hint for
// the dead replica and delivers it when the replica answers again.
TEST(NodeTest, DeadReplicaCatchesUpThroughCoordinatorHints) {
  TestCluster c(3);
  const auto pref = c.Pref("carol");
  const std::string coordinator = pref.primaries[0].name;
  const std::string victim = pref.primaries[2].name;
  c.Kill(victim);
  auto put = c.Put(coordinator, "carol", "pear x2");
  ASSERT_EQ(put.code, StatusCode::kOk) << put.message;
  EXPECT_EQ(c.Get(coordinator, "carol").code, StatusCode::kOk);
  c.Advance(1000);  // the coordinator notices the dead replica and hints
  EXPECT_GE(c.HintCount(coordinator), 1u);
  c.Restart(victim);
  c.Advance(3000);  // pings find it up; hints are delivered
  EXPECT_EQ(TestCluster::Values(c.Local(victim, "carol")), (std::vector<std::string>{"pear x2"}));
  for (const char* n : {"n1", "n2", "n3"}) EXPECT_EQ(c.HintCount(n), 0u) << n;
  EXPECT_EQ(c.Local("n1", "carol"), c.Local("n2", "carol"));
  EXPECT_EQ(c.Local("n2", "carol"), c.Local("n3", "carol"));
}

// A hint is deleted on its owner's reply, so hint delivery asks the owner
// to reply only once the state is on disk (durable); replication to a
// replica keeps acknowledging on commit (the hot path).
TEST(NodeTest, HintDeliveryAsksForADurableAckAndReplicationDoesNot) {
  TestCluster c(3);
  const auto pref = c.Pref("carol");
  const std::string coordinator = pref.primaries[0].name;
  const std::string victim = pref.primaries[2].name;
  int replication = 0, delivery = 0;
  c.SetTap([&](const Packet& p) {
    const auto* w = std::get_if<ReplicaWrite>(&p.message);
    if (w == nullptr) return;
    if (p.to_node == victim) {
      ++delivery;
      EXPECT_TRUE(w->durable) << "a hint delivery acknowledged on commit only";
    } else {
      ++replication;
      EXPECT_FALSE(w->durable) << "replication must not wait for an fsync";
    }
  });
  c.Kill(victim);
  ASSERT_EQ(c.Put(coordinator, "carol", "pear x2").code, StatusCode::kOk);
  c.Advance(1000);
  ASSERT_GE(c.HintCount(coordinator), 1u);
  c.Restart(victim);
  c.Advance(3000);
  EXPECT_EQ(TestCluster::Values(c.Local(victim, "carol")), (std::vector<std::string>{"pear x2"}));
  EXPECT_EQ(c.HintCount(coordinator), 0u);
  EXPECT_GE(replication, 1);
  EXPECT_GE(delivery, 1);
}

// 5 nodes, N=3, W=2: two of three owners dead; fallbacks take the write
// as hints; once the owners are back they hold the data.
TEST(NodeTest, SloppyQuorumWritesThroughFallbacksAndHandsOff) {
  TestCluster c(5);
  const auto pref = c.Pref("dave");
  const std::string alive = pref.primaries[0].name;
  c.Kill(pref.primaries[1].name);
  c.Kill(pref.primaries[2].name);
  ClientPutReply put = c.Put(alive, "dave", "socks x3");
  ASSERT_EQ(put.code, StatusCode::kOk) << put.message;
  EXPECT_GE(c.node(alive).metrics().Value(metric::kFallbackWrites), 1u);
  c.Restart(pref.primaries[1].name);
  c.Restart(pref.primaries[2].name);
  c.Advance(5000);
  for (const NodeId& owner : pref.primaries) {
    EXPECT_EQ(TestCluster::Values(c.Local(owner.name, "dave")),
              (std::vector<std::string>{"socks x3"}))
        << owner.name;
  }
  for (const char* n : {"n1", "n2", "n3", "n4", "n5"}) EXPECT_EQ(c.HintCount(n), 0u) << n;
}

TEST(NodeTest, UnavailableWhenWCannotBeMetButTheWriteIsKept) {
  TestCluster c(3);
  const auto pref = c.Pref("erin");
  c.Kill(pref.primaries[1].name);
  c.Kill(pref.primaries[2].name);
  auto put = c.Put(pref.primaries[0].name, "erin", "hat");
  EXPECT_EQ(put.code, StatusCode::kUnavailable) << put.message;
  EXPECT_EQ(c.HintCount(pref.primaries[0].name), 2u);
  c.Restart(pref.primaries[1].name);
  c.Restart(pref.primaries[2].name);
  c.Advance(3000);
  EXPECT_EQ(TestCluster::Values(c.Local(pref.primaries[2].name, "erin")),
            (std::vector<std::string>{"hat"}));
}

TEST(NodeTest, ReadRepairBringsAStaleReplicaUpToDate) {
  TestCluster c(3);
  const auto pref = c.Pref("frank");
  const std::string stale = pref.primaries[2].name;
  ASSERT_EQ(c.Put(pref.primaries[0].name, "frank", "v1").code, StatusCode::kOk);
  // The stale replica misses v2 without anyone noticing (no ticks run, so
  // no timeout suspects it and no hint is written for it).
  c.Silence(stale);
  auto v1 = c.Get(pref.primaries[0].name, "frank");
  ASSERT_EQ(c.Put(pref.primaries[0].name, "frank", "v2", v1.state.context()).code, StatusCode::kOk);
  c.Unsilence(stale);
  EXPECT_EQ(TestCluster::Values(c.Local(stale, "frank")), (std::vector<std::string>{"v1"}));
  auto got = c.Get(pref.primaries[0].name, "frank");
  ASSERT_EQ(TestCluster::Values(got.state), (std::vector<std::string>{"v2"}));
  c.RunUntilQuiet();
  EXPECT_EQ(TestCluster::Values(c.Local(stale, "frank")), (std::vector<std::string>{"v2"}));
  EXPECT_GE(c.node(pref.primaries[0].name).metrics().Value(metric::kReadRepairs), 1u);
}

// With every owner of `key` down, writes each of `values` blind (from an
// empty cart, so they are concurrent) through a node outside its
// preference list that has been told the owners are unreachable; then the
// owners return and the hints are delivered. Returns what the coordinator
// holds after the writes, and fills `owners_hold` with what each owner
// holds at the end.
std::vector<std::string> PutWhileEveryOwnerIsDown(
    TestCluster& c, const std::string& key, const std::vector<std::string>& values,
    std::map<std::string, std::vector<std::string>>& owners_hold) {
  const auto pref = c.Pref(key);
  for (const NodeId& owner : pref.primaries) c.Kill(owner.name);
  const std::string outsider = pref.fallbacks[1].name;
  // What a transport reports after failed connects to each owner.
  for (const NodeId& owner : pref.primaries) c.node(outsider).OnPeerUnreachable(owner.name);
  for (const std::string& value : values) {
    auto put = c.Put(outsider, key, value);
    EXPECT_EQ(put.code, StatusCode::kOk) << put.message;
  }
  std::vector<std::string> coordinator_holds = TestCluster::Values(c.Local(outsider, key));
  for (const NodeId& owner : pref.primaries) c.Restart(owner.name);
  c.Advance(5000);
  for (const NodeId& owner : pref.primaries) {
    owners_hold[owner.name] = TestCluster::Values(c.Local(owner.name, key));
  }
  return coordinator_holds;
}

// Every owner down: a non-owner coordinates, stores the write as a hint
// (its own slot counts toward W, wherever it falls in the fallback order)
// and hands it to the owners when they return.
TEST(NodeTest, NonOwnerCoordinatesAsAFallbackWhenEveryOwnerIsDown) {
  TestCluster c(5);
  std::map<std::string, std::vector<std::string>> owners_hold;
  PutWhileEveryOwnerIsDown(c, "hank", {"gloves"}, owners_hold);
  ASSERT_EQ(owners_hold.size(), 3u);
  for (const auto& [owner, values] : owners_hold) {
    EXPECT_EQ(values, (std::vector<std::string>{"gloves"})) << owner;
  }
}

// A coordinator outside the preference list keeps the state it wrote:
// its next write's dot has a context covering every earlier counter of its
// actor, so without the earlier sibling there the owners would drop it as
// superseded when the two hints merge.
TEST(NodeTest, NonOwnerCoordinatorKeepsWhatItWroteSoConcurrentPutsSurvive) {
  TestCluster c(5);
  std::map<std::string, std::vector<std::string>> owners_hold;
  const std::vector<std::string> both = {"from-laptop", "from-phone"};
  EXPECT_EQ(PutWhileEveryOwnerIsDown(c, "ivy", {"from-phone", "from-laptop"}, owners_hold), both);
  ASSERT_EQ(owners_hold.size(), 3u);
  for (const auto& [owner, values] : owners_hold) EXPECT_EQ(values, both) << owner;
}

TEST(NodeTest, NonOwnerForwardsToAPrimary) {
  TestCluster c(5);
  const auto pref = c.Pref("gina");
  const std::string outsider = pref.fallbacks[0].name;
  auto put = c.Put(outsider, "gina", "scarf");
  ASSERT_EQ(put.code, StatusCode::kOk) << put.message;
  EXPECT_EQ(c.node(outsider).metrics().Value(metric::kForwarded), 1u);
  auto got = c.Get(outsider, "gina");
  EXPECT_EQ(TestCluster::Values(got.state), (std::vector<std::string>{"scarf"}));
  EXPECT_TRUE(c.Local(outsider, "gina").empty());
}

TEST(NodeTest, RingInfoNamesOwnersMembersAndNamespaces) {
  TestCluster c(3);
  const RequestId id{999};
  auto info = c.Call<RingInfoReply>("n2", RingInfoRequest{id}, id);
  EXPECT_EQ(info.owners.size(), 64u);
  EXPECT_EQ(info.ring_version, Membership::kFirstEpoch);  // the membership's epoch
  ASSERT_EQ(info.namespaces.size(), 1u);
  EXPECT_EQ(info.namespaces[0], (NamespaceInfo{"carts", 3, 2, 2, 0, "union-max"}));
}

TEST(NodeTest, ForwardToADeadPrimaryIsReroutedAtOnce) {
  TestCluster c(5);
  const auto pref = c.Pref("hana");
  const std::string outsider = pref.fallbacks[0].name;
  c.Kill(pref.primaries[0].name);  // the outsider still believes it up
  auto put = c.Put(outsider, "hana", "gloves");
  ASSERT_EQ(put.code, StatusCode::kOk) << put.message;
  EXPECT_EQ(c.node(outsider).metrics().Value(metric::kForwarded),
            2u);  // to the dead one, then the next
  EXPECT_FALSE(c.node(outsider).IsUp(pref.primaries[0].name));
  EXPECT_EQ(TestCluster::Values(c.Local(pref.primaries[1].name, "hana")),
            std::vector<std::string>{"gloves"});
}

// A replica the transport reports unreachable (a refused connect, a reset
// link: a killed node) is replaced at once, not after replica_timeout_ms
// of waiting for requests already sent to it.
TEST(NodeTest, UnreachableReplicaIsReplacedAtOnce) {
  TestCluster c(5, /*n=*/3, /*r=*/3, /*w=*/3);
  const auto pref = c.Pref("ivo");
  const std::string coordinator = pref.primaries[0].name;
  c.Kill(pref.primaries[2].name);  // the coordinator still believes it up
  const uint64_t start_ms = c.WallMs();
  auto put = c.Put(coordinator, "ivo", "mittens");
  ASSERT_EQ(put.code, StatusCode::kOk) << put.message;  // w=3 through a fallback
  auto got = c.Get(coordinator, "ivo");
  EXPECT_EQ(got.code, StatusCode::kUnavailable) << got.message;  // r=3 of 2 live owners
  EXPECT_LT(c.WallMs() - start_ms, 500u) << "waited out replica_timeout_ms";
  EXPECT_EQ(c.node(coordinator).PendingRequests(), 0u);
}

TEST(NodeTest, ForwardToASilentPrimaryIsReroutedBeforeTheDeadline) {
  TestCluster c(5);
  const auto pref = c.Pref("ines");
  const std::string outsider = pref.fallbacks[0].name;
  c.Silence(pref.primaries[0].name);  // a partition: no word back at all
  auto got = c.Get(outsider, "ines");
  EXPECT_EQ(got.code, StatusCode::kNotFound) << got.message;  // answered, not timed out
  auto put = c.Put(outsider, "ines", "hat");
  ASSERT_EQ(put.code, StatusCode::kOk) << put.message;
  EXPECT_EQ(c.node(outsider).PendingRequests(), 0u);
}

TEST(NodeTest, UnknownNamespaceAndImpossibleWAreClearErrors) {
  TestCluster c(3);
  ClientPut m;
  m.id = RequestId{99};
  m.ns = "nope";
  m.key = "k";
  auto reply = c.Call<ClientPutReply>("n1", m, m.id);
  EXPECT_EQ(reply.code, StatusCode::kInvalidArgument);
  EXPECT_NE(reply.message.find("unknown namespace"), std::string::npos);
  auto too_many = c.Put("n1", "k", "v", {}, /*w=*/4);
  EXPECT_EQ(too_many.code, StatusCode::kInvalidArgument);
}

// ---- cart updates (node/cart_update.h) ----

CartUpdate AddOf(uint64_t request, const std::string& cart, const std::string& sku, uint64_t id) {
  return CartUpdate{.id = RequestId{request},
                    .ns = "carts",
                    .cart_id = cart,
                    .kind = CartMutationKind::kAdd,
                    .sku = sku,
                    .quantity = 1,
                    .now_ms = 1'700'000'000'000,
                    .mutation_id = id};
}

// The cart every reachable replica of `cart` holds, merged.
CartState CartAt(TestCluster& c, const std::string& node, const std::string& cart) {
  std::vector<CartState> carts;
  const SiblingSet local = c.Local(node, cart);
  for (const Sibling& s : local.siblings()) {
    if (!s.tombstone) carts.push_back(CartState::Decode(s.value, CartSemantics::kOrSet).value());
  }
  return CartState::Merge(CartSemantics::kOrSet, carts);
}

TEST(NodeTest, CartAddIsOneWriteThatReplacesTheSiblingsItMerged) {
  TestCluster c(3, 3, 2, 2, "or-set");
  const auto a = c.Call<CartUpdateReply>("n1", AddOf(90, "k", "apple", 11), RequestId{90});
  ASSERT_EQ(a.code, StatusCode::kOk) << a.message;
  // Its latency goes to the cart update histogram, not the put one.
  const MetricRegistry& n1_metrics = c.node("n1").metrics();
  EXPECT_EQ(n1_metrics.FindHistogram(std::string(metric::kCartUpdateLatencyUs))->count(), 1u);
  EXPECT_EQ(n1_metrics.FindHistogram(std::string(metric::kPutLatencyUs))->count(), 0u);
  const auto b = c.Call<CartUpdateReply>("n2", AddOf(91, "k", "apple", 12), RequestId{91});
  ASSERT_EQ(b.code, StatusCode::kOk) << b.message;
  ASSERT_EQ(b.state.size(), 1u) << "the new sibling covers what the coordinator merged";
  const CartState cart =
      CartState::Decode(b.state.siblings()[0].value, CartSemantics::kOrSet).value();
  EXPECT_EQ(cart.ObservedTags(nullptr), (std::vector<uint64_t>{11, 12}));
  // A retry through a third coordinator changes nothing.
  const auto retry = c.Call<CartUpdateReply>("n3", AddOf(92, "k", "apple", 11), RequestId{92});
  ASSERT_EQ(retry.code, StatusCode::kOk);
  for (const char* n : {"n1", "n2", "n3"}) {
    EXPECT_EQ(CartAt(c, n, "k").Lines(CartLimits{})[0].quantity, 2u) << n;
  }
}

TEST(NodeTest, CartAddWithEveryPrimaryDownIsAcknowledgedAndArrives) {
  TestCluster c(5, 3, 2, 2, "or-set");
  const PreferenceList pref = c.Pref("k");
  std::string via;
  for (const NodeId& f : pref.fallbacks) via = f.name;
  for (const NodeId& p : pref.primaries) c.Kill(p.name);
  const auto r = c.Call<CartUpdateReply>(via, AddOf(93, "k", "apple", 21), RequestId{93});
  ASSERT_EQ(r.code, StatusCode::kOk) << r.message;
  for (const NodeId& p : pref.primaries) c.Restart(p.name);
  c.Advance(3000);
  for (const NodeId& p : pref.primaries) {
    EXPECT_EQ(CartAt(c, p.name, "k").ObservedTags(nullptr), (std::vector<uint64_t>{21}))
        << p.name << " got the add from the hints";
  }
}

TEST(NodeTest, CartRemoveThroughAStaleCoordinatorRemovesWhatTheShopperSaw) {
  TestCluster c(3, 3, 2, 2, "or-set");
  const PreferenceList pref = c.Pref("k");
  const std::string stale = pref.primaries[2].name;
  ASSERT_EQ(c.Call<CartUpdateReply>("n1", AddOf(94, "k", "apple", 31), RequestId{94}).code,
            StatusCode::kOk);
  c.Silence(stale);  // misses the second add
  const auto seen =
      c.Call<CartUpdateReply>(pref.primaries[0].name, AddOf(95, "k", "apple", 32), RequestId{95});
  ASSERT_EQ(seen.code, StatusCode::kOk);
  c.Unsilence(stale);
  c.Advance(200);
  CartUpdate remove{.id = RequestId{96},
                    .ns = "carts",
                    .cart_id = "k",
                    .kind = CartMutationKind::kRemove,
                    .sku = "apple",
                    .mutation_id = 33,
                    .observed = {31, 32},
                    .forwarded = true};  // coordinated by the stale replica itself
  const auto removed = c.Call<CartUpdateReply>(stale, remove, RequestId{96});
  ASSERT_EQ(removed.code, StatusCode::kOk) << removed.message;
  c.Advance(3000);
  for (const NodeId& p : pref.primaries) {
    EXPECT_TRUE(CartAt(c, p.name, "k").Lines(CartLimits{}).empty()) << p.name;
  }
}

TEST(NodeTest, CartUpdateRefusalsAreClearAndWriteNothing) {
  TestCluster c(3);  // union-max
  CartUpdate remove{.id = RequestId{97},
                    .ns = "carts",
                    .cart_id = "k",
                    .kind = CartMutationKind::kRemove,
                    .sku = "apple",
                    .mutation_id = 1};
  const auto r = c.Call<CartUpdateReply>("n1", remove, remove.id);
  EXPECT_EQ(r.code, StatusCode::kFailedPrecondition);
  EXPECT_NE(r.message.find("read-modify-write"), std::string::npos) << r.message;
  // Not a cart: the bytes a kv put left are refused, not overwritten.
  ASSERT_EQ(c.Put("n1", "raw", "not a cart").code, StatusCode::kOk);
  const auto add = c.Call<CartUpdateReply>("n1", AddOf(98, "raw", "apple", 2), RequestId{98});
  EXPECT_EQ(add.code, StatusCode::kCorruption) << add.message;
  EXPECT_NE(add.message.find("does not hold a union-max cart"), std::string::npos) << add.message;
  EXPECT_EQ(c.Values(c.Get("n1", "raw").state), (std::vector<std::string>{"not a cart"}));
  EXPECT_TRUE(c.Get("n1", "k").state.empty()) << "nothing was written";
}

// ---- status ----

std::vector<std::string> PeerIds(const StatusReply& status) {
  std::vector<std::string> out;
  for (const PeerStatus& p : status.peers) out.push_back(p.node_id);
  return out;
}

const PeerStatus& PeerIn(const StatusReply& status, const std::string& node) {
  for (const PeerStatus& p : status.peers) {
    if (p.node_id == node) return p;
  }
  ADD_FAILURE() << node << " is not among the peers of " << status.node_id;
  static const PeerStatus kNone{};
  return kNone;
}

// 5 nodes, N=3: each node reports who it is and its share of the ring;
// the shares add up to the whole ring, N times over for replication.
TEST(NodeTest, StatusReportsIdentityRingShareAndPeers) {
  TestCluster c(5);
  const std::vector<std::string> names = {"n1", "n2", "n3", "n4", "n5"};
  uint32_t owned_total = 0;
  uint32_t replicated_total = 0;
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    const StatusReply s = c.StatusOf(name);
    ASSERT_EQ(s.code, StatusCode::kOk) << s.message;
    EXPECT_TRUE(ValidateMessage(s).ok()) << ValidateMessage(s).ToString();
    EXPECT_EQ(s.node_id, name);
    EXPECT_EQ(s.incarnation, c.engine(name).incarnation());
    EXPECT_EQ(s.actor, ActorIdFor(name, s.incarnation));
    EXPECT_EQ(s.actor, c.node(name).actor());
    EXPECT_EQ(s.partitions, 64u);
    EXPECT_EQ(s.partitions_owned, c.ring().PartitionsOwnedBy(NodeId{name}).size());
    uint32_t replicated = 0;
    for (uint32_t p = 0; p < 64; ++p) {
      const auto primaries = PreferenceListForPartition(c.ring(), p, 3).primaries;
      replicated +=
          static_cast<uint32_t>(std::count(primaries.begin(), primaries.end(), NodeId{name}));
    }
    EXPECT_EQ(s.partitions_replicated, replicated);
    EXPECT_GT(s.partitions_replicated, s.partitions_owned);
    EXPECT_LT(s.partitions_replicated, 64u);
    owned_total += s.partitions_owned;
    replicated_total += s.partitions_replicated;
    std::vector<std::string> others;
    for (const std::string& n : names) {
      if (n != name) others.push_back(n);
    }
    EXPECT_EQ(PeerIds(s), others);
    for (const PeerStatus& p : s.peers) {
      EXPECT_TRUE(p.up) << p.node_id;
      EXPECT_EQ(p.hints_pending, 0u) << p.node_id;
    }
    EXPECT_EQ(s.hints_pending, 0u);
    EXPECT_EQ(s.hints_oldest_ms, 0u);
    EXPECT_EQ(s.pending_requests, 0u);
  }
  EXPECT_EQ(owned_total, 64u);
  EXPECT_EQ(replicated_total, 3u * 64u);
}

// 3 nodes, N=3: a silenced replica misses a put; the coordinator suspects
// it, keeps a hint for it, and its status says so until the hint is
// delivered.
TEST(NodeTest, StatusShowsAHintForASilencedPeerUntilItIsDelivered) {
  TestCluster c(3);
  const auto pref = c.Pref("ivy");
  const std::string coordinator = pref.primaries[0].name;
  const std::string other = pref.primaries[1].name;
  const std::string victim = pref.primaries[2].name;
  c.Silence(victim);
  ASSERT_EQ(c.Put(coordinator, "ivy", "mittens").code, StatusCode::kOk);
  const uint64_t put_ms = c.WallMs();

  // W=2 met; the write to the victim is still outstanding, nobody suspected.
  StatusReply s = c.StatusOf(coordinator);
  EXPECT_EQ(FindValue(s.counters, metric::kPutsOk), 1u);
  EXPECT_EQ(s.pending_requests, 1u);
  EXPECT_TRUE(PeerIn(s, victim).up);
  EXPECT_EQ(s.hints_pending, 0u);

  c.Advance(600);  // past replica_timeout_ms: suspected, no fallback, hinted here
  s = c.StatusOf(coordinator);
  ASSERT_EQ(s.code, StatusCode::kOk) << s.message;
  EXPECT_EQ(s.pending_requests, 0u);
  EXPECT_EQ(FindValue(s.counters, metric::kHintsStored), 1u);
  EXPECT_EQ(s.hints_pending, 1u);
  EXPECT_GE(s.hints_oldest_ms, put_ms + 500);
  EXPECT_LE(s.hints_oldest_ms, c.WallMs());
  EXPECT_FALSE(PeerIn(s, victim).up);
  EXPECT_EQ(PeerIn(s, victim).hints_pending, 1u);
  EXPECT_TRUE(PeerIn(s, other).up);
  EXPECT_EQ(PeerIn(s, other).hints_pending, 0u);
  EXPECT_EQ(FindValue(s.counters, metric::kHintsDelivered), 0u);
  // The victim heard nothing, so it suspects no one.
  const StatusReply victim_view = c.StatusOf(victim);
  EXPECT_TRUE(PeerIn(victim_view, coordinator).up);
  EXPECT_TRUE(PeerIn(victim_view, other).up);

  c.Unsilence(victim);
  c.Advance(3000);  // a ping finds it up; the hint is delivered and removed
  s = c.StatusOf(coordinator);
  ASSERT_EQ(s.code, StatusCode::kOk) << s.message;
  EXPECT_EQ(s.hints_pending, 0u);
  EXPECT_EQ(s.hints_oldest_ms, 0u);
  EXPECT_EQ(FindValue(s.counters, metric::kHintsDelivered), 1u);
  EXPECT_TRUE(PeerIn(s, victim).up);
  EXPECT_EQ(PeerIn(s, victim).hints_pending, 0u);
  EXPECT_EQ(TestCluster::Values(c.Local(victim, "ivy")), (std::vector<std::string>{"mittens"}));
}

// Nodes never send StatusRequest to each other today, but a node that
// does gets the reply, not some client.
TEST(NodeTest, StatusRequestFromANodeIsAnsweredToThatNode) {
  TestCluster c(3);
  std::vector<std::pair<std::string, StatusReply>> seen;
  c.SetTap([&](const Packet& p) {
    if (const auto* r = std::get_if<StatusReply>(&p.message)) seen.emplace_back(p.to_node, *r);
  });
  c.InjectFromNode("n2", "n1", StatusRequest{RequestId{77}});
  c.RunUntilQuiet();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].first, "n2");
  EXPECT_EQ(seen[0].second.id, RequestId{77});
  EXPECT_EQ(seen[0].second.node_id, "n1");
  EXPECT_EQ(PeerIds(seen[0].second), (std::vector<std::string>{"n2", "n3"}));
}

// An admin tool reads one replica's own state over a client connection.
TEST(NodeTest, ReplicaGetFromAClientReadsThatReplicaOnly) {
  TestCluster c(5);
  const auto pref = c.Pref("jay");
  ASSERT_EQ(c.Put(pref.primaries[0].name, "jay", "boots").code, StatusCode::kOk);
  c.RunUntilQuiet();
  const RequestId id{900};
  const auto held =
      c.Call<ReplicaGetReply>(pref.primaries[1].name, ReplicaGet{id, "carts", "jay"}, id);
  EXPECT_EQ(held.id, id);
  EXPECT_EQ(held.code, StatusCode::kOk) << held.message;
  EXPECT_TRUE(held.found);
  EXPECT_EQ(TestCluster::Values(held.state), (std::vector<std::string>{"boots"}));
  EXPECT_EQ(held.state, c.Local(pref.primaries[1].name, "jay"));

  const RequestId id2{901};
  const auto absent =
      c.Call<ReplicaGetReply>(pref.fallbacks[0].name, ReplicaGet{id2, "carts", "jay"}, id2);
  EXPECT_EQ(absent.id, id2);
  EXPECT_EQ(absent.code, StatusCode::kNotFound);
  EXPECT_FALSE(absent.found);
  EXPECT_TRUE(absent.state.empty());
  // A local read, not a coordinated get: nothing was forwarded or counted.
  const StatusReply s = c.StatusOf(pref.fallbacks[0].name);
  EXPECT_EQ(FindValue(s.counters, metric::kForwarded), 0u);
  EXPECT_EQ(FindValue(s.counters, metric::kGetsOk) + FindValue(s.counters, metric::kGetsFailed),
            0u);
}

// An LmdbEngine whose hint statistics read can be made to fail, whose
// Sync() can be held (a `flush` engine whose fsync has not come yet), and
// whose puts can be held between `decided` and `done` (a `sync` engine
// whose fsync has not come yet).
class FaultyHintsEngine final : public Engine, public HintStore {
 public:
  explicit FaultyHintsEngine(std::unique_ptr<LmdbEngine> inner) : inner_(std::move(inner)) {}
  bool fail_stats = false;
  bool hold_syncs = false;
  std::vector<Engine::DoneCallback> held_syncs;
  bool hold_puts = false;
  std::vector<std::pair<StateCallback, Result<SiblingSet>>> held_puts;  // done, its result
  LmdbEngine& inner() { return *inner_; }

  Result<SiblingSet> Get(const ObjectKey& key) override { return inner_->Get(key); }
  using Engine::Put;
  void Put(ObjectKey key, WriteIntent intent, ActorId actor, StateCallback decided,
           StateCallback done) override {
    if (!hold_puts) {
      inner_->Put(std::move(key), std::move(intent), actor, std::move(decided), std::move(done));
      return;
    }
    inner_->Put(std::move(key), std::move(intent), actor, std::move(decided),
                [this, done = std::move(done)](Result<SiblingSet> r) mutable {
                  held_puts.emplace_back(std::move(done), std::move(r));
                });
  }
  void Merge(ObjectKey key, SiblingSet remote, StateCallback done) override {
    inner_->Merge(std::move(key), std::move(remote), std::move(done));
  }
  Result<ScanPage> Scan(uint64_t first_hash, uint64_t last_hash, const ObjectKey* resume_after,
                        size_t limit) override {
    return inner_->Scan(first_hash, last_hash, resume_after, limit);
  }
  using Engine::Sweep;
  void Sweep(uint64_t grace_ms, TombstoneCutoff cutoff, SweepCallback done) override {
    inner_->Sweep(grace_ms, std::move(cutoff), std::move(done));
  }
  std::vector<uint64_t> AaeSegments(uint32_t first, uint32_t count) override {
    return inner_->AaeSegments(first, count);
  }
  std::vector<uint64_t> AaeBranches(uint32_t first, uint32_t count) override {
    return inner_->AaeBranches(first, count);
  }
  Result<std::vector<AaeKeyVersion>> AaeSegmentKeys(uint32_t segment) override {
    return inner_->AaeSegmentKeys(segment);
  }
  AaeTreeStats AaeStats() override { return inner_->AaeStats(); }
  HintStore& hints() override { return *this; }
  void Sync(std::string_view ns, Engine::DoneCallback done) override {
    if (hold_syncs) {
      held_syncs.push_back(std::move(done));
      return;
    }
    inner_->Sync(ns, std::move(done));
  }
  void Cork() override { inner_->Cork(); }
  void Uncork() override { inner_->Uncork(); }
  uint64_t incarnation() const override { return inner_->incarnation(); }

  void Add(Hint hint, HintStore::DoneCallback done) override {
    inner_->hints().Add(std::move(hint), std::move(done));
  }
  Result<std::vector<Hint>> List(std::string_view target, size_t limit) override {
    return inner_->hints().List(target, limit);
  }
  Result<std::vector<std::string>> Targets() override { return inner_->hints().Targets(); }
  void RemoveDelivered(std::string target, ObjectKey key, SiblingSet delivered,
                       HintStore::DoneCallback done) override {
    inner_->hints().RemoveDelivered(std::move(target), std::move(key), std::move(delivered),
                                    std::move(done));
  }
  void Drop(std::string target, ObjectKey key, HintStore::DoneCallback done) override {
    inner_->hints().Drop(std::move(target), std::move(key), std::move(done));
  }
  Result<HintStats> Stats() override {
    if (fail_stats) return Status::IOError("injected: cannot read hints");
    return inner_->hints().Stats();
  }

 private:
  std::unique_ptr<LmdbEngine> inner_;
};

class CapturingTransport final : public Transport {
 public:
  void Send(const Endpoint& to, Message message) override {
    sent.emplace_back(to, std::move(message));
  }
  std::vector<std::pair<Endpoint, Message>> sent;
};

// One Node over a FaultyHintsEngine (LmdbEngine, `none`, in a temp dir):
// what it sends is captured, and the engine's completions wait in a queue
// that RunUntil runs on the test's thread.
class OneNode {
 public:
  OneNode() {
    LmdbEngineOptions eo;
    eo.path = dir_.path();
    eo.durability = Durability::kNone;
    eo.clock = &clock_;
    eo.completion_executor = [this](std::function<void()> fn) {
      std::lock_guard lk(mu_);
      completions_.push_back(std::move(fn));
    };
    engine = std::make_unique<FaultyHintsEngine>(std::move(LmdbEngine::Open(eo)).value());
  }
  ~OneNode() {
    node.reset();
    engine.reset();  // before dir_ goes
  }

  // Starts the node `id` of a ring of `members` (16 partitions).
  void Start(const std::string& id, std::vector<NamespaceOptions> namespaces,
             const std::vector<std::string>& members) {
    NodeOptions no;
    no.node_id = id;
    no.namespaces = std::move(namespaces);
    std::vector<NodeId> ids;
    for (const std::string& m : members) ids.push_back(NodeId{m});
    ring.emplace(std::move(Ring::Build(ids, 16)).value());
    NodeEnv env{&transport, &clock_, engine.get(), &random_, &log_};
    node = std::move(Node::Create(no, env, *ring)).value();
  }

  // Runs engine completions on this thread until `done` (or gives up).
  bool RunUntil(const std::function<bool()>& done) {
    for (int i = 0; i < 1000 && !done(); ++i) {
      (void)engine->inner().SyncNow();
      std::deque<std::function<void()>> ready;
      {
        std::lock_guard lk(mu_);
        ready.swap(completions_);
      }
      for (auto& fn : ready) fn();
    }
    return done();
  }

  // Every message of type T sent so far, with its destination.
  template <typename T>
  std::vector<std::pair<Endpoint, T>> Sent() const {
    std::vector<std::pair<Endpoint, T>> out;
    for (const auto& [to, m] : transport.sent) {
      if (const auto* x = std::get_if<T>(&m)) out.emplace_back(to, *x);
    }
    return out;
  }

  CapturingTransport transport;
  std::unique_ptr<FaultyHintsEngine> engine;
  std::optional<Ring> ring;  // set by Start
  std::unique_ptr<Node> node;

 private:
  test_support::TempDir dir_{"trolley-node"};
  ManualClock clock_;
  NullLogger log_;
  Random random_{1};
  std::mutex mu_;
  std::deque<std::function<void()>> completions_;
};

TEST(NodeTest, StatusReportsAFailedHintStoreRead) {
  OneNode h;
  h.Start("solo", {NamespaceOptions{"carts", 1, 1, 1, 0}}, {"solo"});
  Node* node = h.node.get();
  FaultyHintsEngine& engine = *h.engine;
  CapturingTransport& transport = h.transport;
  const Endpoint admin{"", 42};
  node->OnMessage(admin, StatusRequest{RequestId{1}});
  engine.fail_stats = true;
  node->OnMessage(admin, StatusRequest{RequestId{2}});
  ASSERT_EQ(transport.sent.size(), 2u);
  for (const auto& [to, message] : transport.sent) EXPECT_EQ(to, admin);
  const auto& ok = std::get<StatusReply>(transport.sent[0].second);
  const auto& failed = std::get<StatusReply>(transport.sent[1].second);
  EXPECT_EQ(ok.id, RequestId{1});
  EXPECT_EQ(ok.code, StatusCode::kOk);
  EXPECT_EQ(ok.message, "");
  EXPECT_EQ(failed.id, RequestId{2});
  EXPECT_EQ(failed.code, StatusCode::kIOError);
  EXPECT_EQ(failed.message, "hint stats: injected: cannot read hints");
  // Everything but the hint figures is still there.
  EXPECT_EQ(failed.node_id, "solo");
  EXPECT_EQ(failed.partitions, 16u);
  EXPECT_EQ(failed.partitions_owned, 16u);
  EXPECT_EQ(failed.partitions_replicated, 16u);
  EXPECT_TRUE(failed.peers.empty());
  EXPECT_EQ(failed.incarnation, engine.incarnation());
  EXPECT_TRUE(ValidateMessage(failed).ok());
}

// The owner's side of hint delivery under `flush`: the holder deletes its
// hint when the owner replies, so a delivered state must be on the owner's
// disk (not just committed: a power loss within the flush window would
// take it) before the reply leaves. Was: the reply left on commit.
TEST(NodeTest, OwnerAcknowledgesAHintDeliveryOnlyOnceItIsDurable) {
  OneNode h;
  h.engine->hold_syncs = true;
  h.Start("n1", {NamespaceOptions{"carts", 2, 1, 1, 0}}, {"n1", "n2"});
  Node* node = h.node.get();
  FaultyHintsEngine& engine = *h.engine;
  auto run_until = [&](const std::function<bool()>& done) { return h.RunUntil(done); };
  auto replies = [&] {
    std::vector<ReplicaWriteReply> out;
    for (const auto& [to, r] : h.Sent<ReplicaWriteReply>()) {
      EXPECT_EQ(to, (Endpoint{"n2", 0}));
      out.push_back(r);
    }
    return out;
  };
  SiblingSet state;
  WriteIntent w;
  w.value = "pear x2";
  state.ApplyWrite(w, ActorIdFor("n2", 1), 0);

  // A hint delivery: merged and committed, but no reply until durable.
  node->OnMessage(Endpoint{"n2", 0},
                  ReplicaWrite{RequestId{5}, "carts", "carol", state, "", /*durable=*/true});
  ASSERT_TRUE(run_until([&] { return !engine.held_syncs.empty(); }))
      << "the owner never asked for its delivered state to be made durable";
  EXPECT_TRUE(engine.Get(ObjectKey{"carts", "carol"}).ok());
  EXPECT_TRUE(replies().empty()) << "acknowledged a hint delivery before it was durable";
  // The fsync comes: now the holder may delete its hint.
  std::vector<Engine::DoneCallback> held = std::move(engine.held_syncs);
  engine.held_syncs.clear();
  for (auto& cb : held) cb(Status::Ok());
  ASSERT_EQ(replies().size(), 1u);
  EXPECT_EQ(replies()[0].id, RequestId{5});
  EXPECT_EQ(replies()[0].code, StatusCode::kOk);

  // A failed fsync fails the delivery (the hint stays for another round).
  node->OnMessage(Endpoint{"n2", 0},
                  ReplicaWrite{RequestId{6}, "carts", "carol", state, "", /*durable=*/true});
  ASSERT_TRUE(run_until([&] { return !engine.held_syncs.empty(); }));
  held = std::move(engine.held_syncs);
  engine.held_syncs.clear();
  for (auto& cb : held) cb(Status::IOError("injected: fsync failed"));
  ASSERT_EQ(replies().size(), 2u);
  EXPECT_EQ(replies()[1].id, RequestId{6});
  EXPECT_EQ(replies()[1].code, StatusCode::kIOError);

  // Replication and read repair (not durable) still reply on commit,
  // with no Sync: the hot path does not wait for an fsync.
  node->OnMessage(Endpoint{"n2", 0}, ReplicaWrite{RequestId{7}, "carts", "carol", state, ""});
  EXPECT_TRUE(run_until([&] { return replies().size() == 3; }));
  EXPECT_EQ(replies().back().id, RequestId{7});
  EXPECT_EQ(replies().back().code, StatusCode::kOk);
  EXPECT_TRUE(engine.held_syncs.empty());
}

// The coordinator's write path: replication starts once the engine has
// decided the new state, while the local commit (an fsync in `sync`) is
// still running; the coordinator counts itself only once that commit is
// done, and a failed commit leaves the remote acknowledgements to decide.
TEST(NodeTest, CoordinatorReplicatesWhileItsOwnCommitRuns) {
  OneNode h;
  h.engine->hold_puts = true;
  // w=3: the client's reply then waits for this node's own commit too.
  h.Start("n1", {NamespaceOptions{"carts", 3, 2, 2, 0}, NamespaceOptions{"all", 3, 2, 3, 0}},
          {"n1", "n2", "n3"});
  Node* node = h.node.get();
  FaultyHintsEngine& engine = *h.engine;
  CapturingTransport& transport = h.transport;
  const Ring& ring = *h.ring;
  auto run_until = [&](const std::function<bool()>& done) { return h.RunUntil(done); };
  auto writes = [&] { return h.Sent<ReplicaWrite>(); };
  auto client_replies = [&] { return h.Sent<ClientPutReply>(); };
  // A key this node coordinates (first in its preference list).
  auto key_led_by_n1 = [&](const std::string& ns) {
    for (int i = 0;; ++i) {
      const std::string key = "cart-" + std::to_string(i);
      if (PreferenceListForKey(ring, ns, key, 3).primaries[0].name == "n1") return key;
    }
  };
  const Endpoint client{"", 7};

  for (const std::string ns : {"carts", "all"}) {
    SCOPED_TRACE(ns);
    transport.sent.clear();
    const std::string key = key_led_by_n1(ns);
    ClientPut put;
    put.id = RequestId{100};
    put.ns = ns;
    put.key = key;
    put.value = "boots";
    node->OnMessage(client, put);
    ASSERT_TRUE(run_until([&] { return writes().size() == 2; }))
        << "replication waited for the coordinator's own commit";
    ASSERT_TRUE(engine.held_puts.size() == 1 ||
                run_until([&] { return engine.held_puts.size() == 1; }));
    for (const auto& [to, w] : writes()) {
      EXPECT_EQ(TestCluster::Values(w.state), std::vector<std::string>{"boots"});
      node->OnMessage(Endpoint{to.node, 0}, ReplicaWriteReply{w.id, StatusCode::kOk, ""});
    }
    if (ns == "carts") {
      // w=2 made by n2 and n3: the client has its answer, the op stays
      // until the local commit calls back.
      ASSERT_EQ(client_replies().size(), 1u);
      EXPECT_EQ(client_replies()[0].second.code, StatusCode::kOk);
      EXPECT_EQ(node->PendingRequests(), 1u);
      auto [done, result] = std::move(engine.held_puts[0]);
      engine.held_puts.clear();
      done(std::move(result));
      EXPECT_EQ(client_replies().size(), 1u);
    } else {
      // w=3 needs this node: its commit fails, so the write is refused
      // (and, as ever, may still appear: n2 and n3 have it).
      EXPECT_TRUE(client_replies().empty());
      auto [done, result] = std::move(engine.held_puts[0]);
      engine.held_puts.clear();
      done(Status::IOError("injected: fsync failed"));
      ASSERT_EQ(client_replies().size(), 1u);
      EXPECT_EQ(client_replies()[0].second.code, StatusCode::kUnavailable)
          << client_replies()[0].second.message;
    }
    EXPECT_EQ(node->PendingRequests(), 0u);
  }
}

// ---- Active anti-entropy (node/anti_entropy.h) ----

void EnableAae(NodeOptions& o) {
  o.aae_enabled = true;
  o.aae_interval_ms = 20;
  o.hints_max = 0;  // no hints: only anti-entropy can bring a replica back
}

// Every node holds the same tree (the engines' hashes agree everywhere).
bool TreesAgree(TestCluster& c) {
  const auto first = c.engine("n1").AaeBranches(0, AaeTree::kBranches);
  return c.engine("n2").AaeBranches(0, AaeTree::kBranches) == first &&
         c.engine("n3").AaeBranches(0, AaeTree::kBranches) == first;
}

TEST(NodeAaeTest, AReplicaThatMissedWritesIsRepairedWithoutAnyRead) {
  TestCluster c(3, 3, 2, 2, "union-max", EnableAae);
  c.Kill("n3");
  std::vector<std::string> keys;
  for (int i = 0; i < 40; ++i) keys.push_back("k" + std::to_string(i));
  for (const std::string& k : keys) {
    const std::string via =
        c.Pref(k).primaries[0].name == "n3" ? "n1" : c.Pref(k).primaries[0].name;
    ASSERT_EQ(c.Put(via, k, "v-" + k).code, StatusCode::kOk);
  }
  c.Restart("n3");  // hints_max = 0: it missed every write, and no hint holds them
  EXPECT_TRUE(c.Local("n3", "k0").empty());
  c.Advance(20'000, 20);  // 64 partitions x 2 peers at 20 ms each, twice over
  for (const std::string& k : keys) {
    EXPECT_EQ(TestCluster::Values(c.Local("n3", k)), std::vector<std::string>{"v-" + k}) << k;
  }
  EXPECT_TRUE(TreesAgree(c));
  const MetricRegistry& m = c.node("n3").metrics();
  uint64_t repaired = 0;
  for (const char* n : {"n1", "n2", "n3"}) {
    repaired += c.node(n).metrics().Value(metric::kAaeKeysRepaired);
  }
  EXPECT_GE(repaired, keys.size());
  EXPECT_GT(m.Value(metric::kAaeExchangesClean), 0u);
}

// Goal: when more segments differ than aae_segments_per_exchange, later
// exchanges of a pair list the segments after the ones listed before, so a
// segment that differs for good (a key of a namespace with N = 1, which no
// exchange repairs) cannot hide a repairable one after it.
// Method: one segment per exchange; n3 holds an N = 1 key, and missed a
// write to a key in a later segment of the same partition.
TEST(NodeAaeTest, SegmentsPastThePerExchangeLimitAreListedByLaterExchanges) {
  TestCluster c(3, 3, 2, 2, "union-max", [](NodeOptions& o) {
    EnableAae(o);
    o.aae_segments_per_exchange = 1;
    o.namespaces.push_back(NamespaceOptions{"solo", 1, 1, 1, 0, "union-max"});
  });
  const uint32_t bits = c.ring().Log2PartitionCount();
  const uint32_t per_partition = AaeTree::kSegments >> bits;
  std::string solo;
  uint64_t solo_hash = 0;
  for (int i = 0; solo.empty(); ++i) {
    const std::string k = "s" + std::to_string(i);
    const uint64_t h = KeyHash("solo", k);
    if (PreferenceListForKey(c.ring(), "solo", k, 1).primaries[0].name == "n3" &&
        AaeTree::SegmentOfHash(h) % per_partition < per_partition / 2) {
      solo = k;
      solo_hash = h;
    }
  }
  std::string cart;
  for (int i = 0; cart.empty(); ++i) {
    const std::string k = "c" + std::to_string(i);
    const uint64_t h = KeyHash("carts", k);
    if (PartitionOfHash(h, bits) == PartitionOfHash(solo_hash, bits) &&
        AaeTree::SegmentOfHash(h) > AaeTree::SegmentOfHash(solo_hash)) {
      cart = k;
    }
  }
  ClientPut put;
  put.id = RequestId{900};
  put.ns = "solo";
  put.key = solo;
  put.value = "only-on-n3";
  ASSERT_EQ(c.Call<ClientPutReply>("n3", put, put.id).code, StatusCode::kOk);
  c.Kill("n3");
  ASSERT_EQ(c.Put("n1", cart, "missed-by-n3").code, StatusCode::kOk);
  c.Restart("n3");
  c.Advance(20'000, 20);
  EXPECT_EQ(TestCluster::Values(c.Local("n3", cart)), std::vector<std::string>{"missed-by-n3"});
  EXPECT_TRUE(c.engine("n3").Get(ObjectKey{"solo", solo}).ok());  // never repaired away
}

TEST(NodeAaeTest, RepairMergesSiblingsEachSideHeldAndNeverOverwrites) {
  TestCluster c(3, 3, 1, 1, "union-max", EnableAae);
  const std::string key = "shared";
  // Two writes nobody else saw: n1 and n3 each hold one (W=1, peers silenced).
  c.Silence("n2");
  c.Silence("n3");
  ASSERT_EQ(c.Put("n1", key, "from-n1", {}, 1).code, StatusCode::kOk);
  c.Unsilence("n3");
  c.Silence("n1");
  ASSERT_EQ(c.Put("n3", key, "from-n3", {}, 1).code, StatusCode::kOk);
  c.Unsilence("n1");
  c.Unsilence("n2");
  c.Advance(20'000, 20);
  for (const char* n : {"n1", "n2", "n3"}) {
    EXPECT_EQ(TestCluster::Values(c.Local(n, key)),
              (std::vector<std::string>{"from-n1", "from-n3"}))
        << n;
  }
  EXPECT_TRUE(TreesAgree(c));
}

TEST(NodeAaeTest, AnExpiredSiblingIsNeverShippedAndItsTreeEntryIsRehashed) {
  TestCluster c(3, 3, 2, 2, "union-max", EnableAae);
  const std::string key = "guest";
  c.Kill("n3");
  ClientPut put;
  put.id = RequestId{777};
  put.ns = "carts";
  put.key = key;
  put.value = "short-lived";
  put.ttl_ms = 1000;
  const std::string via =
      c.Pref(key).primaries[0].name == "n3" ? "n1" : c.Pref(key).primaries[0].name;
  ASSERT_EQ(c.Call<ClientPutReply>(via, put, put.id).code, StatusCode::kOk);
  c.Restart("n3");
  c.AdvanceClockOnly(5000);  // expired before any exchange ran
  c.Advance(20'000, 20);
  EXPECT_TRUE(c.Local("n3", key).empty());
  EXPECT_TRUE(c.engine("n3").Get(ObjectKey{"carts", key}).status().IsNotFound());
  // The holders re-hashed it away: the trees agree again, and stay so.
  EXPECT_TRUE(TreesAgree(c));
  EXPECT_EQ(c.node("n3").metrics().Value(metric::kAaeKeysRepaired), 0u);
}

TEST(NodeAaeTest, TombstoneCutoffWaitsForACleanExchangeWithEveryOtherReplica) {
  TestCluster c(3, 3, 2, 2, "union-max", EnableAae);
  const uint64_t key_hash = KeyHash("carts", "any");
  EXPECT_EQ(c.node("n1").TombstoneCutoffSnapshot()(key_hash), 0u);  // no exchange yet
  const uint64_t before = c.WallMs();
  c.Advance(20'000, 20);
  const uint64_t cutoff = c.node("n1").TombstoneCutoffSnapshot()(key_hash);
  EXPECT_GE(cutoff, before);
  EXPECT_LE(cutoff, c.WallMs());
  for (const AaePairStatus& s : c.node("n1").AaeStatus()) {
    EXPECT_GT(s.exchanges, 0u) << s.partition << " " << s.peer;
    EXPECT_GT(s.last_clean_exchange_ms, 0u);
  }
  // A peer that stops answering holds its partitions' cutoff back.
  c.Silence("n2");
  c.Advance(10'000, 20);
  EXPECT_LE(c.node("n1").TombstoneCutoffSnapshot()(key_hash), c.WallMs() - 9000);
}

// Goal: StatusReply carries the anti-entropy state per (partition, peer)
// that `trolley aae` prints, and it agrees with the node's counters.
// Method: n3 misses 40 writes; after two rounds of exchanges every node
// reports one entry per (partition, other replica), each with a clean
// exchange, and the keys repaired per pair add up to the counter.
TEST(NodeAaeTest, StatusReplyReportsEveryPartitionAndPeer) {
  TestCluster c(3, 3, 2, 2, "union-max", EnableAae);
  c.Kill("n3");
  for (int i = 0; i < 40; ++i) {
    const std::string k = "s" + std::to_string(i);
    const std::string via =
        c.Pref(k).primaries[0].name == "n3" ? "n1" : c.Pref(k).primaries[0].name;
    ASSERT_EQ(c.Put(via, k, "v").code, StatusCode::kOk);
  }
  c.Restart("n3");
  c.Advance(20'000, 20);
  uint64_t repaired_by_pairs = 0;
  uint64_t repaired_counters = 0;
  for (const char* n : {"n1", "n2", "n3"}) {
    const StatusReply st = c.StatusOf(n);
    ASSERT_TRUE(ValidateMessage(Message(st)).ok()) << ValidateMessage(Message(st)).ToString();
    // N = 3 on 3 nodes: every node replicates all 64 partitions with 2 peers.
    ASSERT_EQ(st.aae_pairs.size(), 64u * 2) << n;
    EXPECT_EQ(st.aae_pairs_total, st.aae_pairs.size());
    for (size_t i = 0; i < st.aae_pairs.size(); ++i) {
      const AaePairStatus& p = st.aae_pairs[i];
      EXPECT_EQ(p.partition, i / 2) << n;
      EXPECT_NE(p.peer, n);
      EXPECT_GT(p.exchanges, 0u) << n << " " << p.partition << " " << p.peer;
      EXPECT_GT(p.last_clean_exchange_ms, 0u);
      EXPECT_LE(p.last_clean_exchange_ms, p.last_exchange_ms);
      EXPECT_LE(p.last_exchange_ms, c.WallMs());
      repaired_by_pairs += p.keys_repaired;
    }
    repaired_counters += FindValue(st.counters, metric::kAaeKeysRepaired);
  }
  EXPECT_GE(repaired_by_pairs, 40u);
  EXPECT_EQ(repaired_by_pairs, repaired_counters);
}

TEST(NodeAaeTest, StatusReplyHasNoPairsWithAntiEntropyOff) {
  TestCluster c(3);
  c.Advance(2000, 20);
  const StatusReply st = c.StatusOf("n1");
  EXPECT_TRUE(st.aae_pairs.empty());
  EXPECT_EQ(st.aae_pairs_total, 0u);
}

// Goal: the engine's tree counters reach the counter registry. Method: 10
// keys on every node, n1 restarted: its new engine rebuilt its tree once,
// from the 10 index entries, and a tick copies that into the counters.
TEST(NodeAaeTest, TreeRebuildsShowInTheCounters) {
  TestCluster c(3, 3, 2, 2, "union-max", EnableAae);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(c.Put("n1", "t" + std::to_string(i), "v").code, StatusCode::kOk);
  }
  c.Advance(100, 20);
  c.Kill("n1");
  c.Restart("n1");
  const MetricRegistry& before = c.node("n1").metrics();
  EXPECT_EQ(before.Value(metric::kAaeTreeRebuilds), 0u);  // no tick yet
  c.Advance(100, 20);
  const MetricRegistry& m = c.node("n1").metrics();
  EXPECT_EQ(m.Value(metric::kAaeTreeRebuilds), 1u);
  EXPECT_EQ(m.Value(metric::kAaeTreeRebuiltKeys), 10u);
  EXPECT_EQ(m.Value(metric::kAaeTreeIndexFixed), 0u);
  c.Advance(100, 20);  // copied once, not again on every tick
  EXPECT_EQ(m.Value(metric::kAaeTreeRebuilds), 1u);
  EXPECT_EQ(FindValue(c.StatusOf("n1").counters, metric::kAaeTreeRebuiltKeys), 10u);
}

TEST(NodeAaeTest, AWipedReplicaGetsItsKeysBack) {
  TestCluster c(3, 3, 2, 2, "union-max", EnableAae);
  for (int i = 0; i < 30; ++i) {
    const std::string k = "w" + std::to_string(i);
    ASSERT_EQ(c.Put("n1", k, "v").code, StatusCode::kOk);
  }
  c.Kill("n2");
  c.WipeData("n2");
  c.Restart("n2");
  EXPECT_TRUE(c.Local("n2", "w0").empty());
  c.Advance(20'000, 20);
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(TestCluster::Values(c.Local("n2", "w" + std::to_string(i))),
              std::vector<std::string>{"v"});
  }
}

}  // namespace
}  // namespace trolley
