// Goal: NamespaceRouter is one Engine over an engine per durability mode:
// writes and hints land in the engine their namespace routes to, Scan and
// List merge the engines into one key-ordered, correctly paginated result,
// Sweep/Stats/Targets combine, Cork reaches every engine, incarnation()
// changes when any child's does, and with one engine nothing changes.
// Method: two real LmdbEngines (kSync, kFlush) in temp dirs with a
// ManualClock, checked against the children read directly; a fake Engine
// where a child's behaviour (incarnation, errors) must be controlled.
#include "storage/namespace_router.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <set>
#include <thread>

#include "common/clock.h"
#include "common/key.h"
#include "storage/aae_tree.h"
#include "storage/key_layout.h"
#include "storage/lmdb/lmdb_engine.h"
#include "tests/support/temp_dir.h"

namespace trolley {
namespace {

constexpr ActorId kActor = 7;
constexpr size_t kSync = 0;
constexpr size_t kFlush = 1;

// The LMDB objects key, whose byte order is the order Scan keeps.
std::string RawKey(const ObjectKey& k) { return key_layout::EncodeObjectKey(k); }

std::vector<std::string> Values(const SiblingSet& s) {
  std::vector<std::string> out;
  for (const Sibling& sib : s.siblings()) out.push_back(sib.tombstone ? "<deleted>" : sib.value);
  return out;
}

// The value, or a test failure (not an abort) naming the status.
SiblingSet Must(Result<SiblingSet> r) {
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : SiblingSet{};
}

SiblingSet StateOf(std::string value) {
  SiblingSet s;
  WriteIntent w;
  w.value = std::move(value);
  s.ApplyWrite(w, /*actor=*/99, 0);
  return s;
}

class NamespaceRouterTest : public ::testing::Test {
 protected:
  void SetUp() override { OpenAll(); }
  void TearDown() override { CloseAll(); }

  LmdbEngineOptions Options(Durability d) {
    LmdbEngineOptions o;
    o.path = dir_.path() + "/" + std::string(DurabilityName(d));
    o.durability = d;
    o.flush_interval_ms = 5;
    o.clock = &clock_;
    return o;
  }
  void OpenAll() {
    for (Durability d : {Durability::kSync, Durability::kFlush}) {
      auto opened = LmdbEngine::Open(Options(d));
      ASSERT_TRUE(opened.ok()) << opened.status().ToString();
      (d == Durability::kSync ? sync_ : flush_) = std::move(opened).value();
    }
    router_ = std::make_unique<NamespaceRouter>(
        std::vector<Engine*>{sync_.get(), flush_.get()},
        std::map<std::string, size_t, std::less<>>{{"carts", kSync}, {"guest", kFlush}}, kSync);
  }
  void CloseAll() {
    router_.reset();
    sync_.reset();
    flush_.reset();
  }

  static Result<SiblingSet> Put(Engine& e, const ObjectKey& key, std::string value,
                                uint64_t expiry_ms = 0) {
    WriteIntent w;
    w.value = std::move(value);
    w.expiry_ms = expiry_ms;
    std::promise<Result<SiblingSet>> p;
    e.Put(key, std::move(w), kActor, [&](Result<SiblingSet> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  static Result<SiblingSet> Merge(Engine& e, const ObjectKey& key, SiblingSet remote) {
    std::promise<Result<SiblingSet>> p;
    e.Merge(key, std::move(remote), [&](Result<SiblingSet> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  static Status HintAdd(HintStore& h, Hint hint) {
    std::promise<Status> p;
    h.Add(std::move(hint), [&](Status s) { p.set_value(s); });
    return p.get_future().get();
  }
  static Result<SweepReport> Sweep(Engine& e, uint64_t grace_ms) {
    std::promise<Result<SweepReport>> p;
    e.Sweep(grace_ms, [&](Result<SweepReport> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  // Every page of a scan of [first, last] with `limit`, checked page by page.
  static std::vector<KeyState> ScanAll(Engine& e, uint64_t first, uint64_t last, size_t limit) {
    std::vector<KeyState> out;
    const ObjectKey* resume = nullptr;
    ObjectKey last_key;
    for (int pages = 0;; ++pages) {
      EXPECT_LT(pages, 100000) << "scan does not end";
      auto page = e.Scan(first, last, resume, limit);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok()) return out;
      EXPECT_LE(page->entries.size(), limit);
      for (KeyState& ks : page->entries) out.push_back(std::move(ks));
      if (!page->more) break;
      EXPECT_FALSE(page->entries.empty()) << "more without entries cannot be resumed";
      if (page->entries.empty()) break;
      last_key = out.back().key;
      resume = &last_key;
    }
    return out;
  }
  static std::vector<std::string> RawKeys(const std::vector<KeyState>& entries) {
    std::vector<std::string> out;
    for (const KeyState& ks : entries) out.push_back(RawKey(ks.key));
    return out;
  }

  // Declared before the engines: removed after they are closed.
  test_support::TempDir dir_{"trolley-router"};
  ManualClock clock_;
  std::unique_ptr<LmdbEngine> sync_;
  std::unique_ptr<LmdbEngine> flush_;
  std::unique_ptr<NamespaceRouter> router_;
};

TEST_F(NamespaceRouterTest, WritesLandInTheEngineTheirNamespaceRoutesTo) {
  ASSERT_TRUE(Put(*router_, {"carts", "u1"}, "cart").ok());
  ASSERT_TRUE(Put(*router_, {"guest", "g1"}, "guest-cart").ok());
  ASSERT_TRUE(Merge(*router_, {"guest", "g2"}, StateOf("merged")).ok());
  // A namespace this node was not configured with (a peer's merge): default.
  ASSERT_TRUE(Merge(*router_, {"elsewhere", "e1"}, StateOf("foreign")).ok());

  EXPECT_EQ(Values(Must(sync_->Get({"carts", "u1"}))), std::vector<std::string>{"cart"});
  EXPECT_TRUE(flush_->Get({"carts", "u1"}).status().IsNotFound());
  EXPECT_EQ(Values(Must(flush_->Get({"guest", "g1"}))), std::vector<std::string>{"guest-cart"});
  EXPECT_EQ(Values(Must(flush_->Get({"guest", "g2"}))), std::vector<std::string>{"merged"});
  EXPECT_TRUE(sync_->Get({"guest", "g1"}).status().IsNotFound());
  EXPECT_TRUE(sync_->Get({"guest", "g2"}).status().IsNotFound());
  EXPECT_EQ(Values(Must(sync_->Get({"elsewhere", "e1"}))), std::vector<std::string>{"foreign"});
  EXPECT_TRUE(flush_->Get({"elsewhere", "e1"}).status().IsNotFound());

  EXPECT_EQ(Values(Must(router_->Get({"guest", "g1"}))), std::vector<std::string>{"guest-cart"});
  EXPECT_EQ(Values(Must(router_->Get({"elsewhere", "e1"}))), std::vector<std::string>{"foreign"});
  EXPECT_TRUE(router_->Get({"carts", "nobody"}).status().IsNotFound());
  EXPECT_EQ(router_->EngineIndexFor("carts"), kSync);
  EXPECT_EQ(router_->EngineIndexFor("guest"), kFlush);
  EXPECT_EQ(router_->EngineIndexFor("elsewhere"), kSync);
  // Limits are still the child's: an invalid key fails, it does not crash.
  EXPECT_FALSE(Put(*router_, {"", "k"}, "v").ok());
}

TEST_F(NamespaceRouterTest, ScanIsOneHashOrderedPaginationOverBothEngines) {
  for (int i = 0; i < 250; ++i) {
    ASSERT_TRUE(Put(*router_, {"carts", "c" + std::to_string(i)}, "v").ok());
    ASSERT_TRUE(Put(*router_, {"guest", "g" + std::to_string(i)}, "v").ok());
  }
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(Merge(*router_, {"elsewhere", "e" + std::to_string(i)}, StateOf("v")).ok());
  }
  // Both engines must hold keys for the merge to be tested.
  ASSERT_EQ(ScanAll(*sync_, 0, UINT64_MAX, 1000).size(), 270u);
  ASSERT_EQ(ScanAll(*flush_, 0, UINT64_MAX, 1000).size(), 250u);

  constexpr uint32_t kLog2Q = 3;
  std::vector<std::pair<uint64_t, uint64_t>> ranges = {{0, UINT64_MAX}};
  for (uint32_t p = 0; p < (1u << kLog2Q); ++p) {
    const uint64_t first = PartitionFirstHash(p, kLog2Q);
    const uint64_t last =
        p + 1 == (1u << kLog2Q) ? UINT64_MAX : PartitionFirstHash(p + 1, kLog2Q) - 1;
    ranges.emplace_back(first, last);
  }
  for (const auto& [first, last] : ranges) {
    // Expected: the union of the children's scans, in raw key order.
    std::vector<std::string> expected = RawKeys(ScanAll(*sync_, first, last, 1000));
    for (std::string& k : RawKeys(ScanAll(*flush_, first, last, 1000))) expected.push_back(k);
    std::sort(expected.begin(), expected.end());
    for (size_t limit : {1, 3, 7, 64, 1000}) {
      const std::vector<std::string> got = RawKeys(ScanAll(*router_, first, last, limit));
      EXPECT_EQ(got, expected) << "range [" << first << ", " << last << "] limit " << limit;
    }
  }
}

TEST_F(NamespaceRouterTest, ScanPageCutsAtLimitWithMoreAndReturnsValues) {
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(
        Put(*router_, {"carts", "c" + std::to_string(i)}, "sync-" + std::to_string(i)).ok());
    ASSERT_TRUE(
        Put(*router_, {"guest", "g" + std::to_string(i)}, "flush-" + std::to_string(i)).ok());
  }
  auto page = router_->Scan(0, UINT64_MAX, nullptr, 20);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->entries.size(), 20u);
  EXPECT_FALSE(page->more);  // exactly everything
  for (const KeyState& ks : page->entries) {
    const std::string prefix = ks.key.ns == "carts" ? "sync-" : "flush-";
    EXPECT_EQ(Values(ks.state), std::vector<std::string>{prefix + ks.key.key.substr(1)});
  }
  auto cut = router_->Scan(0, UINT64_MAX, nullptr, 19);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->entries.size(), 19u);
  EXPECT_TRUE(cut->more);
  auto none = router_->Scan(0, UINT64_MAX, nullptr, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->entries.empty());
  EXPECT_TRUE(none->more);  // like LmdbEngine: there are keys in range
}

// Only after a namespace was re-routed can a key sit in two engines: Scan
// and List show it once, from the engine it routes to, as Get does.
TEST_F(NamespaceRouterTest, AKeyInTwoEnginesIsListedOnceFromItsRoutedEngine) {
  ASSERT_TRUE(Put(*router_, {"carts", "dup"}, "routed").ok());
  ASSERT_TRUE(Put(*flush_, {"carts", "dup"}, "orphan").ok());
  ASSERT_TRUE(Put(*router_, {"guest", "dup"}, "routed").ok());
  ASSERT_TRUE(Put(*sync_, {"guest", "dup"}, "orphan").ok());  // in the lower-index engine
  ASSERT_TRUE(Put(*flush_, {"guest", "g"}, "g").ok());
  for (size_t limit : {1, 2, 10}) {
    const std::vector<KeyState> all = ScanAll(*router_, 0, UINT64_MAX, limit);
    EXPECT_EQ(all.size(), 3u) << "limit " << limit;
    for (const KeyState& ks : all) {
      if (ks.key.key == "dup") {
        EXPECT_EQ(Values(ks.state), std::vector<std::string>{"routed"}) << ks.key.ns;
      }
    }
  }
  EXPECT_EQ(Values(Must(router_->Get({"carts", "dup"}))), std::vector<std::string>{"routed"});

  ASSERT_TRUE(HintAdd(router_->hints(), {"n2", {"guest", "dup"}, StateOf("routed"), 1}).ok());
  ASSERT_TRUE(HintAdd(sync_->hints(), {"n2", {"guest", "dup"}, StateOf("orphan"), 1}).ok());
  auto listed = router_->hints().List("n2", 10);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(Values((*listed)[0].state), std::vector<std::string>{"routed"});
}

TEST_F(NamespaceRouterTest, HintsRouteListInKeyOrderAndCombine) {
  HintStore& hints = router_->hints();
  EXPECT_EQ(&hints, static_cast<HintStore*>(router_.get()));
  std::vector<std::string> expected_n2;
  for (int i = 0; i < 15; ++i) {
    const ObjectKey c{"carts", "c" + std::to_string(i)};
    const ObjectKey g{"guest", "g" + std::to_string(i)};
    ASSERT_TRUE(HintAdd(hints, {"n2", c, StateOf("c"), 500 + uint64_t(i)}).ok());
    ASSERT_TRUE(HintAdd(hints, {"n2", g, StateOf("g"), 400 + uint64_t(i)}).ok());
    expected_n2.push_back(RawKey(c));
    expected_n2.push_back(RawKey(g));
  }
  std::sort(expected_n2.begin(), expected_n2.end());
  ASSERT_TRUE(HintAdd(hints, {"n3", {"guest", "only"}, StateOf("x"), 300}).ok());
  ASSERT_TRUE(HintAdd(hints, {"n4", {"carts", "only"}, StateOf("x"), 600}).ok());

  // Each child holds only its namespaces.
  auto in_sync = sync_->hints().List("n2", 100);
  auto in_flush = flush_->hints().List("n2", 100);
  ASSERT_TRUE(in_sync.ok() && in_flush.ok());
  EXPECT_EQ(in_sync->size(), 15u);
  EXPECT_EQ(in_flush->size(), 15u);
  for (const Hint& h : *in_sync) EXPECT_EQ(h.key.ns, "carts");
  for (const Hint& h : *in_flush) EXPECT_EQ(h.key.ns, "guest");

  // List merges in key order and cuts at `limit`.
  for (size_t limit : {size_t{1}, size_t{7}, size_t{30}, size_t{100}}) {
    auto listed = hints.List("n2", limit);
    ASSERT_TRUE(listed.ok());
    std::vector<std::string> got;
    for (const Hint& h : *listed) got.push_back(RawKey(h.key));
    const std::vector<std::string> want(expected_n2.begin(),
                                        expected_n2.begin() + std::min(limit, expected_n2.size()));
    EXPECT_EQ(got, want) << "limit " << limit;
  }

  auto targets = hints.Targets();
  ASSERT_TRUE(targets.ok());
  EXPECT_EQ(*targets, (std::vector<std::string>{"n2", "n3", "n4"}));

  auto stats = hints.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->count, 32u);
  EXPECT_EQ(stats->oldest_created_ms, 300u);  // in flush; sync's oldest is 500

  // Drop and RemoveDelivered reach the engine that holds the hint.
  std::promise<Status> dropped;
  hints.Drop("n3", {"guest", "only"}, [&](Status s) { dropped.set_value(s); });
  ASSERT_TRUE(dropped.get_future().get().ok());
  std::promise<Status> removed;
  hints.RemoveDelivered("n2", {"carts", "c0"}, StateOf("c"),
                        [&](Status s) { removed.set_value(s); });
  ASSERT_TRUE(removed.get_future().get().ok());
  EXPECT_EQ(sync_->hints().List("n2", 100)->size(), 14u);
  EXPECT_TRUE(flush_->hints().List("n3", 100)->empty());
  EXPECT_EQ(*hints.Targets(), (std::vector<std::string>{"n2", "n4"}));
  stats = hints.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->count, 30u);
  EXPECT_EQ(stats->oldest_created_ms, 400u);
}

TEST_F(NamespaceRouterTest, SweepRunsOnBothEnginesAndSumsReports) {
  const uint64_t expiry = clock_.NowWallMs() + 100;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(Put(*router_, {"carts", "c" + std::to_string(i)}, "v", expiry).ok());
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Put(*router_, {"guest", "g" + std::to_string(i)}, "v", expiry).ok());
  }
  ASSERT_TRUE(Put(*router_, {"guest", "kept"}, "v").ok());
  clock_.AdvanceMs(1000);
  auto report = Sweep(*router_, 0);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->expired_removed, 8u);
  EXPECT_EQ(report->keys_scanned, 9u);
  EXPECT_EQ(ScanAll(*sync_, 0, UINT64_MAX, 100).size(), 0u);
  EXPECT_EQ(ScanAll(*flush_, 0, UINT64_MAX, 100).size(), 1u);
}

TEST_F(NamespaceRouterTest, CorkHoldsWritesOfEveryEngineForOneCommitEach) {
  const uint64_t sync_commits = sync_->counters().commits;
  const uint64_t flush_commits = flush_->counters().commits;
  std::vector<std::future<Result<SiblingSet>>> acks;
  {
    EngineCork cork(*router_);
    for (int i = 0; i < 5; ++i) {
      for (const char* ns : {"carts", "guest"}) {
        auto p = std::make_shared<std::promise<Result<SiblingSet>>>();
        acks.push_back(p->get_future());
        WriteIntent w;
        w.value = "v";
        router_->Put({ns, "k" + std::to_string(i)}, std::move(w), kActor,
                     [p](Result<SiblingSet> r) { p->set_value(std::move(r)); });
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    for (auto& f : acks) {
      EXPECT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
          << "a corked write was committed";
    }
  }
  for (auto& f : acks) {  // a write left corked would never be acked
    ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_TRUE(f.get().ok());
  }
  EXPECT_EQ(sync_->counters().commits, sync_commits + 1);
  EXPECT_EQ(flush_->counters().commits, flush_commits + 1);
}

// Every start is a new life: a clean restart of both children, and a real
// unclean stop of one (a forked child opens the sync engine and exits
// without closing it; the parent holds no engine, hence no thread, then),
// each give the router a value it never had.
TEST_F(NamespaceRouterTest, IncarnationChangesAtEveryStart) {
  std::set<uint64_t> seen = {router_->incarnation()};
  EXPECT_EQ(router_->incarnation(), sync_->incarnation() + flush_->incarnation());
  CloseAll();
  OpenAll();
  EXPECT_TRUE(seen.insert(router_->incarnation()).second) << "a clean restart took no new epoch";

  const uint64_t sync_before = sync_->incarnation();
  const uint64_t flush_before = flush_->incarnation();
  CloseAll();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto opened = LmdbEngine::Open(Options(Durability::kSync));
    _exit(opened.ok() ? 0 : 1);  // no destructor: no clean_shutdown mark
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  OpenAll();
  EXPECT_NE(sync_->incarnation(), sync_before);
  EXPECT_NE(flush_->incarnation(), flush_before);
  EXPECT_TRUE(seen.insert(router_->incarnation()).second);
}

TEST_F(NamespaceRouterTest, OneEngineIsThatEngineUnchanged) {
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(Put(*flush_, {"guest", "g" + std::to_string(i)}, "v").ok());
  }
  ASSERT_TRUE(HintAdd(flush_->hints(), {"n2", {"guest", "g1"}, StateOf("x"), 50}).ok());
  NamespaceRouter one({flush_.get()}, {{"guest", 0}}, 0);
  EXPECT_EQ(&one.hints(), &flush_->hints());
  EXPECT_EQ(one.incarnation(), flush_->incarnation());
  const ObjectKey* resume = nullptr;
  ObjectKey last;
  for (;;) {
    auto mine = one.Scan(0, UINT64_MAX, resume, 3);
    auto theirs = flush_->Scan(0, UINT64_MAX, resume, 3);
    ASSERT_TRUE(mine.ok() && theirs.ok());
    EXPECT_EQ(RawKeys(mine->entries), RawKeys(theirs->entries));
    EXPECT_EQ(mine->more, theirs->more);
    if (!mine->more) break;
    last = mine->entries.back().key;
    resume = &last;
  }
  EXPECT_EQ(Values(Must(one.Get({"guest", "g3"}))), std::vector<std::string>{"v"});
  EXPECT_EQ(one.Stats()->count, 1u);
}

// ---- A fake child, where a child's behaviour must be controlled ----

class FakeEngine final : public Engine, public HintStore {
 public:
  using DoneCallback = Engine::DoneCallback;
  Result<SiblingSet> Get(const ObjectKey&) override { return Status::NotFound("fake"); }
  using Engine::Put;
  void Put(ObjectKey, WriteIntent, ActorId, StateCallback, StateCallback done) override {
    done(Status::IOError("fake"));
  }
  void Merge(ObjectKey, SiblingSet, StateCallback done) override { done(Status::IOError("fake")); }
  Result<ScanPage> Scan(uint64_t, uint64_t, const ObjectKey*, size_t) override {
    if (!scan_status.ok()) return scan_status;
    return ScanPage{};
  }
  using Engine::Sweep;
  void Sweep(uint64_t, TombstoneCutoff, SweepCallback done) override { done(sweep_result); }
  std::vector<uint64_t> AaeSegments(uint32_t first, uint32_t count) override {
    return std::vector<uint64_t>(segments.begin() + first, segments.begin() + first + count);
  }
  std::vector<uint64_t> AaeBranches(uint32_t first, uint32_t count) override {
    return std::vector<uint64_t>(branches.begin() + first, branches.begin() + first + count);
  }
  Result<std::vector<AaeKeyVersion>> AaeSegmentKeys(uint32_t) override { return segment_keys; }
  AaeTreeStats AaeStats() override { return aae_stats; }
  HintStore& hints() override { return *this; }
  void Sync(std::string_view ns, DoneCallback done) override {
    synced.emplace_back(ns);
    done(Status::Ok());
  }
  void Cork() override { ++corks; }
  void Uncork() override { --corks; }
  uint64_t incarnation() const override { return incarnation_value; }
  void Add(Hint, DoneCallback done) override { done(Status::Ok()); }
  Result<std::vector<Hint>> List(std::string_view, size_t) override { return std::vector<Hint>{}; }
  Result<std::vector<std::string>> Targets() override { return std::vector<std::string>{}; }
  void RemoveDelivered(std::string, ObjectKey, SiblingSet, DoneCallback done) override {
    done(Status::Ok());
  }
  void Drop(std::string, ObjectKey, DoneCallback done) override { done(Status::Ok()); }
  Result<HintStats> Stats() override { return stats_result; }

  uint64_t incarnation_value = 1;
  int corks = 0;
  std::vector<std::string> synced;  // namespaces Sync was called for
  Status scan_status;
  Result<SweepReport> sweep_result = SweepReport{};
  Result<HintStats> stats_result = HintStats{};
  std::vector<uint64_t> segments = std::vector<uint64_t>(AaeTree::kSegments, 0);
  std::vector<uint64_t> branches = std::vector<uint64_t>(AaeTree::kBranches, 0);
  std::vector<AaeKeyVersion> segment_keys;
  AaeTreeStats aae_stats;
};

TEST(NamespaceRouterFakeTest, AaeTreeIsTheXorOfTheChildrenAndKeysTheirUnionInKeyOrder) {
  FakeEngine a, b;
  a.segments[5] = 0b1100;
  b.segments[5] = 0b1010;
  a.branches[0] = 3;
  b.branches[0] = 5;
  const ObjectKey k1{"x", "1"}, k2{"y", "2"};
  const bool k1_first = key_layout::CompareObjectKeys(k1, k2) < 0;
  a.segment_keys = {AaeKeyVersion{k1_first ? k2 : k1, 7, 7}};
  b.segment_keys = {AaeKeyVersion{k1_first ? k1 : k2, 8, 9}};
  a.aae_stats.rebuilds = 1;
  b.aae_stats.rebuilds = 1;
  b.aae_stats.verify_fixed = 4;
  NamespaceRouter router({&a, &b}, {{"y", 1}}, 0);
  EXPECT_EQ(router.AaeSegments(4, 2), (std::vector<uint64_t>{0, 0b0110}));
  EXPECT_EQ(router.AaeBranches(0, 1), (std::vector<uint64_t>{6}));
  const auto keys = router.AaeSegmentKeys(0);
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_TRUE(key_layout::CompareObjectKeys((*keys)[0].key, (*keys)[1].key) < 0);
  EXPECT_EQ(router.AaeStats().rebuilds, 2u);
  EXPECT_EQ(router.AaeStats().verify_fixed, 4u);
}

TEST(NamespaceRouterFakeTest, IncarnationChangesWhenAnyChildsDoes) {
  FakeEngine a, b, c;
  a.incarnation_value = 3;
  b.incarnation_value = 1;
  c.incarnation_value = 7;
  NamespaceRouter router({&a, &b, &c}, {{"x", 1}}, 0);
  NamespaceRouter reordered({&c, &a, &b}, {{"x", 2}}, 1);
  std::set<uint64_t> seen = {router.incarnation()};
  EXPECT_EQ(reordered.incarnation(), router.incarnation());  // order-independent
  // Any child rising, in any order, yields a value never seen before.
  for (FakeEngine* child : {&b, &a, &c, &b, &b, &a}) {
    ++child->incarnation_value;
    EXPECT_TRUE(seen.insert(router.incarnation()).second);
  }
}

TEST(NamespaceRouterFakeTest, FirstErrorByEngineOrderWinsAndCorkReachesAll) {
  FakeEngine a, b, c;
  b.sweep_result = Status::IOError("b failed");
  c.sweep_result = Status::IOError("c failed");
  a.sweep_result = SweepReport{10, 1, 2};
  NamespaceRouter router({&a, &b, &c}, {}, 0);
  int calls = 0;
  router.Sweep(0, [&](Result<SweepReport> r) {
    ++calls;
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), "b failed");
  });
  EXPECT_EQ(calls, 1);

  b.sweep_result = SweepReport{5, 0, 1};
  c.sweep_result = SweepReport{1, 1, 0};
  router.Sweep(0, [&](Result<SweepReport> r) {
    ++calls;
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->keys_scanned, 16u);
    EXPECT_EQ(r->expired_removed, 2u);
    EXPECT_EQ(r->tombstones_purged, 3u);
  });
  EXPECT_EQ(calls, 2);

  router.Cork();
  router.Cork();
  EXPECT_EQ(a.corks + b.corks + c.corks, 6);
  router.Uncork();
  router.Uncork();
  EXPECT_EQ(a.corks + b.corks + c.corks, 0);

  c.scan_status = Status::IOError("c cannot scan");
  auto page = router.Scan(0, UINT64_MAX, nullptr, 10);
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.status().message(), "c cannot scan");
  b.stats_result = Status::Busy("readers full");
  EXPECT_EQ(router.Stats().status().code(), StatusCode::kBusy);
}

TEST(NamespaceRouterFakeTest, SyncReachesOnlyTheEngineOfItsNamespace) {
  FakeEngine a, b;
  NamespaceRouter router({&a, &b}, {{"carts", 1}}, 0);
  int calls = 0;
  router.Sync("carts", [&](Status s) {
    ++calls;
    EXPECT_TRUE(s.ok());
  });
  router.Sync("unknown", [&](Status) { ++calls; });  // the default engine
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(a.synced, std::vector<std::string>{"unknown"});
  EXPECT_EQ(b.synced, std::vector<std::string>{"carts"});
}

TEST(NamespaceRouterFakeTest, StatsTakeTheSmallestNonzeroOldest) {
  FakeEngine a, b, c;
  a.stats_result = HintStats{4, 900};
  b.stats_result = HintStats{2, 700};
  c.stats_result = HintStats{0, 0};  // empty: its 0 is "none", not the oldest
  NamespaceRouter router({&a, &b, &c}, {}, 0);
  auto stats = router.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->count, 6u);
  EXPECT_EQ(stats->oldest_created_ms, 700u);
}

}  // namespace
}  // namespace trolley
