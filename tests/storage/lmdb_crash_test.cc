// Goal: LmdbEngine loses no acknowledged write when its process is killed,
// in Durability kSync and kFlush, and recovers cleanly after every crash.
//
// Method: the test binary re-executes itself (fork + exec of /proc/self/exe
// with `--crash-child <dir> <sync|flush> <seed>`, see main() below) as a
// writer. The writer keeps kInFlight Puts outstanding on random keys among
// kKeys, each a read-modify-write: it writes key k with the causal context
// returned by its previous acknowledged write of k, and a 1.5 KB value that
// encodes (k, seq) with seq one above the previous write of k. From each
// write callback (the write is then durable under the engine's mode) it
// prints "ACK <k> <seq>" on the pipe the parent reads. The parent SIGKILLs
// the writer at a seeded random moment (a delay or a number of ACKs),
// reaps it, reopens the same data dir in-process and checks:
//   - Open succeeds (no corruption), and the actor epoch changed;
//   - for every key, the stored state is one sibling (each write's context
//     covered the previous one) that passes CheckInvariants, whose value is
//     byte-exact for its (k, seq), with seq >= the newest acknowledged seq
//     of k (a later, unacknowledged write may have landed: at most one, as
//     each key has at most one write in flight) and never below what the
//     previous round's check saw;
//   - a full Scan decodes every record;
//   - the engine still takes writes.
// The rounds reuse one data dir, so recovery after recovery is exercised.
//
// Why kFlush must pass too: SIGKILL is a process crash, not an OS crash.
// kFlush acknowledges after the commit reaches the OS page cache
// (MDB_NOSYNC), which survives the death of the process; only an OS crash
// or power loss may lose kFlush's last flush_interval_ms. This test cannot
// simulate an OS crash; the simulator's storage fault injection covers that.
//
// Seeded: TROLLEY_CRASH_SEED overrides the seed; failures print the seed
// and the round. The seed fixes the kill plan and the writer's key choice;
// how far the writer got when the kill lands still depends on timing.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "storage/engine.h"
#include "storage/lmdb/lmdb_engine.h"
#include "storage/sibling_set.h"
#include "tests/storage/lmdb_child.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"

namespace trolley {
namespace {

using test_support::WriteReportLine;

constexpr int kKeys = 200;
constexpr int kInFlight = 8;
constexpr size_t kValueBytes = 1536;
constexpr int kRounds = 50;
constexpr uint64_t kDefaultSeed = 0x7c0ffee;
constexpr const char* kNs = "crash";
constexpr const char* kMarkerNs = "crash-parent";
// The writer gives up (and the round fails) if nobody kills it by then.
constexpr auto kChildLifetimeMax = std::chrono::seconds(60);

using SteadyClock = std::chrono::steady_clock;

std::string KeyName(int k) { return "cart-" + std::to_string(k); }

// "k=<k> s=<seq>;" then filler derived from (k, seq), kValueBytes in all,
// so a value from the wrong key or write, or a torn one, does not match.
std::string MakeValue(int k, uint64_t seq) {
  std::string v = "k=" + std::to_string(k) + " s=" + std::to_string(seq) + ";";
  Random r(static_cast<uint64_t>(k) * 1'000'003 + seq);
  while (v.size() < kValueBytes) v.push_back(static_cast<char>('a' + r.Uniform(26)));
  return v;
}

// The (k, seq) a value claims, if it is byte-exact for that claim.
std::optional<std::pair<int, uint64_t>> ParseValue(const std::string& v) {
  int k = -1;
  unsigned long long seq = 0;
  if (std::sscanf(v.c_str(), "k=%d s=%llu;", &k, &seq) != 2) return std::nullopt;
  if (k < 0 || k >= kKeys || v != MakeValue(k, seq)) return std::nullopt;
  return std::make_pair(k, static_cast<uint64_t>(seq));
}

Result<SiblingSet> PutAndWait(LmdbEngine& engine, ObjectKey key, WriteIntent intent,
                              ActorId actor) {
  std::promise<Result<SiblingSet>> done;
  auto result = done.get_future();
  engine.Put(std::move(key), std::move(intent), actor,
             [&done](Result<SiblingSet> r) { done.set_value(std::move(r)); });
  return result.get();
}

// ---- the writer (child process) ----

int CrashChildMain(const std::string& dir, const std::string& mode, uint64_t seed) {
  // The parent's pipe is our stdout: ACK lines only (see TakeReportFd). Each
  // is one write(2) shorter than PIPE_BUF, so the parent never sees half of
  // one unless the kill lands inside the call (it drops a partial last line).
  const int ack_fd = test_support::TakeReportFd();
  auto durability = ParseDurability(mode);
  if (!durability.ok()) {
    WriteReportLine(ack_fd, "ERROR " + durability.status().ToString());
    return 81;
  }
  SystemClock clock;
  LmdbEngineOptions options;
  options.path = dir;
  options.durability = *durability;
  options.flush_interval_ms = 50;
  options.clock = &clock;
  std::unique_ptr<LmdbEngine> engine = test_support::OpenOrReport(options, ack_fd);
  if (engine == nullptr) return 82;

  struct KeyWriter {
    VersionVector context;  // of the newest acknowledged write
    uint64_t seq = 0;       // of the newest acknowledged write
    bool in_flight = false;
  };
  std::vector<KeyWriter> keys(kKeys);
  for (int k = 0; k < kKeys; ++k) {
    auto state = engine->Get(ObjectKey{kNs, KeyName(k)});
    if (!state.ok() && state.status().IsNotFound()) continue;
    if (!state.ok()) {
      WriteReportLine(ack_fd, "ERROR get " + KeyName(k) + ": " + state.status().ToString());
      return 83;
    }
    keys[static_cast<size_t>(k)].context = state->context();
    for (const Sibling& s : state->siblings()) {
      auto parsed = ParseValue(s.value);
      if (!parsed || parsed->first != k) {
        WriteReportLine(ack_fd, "ERROR bad value at " + KeyName(k));
        return 84;
      }
      keys[static_cast<size_t>(k)].seq = std::max(keys[static_cast<size_t>(k)].seq, parsed->second);
    }
  }
  const ActorId actor = engine->incarnation();
  WriteReportLine(ack_fd, "READY " + std::to_string(engine->incarnation()));

  Random rng(seed);
  std::mutex mu;
  std::condition_variable cv;
  int outstanding = 0;
  const auto give_up_at = SteadyClock::now() + kChildLifetimeMax;
  while (SteadyClock::now() < give_up_at) {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return outstanding < kInFlight; });
    int k = static_cast<int>(rng.Uniform(kKeys));
    while (keys[static_cast<size_t>(k)].in_flight) k = (k + 1) % kKeys;
    KeyWriter& w = keys[static_cast<size_t>(k)];
    w.in_flight = true;
    ++outstanding;
    const uint64_t seq = w.seq + 1;
    WriteIntent intent;
    intent.context = w.context;
    intent.value = MakeValue(k, seq);
    intent.timestamp_ms = clock.NowWallMs();
    lk.unlock();
    // The callback runs on the engine's writer thread, after the commit
    // (kSync: fsynced; kFlush: in the page cache).
    engine->Put(
        ObjectKey{kNs, KeyName(k)}, std::move(intent), actor, [&, k, seq](Result<SiblingSet> r) {
          std::lock_guard g(mu);
          if (!r.ok()) {
            WriteReportLine(ack_fd, "ERROR put " + KeyName(k) + ": " + r.status().ToString());
            ::_exit(85);
          }
          WriteReportLine(ack_fd, "ACK " + std::to_string(k) + " " + std::to_string(seq));
          KeyWriter& kw = keys[static_cast<size_t>(k)];
          kw.context = r->context();
          kw.seq = seq;
          kw.in_flight = false;
          --outstanding;
          cv.notify_one();
        });
  }
  WriteReportLine(ack_fd, "ERROR the writer was not killed within its lifetime");
  ::_exit(86);  // not a clean close: the parent would otherwise wait for it
}

// ---- the parent ----

uint64_t BaseSeed() {
  const char* env = std::getenv("TROLLEY_CRASH_SEED");
  return env != nullptr ? std::strtoull(env, nullptr, 0) : kDefaultSeed;
}

struct Totals {
  int rounds = 0;
  uint64_t acked_writes = 0;
  uint64_t checked_keys = 0;
  uint64_t unacked_survivors = 0;  // a stored seq one past the newest ACK
  int kills_by_time = 0;
  int kills_by_acks = 0;
};

class CrashTest : public ::testing::Test {
 protected:
  // Runs kRounds crash-recover-check rounds on one data dir. `seed` is the
  // base seed (TROLLEY_CRASH_SEED); `salt` tells the tests apart.
  void RunRounds(Durability durability, uint64_t seed, uint64_t salt) {
    const auto started = SteadyClock::now();
    Random plan(seed ^ salt);
    std::vector<uint64_t> seen_seq(kKeys, 0);  // what the previous check found
    uint64_t parent_incarnation = 0;
    for (int round = 1; round <= kRounds; ++round) {
      SCOPED_TRACE("seed=" + std::to_string(seed) + " round=" + std::to_string(round) +
                   " mode=" + std::string(DurabilityName(durability)) +
                   " (replay: TROLLEY_CRASH_SEED=" + std::to_string(seed) + ")");
      RunRound(durability, plan, round, seen_seq, parent_incarnation);
      if (HasFailure()) {
        std::printf("[crash %s] FAILED at seed=%llu round=%d\n",
                    std::string(DurabilityName(durability)).c_str(),
                    static_cast<unsigned long long>(seed), round);
        return;
      }
      ++totals_.rounds;
    }
    const auto elapsed_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started).count();
    std::printf(
        "[crash %s] seed=%llu rounds=%d acked_writes=%llu checked_keys=%llu "
        "unacked_survivors=%llu kills_by_time=%d kills_by_acks=%d elapsed_ms=%lld\n",
        std::string(DurabilityName(durability)).c_str(), static_cast<unsigned long long>(seed),
        totals_.rounds, static_cast<unsigned long long>(totals_.acked_writes),
        static_cast<unsigned long long>(totals_.checked_keys),
        static_cast<unsigned long long>(totals_.unacked_survivors), totals_.kills_by_time,
        totals_.kills_by_acks, static_cast<long long>(elapsed_ms));
    EXPECT_EQ(totals_.rounds, kRounds);
    EXPECT_GT(totals_.acked_writes, 0u);
  }

  void RunRound(Durability durability, Random& plan, int round, std::vector<uint64_t>& seen_seq,
                uint64_t& parent_incarnation) {
    const uint64_t child_seed = plan.Next();
    test_support::ChildProcess child({"--crash-child", dir_.path(),
                                      std::string(DurabilityName(durability)),
                                      std::to_string(child_seed)});

    std::vector<uint64_t> acked(kKeys, 0);  // newest ACKed seq per key, this round
    uint64_t acks = 0;
    std::string error;
    // True if the line was understood; records ACKs and errors.
    auto take = [&](const std::string& line) {
      int k = -1;
      unsigned long long seq = 0;
      if (std::sscanf(line.c_str(), "ACK %d %llu", &k, &seq) == 2 && k >= 0 && k < kKeys) {
        ++acks;
        acked[static_cast<size_t>(k)] = std::max<uint64_t>(acked[static_cast<size_t>(k)], seq);
      } else if (line.rfind("ERROR", 0) == 0) {
        error = line;
      } else {
        error = "unexpected line from the writer: " + line;
      }
    };

    // Kill only once the writer has opened the engine: its incarnation is
    // then on disk and every later kill is a crash of a running engine.
    const auto ready_line = child.ReadLine(SteadyClock::now() + std::chrono::seconds(30));
    unsigned long long child_incarnation = 0;
    ASSERT_TRUE(ready_line.has_value()) << "the writer never became ready";
    ASSERT_EQ(std::sscanf(ready_line->c_str(), "READY %llu", &child_incarnation), 1) << *ready_line;
    if (round > 1) {
      EXPECT_NE(child_incarnation, parent_incarnation)
          << "every open, even after a clean close, must take a new actor epoch";
    }

    const bool by_time = plan.Chance(0.5);
    if (by_time) {
      ++totals_.kills_by_time;
      const auto kill_at = SteadyClock::now() + std::chrono::milliseconds(plan.Range(5, 80));
      while (error.empty()) {
        auto line = child.ReadLine(kill_at);
        if (!line) break;
        take(*line);
      }
    } else {
      ++totals_.kills_by_acks;
      const uint64_t target = plan.Range(1, 400);
      const auto give_up = SteadyClock::now() + std::chrono::seconds(20);
      while (error.empty() && acks < target) {
        auto line = child.ReadLine(give_up);
        if (!line) break;
        take(*line);
      }
    }
    child.Kill();
    // ACK lines already in the pipe were written after their commit: they count.
    while (auto line = child.ReadLine(SteadyClock::now() + std::chrono::seconds(30))) take(*line);
    ASSERT_TRUE(child.eof()) << "the writer's pipe did not close after SIGKILL";
    const int status = child.Wait();
    ASSERT_TRUE(error.empty()) << error;
    ASSERT_EQ(status, -SIGKILL) << "the writer ended on its own (exit code, or -signal)";
    totals_.acked_writes += acks;

    CheckRecovered(child_incarnation, seen_seq, acked, parent_incarnation);
  }

  void CheckRecovered(uint64_t child_incarnation, std::vector<uint64_t>& seen_seq,
                      const std::vector<uint64_t>& acked, uint64_t& parent_incarnation) {
    LmdbEngineOptions options;
    options.path = dir_.path();
    options.durability = Durability::kSync;
    options.clock = &clock_;
    auto opened = LmdbEngine::Open(options);
    ASSERT_TRUE(opened.ok()) << "reopen after SIGKILL: " << opened.status().ToString();
    std::unique_ptr<LmdbEngine> engine = std::move(opened).value();
    EXPECT_NE(engine->incarnation(), child_incarnation)
        << "an unclean shutdown must start a new actor epoch";
    parent_incarnation = engine->incarnation();

    size_t found = 0;
    for (int k = 0; k < kKeys; ++k) {
      const size_t i = static_cast<size_t>(k);
      const uint64_t must_have = std::max(seen_seq[i], acked[i]);
      auto state = engine->Get(ObjectKey{kNs, KeyName(k)});
      if (!state.ok()) {
        ASSERT_TRUE(state.status().IsNotFound()) << KeyName(k) << ": " << state.status().ToString();
        EXPECT_EQ(must_have, 0u) << KeyName(k) << " lost: acknowledged seq " << acked[i]
                                 << ", previously seen seq " << seen_seq[i];
        continue;
      }
      ++found;
      ++totals_.checked_keys;
      state->CheckInvariants();
      ASSERT_EQ(state->size(), 1u) << KeyName(k) << ": " << state->DebugString();
      auto parsed = ParseValue(state->siblings()[0].value);
      ASSERT_TRUE(parsed.has_value()) << KeyName(k) << " holds a torn or foreign value";
      ASSERT_EQ(parsed->first, k);
      const uint64_t stored = parsed->second;
      EXPECT_GE(stored, must_have)
          << KeyName(k) << " lost an acknowledged write: stored seq " << stored << ", acknowledged "
          << acked[i] << ", previously seen " << seen_seq[i];
      // At most one write per key was in flight, so at most one unacknowledged
      // write past the newest ACK (or past the last check) can have landed.
      EXPECT_LE(stored, must_have + 1) << KeyName(k) << " holds a write nobody made";
      if (stored > must_have) ++totals_.unacked_survivors;
      seen_seq[i] = stored;
    }

    // Every record decodes: Scan skips (and logs) undecodable ones, so the
    // count must match the keys Get found (+ the marker, after round 1).
    auto page = engine->Scan(0, UINT64_MAX, nullptr, 4 * kKeys);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    size_t scanned = 0;
    for (const KeyState& entry : page->entries) {
      entry.state.CheckInvariants();
      if (entry.key.ns == kNs) ++scanned;
    }
    EXPECT_EQ(scanned, found);
    EXPECT_FALSE(page->more);

    // The recovered engine takes writes: read-modify-write a marker key.
    const ObjectKey marker{kMarkerNs, "marker"};
    WriteIntent intent;
    auto before = engine->Get(marker);
    if (before.ok()) intent.context = before->context();
    intent.value = "after crash";
    auto written = PutAndWait(*engine, marker, intent, engine->incarnation());
    ASSERT_TRUE(written.ok()) << written.status().ToString();
    EXPECT_EQ(written->size(), 1u);
    // The engine closes cleanly here; the next writer must see that.
  }

  test_support::TempDir dir_{"trolley-crash"};
  ManualClock clock_;
  Totals totals_;
};

// Goal: no acknowledged kSync write is lost to SIGKILL; recovery is clean.
// Method: RunRounds (see the file comment) with the writer in kSync.
TEST_F(CrashTest, SyncLosesNoAcknowledgedWrite) { RunRounds(Durability::kSync, BaseSeed(), 0x5); }

// Goal: no acknowledged kFlush write is lost to SIGKILL (a process crash
// keeps the page cache); recovery is clean. Method: RunRounds, kFlush writer.
TEST_F(CrashTest, FlushLosesNoAcknowledgedWrite) {
  RunRounds(Durability::kFlush, BaseSeed(), 0xf1a5);
}

}  // namespace
}  // namespace trolley

int main(int argc, char** argv) {
  // The writer half of the test: see the file comment.
  if (argc >= 2 && std::strcmp(argv[1], "--crash-child") == 0) {
    if (argc != 5) return 64;
    return trolley::CrashChildMain(argv[2], argv[3], std::strtoull(argv[4], nullptr, 0));
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
