// Goal: LmdbEngine keeps the rules of docs/design.md, 'Versions: dotted version vector sets', on
// disk: writes with and without context, merges, tombstones, TTL (lazy removal and sweep),
// partition scans, hints, limits and the actor epoch that changes at every
// open. Method: a real engine in a temp dir, a ManualClock, and
// blocking wrappers around the asynchronous write calls.
#include "storage/lmdb/lmdb_engine.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <set>

#include "common/key.h"
#include "common/random.h"
#include "storage/record_codec.h"
#include "tests/support/temp_dir.h"

namespace trolley {
namespace {

constexpr ActorId kActor = 7;

class LmdbEngineTest : public ::testing::TestWithParam<Durability> {
 protected:
  void SetUp() override { Reopen(); }
  void TearDown() override { engine_.reset(); }

  LmdbEngineOptions Options() {
    LmdbEngineOptions o;
    o.path = dir_.path();
    o.durability = GetParam();
    o.flush_interval_ms = 5;
    o.clock = &clock_;
    o.siblings_warn = 3;
    o.siblings_max = 5;
    o.object_bytes_max = 64 * 1024;
    return o;
  }

  void Reopen() {
    engine_.reset();
    auto opened = LmdbEngine::Open(Options());
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    engine_ = std::move(opened).value();
  }

  Result<SiblingSet> Put(const ObjectKey& key, WriteIntent intent, ActorId actor = kActor) {
    std::promise<Result<SiblingSet>> p;
    engine_->Put(key, std::move(intent), actor,
                 [&](Result<SiblingSet> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  Result<SiblingSet> Put(const ObjectKey& key, const VersionVector& ctx, std::string value,
                         uint64_t expiry_ms = 0) {
    WriteIntent w;
    w.context = ctx;
    w.value = std::move(value);
    w.timestamp_ms = clock_.NowWallMs();
    w.expiry_ms = expiry_ms;
    return Put(key, std::move(w));
  }
  Result<SiblingSet> Merge(const ObjectKey& key, SiblingSet remote) {
    std::promise<Result<SiblingSet>> p;
    engine_->Merge(key, std::move(remote),
                   [&](Result<SiblingSet> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  Status HintAdd(Hint h) {
    std::promise<Status> p;
    engine_->hints().Add(std::move(h), [&](Status s) { p.set_value(s); });
    return p.get_future().get();
  }
  Result<SweepReport> Sweep(uint64_t grace_ms) {
    std::promise<Result<SweepReport>> p;
    engine_->Sweep(grace_ms, [&](Result<SweepReport> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }

  static std::vector<std::string> Values(const SiblingSet& s) {
    std::vector<std::string> out;
    for (const Sibling& sib : s.siblings()) out.push_back(sib.tombstone ? "<deleted>" : sib.value);
    return out;
  }

  // Declared before engine_: removed after the engine is closed.
  test_support::TempDir dir_{"trolley-engine"};
  ManualClock clock_;
  std::unique_ptr<LmdbEngine> engine_;
};

TEST_P(LmdbEngineTest, PutThenGetSurvivesReopen) {
  const ObjectKey k{"carts", "user-1"};
  auto r = Put(k, {}, "cart-v1");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  Reopen();
  auto got = engine_->Get(k);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(Values(*got), (std::vector<std::string>{"cart-v1"}));
  EXPECT_TRUE(engine_->Get({"carts", "nobody"}).status().IsNotFound());
}

// The plain-vector-clock trap, on disk: same coordinator, same context.
TEST_P(LmdbEngineTest, ConcurrentWritesFromOneContextBothSurvive) {
  const ObjectKey k{"carts", "u"};
  auto base = Put(k, {}, "base");
  ASSERT_TRUE(base.ok());
  const VersionVector ctx = base->context();
  ASSERT_TRUE(Put(k, ctx, "phone").ok());
  ASSERT_TRUE(Put(k, ctx, "laptop").ok());
  auto got = engine_->Get(k);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(Values(*got), (std::vector<std::string>{"phone", "laptop"}));
  // A write with the joined context resolves them.
  auto resolved = Put(k, got->context(), "phone+laptop");
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(Values(*resolved), (std::vector<std::string>{"phone+laptop"}));
}

TEST_P(LmdbEngineTest, MergeIsAJoinAndRedeliveryChangesNothing) {
  const ObjectKey k{"carts", "m"};
  SiblingSet remote;
  WriteIntent w;
  w.value = "remote";
  remote.ApplyWrite(w, /*actor=*/99, 0);
  ASSERT_TRUE(Put(k, {}, "local").ok());
  auto once = Merge(k, remote);
  ASSERT_TRUE(once.ok());
  EXPECT_EQ(once->size(), 2u);
  auto twice = Merge(k, remote);
  ASSERT_TRUE(twice.ok());
  EXPECT_EQ(*twice, *once);
}

TEST_P(LmdbEngineTest, DotCountersNeverRepeatAcrossTombstonePurge) {
  const ObjectKey k{"carts", "purged"};
  auto first = Put(k, {}, "v");
  ASSERT_TRUE(first.ok());
  WriteIntent del;
  del.context = first->context();
  del.tombstone = true;
  del.timestamp_ms = clock_.NowWallMs();
  auto tomb = Put(k, del);
  ASSERT_TRUE(tomb.ok());
  const VersionVector stale_context = tomb->context();
  clock_.AdvanceMs(1000);
  auto swept = Sweep(/*grace_ms=*/500);
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(swept->tombstones_purged, 1u);
  EXPECT_TRUE(engine_->Get(k).status().IsNotFound());
  // Within one life: the next open takes a new epoch, hence a new actor
  // whose dots cannot meet these (EveryOpenTakesANewEpochAndDropsOldFloors).
  auto fresh = Put(k, {}, "new life");
  ASSERT_TRUE(fresh.ok());
  // A client still holding the pre-purge context must not overwrite it.
  auto stale = Put(k, stale_context, "stale writer");
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(Values(*stale), (std::vector<std::string>{"new life", "stale writer"}));
}

TEST_P(LmdbEngineTest, ExpiredObjectsReadAsAbsentAndAreRemoved) {
  const ObjectKey guest{"guest-carts", "g1"};
  const ObjectKey user{"carts", "u1"};
  ASSERT_TRUE(Put(guest, {}, "guest", clock_.NowWallMs() + 1000).ok());
  ASSERT_TRUE(Put(user, {}, "user").ok());
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(
        Put({"guest-carts", "bulk-" + std::to_string(i)}, {}, "x", clock_.NowWallMs() + 500).ok());
  }
  EXPECT_TRUE(engine_->Get(guest).ok());
  clock_.AdvanceMs(1000);
  EXPECT_TRUE(engine_->Get(guest).status().IsNotFound());  // lazy removal queued
  ASSERT_TRUE(engine_->SyncNow().ok());
  auto report = Sweep(/*grace_ms=*/1'000'000);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->expired_removed, 30u);  // the guest cart was already removed on read
  EXPECT_EQ(report->keys_scanned, 31u);
  EXPECT_TRUE(engine_->Get(user).ok());
}

TEST_P(LmdbEngineTest, WriteRefreshesExpiry) {
  const ObjectKey k{"guest-carts", "refresh"};
  auto first = Put(k, {}, "v1", clock_.NowWallMs() + 1000);
  ASSERT_TRUE(first.ok());
  clock_.AdvanceMs(900);
  ASSERT_TRUE(Put(k, first->context(), "v2", clock_.NowWallMs() + 1000).ok());
  clock_.AdvanceMs(900);
  auto got = engine_->Get(k);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->ExpiryMs(clock_.NowWallMs()), clock_.NowWallMs() + 100);
}

TEST_P(LmdbEngineTest, ScanReturnsExactlyOnePartition) {
  constexpr uint32_t kLog2Q = 6;
  std::map<uint32_t, std::set<std::string>> by_partition;
  for (int i = 0; i < 300; ++i) {
    const std::string key = "cart-" + std::to_string(i);
    ASSERT_TRUE(Put({"carts", key}, {}, "v").ok());
    by_partition[PartitionOfHash(KeyHash("carts", key), kLog2Q)].insert(key);
  }
  for (const auto& [partition, keys] : by_partition) {
    const uint64_t first = PartitionFirstHash(partition, kLog2Q);
    const uint64_t last = partition + 1 == (1u << kLog2Q)
                              ? UINT64_MAX
                              : PartitionFirstHash(partition + 1, kLog2Q) - 1;
    std::set<std::string> seen;
    const ObjectKey* resume = nullptr;
    ObjectKey last_key;
    for (;;) {  // pages of 2 to exercise resumption
      auto page = engine_->Scan(first, last, resume, 2);
      ASSERT_TRUE(page.ok());
      for (const KeyState& ks : page->entries) seen.insert(ks.key.key);
      if (!page->more) break;
      last_key = page->entries.back().key;
      resume = &last_key;
    }
    EXPECT_EQ(seen, keys) << "partition " << partition;
  }
}

TEST_P(LmdbEngineTest, HintsMergeAndAreRemovedOnlyWhenDelivered) {
  HintStore& hints = engine_->hints();
  const ObjectKey k{"carts", "h"};
  SiblingSet s1;
  WriteIntent w;
  w.value = "first";
  s1.ApplyWrite(w, 1, 0);
  ASSERT_TRUE(HintAdd({"n2", k, s1, 100}).ok());
  SiblingSet s2 = s1;
  w.context = s1.context();
  w.value = "second";
  s2.ApplyWrite(w, 1, 0);
  ASSERT_TRUE(HintAdd({"n2", k, s2, 200}).ok());
  ASSERT_TRUE(HintAdd({"n3", {"carts", "other"}, s1, 300}).ok());

  auto listed = hints.List("n2", 10);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(Values((*listed)[0].state), (std::vector<std::string>{"second"}));
  EXPECT_EQ((*listed)[0].created_ms, 100u);
  auto targets = hints.Targets();
  ASSERT_TRUE(targets.ok());
  EXPECT_EQ(*targets, (std::vector<std::string>{"n2", "n3"}));

  // Delivering the older state does not remove the newer hint.
  std::promise<Status> p1;
  hints.RemoveDelivered("n2", k, s1, [&](Status s) { p1.set_value(s); });
  ASSERT_TRUE(p1.get_future().get().ok());
  EXPECT_EQ(hints.List("n2", 10)->size(), 1u);
  std::promise<Status> p2;
  hints.RemoveDelivered("n2", k, s2, [&](Status s) { p2.set_value(s); });
  ASSERT_TRUE(p2.get_future().get().ok());
  EXPECT_TRUE(hints.List("n2", 10)->empty());

  Reopen();  // hints are durable
  auto stats = engine_->hints().Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->count, 1u);
  EXPECT_EQ(stats->oldest_created_ms, 300u);
}

TEST_P(LmdbEngineTest, SiblingAndSizeLimitsRefuseWithAClearError) {
  const ObjectKey k{"carts", "hot"};
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Put(k, {}, "blind-" + std::to_string(i)).ok());
  auto refused = Put(k, {}, "one too many");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kLimitExceeded);
  EXPECT_NE(refused.status().message().find("siblings_max"), std::string::npos);
  // Resolving with the full context is always possible.
  auto got = engine_->Get(k);
  ASSERT_TRUE(Put(k, got->context(), "resolved").ok());

  auto big = Put({"carts", "big"}, {}, std::string(65 * 1024, 'x'));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kLimitExceeded);
  EXPECT_NE(big.status().message().find("object_bytes_max"), std::string::npos);
}

// A put's `decided` callback gets the state `done` gets, before it: in
// kSync before the commit (the coordinator replicates during the fsync),
// otherwise just before `done`; never for a refused write. (No executor
// here: both run on the writer thread, in order.)
TEST_P(LmdbEngineTest, DecidedGetsTheNewStateBeforeDone) {
  const ObjectKey k{"carts", "decided"};
  std::vector<std::string> events;
  SiblingSet decided_state;
  uint64_t commits_at_decided = 0;
  auto put = [&](std::string value) {
    WriteIntent w;
    w.value = std::move(value);
    std::promise<Result<SiblingSet>> p;
    engine_->Put(
        k, std::move(w), kActor,
        [&](Result<SiblingSet> r) {
          events.push_back("decided");
          commits_at_decided = engine_->counters().commits;
          decided_state = std::move(r).value();
        },
        [&](Result<SiblingSet> r) {
          events.push_back(r.ok() ? "done" : "refused");
          p.set_value(std::move(r));
        });
    return p.get_future().get();
  };
  const uint64_t commits_before = engine_->counters().commits;
  auto stored = put("boots");
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(events, (std::vector<std::string>{"decided", "done"}));
  EXPECT_EQ(decided_state, *stored);
  EXPECT_EQ(commits_at_decided, commits_before + (GetParam() == Durability::kSync ? 0 : 1));

  for (int i = 1; i < 5; ++i) ASSERT_TRUE(put("blind-" + std::to_string(i)).ok());
  events.clear();
  EXPECT_FALSE(put("one too many").ok());  // siblings_max = 5
  EXPECT_EQ(events, std::vector<std::string>{"refused"});
}

// Goal: every open takes a new random actor epoch, clean restart or not,
// and measures what that costs (docs/design.md, 'Actor epochs'): one
// version-vector entry per life, for a key written through the node in
// that life, and no dot floor rows piling up (an open drops the floors of
// earlier epochs). Method: kLives clean restarts; in each life one write
// to the same key, as a node does, with the actor derived from the epoch
// and the context of the key's current state.
TEST_P(LmdbEngineTest, EveryOpenTakesANewEpochAndDropsOldFloors) {
  constexpr int kLives = 20;
  const ObjectKey k{"carts", "epoch"};
  std::set<uint64_t> epochs;
  size_t record_bytes_first = 0;
  for (int life = 0; life < kLives; ++life) {
    if (life > 0) Reopen();  // clean close + open
    EXPECT_NE(engine_->incarnation(), 0u);
    EXPECT_TRUE(epochs.insert(engine_->incarnation()).second) << "an epoch repeated";
    // The previous life wrote with one actor: one floor row, dropped now.
    EXPECT_EQ(engine_->counters().dot_floors_dropped_at_open, life == 0 ? 0u : 1u);
    auto current = engine_->Get(k);
    WriteIntent w;
    if (current.ok()) w.context = current->context();
    w.value = "life-" + std::to_string(life);
    auto stored = Put(k, std::move(w), /*actor=*/engine_->incarnation() ^ 0x5eed);
    ASSERT_TRUE(stored.ok()) << stored.status().ToString();
    ASSERT_EQ(stored->size(), 1u);
    EXPECT_EQ(stored->context().size(), static_cast<size_t>(life + 1));
    EXPECT_EQ(stored->siblings()[0].dot.counter, 1u) << "a new actor starts at counter 1";
    if (life == 0) record_bytes_first = EncodeSiblingSet(*stored).size();
    if (life == kLives - 1) {
      const size_t bytes = EncodeSiblingSet(*stored).size();
      std::printf(
          "[epoch cost] %d lives: %zu context entries, record %zu -> %zu bytes "
          "(%.1f bytes per life)\n",
          kLives, stored->context().size(), record_bytes_first, bytes,
          static_cast<double>(bytes - record_bytes_first) / (kLives - 1));
    }
  }
  // Unclean stops are exercised in lmdb_crash_test (SIGKILL).
}

TEST_P(LmdbEngineTest, ManyWritesInFlightShareCommits) {
  constexpr int kWrites = 2000;
  std::atomic<int> acked{0};
  std::promise<void> all;
  Random rng(5);
  for (int i = 0; i < kWrites; ++i) {
    WriteIntent w;
    w.value = std::string(1500, static_cast<char>('a' + i % 26));
    engine_->Put({"carts", "k" + std::to_string(rng.Uniform(5000))}, std::move(w), kActor,
                 [&](Result<SiblingSet> r) {
                   EXPECT_TRUE(r.ok() || r.status().code() == StatusCode::kLimitExceeded);
                   if (++acked == kWrites) all.set_value();
                 });
  }
  all.get_future().wait();
  const auto c = engine_->counters();
  EXPECT_EQ(c.ops_committed, static_cast<uint64_t>(kWrites));
  EXPECT_LT(c.commits, static_cast<uint64_t>(kWrites));  // group commit happened
}

// The metrics endpoint's view: one batch-size sample per commit summing to
// the operations committed (the 50 puts and SyncNow's barrier), one fsync
// sample per fsync, and the map's use.
TEST_P(LmdbEngineTest, SnapshotCountsBatchesFsyncsAndMapUse) {
  for (int i = 0; i < 50; ++i) {
    WriteIntent w;
    w.value = std::string(1000, 'x');
    ASSERT_TRUE(Put({"carts", "k" + std::to_string(i)}, std::move(w)).ok());
  }
  ASSERT_TRUE(engine_->SyncNow().ok());
  const LmdbEngine::MetricsSnapshot s = engine_->Snapshot();
  EXPECT_EQ(s.counters.ops_committed, 51u);
  EXPECT_EQ(s.commit_batch_ops.count(), s.counters.commits);
  EXPECT_EQ(static_cast<uint64_t>(s.commit_batch_ops.Sum()), s.counters.ops_committed);
  EXPECT_GE(s.counters.fsyncs, 1u);  // SyncNow's, at least
  EXPECT_EQ(s.fsync_us.count(), s.counters.fsyncs);
  EXPECT_EQ(s.map_bytes, uint64_t{1024} << 20);
  EXPECT_GT(s.map_used_bytes, 50u * 1000);  // the 50 values are in pages
  EXPECT_LT(s.map_used_bytes, s.map_bytes);
}

// A backup (CopyCompacted) is a consistent copy as of its start: it holds
// what was written before and nothing after, it opens as an engine of its
// own, and that open takes a new actor epoch, so a node restored from it
// never issues the dots its earlier life issued after the copy
// (docs/operations.md, 'Backup and restore').
TEST_P(LmdbEngineTest, CopyCompactedIsAConsistentCopyThatOpensWithANewEpoch) {
  const ObjectKey before{"carts", "before"}, after{"carts", "after"};
  ASSERT_TRUE(Put(before, {}, "v1").ok());
  test_support::TempDir backups{"trolley-backup"};
  const std::string copy = backups.path() + "/sync";
  ASSERT_TRUE(engine_->CopyCompacted(copy).ok());
  ASSERT_TRUE(Put(after, {}, "v2").ok());
  const Status again = engine_->CopyCompacted(copy);
  EXPECT_EQ(again.code(), StatusCode::kFailedPrecondition) << again.ToString();
  EXPECT_NE(again.message().find("not empty"), std::string::npos) << again.ToString();

  LmdbEngineOptions o = Options();
  o.path = copy;
  auto restored = LmdbEngine::Open(o);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  auto got = (*restored)->Get(before);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(Values(*got), (std::vector<std::string>{"v1"}));
  EXPECT_TRUE((*restored)->Get(after).status().IsNotFound());
  EXPECT_NE((*restored)->incarnation(), engine_->incarnation());
  EXPECT_NE((*restored)->incarnation(), 0u);
}

TEST_P(LmdbEngineTest, CorkedWritesShareOneCommit) {
  const uint64_t commits_before = engine_->counters().commits;
  std::atomic<int> acked{0};
  std::promise<void> all;
  {
    EngineCork cork(*engine_);
    for (int i = 0; i < 100; ++i) {
      WriteIntent w;
      w.value = "v";
      engine_->Put({"carts", "c" + std::to_string(i)}, std::move(w), kActor,
                   [&](Result<SiblingSet> r) {
                     EXPECT_TRUE(r.ok());
                     if (++acked == 100) all.set_value();
                   });
    }
  }
  all.get_future().wait();
  EXPECT_EQ(engine_->counters().commits - commits_before, 1u);
}

// Engine::Sync, which hint delivery waits for before its ack deletes the
// holder's hint: in kFlush it must not wait for the periodic flush (here a
// minute away) but fsync at once; in kSync a completed write is already on
// disk and in kNone it never will be, so neither costs an fsync.
TEST_P(LmdbEngineTest, SyncCallsBackOnceCompletedWritesAreOnDisk) {
  engine_.reset();
  LmdbEngineOptions o = Options();
  o.flush_interval_ms = 60'000;
  auto opened = LmdbEngine::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  engine_ = std::move(opened).value();

  SiblingSet remote;
  WriteIntent w;
  w.value = "delivered";
  remote.ApplyWrite(w, kActor, 0);
  ASSERT_TRUE(Merge({"carts", "k"}, remote).ok());
  const uint64_t fsyncs_before = engine_->counters().fsyncs;
  std::promise<Status> p;
  engine_->Sync("carts", [&](Status s) { p.set_value(s); });
  auto synced = p.get_future();
  ASSERT_EQ(synced.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "Sync waited for the periodic flush";
  EXPECT_TRUE(synced.get().ok());
  const uint64_t fsyncs = engine_->counters().fsyncs - fsyncs_before;
  EXPECT_EQ(fsyncs, GetParam() == Durability::kFlush ? 1u : 0u);

  // Nothing written since: a second Sync has nothing to wait for.
  std::promise<Status> again;
  engine_->Sync("carts", [&](Status s) { again.set_value(s); });
  auto second = again.get_future();
  ASSERT_EQ(second.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(second.get().ok());
  EXPECT_EQ(engine_->counters().fsyncs - fsyncs_before, fsyncs);
}

INSTANTIATE_TEST_SUITE_P(AllDurabilities, LmdbEngineTest,
                         ::testing::Values(Durability::kSync, Durability::kFlush,
                                           Durability::kNone),
                         [](const auto& param_info) {
                           return std::string(DurabilityName(param_info.param));
                         });

}  // namespace
}  // namespace trolley
