// storage_bench: micro-benchmarks of the storage layer, with a raw-LMDB
// baseline in the same binary so that figures are ratios from one run.
//
//   ./build/bench/storage_bench --benchmark_min_time=2
//
// Engine put: 1.5 KB values, random keys, 100 puts submitted under one
// cork and waited for (one commit each, as the network loop submits them).
// Raw LMDB put: the same 100 puts in one transaction, committed with fsync
// (sync) or MDB_NOSYNC (nosync). Compare EnginePut/sync with RawLmdbPut/sync
// and EnginePut/flush with RawLmdbPut/nosync (items_per_second).
#include <benchmark/benchmark.h>
#include <lmdb.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <string>

#include "common/clock.h"
#include "common/random.h"
#include "storage/lmdb/lmdb_engine.h"
#include "storage/record_codec.h"

namespace trolley {
namespace {

constexpr size_t kValueBytes = 1536;
constexpr int kBatch = 100;
constexpr uint64_t kKeySpace = 200'000;

std::string TempDir() {
  char tmpl[] = "/tmp/trolley-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) std::abort();
  return tmpl;
}

SiblingSet CartState(Random& rng, int siblings) {
  SiblingSet s;
  for (int i = 0; i < siblings; ++i) {
    WriteIntent w;
    w.value = std::string(kValueBytes, static_cast<char>('a' + rng.Uniform(26)));
    w.write_id = rng.Next() | 1;
    s.ApplyWrite(w, 1 + rng.Uniform(5), 0);
  }
  return s;
}

void BM_VersionVectorCompare(benchmark::State& state) {
  Random rng(1);
  std::vector<VersionVector::Entry> a, b;
  for (ActorId actor = 1; actor <= static_cast<ActorId>(state.range(0)); ++actor) {
    a.push_back({actor, 1 + rng.Uniform(100)});
    b.push_back({actor, 1 + rng.Uniform(100)});
  }
  const auto va = VersionVector::FromEntries(a), vb = VersionVector::FromEntries(b);
  for (auto _ : state) benchmark::DoNotOptimize(Compare(va, vb));
}
BENCHMARK(BM_VersionVectorCompare)->Arg(3)->Arg(8);

void BM_SiblingSetMerge(benchmark::State& state) {
  Random rng(2);
  const SiblingSet a = CartState(rng, static_cast<int>(state.range(0)));
  const SiblingSet b = CartState(rng, static_cast<int>(state.range(0)));
  for (auto _ : state) {
    SiblingSet m = a;
    m.Merge(b);
    benchmark::DoNotOptimize(m);
  }
}
BENCHMARK(BM_SiblingSetMerge)->Arg(1)->Arg(3);

void BM_SiblingSetEncode(benchmark::State& state) {
  Random rng(3);
  const SiblingSet s = CartState(rng, static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(EncodeSiblingSet(s));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(EncodeSiblingSet(s).size()));
}
BENCHMARK(BM_SiblingSetEncode)->Arg(1)->Arg(3);

void BM_SiblingSetDecode(benchmark::State& state) {
  Random rng(4);
  const std::string bytes = EncodeSiblingSet(CartState(rng, static_cast<int>(state.range(0))));
  for (auto _ : state) benchmark::DoNotOptimize(DecodeSiblingSet(bytes));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(bytes.size()));
}
BENCHMARK(BM_SiblingSetDecode)->Arg(1)->Arg(3);

struct EngineFixture {
  explicit EngineFixture(Durability d) : dir(TempDir()) {
    LmdbEngineOptions o;
    o.path = dir;
    o.durability = d;
    o.clock = &clock;
    o.map_size_mb = 4096;
    // TROLLEY_BENCH_FLUSH_MS: the kFlush fsync interval (default 50 ms).
    if (const char* ms = std::getenv("TROLLEY_BENCH_FLUSH_MS")) {
      o.flush_interval_ms = std::strtoull(ms, nullptr, 10);
    }
    engine = std::move(LmdbEngine::Open(o)).value();
  }
  ~EngineFixture() {
    engine.reset();
    std::filesystem::remove_all(dir);
  }
  std::string dir;
  SystemClock clock;
  std::unique_ptr<LmdbEngine> engine;
};

void BM_EnginePut(benchmark::State& state) {
  spdlog::set_level(spdlog::level::warn);
  EngineFixture f(static_cast<Durability>(state.range(0)));
  Random rng(5);
  const std::string value(kValueBytes, 'v');
  for (auto _ : state) {
    std::atomic<int> left{kBatch};
    std::promise<void> done;
    {
      EngineCork cork(*f.engine);
      for (int i = 0; i < kBatch; ++i) {
        WriteIntent w;
        w.value = value;
        f.engine->Put({"carts", "k" + std::to_string(rng.Uniform(kKeySpace))}, std::move(w),
                      /*actor=*/1, [&](Result<SiblingSet> r) {
                        if (!r.ok()) std::abort();
                        if (--left == 0) done.set_value();
                      });
      }
    }
    done.get_future().wait();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBatch);
  state.SetLabel(std::string(DurabilityName(static_cast<Durability>(state.range(0)))));
}
BENCHMARK(BM_EnginePut)
    ->ArgName("durability")
    ->Arg(static_cast<int>(Durability::kSync))
    ->Arg(static_cast<int>(Durability::kFlush))
    ->Arg(static_cast<int>(Durability::kNone))
    ->UseRealTime();

void BM_EngineGet(benchmark::State& state) {
  EngineFixture f(Durability::kNone);
  Random rng(6);
  for (int i = 0; i < 10'000; i += kBatch) {
    std::atomic<int> left{kBatch};
    std::promise<void> done;
    for (int j = 0; j < kBatch; ++j) {
      WriteIntent w;
      w.value = std::string(kValueBytes, 'v');
      f.engine->Put({"carts", "k" + std::to_string(i + j)}, std::move(w), 1,
                    [&](Result<SiblingSet>) {
                      if (--left == 0) done.set_value();
                    });
    }
    done.get_future().wait();
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.engine->Get({"carts", "k" + std::to_string(rng.Uniform(10'000))}));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_EngineGet);

// The baseline: what LMDB itself does with the same values and batch size.
void BM_RawLmdbPut(benchmark::State& state) {
  const bool sync = state.range(0) == 1;
  const std::string dir = TempDir();
  MDB_env* env = nullptr;
  mdb_env_create(&env);
  mdb_env_set_mapsize(env, size_t{4096} << 20);
  if (mdb_env_open(env, dir.c_str(), sync ? 0 : MDB_NOSYNC, 0644) != 0) std::abort();
  MDB_dbi dbi;
  MDB_txn* txn = nullptr;
  mdb_txn_begin(env, nullptr, 0, &txn);
  mdb_dbi_open(txn, nullptr, 0, &dbi);
  mdb_txn_commit(txn);
  Random rng(5);
  std::string value(kValueBytes, 'v');
  for (auto _ : state) {
    mdb_txn_begin(env, nullptr, 0, &txn);
    for (int i = 0; i < kBatch; ++i) {
      const std::string key = "k" + std::to_string(rng.Uniform(kKeySpace));
      MDB_val k{key.size(), const_cast<char*>(key.data())};
      MDB_val v{value.size(), value.data()};
      if (mdb_put(txn, dbi, &k, &v, 0) != 0) std::abort();
    }
    if (mdb_txn_commit(txn) != 0) std::abort();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBatch);
  state.SetLabel(sync ? "sync" : "nosync");
  mdb_env_close(env);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_RawLmdbPut)->ArgName("sync")->Arg(1)->Arg(0)->UseRealTime();

}  // namespace
}  // namespace trolley

BENCHMARK_MAIN();
