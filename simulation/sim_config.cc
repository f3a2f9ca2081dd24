#include "simulation/sim_config.h"

#include <algorithm>
#include <cmath>

#include "common/random.h"

namespace trolley::sim {

uint64_t SubSeed(uint64_t seed, uint64_t stream) {
  uint64_t z =
      seed * 0x9e3779b97f4a7c15ULL + stream * 0xd1b54a32d192ed03ULL + 0x632be59bd9b4e019ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

namespace {

SimNamespace ChooseNamespace(Random& rng, std::string name, CartSemantics semantics,
                             uint32_t nodes) {
  SimNamespace ns;
  ns.name = std::move(name);
  ns.semantics = semantics;
  // N up to the cluster size (at most 5: larger N adds little but cost).
  ns.n = static_cast<uint32_t>(rng.Range(1, std::min<uint32_t>(nodes, 5)));
  if (ns.n > 1 && rng.Chance(0.5)) ns.n = std::min<uint32_t>(3, nodes);  // the common case
  ns.r = static_cast<uint32_t>(rng.Range(1, ns.n));
  ns.w = static_cast<uint32_t>(rng.Range(1, ns.n));
  return ns;
}

}  // namespace

SeedConfig ChooseConfig(uint64_t seed, double scale) {
  Random rng(SubSeed(seed, 1));
  SeedConfig c;
  c.seed = seed;
  c.nodes = static_cast<uint32_t>(rng.Range(3, 7));
  c.namespaces.push_back(ChooseNamespace(rng, "carts", CartSemantics::kUnionMax, c.nodes));
  c.namespaces.push_back(ChooseNamespace(rng, "or-carts", CartSemantics::kOrSet, c.nodes));

  c.durability = rng.Chance(0.7) ? Durability::kSync : Durability::kFlush;
  c.flush_interval_ms = rng.Range(10, 100);
  if (c.durability == Durability::kSync) {
    c.commit_us_min = rng.Range(50, 500);
    c.commit_us_max = c.commit_us_min + rng.Range(100, 3000);
  } else {
    c.commit_us_min = rng.Range(10, 100);
    c.commit_us_max = c.commit_us_min + rng.Range(10, 300);
  }

  c.delay_us_min = rng.Range(50, 500);
  c.delay_us_max = c.delay_us_min + rng.Range(100, 3000);
  c.tail_p = rng.Chance(0.5) ? rng.NextDouble() * 0.05 : 0.0;
  c.tail_ms_max = rng.Range(5, 200);
  c.loss_p = rng.Chance(0.5) ? rng.NextDouble() * 0.03 : 0.0;
  c.dup_p = rng.Chance(0.5) ? rng.NextDouble() * 0.03 : 0.0;

  c.replica_timeout_ms = rng.Range(50, 500);
  c.ping_interval_ms = rng.Range(50, 500);
  c.hint_interval_ms = rng.Range(20, 200);
  c.hint_backoff_max_ms = rng.Range(200, 5000);
  c.hint_batch_max = rng.Range(1, 64);

  c.shoppers = static_cast<uint32_t>(rng.Range(2, 6));
  c.devices_per_shopper = static_cast<uint32_t>(rng.Range(1, 3));
  c.skus = static_cast<uint32_t>(rng.Range(2, 8));
  c.workload_ms =
      static_cast<uint64_t>(std::llround(static_cast<double>(rng.Range(3000, 12000)) * scale));
  c.think_ms_mean = rng.Range(5, 150);
  c.any_node_p = rng.NextDouble() * 0.4;
  c.device_retries = static_cast<uint32_t>(rng.Range(0, 4));
  c.guests = rng.Chance(0.6);

  const bool quiet = rng.Chance(0.05);  // some seeds run without faults
  c.partitions = !quiet && rng.Chance(0.7);
  c.crashes = !quiet && rng.Chance(0.6);
  c.power_loss = c.crashes && rng.Chance(0.6);
  c.pauses = !quiet && rng.Chance(0.4);
  c.clock_jumps = !quiet && rng.Chance(0.4);
  c.disk_stalls = !quiet && rng.Chance(0.3);
  c.nemesis_ms_min = rng.Range(100, 1000);
  c.nemesis_ms_max = c.nemesis_ms_min + rng.Range(100, 3000);
  return c;
}

std::string SeedConfig::Describe() const {
  std::string out = "nodes=" + std::to_string(nodes);
  for (const SimNamespace& ns : namespaces) {
    out += " " + ns.name + "(" + std::string(CartSemanticsName(ns.semantics)) +
           " n=" + std::to_string(ns.n) + " r=" + std::to_string(ns.r) +
           " w=" + std::to_string(ns.w) + ")";
  }
  out += " durability=" + std::string(DurabilityName(durability));
  if (durability == Durability::kFlush) out += "/" + std::to_string(flush_interval_ms) + "ms";
  char net[160];
  std::snprintf(net, sizeof(net), " net=%llu..%lluus tail=%.3f/%llums loss=%.3f dup=%.3f",
                static_cast<unsigned long long>(delay_us_min),
                static_cast<unsigned long long>(delay_us_max), tail_p,
                static_cast<unsigned long long>(tail_ms_max), loss_p, dup_p);
  out += net;
  out += " shoppers=" + std::to_string(shoppers) + "x" + std::to_string(devices_per_shopper) +
         " skus=" + std::to_string(skus) + " workload=" + std::to_string(workload_ms) + "ms" +
         " think=" + std::to_string(think_ms_mean) + "ms" + (guests ? " guests" : "");
  out += " faults=";
  std::string faults;
  auto add = [&](bool on, const char* name) {
    if (on) faults += (faults.empty() ? "" : ",") + std::string(name);
  };
  add(partitions, "partitions");
  add(crashes, "crashes");
  add(power_loss, "power-loss");
  add(pauses, "pauses");
  add(clock_jumps, "clock-jumps");
  add(disk_stalls, "disk-stalls");
  out += faults.empty() ? "none" : faults;
  out += aae ? " aae" : " aae=off";
  return out;
}

}  // namespace trolley::sim
