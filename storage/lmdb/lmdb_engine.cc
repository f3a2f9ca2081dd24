#include "storage/lmdb/lmdb_engine.h"

#include <fcntl.h>
#include <lmdb.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/assert.h"
#include "storage/key_layout.h"
#include "storage/lmdb/lmdb_engine_impl.h"

namespace trolley {

std::string LmdbError(int rc) { return mdb_strerror(rc); }

Status WriteError(int rc, const std::string& path, uint64_t map_mb, uint64_t map_max_mb) {
  switch (rc) {
    case MDB_MAP_FULL:
      return Status::LimitExceeded("LMDB map full in " + path + " at " + std::to_string(map_mb) +
                                   " MiB (storage.map_size_max_mb = " + std::to_string(map_max_mb) +
                                   "): raise map_size_max_mb or free space by deleting data");
    case ENOSPC:
      return Status::IOError("no space left on device while committing to " + path +
                             ": free disk space; the write was not applied");
    case EFBIG:
      return Status::IOError("file size limit reached while committing to " + path +
                             " (EFBIG): raise the file size limit (ulimit -f); the write was "
                             "not applied");
    case EIO:
      // LMDB also returns EIO for a short write (mdb_page_flush: "short
      // write, filesystem full?"), which is how a full disk or the file
      // size limit usually shows: the write that crosses it is cut short.
      return Status::IOError("I/O error or short write while committing to " + path +
                             ": the disk may be full (no space left: check df), the file size "
                             "limit reached (ulimit -f), or the disk failing (dmesg); the write "
                             "was not applied");
    case MDB_PANIC:
      return Status::IOError("LMDB environment in " + path +
                             " hit a fatal error earlier and must be reopened: restart trolleyd");
    default:
      return Status::IOError("LMDB commit to " + path + " failed: " + LmdbError(rc));
  }
}

Status LmdbEngine::Impl::AcquireLock() {
  const std::string lock_path = options_.path + "/LOCK";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) {
    return Status::IOError("cannot open " + lock_path + ": " + std::strerror(errno));
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char pid[32] = {};
    const ssize_t n = ::pread(lock_fd_, pid, sizeof(pid) - 1, 0);
    ::close(lock_fd_);
    lock_fd_ = -1;
    if (err == EWOULDBLOCK) {
      std::string holder = n > 0 ? std::string(pid, static_cast<size_t>(n)) : "unknown";
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) holder.pop_back();
      return Status::FailedPrecondition("data dir " + options_.path +
                                        " is already open by another process (pid " + holder +
                                        "): stop it or choose another data dir");
    }
    return Status::IOError("cannot lock " + lock_path + ": " + std::strerror(err));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) != 0 ||
      ::pwrite(lock_fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    spdlog::warn("storage.lock_pid_unwritten path={} error={}", lock_path, std::strerror(errno));
  }
  return Status::Ok();
}

Status LmdbEngine::Impl::OpenEnvironment() {
  int rc = mdb_env_create(&env_);
  if (rc != 0) return Status::IOError("mdb_env_create failed: " + LmdbError(rc));
  map_mb_ = std::max<uint64_t>(options_.map_size_mb, 1);
  mdb_env_set_maxdbs(env_, 5);
  mdb_env_set_maxreaders(env_, options_.max_readers);
  mdb_env_set_mapsize(env_, map_mb_ << 20);
  unsigned flags = MDB_NOTLS;
  if (options_.durability != Durability::kSync) flags |= MDB_NOSYNC;
  rc = mdb_env_open(env_, options_.path.c_str(), flags, 0644);
  if (rc != 0) {
    return Status::IOError("cannot open LMDB environment in " + options_.path + ": " +
                           LmdbError(rc) +
                           (rc == MDB_INVALID ? " (not an LMDB data dir, or a damaged one)" : ""));
  }
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  map_mb_ = std::max<uint64_t>(map_mb_, info.me_mapsize >> 20);
  return Status::Ok();
}

Status LmdbEngine::Impl::InitMeta() {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc != 0) {
    return Status::IOError("cannot start a write in " + options_.path + ": " + LmdbError(rc));
  }
  if ((rc = mdb_dbi_open(txn, "objects", MDB_CREATE, &objects_)) != 0 ||
      (rc = mdb_dbi_open(txn, "hints", MDB_CREATE, &hints_)) != 0 ||
      (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &meta_)) != 0) {
    mdb_txn_abort(txn);
    return WriteError(rc, options_.path, map_mb_, options_.map_size_max_mb);
  }
  Status s = InitFormat(txn);
  if (s.ok()) s = TakeActorEpoch(txn);
  if (s.ok()) s = InitAaeIndex(txn);
  if (!s.ok()) {
    mdb_txn_abort(txn);
    return s;
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) return WriteError(rc, options_.path, map_mb_, options_.map_size_max_mb);
  // The epoch must be on disk before any dot of it is handed out.
  rc = mdb_env_sync(env_, 1);
  if (rc != 0) return Status::IOError("fsync of " + options_.path + " failed: " + LmdbError(rc));
  return Status::Ok();
}

bool LmdbEngine::Impl::GetMetaU64(MDB_txn* txn, std::string_view name, uint64_t* out) {
  MDB_val k = Val(name), v;
  if (mdb_get(txn, meta_, &k, &v) != 0) return false;
  const Result<uint64_t> value = key_layout::DecodeU64Be(View(v), name);
  if (!value.ok()) return false;
  *out = *value;
  return true;
}

int LmdbEngine::Impl::PutMetaU64(MDB_txn* txn, std::string_view name, uint64_t value) {
  const std::string bytes = key_layout::EncodeU64Be(value);
  MDB_val k = Val(name), v = Val(bytes);
  return mdb_put(txn, meta_, &k, &v, 0);
}

Status LmdbEngine::Impl::InitFormat(MDB_txn* txn) {
  using key_layout::kDataFormatVersion;
  uint64_t version = 0;
  if (!GetMetaU64(txn, key_layout::kMetaFormatVersion, &version)) {
    version = kDataFormatVersion;  // a new data dir
  } else if (version > kDataFormatVersion) {
    return Status::FailedPrecondition(
        "data dir " + options_.path + " has format version " + std::to_string(version) +
        ", newer than this build supports (" + std::to_string(kDataFormatVersion) +
        "): run a newer trolley, or point --data-dir elsewhere");
  } else if (version == 1) {
    // Format 1 -> 2: the incarnation counter gives way to the actor epoch
    // that TakeActorEpoch writes in this same transaction. Objects, hints
    // and the other meta keys are unchanged.
    MDB_val k = Val(key_layout::kMetaIncarnationV1);
    const int rc = mdb_del(txn, meta_, &k, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND) {
      return WriteError(rc, options_.path, map_mb_, options_.map_size_max_mb);
    }
    spdlog::info("storage.migrated path={} from_format=1 to_format={}", options_.path,
                 kDataFormatVersion);
  }
  if (const int rc = PutMetaU64(txn, key_layout::kMetaFormatVersion, kDataFormatVersion); rc != 0) {
    return WriteError(rc, options_.path, map_mb_, options_.map_size_max_mb);
  }
  return Status::Ok();
}

Status LmdbEngine::Impl::TakeActorEpoch(MDB_txn* txn) {
  // Every open is a new life with a new random epoch, clean restart or
  // not: nothing in the dir can prove that it is the newest copy of
  // itself (a restored backup, or a cold copy of it, looks exactly like
  // the dir after a clean stop), so dots of an earlier epoch may live on
  // other replicas with content this dir has lost (docs/design.md,
  // 'Versions: dotted version vector sets', 'Actor epochs').
  uint64_t previous = 0;
  GetMetaU64(txn, key_layout::kMetaActorEpoch, &previous);
  uint64_t clean = 0;
  GetMetaU64(txn, key_layout::kMetaCleanShutdown, &clean);
  do {
    if (::getrandom(&epoch_, sizeof(epoch_), 0) != static_cast<ssize_t>(sizeof(epoch_))) {
      return Status::IOError(std::string("cannot read a random actor epoch (getrandom): ") +
                             std::strerror(errno));
    }
  } while (epoch_ == 0 || epoch_ == previous);
  int rc = 0;
  if ((rc = DropDotFloors(txn)) != 0 ||
      (rc = PutMetaU64(txn, key_layout::kMetaActorEpoch, epoch_)) != 0 ||
      (rc = PutMetaU64(txn, key_layout::kMetaCleanShutdown, 0)) != 0) {
    return WriteError(rc, options_.path, map_mb_, options_.map_size_max_mb);
  }
  spdlog::info("storage.opened path={} actor_epoch={:016x} previous_stop={}", options_.path, epoch_,
               previous == 0 ? "none" : (clean != 0 ? "clean" : "unclean"));
  return Status::Ok();
}

int LmdbEngine::Impl::DropDotFloors(MDB_txn* txn) {
  // Every floor belongs to an actor of an earlier life (an earlier epoch),
  // which never issues a dot again: the floors protect nothing any more.
  LmdbCursor cursor(txn, meta_);
  if (cursor.rc() != 0) return cursor.rc();
  for (;;) {
    MDB_val k = Val(key_layout::kDotFloorPrefix), v;
    int rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND || (rc == 0 && !View(k).starts_with(key_layout::kDotFloorPrefix))) {
      return 0;
    }
    if (rc != 0 || (rc = mdb_cursor_del(cursor.get(), 0)) != 0) return rc;
    ++dot_floors_dropped_;
  }
}

Status LmdbEngine::Impl::Open() {
  if (options_.clock == nullptr)
    return Status::InvalidArgument("LmdbEngineOptions.clock is required");
  if (options_.path.empty())
    return Status::InvalidArgument("storage path is empty: set --data-dir");
  if (options_.batch_ops_max == 0) {
    return Status::InvalidArgument("LmdbEngineOptions.batch_ops_max must be at least 1");
  }
  std::error_code ec;
  std::filesystem::create_directories(options_.path, ec);
  if (ec) return Status::IOError("cannot create data dir " + options_.path + ": " + ec.message());
  Status s = AcquireLock();
  if (!s.ok()) return s;
  s = OpenEnvironment();
  if (!s.ok()) return s;
  s = InitMeta();
  if (!s.ok()) return s;
  if (options_.durability == Durability::kNone) {
    spdlog::warn(
        "storage.durability_none path={} writes are NEVER fsynced: an OS crash loses "
        "them; use only for benchmarks",
        options_.path);
  }
  writer_ = std::thread([this] { WriterLoop(); });
  if (options_.durability == Durability::kFlush) flusher_ = std::thread([this] { FlusherLoop(); });
  return Status::Ok();
}

void LmdbEngine::Impl::Shutdown() {
  StopThreads();
  if (env_ != nullptr) {
    MarkCleanShutdown();
    const int rc = mdb_env_sync(env_, 1);
    spdlog::info("storage.closed path={} commits={} writes={} fsyncs={}", options_.path,
                 commits_.load(), ops_committed_.load(), fsyncs_.load());
    std::vector<Engine::DoneCallback> waiting;
    {
      std::lock_guard lk(flush_mu_);  // the flusher is gone; Sync()s still waiting
      waiting = TakeDurableWaiters(committed_seq_.load());
    }
    DeliverDurable(std::move(waiting), rc == 0 ? Status::Ok()
                                               : Status::IOError("fsync of " + options_.path +
                                                                 " failed: " + LmdbError(rc)));
    mdb_env_close(env_);
    env_ = nullptr;
  }
  if (lock_fd_ >= 0) {
    ::close(lock_fd_);  // releases the flock
    lock_fd_ = -1;
  }
}

void LmdbEngine::Impl::StopThreads() {
  if (writer_.joinable()) {
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    writer_.join();
  }
  if (flusher_.joinable()) {
    {
      std::lock_guard lk(flush_mu_);
      flush_stop_ = true;
    }
    flush_cv_.notify_all();
    flusher_.join();
  }
}

void LmdbEngine::Impl::MarkCleanShutdown() {
  // Informational only (the next open logs previous_stop=clean): the next
  // open takes a new epoch either way, so no floor needs to outlive this life.
  MDB_txn* txn = nullptr;
  if (mdb_txn_begin(env_, nullptr, 0, &txn) != 0) return;
  if (PutMetaU64(txn, key_layout::kMetaCleanShutdown, 1) == 0) {
    mdb_txn_commit(txn);
  } else {
    mdb_txn_abort(txn);
  }
}

LmdbEngine::Counters LmdbEngine::Impl::counters() const {
  Counters c;
  c.commits = commits_.load();
  c.ops_committed = ops_committed_.load();
  c.fsyncs = fsyncs_.load();
  c.map_resizes = map_resizes_.load();
  c.map_resizes_after_decided = map_resizes_after_decided_.load();
  c.dot_floors_dropped_at_open = dot_floors_dropped_;
  return c;
}

LmdbEngine::MetricsSnapshot LmdbEngine::Impl::Snapshot() {
  MetricsSnapshot snapshot;
  snapshot.counters = counters();
  {
    std::lock_guard lk(histograms_mu_);
    snapshot.commit_batch_ops = commit_batch_ops_;
    snapshot.fsync_us = fsync_us_;
  }
  std::shared_lock lk(resize_mu_);  // the map is not being resized
  MDB_envinfo info;
  MDB_stat stat;
  if (mdb_env_info(env_, &info) == 0 && mdb_env_stat(env_, &stat) == 0) {
    snapshot.map_bytes = info.me_mapsize;
    snapshot.map_used_bytes = (uint64_t{info.me_last_pgno} + 1) * stat.ms_psize;
  }
  return snapshot;
}

void LmdbEngine::Impl::RecordFsync(uint64_t start_ns) {
  const uint64_t now = options_.clock->NowMonotonicNs();
  std::lock_guard lk(histograms_mu_);
  fsync_us_.Record(now > start_ns ? (now - start_ns) / 1000 : 0);
}

Status LmdbEngine::Impl::CopyCompacted(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create " + dir + ": " + ec.message());
  if (!std::filesystem::is_empty(dir, ec) || ec) {
    return Status::FailedPrecondition(dir + " is not empty; a backup goes into a new directory");
  }
  // A read transaction for the whole copy: the map must not be resized
  // under it (a resize waits for the copy).
  std::shared_lock lk(resize_mu_);
  const int rc = mdb_env_copy2(env_, dir.c_str(), MDB_CP_COMPACT);
  if (rc != 0)
    return Status::IOError("copy of " + options_.path + " to " + dir + " failed: " + LmdbError(rc));
  return Status::Ok();
}

// ---- LmdbEngine: thin forwarding to Impl ----

Result<std::unique_ptr<LmdbEngine>> LmdbEngine::Open(LmdbEngineOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  if (Status s = impl->Open(); !s.ok()) return s;
  return std::unique_ptr<LmdbEngine>(new LmdbEngine(std::move(impl)));
}

LmdbEngine::LmdbEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LmdbEngine::MetricsSnapshot LmdbEngine::Snapshot() const { return impl_->Snapshot(); }
Status LmdbEngine::CopyCompacted(const std::string& dir) const { return impl_->CopyCompacted(dir); }
LmdbEngine::~LmdbEngine() = default;

Result<SiblingSet> LmdbEngine::Get(const ObjectKey& key) { return impl_->Get(key); }

void LmdbEngine::Put(ObjectKey key, WriteIntent intent, ActorId actor, StateCallback decided,
                     StateCallback done) {
  impl_->Submit(Op{EngineOp::Put(std::move(key), std::move(intent), actor, std::move(decided),
                                 std::move(done))});
}

void LmdbEngine::Merge(ObjectKey key, SiblingSet remote, StateCallback done) {
  impl_->Submit(Op{EngineOp::Merge(std::move(key), std::move(remote), std::move(done))});
}

Result<ScanPage> LmdbEngine::Scan(uint64_t first_hash, uint64_t last_hash,
                                  const ObjectKey* resume_after, size_t limit) {
  return impl_->Scan(first_hash, last_hash, resume_after, limit);
}

void LmdbEngine::Sweep(uint64_t tombstone_grace_ms, TombstoneCutoff cutoff, SweepCallback done) {
  impl_->SubmitSweep(tombstone_grace_ms, std::move(cutoff), std::move(done));
}

std::vector<uint64_t> LmdbEngine::AaeSegments(uint32_t first, uint32_t count) {
  return impl_->AaeSegments(first, count);
}

std::vector<uint64_t> LmdbEngine::AaeBranches(uint32_t first, uint32_t count) {
  return impl_->AaeBranches(first, count);
}

Result<std::vector<AaeKeyVersion>> LmdbEngine::AaeSegmentKeys(uint32_t segment) {
  return impl_->AaeSegmentKeys(segment);
}

AaeTreeStats LmdbEngine::AaeStats() { return impl_->AaeStats(); }

void LmdbEngine::Sync(std::string_view /*ns*/, DoneCallback done) { impl_->Sync(std::move(done)); }

uint64_t LmdbEngine::incarnation() const { return impl_->epoch(); }
void LmdbEngine::Cork() { impl_->Cork(); }
void LmdbEngine::Uncork() { impl_->Uncork(); }

void LmdbEngine::Add(Hint hint, Engine::DoneCallback done) {
  impl_->Submit(Op{EngineOp::HintAdd(std::move(hint), std::move(done))});
}

Result<std::vector<Hint>> LmdbEngine::List(std::string_view target, size_t limit) {
  return impl_->ListHints(target, limit);
}

Result<std::vector<std::string>> LmdbEngine::Targets() { return impl_->HintTargets(); }

void LmdbEngine::RemoveDelivered(std::string target, ObjectKey key, SiblingSet delivered,
                                 DoneCallback done) {
  impl_->Submit(Op{EngineOp::HintRemoveDelivered(std::move(target), std::move(key),
                                                 std::move(delivered), std::move(done))});
}

void LmdbEngine::Drop(std::string target, ObjectKey key, DoneCallback done) {
  impl_->Submit(Op{EngineOp::HintDrop(std::move(target), std::move(key), std::move(done))});
}

Result<HintStats> LmdbEngine::Stats() { return impl_->HintStatsNow(); }

Status LmdbEngine::SyncNow() { return impl_->SyncNow(); }

LmdbEngine::Counters LmdbEngine::counters() const { return impl_->counters(); }

}  // namespace trolley
