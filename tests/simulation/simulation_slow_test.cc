// Goal: a long sweep (label slow; TROLLEY_SLOW=1 scripts/test.sh) finds no
// failing seed. Seeds 501..500+TROLLEY_SIM_SLOW_SEEDS (default 10000), after
// the default run's 1..500. A failure prints the command that replays it.
#include <gtest/gtest.h>

#include <string>

#include "simulation/simulator.h"
#include "tests/support/property_env.h"

namespace trolley::sim {
namespace {

const uint64_t kSeeds = test_support::EnvOr("TROLLEY_SIM_SLOW_SEEDS", 10000);
constexpr uint64_t kShards = 4;

class SimulationSlow : public ::testing::TestWithParam<uint64_t> {};

TEST_P(SimulationSlow, EverySeedPasses) {
  const uint64_t first = 501 + GetParam() * kSeeds / kShards;
  const uint64_t last = 500 + (GetParam() + 1) * kSeeds / kShards;
  for (uint64_t seed = first; seed <= last; ++seed) {
    const SeedResult r = RunSeed(seed, SimOptions{});
    if (r.ok()) continue;
    std::string why;
    for (size_t i = 0; i < r.failures.size() && i < 3; ++i) why += "\n  " + r.failures[i];
    ADD_FAILURE() << "seed " << seed << " failed; replay: trolley-sim --seed " << seed << why;
  }
}

INSTANTIATE_TEST_SUITE_P(Shards, SimulationSlow, ::testing::Range<uint64_t>(0, kShards));

}  // namespace
}  // namespace trolley::sim
