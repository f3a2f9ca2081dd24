#include "tests/support/random_state.h"

#include <algorithm>
#include <vector>

namespace trolley::test_support {

std::string RandomBytes(Random& rng, size_t size_min, size_t size_max) {
  std::string out(rng.Range(size_min, size_max), '\0');
  for (char& c : out) c = static_cast<char>(rng.Uniform(256));
  return out;
}

SiblingSet RandomState(Random& rng, uint64_t steps_max) {
  const size_t replica_count = 1 + rng.Uniform(4);
  std::vector<SiblingSet> replicas(replica_count);
  std::vector<ActorId> actors;
  std::vector<uint64_t> floors(replica_count, 0);
  for (size_t i = 0; i < replica_count; ++i) {
    actors.push_back(rng.Chance(0.5) ? i + 1 : rng.Next());
  }
  VersionVector stale;
  const uint64_t steps = rng.Range(0, steps_max);
  for (uint64_t step = 0; step < steps; ++step) {
    const size_t r = rng.Uniform(replica_count);
    if (rng.Chance(0.25)) {
      replicas[r].Merge(replicas[rng.Uniform(replica_count)]);
      continue;
    }
    WriteIntent w;
    const uint64_t pick = rng.Uniform(3);
    if (pick == 1) w.context = replicas[rng.Uniform(replica_count)].context();
    if (pick == 2) w.context = stale;
    w.tombstone = rng.Chance(0.15);
    if (!w.tombstone) w.value = RandomBytes(rng, 0, 64);
    w.write_id = rng.Chance(0.5) ? rng.Uniform(8) : rng.Next();
    w.timestamp_ms = rng.Next() >> rng.Uniform(64);
    w.expiry_ms = rng.Chance(0.3) ? rng.Next() >> rng.Uniform(64) : 0;
    const WriteOutcome out = replicas[r].ApplyWrite(w, actors[r], floors[r]);
    floors[r] = std::max(floors[r], out.dot.counter);
    if (rng.Chance(0.2)) stale = replicas[r].context();
  }
  SiblingSet result = replicas[rng.Uniform(replica_count)];
  if (rng.Chance(0.5)) {
    for (const SiblingSet& s : replicas) result.Merge(s);
  }
  result.CheckInvariants();
  return result;
}

}  // namespace trolley::test_support
