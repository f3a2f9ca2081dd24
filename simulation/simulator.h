// RunSeed: one deterministic simulated run of a whole Trolley cluster.
//
// Phases (docs/design.md, 'The simulator'):
//   1. faults   the workload runs for workload_ms while the nemesis
//               partitions, crashes, restarts, pauses, stalls disks and
//               jumps clocks (the kinds the seed switched on);
//   2. heal     every partition heals, paused nodes resume, down nodes
//               restart, message loss and slow-message tails stop (delay
//               within the seed's range, duplication and reordering go
//               on: a replica slower than replica_timeout_ms would miss
//               the final read's repair); no new operation starts,
//               operations in flight finish with their retries;
//   3. settle   virtual time runs until the cluster is quiet: no device
//               busy, no engine write queued, no request pending at any
//               node, every hint delivered and deleted, and every node
//               believing every peer up (at most settle_max, 120 s). The
//               time this takes is the convergence time. Keys whose
//               replicas still differ are the keys that "needed the final
//               read" (what anti-entropy must bring to zero). With
//               anti-entropy on, settling also waits (up to settle_max)
//               until every key's replicas agree or exchanges stop
//               repairing;
//   4. final read   one ClientGet of every key through the normal read
//               path (its read repair merges the replicas), then quiet
//               again;
//   5. check    every primary replica of every key holds an identical
//               sibling set; the History checkers run on the final carts.
//
// Everything comes from the seed (common/random.h generators, one per
// subsystem); nothing reads a real clock. The same seed and options give
// the same trace hash.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "simulation/checker.h"
#include "simulation/cluster.h"
#include "simulation/planted_bug.h"
#include "simulation/trace.h"
#include "simulation/workload.h"

namespace trolley::sim {

struct SimOptions {
  PlantedBug bug = PlantedBug::kNone;
  double scale = 1.0;      // multiplies the workload duration
  bool aae = true;         // anti-entropy on every node (--aae off: the final read alone)
  Trace::Sink trace_sink;  // --trace: every event as a line
};

struct SeedResult {
  uint64_t seed = 0;
  std::string config;  // SeedConfig::Describe()
  std::vector<std::string> failures;
  uint64_t trace_hash = 0;

  WorkloadStats workload;
  CheckResult check;
  NetworkStats net;
  CounterTotals nodes;  // node counters summed by name over every node and life
  // Coordinator latency of client puts and gets, virtual microseconds, over
  // every node and life (node/node_metrics.h).
  LatencyHistogram put_latency, get_latency;
  uint64_t keys = 0;
  uint64_t keys_needing_read = 0;  // replicas differed after settling, before the final read
  bool settled = false;
  uint64_t settle_ms = 0;  // heal -> quiet
  uint64_t sim_ms = 0;     // virtual time of the whole run
  uint64_t events = 0;
  uint64_t stale_replies = 0, stale_reply_hazards = 0;  // Cluster probes
  uint64_t crashes = 0, power_losses = 0, partitions = 0, pauses = 0, clock_jumps = 0,
           disk_stalls = 0;
  uint64_t disks_lost = 0, disks_restored = 0, disk_copies = 0;

  bool ok() const { return failures.empty(); }
};

SeedResult RunSeed(uint64_t seed, const SimOptions& options);

}  // namespace trolley::sim
