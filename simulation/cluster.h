// Cluster: the simulated nodes and the network between them.
//
// Each node is the real sans-IO Node (node/node.h) over a SimEngine, a
// SimClock and a transport into the simulated network. The cluster turns
// the simulator's events into the Node's inputs (OnMessage, Tick every
// 5 ms like trolleyd, engine callbacks, OnPeerUnreachable) and applies the
// faults the nemesis asks for.
//
// Network model (docs/design.md, 'The simulator'):
//   - every message gets its own delay, uniform in [delay_min, delay_max],
//     plus, with probability tail_p, up to tail_ms_max more: messages
//     overtake each other (reordering);
//   - loss_p drops a message, dup_p delivers it twice (a second delay);
//   - a partition is a set of blocked directed node-to-node links; a
//     message on a blocked link vanishes without a word (a hung TCP
//     connection). Client links are never partitioned (clients sit outside
//     the data centre's split);
//   - a message to a crashed node is dropped and its sender is told
//     (OnPeerUnreachable, like a refused TCP connect) after a connect
//     delay, at most once per 50 ms per link (trolleyd redials with
//     backoff); a client's connection to a crashed node fails at once, and
//     the requests in flight on it fail when the node crashes (a reset);
//   - a message sent to one life of a node is never delivered to the next
//     (the TCP connection died with the process); a reply sent after the
//     restart reaches the new life, as trolleyd's redialled links do;
//   - a paused node (SIGSTOP, a long GC) receives nothing, ticks not and
//     commits nothing: its events wait and run in order when it resumes.
//
// Node faults: Crash (process crash: committed data survives; or power
// loss: back to the last fsync), Restart (a new Node over the same disk,
// with a new actor epoch), CleanRestart (drain, fsync), ReplaceDisk (a lost
// disk, or a restore of an older copy), Pause/Resume, wall-clock jumps (ClockJump; the monotonic
// clock that drives timeouts never goes back), DiskStall (commits wait).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/logger.h"
#include "common/random.h"
#include "node/node.h"
#include "ring/ring.h"
#include "simulation/event_loop.h"
#include "simulation/planted_bug.h"
#include "simulation/sim_config.h"
#include "simulation/sim_engine.h"
#include "simulation/trace.h"

namespace trolley::sim {

// Wall clock = virtual time + a per-node offset (skew and jumps).
class SimClock final : public Clock {
 public:
  SimClock(const EventLoop& loop, uint64_t boot_ns, int64_t wall_offset_ms)
      : loop_(loop), boot_ns_(boot_ns), wall_offset_ms_(wall_offset_ms) {}
  uint64_t NowMonotonicNs() override { return boot_ns_ + loop_.now_ns(); }
  uint64_t NowWallMs() override {
    return static_cast<uint64_t>(static_cast<int64_t>(kWallBaseMs + loop_.now_ms()) +
                                 wall_offset_ms_);
  }
  void Jump(int64_t ms) { wall_offset_ms_ += ms; }
  int64_t offset_ms() const { return wall_offset_ms_; }

  static constexpr uint64_t kWallBaseMs = 1'800'000'000'000;

 private:
  const EventLoop& loop_;
  uint64_t boot_ns_;
  int64_t wall_offset_ms_;
};

struct NetworkStats {
  uint64_t sent = 0, delivered = 0, dropped_partition = 0, dropped_loss = 0, dropped_down = 0,
           duplicated = 0, unreachable = 0;
};

class Cluster {
 public:
  // What the cluster tells the client side.
  struct ClientHooks {
    std::function<void(uint64_t conn, Message m)> deliver;
    // The connection from `conn` to `node` failed (refused, or reset by a crash).
    std::function<void(uint64_t conn, int node)> connection_failed;
    // Node `node` crashed: every connection to it is reset.
    std::function<void(int node)> node_crashed;
  };

  Cluster(const SeedConfig& config, PlantedBug bug, EventLoop& loop, Trace& trace);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  void set_client_hooks(ClientHooks hooks) { client_ = std::move(hooks); }
  // Called after a power loss on `node` with the committed state, before
  // the loss, of every object and hint it reverted (hints as their key and
  // state).
  using PowerLossHook = std::function<void(int node, const std::vector<KeyState>& before)>;
  void set_on_power_loss(PowerLossHook fn) { on_power_loss_ = std::move(fn); }

  // Starts every node.
  void Start();
  // Asserts the invariants of every running node (Node::CheckInvariants).
  void CheckInvariants() const;
  // After every event of the loop: the nodes that event ran on, and every
  // running node every few thousand events (see cluster.cc for why that
  // covers every node after every event).
  void CheckTouchedInvariants();

  // A client message to `node` over connection `conn`.
  void ClientSend(uint64_t conn, int node, Message m);

  // Faults.
  void Crash(int node, bool power_loss);
  void Restart(int node);
  void CleanStop(int node);  // then Restart
  // While `node` is down: its disk becomes `disk` (empty: a lost disk; a
  // copy taken earlier: a restore from backup). The power-loss hook hears
  // of everything the old disk held, as a loss.
  void ReplaceDisk(int node, SimDisk disk);
  void Pause(int node);
  void Resume(int node);
  void ClockJump(int node, int64_t ms);
  void DiskStall(int node, uint64_t until_ns);
  // Blocks every link from a node of `from` to a node of `to`.
  void Block(const std::vector<int>& from, const std::vector<int>& to);
  void HealPartitions();
  void set_loss_p(double p) { loss_p_ = p; }
  void set_tail_p(double p) { tail_p_ = p; }

  // Queries.
  int size() const { return static_cast<int>(nodes_.size()); }
  const std::string& name(int node) const;
  int IndexOf(const std::string& name) const;
  bool up(int node) const;
  bool paused(int node) const;
  bool blocked(int from, int to) const { return blocked_[from][to]; }
  bool AnyPartition() const;
  const Ring& ring() const { return ring_; }
  // The running Node (nullptr while down).
  Node* node(int i);
  SimEngine* engine(int i);
  SimDisk& disk(int i);
  SimClock& clock(int i);
  uint32_t life(int i) const;
  const NetworkStats& net_stats() const { return net_; }
  uint64_t power_losses() const { return power_losses_; }
  // Replies that answer a request of an earlier life of their node and
  // reach a later life that has its own request with the same id to the
  // same peer outstanding: the Node cannot tell them apart (a probe).
  uint64_t stale_reply_hazards() const { return stale_reply_hazards_; }
  // Replies that reach a later life of the node that sent the request.
  uint64_t stale_replies() const { return stale_replies_; }
  // The nodes' counters (node/node_metrics.h) summed by name over every
  // node and every life so far.
  CounterTotals TotalNodeCounters() const;
  // A coordinator latency histogram (metric::kPutLatencyUs or
  // kGetLatencyUs), merged over every node and every life so far; virtual
  // microseconds.
  LatencyHistogram TotalNodeLatency(std::string_view name) const;

  // For traces and failures: actors by node and life ("n2.1"),
  // siblings by dot and write id, never the value bytes.
  std::string Describe(const SiblingSet& s) const;
  std::string Describe(const Message& m) const;
  std::string ActorName(ActorId actor) const;

  // No message in flight, every node up, not paused, no engine busy, no
  // request pending, no hint held, and every node believing every peer up.
  bool Quiet();
  // What keeps Quiet() false, for a failure message.
  std::string WhyNotQuiet();

 private:
  struct SimNode;
  class NodeTransport;
  class NodeLogger;
  enum class Activity { kOther, kGetReply, kTick, kAaeKeysReply };

  void SendFromNode(int from, const Endpoint& to, Message m);
  void SendToClient(int from, const Endpoint& to, Message m);
  void ReportUnreachable(int from, int target);
  void DeliverToNode(int from, uint32_t from_life, int to, uint32_t to_life, Message m,
                     bool repair);
  void NoteRequestReply(int from, int to, const Message& m);
  // Planted bug stale-remove: an OR-Set CartUpdate removal's observed tags
  // become those of node `n`'s own copy of the cart.
  void ObserveOwnCopy(SimNode& n, Message& m);
  // Planted bug merge-sets: `m` is a guest merge with the max strategy.
  static bool IsMaxMerge(const Message& m);
  // Runs `fn` on node `i` if it is still in life `life`; waits while paused.
  template <class Fn>
  void RunOnNode(int i, uint32_t life, Fn&& fn);
  void ScheduleTick(int i);
  void Tick(int i, uint32_t life, uint32_t generation);
  void ScheduleFsync(int i);
  uint64_t NetworkDelay();
  bool IsRepairWrite(int from, const ReplicaWrite& w) const;
  void TraceLine(const std::string& text);

  const SeedConfig& config_;
  PlantedBug bug_;
  EventLoop& loop_;
  Trace& trace_;
  Random net_rng_;
  Random disk_rng_;
  Ring ring_;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::vector<std::vector<bool>> blocked_;
  std::vector<std::vector<uint64_t>> unreachable_quiet_until_ns_;
  double loss_p_;
  double tail_p_;
  ClientHooks client_;
  PowerLossHook on_power_loss_;
  NetworkStats net_;
  std::map<ActorId, std::string> actor_names_;
  uint64_t power_losses_ = 0;
  CounterTotals retired_counters_;  // of lives that ended
  LatencyHistogram retired_put_latency_, retired_get_latency_;
  uint64_t in_flight_ = 0;  // messages scheduled for delivery, not yet delivered
  // The stale-reply probe: (requester, peer, id) -> the requester's life that
  // last sent it; (peer, requester, id) -> lives of requests the peer got
  // and has not answered yet, oldest first.
  struct LinkIdHash {
    size_t operator()(const std::tuple<int, int, uint64_t>& k) const {
      return std::hash<uint64_t>{}(std::get<2>(k) * 64 + static_cast<uint64_t>(std::get<0>(k)) * 8 +
                                   static_cast<uint64_t>(std::get<1>(k)));
    }
  };
  // Lookups only: their iteration order never matters.
  std::unordered_map<std::tuple<int, int, uint64_t>, uint32_t, LinkIdHash> request_life_;
  std::unordered_map<std::tuple<int, int, uint64_t>, std::vector<uint32_t>, LinkIdHash> unanswered_;
  uint64_t events_since_full_check_ = 0;
  uint64_t stale_reply_hazards_ = 0;
  uint64_t stale_replies_ = 0;
  void RetireStats(int node);
  void ForgetUnanswered(int node);
};

}  // namespace trolley::sim
