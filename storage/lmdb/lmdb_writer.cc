// LmdbEngine's writer thread: the queue, group-committed batches, applying
// each op, completion callbacks, map growth and sweeps (lmdb_engine_impl.h).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "common/assert.h"
#include "storage/key_layout.h"
#include "storage/lmdb/lmdb_engine_impl.h"
#include "storage/record_codec.h"

namespace trolley {
namespace {

constexpr size_t kSweepChunkKeys = 1000;

std::string EncodeHintValue(uint64_t created_ms, const SiblingSet& state) {
  return key_layout::EncodeHintValueHeader(created_ms) + EncodeSiblingSet(state);
}

bool IsObjectOp(const Op& op) {
  return op.kind == Op::Kind::kPut || op.kind == Op::Kind::kMerge || op.kind == Op::Kind::kExpire;
}

}  // namespace

// ---- the queue ----

void LmdbEngine::Impl::Cork() {
  std::lock_guard lk(mu_);
  ++corks_;
}

void LmdbEngine::Impl::Uncork() {
  {
    std::lock_guard lk(mu_);
    TROLLEY_ASSERT(corks_ > 0);
    --corks_;
  }
  cv_.notify_one();
}

void LmdbEngine::Impl::Submit(Op op) {
  if (!op.status.ok()) {  // refused before queueing (invalid key)
    Complete(op);
    return;
  }
  {
    std::lock_guard lk(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(op));
      if (corks_ == 0 || queue_.size() >= options_.batch_ops_max) cv_.notify_one();
      return;
    }
  }
  op.status = Status::Unavailable("storage engine is shutting down");
  Complete(op);
}

void LmdbEngine::Impl::SubmitSweep(uint64_t grace_ms, TombstoneCutoff cutoff, SweepCallback done) {
  std::lock_guard lk(mu_);
  sweeps_.push_back(SweepJob{grace_ms, std::move(cutoff), std::move(done), {}, {}});
  cv_.notify_one();
}

void LmdbEngine::Impl::WriterLoop() {
  std::vector<Op> batch;
  for (;;) {
    std::optional<SweepJob> sweep;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] {
        return stopping_ ||
               (!queue_.empty() && (corks_ == 0 || queue_.size() >= options_.batch_ops_max)) ||
               (queue_.empty() && !sweeps_.empty());
      });
      if (stopping_ && queue_.empty()) break;
      TakeWork(batch, sweep);
    }
    if (!batch.empty()) {
      RunBatch(batch);
      batch.clear();
    }
    if (sweep) {
      RunSweepChunk(*sweep);
      if (sweep->done) {  // not finished: back in line
        std::lock_guard lk(mu_);
        sweeps_.push_front(std::move(*sweep));
      }
    }
  }
  FailPendingSweeps();
}

void LmdbEngine::Impl::TakeWork(std::vector<Op>& batch, std::optional<SweepJob>& sweep) {
  TROLLEY_ASSERT(batch.empty());
  TROLLEY_ASSERT(corks_ >= 0);
  while (!queue_.empty() && batch.size() < options_.batch_ops_max) {
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  TROLLEY_ASSERT(batch.size() <= options_.batch_ops_max);
  // A sweep runs one chunk at a time between batches, so it never holds
  // up writes for long.
  if (batch.empty() && !sweeps_.empty()) {
    sweep = std::move(sweeps_.front());
    sweeps_.pop_front();
  }
}

void LmdbEngine::Impl::FailPendingSweeps() {
  std::lock_guard lk(mu_);
  TROLLEY_ASSERT(stopping_ && queue_.empty());
  for (SweepJob& job : sweeps_) {
    Deliver([cb = std::move(job.done)]() mutable {
      cb(Status::Unavailable("storage engine shut down before the sweep finished"));
    });
  }
  sweeps_.clear();
}

// ---- batches ----

int LmdbEngine::Impl::GrowMap() {
  const uint64_t next = std::min(map_mb_ * 2, options_.map_size_max_mb);
  if (next <= map_mb_) return MDB_MAP_FULL;
  std::unique_lock lk(resize_mu_);  // no read transaction may be open
  const int rc = mdb_env_set_mapsize(env_, next << 20);
  if (rc != 0) return rc;
  spdlog::info("storage.map_resized path={} from_mb={} to_mb={}", options_.path, map_mb_, next);
  map_mb_ = next;
  ++map_resizes_;
  return 0;
}

std::map<ActorId, uint64_t> LmdbEngine::Impl::BatchStartFloors() const {
  std::map<ActorId, uint64_t> floors = dot_floors_;
  for (const auto& [actor, issued] : issued_floors_) {
    uint64_t& floor = floors[actor];
    floor = std::max(floor, issued);
  }
  return floors;
}

void LmdbEngine::Impl::RunBatch(std::vector<Op>& batch) {
  TROLLEY_ASSERT(!batch.empty());
  TROLLEY_ASSERT(batch.size() <= options_.batch_ops_max);
  // Above every dot handed out, committed or not. A retry (after a map
  // resize) starts from the same floors, so it issues the same dots as the
  // attempt whose states `decided` may already have handed out.
  const std::map<ActorId, uint64_t> start_floors = BatchStartFloors();
  int rc = 0;
  for (;;) {
    bool decided_out = false;
    rc = TryBatch(batch, start_floors, &decided_out);
    if (rc == MDB_MAP_FULL && GrowMap() == 0) {
      if (decided_out) ++map_resizes_after_decided_;
      continue;
    }
    break;
  }
  if (rc != 0) {
    const Status failed = WriteError(rc, options_.path, map_mb_, options_.map_size_max_mb);
    spdlog::error("storage.commit_failed path={} ops={} error={}", options_.path, batch.size(),
                  failed.ToString());
    for (Op& op : batch) op.status = failed;
  }
  CompleteBatch(batch);
}

int LmdbEngine::Impl::TryBatch(std::vector<Op>& batch,
                               const std::map<ActorId, uint64_t>& start_floors, bool* decided_out) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc != 0) return rc;
  tree_deltas_.clear();  // a retry after a map resize starts over
  std::map<ActorId, uint64_t> floors = start_floors;
  for (Op& op : batch) {
    op.status = Status::Ok();  // a retry after a map resize starts over
    rc = ApplyOp(txn, op, floors);
    if (rc != 0) break;
  }
  // In kSync the commit's fsync is the slow part: the puts' states go out
  // before it, so that replication overlaps it. Otherwise the commit is
  // quick and `decided` runs just before `done`, in the same wake-up.
  *decided_out = rc == 0 && options_.durability == Durability::kSync;
  if (*decided_out) DeliverDecided(batch, floors);
  if (rc == 0) rc = PutRaisedFloors(txn, floors);
  if (rc != 0) {
    mdb_txn_abort(txn);
    tree_deltas_.clear();
    return rc;
  }
  const uint64_t commit_start_ns = options_.clock->NowMonotonicNs();
  rc = mdb_txn_commit(txn);  // in kSync this fsyncs, on this thread
  if (rc == 0 && options_.durability == Durability::kSync) RecordFsync(commit_start_ns);
  if (rc == 0) {
    ApplyTreeDeltas();
    BatchCommitted(batch.size(), std::move(floors));
  }
  tree_deltas_.clear();
  return rc;
}

// Persists the dot counter floors this batch raised.
int LmdbEngine::Impl::PutRaisedFloors(MDB_txn* txn, const std::map<ActorId, uint64_t>& floors) {
  for (const auto& [actor, floor] : floors) {
    auto it = dot_floors_.find(actor);
    if (it != dot_floors_.end() && it->second == floor) continue;
    if (const int rc = PutFloor(txn, actor, floor); rc != 0) return rc;
  }
  return 0;
}

void LmdbEngine::Impl::BatchCommitted(size_t ops, std::map<ActorId, uint64_t> floors) {
  // Committed floors never go backwards, and cover every dot handed out.
  for (const auto& [actor, floor] : dot_floors_) {
    TROLLEY_ASSERT(floors.contains(actor));
    TROLLEY_ASSERT(floors.at(actor) >= floor);
  }
  for (const auto& [actor, issued] : issued_floors_) {
    TROLLEY_ASSERT(floors.contains(actor));
    TROLLEY_ASSERT(floors.at(actor) >= issued);
  }
  dot_floors_ = std::move(floors);
  issued_floors_.clear();
  ++commits_;
  ops_committed_ += ops;
  {
    std::lock_guard lk(histograms_mu_);
    commit_batch_ops_.Record(ops);
  }
  if (options_.durability == Durability::kSync) ++fsyncs_;
  committed_seq_.fetch_add(1);
}

std::function<void()> LmdbEngine::Impl::TakeDecided(Op& op) {
  std::function<void()> fn = [cb = std::move(op.decided), state = op.result]() mutable {
    cb(std::move(state));
  };
  op.decided = nullptr;
  return fn;
}

int LmdbEngine::Impl::PutFloor(MDB_txn* txn, ActorId actor, uint64_t floor) {
  const std::string name = key_layout::DotFloorKey(actor);
  const std::string bytes = key_layout::EncodeU64Be(floor);
  MDB_val k = Val(name), v = Val(bytes);
  return mdb_put(txn, meta_, &k, &v, 0);
}

void LmdbEngine::Impl::DeliverDecided(std::vector<Op>& batch,
                                      const std::map<ActorId, uint64_t>& floors) {
  std::vector<std::function<void()>> fns;
  for (Op& op : batch) {
    if (!op.decided || !op.status.ok()) continue;
    TROLLEY_ASSERT(op.kind == Op::Kind::kPut);
    fns.push_back(TakeDecided(op));
    uint64_t& issued = issued_floors_[op.actor];
    issued = std::max(issued, floors.at(op.actor));
  }
  if (fns.empty()) return;
  Deliver([fns = std::move(fns)]() mutable {
    for (auto& fn : fns) fn();
  });
}

// ---- applying one op ----

int LmdbEngine::Impl::ReadState(MDB_txn* txn, const std::string& raw_key, SiblingSet* state,
                                Status* decode) {
  MDB_val k = Val(raw_key), v;
  const int rc = mdb_get(txn, objects_, &k, &v);
  if (rc == MDB_NOTFOUND) {
    *state = SiblingSet();
    return 0;
  }
  if (rc != 0) return rc;
  auto decoded = DecodeSiblingSet(View(v));
  if (!decoded.ok()) {
    *decode = decoded.status();
    return 0;
  }
  *state = std::move(decoded).value();
  return 0;
}

int LmdbEngine::Impl::WriteState(MDB_txn* txn, const std::string& raw_key,
                                 const SiblingSet& state) {
  const std::string bytes = EncodeSiblingSet(state);
  MDB_val k = Val(raw_key), v = Val(bytes);
  return mdb_put(txn, objects_, &k, &v, 0);
}

int LmdbEngine::Impl::DeleteObject(MDB_txn* txn, const std::string& raw_key) {
  MDB_val k = Val(raw_key);
  const int rc = mdb_del(txn, objects_, &k, nullptr);
  if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  return SetIndexedVersion(txn, raw_key, 0);
}

int LmdbEngine::Impl::ApplyOp(MDB_txn* txn, Op& op, std::map<ActorId, uint64_t>& floors) {
  if (op.kind == Op::Kind::kBarrier) return 0;
  if (IsObjectOp(op)) return ApplyObjectOp(txn, op, floors, NowMs());
  return ApplyHintOp(txn, op);
}

int LmdbEngine::Impl::ReadStateFor(MDB_txn* txn, const std::string& raw_key, Op& op,
                                   SiblingSet* state, bool* refused) {
  Status decode;
  if (int rc = ReadState(txn, raw_key, state, &decode); rc != 0) return rc;
  *refused = false;
  if (decode.ok()) return 0;
  if (op.kind == Op::Kind::kMerge) {
    // Another replica's state replaces what we cannot read: that is how
    // read repair and hints heal a damaged record.
    spdlog::error("storage.corrupt_record_replaced key={}/{} error={}", op.key.ns, op.key.key,
                  decode.message());
    *state = SiblingSet();
    return 0;
  }
  op.status =
      Status::Corruption("stored state of " + op.key.ns + "/" + op.key.key + " does not decode (" +
                         decode.message() + "); a merge from another replica will replace it");
  *refused = true;
  return 0;
}

int LmdbEngine::Impl::ApplyObjectOp(MDB_txn* txn, Op& op, std::map<ActorId, uint64_t>& floors,
                                    uint64_t now) {
  const std::string raw_key = key_layout::EncodeObjectKey(op.key);
  SiblingSet state;
  bool refused = false;
  if (int rc = ReadStateFor(txn, raw_key, op, &state, &refused); rc != 0 || refused) return rc;
  if (op.kind == Op::Kind::kExpire) {
    if (!state.FullyExpiredAt(now)) return 0;  // written again since the read
    return DeleteObject(txn, raw_key);
  }
  state.DropExpiredAt(now);
  const size_t siblings_before = state.size();
  const size_t bytes_before = state.ValueBytes();
  if (!UpdateState(op, state, floors, now)) return 0;
  WarnOnThresholds(op, state, siblings_before, bytes_before);
  // A merge can leave no sibling (everything expired, e.g. anti-entropy's
  // rehash of an expired key): the key is removed, as kExpire does.
  int rc = state.empty() ? DeleteObject(txn, raw_key) : WriteState(txn, raw_key, state);
  if (rc == 0 && !state.empty()) rc = SetIndexedVersion(txn, raw_key, VersionHash(state, now));
  if (rc != 0) return rc;
  op.result = std::move(state);
  return 0;
}

bool LmdbEngine::Impl::UpdateState(Op& op, SiblingSet& state, std::map<ActorId, uint64_t>& floors,
                                   uint64_t now) {
  if (op.kind != Op::Kind::kPut) {
    TROLLEY_ASSERT(op.kind == Op::Kind::kMerge);
    ApplyMerge(state, op.state, now);
    return true;
  }
  // `state` is this op's own copy: a refused write is simply not stored.
  uint64_t& floor = floors[op.actor];
  const Result<WriteOutcome> out =
      ApplyPut(state, op, floor, {options_.siblings_max, options_.object_bytes_max}, now);
  if (!out.ok()) {
    op.status = out.status();
    return false;
  }
  floor = std::max(floor, out->dot.counter);
  return true;
}

// Warns when a threshold is crossed, not on every write above it.
void LmdbEngine::Impl::WarnOnThresholds(const Op& op, const SiblingSet& state,
                                        size_t siblings_before, size_t bytes_before) const {
  if (state.size() > options_.siblings_warn && siblings_before <= options_.siblings_warn) {
    spdlog::warn("storage.many_siblings key={}/{} siblings={} warn_at={} max={}", op.key.ns,
                 op.key.key, state.size(), options_.siblings_warn, options_.siblings_max);
  }
  if (state.ValueBytes() > options_.object_bytes_warn &&
      bytes_before <= options_.object_bytes_warn) {
    spdlog::warn("storage.large_object key={}/{} bytes={} warn_at={}", op.key.ns, op.key.key,
                 state.ValueBytes(), options_.object_bytes_warn);
  }
}

int LmdbEngine::Impl::ApplyHintOp(MDB_txn* txn, Op& op) {
  const std::string raw_key = key_layout::EncodeHintKey(op.target, op.key);
  MDB_val k = Val(raw_key), v;
  int rc = mdb_get(txn, hints_, &k, &v);
  if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  std::optional<Hint> existing;
  if (rc == 0) {
    auto decoded = DecodeHint(raw_key, View(v));
    if (decoded.ok()) existing = std::move(decoded).value();
    // An undecodable hint is replaced (add) or removed (remove, drop).
  }
  if (op.kind == Op::Kind::kHintAdd) {
    uint64_t created = op.created_ms;
    SiblingSet merged = op.state;
    if (existing) {
      merged.Merge(existing->state);
      created = std::min(created, existing->created_ms);
    }
    const std::string bytes = EncodeHintValue(created, merged);
    MDB_val value = Val(bytes);
    return mdb_put(txn, hints_, &k, &value, 0);
  }
  if (rc == MDB_NOTFOUND) return 0;
  if (op.kind == Op::Kind::kHintRemoveDelivered && existing && !op.state.Covers(existing->state)) {
    return 0;  // more was hinted after this delivery started
  }
  rc = mdb_del(txn, hints_, &k, nullptr);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

// ---- callbacks ----

void LmdbEngine::Impl::Deliver(std::function<void()> fn) {
  if (options_.completion_executor) {
    options_.completion_executor(std::move(fn));
  } else {
    fn();
  }
}

std::function<void()> LmdbEngine::Impl::Completion(Op& op) {
  TROLLEY_ASSERT(!(op.state_done && op.done));  // exactly one callback at most
  if (op.state_done) {
    Result<SiblingSet> r =
        op.status.ok() ? Result<SiblingSet>(std::move(op.result)) : Result<SiblingSet>(op.status);
    return [cb = std::move(op.state_done), r = std::move(r)]() mutable { cb(std::move(r)); };
  }
  if (op.done) return [cb = std::move(op.done), s = op.status]() mutable { cb(s); };
  return {};
}

void LmdbEngine::Impl::Complete(Op& op) {
  if (op.complete_inline) {
    if (op.done) op.done(op.status);
    return;
  }
  if (auto fn = Completion(op)) Deliver(std::move(fn));
}

void LmdbEngine::Impl::CompleteBatch(std::vector<Op>& batch) {
  // One executor call for the whole commit: one wake-up of the caller's
  // loop, and every reply of the batch leaves in the same loop turn.
  std::vector<std::function<void()>> fns;
  fns.reserve(batch.size());
  for (Op& op : batch) {
    if (op.decided && op.status.ok()) fns.push_back(TakeDecided(op));  // not before the commit
    if (op.complete_inline) {
      if (op.done) op.done(op.status);
    } else if (auto fn = Completion(op)) {
      fns.push_back(std::move(fn));
    }
  }
  if (fns.empty()) return;
  Deliver([fns = std::move(fns)]() mutable {
    for (auto& fn : fns) fn();
  });
}

// ---- sweeps ----

void LmdbEngine::Impl::RunSweepChunk(SweepJob& job) {
  const uint64_t now = NowMs();
  const uint64_t cutoff = now > job.grace_ms ? now - job.grace_ms : 0;
  int rc = 0;
  for (;;) {
    MDB_txn* txn = nullptr;
    rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc != 0) break;
    tree_deltas_.clear();
    SweepChunk chunk;
    rc = SweepScan(txn, job, now, cutoff, &chunk);
    if (rc == 0) {
      rc = mdb_txn_commit(txn);
    } else {
      mdb_txn_abort(txn);
    }
    if (rc == 0) ApplyTreeDeltas();
    tree_deltas_.clear();
    if (rc == MDB_MAP_FULL && GrowMap() == 0) continue;
    if (rc == 0) SweepChunkCommitted(job, chunk);
    break;
  }
  if (rc != 0) {
    const Status failed = WriteError(rc, options_.path, map_mb_, options_.map_size_max_mb);
    Deliver([cb = std::move(job.done), failed]() mutable { cb(failed); });
    job.done = nullptr;
  }
}

int LmdbEngine::Impl::SweepScan(MDB_txn* txn, const SweepJob& job, uint64_t now, uint64_t cutoff,
                                SweepChunk* chunk) {
  LmdbCursor cursor(txn, objects_);
  if (cursor.rc() != 0) return cursor.rc();
  chunk->last = job.cursor;
  const std::string seek =
      job.cursor.empty() ? std::string() : key_layout::ImmediateSuccessor(job.cursor);
  MDB_val k = Val(seek), v;
  int rc = mdb_cursor_get(cursor.get(), &k, &v, seek.empty() ? MDB_FIRST : MDB_SET_RANGE);
  while (rc == 0 && chunk->report.keys_scanned < kSweepChunkKeys) {
    ++chunk->report.keys_scanned;
    chunk->last = std::string(View(k));
    auto state = DecodeSiblingSet(View(v));
    const Result<uint64_t> key_hash = key_layout::ObjectKeyHash(View(k));
    const SweepVerdict verdict =
        state.ok() && key_hash.ok()
            ? JudgeForSweep(*state, *key_hash, now, cutoff, job.cutoff, &chunk->report)
            : SweepVerdict::kKeep;
    if (verdict == SweepVerdict::kRemove) {
      if ((rc = mdb_cursor_del(cursor.get(), 0)) != 0 ||
          (rc = SetIndexedVersion(txn, chunk->last, 0)) != 0) {
        return rc;
      }
    } else if (state.ok() && (rc = VerifyIndexed(txn, View(k), *state, now, &chunk->report)) != 0) {
      return rc;
    }
    rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_NEXT);
  }
  TROLLEY_ASSERT(chunk->report.keys_scanned <= kSweepChunkKeys);
  if (rc != MDB_NOTFOUND) return rc;
  chunk->finished = true;
  return 0;
}

void LmdbEngine::Impl::SweepChunkCommitted(SweepJob& job, const SweepChunk& chunk) {
  TROLLEY_ASSERT(job.done != nullptr);
  committed_seq_.fetch_add(1);
  job.cursor = chunk.last;
  job.report.keys_scanned += chunk.report.keys_scanned;
  job.report.expired_removed += chunk.report.expired_removed;
  job.report.tombstones_purged += chunk.report.tombstones_purged;
  job.report.tombstones_kept += chunk.report.tombstones_kept;
  job.report.aae_index_fixed += chunk.report.aae_index_fixed;
  aae_verify_fixed_ += chunk.report.aae_index_fixed;
  if (!chunk.finished) return;
  spdlog::info(
      "storage.sweep_done path={} scanned={} expired_removed={} tombstones_purged={} "
      "tombstones_kept={} aae_index_fixed={}",
      options_.path, job.report.keys_scanned, job.report.expired_removed,
      job.report.tombstones_purged, job.report.tombstones_kept, job.report.aae_index_fixed);
  Deliver([cb = std::move(job.done), r = job.report]() mutable { cb(r); });
  job.done = nullptr;
}

}  // namespace trolley
