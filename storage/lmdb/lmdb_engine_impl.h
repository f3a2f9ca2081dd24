// LmdbEngine::Impl: the state and steps behind LmdbEngine (lmdb_engine.h).
// Private to storage/lmdb/; split by role into
//   lmdb_engine.cc    open (lock file, environment, meta), shutdown, the
//                     public forwarding;
//   lmdb_writer.cc    the writer thread: queue, batches, applying ops,
//                     callbacks, map growth, sweeps;
//   lmdb_reads.cc     reads on the caller's thread: Get, Scan, hints;
//   lmdb_flusher.cc   kFlush's flusher thread, Sync() and SyncNow();
//   lmdb_aae.cc       the anti-entropy index and tree: kept in the write
//                     transaction of every object, loaded at open, read
//                     by AaeSegments/AaeBranches/AaeSegmentKeys.
// Key and value bytes follow storage/key_layout.h.
//
// Threads and what each owns:
//   writer thread   dot_floors_, issued_floors_, map_mb_ (GrowMap), the
//                   write transaction;
//   mu_             queue_, sweeps_, stopping_, corks_;
//   tree_mu_        tree_ (written by the writer thread after each commit
//                   with that commit's deltas, so it holds committed state);
//   flush_mu_       durable_waiters_, flush_stop_;
//   resize_mu_      shared by every read transaction, exclusive for a map
//                   resize;
//   atomics         committed_seq_, synced_seq_ and the counters.
// Invariants (asserted where they change):
//   1. A batch holds 1 to batch_ops_max ops.
//   2. Committed dot floors never go backwards, and a commit covers every
//      floor issued by a `decided` callback before it.
//   3. synced_seq_ <= committed_seq_; a Sync() waiter waits for a commit
//      not yet synced when it queues.
//   4. corks_ >= 0.
//   5. tree_ is the XOR of KeyContribution over the aae_index entries
//      (rebuilt from them at open; moved only by committed deltas).
#pragma once

#include <lmdb.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/assert.h"
#include "storage/aae_tree.h"
#include "storage/engine_op.h"
#include "storage/lmdb/lmdb_engine.h"

namespace trolley {

std::string LmdbError(int rc);
inline MDB_val Val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline std::string_view View(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}
// Maps an LMDB return code from a write path to a Status a person can act on.
Status WriteError(int rc, const std::string& path, uint64_t map_mb, uint64_t map_max_mb);

// A stored hint from its raw key and value (storage/key_layout.h);
// Corruption if either does not decode.
Result<Hint> DecodeHint(std::string_view raw_key, std::string_view raw_value);

// A queued write (exactly one callback set), plus how its callback runs.
struct Op : EngineOp {
  Op() = default;
  explicit Op(EngineOp op) : EngineOp(std::move(op)) {}
  bool complete_inline = false;  // run the callback on the writer thread
};

// RAII cursor over one database; closed with the object.
class LmdbCursor {
 public:
  LmdbCursor(MDB_txn* txn, MDB_dbi dbi) : rc_(mdb_cursor_open(txn, dbi, &cursor_)) {
    if (rc_ != 0) cursor_ = nullptr;
  }
  ~LmdbCursor() {
    if (cursor_ != nullptr) mdb_cursor_close(cursor_);
  }
  LmdbCursor(const LmdbCursor&) = delete;
  LmdbCursor& operator=(const LmdbCursor&) = delete;
  int rc() const { return rc_; }
  MDB_cursor* get() const { return cursor_; }

 private:
  MDB_cursor* cursor_ = nullptr;
  int rc_ = 0;
};

class LmdbEngine::Impl {
 public:
  explicit Impl(LmdbEngineOptions options) : options_(std::move(options)) {}
  ~Impl() { Shutdown(); }

  Status Open();
  void Shutdown();

  // lmdb_reads.cc
  Result<SiblingSet> Get(const ObjectKey& key);
  Result<ScanPage> Scan(uint64_t first_hash, uint64_t last_hash, const ObjectKey* resume_after,
                        size_t limit);
  Result<std::vector<Hint>> ListHints(std::string_view target, size_t limit);
  Result<std::vector<std::string>> HintTargets();
  Result<HintStats> HintStatsNow();

  // lmdb_writer.cc
  void Submit(Op op);
  void SubmitSweep(uint64_t grace_ms, TombstoneCutoff cutoff, SweepCallback done);
  void Cork();
  void Uncork();

  // lmdb_flusher.cc
  Status SyncNow();
  // Engine::Sync. kFlush: waits for the flusher, which it wakes.
  void Sync(Engine::DoneCallback done);

  // lmdb_aae.cc
  std::vector<uint64_t> AaeSegments(uint32_t first, uint32_t count);
  std::vector<uint64_t> AaeBranches(uint32_t first, uint32_t count);
  Result<std::vector<AaeKeyVersion>> AaeSegmentKeys(uint32_t segment);
  AaeTreeStats AaeStats() const;

  uint64_t epoch() const { return epoch_; }
  Counters counters() const;
  // lmdb_engine.cc: LmdbEngine::Snapshot and CopyCompacted.
  MetricsSnapshot Snapshot();
  Status CopyCompacted(const std::string& dir);
  // Records one fsync's duration (writer and flusher threads).
  void RecordFsync(uint64_t start_ns);

 private:
  // RAII read transaction; holds the resize lock shared.
  class ReadTxn {
   public:
    explicit ReadTxn(Impl& impl);
    ~ReadTxn() {
      if (txn_) mdb_txn_abort(txn_);
    }
    Status status(const Impl& impl) const;
    MDB_txn* get() const { return txn_; }

   private:
    std::shared_lock<std::shared_mutex> lock_;
    MDB_txn* txn_ = nullptr;
    int rc_ = 0;
  };

  // A read transaction with a cursor over one database. `what` names the
  // read in the error ("cannot <what>: ...").
  class ReadCursor {
   public:
    ReadCursor(Impl& impl, MDB_dbi dbi, std::string_view what);
    Status status() const { return status_; }
    MDB_cursor* get() const { return cursor_->get(); }

   private:
    ReadTxn txn_;
    std::optional<LmdbCursor> cursor_;
    Status status_;
  };

  struct SweepJob {
    uint64_t grace_ms = 0;
    TombstoneCutoff cutoff;  // may be empty
    SweepCallback done;
    std::string cursor;  // raw key to resume after; empty = from the start
    SweepReport report;
  };

  // What one sweep chunk saw, and where it stopped.
  struct SweepChunk {
    SweepReport report;
    std::string last;       // the last raw key scanned
    bool finished = false;  // reached the end of the objects
  };

  // ---- lmdb_engine.cc: open and close ----
  Status AcquireLock();
  Status OpenEnvironment();
  Status InitMeta();
  // In InitMeta's transaction: checks or writes the format version,
  // migrating a format 1 dir.
  Status InitFormat(MDB_txn* txn);
  // In InitMeta's transaction: takes this open's random actor epoch and
  // drops the dot floors of earlier epochs.
  Status TakeActorEpoch(MDB_txn* txn);
  int DropDotFloors(MDB_txn* txn);
  bool GetMetaU64(MDB_txn* txn, std::string_view name, uint64_t* out);
  int PutMetaU64(MDB_txn* txn, std::string_view name, uint64_t value);
  // Commits the clean mark (informational: logged by the next open).
  void MarkCleanShutdown();
  void StopThreads();

  // ---- lmdb_aae.cc ----
  // In InitMeta's transaction: builds aae_index from the objects unless
  // the meta mark says it is complete, then loads tree_ from it.
  Status InitAaeIndex(MDB_txn* txn);
  int BuildAaeIndex(MDB_txn* txn, uint64_t* keys);
  int LoadAaeTree(MDB_txn* txn);
  // In a write transaction: sets raw_key's index entry to `version`
  // (removing it at 0) and queues the tree delta for the commit.
  int SetIndexedVersion(MDB_txn* txn, const std::string& raw_key, uint64_t version);
  int IndexedVersion(MDB_txn* txn, std::string_view raw_key, uint64_t* version);
  // Sweep's verification of one stored object: its index entry must be
  // its version as written or as live at `now`; anything else is fixed.
  int VerifyIndexed(MDB_txn* txn, std::string_view raw_key, const SiblingSet& state, uint64_t now,
                    SweepReport* report);
  // After a commit: the queued deltas into tree_. After an abort: dropped.
  void ApplyTreeDeltas();

  // ---- lmdb_writer.cc ----
  void WriterLoop();
  // Under mu_: moves up to batch_ops_max queued ops into `batch`, or
  // takes the next sweep chunk when nothing is queued.
  void TakeWork(std::vector<Op>& batch, std::optional<SweepJob>& sweep);
  void FailPendingSweeps();
  void RunBatch(std::vector<Op>& batch);
  // The floors a batch starts from: above every dot handed out, committed or not.
  std::map<ActorId, uint64_t> BatchStartFloors() const;
  // One attempt at the batch in one write transaction; returns its rc.
  int TryBatch(std::vector<Op>& batch, const std::map<ActorId, uint64_t>& start_floors,
               bool* decided_out);
  int PutRaisedFloors(MDB_txn* txn, const std::map<ActorId, uint64_t>& floors);
  void BatchCommitted(size_t ops, std::map<ActorId, uint64_t> floors);
  // Hands each applied put's state to its `decided` callback (once, even
  // if the batch is retried) and records the floors those dots need.
  void DeliverDecided(std::vector<Op>& batch, const std::map<ActorId, uint64_t>& floors);
  int PutFloor(MDB_txn* txn, ActorId actor, uint64_t floor);
  // The call of op's `decided` callback with its state; leaves it unset.
  static std::function<void()> TakeDecided(Op& op);
  // Applies one op inside `txn`. Per-op failures go into op.status; an
  // LMDB failure that dooms the transaction is returned as its rc.
  int ApplyOp(MDB_txn* txn, Op& op, std::map<ActorId, uint64_t>& floors);
  int ApplyObjectOp(MDB_txn* txn, Op& op, std::map<ActorId, uint64_t>& floors, uint64_t now);
  // The stored state of `raw_key` for op, or (rc 0, op.status set) none to apply to.
  int ReadStateFor(MDB_txn* txn, const std::string& raw_key, Op& op, SiblingSet* state,
                   bool* refused);
  // Put or merge `op` into `state`; false if the put was refused (op.status).
  bool UpdateState(Op& op, SiblingSet& state, std::map<ActorId, uint64_t>& floors, uint64_t now);
  void WarnOnThresholds(const Op& op, const SiblingSet& state, size_t siblings_before,
                        size_t bytes_before) const;
  int ApplyHintOp(MDB_txn* txn, Op& op);
  int ReadState(MDB_txn* txn, const std::string& raw_key, SiblingSet* state, Status* decode);
  // Removes the object and its index entry.
  int DeleteObject(MDB_txn* txn, const std::string& raw_key);
  int WriteState(MDB_txn* txn, const std::string& raw_key, const SiblingSet& state);
  void RunSweepChunk(SweepJob& job);
  // Scans (and deletes from) up to kSweepChunkKeys objects after the job's cursor.
  int SweepScan(MDB_txn* txn, const SweepJob& job, uint64_t now, uint64_t cutoff,
                SweepChunk* chunk);
  void SweepChunkCommitted(SweepJob& job, const SweepChunk& chunk);
  int GrowMap();
  void Complete(Op& op);
  std::function<void()> Completion(Op& op);  // empty if the op has no callback
  void CompleteBatch(std::vector<Op>& batch);
  void Deliver(std::function<void()> fn);
  uint64_t NowMs() { return options_.clock->NowWallMs(); }

  // ---- lmdb_flusher.cc ----
  void FlusherLoop();
  // flush_mu_ held via `lk` (released during the fsync): fsyncs if anything
  // was committed since the last one. Its status.
  Status FlushOnce(std::unique_lock<std::mutex>& lk, uint64_t committed);
  // Raises synced_seq_ to `seq` unless something raised it further.
  void MarkSynced(uint64_t seq);
  // kFlush, flush_mu_ held: takes the Sync() callbacks waiting for commits
  // up to `seq` (run them with DeliverDurable once the lock is released).
  std::vector<Engine::DoneCallback> TakeDurableWaiters(uint64_t seq);
  void DeliverDurable(std::vector<Engine::DoneCallback> done, const Status& s);

  LmdbEngineOptions options_;
  int lock_fd_ = -1;
  MDB_env* env_ = nullptr;
  MDB_dbi objects_ = 0, hints_ = 0, meta_ = 0, aae_index_ = 0;
  // Writer thread only: (key hash, contribution delta) of the transaction
  // being built; into tree_ on commit, dropped on abort.
  std::vector<std::pair<uint64_t, uint64_t>> tree_deltas_;
  mutable std::mutex tree_mu_;
  AaeTree tree_;
  std::atomic<uint64_t> aae_rebuilt_keys_{0}, aae_verify_fixed_{0};
  uint64_t epoch_ = 0;               // this open's actor epoch; set before the writer starts
  uint64_t dot_floors_dropped_ = 0;  // by this open; set before the writer starts
  uint64_t map_mb_ = 0;
  std::map<ActorId, uint64_t> dot_floors_;  // writer thread only: committed floors
  // Writer thread only: floors of dots handed out by a `decided` callback
  // whose commit then failed. The next batch starts above them and commits
  // them, so such a dot (maybe on other replicas) is never issued again.
  std::map<ActorId, uint64_t> issued_floors_;

  std::shared_mutex resize_mu_;  // readers shared; map resize exclusive

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Op> queue_;
  std::deque<SweepJob> sweeps_;
  bool stopping_ = false;
  int corks_ = 0;  // while > 0 the writer leaves queued writes alone
  std::thread writer_;

  std::mutex flush_mu_;
  std::condition_variable flush_cv_;
  bool flush_stop_ = false;
  std::thread flusher_;
  std::atomic<uint64_t> committed_seq_{0};
  std::atomic<uint64_t> synced_seq_{0};
  // kFlush: Sync() callbacks by the last commit they wait for; while there
  // is one the flusher does not sleep (under flush_mu_).
  std::multimap<uint64_t, Engine::DoneCallback> durable_waiters_;

  std::atomic<uint64_t> commits_{0}, ops_committed_{0}, fsyncs_{0}, map_resizes_{0},
      map_resizes_after_decided_{0};
  // Distributions for Snapshot(): the writer and the flusher record, the
  // metrics endpoint copies.
  mutable std::mutex histograms_mu_;
  LatencyHistogram commit_batch_ops_;  // under histograms_mu_
  LatencyHistogram fsync_us_;          // under histograms_mu_
};

}  // namespace trolley
