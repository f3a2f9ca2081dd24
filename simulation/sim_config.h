// SeedConfig: everything one seed decides before the run starts.
//
// Swarm testing (TigerBeetle's VOPR, FoundationDB's knobs): each seed picks
// its own cluster size, N/R/W per namespace, durability, network profile,
// node timeouts, workload shape and which kinds of fault are switched on,
// so a sweep covers many combinations instead of one average.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cart/cart_state.h"
#include "simulation/planted_bug.h"
#include "storage/engine.h"

namespace trolley::sim {

struct SimNamespace {
  std::string name;
  CartSemantics semantics = CartSemantics::kUnionMax;
  uint32_t n = 3, r = 2, w = 2;
};

struct SeedConfig {
  uint64_t seed = 0;
  uint32_t nodes = 3;
  std::vector<SimNamespace> namespaces;  // one union+max, one OR-Set

  // Storage.
  Durability durability = Durability::kSync;
  uint64_t flush_interval_ms = 50;
  uint64_t commit_us_min = 100, commit_us_max = 2000;

  // Network (node-node and client-node links alike, except partitions).
  uint64_t delay_us_min = 100, delay_us_max = 1000;
  double tail_p = 0.0;        // chance of a slow message...
  uint64_t tail_ms_max = 50;  // ...delayed up to this much more
  double loss_p = 0.0;
  double dup_p = 0.0;

  // Node options (NodeOptions).
  uint64_t replica_timeout_ms = 500;
  uint64_t ping_interval_ms = 500;
  uint64_t hint_interval_ms = 200;
  uint64_t hint_backoff_max_ms = 10'000;
  uint64_t hint_batch_max = 64;
  uint64_t hints_max = 1'000'000;  // stored hints per node; scenarios shrink it to drop hints
  // Anti-entropy (not drawn from the seed: SimOptions::aae sets it).
  bool aae = true;
  uint64_t aae_interval_ms = 500;
  uint64_t aae_exchange_timeout_ms = 5000;

  // Workload.
  uint32_t shoppers = 3;
  uint32_t devices_per_shopper = 2;
  uint32_t skus = 5;
  uint64_t workload_ms = 10'000;
  uint64_t think_ms_mean = 100;
  double any_node_p = 0.2;      // first attempt to a random node (forwarding)
  uint32_t device_retries = 3;  // whole-mutation retries, same mutation id
  bool guests = true;           // guest carts and a merge at login

  // Faults (each kind on or off for the whole seed).
  bool partitions = false;
  bool crashes = false;
  bool power_loss = false;  // crashes may lose what was not fsynced
  bool pauses = false;
  bool clock_jumps = false;
  bool disk_stalls = false;
  uint64_t nemesis_ms_min = 300, nemesis_ms_max = 2000;

  // One line: "nodes=5 carts(union-max n=3 r=2 w=1) ...".
  std::string Describe() const;
};

// The configuration of `seed`. `scale` multiplies the workload's duration.
SeedConfig ChooseConfig(uint64_t seed, double scale);

// Derives independent generator seeds from one seed (SplitMix64), one per
// subsystem, so that a change in how one subsystem draws does not shift
// the others.
uint64_t SubSeed(uint64_t seed, uint64_t stream);

}  // namespace trolley::sim
