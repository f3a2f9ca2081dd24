// Goal: the simulator's checkers pass on the real code for many seeds,
// fail on every planted bug within a bounded number of seeds, and one seed
// is one exact run.
// Method: RunSeed (simulation/simulator.h) on seed ranges. Seeds 1..N,
// N = TROLLEY_SIM_SEEDS (default 500; the ASan build runs fewer), in 10
// shards that ctest can run in parallel. A failure prints the command that
// replays the seed.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "simulation/sim_config.h"
#include "simulation/simulator.h"
#include "tests/support/property_env.h"

namespace trolley::sim {
namespace {

const uint64_t kSeeds = test_support::EnvOr("TROLLEY_SIM_SEEDS", 500);
constexpr uint64_t kShards = 10;
// Every planted bug must be caught within this many seeds.
constexpr uint64_t kBugSeedsMax = 200;

std::string Replay(uint64_t seed, PlantedBug bug) {
  std::string cmd = "trolley-sim --seed " + std::to_string(seed);
  if (bug != PlantedBug::kNone) cmd += " --bug " + std::string(PlantedBugName(bug));
  return cmd;
}

std::string Failures(const SeedResult& r) {
  std::string out;
  for (size_t i = 0; i < r.failures.size() && i < 5; ++i) out += "\n  " + r.failures[i];
  return out + "\n  config: " + r.config;
}

class SimulationSeeds : public ::testing::TestWithParam<uint64_t> {};

TEST_P(SimulationSeeds, EverySeedPasses) {
  const uint64_t shard = GetParam();
  const uint64_t first = 1 + shard * kSeeds / kShards;
  const uint64_t last = (shard + 1) * kSeeds / kShards;
  uint64_t ops = 0, acked_adds = 0;
  for (uint64_t seed = first; seed <= last; ++seed) {
    const SeedResult r = RunSeed(seed, SimOptions{});
    EXPECT_TRUE(r.ok()) << "seed " << seed << " failed; replay: " << Replay(seed, PlantedBug::kNone)
                        << Failures(r);
    ops += r.workload.ops_started;
    acked_adds += r.check.acked_adds;
  }
  // The workload did something worth checking.
  if (last >= first) {
    EXPECT_GT(ops, 50 * (last - first + 1));
    EXPECT_GT(acked_adds, 10 * (last - first + 1));
  }
}

INSTANTIATE_TEST_SUITE_P(Shards, SimulationSeeds, ::testing::Range<uint64_t>(0, kShards));

class PlantedBugs : public ::testing::TestWithParam<PlantedBug> {};

TEST_P(PlantedBugs, CaughtWithinBoundedSeeds) {
  const PlantedBug bug = GetParam();
  SimOptions options;
  options.bug = bug;
  for (uint64_t seed = 1; seed <= kBugSeedsMax; ++seed) {
    const SeedResult r = RunSeed(seed, options);
    if (!r.ok()) {
      std::printf("planted bug %s caught at seed %llu: %s\n",
                  std::string(PlantedBugName(bug)).c_str(), static_cast<unsigned long long>(seed),
                  r.failures.front().c_str());
      return;
    }
  }
  ADD_FAILURE() << "planted bug " << PlantedBugName(bug) << " not caught in seeds 1.."
                << kBugSeedsMax << ": the checkers cannot see it";
}

INSTANTIATE_TEST_SUITE_P(Bugs, PlantedBugs,
                         ::testing::Values(PlantedBug::kLww, PlantedBug::kPlainVc,
                                           PlantedBug::kDropHints, PlantedBug::kOverwriteRepair,
                                           PlantedBug::kAaeOverwrite, PlantedBug::kStaleRemove,
                                           PlantedBug::kRemoveForgetsContext,
                                           PlantedBug::kMergeSets),
                         [](const auto& param_info) {
                           std::string name(PlantedBugName(param_info.param));
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

// reuse-actor (the actor id rule before actor epochs) shows only when a
// disk fault meets a write whose context lacks the reused dots, a few seeds
// in a thousand: it gets a longer bound, and the seed that catches it must
// pass with the real rule (a new epoch at every open).
constexpr uint64_t kReuseActorSeedsMax = 1000;

TEST(PlantedReuseActor, CaughtAfterADiskFaultAndFixedByEpochs) {
  SimOptions bug;
  bug.bug = PlantedBug::kReuseActor;
  for (uint64_t seed = 1; seed <= kReuseActorSeedsMax; ++seed) {
    // Disk faults come only with crashes (the nemesis draws them together):
    // a seed without crashes cannot show the bug, so it is not run.
    if (!ChooseConfig(seed, 1.0).crashes) continue;
    const SeedResult r = RunSeed(seed, bug);
    if (r.ok()) continue;
    std::printf("planted bug reuse-actor caught at seed %llu: %s\n",
                static_cast<unsigned long long>(seed), r.failures.front().c_str());
    EXPECT_GT(r.disks_lost + r.disks_restored, 0u) << "caught without a disk fault";
    const SeedResult fixed = RunSeed(seed, SimOptions{});
    EXPECT_TRUE(fixed.ok()) << Replay(seed, PlantedBug::kNone) << "\n  " << fixed.failures.front();
    return;
  }
  ADD_FAILURE() << "planted bug reuse-actor not caught in seeds 1.." << kReuseActorSeedsMax;
}

TEST(SimulationDeterminism, SameSeedSameTraceHashTracedOrNot) {
  for (uint64_t seed : {1, 7, 42, 845}) {
    const SeedResult a = RunSeed(seed, SimOptions{});
    const SeedResult b = RunSeed(seed, SimOptions{});
    uint64_t lines = 0;
    SimOptions traced;
    traced.trace_sink = [&lines](std::string_view) { ++lines; };
    const SeedResult c = RunSeed(seed, traced);
    EXPECT_EQ(a.trace_hash, b.trace_hash) << "seed " << seed;
    EXPECT_EQ(a.trace_hash, c.trace_hash) << "seed " << seed << ": tracing changed the run";
    EXPECT_EQ(a.workload.ops_started, c.workload.ops_started);
    EXPECT_EQ(a.events, c.events);
    EXPECT_GT(lines, a.workload.ops_started) << "a trace prints every event";
  }
}

TEST(SimulationDeterminism, DifferentSeedsDifferentRuns) {
  EXPECT_NE(RunSeed(1, SimOptions{}).trace_hash, RunSeed(2, SimOptions{}).trace_hash);
  SimOptions lww;
  lww.bug = PlantedBug::kLww;
  EXPECT_NE(RunSeed(1, SimOptions{}).trace_hash, RunSeed(1, lww).trace_hash);
}

}  // namespace
}  // namespace trolley::sim
