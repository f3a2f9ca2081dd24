#include "simulation/report.h"

#include <algorithm>
#include <cstdio>

#include "node/node_metrics.h"
#include "simulation/sim_config.h"

namespace trolley::sim {
namespace {

std::string Percent(uint64_t part, uint64_t whole) {
  if (whole == 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f%%",
                100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return buf;
}

std::string Num(double v, int decimals = 0) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

uint64_t Quantile(std::vector<uint64_t> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<size_t>(q * static_cast<double>(v.size() - 1));
  return v[i];
}

}  // namespace

void SweepSummary::Add(const SeedResult& r) {
  ++seeds;
  sweep_hash = SubSeed(sweep_hash, r.trace_hash);
  if (!r.ok()) {
    ++failed;
    if (failed_seeds.size() < 20) failed_seeds.push_back(r.seed);
  }
  const WorkloadStats& w = r.workload;
  ops += w.ops_started;
  ops_acked += w.ops_acked;
  ops_failed += w.ops_failed;
  adds_acked += w.adds_acked;
  adds_gave_up += w.adds_gave_up;
  merges_acked += w.merges_acked;
  merges_gave_up += w.merges_gave_up;
  merge_adds_acked += w.merge_adds_acked;
  checkouts_acked += w.checkouts_acked;
  checkouts_gave_up += w.checkouts_gave_up;
  checkout_lines_bought += w.checkout_lines_bought;
  checked_checkouts += r.check.checkouts_acked;
  checkouts_back += r.check.checkouts_back;
  bought_read_again += r.check.bought_read_again;
  mutations += w.mutations;
  requests += w.requests;
  acked_adds += r.check.acked_adds;
  lost_adds += r.check.lost_adds;
  lost_unsynced += r.check.lost_unsynced;
  removes_undone += r.check.removes_undone;
  resurrections += r.check.resurrections;
  lost_increments += r.check.lost_increments;
  phantoms += r.check.phantoms;
  writes.Add(w.writes);
  for (int i = 0; i < 5; ++i) siblings[i] += w.siblings[i];
  settle_ms.push_back(r.settle_ms);
  keys += r.keys;
  keys_needing_read += r.keys_needing_read;
  crashes += r.crashes;
  power_losses += r.power_losses;
  partitions += r.partitions;
  pauses += r.pauses;
  clock_jumps += r.clock_jumps;
  disk_stalls += r.disk_stalls;
  disks_lost += r.disks_lost;
  disks_restored += r.disks_restored;
  disk_copies += r.disk_copies;
  nodes.Add(r.nodes);
  put_latency.Merge(r.put_latency);
  get_latency.Merge(r.get_latency);
  stale_reply_hazards += r.stale_reply_hazards;
  stale_replies += r.stale_replies;
  sim_ms += r.sim_ms;
  events += r.events;
  messages += r.net.sent;
}

void SweepSummary::AddClusterRows(std::vector<std::pair<std::string, std::string>>& rows) const {
  auto row = [&](std::string k, std::string v) { rows.emplace_back(std::move(k), std::move(v)); };
  const WriteAvailability& w = writes;
  row("write attempts accepted",
      Percent(w.write_attempts_ok, w.write_attempts) + " of " + std::to_string(w.write_attempts));
  row("write availability (W nodes reachable from the coordinator)",
      Percent(w.eligible_writes_ok, w.eligible_writes) + " of " +
          std::to_string(w.eligible_writes));
  row("  ... refused: unavailable / node timeout / no answer / connection",
      std::to_string(w.eligible_writes_unavailable) + " / " +
          std::to_string(w.eligible_writes_timeout) + " / " +
          std::to_string(w.eligible_writes_silent) + " / " +
          std::to_string(w.eligible_writes_conn_failed));
  row("  ... during partitions", Percent(w.partition_writes_ok, w.partition_writes) + " of " +
                                     std::to_string(w.partition_writes));
  uint64_t reads = 0;
  for (uint64_t s : siblings) reads += s;
  row("reads finding 1 / 2 / 3 / 4 / 5+ versions",
      Percent(siblings[0], reads) + " / " + Percent(siblings[1], reads) + " / " +
          Percent(siblings[2], reads) + " / " + Percent(siblings[3], reads) + " / " +
          Percent(siblings[4], reads) + " of " + std::to_string(reads));
  row("convergence time after heal, ms (p50 / p99 / max)",
      std::to_string(Quantile(settle_ms, 0.5)) + " / " + std::to_string(Quantile(settle_ms, 0.99)) +
          " / " + std::to_string(Quantile(settle_ms, 1.0)));
  row("keys that needed the final read to converge", std::to_string(keys_needing_read) + " of " +
                                                         std::to_string(keys) + " (" +
                                                         Percent(keys_needing_read, keys) + ")");
  row("faults: crashes (power losses) / partitions / pauses / clock jumps / disk stalls",
      std::to_string(crashes) + " (" + std::to_string(power_losses) + ") / " +
          std::to_string(partitions) + " / " + std::to_string(pauses) + " / " +
          std::to_string(clock_jumps) + " / " + std::to_string(disk_stalls));
  row("disk faults: lost / restored from an older copy (copies taken)",
      std::to_string(disks_lost) + " / " + std::to_string(disks_restored) + " (" +
          std::to_string(disk_copies) + ")");
  // Node counters by name, from each node's registry (node/node_metrics.h).
  auto counters = [&](std::initializer_list<std::string_view> names) {
    std::string out;
    for (std::string_view name : names) {
      out += (out.empty() ? "" : " / ") + std::to_string(nodes.Get(name));
    }
    return out;
  };
  row("node puts ok / failed, gets ok / failed",
      counters({metric::kPutsOk, metric::kPutsFailed}) + ", " +
          counters({metric::kGetsOk, metric::kGetsFailed}));
  row("forwarded / fallback writes / read repairs",
      counters({metric::kForwarded, metric::kFallbackWrites, metric::kReadRepairs}));
  auto latency = [](const LatencyHistogram& h) {
    return Num(static_cast<double>(h.Percentile(50)) / 1000.0, 1) + " / " +
           Num(static_cast<double>(h.Percentile(99)) / 1000.0, 1) + " / " +
           Num(static_cast<double>(h.max()) / 1000.0, 1);
  };
  row("coordinator put latency, virtual ms (p50 / p99 / max)", latency(put_latency));
  row("coordinator get latency, virtual ms (p50 / p99 / max)", latency(get_latency));
  row("hints stored / delivered / dropped",
      counters({metric::kHintsStored, metric::kHintsDelivered, metric::kHintsDropped}));
  row("probe: replies reaching a restarted requester (matching a live request id)",
      std::to_string(stale_replies) + " (" + std::to_string(stale_reply_hazards) + ")");
}

std::string SweepSummary::Table() const {
  std::vector<std::pair<std::string, std::string>> rows;
  auto row = [&](std::string k, std::string v) { rows.emplace_back(std::move(k), std::move(v)); };
  row("seeds (failed)", std::to_string(seeds) + " (" + std::to_string(failed) + ")");
  row("simulated cart operations (acked / gave up)", std::to_string(ops) + " (" +
                                                         std::to_string(ops_acked) + " / " +
                                                         std::to_string(ops_failed) + ")");
  row("client requests (get/put, before retries)", std::to_string(requests));
  row("acknowledged adds", std::to_string(acked_adds));
  row("cart adds acknowledged, of those issued (the device retries included)",
      Percent(adds_acked, adds_acked + adds_gave_up) + " of " +
          std::to_string(adds_acked + adds_gave_up));
  row("guest merges acknowledged, of those issued (their adds acknowledged)",
      Percent(merges_acked, merges_acked + merges_gave_up) + " of " +
          std::to_string(merges_acked + merges_gave_up) + " (" + std::to_string(merge_adds_acked) +
          ")");
  row("OR-Set checkouts acknowledged, of those issued (lines bought; acked in the history)",
      Percent(checkouts_acked, checkouts_acked + checkouts_gave_up) + " of " +
          std::to_string(checkouts_acked + checkouts_gave_up) + " (" +
          std::to_string(checkout_lines_bought) + "; " + std::to_string(checked_checkouts) + ")");
  row("lost acknowledged adds / sets (failures)", std::to_string(lost_adds));
  row("OR-Set observed removes undone (failures)", std::to_string(removes_undone));
  row("OR-Set checked-out contributions back (failures)", std::to_string(checkouts_back));
  row("OR-Set bought contributions a later read still showed (reported: a stale read)",
      std::to_string(bought_read_again));
  row("phantom mutations in final carts (failures)", std::to_string(phantoms));
  row("lost with the last disk holding them: flush power loss, disk lost or restored (reported)",
      std::to_string(lost_unsynced));
  row("union+max resurrections (reported)", std::to_string(resurrections));
  row("union+max lost increments (reported)", std::to_string(lost_increments));
  AddClusterRows(rows);
  char hash[24];
  std::snprintf(hash, sizeof(hash), "%016llx", static_cast<unsigned long long>(sweep_hash));
  row("trace hash of the sweep", hash);
  row("virtual time simulated", Num(static_cast<double>(sim_ms) / 1000.0, 1) + " s");
  row("messages sent / events run", std::to_string(messages) + " / " + std::to_string(events));
  if (wall_seconds > 0) {
    row("wall time", Num(wall_seconds, 2) + " s");
    row("simulated cart operations per wall second", Num(static_cast<double>(ops) / wall_seconds));
    row("simulated client requests per wall second",
        Num(static_cast<double>(requests) / wall_seconds));
  }
  size_t width = 0;
  for (const auto& [k, v] : rows) width = std::max(width, k.size());
  std::string out = "| " + std::string("metric") + std::string(width - 6, ' ') + " | value\n";
  out += "|" + std::string(width + 2, '-') + "|------\n";
  for (const auto& [k, v] : rows)
    out += "| " + k + std::string(width - k.size(), ' ') + " | " + v + "\n";
  return out;
}

std::string SeedLine(const SeedResult& r) {
  const WorkloadStats& w = r.workload;
  char buf[512];
  std::snprintf(
      buf, sizeof(buf),
      "seed=%llu %s ops=%llu acked_adds=%llu lost=%llu undone=%llu checkouts=%llu back=%llu "
      "unsynced=%llu "
      "resurrections=%llu lost_increments=%llu avail=%s settle=%llums needed_read=%llu/%llu "
      "trace_hash=%016llx",
      static_cast<unsigned long long>(r.seed), r.ok() ? "ok" : "FAIL",
      static_cast<unsigned long long>(w.ops_started),
      static_cast<unsigned long long>(r.check.acked_adds),
      static_cast<unsigned long long>(r.check.lost_adds),
      static_cast<unsigned long long>(r.check.removes_undone),
      static_cast<unsigned long long>(r.check.checkouts_acked),
      static_cast<unsigned long long>(r.check.checkouts_back),
      static_cast<unsigned long long>(r.check.lost_unsynced),
      static_cast<unsigned long long>(r.check.resurrections),
      static_cast<unsigned long long>(r.check.lost_increments),
      Percent(w.writes.eligible_writes_ok, w.writes.eligible_writes).c_str(),
      static_cast<unsigned long long>(r.settle_ms),
      static_cast<unsigned long long>(r.keys_needing_read), static_cast<unsigned long long>(r.keys),
      static_cast<unsigned long long>(r.trace_hash));
  std::string out = buf;
  if (r.stale_reply_hazards != 0)
    out += " stale_reply_hazards=" + std::to_string(r.stale_reply_hazards);
  return out;
}

}  // namespace trolley::sim
