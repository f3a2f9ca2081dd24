// trolley-storage-demo: the storage engine on its own, showing what a
// replica does with carts: siblings from concurrent writes, resolution
// with the joined context, a guest cart that expires, a tombstone, a hint,
// a sweep, and the incarnation that changes after an unclean stop.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <future>
#include <string>
#include <thread>

#include "common/clock.h"
#include "storage/lmdb/lmdb_engine.h"

namespace {

using namespace trolley;

Result<SiblingSet> Wait(Engine& engine, const ObjectKey& key, WriteIntent intent, ActorId actor) {
  std::promise<Result<SiblingSet>> p;
  engine.Put(key, std::move(intent), actor,
             [&](Result<SiblingSet> r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

std::string Show(const SiblingSet& s, uint64_t now_ms) {
  std::string out;
  for (const Sibling* sib : s.Visible(now_ms)) {
    if (!out.empty()) out += " | ";
    out += sib->value;
  }
  return "[" + out + "] context " + s.context().ToString();
}

int Run(const std::string& dir, Durability durability) {
  spdlog::set_level(spdlog::level::warn);
  SystemClock clock;
  LmdbEngineOptions options;
  options.path = dir;
  options.durability = durability;
  options.clock = &clock;
  auto opened = LmdbEngine::Open(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "cannot open storage: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  LmdbEngine& engine = **opened;
  const ActorId actor = 1000 + engine.incarnation();
  std::printf("opened %s (durability %s, incarnation %llu)\n", dir.c_str(),
              std::string(DurabilityName(durability)).c_str(),
              static_cast<unsigned long long>(engine.incarnation()));

  const ObjectKey cart{"carts", "alice"};
  WriteIntent w;
  if (auto existing = engine.Get(cart); existing.ok()) w.context = existing->context();  // a rerun
  w.value = "apple x1";
  w.timestamp_ms = clock.NowWallMs();
  auto base = Wait(engine, cart, w, actor);
  if (!base.ok()) {
    std::fprintf(stderr, "write failed: %s\n", base.status().ToString().c_str());
    return 1;
  }
  std::printf("1. alice's cart:                   %s\n", Show(*base, clock.NowWallMs()).c_str());

  // Phone and laptop both read the cart, then both write from that context.
  w.context = base->context();
  w.value = "apple x1, pear x2 (phone)";
  (void)Wait(engine, cart, w, actor);
  w.value = "apple x3 (laptop)";
  auto both = Wait(engine, cart, w, actor);
  std::printf("2. two devices, same context:      %s\n", Show(*both, clock.NowWallMs()).c_str());

  w.context = both->context();
  w.value = "apple x3, pear x2";
  auto resolved = Wait(engine, cart, w, actor);
  std::printf("3. resolved with joined context:   %s\n",
              Show(*resolved, clock.NowWallMs()).c_str());

  const ObjectKey guest{"guest-carts", "g-42"};
  WriteIntent g;
  g.value = "socks x1";
  g.timestamp_ms = clock.NowWallMs();
  g.expiry_ms = clock.NowWallMs() + 1;  // a 1 ms TTL, to watch it expire
  (void)Wait(engine, guest, g, actor);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto gone = engine.Get(guest);
  std::printf("4. guest cart after its TTL:       %s\n", gone.status().ToString().c_str());

  Hint hint{"n2", cart, *resolved, clock.NowWallMs()};
  std::promise<Status> hinted;
  engine.hints().Add(hint, [&](Status s) { hinted.set_value(s); });
  (void)hinted.get_future().get();
  std::printf("5. hints held for other nodes:     %llu\n",
              static_cast<unsigned long long>(engine.hints().Stats()->count));

  std::promise<Result<SweepReport>> swept;
  engine.Sweep(/*tombstone_grace_ms=*/0, [&](Result<SweepReport> r) { swept.set_value(r); });
  auto report = swept.get_future().get();
  if (report.ok()) {
    std::printf("6. sweep: scanned %llu keys, removed %llu expired, purged %llu tombstones\n",
                static_cast<unsigned long long>(report->keys_scanned),
                static_cast<unsigned long long>(report->expired_removed),
                static_cast<unsigned long long>(report->tombstones_purged));
  }
  const auto c = engine.counters();
  std::printf("7. %llu writes in %llu commits, %llu fsyncs\n",
              static_cast<unsigned long long>(c.ops_committed),
              static_cast<unsigned long long>(c.commits),
              static_cast<unsigned long long>(c.fsyncs));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Trolley storage demo: one replica's engine, on disk"};
  std::string dir = "./data/demo";
  std::string durability = "sync";
  app.add_option("--data-dir", dir, "data directory (created if missing)");
  app.add_option("--durability", durability, "sync, flush or none")
      ->check(CLI::IsMember({"sync", "flush", "none"}));
  CLI11_PARSE(app, argc, argv);
  return Run(dir, trolley::ParseDurability(durability).value());
}
