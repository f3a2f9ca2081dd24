// LmdbEngine: the Engine and HintStore on LMDB (Symas Lightning MDB).
//
// Layout of a data dir:
//   LOCK      flock()ed while open: a second process (or a second open in
//             this one) gets FailedPrecondition instead of a shared env.
//   data.mdb, lock.mdb   one LMDB environment with three databases:
//     objects  one record per key: the SiblingSet (storage/record_codec);
//              keys start with the key's hash, so every ring partition is
//              a contiguous range;
//     hints    one record per (target, key): created_ms and the SiblingSet;
//     meta     format_version, actor_epoch, clean_shutdown, dot counter floors.
//   The bytes of every key and value header are in storage/key_layout.h.
//
// Threads. Reads run on the caller's thread in their own read transaction.
// All writes go through one writer thread: it takes every queued write,
// applies them in one write transaction and commits once (group commit).
// In kSync the commit fsyncs on the writer thread, so the thread serving
// the network never waits for a disk; writes queued meanwhile form the
// next batch; a put's `decided` callback runs before that fsync (in the
// other modes, just before `done`). In kFlush the commit does not fsync
// (MDB_NOSYNC) and a flusher thread calls mdb_env_sync at least every flush_interval_ms, and
// at once while a Sync() waits for it (its callback runs after that
// fsync). Callbacks run on options.completion_executor (or, without one,
// the writer thread, the flusher thread for a Sync() in kFlush, or the
// caller's for a Sync() that has nothing to wait for).
//
// Failure modes, each a Status and never corruption:
//   map full      the map grows (doubling) up to map_size_max_mb, then
//                 writes fail with kLimitExceeded naming the setting;
//   readers full  reads fail with kBusy naming max_readers;
//   disk full     the batch fails with kIOError ("no space left"); nothing
//                 of it is applied, later batches are tried again;
//   newer format  Open fails with kFailedPrecondition;
//   dir in use    Open fails with kFailedPrecondition naming the holder.
// Caveat (kFlush, kNone): LMDB documents that with MDB_NOSYNC an OS crash
// may, unless the filesystem preserves write order, corrupt the newest
// transactions rather than just lose them. kSync does not have this risk.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/histogram.h"
#include "storage/engine.h"

namespace trolley {

struct LmdbEngineOptions {
  std::string path;  // the data dir; created if missing
  Durability durability = Durability::kSync;
  uint64_t flush_interval_ms = 50;  // kFlush: the most an OS crash can lose
  uint64_t map_size_mb = 1024;      // initial LMDB map size
  uint64_t map_size_max_mb = 64 * 1024;
  unsigned max_readers = 126;
  size_t batch_ops_max = 2048;  // writes per commit at most
  size_t siblings_warn = 25;    // log a warning above this (Riak's default)
  size_t siblings_max = 100;    // refuse coordinated writes above this
  size_t object_bytes_warn = 1 << 20;
  size_t object_bytes_max = 5 << 20;
  Clock* clock = nullptr;  // required: TTL and tombstone ages
  // Runs write callbacks; e.g. post onto the node's io_context. Empty: the
  // writer thread runs them (they must then be quick and thread-safe).
  std::function<void(std::function<void()>)> completion_executor;
};

class LmdbEngine final : public Engine, public HintStore {
 public:
  using DoneCallback = Engine::DoneCallback;  // the same type in both bases
  // Opens (creating if needed) the data dir. Errors name the path and fix.
  static Result<std::unique_ptr<LmdbEngine>> Open(LmdbEngineOptions options);
  // Drains queued writes, fsyncs, marks a clean shutdown and closes.
  ~LmdbEngine() override;

  LmdbEngine(const LmdbEngine&) = delete;
  LmdbEngine& operator=(const LmdbEngine&) = delete;

  // Engine
  Result<SiblingSet> Get(const ObjectKey& key) override;
  using Engine::Put;
  void Put(ObjectKey key, WriteIntent intent, ActorId actor, StateCallback decided,
           StateCallback done) override;
  void Merge(ObjectKey key, SiblingSet remote, StateCallback done) override;
  Result<ScanPage> Scan(uint64_t first_hash, uint64_t last_hash, const ObjectKey* resume_after,
                        size_t limit) override;
  using Engine::Sweep;
  void Sweep(uint64_t tombstone_grace_ms, TombstoneCutoff cutoff, SweepCallback done) override;
  std::vector<uint64_t> AaeSegments(uint32_t first, uint32_t count) override;
  std::vector<uint64_t> AaeBranches(uint32_t first, uint32_t count) override;
  Result<std::vector<AaeKeyVersion>> AaeSegmentKeys(uint32_t segment) override;
  AaeTreeStats AaeStats() override;
  HintStore& hints() override { return *this; }
  void Sync(std::string_view ns, DoneCallback done) override;
  void Cork() override;
  void Uncork() override;
  // The actor epoch: random, nonzero, new at every Open (clean restart
  // or not), on disk before Open returns.
  uint64_t incarnation() const override;

  // HintStore
  void Add(Hint hint, DoneCallback done) override;
  Result<std::vector<Hint>> List(std::string_view target, size_t limit) override;
  Result<std::vector<std::string>> Targets() override;
  void RemoveDelivered(std::string target, ObjectKey key, SiblingSet delivered,
                       DoneCallback done) override;
  void Drop(std::string target, ObjectKey key, DoneCallback done) override;
  Result<HintStats> Stats() override;

  // Blocks until every write submitted so far is durable (fsynced, even in
  // kFlush and kNone). For tests, tools and shutdown.
  Status SyncNow();

  struct Counters {
    uint64_t commits = 0;
    uint64_t ops_committed = 0;
    uint64_t fsyncs = 0;
    uint64_t map_resizes = 0;
    // Of map_resizes: a kSync batch whose states had already gone to their
    // `decided` callbacks ran out of map after that (writing the dot floors,
    // or committing) and was retried, issuing the same dots again.
    uint64_t map_resizes_after_decided = 0;
    // Floor rows of earlier epochs this Open deleted (each open starts with none).
    uint64_t dot_floors_dropped_at_open = 0;
  };
  Counters counters() const;

  // For the metrics endpoint; any thread, a consistent copy of each part.
  struct MetricsSnapshot {
    Counters counters;
    LatencyHistogram commit_batch_ops;  // ops (writes, barriers, ...) per committed batch
    // Each fsync of this environment: in kSync a commit's (its
    // mdb_txn_commit), in kFlush the flusher's and SyncNow's mdb_env_sync.
    LatencyHistogram fsync_us;
    uint64_t map_bytes = 0;       // the map's current size
    uint64_t map_used_bytes = 0;  // pages in use (last page number + 1) times the page size
  };
  MetricsSnapshot Snapshot() const;

  // A hot, consistent copy of the environment into `dir` (created; it must
  // not exist or be empty): mdb_env_copy2 with MDB_CP_COMPACT, so free pages
  // are left out. It runs one read transaction: writes go on meanwhile and
  // the copy holds exactly what was committed when it began. The copy's
  // clean_shutdown mark is whatever it was then; the actor epoch in it is
  // replaced at its first open like any other (docs/operations.md, 'Backup
  // and restore'). Blocking: call it off the event loop. Thread-safe.
  Status CopyCompacted(const std::string& dir) const;

  class Impl;

 private:
  explicit LmdbEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace trolley
