// Goal: every failure mode lmdb_engine.h lists (map full, readers table
// full, disk full, newer format, data dir already open) and two kinds of bad
// input (invalid keys, a corrupt stored record) reach the caller as a clear
// Status, and never as a crash, a hang or damaged data.
//
// Method: a real LmdbEngine in a fresh temp dir per test. What cannot be
// provoked through the engine's API is provoked around it: raw <lmdb.h>
// edits the data dir while the engine is closed (newer format version,
// garbage record), and the binary re-executes itself as a child process
// (see main() below) to hold LMDB reader slots, to open a data dir held by
// this process, and to write under a small RLIMIT_FSIZE (disk full).
#include <gtest/gtest.h>
#include <lmdb.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "storage/engine.h"
#include "storage/key_layout.h"
#include "storage/lmdb/lmdb_engine.h"
#include "storage/sibling_set.h"
#include "tests/storage/lmdb_child.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"

namespace trolley {
namespace {

using test_support::ChildProcess;
using test_support::TakeReportFd;
using test_support::TempDir;
using test_support::WriteReportLine;

constexpr ActorId kActor = 11;
constexpr const char* kNs = "carts";

// A value of `bytes` bytes that names `i`, so a mix-up shows.
std::string Value(uint64_t i, size_t bytes) {
  std::string v = "value-" + std::to_string(i) + ";";
  while (v.size() < bytes) v.push_back(static_cast<char>('a' + (v.size() + i) % 26));
  return v;
}

// The one visible value of a key, or "" if it does not hold exactly one.
std::string OnlyValue(const SiblingSet& s) {
  return s.size() == 1 ? s.siblings()[0].value : std::string();
}

// `decided_counter`, if given, gets kActor's counter in the state the
// put's `decided` callback handed out (0 if it never ran).
Result<SiblingSet> PutAndWait(LmdbEngine& engine, ObjectKey key, std::string value,
                              VersionVector context = {}, uint64_t* decided_counter = nullptr) {
  WriteIntent intent;
  intent.context = std::move(context);
  intent.value = std::move(value);
  std::promise<Result<SiblingSet>> done;
  auto result = done.get_future();
  if (decided_counter != nullptr) *decided_counter = 0;
  engine.Put(
      std::move(key), std::move(intent), kActor,
      [decided_counter](Result<SiblingSet> r) {
        if (decided_counter != nullptr) *decided_counter = r->context().Get(kActor);
      },
      [&done](Result<SiblingSet> r) { done.set_value(std::move(r)); });
  return result.get();
}

Result<SiblingSet> MergeAndWait(LmdbEngine& engine, ObjectKey key, SiblingSet remote) {
  std::promise<Result<SiblingSet>> done;
  auto result = done.get_future();
  engine.Merge(std::move(key), std::move(remote),
               [&done](Result<SiblingSet> r) { done.set_value(std::move(r)); });
  return result.get();
}

// Raw LMDB access to a data dir the engine does not hold open (LMDB forbids
// opening one environment twice in a process).
class RawEnv {
 public:
  RawEnv(const std::string& dir, unsigned flags) {
    rc_ = mdb_env_create(&env_);
    if (rc_ == 0) rc_ = mdb_env_set_maxdbs(env_, 4);
    if (rc_ == 0) rc_ = mdb_env_open(env_, dir.c_str(), flags, 0644);
  }
  ~RawEnv() { mdb_env_close(env_); }
  int rc() const { return rc_; }
  MDB_env* env() const { return env_; }

  int Put(const char* db, const std::string& key, const std::string& value) {
    return Write(db, [&](MDB_txn* txn, MDB_dbi dbi) {
      MDB_val k{key.size(), const_cast<char*>(key.data())};
      MDB_val v{value.size(), const_cast<char*>(value.data())};
      return mdb_put(txn, dbi, &k, &v, 0);
    });
  }
  std::optional<std::string> Get(const char* db, const std::string& key) {
    MDB_txn* txn = nullptr;
    if (mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn) != 0) return std::nullopt;
    MDB_dbi dbi = 0;
    MDB_val k{key.size(), const_cast<char*>(key.data())}, v;
    std::optional<std::string> out;
    if (mdb_dbi_open(txn, db, 0, &dbi) == 0 && mdb_get(txn, dbi, &k, &v) == 0) {
      out.emplace(static_cast<const char*>(v.mv_data), v.mv_size);
    }
    mdb_txn_abort(txn);
    return out;
  }
  int Delete(const char* db, const std::string& key) {
    return Write(db, [&](MDB_txn* txn, MDB_dbi dbi) {
      MDB_val k{key.size(), const_cast<char*>(key.data())};
      return mdb_del(txn, dbi, &k, nullptr);
    });
  }
  // How many keys of `db` start with `prefix`.
  size_t CountPrefix(const char* db, const std::string& prefix) {
    MDB_txn* txn = nullptr;
    if (mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn) != 0) return 0;
    MDB_dbi dbi = 0;
    MDB_cursor* cursor = nullptr;
    size_t n = 0;
    if (mdb_dbi_open(txn, db, 0, &dbi) == 0 && mdb_cursor_open(txn, dbi, &cursor) == 0) {
      MDB_val k{prefix.size(), const_cast<char*>(prefix.data())}, v;
      for (int rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
           rc == 0 &&
           std::string_view(static_cast<const char*>(k.mv_data), k.mv_size).starts_with(prefix);
           rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        ++n;
      }
      mdb_cursor_close(cursor);
    }
    mdb_txn_abort(txn);
    return n;
  }

 private:
  // One write transaction on `db` doing `op`; committed if op returns 0.
  int Write(const char* db, const std::function<int(MDB_txn*, MDB_dbi)>& op) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc != 0) return rc;
    MDB_dbi dbi = 0;
    rc = mdb_dbi_open(txn, db, 0, &dbi);
    if (rc == 0) rc = op(txn, dbi);
    if (rc != 0) {
      mdb_txn_abort(txn);
      return rc;
    }
    return mdb_txn_commit(txn);
  }

  MDB_env* env_ = nullptr;
  int rc_ = 0;
};

// ---- child processes (this binary, re-executed; see main()) ----

// --open-child <dir>: tries to open the data dir; reports "STATUS <code> <message>".
int OpenChildMain(const std::string& dir) {
  const int report = TakeReportFd();
  SystemClock clock;
  LmdbEngineOptions options;
  options.path = dir;
  options.clock = &clock;
  auto opened = LmdbEngine::Open(options);
  WriteReportLine(report, "STATUS " + std::to_string(static_cast<int>(opened.status().code())) +
                              " " + opened.status().message());
  return 0;
}

// --hold-readers <dir>: takes every free reader slot of the environment
// with raw read transactions, reports "HELD <n>", holds them until its
// stdin closes, releases them and reports "RELEASED".
int HoldReadersMain(const std::string& dir) {
  const int report = TakeReportFd();
  RawEnv raw(dir, MDB_RDONLY | MDB_NOTLS);  // NOTLS: one slot per transaction
  if (raw.rc() != 0) {
    WriteReportLine(report, std::string("ERROR open: ") + mdb_strerror(raw.rc()));
    return 1;
  }
  std::vector<MDB_txn*> held;
  int rc = 0;
  while (held.size() < 10'000) {
    MDB_txn* txn = nullptr;
    rc = mdb_txn_begin(raw.env(), nullptr, MDB_RDONLY, &txn);
    if (rc != 0) break;
    held.push_back(txn);
  }
  if (rc != MDB_READERS_FULL) {
    WriteReportLine(report,
                    std::string("ERROR expected MDB_READERS_FULL, got ") + mdb_strerror(rc));
    return 1;
  }
  WriteReportLine(report, "HELD " + std::to_string(held.size()));
  char c;
  while (::read(STDIN_FILENO, &c, 1) < 0 && errno == EINTR) {
  }
  for (MDB_txn* txn : held) mdb_txn_abort(txn);  // gives the slots back
  WriteReportLine(report, "RELEASED");
  return 0;
}

// --disk-full-child <dir> <limit_bytes>: writes 4 KB values to new keys
// under RLIMIT_FSIZE = limit_bytes until a write fails. Reports "ACK <i>"
// per acknowledged write, "FAIL <code> <message>" for the first failure,
// "RETRY <code> <message>" for one more try of the failed write, "DECIDED
// <n>" for the highest dot counter those failed writes' `decided`
// callbacks handed out (kSync hands it out before the commit that failed),
// then, with the limit lifted, "AFTER <n>" for the counter of one more
// write (it must be above: a handed-out dot is never issued again); then
// closes the engine and reports "CLOSED" (or "NOFAIL" if nothing failed).
int DiskFullChildMain(const std::string& dir, uint64_t limit_bytes) {
  const int report = TakeReportFd();
  ::signal(SIGXFSZ, SIG_IGN);                      // a write past the limit then fails with EFBIG
  const rlimit limit{limit_bytes, RLIM_INFINITY};  // the soft limit; lifted below
  if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) {
    WriteReportLine(report, std::string("ERROR setrlimit: ") + std::strerror(errno));
    return 1;
  }
  SystemClock clock;
  LmdbEngineOptions options;
  options.path = dir;
  options.clock = &clock;
  std::unique_ptr<LmdbEngine> engine = test_support::OpenOrReport(options, report);
  if (engine == nullptr) return 1;
  auto line = [](const char* what, const Status& s) {
    return std::string(what) + " " + std::to_string(static_cast<int>(s.code())) + " " + s.message();
  };
  bool failed = false;
  for (uint64_t i = 0; i < 10'000 && !failed; ++i) {
    const ObjectKey key{kNs, "k" + std::to_string(i)};
    uint64_t decided = 0;
    auto r = PutAndWait(*engine, key, Value(i, 4000), {}, &decided);
    if (r.ok()) {
      WriteReportLine(report, "ACK " + std::to_string(i));
      continue;
    }
    failed = true;
    WriteReportLine(report, line("FAIL", r.status()));
    // Later batches are tried again ("nothing of it is applied"); the disk
    // is still full, so this one is expected to fail the same way.
    uint64_t decided_again = 0;
    auto again = PutAndWait(*engine, key, Value(i, 4000), {}, &decided_again);
    WriteReportLine(report,
                    again.ok() ? "ACK " + std::to_string(i) : line("RETRY", again.status()));
    WriteReportLine(report, "DECIDED " + std::to_string(std::max(decided, decided_again)));
    const rlimit lifted{RLIM_INFINITY, RLIM_INFINITY};
    if (::setrlimit(RLIMIT_FSIZE, &lifted) != 0) {
      WriteReportLine(report, std::string("ERROR setrlimit: ") + std::strerror(errno));
      return 1;
    }
    auto fits = PutAndWait(*engine, ObjectKey{kNs, "after"}, "fits now");
    WriteReportLine(report, fits.ok() ? "AFTER " + std::to_string(fits->context().Get(kActor))
                                      : line("ERROR after", fits.status()));
  }
  if (!failed) WriteReportLine(report, "NOFAIL");
  engine.reset();  // must neither crash nor hang with the disk still full
  WriteReportLine(report, "CLOSED");
  return 0;
}

// ---- the parent ----

class LmdbFailureTest : public ::testing::Test {
 protected:
  LmdbEngineOptions Options() {
    LmdbEngineOptions o;
    o.path = dir_.path();
    o.durability = Durability::kSync;
    o.clock = &clock_;
    return o;
  }
  std::unique_ptr<LmdbEngine> MustOpen(const LmdbEngineOptions& options) {
    auto opened = LmdbEngine::Open(options);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    return opened.ok() ? std::move(opened).value() : nullptr;
  }

  TempDir dir_{"trolley-failure"};
  ManualClock clock_;
};

// Goal: a kSync batch that runs out of map after its states went to their
// `decided` callbacks (writing the dot floors, or committing) is retried
// with the same dots: what `done` gets, and what is stored, is what
// `decided` handed out, and no dot is issued twice.
// Method: one put at a time into a 1 MiB map that may grow to 2 MiB, until
// it grows, checking every put; with batches of one put the map runs out
// while the dot floors are written or the batch commits, after `decided`
// (counters().map_resizes_after_decided says so; LMDB allocates pages
// deterministically, and if a value size does not get there, the next
// one is tried).
TEST_F(LmdbFailureTest, MapResizeAfterDecidedIssuesTheSameDots) {
  uint64_t after_decided = 0;
  for (size_t bytes = 1000; bytes <= 1900 && after_decided == 0; bytes += 60) {
    SCOPED_TRACE("values of " + std::to_string(bytes) + " bytes");
    TempDir dir("trolley-resize");
    LmdbEngineOptions options = Options();
    options.path = dir.path();
    options.map_size_mb = 1;
    options.map_size_max_mb = 2;
    auto engine = MustOpen(options);
    ASSERT_NE(engine, nullptr);
    uint64_t last_counter = 0;
    std::vector<uint64_t> acked;
    for (uint64_t i = 0; i < 2000 && engine->counters().map_resizes == 0; ++i) {
      uint64_t decided = 0;
      auto put = PutAndWait(*engine, ObjectKey{kNs, "k" + std::to_string(i)}, Value(i, bytes), {},
                            &decided);
      ASSERT_TRUE(put.ok()) << "k" << i << ": " << put.status().ToString();
      const uint64_t counter = put->context().Get(kActor);
      ASSERT_EQ(decided, counter) << "k" << i << ": done got another dot than decided";
      ASSERT_GT(counter, last_counter) << "k" << i << ": a dot issued twice";
      last_counter = counter;
      acked.push_back(i);
    }
    ASSERT_EQ(engine->counters().map_resizes, 1u) << "1 MiB never filled up";
    after_decided = engine->counters().map_resizes_after_decided;
    for (uint64_t i : acked) {
      auto got = engine->Get(ObjectKey{kNs, "k" + std::to_string(i)});
      ASSERT_TRUE(got.ok()) << "k" << i << ": " << got.status().ToString();
      ASSERT_EQ(OnlyValue(*got), Value(i, bytes)) << "k" << i;
    }
  }
  EXPECT_GT(after_decided, 0u) << "no size made a resize land after decided: the path is untested";
}

// Goal: a full map grows up to map_size_max_mb, then writes fail with
// kLimitExceeded naming the setting, and nothing acknowledged is lost;
// every acknowledged put stored the state its `decided` callback handed
// out (the retry after `decided` itself: MapResizeAfterDecided... above).
// Method: 1 MiB map, 2 MiB max; bursts of 8 puts (3 KB values, new keys)
// until one fails; then read everything back, reopen, read it again.
TEST_F(LmdbFailureTest, MapFullFailsWithLimitExceededAfterGrowing) {
  LmdbEngineOptions options = Options();
  options.map_size_mb = 1;
  options.map_size_max_mb = 2;
  auto engine = MustOpen(options);
  ASSERT_NE(engine, nullptr);

  constexpr size_t kValueBytes = 3000;
  constexpr int kBurst = 8;
  std::vector<uint64_t> acked;
  std::optional<Status> failure;
  uint64_t first_failed = 0;
  for (uint64_t next = 0; next < 4000 && !failure; next += kBurst) {
    std::vector<std::future<Result<SiblingSet>>> burst;
    std::vector<std::promise<Result<SiblingSet>>> promises(kBurst);
    std::vector<std::optional<SiblingSet>> decided(kBurst);  // set before the promise
    for (int j = 0; j < kBurst; ++j) {
      burst.push_back(promises[static_cast<size_t>(j)].get_future());
      WriteIntent intent;
      intent.value = Value(next + static_cast<uint64_t>(j), kValueBytes);
      engine->Put(
          ObjectKey{kNs, "k" + std::to_string(next + static_cast<uint64_t>(j))}, std::move(intent),
          kActor,
          [d = &decided[static_cast<size_t>(j)]](Result<SiblingSet> r) {
            *d = std::move(r).value();
          },
          [p = &promises[static_cast<size_t>(j)]](Result<SiblingSet> r) {
            p->set_value(std::move(r));
          });
    }
    for (int j = 0; j < kBurst; ++j) {
      auto r = burst[static_cast<size_t>(j)].get();
      if (r.ok()) {
        ASSERT_TRUE(decided[static_cast<size_t>(j)].has_value());
        EXPECT_EQ(*decided[static_cast<size_t>(j)], *r) << "k" << next + static_cast<uint64_t>(j);
        acked.push_back(next + static_cast<uint64_t>(j));
      } else if (!failure) {
        failure = r.status();
        first_failed = next + static_cast<uint64_t>(j);
      }
    }
  }
  ASSERT_TRUE(failure.has_value()) << "2 MiB never filled up";
  EXPECT_EQ(failure->code(), StatusCode::kLimitExceeded) << failure->ToString();
  EXPECT_NE(failure->message().find("map_size_max_mb"), std::string::npos) << failure->message();
  EXPECT_GE(engine->counters().map_resizes, 1u) << "the map never grew before failing";
  EXPECT_GT(acked.size(), 100u);
  std::printf("[map full] acked=%zu map_resizes=%llu error: %s\n", acked.size(),
              static_cast<unsigned long long>(engine->counters().map_resizes),
              failure->ToString().c_str());

  auto check_all = [&](LmdbEngine& e) {
    for (uint64_t i : acked) {
      auto got = e.Get(ObjectKey{kNs, "k" + std::to_string(i)});
      ASSERT_TRUE(got.ok()) << "k" << i << ": " << got.status().ToString();
      ASSERT_EQ(OnlyValue(*got), Value(i, kValueBytes)) << "k" << i;
    }
    // Nothing of the failed batch was applied.
    EXPECT_TRUE(e.Get(ObjectKey{kNs, "k" + std::to_string(first_failed)}).status().IsNotFound());
  };
  check_all(*engine);  // reads still work on the full map
  engine.reset();
  engine = MustOpen(options);
  ASSERT_NE(engine, nullptr);
  check_all(*engine);
}

// Goal: a full LMDB readers table makes reads fail with kBusy naming
// max_readers, writes still commit, and reads work again once slots free.
// Method: the engine's API cannot hold a read open (each read is its own
// short transaction), so a child process opens the same environment with
// raw LMDB and holds read transactions in every free slot.
TEST_F(LmdbFailureTest, ReadersFullFailsReadsWithBusy) {
  LmdbEngineOptions options = Options();
  options.max_readers = 2;
  auto engine = MustOpen(options);
  ASSERT_NE(engine, nullptr);
  const ObjectKey key{kNs, "cart-1"};
  auto first = PutAndWait(*engine, key, "before");
  ASSERT_TRUE(first.ok()) << first.status().ToString();

  ChildProcess holder({"--hold-readers", dir_.path()});
  auto held = holder.ReadLine();
  ASSERT_TRUE(held.has_value());
  unsigned long long slots = 0;
  ASSERT_EQ(std::sscanf(held->c_str(), "HELD %llu", &slots), 1) << *held;
  EXPECT_GE(slots, 2u);  // LMDB may round the table up to its lock file size

  auto got = engine->Get(key);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kBusy) << got.status().ToString();
  EXPECT_NE(got.status().message().find("max_readers"), std::string::npos)
      << got.status().message();
  auto page = engine->Scan(0, UINT64_MAX, nullptr, 10);
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.status().code(), StatusCode::kBusy);
  EXPECT_EQ(engine->List("n2", 10).status().code(), StatusCode::kBusy);
  // A write transaction takes no reader slot: writes go on.
  auto second = PutAndWait(*engine, key, "during", first->context());
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  std::printf("[readers full] slots held by the child=%llu error: %s\n", slots,
              got.status().ToString().c_str());

  holder.CloseStdin();
  EXPECT_EQ(holder.ReadLine(), std::optional<std::string>("RELEASED"));
  EXPECT_EQ(holder.Wait(), 0);
  auto after = engine->Get(key);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(OnlyValue(*after), "during");
}

// Goal: a full disk fails the batch with a readable kIOError, applies
// nothing of it, and leaves a data dir that opens with every acknowledged
// write. Method: a child writes under RLIMIT_FSIZE (SIGXFSZ ignored, so a
// write past the limit fails like one on a full disk) until a write fails;
// the parent then reopens the dir without the limit. Two limits: on a page
// boundary (LMDB's write starts at the limit: EFBIG) and inside a page (the
// write is cut short, which LMDB reports as EIO; a write that fills a real
// disk is cut short the same way).
class DiskFullTest : public LmdbFailureTest, public ::testing::WithParamInterface<uint64_t> {};

TEST_P(DiskFullTest, FailsWritesWithIOError) {
  const uint64_t limit_bytes = GetParam();
  std::vector<uint64_t> acked;
  std::string fail, retry;
  unsigned long long decided = 0, after = 0;
  bool closed = false;
  {
    ChildProcess writer({"--disk-full-child", dir_.path(), std::to_string(limit_bytes)});
    while (auto line = writer.ReadLine()) {
      unsigned long long i = 0;
      if (std::sscanf(line->c_str(), "ACK %llu", &i) == 1) {
        acked.push_back(i);
      } else if (line->rfind("FAIL ", 0) == 0) {
        fail = line->substr(5);
      } else if (line->rfind("RETRY ", 0) == 0) {
        retry = line->substr(6);
      } else if (std::sscanf(line->c_str(), "DECIDED %llu", &decided) == 1 ||
                 std::sscanf(line->c_str(), "AFTER %llu", &after) == 1) {
      } else if (*line == "CLOSED") {
        closed = true;
      } else {
        ADD_FAILURE() << "disk-full child: " << *line;
      }
    }
    EXPECT_EQ(writer.Wait(), 0);
  }
  EXPECT_TRUE(closed) << "the engine did not close cleanly with the disk full";
  std::printf("[disk full, limit %llu bytes] acked=%zu\n  first failure: %s\n  retry: %s\n",
              static_cast<unsigned long long>(limit_bytes), acked.size(), fail.c_str(),
              retry.c_str());
  ASSERT_FALSE(fail.empty()) << "no write failed under a " << limit_bytes << "-byte file limit";
  const std::string io_error = std::to_string(static_cast<int>(StatusCode::kIOError)) + " ";
  EXPECT_EQ(fail.rfind(io_error, 0), 0u) << fail;
  // Readable: says what may have run out, not just an errno.
  EXPECT_NE(fail.find("file size limit"), std::string::npos) << fail;
  EXPECT_NE(fail.find("not applied"), std::string::npos) << fail;
  EXPECT_EQ(retry.rfind(io_error, 0), 0u) << retry;
  EXPECT_GT(acked.size(), 10u);
  // The failed commits had handed their dots out (a coordinator would have
  // replicated them); the next write's dot is above them all.
  EXPECT_GT(decided, 0u) << "kSync did not hand out the state before its commit";
  EXPECT_GT(after, decided) << "a dot handed out by a failed commit was issued again";

  auto engine = MustOpen(Options());
  ASSERT_NE(engine, nullptr);
  for (uint64_t i : acked) {
    auto got = engine->Get(ObjectKey{kNs, "k" + std::to_string(i)});
    ASSERT_TRUE(got.ok()) << "k" << i << ": " << got.status().ToString();
    ASSERT_EQ(OnlyValue(*got), Value(i, 4000)) << "k" << i;
  }
  // The failed write was not applied, and without the limit writes work.
  const ObjectKey failed_key{kNs, "k" + std::to_string(acked.size())};
  EXPECT_TRUE(engine->Get(failed_key).status().IsNotFound());
  auto r = PutAndWait(*engine, failed_key, "fits now");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

INSTANTIATE_TEST_SUITE_P(Limits, DiskFullTest,
                         ::testing::Values(uint64_t{1} << 20, (uint64_t{1} << 20) + 2000),
                         [](const ::testing::TestParamInfo<uint64_t>& limit) {
                           return limit.param % 4096 == 0 ? std::string("PageAligned")
                                                          : std::string("MidPage");
                         });

// Goal: a data dir from a newer format is refused with kFailedPrecondition
// naming the version, and left untouched. Method: raw LMDB sets
// meta/format_version to 99 (8 bytes big-endian) while the engine is closed.
TEST_F(LmdbFailureTest, NewerFormatVersionIsRefused) {
  {
    auto engine = MustOpen(Options());
    ASSERT_NE(engine, nullptr);
    ASSERT_TRUE(PutAndWait(*engine, ObjectKey{kNs, "cart-1"}, "kept").ok());
  }
  const std::string version_99 = key_layout::EncodeU64Be(99);
  const std::string format_version(key_layout::kMetaFormatVersion);
  {
    RawEnv raw(dir_.path(), 0);
    ASSERT_EQ(raw.rc(), 0) << mdb_strerror(raw.rc());
    ASSERT_EQ(raw.Put("meta", format_version, version_99), 0);
  }
  for (int attempt = 0; attempt < 2; ++attempt) {  // the refusal releases the dir
    auto opened = LmdbEngine::Open(Options());
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.status().code(), StatusCode::kFailedPrecondition)
        << opened.status().ToString();
    EXPECT_NE(opened.status().message().find("99"), std::string::npos) << opened.status().message();
    EXPECT_NE(opened.status().message().find("newer"), std::string::npos)
        << opened.status().message();
    if (attempt == 0) std::printf("[newer format] %s\n", opened.status().ToString().c_str());
  }
  RawEnv raw(dir_.path(), MDB_RDONLY);
  ASSERT_EQ(raw.rc(), 0);
  EXPECT_EQ(raw.Get("meta", format_version), std::optional<std::string>(version_99))
      << "the refusing engine rewrote the format version";
  EXPECT_TRUE(
      raw.Get("objects", key_layout::EncodeObjectKey(ObjectKey{kNs, "cart-1"})).has_value());
}

// Goal: a data dir written by format 1 (an incarnation counter, no actor
// epoch) opens, keeps its objects, hints and floors' meaning, is migrated to
// format 2 (the counter deleted, an actor epoch written) and takes a fresh
// epoch at every later open. Method: a dir written by this build is turned
// back into format 1 with raw LMDB (format_version 1, incarnation 3, no
// actor_epoch, a dot floor), then opened twice.
TEST_F(LmdbFailureTest, FormatOneDirIsMigratedAndTakesAnEpoch) {
  const ObjectKey key{kNs, "cart-1"};
  {
    auto engine = MustOpen(Options());
    ASSERT_NE(engine, nullptr);
    ASSERT_TRUE(PutAndWait(*engine, key, "kept").ok());
    std::promise<Status> added;
    engine->Add(Hint{"n2", key, *engine->Get(key), 5}, [&added](Status s) { added.set_value(s); });
    ASSERT_TRUE(added.get_future().get().ok());
  }
  const std::string format_version(key_layout::kMetaFormatVersion);
  const std::string epoch_key(key_layout::kMetaActorEpoch);
  const std::string incarnation_key(key_layout::kMetaIncarnationV1);
  const std::string floor_prefix(key_layout::kDotFloorPrefix);
  {
    RawEnv raw(dir_.path(), 0);
    ASSERT_EQ(raw.rc(), 0) << mdb_strerror(raw.rc());
    ASSERT_EQ(raw.Put("meta", format_version, key_layout::EncodeU64Be(1)), 0);
    ASSERT_EQ(raw.Put("meta", incarnation_key, key_layout::EncodeU64Be(3)), 0);
    ASSERT_EQ(raw.Delete("meta", epoch_key), 0);
    ASSERT_EQ(raw.CountPrefix("meta", floor_prefix), 1u) << "kActor's floor";
  }
  uint64_t first_epoch = 0;
  {
    auto engine = MustOpen(Options());
    ASSERT_NE(engine, nullptr);
    first_epoch = engine->incarnation();
    EXPECT_NE(first_epoch, 0u);
    EXPECT_EQ(engine->counters().dot_floors_dropped_at_open, 1u);
    auto got = engine->Get(key);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(OnlyValue(*got), "kept");
    auto hints = engine->List("n2", 10);
    ASSERT_TRUE(hints.ok());
    EXPECT_EQ(hints->size(), 1u);
  }
  {
    RawEnv raw(dir_.path(), MDB_RDONLY);
    ASSERT_EQ(raw.rc(), 0);
    EXPECT_EQ(raw.Get("meta", format_version), key_layout::EncodeU64Be(2));
    EXPECT_FALSE(raw.Get("meta", incarnation_key).has_value()) << "the counter outlived format 1";
    EXPECT_EQ(raw.Get("meta", epoch_key), key_layout::EncodeU64Be(first_epoch));
    EXPECT_EQ(raw.CountPrefix("meta", floor_prefix), 0u);
  }
  auto again = MustOpen(Options());
  ASSERT_NE(again, nullptr);
  EXPECT_NE(again->incarnation(), first_epoch) << "a clean restart takes a new epoch too";
}

// Goal: a data dir is open at most once: a second open, from this process
// or another, fails with kFailedPrecondition saying "already open" and
// naming the holder; after the holder closes, opening works.
// Method: two Opens in-process, then a child process's Open, while the
// first engine is alive; then both again after it closes.
TEST_F(LmdbFailureTest, DirAlreadyOpenIsRefused) {
  auto first = MustOpen(Options());
  ASSERT_NE(first, nullptr);
  const std::string holder_pid = "pid " + std::to_string(::getpid());

  auto second = LmdbEngine::Open(Options());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition) << second.status().ToString();
  EXPECT_NE(second.status().message().find("already open"), std::string::npos)
      << second.status().message();
  EXPECT_NE(second.status().message().find(holder_pid), std::string::npos)
      << second.status().message();

  {
    ChildProcess other({"--open-child", dir_.path()});
    auto line = other.ReadLine();
    ASSERT_TRUE(line.has_value());
    const std::string expected_prefix =
        "STATUS " + std::to_string(static_cast<int>(StatusCode::kFailedPrecondition)) + " ";
    EXPECT_EQ(line->rfind(expected_prefix, 0), 0u) << *line;
    EXPECT_NE(line->find("already open"), std::string::npos) << *line;
    EXPECT_NE(line->find(holder_pid), std::string::npos) << *line;
    EXPECT_EQ(other.Wait(), 0);
    std::printf("[already open] other process: %s\n", line->c_str());
  }
  // The refused opens did not disturb the holder.
  ASSERT_TRUE(PutAndWait(*first, ObjectKey{kNs, "cart-1"}, "still mine").ok());
  first.reset();

  {
    ChildProcess other({"--open-child", dir_.path()});
    EXPECT_EQ(other.ReadLine(), std::optional<std::string>("STATUS 0 "));
    EXPECT_EQ(other.Wait(), 0);
  }
  auto again = MustOpen(Options());
  ASSERT_NE(again, nullptr);
  auto got = again->Get(ObjectKey{kNs, "cart-1"});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(OnlyValue(*got), "still mine");
}

// Goal: keys outside the limits (ns 1..64 bytes, key 1..400 bytes) are
// refused with kInvalidArgument through the callback (Put, Merge, hint Add)
// or the result (Get), and the limits themselves are accepted.
// Method: each bad key through each call; then the boundary keys.
TEST_F(LmdbFailureTest, InvalidKeysAreRefusedWithInvalidArgument) {
  auto engine = MustOpen(Options());
  ASSERT_NE(engine, nullptr);
  const std::vector<ObjectKey> bad = {
      {"", "cart-1"}, {std::string(65, 'n'), "cart-1"}, {kNs, ""}, {kNs, std::string(401, 'k')}};
  for (const ObjectKey& key : bad) {
    SCOPED_TRACE("ns of " + std::to_string(key.ns.size()) + " bytes, key of " +
                 std::to_string(key.key.size()) + " bytes");
    auto put = PutAndWait(*engine, key, "v");
    ASSERT_FALSE(put.ok());
    EXPECT_EQ(put.status().code(), StatusCode::kInvalidArgument) << put.status().ToString();
    auto merged = MergeAndWait(*engine, key, SiblingSet());
    ASSERT_FALSE(merged.ok());
    EXPECT_EQ(merged.status().code(), StatusCode::kInvalidArgument);
    std::promise<Status> added;
    engine->Add(Hint{"n2", key, SiblingSet(), 1}, [&added](Status s) { added.set_value(s); });
    EXPECT_EQ(added.get_future().get().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(engine->Get(key).status().code(), StatusCode::kInvalidArgument);
  }
  for (const ObjectKey& key :
       {ObjectKey{std::string(64, 'n'), "k"}, ObjectKey{"n", std::string(400, 'k')}}) {
    auto put = PutAndWait(*engine, key, "at the limit");
    ASSERT_TRUE(put.ok()) << put.status().ToString();
    auto got = engine->Get(key);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(OnlyValue(*got), "at the limit");
  }
}

// Goal: a stored record that does not decode makes reads and writes of that
// key fail with kCorruption naming the key, without a crash, while every
// other key is served. Method: raw LMDB overwrites records in the objects db
// (engine closed) with an empty value, seeded random bytes and a truncated
// valid record; then the engine reads, writes, merges and scans.
TEST_F(LmdbFailureTest, CorruptRecordIsReportedAndContained) {
  const std::vector<std::string> victims = {"empty", "random", "truncated"};
  {
    auto engine = MustOpen(Options());
    ASSERT_NE(engine, nullptr);
    for (const std::string& name : victims) {
      ASSERT_TRUE(PutAndWait(*engine, ObjectKey{kNs, name}, Value(1, 200)).ok());
    }
    ASSERT_TRUE(PutAndWait(*engine, ObjectKey{kNs, "good"}, "fine").ok());
  }
  {
    RawEnv raw(dir_.path(), 0);
    ASSERT_EQ(raw.rc(), 0);
    Random rng(42);
    std::string random_bytes;
    for (int i = 0; i < 300; ++i) random_bytes.push_back(static_cast<char>(rng.Uniform(256)));
    auto valid = raw.Get("objects", key_layout::EncodeObjectKey(ObjectKey{kNs, "truncated"}));
    ASSERT_TRUE(valid.has_value());
    ASSERT_EQ(raw.Put("objects", key_layout::EncodeObjectKey(ObjectKey{kNs, "empty"}), ""), 0);
    ASSERT_EQ(
        raw.Put("objects", key_layout::EncodeObjectKey(ObjectKey{kNs, "random"}), random_bytes), 0);
    ASSERT_EQ(raw.Put("objects", key_layout::EncodeObjectKey(ObjectKey{kNs, "truncated"}),
                      valid->substr(0, valid->size() / 2)),
              0);
  }
  auto engine = MustOpen(Options());
  ASSERT_NE(engine, nullptr);
  for (const std::string& name : victims) {
    SCOPED_TRACE(name);
    const ObjectKey key{kNs, name};
    auto got = engine->Get(key);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), StatusCode::kCorruption) << got.status().ToString();
    EXPECT_NE(got.status().message().find(std::string(kNs) + "/" + name), std::string::npos)
        << got.status().message();
    if (name == "random") std::printf("[corrupt record] %s\n", got.status().ToString().c_str());
    // A coordinated write refuses to build on bytes it cannot read: it
    // cannot know what its context overwrites.
    auto put = PutAndWait(*engine, key, "new");
    ASSERT_FALSE(put.ok());
    EXPECT_EQ(put.status().code(), StatusCode::kCorruption) << put.status().ToString();
    // A merge from another replica (read repair, hint, anti-entropy) heals it.
    SiblingSet replica_state;
    WriteIntent w;
    w.value = "from a healthy replica";
    replica_state.ApplyWrite(w, /*actor=*/77, 0);
    auto merged = MergeAndWait(*engine, key, replica_state);
    ASSERT_TRUE(merged.ok()) << merged.status().ToString();
    auto healed = engine->Get(key);
    ASSERT_TRUE(healed.ok()) << healed.status().ToString();
    EXPECT_EQ(OnlyValue(*healed), "from a healthy replica");
  }
  // Everything else is served: reads, writes, and a scan that skips the bad records.
  auto good = engine->Get(ObjectKey{kNs, "good"});
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(OnlyValue(*good), "fine");
  auto put = PutAndWait(*engine, ObjectKey{kNs, "good"}, "still fine", good->context());
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  ASSERT_TRUE(PutAndWait(*engine, ObjectKey{kNs, "other"}, "new key").ok());
  auto page = engine->Scan(0, UINT64_MAX, nullptr, 100);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  std::vector<std::string> scanned;
  for (const KeyState& e : page->entries) scanned.push_back(e.key.key);
  std::sort(scanned.begin(), scanned.end());
  EXPECT_EQ(scanned, (std::vector<std::string>{"empty", "good", "other", "random", "truncated"}));
}

}  // namespace
}  // namespace trolley

int main(int argc, char** argv) {
  // Child roles: see the functions they call.
  if (argc >= 3 && std::strcmp(argv[1], "--open-child") == 0) {
    return trolley::OpenChildMain(argv[2]);
  }
  if (argc >= 3 && std::strcmp(argv[1], "--hold-readers") == 0) {
    return trolley::HoldReadersMain(argv[2]);
  }
  if (argc >= 4 && std::strcmp(argv[1], "--disk-full-child") == 0) {
    return trolley::DiskFullChildMain(argv[2], std::strtoull(argv[3], nullptr, 0));
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
