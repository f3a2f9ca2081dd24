// Goal: LmdbEngine keeps its anti-entropy tree exact in the transaction of
// every write (puts, merges, deletes, expiry, sweeps), loads it from the
// persisted index at open, builds the index for a dir that has none, and a
// sweep's verification repairs an index that disagrees with the data; a
// sweep purges a tombstone only past the exchange cutoff it is given.
// Method: a real engine in a temp dir, a ManualClock, raw LMDB to damage
// the index behind the engine's back, and the tree recomputed from a scan.
#include <gtest/gtest.h>
#include <lmdb.h>

#include <future>

#include "common/key.h"
#include "common/random.h"
#include "storage/aae_tree.h"
#include "storage/key_layout.h"
#include "storage/lmdb/lmdb_engine.h"
#include "tests/support/temp_dir.h"

namespace trolley {
namespace {

class LmdbAaeTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    engine_.reset();
    LmdbEngineOptions o;
    o.path = dir_.path() + "/sync";
    o.durability = Durability::kSync;
    o.clock = &clock_;
    auto opened = LmdbEngine::Open(o);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    engine_ = std::move(opened).value();
  }

  Result<SiblingSet> Put(const ObjectKey& key, std::string value, uint64_t expiry_ms = 0,
                         bool tombstone = false) {
    WriteIntent w;
    auto got = engine_->Get(key);
    if (got.ok()) w.context = got->context();
    w.value = std::move(value);
    w.tombstone = tombstone;
    w.timestamp_ms = clock_.NowWallMs();
    w.expiry_ms = expiry_ms;
    std::promise<Result<SiblingSet>> p;
    engine_->Put(key, std::move(w), 7, [&](Result<SiblingSet> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  Result<SiblingSet> Merge(const ObjectKey& key, SiblingSet remote) {
    std::promise<Result<SiblingSet>> p;
    engine_->Merge(key, std::move(remote),
                   [&](Result<SiblingSet> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  Result<SweepReport> Sweep(uint64_t grace_ms, TombstoneCutoff cutoff = nullptr) {
    std::promise<Result<SweepReport>> p;
    engine_->Sweep(grace_ms, std::move(cutoff),
                   [&](Result<SweepReport> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }

  // The tree of what the engine stores now, from a full scan.
  AaeTree Expected() {
    AaeTree tree;
    auto page = engine_->Scan(0, ~uint64_t{0}, nullptr, 1'000'000);
    EXPECT_TRUE(page.ok());
    for (const KeyState& ks : page->entries) {
      tree.Apply(KeyHash(ks.key.ns, ks.key.key),
                 KeyContribution(key_layout::EncodeObjectKey(ks.key),
                                 VersionHash(ks.state, clock_.NowWallMs())));
    }
    return tree;
  }
  bool TreeIs(const AaeTree& expected) {
    std::vector<uint64_t> segments(AaeTree::kSegments), branches(AaeTree::kBranches);
    for (uint32_t s = 0; s < AaeTree::kSegments; ++s) segments[s] = expected.segment(s);
    for (uint32_t b = 0; b < AaeTree::kBranches; ++b) branches[b] = expected.branch(b);
    return engine_->AaeSegments(0, AaeTree::kSegments) == segments &&
           engine_->AaeBranches(0, AaeTree::kBranches) == branches;
  }

  // Runs `fn` in a raw LMDB write transaction on the closed data dir.
  void RawWrite(const std::function<void(MDB_txn*, MDB_dbi index, MDB_dbi meta)>& fn) {
    engine_.reset();
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    ASSERT_EQ(mdb_env_open(env, (dir_.path() + "/sync").c_str(), MDB_NOTLS, 0644), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi index = 0, meta = 0;
    ASSERT_EQ(mdb_dbi_open(txn, "aae_index", 0, &index), 0);
    ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    fn(txn, index, meta);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    Reopen();
  }

  test_support::TempDir dir_{"trolley-aae"};
  ManualClock clock_;
  std::unique_ptr<LmdbEngine> engine_;
};

TEST_F(LmdbAaeTest, TreeFollowsEveryWriteAndSurvivesReopen) {
  Random random(11);
  for (int i = 0; i < 400; ++i) {
    const ObjectKey key{"carts", "u" + std::to_string(random.Uniform(120))};
    switch (random.Uniform(4)) {
      case 0:
        ASSERT_TRUE(Put(key, "x", 0, /*tombstone=*/true).ok());
        break;
      case 1: {  // a merge from another actor
        SiblingSet remote;
        WriteIntent w;
        w.value = "remote";
        remote.ApplyWrite(std::move(w), 99 + random.Uniform(3), 0);
        ASSERT_TRUE(Merge(key, remote).ok());
        break;
      }
      default:
        ASSERT_TRUE(Put(key, "v" + std::to_string(i)).ok());
    }
  }
  const AaeTree expected = Expected();
  EXPECT_TRUE(TreeIs(expected));
  Reopen();
  EXPECT_TRUE(TreeIs(expected));
  EXPECT_EQ(engine_->AaeStats().rebuilds, 1u);
  EXPECT_EQ(engine_->AaeStats().rebuilt_keys,
            engine_->Scan(0, ~uint64_t{0}, nullptr, 1000)->entries.size());
}

TEST_F(LmdbAaeTest, ExpiredSiblingsLeaveTheLiveVersionAndAMergeRehashesThem) {
  const ObjectKey both{"carts", "both"}, gone{"carts", "gone"};
  ASSERT_TRUE(Put(both, "forever").ok());
  SiblingSet remote;
  WriteIntent w;
  w.value = "short";
  w.expiry_ms = clock_.NowWallMs() + 1000;
  remote.ApplyWrite(std::move(w), 42, 0);
  ASSERT_TRUE(Merge(both, remote).ok());
  ASSERT_TRUE(Put(gone, "short", clock_.NowWallMs() + 1000).ok());
  clock_.AdvanceMs(2000);
  // The listing reads the data: live versions differ from what the tree holds.
  for (const ObjectKey& key : {both, gone}) {
    const uint32_t segment = AaeTree::SegmentOfHash(KeyHash(key.ns, key.key));
    auto keys = engine_->AaeSegmentKeys(segment);
    ASSERT_TRUE(keys.ok());
    ASSERT_EQ(keys->size(), 1u);
    EXPECT_NE((*keys)[0].version, (*keys)[0].tree_version);
    EXPECT_EQ((*keys)[0].version == 0, key == gone);
    // The rehash anti-entropy does: a merge of nothing.
    Result<SiblingSet> merged = Merge(key, SiblingSet());
    ASSERT_TRUE(merged.ok());
    keys = engine_->AaeSegmentKeys(segment);
    ASSERT_TRUE(keys.ok());
    if (key == gone) {
      EXPECT_TRUE(keys->empty());  // removed, with its index entry
      EXPECT_TRUE(engine_->Get(key).status().IsNotFound());
    } else {
      ASSERT_EQ(keys->size(), 1u);
      EXPECT_EQ((*keys)[0].version, (*keys)[0].tree_version);
    }
  }
  EXPECT_TRUE(TreeIs(Expected()));
}

TEST_F(LmdbAaeTest, OpenBuildsAMissingIndexAndASweepRepairsAWrongEntry) {
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(Put({"carts", "k" + std::to_string(i)}, "v").ok());
  const AaeTree expected = Expected();
  // A dir written by a build without the index: no index, no mark.
  RawWrite([](MDB_txn* txn, MDB_dbi index, MDB_dbi meta) {
    ASSERT_EQ(mdb_drop(txn, index, 0), 0);
    MDB_val k{key_layout::kMetaAaeIndexBuilt.size(),
              const_cast<char*>(key_layout::kMetaAaeIndexBuilt.data())};
    ASSERT_EQ(mdb_del(txn, meta, &k, nullptr), 0);
  });
  EXPECT_TRUE(TreeIs(expected));
  EXPECT_EQ(engine_->AaeStats().rebuilt_keys, 50u);
  // One entry damaged behind the engine's back: the tree loads it as is...
  const std::string raw = key_layout::EncodeObjectKey({"carts", "k7"});
  RawWrite([&](MDB_txn* txn, MDB_dbi index, MDB_dbi) {
    const std::string wrong = key_layout::EncodeU64Be(12345);
    MDB_val k{raw.size(), const_cast<char*>(raw.data())};
    MDB_val v{wrong.size(), const_cast<char*>(wrong.data())};
    ASSERT_EQ(mdb_put(txn, index, &k, &v, 0), 0);
  });
  EXPECT_FALSE(TreeIs(expected));
  // ...and the next sweep finds and fixes it.
  auto report = Sweep(1000);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->aae_index_fixed, 1u);
  EXPECT_EQ(engine_->AaeStats().verify_fixed, 1u);
  EXPECT_TRUE(TreeIs(expected));
  EXPECT_EQ(Sweep(1000)->aae_index_fixed, 0u);
}

TEST_F(LmdbAaeTest, SweepPurgesATombstoneOnlyPastTheExchangeCutoff) {
  const ObjectKey key{"carts", "deleted"};
  ASSERT_TRUE(Put(key, "v").ok());
  ASSERT_TRUE(Put(key, "", 0, /*tombstone=*/true).ok());
  const uint64_t deleted_at = clock_.NowWallMs();
  clock_.AdvanceMs(10'000);
  // Past the grace period, but no clean exchange since the delete.
  auto kept = Sweep(1000, [&](uint64_t) { return deleted_at - 1; });
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->tombstones_kept, 1u);
  EXPECT_EQ(kept->tombstones_purged, 0u);
  EXPECT_TRUE(engine_->Get(key).ok());
  auto purged = Sweep(1000, [&](uint64_t) { return deleted_at + 1; });
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(purged->tombstones_purged, 1u);
  EXPECT_TRUE(engine_->Get(key).status().IsNotFound());
  EXPECT_TRUE(TreeIs(AaeTree()));
}

}  // namespace
}  // namespace trolley
