#include "simulation/simulator.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <utility>

#include "common/assert.h"
#include "ring/preference_list.h"

namespace trolley::sim {
namespace {

constexpr uint64_t kSettleMaxNs = 120'000 * kNsPerMs;
constexpr uint64_t kSettleStepNs = 10 * kNsPerMs;
constexpr uint64_t kAaeSettleStepNs = 250 * kNsPerMs;
constexpr uint64_t kFinalReadConn = 1'000'000;

std::string Names(const Cluster& c, const std::vector<int>& nodes) {
  std::string out = "{";
  for (size_t i = 0; i < nodes.size(); ++i) out += (i ? "," : "") + c.name(nodes[i]);
  return out + "}";
}

// The nemesis: faults at random moments of the fault phase (cluster.h
// describes each kind). Every fault it starts it also ends (a partition
// heals, a crashed node restarts, a pause resumes), and HealAll() ends them
// all at once.
class Nemesis {
 public:
  Nemesis(const SeedConfig& config, EventLoop& loop, Cluster& cluster, Trace& trace,
          SeedResult& result)
      : config_(config),
        loop_(loop),
        cluster_(cluster),
        trace_(trace),
        result_(result),
        rng_(SubSeed(config.seed, 5)) {}

  void Start(uint64_t until_ns) {
    until_ns_ = until_ns;
    ScheduleStep();
  }

  void HealAll() {
    ++partition_generation_;
    if (cluster_.AnyPartition()) Line("heal partitions");
    cluster_.HealPartitions();
    for (int i = 0; i < cluster_.size(); ++i) {
      if (!cluster_.up(i)) {
        cluster_.Restart(i);
      } else if (cluster_.paused(i)) {
        cluster_.Resume(i);
      }
      if (cluster_.up(i)) cluster_.DiskStall(i, 0);
    }
  }

 private:
  void Line(const std::string& text) {
    if (trace_.lines()) trace_.Line(loop_.now_ns(), "nemesis " + text);
  }

  void ScheduleStep() {
    loop_.After(rng_.Range(config_.nemesis_ms_min, config_.nemesis_ms_max) * kNsPerMs, [this] {
      if (loop_.now_ns() >= until_ns_) return;
      Step();
      ScheduleStep();
    });
  }

  std::vector<int> UpNodes(bool include_paused) const {
    std::vector<int> out;
    for (int i = 0; i < cluster_.size(); ++i) {
      if (cluster_.up(i) && (include_paused || !cluster_.paused(i))) out.push_back(i);
    }
    return out;
  }

  void Step() {
    std::vector<int> kinds;
    if (config_.partitions) kinds.insert(kinds.end(), 3, 0);
    if (config_.crashes) kinds.insert(kinds.end(), 2, 1);
    if (config_.pauses) kinds.push_back(2);
    if (config_.clock_jumps) kinds.push_back(3);
    if (config_.disk_stalls) kinds.push_back(4);
    if (config_.crashes) kinds.push_back(5);
    if (kinds.empty()) return;
    switch (kinds[rng_.Uniform(kinds.size())]) {
      case 0:
        return Partition();
      case 1:
        return Crash();
      case 2:
        return Pause();
      case 3:
        return ClockJump();
      case 4:
        return DiskStall();
      case 5:
        return DiskFault();
    }
  }

  void Partition() {
    if (cluster_.AnyPartition() || flapping_) return;
    const int n = cluster_.size();
    std::vector<int> perm(static_cast<size_t>(n));
    std::iota(perm.begin(), perm.end(), 0);
    for (size_t i = perm.size() - 1; i > 0; --i) std::swap(perm[i], perm[rng_.Uniform(i + 1)]);
    std::vector<std::pair<std::vector<int>, std::vector<int>>> blocks;  // (from, to)
    std::string shape;
    auto split = [&](size_t first, size_t k) {
      std::vector<int> a(perm.begin() + static_cast<std::ptrdiff_t>(first),
                         perm.begin() + static_cast<std::ptrdiff_t>(first + k));
      std::vector<int> b(perm.begin() + static_cast<std::ptrdiff_t>(first + k), perm.end());
      return std::make_pair(a, b);
    };
    const uint64_t kind = rng_.Uniform(5);
    if (kind == 0) {  // random halves
      auto [a, b] = split(0, rng_.Range(1, static_cast<uint64_t>(n - 1)));
      blocks = {{a, b}, {b, a}};
      shape = "halves " + Names(cluster_, a) + " | " + Names(cluster_, b);
    } else if (kind == 1) {  // majority / minority
      auto [a, b] = split(0, static_cast<size_t>((n - 1) / 2));
      blocks = {{a, b}, {b, a}};
      shape = "minority " + Names(cluster_, a) + " | majority " + Names(cluster_, b);
    } else if (kind == 2) {  // one node isolated
      auto [a, b] = split(0, 1);
      blocks = {{a, b}, {b, a}};
      shape = "isolated " + Names(cluster_, a);
    } else if (kind == 3) {  // bridge: perm[0] talks to both sides, the sides not to each other
      auto [a, b] = split(1, rng_.Range(1, static_cast<uint64_t>(n - 2)));
      blocks = {{a, b}, {b, a}};
      shape = "bridge " + Names(cluster_, a) + " <" + cluster_.name(perm[0]) + "> " +
              Names(cluster_, b);
    } else {  // one way: a's messages to b vanish, b's to a arrive
      auto [a, b] = split(0, rng_.Range(1, static_cast<uint64_t>(n - 1)));
      blocks = {{a, b}};
      shape = "one-way " + Names(cluster_, a) + " -/-> " + Names(cluster_, b);
    }
    ++result_.partitions;
    const uint64_t generation = ++partition_generation_;
    const uint64_t duration_ns = rng_.Range(300, 5000) * kNsPerMs;
    if (rng_.Chance(0.25)) {  // flapping
      flapping_ = true;
      Line("flapping " + shape + " for " + std::to_string(duration_ns / kNsPerMs) + " ms");
      Flap(generation, blocks, true, loop_.now_ns() + duration_ns);
      return;
    }
    Line("partition " + shape + " for " + std::to_string(duration_ns / kNsPerMs) + " ms");
    trace_.Event(kTraceFault, 10, generation, kind);
    for (const auto& [from, to] : blocks) cluster_.Block(from, to);
    loop_.After(duration_ns, [this, generation] {
      if (generation != partition_generation_) return;
      Line("heal partition");
      trace_.Event(kTraceFault, 11, generation);
      cluster_.HealPartitions();
    });
  }

  void Flap(uint64_t generation, std::vector<std::pair<std::vector<int>, std::vector<int>>> blocks,
            bool on, uint64_t end_ns) {
    if (generation != partition_generation_) {
      flapping_ = false;
      return;
    }
    trace_.Event(kTraceFault, 12, generation, on);
    cluster_.HealPartitions();
    if (on && loop_.now_ns() < end_ns) {
      for (const auto& [from, to] : blocks) cluster_.Block(from, to);
    }
    if (loop_.now_ns() >= end_ns) {
      flapping_ = false;
      Line("flapping ends");
      return;
    }
    loop_.After(rng_.Range(20, 500) * kNsPerMs,
                [this, generation, blocks = std::move(blocks), on, end_ns]() mutable {
                  Flap(generation, std::move(blocks), !on, end_ns);
                });
  }

  void Crash() {
    std::vector<int> up = UpNodes(true);
    if (up.size() <= 1) return;  // keep one node running
    const int victim = up[rng_.Uniform(up.size())];
    const uint64_t down_ns = rng_.Range(50, 5000) * kNsPerMs;
    if (rng_.Chance(0.1)) {
      Line("clean restart " + cluster_.name(victim));
      cluster_.CleanStop(victim);
      if (rng_.Chance(0.5)) TakeDiskCopy(victim, "cold");  // of a cleanly stopped dir
    } else {
      const bool power = config_.power_loss && rng_.Chance(0.5);
      ++result_.crashes;
      if (power) ++result_.power_losses;
      Line(std::string(power ? "power loss " : "kill ") + cluster_.name(victim) + " for " +
           std::to_string(down_ns / kNsPerMs) + " ms");
      cluster_.Crash(victim, power);
    }
    loop_.After(down_ns, [this, victim] {
      if (!cluster_.up(victim)) cluster_.Restart(victim);
    });
  }

  // A copy of a node's disk as it is now, for a later restore: "hot" (an
  // mdb_copy of a running env: what is committed, not marked clean) or
  // "cold" (of a cleanly stopped dir: marked clean). What is committed is
  // all of it: the copy is written and synced by whoever makes it.
  void TakeDiskCopy(int node, const char* kind) {
    SimDisk copy = cluster_.disk(node);
    copy.undo_objects.clear();
    copy.undo_hints.clear();
    copy.undo_floors.reset();
    ++result_.disk_copies;
    Line(std::string(kind) + " copy of " + cluster_.name(node) + "'s disk (" +
         std::to_string(copy.objects.size()) + " objects)");
    disk_copies_[node] = std::move(copy);
  }

  // Disk faults: a node is killed and comes back on an empty disk (a
  // replaced disk, an operator's rm -rf) or on an older copy of its own
  // disk (a restore from backup); or a copy is taken for a later restore.
  // Writes the old disk alone held are lost with it (the power-loss hook
  // excuses them); one another disk still holds must survive.
  void DiskFault() {
    std::vector<int> up = UpNodes(true);
    if (up.size() <= 1) return;  // keep one node running
    const uint64_t kind = rng_.Uniform(3);
    if (kind == 2) std::erase_if(up, [this](int i) { return !disk_copies_.contains(i); });
    const int victim = up.empty() ? -1 : up[rng_.Uniform(up.size())];
    if (kind == 0 || victim < 0) {
      const std::vector<int> all = UpNodes(true);
      TakeDiskCopy(all[rng_.Uniform(all.size())], "hot");
      return;
    }
    const uint64_t down_ns = rng_.Range(50, 5000) * kNsPerMs;
    ++result_.crashes;
    cluster_.Crash(victim, /*power_loss=*/false);
    if (kind == 1) {
      ++result_.disks_lost;
      Line("disk lost: " + cluster_.name(victim) + " restarts empty in " +
           std::to_string(down_ns / kNsPerMs) + " ms");
      cluster_.ReplaceDisk(victim, SimDisk{});
    } else {
      ++result_.disks_restored;
      Line("restore: " + cluster_.name(victim) + " restarts from an older copy of its disk in " +
           std::to_string(down_ns / kNsPerMs) + " ms");
      cluster_.ReplaceDisk(victim, disk_copies_.at(victim));
    }
    loop_.After(down_ns, [this, victim] {
      if (!cluster_.up(victim)) cluster_.Restart(victim);
    });
  }

  void Pause() {
    std::vector<int> up = UpNodes(false);
    if (up.empty()) return;
    const int victim = up[rng_.Uniform(up.size())];
    const uint64_t ns = rng_.Range(20, 3000) * kNsPerMs;
    ++result_.pauses;
    Line("pause " + cluster_.name(victim) + " for " + std::to_string(ns / kNsPerMs) + " ms");
    cluster_.Pause(victim);
    const uint32_t life = cluster_.life(victim);
    loop_.After(ns, [this, victim, life] {
      if (cluster_.life(victim) == life) cluster_.Resume(victim);
    });
  }

  void ClockJump() {
    const int victim = static_cast<int>(rng_.Uniform(static_cast<uint64_t>(cluster_.size())));
    const int64_t ms = static_cast<int64_t>(rng_.Range(1, 600'000)) * (rng_.Chance(0.5) ? 1 : -1);
    ++result_.clock_jumps;
    cluster_.ClockJump(victim, ms);
  }

  void DiskStall() {
    std::vector<int> up = UpNodes(true);
    if (up.empty()) return;
    const int victim = up[rng_.Uniform(up.size())];
    ++result_.disk_stalls;
    cluster_.DiskStall(victim, loop_.now_ns() + rng_.Range(20, 2000) * kNsPerMs);
  }

  const SeedConfig& config_;
  EventLoop& loop_;
  Cluster& cluster_;
  Trace& trace_;
  SeedResult& result_;
  Random rng_;
  uint64_t until_ns_ = 0;
  uint64_t partition_generation_ = 0;
  bool flapping_ = false;
  std::map<int, SimDisk> disk_copies_;  // the latest copy of each node's disk
};

SiblingSet LocalState(Cluster& cluster, int node, const ObjectKey& key) {
  auto r = cluster.engine(node)->Get(key);
  return r.ok() ? std::move(r).value() : SiblingSet();
}

std::vector<int> Primaries(Cluster& cluster, const SeedConfig& config, const ObjectKey& key) {
  uint32_t n = 0;
  for (const SimNamespace& ns : config.namespaces) {
    if (ns.name == key.ns) n = ns.n;
  }
  std::vector<int> out;
  for (const NodeId& p : PreferenceListForKey(cluster.ring(), key.ns, key.key, n).primaries) {
    out.push_back(cluster.IndexOf(p.name));
  }
  return out;
}

bool Converged(Cluster& cluster, const SeedConfig& config, const ObjectKey& key) {
  const std::vector<int> primaries = Primaries(cluster, config, key);
  const SiblingSet first = LocalState(cluster, primaries[0], key);
  for (size_t i = 1; i < primaries.size(); ++i) {
    if (!(LocalState(cluster, primaries[i], key) == first)) return false;
  }
  return true;
}

// Runs until the cluster is quiet (and the devices idle); false at `limit_ns`.
bool RunUntilQuiet(EventLoop& loop, Cluster& cluster, Workload& workload, uint64_t limit_ns) {
  while (!(workload.Idle() && cluster.Quiet())) {
    if (loop.now_ns() >= limit_ns) return false;
    loop.RunUntil(loop.now_ns() + kSettleStepNs);
  }
  return true;
}

// With anti-entropy on: runs, quiet step after quiet step, until every
// key's replicas agree (the exchanges, never a read, repaired them) or
// `limit_ns`. Keys still differing then count as needing the final read.
void RunUntilAaeConverged(EventLoop& loop, Cluster& cluster, Workload& workload,
                          const SeedConfig& config, const std::vector<ObjectKey>& keys,
                          uint64_t limit_ns) {
  const auto all_converged = [&] {
    return std::all_of(keys.begin(), keys.end(),
                       [&](const ObjectKey& key) { return Converged(cluster, config, key); });
  };
  while (!all_converged() && loop.now_ns() < limit_ns) {
    loop.RunUntil(loop.now_ns() + kAaeSettleStepNs);
    RunUntilQuiet(loop, cluster, workload, limit_ns);
  }
}

CartSemantics SemanticsOf(const SeedConfig& config, const std::string& ns) {
  for (const SimNamespace& n : config.namespaces) {
    if (n.name == ns) return n.semantics;
  }
  TROLLEY_ASSERT(false);
  return CartSemantics::kUnionMax;
}

// Whether `cart` holds every removal that mutation `id` may have made (its
// context covers each tag it observed); true when `id` removed nothing.
// One exception in an OR-Set cart: a set whose own contribution is not
// live here while a tag it removed is live may be in this context only
// because a later remove observed (named) its contribution, without the set
// itself ever being applied here: that copy does not hold its removals.
bool HoldsRemovalsOf(const CartHistory& history, uint64_t id, const CartState& cart) {
  const auto m = history.mutations.find(id);
  if (m == history.mutations.end() || !m->second.IsKiller()) return true;
  auto live = [&](uint64_t tag) {
    return std::any_of(cart.lines().begin(), cart.lines().end(),
                       [tag](const auto& line) { return line.second.contains(tag); });
  };
  const bool only_named =
      cart.semantics() == CartSemantics::kOrSet && m->second.IsContribution() && !live(id);
  for (uint64_t tag : m->second.MaybeObserved()) {
    if (tag == id) continue;
    if (!cart.context().Covers(tag) || (only_named && live(tag))) return false;
  }
  return true;
}

// The mutations a stored state carries: the context of every cart sibling
// (every id applied, live, removed or named by a removal: cart_state.h).
// With `history`, a removal counts only when the state also holds what it
// removed (an OR-Set set whose tag a later remove took may be all that is
// left of it, while its own removals were lost with another disk).
void MutationIds(const SiblingSet& state, CartSemantics semantics, std::set<uint64_t>& out,
                 const CartHistory* history = nullptr) {
  for (const Sibling& s : state.siblings()) {
    if (s.tombstone) continue;
    auto cart = CartState::Decode(s.value, semantics);
    if (!cart.ok()) continue;
    for (const uint64_t id : cart->context().Ids()) {
      if (history == nullptr || HoldsRemovalsOf(*history, id, *cart)) out.insert(id);
    }
  }
}

// Every mutation of `key` node `node`'s disk holds where the cluster can
// still find it: as a replica's object or as a hint, except hints for
// `lost_node` (a node outside the preference list that coordinated a put
// keeps an object too, but nothing ever reads it).
std::set<uint64_t> HeldMutations(Cluster& cluster, int node, bool replica, const ObjectKey& key,
                                 CartSemantics semantics, const std::string& lost_node,
                                 const CartHistory* history) {
  std::set<uint64_t> out;
  const SimDisk& disk = cluster.disk(node);
  if (auto it = disk.objects.find(key); replica && it != disk.objects.end()) {
    MutationIds(it->second, semantics, out, history);
  }
  for (const auto& [hk, hint] : disk.hints) {
    if (hk.key == key && hk.target != lost_node) MutationIds(hint.state, semantics, out, history);
  }
  return out;
}

// After a power loss on `node`: the mutations it forgot that no disk holds
// any more are lost to the flush window (checker.h). Hints for `node` do not
// count: a hint is deleted only once `node` has it on disk (a durable
// hint delivery), so one still held will deliver the mutation again, and
// then it is not lost at all.
void NoteLostToPowerLoss(Cluster& cluster, const SeedConfig& config, History& history, int node,
                         const std::vector<KeyState>& before) {
  for (const KeyState& ks : before) {
    const CartSemantics semantics = SemanticsOf(config, ks.key.ns);
    std::set<uint64_t> forgotten;
    MutationIds(ks.state, semantics, forgotten);
    if (forgotten.empty()) continue;
    const auto h = history.carts().find(ks.key);
    const CartHistory* cart = h == history.carts().end() ? nullptr : &h->second;
    const std::vector<int> primaries = Primaries(cluster, config, ks.key);
    for (int j = 0; j < cluster.size() && !forgotten.empty(); ++j) {
      const bool replica = std::find(primaries.begin(), primaries.end(), j) != primaries.end();
      for (uint64_t id :
           HeldMutations(cluster, j, replica, ks.key, semantics, cluster.name(node), cart)) {
        forgotten.erase(id);
      }
    }
    for (uint64_t id : forgotten) history.NoteLostToPowerLoss(ks.key, id);
  }
}

// Step 5 for one key: its primaries hold one state, and its cart keeps
// every acknowledged write (History::Check); the merged state goes into the
// trace.
void CheckFinalKey(Cluster& cluster, const SeedConfig& config, History& history, Trace& trace,
                   const EventLoop& loop, const ObjectKey& key, SeedResult& result) {
  const std::vector<int> primaries = Primaries(cluster, config, key);
  SiblingSet merged;
  bool converged = true;
  const SiblingSet first = LocalState(cluster, primaries[0], key);
  for (int p : primaries) {
    SiblingSet s = LocalState(cluster, p, key);
    if (!(s == first)) converged = false;
    merged.Merge(s);
  }
  if (!converged) {
    std::string states;
    for (int p : primaries)
      states += " " + cluster.name(p) + ":" + cluster.Describe(LocalState(cluster, p, key));
    result.failures.push_back("replicas of " + key.ns + "/" + key.key +
                              " differ after settling and the final read:" + states);
  }
  trace.Event(kTraceFinal, merged.size(), merged.context().size());
  trace.MixString(cluster.Describe(merged));
  const CartSemantics semantics = SemanticsOf(config, key.ns);
  std::vector<CartState> carts;
  bool decoded = true;
  for (const Sibling& s : merged.siblings()) {
    if (s.tombstone) continue;
    auto cart = CartState::Decode(s.value, semantics);
    if (!cart.ok()) {
      decoded = false;
      result.failures.push_back(key.ns + "/" + key.key +
                                " final value does not decode: " + cart.status().ToString());
      break;
    }
    carts.push_back(std::move(*cart));
  }
  if (!decoded) return;
  const CartState final_cart = CartState::Merge(semantics, carts);
  if (trace.lines()) {
    trace.Line(loop.now_ns(), "final " + key.ns + "/" + key.key + " " + cluster.Describe(merged) +
                                  " cart: " + final_cart.DebugString());
  }
  history.Check(key, final_cart, result.check);
}

}  // namespace

SeedResult RunSeed(uint64_t seed, const SimOptions& options) {
  SeedResult result;
  result.seed = seed;
  SeedConfig config = ChooseConfig(seed, options.scale);
  config.aae = options.aae;
  result.config = config.Describe();

  EventLoop loop;
  Trace trace(options.trace_sink);
  trace.MixString(result.config);
  if (trace.lines())
    trace.Line(0, "seed " + std::to_string(seed) +
                      " bug=" + std::string(PlantedBugName(options.bug)) + " " + result.config);
  History history;

  Cluster cluster(config, options.bug, loop, trace);
  cluster.set_on_power_loss([&](int node, const std::vector<KeyState>& before) {
    NoteLostToPowerLoss(cluster, config, history, node, before);
  });
  Workload workload(config, loop, trace, cluster, history);
  cluster.set_client_hooks(Cluster::ClientHooks{
      [&workload](uint64_t conn, Message m) { workload.Deliver(conn, std::move(m)); },
      [&workload](uint64_t conn, int node) { workload.ConnectionFailed(conn, node); },
      [&workload](int node) { workload.NodeCrashed(node); },
  });
  Nemesis nemesis(config, loop, cluster, trace, result);

  // 1. faults
  cluster.Start();
  const uint64_t heal_at = config.workload_ms * kNsPerMs;
  workload.Start(heal_at);
  nemesis.Start(heal_at);
  loop.RunUntil(heal_at);

  // 2. heal
  if (trace.lines())
    trace.Line(loop.now_ns(), "heal: faults end, no more loss or slow messages; settling");
  nemesis.HealAll();
  cluster.set_loss_p(0);
  cluster.set_tail_p(0);

  // 3. settle
  result.settled = RunUntilQuiet(loop, cluster, workload, heal_at + kSettleMaxNs);
  result.settle_ms = (loop.now_ns() - heal_at) / kNsPerMs;
  if (!result.settled) {
    result.failures.push_back("did not settle within " + std::to_string(kSettleMaxNs / kNsPerMs) +
                              " ms of the heal: " + cluster.WhyNotQuiet() +
                              (workload.Idle() ? "" : "; devices still busy"));
  }
  const std::vector<ObjectKey> keys = workload.Keys();
  result.keys = keys.size();
  if (config.aae && result.settled) {
    RunUntilAaeConverged(loop, cluster, workload, config, keys, heal_at + kSettleMaxNs);
    result.settle_ms = (loop.now_ns() - heal_at) / kNsPerMs;
  }
  for (const ObjectKey& key : keys) {
    if (!Converged(cluster, config, key)) ++result.keys_needing_read;
  }

  // 4. final read of every key, through a coordinator (read repair)
  if (trace.lines())
    trace.Line(loop.now_ns(), "final read of " + std::to_string(keys.size()) + " keys");
  uint64_t id = 0;
  for (const ObjectKey& key : keys) {
    const int coordinator = Primaries(cluster, config, key)[0];
    cluster.ClientSend(kFinalReadConn, coordinator,
                       ClientGet{.id = RequestId{++id}, .ns = key.ns, .key = key.key});
  }
  loop.RunUntil(loop.now_ns() + kSettleStepNs);
  if (!RunUntilQuiet(loop, cluster, workload, loop.now_ns() + kSettleMaxNs) && result.settled) {
    result.failures.push_back("did not quiesce after the final read: " + cluster.WhyNotQuiet());
  }

  // 5. check
  cluster.CheckInvariants();  // every node, whatever the last events touched
  for (const std::string& f : workload.stats().failures) result.failures.push_back(f);
  for (const ObjectKey& key : keys)
    CheckFinalKey(cluster, config, history, trace, loop, key, result);
  result.check.bought_read_again = history.bought_read_again();
  for (std::string& f : result.check.failures) result.failures.push_back(std::move(f));

  result.workload = workload.stats();
  result.net = cluster.net_stats();
  result.nodes = cluster.TotalNodeCounters();
  result.put_latency = cluster.TotalNodeLatency(metric::kPutLatencyUs);
  result.get_latency = cluster.TotalNodeLatency(metric::kGetLatencyUs);
  result.stale_reply_hazards = cluster.stale_reply_hazards();
  result.stale_replies = cluster.stale_replies();
  result.sim_ms = loop.now_ms();
  result.events = loop.events_run();
  trace.Event(kTraceFinal, result.failures.size(), result.sim_ms);
  result.trace_hash = trace.Digest();
  return result;
}

}  // namespace trolley::sim
