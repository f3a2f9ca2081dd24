// SweepSummary: the figures of many seeds, and the table trolley-sim
// prints after a sweep.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "simulation/simulator.h"

namespace trolley::sim {

struct SweepSummary {
  uint64_t seeds = 0, failed = 0;
  std::vector<uint64_t> failed_seeds;  // the first few
  uint64_t ops = 0, ops_acked = 0, ops_failed = 0, adds_acked = 0, adds_gave_up = 0, mutations = 0,
           requests = 0;
  uint64_t merges_acked = 0, merges_gave_up = 0, merge_adds_acked = 0;
  uint64_t checkouts_acked = 0, checkouts_gave_up = 0, checkout_lines_bought = 0;
  uint64_t checked_checkouts = 0, checkouts_back = 0, bought_read_again = 0;  // the checker's
  uint64_t acked_adds = 0, lost_adds = 0, lost_unsynced = 0, removes_undone = 0;
  uint64_t resurrections = 0, lost_increments = 0, phantoms = 0;
  WriteAvailability writes;
  uint64_t siblings[5] = {0, 0, 0, 0, 0};
  std::vector<uint64_t> settle_ms;  // per seed
  uint64_t keys = 0, keys_needing_read = 0;
  uint64_t crashes = 0, power_losses = 0, partitions = 0, pauses = 0, clock_jumps = 0,
           disk_stalls = 0;
  uint64_t disks_lost = 0, disks_restored = 0, disk_copies = 0;
  CounterTotals nodes;                        // node counters by name (node/node_metrics.h)
  LatencyHistogram put_latency, get_latency;  // at the coordinators, virtual us
  uint64_t stale_replies = 0, stale_reply_hazards = 0;
  uint64_t sim_ms = 0, events = 0, messages = 0;
  uint64_t sweep_hash = 0;  // of every seed's trace hash, in order
  double wall_seconds = 0;  // set by the caller

  void Add(const SeedResult& r);
  // A two-column table (Markdown), one metric per row.
  std::string Table() const;
  // The rows on availability, versions, convergence, faults, node counters
  // and latencies (Table's middle).
  void AddClusterRows(std::vector<std::pair<std::string, std::string>>& rows) const;
};

// One seed's figures on one line (--verbose, --seed).
std::string SeedLine(const SeedResult& r);

}  // namespace trolley::sim
