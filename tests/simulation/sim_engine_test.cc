// Goal: SimEngine, the simulator's in-memory engine, behaves like LmdbEngine
// wherever a node can tell (results of writes and merges, reads, hints,
// limits, expiry), and models crashes as documented in sim_engine.h: a
// process crash loses what was not committed, a power loss also what was
// not fsynced, and every open takes a new actor epoch.
// Both keep the same anti-entropy tree (storage/aae_tree.h) step by step,
// and after a sweep (which re-hashes entries that expiry made drift) it
// equals the tree rebuilt from scratch from the stored objects.
// Method: the same random operation sequences against both engines
// (LmdbEngine in a temp dir, durability none), compared after every step;
// then hand-written crash scenarios against SimEngine alone.
#include "simulation/sim_engine.h"

#include <gtest/gtest.h>

#include <future>
#include <optional>
#include <set>

#include "common/key.h"
#include "common/random.h"
#include "simulation/event_loop.h"
#include "storage/aae_tree.h"
#include "storage/key_layout.h"
#include "storage/lmdb/lmdb_engine.h"
#include "tests/support/temp_dir.h"

namespace trolley::sim {
namespace {

constexpr size_t kSiblingsMax = 5;
constexpr size_t kObjectBytesMax = 4096;

// A SimEngine driven to completion after every call.
class SimHarness {
 public:
  SimHarness(Clock* clock, Durability durability, PlantedBug bug = PlantedBug::kNone)
      : clock_(clock), durability_(durability), bug_(bug) {
    Open();
  }

  void Open() {
    SimEngine::Env env;
    env.clock = clock_;
    env.schedule = [this](uint64_t at, std::function<void()> fn) {
      loop_.At(at, [this, life = life_, fn = std::move(fn)] {
        if (life == life_) fn();
      });
    };
    env.now_ns = [this] { return loop_.now_ns(); };
    env.commit_latency_ns = [] { return 1000; };
    env.random_epoch = [this] { return epoch_rng_.Next(); };
    SimEngineOptions o;
    o.durability = durability_;
    o.siblings_max = kSiblingsMax;
    o.object_bytes_max = kObjectBytesMax;
    o.bug = bug_;
    engine = std::make_unique<SimEngine>(disk, o, std::move(env));
  }
  // Destroys the engine: nothing it had not committed runs any more.
  void Crash(bool power_loss) {
    engine.reset();
    ++life_;
    if (power_loss) disk.PowerLoss();
  }
  void Run() {
    while (loop_.RunNext()) {
    }
  }

  Result<SiblingSet> Put(const ObjectKey& key, WriteIntent intent, ActorId actor) {
    std::optional<Result<SiblingSet>> out;
    engine->Put(key, std::move(intent), actor,
                [&](Result<SiblingSet> r) { out.emplace(std::move(r)); });
    Run();
    return std::move(*out);
  }
  Result<SiblingSet> Merge(const ObjectKey& key, const SiblingSet& remote) {
    std::optional<Result<SiblingSet>> out;
    engine->Merge(key, remote, [&](Result<SiblingSet> r) { out.emplace(std::move(r)); });
    Run();
    return std::move(*out);
  }
  Result<SweepReport> Sweep(uint64_t grace_ms) {
    std::optional<Result<SweepReport>> out;
    engine->Sweep(grace_ms, [&](Result<SweepReport> r) { out.emplace(std::move(r)); });
    Run();
    return std::move(*out);
  }
  Status HintOp(std::function<void(HintStore&, Engine::DoneCallback)> op) {
    std::optional<Status> out;
    op(engine->hints(), [&](Status s) { out = s; });
    Run();
    return *out;
  }

  SimDisk disk;
  EventLoop loop_;
  std::unique_ptr<SimEngine> engine;

 private:
  Clock* clock_;
  Durability durability_;
  PlantedBug bug_;
  uint64_t life_ = 0;
  Random epoch_rng_{77};
};

class LmdbHarness {
 public:
  explicit LmdbHarness(Clock* clock) {
    LmdbEngineOptions o;
    o.path = dir_.path();
    o.durability = Durability::kNone;
    o.clock = clock;
    o.siblings_max = kSiblingsMax;
    o.object_bytes_max = kObjectBytesMax;
    o.siblings_warn = kSiblingsMax;
    o.object_bytes_warn = kObjectBytesMax;
    engine = std::move(LmdbEngine::Open(o)).value();
  }
  ~LmdbHarness() { engine.reset(); }  // before dir_ goes
  Result<SiblingSet> Put(const ObjectKey& key, WriteIntent intent, ActorId actor) {
    std::promise<Result<SiblingSet>> p;
    engine->Put(key, std::move(intent), actor,
                [&](Result<SiblingSet> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  Result<SiblingSet> Merge(const ObjectKey& key, const SiblingSet& remote) {
    std::promise<Result<SiblingSet>> p;
    engine->Merge(key, remote, [&](Result<SiblingSet> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  Result<SweepReport> Sweep(uint64_t grace_ms) {
    std::promise<Result<SweepReport>> p;
    engine->Sweep(grace_ms, [&](Result<SweepReport> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  Status HintOp(std::function<void(HintStore&, Engine::DoneCallback)> op) {
    std::promise<Status> p;
    op(engine->hints(), [&](Status s) { p.set_value(s); });
    return p.get_future().get();
  }

  std::unique_ptr<LmdbEngine> engine;

 private:
  test_support::TempDir dir_{"trolley-simengine"};
};

void ExpectSame(const Result<SiblingSet>& sim, const Result<SiblingSet>& lmdb,
                const std::string& what) {
  ASSERT_EQ(sim.ok(), lmdb.ok()) << what << ": sim " << sim.status().ToString() << " lmdb "
                                 << lmdb.status().ToString();
  if (sim.ok()) {
    EXPECT_EQ(*sim, *lmdb) << what << "\n sim:  " << sim->DebugString()
                           << "\n lmdb: " << lmdb->DebugString();
  } else {
    EXPECT_EQ(sim.status().code(), lmdb.status().code()) << what;
  }
}

std::vector<std::string> HintSummary(HintStore& hints, const std::string& target) {
  std::vector<std::string> out;
  const std::vector<Hint> listed = hints.List(target, 1000).value();
  for (const Hint& h : listed) {
    out.push_back(h.key.key + "@" + std::to_string(h.created_ms) + ":" + h.state.DebugString());
  }
  return out;
}

// The anti-entropy tree of `engine`'s stored objects at their live
// versions, built from scratch by a full scan.
std::vector<uint64_t> ScratchSegments(Engine& engine, uint64_t now_ms) {
  AaeTree tree;
  const ScanPage page = engine.Scan(0, ~uint64_t{0}, nullptr, 1'000'000).value();
  for (const KeyState& ks : page.entries) {
    tree.Apply(KeyHash(ks.key.ns, ks.key.key),
               KeyContribution(key_layout::EncodeObjectKey(ks.key), VersionHash(ks.state, now_ms)));
  }
  tree.CheckInvariants();
  return std::vector<uint64_t>(tree.segments().begin(), tree.segments().end());
}

// A computed write's transform: pure, refuses on more than 3 visible
// siblings (like a cart limit), else a short summary of what it saw.
Result<std::string> SummarizeVisible(const SiblingSet& current) {
  size_t live = 0, bytes = 0;
  for (const Sibling& s : current.siblings()) {
    if (s.tombstone) continue;
    ++live;
    bytes += s.value.size();
  }
  if (live > 3) return Status::LimitExceeded("more than 3 live siblings");
  return "seen " + std::to_string(live) + "/" + std::to_string(bytes);
}

TEST(SimEngineConformance, RandomOperationsMatchLmdbEngine) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    ManualClock clock;
    SimHarness sim(&clock, Durability::kSync);
    LmdbHarness lmdb(&clock);
    Random rng(seed);
    const std::vector<std::string> keys = {"a", "b", "c"};
    const std::vector<std::string> targets = {"n2", "n3"};
    std::vector<VersionVector> contexts = {{}};  // contexts some client once read
    SiblingSet remote;                           // another replica's state of every key
    std::vector<uint64_t> write_ids;
    int sweeps = 0;
    for (int step = 0; step < 300; ++step) {
      const ObjectKey key{"carts", keys[rng.Uniform(keys.size())]};
      const std::string what = "step " + std::to_string(step);
      const uint64_t kind = rng.Uniform(100);
      if (kind < 45) {
        WriteIntent w;
        w.context = contexts[rng.Uniform(contexts.size())];
        w.tombstone = rng.Chance(0.1);
        if (!w.tombstone)
          w.value = std::string(rng.Range(1, 1200), static_cast<char>('a' + rng.Uniform(26)));
        if (rng.Chance(0.3) && !write_ids.empty()) {
          w.write_id = write_ids[rng.Uniform(write_ids.size())];
        } else if (rng.Chance(0.7)) {
          w.write_id = rng.Next() | 1;
          write_ids.push_back(w.write_id);
        }
        w.timestamp_ms = clock.NowWallMs();
        if (rng.Chance(0.2)) w.expiry_ms = clock.NowWallMs() + rng.Range(1, 30);
        if (!w.tombstone && rng.Chance(0.25)) w.transform = SummarizeVisible;
        const ActorId actor = rng.Range(1, 3);
        ExpectSame(sim.Put(key, w, actor), lmdb.Put(key, w, actor), what + " put");
      } else if (kind < 65) {
        WriteIntent w;
        w.context = remote.context();
        w.value = "remote-" + std::to_string(step);
        w.timestamp_ms = clock.NowWallMs();
        remote.ApplyWrite(w, 99, 0);
        ExpectSame(sim.Merge(key, remote), lmdb.Merge(key, remote), what + " merge");
      } else if (kind < 75) {
        Hint h{targets[rng.Uniform(2)], key, remote, clock.NowWallMs()};
        EXPECT_EQ(sim.HintOp([&](HintStore& s, auto done) { s.Add(h, done); }).code(),
                  lmdb.HintOp([&](HintStore& s, auto done) { s.Add(h, done); }).code());
      } else if (kind < 82) {
        const std::string target = targets[rng.Uniform(2)];
        // Delivered: what the hint holds now, or an older state.
        SiblingSet delivered;
        const std::vector<Hint> held = lmdb.engine->List(target, 100).value();
        for (const Hint& h : held) {
          if (h.key == key) delivered = h.state;
        }
        if (rng.Chance(0.3)) delivered = SiblingSet();
        EXPECT_EQ(sim.HintOp([&](HintStore& s, auto done) {
                       s.RemoveDelivered(target, key, delivered, done);
                     })
                      .code(),
                  lmdb.HintOp([&](HintStore& s, auto done) {
                        s.RemoveDelivered(target, key, delivered, done);
                      })
                      .code());
      } else if (kind < 85) {
        const std::string target = targets[rng.Uniform(2)];
        EXPECT_EQ(sim.HintOp([&](HintStore& s, auto done) { s.Drop(target, key, done); }).code(),
                  lmdb.HintOp([&](HintStore& s, auto done) { s.Drop(target, key, done); }).code());
      } else if (kind < 95) {
        auto state = lmdb.engine->Get(key);
        if (state.ok()) contexts.push_back(state->context());
      } else if (kind < 97) {
        clock.AdvanceMs(rng.Range(1, 20));
      } else {
        // Removes expired keys and old tombstones (keys leave the tree) and
        // re-hashes drifted entries: the tree is then exactly the data's.
        const uint64_t grace_ms = rng.Range(0, 10);
        const Result<SweepReport> a = sim.Sweep(grace_ms), b = lmdb.Sweep(grace_ms);
        ASSERT_TRUE(a.ok() && b.ok()) << what;
        EXPECT_EQ(a->expired_removed, b->expired_removed) << what;
        EXPECT_EQ(a->tombstones_purged, b->tombstones_purged) << what;
        const std::vector<uint64_t> scratch = ScratchSegments(*lmdb.engine, clock.NowWallMs());
        EXPECT_EQ(sim.engine->AaeSegments(0, AaeTree::kSegments), scratch) << what << " sweep";
        EXPECT_EQ(lmdb.engine->AaeSegments(0, AaeTree::kSegments), scratch) << what << " sweep";
        ++sweeps;
      }
      EXPECT_EQ(sim.engine->AaeBranches(0, AaeTree::kBranches),
                lmdb.engine->AaeBranches(0, AaeTree::kBranches))
          << what << " aae tree";
      for (const std::string& k : keys) {
        const ObjectKey ok{"carts", k};
        ExpectSame(sim.engine->Get(ok), lmdb.engine->Get(ok), what + " get " + k);
      }
      for (const std::string& t : targets) {
        EXPECT_EQ(HintSummary(*sim.engine, t), HintSummary(*lmdb.engine, t))
            << what << " hints " << t;
      }
      EXPECT_EQ(sim.engine->Targets().value(), lmdb.engine->Targets().value()) << what;
      EXPECT_EQ(sim.engine->Stats()->count, lmdb.engine->Stats()->count) << what;
      if (::testing::Test::HasFailure()) return;
    }
    EXPECT_GT(sweeps, 0);
  }
}

WriteIntent Value(std::string v, VersionVector context = {}) {
  WriteIntent w;
  w.value = std::move(v);
  w.context = std::move(context);
  return w;
}

const ObjectKey kKey{"carts", "k"};

// Appends "+" to the one visible value (or starts at "+").
Result<std::string> AppendPlus(const SiblingSet& current) {
  std::string value;
  for (const Sibling& s : current.siblings()) {
    if (!s.tombstone) value += s.value;
  }
  return value + "+";
}

WriteIntent Computed(WriteTransform transform) {
  WriteIntent w;
  w.transform = std::move(transform);
  return w;
}

TEST(SimEngineConformance, QueuedComputedWritesEachSeeThePreviousOne) {
  // Submitted back to back, before any commit: each transform runs on the
  // state its predecessors left, so none is lost and no sibling is left.
  ManualClock clock;
  SimHarness sim(&clock, Durability::kSync);
  LmdbHarness lmdb(&clock);
  std::vector<Result<SiblingSet>> sim_out, lmdb_out;
  std::vector<std::promise<Result<SiblingSet>>> lmdb_done(5);
  for (int i = 0; i < 5; ++i) {
    sim.engine->Put(kKey, Computed(AppendPlus), 1,
                    [&](Result<SiblingSet> r) { sim_out.push_back(std::move(r)); });
    lmdb.engine->Put(kKey, Computed(AppendPlus), 1, [&lmdb_done, i](Result<SiblingSet> r) {
      lmdb_done[i].set_value(std::move(r));
    });
  }
  sim.Run();
  for (auto& p : lmdb_done) lmdb_out.push_back(p.get_future().get());
  ASSERT_EQ(sim_out.size(), 5u);
  for (int i = 0; i < 5; ++i) ExpectSame(sim_out[i], lmdb_out[i], "put " + std::to_string(i));
  const SiblingSet last = sim.engine->Get(kKey).value();
  ASSERT_EQ(last.size(), 1u) << last.DebugString();
  EXPECT_EQ(last.siblings()[0].value, "+++++");
  EXPECT_EQ(lmdb.engine->Get(kKey).value(), last);
}

TEST(SimEngineConformance, ComputedWritesGoThroughThePlantedBugsToo) {
  // The planted-bug paths write the resolved intent, not the empty value.
  for (PlantedBug bug : {PlantedBug::kPlainVc, PlantedBug::kLww}) {
    ManualClock clock;
    SimHarness h(&clock, Durability::kSync, bug);
    ASSERT_TRUE(h.Put(kKey, Computed(AppendPlus), 1).ok());
    const SiblingSet after = h.Put(kKey, Computed(AppendPlus), 1).value();
    ASSERT_EQ(after.size(), 1u) << after.DebugString();
    EXPECT_EQ(after.siblings()[0].value, "++");
  }
}

TEST(SimEngineCrash, WritesAreInvisibleUntilCommittedAndLostIfTheProcessDiesFirst) {
  ManualClock clock;
  SimHarness h(&clock, Durability::kSync);
  bool called = false;
  h.engine->Put(kKey, Value("x"), 1, [&](Result<SiblingSet>) { called = true; });
  EXPECT_TRUE(h.engine->Get(kKey).status().IsNotFound()) << "visible before its commit";
  EXPECT_FALSE(h.engine->Idle());
  h.Crash(false);
  h.Run();
  EXPECT_FALSE(called) << "a crashed engine called back";
  h.Open();
  EXPECT_TRUE(h.engine->Get(kKey).status().IsNotFound());
}

TEST(SimEngineCrash, SyncCommitsSurvivePowerLoss) {
  ManualClock clock;
  SimHarness h(&clock, Durability::kSync);
  ASSERT_TRUE(h.Put(kKey, Value("x"), 1).ok());
  h.Crash(true);
  h.Open();
  ASSERT_TRUE(h.engine->Get(kKey).ok());
  EXPECT_EQ(h.engine->Get(kKey)->siblings().at(0).value, "x");
}

TEST(SimEngineCrash, FlushCommitsSurviveAProcessCrashButNotAPowerLossBeforeTheFsync) {
  ManualClock clock;
  SimHarness h(&clock, Durability::kFlush);
  const SiblingSet first = h.Put(kKey, Value("x"), 1).value();
  h.engine->Fsync();
  const SiblingSet second = h.Put(kKey, Value("y", first.context()), 1).value();
  ASSERT_TRUE(h.HintOp([&](HintStore& s, auto done) {
                 s.Add(Hint{"n2", kKey, second, 1}, done);
               }).ok());
  EXPECT_EQ(h.engine->Get(kKey).value(), second) << "acknowledged in flush: visible";

  h.Crash(false);  // process crash: the page cache keeps the commit
  h.Open();
  EXPECT_EQ(h.engine->Get(kKey).value(), second);
  EXPECT_EQ(h.engine->Stats()->count, 1u);

  h.Crash(true);  // power loss: back to the last fsync
  h.Open();
  EXPECT_EQ(h.engine->Get(kKey).value(), first);
  EXPECT_EQ(h.engine->Stats()->count, 0u);
  // The new epoch's actor is what keeps the forgotten dot from being issued
  // again; the floors of earlier epochs are gone with them.
  EXPECT_TRUE(h.disk.floors.empty());
}

// Goal: SimEngine takes a new actor epoch at every open, as LmdbEngine does
// (the same rule, checked side by side): after a clean close, after a
// crash, on an emptied disk and on a restored older copy of the disk; and
// an open drops the dot floors of earlier epochs in both.
TEST(SimEngineCrash, EveryOpenTakesANewEpochLikeLmdbEngine) {
  ManualClock clock;
  SimHarness h(&clock, Durability::kSync);
  test_support::TempDir dir("trolley-simengine-epoch");
  LmdbEngineOptions o;
  o.path = dir.path();
  o.clock = &clock;
  auto lmdb = std::move(LmdbEngine::Open(o)).value();
  std::set<uint64_t> sim_epochs = {h.engine->incarnation()};
  std::set<uint64_t> lmdb_epochs = {lmdb->incarnation()};
  auto put_both = [&](const std::string& v) {
    ASSERT_TRUE(h.Put(kKey, Value(v), h.engine->incarnation()).ok());
    std::promise<Result<SiblingSet>> p;
    lmdb->Put(kKey, Value(v), lmdb->incarnation(), [&](Result<SiblingSet> r) { p.set_value(r); });
    ASSERT_TRUE(p.get_future().get().ok());
  };
  put_both("first life");
  const SimDisk older = h.disk;  // a cold copy, for the restore below
  for (const char* stop : {"clean", "crash", "restore", "empty"}) {
    SCOPED_TRACE(stop);
    if (std::string(stop) == "clean") h.engine->Close();
    h.Crash(false);
    if (std::string(stop) == "restore") h.disk = older;
    if (std::string(stop) == "empty") h.disk = SimDisk{};
    h.Open();
    EXPECT_TRUE(h.disk.floors.empty());
    EXPECT_NE(h.engine->incarnation(), 0u);
    EXPECT_TRUE(sim_epochs.insert(h.engine->incarnation()).second) << "an epoch repeated";
    lmdb.reset();  // a clean close: LmdbEngine too must take a new epoch
    lmdb = std::move(LmdbEngine::Open(o)).value();
    EXPECT_EQ(lmdb->counters().dot_floors_dropped_at_open, 1u);
    EXPECT_TRUE(lmdb_epochs.insert(lmdb->incarnation()).second) << "an epoch repeated";
    put_both(std::string("after ") + stop);
  }
}

TEST(SimEngineCrash, CleanCloseAppliesQueuedWritesDurably) {
  ManualClock clock;
  SimHarness h(&clock, Durability::kSync);
  h.engine->Put(kKey, Value("queued"), 1,
                [](Result<SiblingSet>) { ADD_FAILURE() << "called back after Close"; });
  h.engine->Close();  // clean: drains, fsyncs
  h.Crash(true);      // even a power loss after a clean close loses nothing
  h.Open();
  EXPECT_TRUE(h.engine->Get(kKey).ok()) << "a clean close applies queued writes";
}

TEST(SimEngineCrash, PlantedReuseActorCountsLivesAsBeforeEpochs) {
  ManualClock clock;
  SimHarness h(&clock, Durability::kSync, PlantedBug::kReuseActor);
  EXPECT_EQ(h.engine->incarnation(), 1u);
  h.Crash(false);
  h.Open();
  EXPECT_EQ(h.engine->incarnation(), 2u);
  h.engine->Close();  // clean: keeps the counter
  h.Crash(false);
  h.Open();
  EXPECT_EQ(h.engine->incarnation(), 2u);
  h.Crash(false);
  h.disk = SimDisk{};  // a lost disk starts again at 1: kv679
  h.Open();
  EXPECT_EQ(h.engine->incarnation(), 1u);
}

TEST(SimEngineBugs, LwwKeepsOneSiblingAndPlainVcReusesADot) {
  ManualClock clock;
  {
    SimHarness h(&clock, Durability::kSync, PlantedBug::kLww);
    ASSERT_TRUE(h.Put(kKey, Value("a"), 1).ok());
    clock.AdvanceMs(1);
    EXPECT_EQ(h.Put(kKey, Value("b"), 2)->size(), 1u) << "lww keeps only the newest";
  }
  {
    SimHarness h(&clock, Durability::kSync, PlantedBug::kPlainVc);
    const SiblingSet base = h.Put(kKey, Value("base"), 1).value();
    ASSERT_TRUE(h.Put(kKey, Value("one", base.context()), 1).ok());
    const SiblingSet after = h.Put(kKey, Value("two", base.context()), 1).value();
    // docs/design.md, 'Versions: dotted version vector sets': two writers from the same context
    // through the same coordinator; with dots both survive, with a plain vector clock the second
    // silently replaces the first.
    ASSERT_EQ(after.size(), 1u) << after.DebugString();
    EXPECT_EQ(after.siblings().at(0).value, "two");
  }
  {
    SimHarness h(&clock, Durability::kSync);
    const SiblingSet base = h.Put(kKey, Value("base"), 1).value();
    ASSERT_TRUE(h.Put(kKey, Value("one", base.context()), 1).ok());
    EXPECT_EQ(h.Put(kKey, Value("two", base.context()), 1)->size(), 2u) << "the real rule";
  }
}

}  // namespace
}  // namespace trolley::sim
