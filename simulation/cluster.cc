#include "simulation/cluster.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "common/assert.h"
#include "common/key.h"

namespace trolley::sim {
namespace {

constexpr uint64_t kTickNs = 5 * kNsPerMs;  // trolleyd's tick interval
constexpr uint64_t kUnreachableQuietNs = 50 * kNsPerMs;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};

uint64_t MessageIdOf(const Message& m) {
  return std::visit(
      [](const auto& x) -> uint64_t {
        if constexpr (requires { x.id; }) {
          return x.id.value;
        } else {
          return 0;
        }
      },
      m);
}

bool IsPeerRequest(const Message& m) {
  return std::holds_alternative<ReplicaWrite>(m) || std::holds_alternative<ReplicaGet>(m) ||
         std::holds_alternative<ClientPut>(m) || std::holds_alternative<ClientGet>(m);
}
bool IsPeerReply(const Message& m) {
  return std::holds_alternative<ReplicaWriteReply>(m) ||
         std::holds_alternative<ReplicaGetReply>(m) || std::holds_alternative<ClientPutReply>(m) ||
         std::holds_alternative<ClientGetReply>(m);
}

std::string KeyOf(const Message& m) {
  return std::visit(
      [](const auto& x) -> std::string {
        if constexpr (requires {
                        x.ns;
                        x.key;
                      }) {
          return x.ns + "/" + x.key;
        } else {
          return "";
        }
      },
      m);
}

}  // namespace

std::string Cluster::ActorName(ActorId actor) const {
  auto it = actor_names_.find(actor);
  return it != actor_names_.end() ? it->second : std::to_string(actor);
}

std::string Cluster::Describe(const SiblingSet& s) const {
  std::string out = "{";
  for (size_t i = 0; i < s.context().entries().size(); ++i) {
    const auto& e = s.context().entries()[i];
    out += (i ? "," : "") + ActorName(e.actor) + ":" + std::to_string(e.counter);
  }
  out += "}[";
  for (size_t i = 0; i < s.siblings().size(); ++i) {
    const Sibling& sib = s.siblings()[i];
    out += (i ? " " : "") + ActorName(sib.dot.actor) + ":" + std::to_string(sib.dot.counter) +
           (sib.tombstone ? " tombstone" : "") + " w=" + std::to_string(sib.write_id);
  }
  return out + "]";
}

std::string Cluster::Describe(const Message& m) const {
  std::string out(MessageName(m));
  out += " id=" + std::to_string(MessageIdOf(m));
  const std::string key = KeyOf(m);
  if (!key.empty()) out += " " + key;
  std::visit(
      Overloaded{
          [&](const ClientPut& x) {
            out += " write_id=" + std::to_string(x.write_id) +
                   " ctx=" + Describe(SiblingSet::FromParts(x.context, {}).value());
          },
          [&](const ClientPutReply& x) {
            out += " " + std::string(StatusCodeName(x.code)) + " " + Describe(x.state);
          },
          [&](const ClientGetReply& x) {
            out += " " + std::string(StatusCodeName(x.code)) + " " + Describe(x.state);
          },
          [&](const ReplicaWrite& x) {
            out += " " + Describe(x.state);
            if (!x.hint_for.empty()) out += " hint_for=" + x.hint_for;
            if (x.durable) out += " durable";
          },
          [&](const ReplicaWriteReply& x) { out += " " + std::string(StatusCodeName(x.code)); },
          [&](const ReplicaGetReply& x) {
            out += " " + std::string(StatusCodeName(x.code)) + " " + Describe(x.state);
          },
          [](const auto&) {},
      },
      m);
  return out;
}

// ---- per-node plumbing ----

class Cluster::NodeTransport final : public Transport {
 public:
  NodeTransport(Cluster& cluster, int self) : cluster_(cluster), self_(self) {}
  void Send(const Endpoint& to, Message message) override {
    cluster_.SendFromNode(self_, to, std::move(message));
  }

 private:
  Cluster& cluster_;
  int self_;
};

class Cluster::NodeLogger final : public Logger {
 public:
  NodeLogger(Cluster& cluster, int self) : cluster_(cluster), self_(self) {}
  void Log(LogLevel, std::string_view line) override {
    if (cluster_.trace_.lines()) {
      cluster_.TraceLine(cluster_.name(self_) + " log " + std::string(line));
    }
  }

 private:
  Cluster& cluster_;
  int self_;
};

struct Cluster::SimNode {
  SimNode(const EventLoop& loop, uint64_t boot_ns, int64_t offset_ms)
      : clock(loop, boot_ns, offset_ms) {}
  std::string name;
  SimClock clock;
  SimDisk disk;
  std::unique_ptr<NodeTransport> transport;
  std::unique_ptr<NodeLogger> logger;
  std::unique_ptr<SimEngine> engine;
  std::unique_ptr<Random> random;
  std::unique_ptr<Node> node;
  uint32_t life = 0;
  uint32_t tick_generation = 0;
  bool up = false;
  bool paused = false;
  // Its Node ran during the current event (CheckTouchedInvariants).
  bool touched = false;
  Activity activity = Activity::kOther;
  std::vector<std::function<void()>> deferred;  // arrived while paused
};

template <class Fn>
void Cluster::RunOnNode(int i, uint32_t life, Fn&& fn) {
  SimNode& n = *nodes_[static_cast<size_t>(i)];
  if (n.life != life || !n.up) return;
  if (n.paused) {
    n.deferred.emplace_back(std::forward<Fn>(fn));
    return;
  }
  n.touched = true;
  fn();
}

Cluster::Cluster(const SeedConfig& config, PlantedBug bug, EventLoop& loop, Trace& trace)
    : config_(config),
      bug_(bug),
      loop_(loop),
      trace_(trace),
      net_rng_(SubSeed(config.seed, 2)),
      disk_rng_(SubSeed(config.seed, 3)),
      ring_(Ring::Build({NodeId{"n1"}}, 64).value()),
      loss_p_(config.loss_p),
      tail_p_(config.tail_p) {
  Random rng(SubSeed(config.seed, 4));
  std::vector<NodeId> members;
  for (uint32_t i = 0; i < config.nodes; ++i) {
    auto n = std::make_unique<SimNode>(loop_, rng.Range(1, 1'000'000) * kNsPerMs,
                                       static_cast<int64_t>(rng.Range(0, 4000)) - 2000);
    n->name = "n" + std::to_string(i + 1);
    n->transport = std::make_unique<NodeTransport>(*this, static_cast<int>(i));
    n->logger = std::make_unique<NodeLogger>(*this, static_cast<int>(i));
    members.push_back(NodeId{n->name});
    nodes_.push_back(std::move(n));
  }
  ring_ = Ring::Build(members, 64).value();
  blocked_.assign(nodes_.size(), std::vector<bool>(nodes_.size(), false));
  unreachable_quiet_until_ns_.assign(nodes_.size(), std::vector<uint64_t>(nodes_.size(), 0));
  loop_.set_after_event([this] { CheckTouchedInvariants(); });
}

Cluster::~Cluster() {
  loop_.set_after_event(nullptr);
  for (auto& n : nodes_) {
    n->node.reset();
    n->engine.reset();
  }
}

void Cluster::CheckInvariants() const {
  for (const auto& n : nodes_) {
    if (n->node) n->node->CheckInvariants();
  }
}

void Cluster::CheckTouchedInvariants() {
  // A Node changes only while it runs: a message, a tick, an engine
  // callback, an unreachable peer, all through RunOnNode or Tick, which
  // mark it touched. The others' invariants held after the event that last
  // touched them and still hold (time only moves forward, which none of
  // them is hurt by); checking every node after every event doubled the
  // sweep's wall time. A full check every kFullCheckEvents events and at
  // the end of a run backs that argument up.
  constexpr uint64_t kFullCheckEvents = 4096;
  if (++events_since_full_check_ >= kFullCheckEvents) {
    events_since_full_check_ = 0;
    CheckInvariants();
    for (auto& n : nodes_) n->touched = false;
    return;
  }
  for (auto& n : nodes_) {
    if (!n->touched) continue;
    n->touched = false;
    if (n->node) n->node->CheckInvariants();
  }
}

const std::string& Cluster::name(int node) const { return nodes_[static_cast<size_t>(node)]->name; }
bool Cluster::up(int node) const { return nodes_[static_cast<size_t>(node)]->up; }
bool Cluster::paused(int node) const { return nodes_[static_cast<size_t>(node)]->paused; }
Node* Cluster::node(int i) { return nodes_[static_cast<size_t>(i)]->node.get(); }
SimEngine* Cluster::engine(int i) { return nodes_[static_cast<size_t>(i)]->engine.get(); }
SimDisk& Cluster::disk(int i) { return nodes_[static_cast<size_t>(i)]->disk; }
SimClock& Cluster::clock(int i) { return nodes_[static_cast<size_t>(i)]->clock; }
uint32_t Cluster::life(int i) const { return nodes_[static_cast<size_t>(i)]->life; }

int Cluster::IndexOf(const std::string& name) const {
  // Names are "n<i+1>".
  if (name.size() >= 2 && name[0] == 'n') {
    int i = 0;
    for (size_t k = 1; k < name.size(); ++k) {
      if (name[k] < '0' || name[k] > '9') return -1;
      i = i * 10 + (name[k] - '0');
    }
    if (i >= 1 && i <= size()) return i - 1;
  }
  return -1;
}

void Cluster::TraceLine(const std::string& text) { trace_.Line(loop_.now_ns(), text); }

void Cluster::Start() {
  for (int i = 0; i < size(); ++i) Restart(i);
}

// ---- lifecycle ----

void Cluster::Restart(int i) {
  SimNode& n = *nodes_[i];
  TROLLEY_ASSERT(!n.up);
  const uint32_t life = ++n.life;
  SimEngine::Env env;
  env.clock = &n.clock;
  env.schedule = [this, i, life](uint64_t at_ns, std::function<void()> fn) {
    loop_.At(at_ns, [this, i, life, fn = std::move(fn)]() mutable {
      RunOnNode(i, life, [this, i, fn = std::move(fn)] {
        nodes_[static_cast<size_t>(i)]->activity = Activity::kOther;
        fn();
      });
    });
  };
  env.now_ns = [this] { return loop_.now_ns(); };
  env.commit_latency_ns = [this] {
    return disk_rng_.Range(config_.commit_us_min, config_.commit_us_max) * kNsPerUs;
  };
  env.on_commit = [this, i](size_t ops) {
    trace_.Event(kTraceCommit, static_cast<uint64_t>(i), ops);
    if (trace_.lines()) TraceLine(name(i) + " commit ops=" + std::to_string(ops));
  };
  env.on_fsync = [this, i] {
    trace_.Event(kTraceCommit, static_cast<uint64_t>(i), 0);
    if (trace_.lines()) TraceLine(name(i) + " fsync");
  };
  env.random_epoch = [rng = std::make_shared<Random>(SubSeed(
                          config_.seed, 7'000'000 + static_cast<uint64_t>(i) * 1000 + life))] {
    return rng->Next();
  };
  SimEngineOptions eo;
  eo.durability = config_.durability;
  eo.bug = bug_;
  n.engine = std::make_unique<SimEngine>(n.disk, eo, std::move(env));
  n.random = std::make_unique<Random>(
      SubSeed(config_.seed, 1000 + static_cast<uint64_t>(i) * 1000 + life));

  NodeOptions no;
  no.node_id = n.name;
  for (const SimNamespace& ns : config_.namespaces) {
    no.namespaces.push_back(NamespaceOptions{ns.name, ns.n, ns.r, ns.w, 0,
                                             std::string(CartSemanticsName(ns.semantics))});
  }
  no.replica_timeout_ms = config_.replica_timeout_ms;
  no.ping_interval_ms = config_.ping_interval_ms;
  no.hint_delivery_interval_ms = config_.hint_interval_ms;
  no.hint_backoff_max_ms = config_.hint_backoff_max_ms;
  no.hint_batch_max = config_.hint_batch_max;
  no.hints_max = config_.hints_max;
  no.aae_enabled = config_.aae;
  no.aae_interval_ms = config_.aae_interval_ms;
  no.aae_exchange_timeout_ms = config_.aae_exchange_timeout_ms;
  NodeEnv ne{n.transport.get(), &n.clock, n.engine.get(), n.random.get(), n.logger.get()};
  auto created = Node::Create(std::move(no), ne, ring_);
  TROLLEY_ASSERT_MSG(created.ok(), created.status().ToString());
  n.node = std::move(created).value();
  n.touched = true;
  actor_names_[n.node->actor()] = n.name + "." + std::to_string(life);
  n.up = true;
  n.paused = false;
  for (auto& q : unreachable_quiet_until_ns_) q[i] = 0;
  trace_.Event(kTraceFault, 1, static_cast<uint64_t>(i), life, n.engine->incarnation());
  if (trace_.lines()) {
    TraceLine(n.name + " start life=" + std::to_string(life) +
              " incarnation=" + std::to_string(n.engine->incarnation()) +
              " actor=" + std::to_string(n.node->actor()));
  }
  ScheduleTick(i);
  if (config_.durability == Durability::kFlush) ScheduleFsync(i);
}

void Cluster::ScheduleTick(int i) {
  SimNode& n = *nodes_[static_cast<size_t>(i)];
  const uint32_t life = n.life;
  const uint32_t generation = ++n.tick_generation;
  // A random phase per start, so nodes do not tick in lockstep.
  loop_.After(net_rng_.Range(1, kTickNs),
              [this, i, life, generation] { Tick(i, life, generation); });
}

void Cluster::Tick(int i, uint32_t life, uint32_t generation) {
  SimNode& n = *nodes_[static_cast<size_t>(i)];
  // A pause stops the ticks (Resume starts a new series); a restart too.
  if (n.life != life || !n.up || n.paused || n.tick_generation != generation) return;
  n.activity = Activity::kTick;
  n.touched = true;
  if (bug_ == PlantedBug::kOverwriteRepair) n.engine->set_repair_merges(true);
  n.node->Tick();
  if (n.engine) n.engine->set_repair_merges(false);
  n.activity = Activity::kOther;
  loop_.After(kTickNs, [this, i, life, generation] { Tick(i, life, generation); });
}

void Cluster::ScheduleFsync(int i) {
  const uint32_t life = nodes_[i]->life;
  loop_.After(config_.flush_interval_ms * kNsPerMs, [this, i, life] {
    SimNode& n = *nodes_[i];
    if (n.life != life || !n.up) return;
    if (!n.paused) n.engine->Fsync();  // the flusher is paused with the process
    ScheduleFsync(i);
  });
}

void Cluster::Crash(int i, bool power_loss) {
  SimNode& n = *nodes_[i];
  if (!n.up) return;
  trace_.Event(kTraceFault, 2, static_cast<uint64_t>(i), n.life, power_loss);
  if (trace_.lines()) {
    TraceLine(n.name + (power_loss ? " crash (power loss: back to the last fsync)"
                                   : " crash (process: committed data kept)"));
  }
  RetireStats(i);
  n.node.reset();
  n.engine.reset();  // queued and committing writes are gone with their callbacks
  if (power_loss) {
    std::vector<KeyState> before;
    if (on_power_loss_) {
      for (const auto& [key, durable] : n.disk.undo_objects) {
        if (auto it = n.disk.objects.find(key); it != n.disk.objects.end())
          before.push_back(KeyState{key, it->second});
      }
      for (const auto& [key, durable] : n.disk.undo_hints) {
        if (auto it = n.disk.hints.find(key); it != n.disk.hints.end()) {
          before.push_back(KeyState{it->second.key, it->second.state});
        }
      }
    }
    n.disk.PowerLoss();
    ++power_losses_;
    if (on_power_loss_) on_power_loss_(i, before);
  }
  n.up = false;
  n.paused = false;
  n.deferred.clear();
  ForgetUnanswered(i);
  ++n.life;  // nothing of the dead life may run
  if (client_.node_crashed) client_.node_crashed(i);
}

void Cluster::ReplaceDisk(int i, SimDisk disk) {
  SimNode& n = *nodes_[i];
  TROLLEY_ASSERT(!n.up);
  trace_.Event(kTraceFault, 4, static_cast<uint64_t>(i), n.life, disk.objects.size());
  if (trace_.lines()) {
    TraceLine(n.name + " disk replaced (" + std::to_string(n.disk.objects.size()) + " objects, " +
              std::to_string(n.disk.hints.size()) + " hints -> " +
              std::to_string(disk.objects.size()) + " objects, " +
              std::to_string(disk.hints.size()) + " hints)");
  }
  std::vector<KeyState> before;
  if (on_power_loss_) {
    for (const auto& [key, state] : n.disk.objects) before.push_back(KeyState{key, state});
    for (const auto& [key, hint] : n.disk.hints) before.push_back(KeyState{hint.key, hint.state});
  }
  n.disk = std::move(disk);
  if (on_power_loss_) on_power_loss_(i, before);
}

void Cluster::ForgetUnanswered(int i) {
  // Requests a dead life had received are never answered.
  std::erase_if(unanswered_, [i](const auto& e) { return std::get<0>(e.first) == i; });
}

void Cluster::RetireStats(int i) {
  const Node* node = nodes_[static_cast<size_t>(i)]->node.get();
  if (!node) return;
  retired_counters_.Add(node->metrics().CounterValues());
  retired_put_latency_.Merge(*node->metrics().FindHistogram(metric::kPutLatencyUs));
  retired_get_latency_.Merge(*node->metrics().FindHistogram(metric::kGetLatencyUs));
}

LatencyHistogram Cluster::TotalNodeLatency(std::string_view name) const {
  TROLLEY_ASSERT(name == metric::kPutLatencyUs || name == metric::kGetLatencyUs);
  LatencyHistogram total =
      name == metric::kPutLatencyUs ? retired_put_latency_ : retired_get_latency_;
  for (const auto& n : nodes_) {
    if (n->node) total.Merge(*n->node->metrics().FindHistogram(name));
  }
  return total;
}

CounterTotals Cluster::TotalNodeCounters() const {
  CounterTotals total = retired_counters_;
  for (const auto& n : nodes_) {
    if (n->node) total.Add(n->node->metrics().CounterValues());
  }
  return total;
}

void Cluster::CleanStop(int i) {
  SimNode& n = *nodes_[i];
  if (!n.up) return;
  trace_.Event(kTraceFault, 3, static_cast<uint64_t>(i), n.life);
  if (trace_.lines()) TraceLine(n.name + " clean stop (drain, fsync)");
  RetireStats(i);
  n.node.reset();
  n.engine->Close();
  n.engine.reset();
  n.up = false;
  n.paused = false;
  n.deferred.clear();
  ForgetUnanswered(i);
  ++n.life;
  if (client_.node_crashed) client_.node_crashed(i);
}

void Cluster::Pause(int i) {
  SimNode& n = *nodes_[i];
  if (!n.up || n.paused) return;
  trace_.Event(kTraceFault, 4, static_cast<uint64_t>(i));
  if (trace_.lines()) TraceLine(n.name + " pause");
  n.paused = true;
}

void Cluster::Resume(int i) {
  SimNode& n = *nodes_[i];
  if (!n.up || !n.paused) return;
  trace_.Event(kTraceFault, 5, static_cast<uint64_t>(i), n.deferred.size());
  if (trace_.lines())
    TraceLine(n.name + " resume (" + std::to_string(n.deferred.size()) + " waiting events)");
  n.paused = false;
  const uint32_t life = n.life;
  std::vector<std::function<void()>> waiting = std::move(n.deferred);
  n.deferred.clear();
  for (auto& fn : waiting) {
    loop_.After(
        0, [this, i, life, fn = std::move(fn)]() mutable { RunOnNode(i, life, std::move(fn)); });
  }
  ScheduleTick(i);
}

void Cluster::ClockJump(int i, int64_t ms) {
  trace_.Event(kTraceFault, 6, static_cast<uint64_t>(i), static_cast<uint64_t>(ms));
  nodes_[i]->clock.Jump(ms);
  if (trace_.lines()) {
    TraceLine(name(i) + " wall clock jumps " + std::to_string(ms) + " ms (offset now " +
              std::to_string(nodes_[i]->clock.offset_ms()) + " ms)");
  }
}

void Cluster::DiskStall(int i, uint64_t until_ns) {
  SimNode& n = *nodes_[i];
  if (!n.up) return;
  if (until_ns <= loop_.now_ns()) {
    n.engine->set_stall_until_ns(0);
    return;
  }
  trace_.Event(kTraceFault, 7, static_cast<uint64_t>(i), until_ns);
  if (trace_.lines()) {
    TraceLine(n.name + " disk stalls for " +
              std::to_string((until_ns - loop_.now_ns()) / kNsPerMs) + " ms");
  }
  n.engine->set_stall_until_ns(until_ns);
}

void Cluster::Block(const std::vector<int>& from, const std::vector<int>& to) {
  for (int a : from) {
    for (int b : to) {
      if (a != b) blocked_[a][b] = true;
    }
  }
}

void Cluster::HealPartitions() {
  for (auto& row : blocked_) std::fill(row.begin(), row.end(), false);
}

bool Cluster::AnyPartition() const {
  for (const auto& row : blocked_) {
    for (bool b : row) {
      if (b) return true;
    }
  }
  return false;
}

// ---- network ----

uint64_t Cluster::NetworkDelay() {
  uint64_t d = net_rng_.Range(config_.delay_us_min, config_.delay_us_max) * kNsPerUs;
  if (tail_p_ > 0 && net_rng_.Chance(tail_p_)) {
    d += net_rng_.Range(0, config_.tail_ms_max * 1000) * kNsPerUs;
  }
  return d;
}

bool Cluster::IsRepairWrite(int from, const ReplicaWrite& w) const {
  // Fallback writes name their owner, hint deliveries ask for a durable
  // ack; read repair leaves while a node handles a replica's read answer,
  // or in a tick that gives up waiting for one.
  if (!w.hint_for.empty() || w.durable) return false;
  const Activity a = nodes_[from]->activity;
  return a == Activity::kGetReply || a == Activity::kTick;
}

void Cluster::SendToClient(int from, const Endpoint& to, Message m) {
  // A reply to a client connection.
  trace_.Event(kTraceDeliver, 100 + static_cast<uint64_t>(from), to.connection, m.index(),
               MessageIdOf(m));
  if (net_rng_.Chance(loss_p_)) {
    ++net_.dropped_loss;
    if (trace_.lines())
      TraceLine(name(from) + " -> c" + std::to_string(to.connection) + " LOST " + Describe(m));
    return;
  }
  const uint64_t conn = to.connection;
  if (trace_.lines()) TraceLine(name(from) + " -> c" + std::to_string(conn) + " " + Describe(m));
  if (net_rng_.Chance(config_.dup_p)) {
    ++net_.duplicated;
    ++in_flight_;
    loop_.After(NetworkDelay(), [this, conn, copy = m]() mutable {
      --in_flight_;
      client_.deliver(conn, std::move(copy));
    });
  }
  ++in_flight_;
  loop_.After(NetworkDelay(), [this, conn, m = std::move(m)]() mutable {
    --in_flight_;
    ++net_.delivered;
    client_.deliver(conn, std::move(m));
  });
}

void Cluster::SendFromNode(int from, const Endpoint& to, Message m) {
  ++net_.sent;
  if (!to.IsNode()) {
    SendToClient(from, to, std::move(m));
    return;
  }
  const int target = IndexOf(to.node);
  TROLLEY_ASSERT_MSG(target >= 0, "message to an unknown node " + to.node);
  SimNode& t = *nodes_[target];
  NoteRequestReply(from, target, m);
  trace_.Event(kTraceDeliver, static_cast<uint64_t>(from), static_cast<uint64_t>(target), m.index(),
               MessageIdOf(m));
  if (blocked_[from][target]) {
    ++net_.dropped_partition;
    if (trace_.lines()) TraceLine(name(from) + " -> " + t.name + " BLOCKED " + Describe(m));
    return;
  }
  if (!t.up) {
    ++net_.dropped_down;
    if (trace_.lines()) TraceLine(name(from) + " -> " + t.name + " DOWN " + Describe(m));
    ReportUnreachable(from, target);
    return;
  }
  if (net_rng_.Chance(loss_p_)) {
    ++net_.dropped_loss;
    trace_.Event(kTraceDrop, static_cast<uint64_t>(from), static_cast<uint64_t>(target));
    if (trace_.lines()) TraceLine(name(from) + " -> " + t.name + " LOST " + Describe(m));
    return;
  }
  bool repair = false;
  if (bug_ == PlantedBug::kOverwriteRepair) {
    if (const auto* w = std::get_if<ReplicaWrite>(&m)) repair = IsRepairWrite(from, *w);
  } else if (bug_ == PlantedBug::kAaeOverwrite) {
    repair = std::holds_alternative<ReplicaWrite>(m) &&
             nodes_[static_cast<size_t>(from)]->activity == Activity::kAaeKeysReply;
  }
  const uint32_t life = t.life;
  const uint32_t from_life = nodes_[static_cast<size_t>(from)]->life;
  if (trace_.lines())
    TraceLine(name(from) + " -> " + t.name + " " + Describe(m) + (repair ? " (repair)" : ""));
  if (net_rng_.Chance(config_.dup_p)) {
    ++net_.duplicated;
    trace_.Event(kTraceDuplicate, static_cast<uint64_t>(from), static_cast<uint64_t>(target));
    ++in_flight_;
    loop_.After(NetworkDelay(), [this, from, from_life, target, life, repair, copy = m]() mutable {
      --in_flight_;
      DeliverToNode(from, from_life, target, life, std::move(copy), repair);
    });
  }
  ++in_flight_;
  loop_.After(NetworkDelay(),
              [this, from, from_life, target, life, repair, m = std::move(m)]() mutable {
                --in_flight_;
                DeliverToNode(from, from_life, target, life, std::move(m), repair);
              });
}

// Like a refused connect: the sender learns, a little later, that `target`
// cannot be reached (at most once per kUnreachableQuietNs per link).
void Cluster::ReportUnreachable(int from, int target) {
  const SimNode& t = *nodes_[static_cast<size_t>(target)];
  uint64_t& quiet_until = unreachable_quiet_until_ns_[from][target];
  if (loop_.now_ns() >= quiet_until) {
    quiet_until = loop_.now_ns() + kUnreachableQuietNs;
    ++net_.unreachable;
    const uint32_t life = nodes_[from]->life;
    const std::string peer = t.name;
    loop_.After(net_rng_.Range(50, 1000) * kNsPerUs, [this, from, life, peer] {
      RunOnNode(from, life, [this, from, peer] {
        trace_.Event(kTraceUnreachable, static_cast<uint64_t>(from),
                     static_cast<uint64_t>(IndexOf(peer)));
        if (trace_.lines()) TraceLine(name(from) + " unreachable " + peer);
        nodes_[from]->activity = Activity::kOther;
        nodes_[from]->node->OnPeerUnreachable(peer);
      });
    });
  }
}

void Cluster::NoteRequestReply(int from, int to, const Message& m) {
  const uint64_t id = MessageIdOf(m);
  if (IsPeerRequest(m)) {
    request_life_[{from, to, id}] = nodes_[static_cast<size_t>(from)]->life;
    return;
  }
  if (!IsPeerReply(m)) return;
  auto it = unanswered_.find({from, to, id});
  if (it == unanswered_.end()) return;
  const uint32_t origin = it->second.front();
  it->second.erase(it->second.begin());
  if (it->second.empty()) unanswered_.erase(it);
  const uint32_t now_life = nodes_[static_cast<size_t>(to)]->life;
  if (origin == now_life) return;
  ++stale_replies_;
  auto mine = request_life_.find({to, from, id});
  if (mine == request_life_.end() || mine->second != now_life) return;
  ++stale_reply_hazards_;
  if (trace_.lines()) {
    TraceLine("probe stale-reply: " + name(from) + " answers " + name(to) +
              "'s request id=" + std::to_string(id) + " of life " + std::to_string(origin) +
              "; life " + std::to_string(now_life) +
              " has its own request id=" + std::to_string(id) + " to " + name(from));
  }
}

void Cluster::DeliverToNode(int from, uint32_t from_life, int to, uint32_t to_life, Message m,
                            bool repair) {
  RunOnNode(to, to_life, [this, from, from_life, to, repair, m = std::move(m)]() mutable {
    ++net_.delivered;
    SimNode& n = *nodes_[to];
    if (IsPeerRequest(m)) unanswered_[{to, from, MessageIdOf(m)}].push_back(from_life);
    trace_.Event(kTraceDeliver, 200 + static_cast<uint64_t>(from), static_cast<uint64_t>(to),
                 m.index(), MessageIdOf(m));
    if (trace_.lines())
      TraceLine(n.name + " <- " + name(from) + " " + std::string(MessageName(m)) +
                " id=" + std::to_string(MessageIdOf(m)));
    const bool get_reply = std::holds_alternative<ReplicaGetReply>(m);
    n.activity = get_reply                                 ? Activity::kGetReply
                 : std::holds_alternative<AaeKeysReply>(m) ? Activity::kAaeKeysReply
                                                           : Activity::kOther;
    const bool repair_merges = (bug_ == PlantedBug::kOverwriteRepair && (repair || get_reply)) ||
                               (bug_ == PlantedBug::kAaeOverwrite && repair);
    if (repair_merges) n.engine->set_repair_merges(true);
    const bool max_merge = bug_ == PlantedBug::kMergeSets && IsMaxMerge(m);
    if (max_merge) n.engine->set_max_merges(true);
    n.node->OnMessage(Endpoint{name(from), 0}, std::move(m));
    if (repair_merges && n.engine) n.engine->set_repair_merges(false);
    if (max_merge && n.engine) n.engine->set_max_merges(false);
    n.activity = Activity::kOther;
  });
}

bool Cluster::IsMaxMerge(const Message& m) {
  const auto* update = std::get_if<CartUpdate>(&m);
  return update != nullptr && update->kind == CartMutationKind::kMergeGuest &&
         update->strategy == CartMergeStrategy::kMax;
}

void Cluster::ObserveOwnCopy(SimNode& n, Message& m) {
  auto* update = std::get_if<CartUpdate>(&m);
  if (update == nullptr || update->kind == CartMutationKind::kAdd ||
      update->kind > CartMutationKind::kClear) {
    return;  // an add, or a guest merge's step: nothing observed
  }
  const SimNamespace* ns = nullptr;
  for (const SimNamespace& candidate : config_.namespaces) {
    if (candidate.name == update->ns) ns = &candidate;
  }
  if (ns == nullptr || ns->semantics != CartSemantics::kOrSet) return;
  Result<SiblingSet> stored = n.engine->Get(ObjectKey{update->ns, update->cart_id});
  std::vector<CartState> carts;
  if (stored.ok()) {
    for (const Sibling& s : stored->siblings()) {
      if (s.tombstone) continue;
      auto cart = CartState::Decode(s.value, ns->semantics);
      if (cart.ok()) carts.push_back(std::move(*cart));
    }
  }
  const CartState own = CartState::Merge(ns->semantics, carts);
  update->observed =
      own.ObservedTags(update->kind == CartMutationKind::kClear ? nullptr : &update->sku);
}

void Cluster::ClientSend(uint64_t conn, int target, Message m) {
  ++net_.sent;
  SimNode& t = *nodes_[target];
  trace_.Event(kTraceClientSend, conn, static_cast<uint64_t>(target), m.index(), MessageIdOf(m));
  if (trace_.lines()) TraceLine("c" + std::to_string(conn) + " -> " + t.name + " " + Describe(m));
  if (!t.up) {
    // Connection refused, reported after a connect delay.
    ++net_.dropped_down;
    loop_.After(net_rng_.Range(50, 1000) * kNsPerUs,
                [this, conn, target] { client_.connection_failed(conn, target); });
    return;
  }
  if (net_rng_.Chance(loss_p_)) {
    ++net_.dropped_loss;
    if (trace_.lines()) TraceLine("c" + std::to_string(conn) + " -> " + t.name + " LOST");
    return;
  }
  const uint32_t life = t.life;
  auto deliver = [this, conn, target, life](Message msg) {
    RunOnNode(target, life, [this, conn, target, msg = std::move(msg)]() mutable {
      ++net_.delivered;
      SimNode& n = *nodes_[target];
      trace_.Event(kTraceDeliver, 300, static_cast<uint64_t>(target), msg.index(),
                   MessageIdOf(msg));
      n.activity = Activity::kOther;
      if (bug_ == PlantedBug::kStaleRemove) ObserveOwnCopy(n, msg);
      const bool max_merge = bug_ == PlantedBug::kMergeSets && IsMaxMerge(msg);
      if (max_merge) n.engine->set_max_merges(true);
      n.node->OnMessage(Endpoint{"", conn}, std::move(msg));
      if (max_merge && n.engine) n.engine->set_max_merges(false);
    });
  };
  if (net_rng_.Chance(config_.dup_p)) {
    ++net_.duplicated;
    ++in_flight_;
    loop_.After(NetworkDelay(), [this, deliver, copy = m]() mutable {
      --in_flight_;
      deliver(std::move(copy));
    });
  }
  ++in_flight_;
  loop_.After(NetworkDelay(), [this, deliver, m = std::move(m)]() mutable {
    --in_flight_;
    deliver(std::move(m));
  });
}

// ---- settling ----

bool Cluster::Quiet() {
  if (in_flight_ != 0) return false;
  for (int i = 0; i < size(); ++i) {
    SimNode& n = *nodes_[i];
    if (!n.up || n.paused || !n.engine->Idle() || n.node->PendingRequests() != 0) return false;
    auto stats = n.engine->hints().Stats();
    if (!stats.ok() || stats->count != 0) return false;
    for (int j = 0; j < size(); ++j) {
      if (j != i && !n.node->IsUp(name(j))) return false;
    }
  }
  return true;
}

std::string Cluster::WhyNotQuiet() {
  std::string out;
  if (in_flight_ != 0) out = std::to_string(in_flight_) + " messages in flight";
  for (int i = 0; i < size(); ++i) {
    SimNode& n = *nodes_[i];
    std::string why;
    if (!n.up) {
      why = "down";
    } else {
      if (n.paused) why += " paused";
      if (!n.engine->Idle()) why += " engine-busy";
      if (n.node->PendingRequests() != 0)
        why += " pending=" + std::to_string(n.node->PendingRequests());
      auto stats = n.engine->hints().Stats();
      if (stats.ok() && stats->count != 0) why += " hints=" + std::to_string(stats->count);
      for (int j = 0; j < size(); ++j) {
        if (j != i && !n.node->IsUp(name(j))) why += " suspects=" + name(j);
      }
    }
    if (!why.empty()) out += (out.empty() ? "" : "; ") + n.name + ":" + why;
  }
  return out;
}

}  // namespace trolley::sim
