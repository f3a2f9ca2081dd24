#include "storage/lmdb/lmdb_engine.h"

#include <fcntl.h>
#include <lmdb.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <variant>

#include "common/assert.h"
#include "common/key.h"
#include "storage/engine_op.h"
#include "storage/record_codec.h"

namespace trolley {
namespace {

constexpr uint64_t kDataFormatVersion = 1;  // layout of the data dir (this file's header)
constexpr size_t kSweepChunkKeys = 1000;

std::string LmdbError(int rc) { return mdb_strerror(rc); }

// Big-endian so that byte order is numeric order.
void PutU64Be(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}
uint64_t GetU64Be(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

std::string EncodeObjectKey(const ObjectKey& key) {
  std::string out;
  out.reserve(9 + key.ns.size() + key.key.size());
  PutU64Be(out, KeyHash(key.ns, key.key));
  out.push_back(static_cast<char>(key.ns.size()));
  out += key.ns;
  out += key.key;
  return out;
}

// Untrusted only in the sense of "written by an older or broken build".
std::optional<ObjectKey> DecodeObjectKey(std::string_view raw) {
  if (raw.size() < 10) return std::nullopt;
  const size_t ns_size = static_cast<unsigned char>(raw[8]);
  if (ns_size == 0 || raw.size() < 9 + ns_size + 1) return std::nullopt;
  return ObjectKey{std::string(raw.substr(9, ns_size)), std::string(raw.substr(9 + ns_size))};
}

std::string HintPrefix(std::string_view target) {
  std::string out;
  out.push_back(static_cast<char>(target.size()));
  out += target;
  return out;
}

std::string HintKey(std::string_view target, const ObjectKey& key) {
  return HintPrefix(target) + EncodeObjectKey(key);
}

// The smallest key greater than every key that starts with `prefix`.
std::string PrefixSuccessor(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last != 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;  // empty: no successor; callers treat it as "end"
}

MDB_val Val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view View(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

std::string EncodeHintValue(uint64_t created_ms, const SiblingSet& state) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>(created_ms >> (8 * i));
  out += EncodeSiblingSet(state);
  return out;
}

Result<Hint> DecodeHint(std::string_view raw_key, std::string_view raw_value) {
  if (raw_key.empty() || raw_value.size() < 8) return Status::Corruption("hint record too short");
  const size_t target_size = static_cast<unsigned char>(raw_key[0]);
  if (raw_key.size() < 1 + target_size) return Status::Corruption("hint key too short");
  auto key = DecodeObjectKey(raw_key.substr(1 + target_size));
  if (!key) return Status::Corruption("hint key holds no valid object key");
  auto state = DecodeSiblingSet(raw_value.substr(8));
  if (!state.ok()) return state.status();
  Hint hint;
  hint.target = std::string(raw_key.substr(1, target_size));
  hint.key = std::move(*key);
  hint.state = std::move(state).value();
  for (int i = 7; i >= 0; --i) {
    hint.created_ms = (hint.created_ms << 8) | static_cast<unsigned char>(raw_value[static_cast<size_t>(i)]);
  }
  return hint;
}

// Maps an LMDB return code from a write path to a Status a person can act on.
Status WriteError(int rc, const std::string& path, uint64_t map_mb, uint64_t map_max_mb) {
  switch (rc) {
    case MDB_MAP_FULL:
      return Status::LimitExceeded("LMDB map full in " + path + " at " + std::to_string(map_mb) +
                                   " MiB (storage.map_size_max_mb = " +
                                   std::to_string(map_max_mb) +
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

}  // namespace

// A queued write (exactly one callback set), plus how its callback runs.
struct Op : EngineOp {
  Op() = default;
  explicit Op(EngineOp op) : EngineOp(std::move(op)) {}
  bool complete_inline = false;  // run the callback on the writer thread
};

class LmdbEngine::Impl {
 public:
  explicit Impl(LmdbEngineOptions options) : options_(std::move(options)) {}
  ~Impl() { Shutdown(); }

  Status Open();
  void Shutdown();

  Result<SiblingSet> Get(const ObjectKey& key);
  Result<ScanPage> Scan(uint64_t first_hash, uint64_t last_hash, const ObjectKey* resume_after,
                        size_t limit);
  Result<std::vector<Hint>> ListHints(std::string_view target, size_t limit);
  Result<std::vector<std::string>> HintTargets();
  Result<HintStats> HintStatsNow();
  void Submit(Op op);
  void SubmitSweep(uint64_t grace_ms, SweepCallback done);
  void Cork() {
    std::lock_guard lk(mu_);
    ++corks_;
  }
  void Uncork() {
    {
      std::lock_guard lk(mu_);
      TROLLEY_ASSERT(corks_ > 0);
      --corks_;
    }
    cv_.notify_one();
  }
  Status SyncNow();
  // Engine::Sync. kFlush: waits for the flusher, which it wakes.
  void Sync(Engine::DoneCallback done);
  uint64_t incarnation() const { return incarnation_; }
  Counters counters() const {
    Counters c;
    c.commits = commits_.load();
    c.ops_committed = ops_committed_.load();
    c.fsyncs = fsyncs_.load();
    c.map_resizes = map_resizes_.load();
    c.map_resizes_after_decided = map_resizes_after_decided_.load();
    return c;
  }

 private:
  // RAII read transaction; holds the resize lock shared.
  class ReadTxn {
   public:
    explicit ReadTxn(Impl& impl) : lock_(impl.resize_mu_) {
      rc_ = mdb_txn_begin(impl.env_, nullptr, MDB_RDONLY, &txn_);
      if (rc_ != 0) txn_ = nullptr;
    }
    ~ReadTxn() {
      if (txn_) mdb_txn_abort(txn_);
    }
    Status status(const Impl& impl) const {
      if (rc_ == 0) return Status::Ok();
      if (rc_ == MDB_READERS_FULL) {
        return Status::Busy("LMDB readers table full in " + impl.options_.path +
                            " (storage.max_readers = " +
                            std::to_string(impl.options_.max_readers) + "): raise max_readers");
      }
      return Status::IOError("cannot start a read in " + impl.options_.path + ": " +
                             LmdbError(rc_));
    }
    MDB_txn* get() const { return txn_; }

   private:
    std::shared_lock<std::shared_mutex> lock_;
    MDB_txn* txn_ = nullptr;
    int rc_ = 0;
  };

  struct SweepJob {
    uint64_t grace_ms = 0;
    SweepCallback done;
    std::string cursor;  // raw key to resume after; empty = from the start
    SweepReport report;
  };

  Status AcquireLock();
  Status OpenEnvironment();
  Status InitMeta();
  void WriterLoop();
  void FlusherLoop();
  void RunBatch(std::vector<Op>& batch);
  // Hands each applied put's state to its `decided` callback (once, even
  // if the batch is retried) and records the floors those dots need.
  void DeliverDecided(std::vector<Op>& batch, const std::map<ActorId, uint64_t>& floors);
  int PutFloor(MDB_txn* txn, ActorId actor, uint64_t floor);
  // The call of op's `decided` callback with its state; leaves it unset.
  static std::function<void()> TakeDecided(Op& op);
  // Applies one op inside `txn`. Per-op failures go into op.status; an
  // LMDB failure that dooms the transaction is returned as its rc.
  int ApplyOp(MDB_txn* txn, Op& op, std::map<ActorId, uint64_t>& floors);
  int ReadState(MDB_txn* txn, const std::string& raw_key, SiblingSet* state, Status* decode);
  int WriteState(MDB_txn* txn, const std::string& raw_key, const SiblingSet& state);
  void RunSweepChunk(SweepJob& job);
  int GrowMap();
  void Complete(Op& op);
  std::function<void()> Completion(Op& op);  // empty if the op has no callback
  void CompleteBatch(std::vector<Op>& batch);
  // kFlush, flush_mu_ held: takes the Sync() callbacks waiting for commits
  // up to `seq` (run them with DeliverDurable once the lock is released).
  std::vector<Engine::DoneCallback> TakeDurableWaiters(uint64_t seq);
  void DeliverDurable(std::vector<Engine::DoneCallback> done, const Status& s);
  void Deliver(std::function<void()> fn);
  uint64_t NowMs() { return options_.clock->NowWallMs(); }

  LmdbEngineOptions options_;
  int lock_fd_ = -1;
  MDB_env* env_ = nullptr;
  MDB_dbi objects_ = 0, hints_ = 0, meta_ = 0;
  uint64_t incarnation_ = 0;
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
};

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
  mdb_env_set_maxdbs(env_, 4);
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
  if (rc != 0) return Status::IOError("cannot start a write in " + options_.path + ": " + LmdbError(rc));
  auto fail = [&](Status s) {
    mdb_txn_abort(txn);
    return s;
  };
  if ((rc = mdb_dbi_open(txn, "objects", MDB_CREATE, &objects_)) != 0 ||
      (rc = mdb_dbi_open(txn, "hints", MDB_CREATE, &hints_)) != 0 ||
      (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &meta_)) != 0) {
    return fail(WriteError(rc, options_.path, map_mb_, options_.map_size_max_mb));
  }
  auto get_u64 = [&](std::string_view name, uint64_t* out) -> bool {
    MDB_val k = Val(name), v;
    if (mdb_get(txn, meta_, &k, &v) != 0 || v.mv_size != 8) return false;
    *out = GetU64Be(static_cast<const unsigned char*>(v.mv_data));
    return true;
  };
  auto put_u64 = [&](std::string_view name, uint64_t value) {
    std::string bytes;
    PutU64Be(bytes, value);
    MDB_val k = Val(name), v = Val(bytes);
    return mdb_put(txn, meta_, &k, &v, 0);
  };
  uint64_t version = 0;
  if (get_u64("format_version", &version)) {
    if (version > kDataFormatVersion) {
      return fail(Status::FailedPrecondition(
          "data dir " + options_.path + " has format version " + std::to_string(version) +
          ", newer than this build supports (" + std::to_string(kDataFormatVersion) +
          "): run a newer trolley, or point --data-dir elsewhere"));
    }
  } else if ((rc = put_u64("format_version", kDataFormatVersion)) != 0) {
    return fail(WriteError(rc, options_.path, map_mb_, options_.map_size_max_mb));
  }
  uint64_t clean = 0;
  get_u64("incarnation", &incarnation_);
  get_u64("clean_shutdown", &clean);
  // After an unclean stop we cannot know which writes the OS kept, so this
  // incarnation's dots must not collide with dots it may have forgotten.
  if (clean == 0 || incarnation_ == 0) ++incarnation_;
  if ((rc = put_u64("incarnation", incarnation_)) != 0 || (rc = put_u64("clean_shutdown", 0)) != 0) {
    return fail(WriteError(rc, options_.path, map_mb_, options_.map_size_max_mb));
  }
  // Dot counter floors: "dot/" + actor (8 bytes BE) -> counter.
  MDB_cursor* cursor = nullptr;
  mdb_cursor_open(txn, meta_, &cursor);
  MDB_val k = Val("dot/"), v;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    const std::string_view name = View(k);
    if (name.substr(0, 4) != "dot/" || name.size() != 12 || v.mv_size != 8) break;
    dot_floors_[GetU64Be(reinterpret_cast<const unsigned char*>(name.data() + 4))] =
        GetU64Be(static_cast<const unsigned char*>(v.mv_data));
  }
  mdb_cursor_close(cursor);
  rc = mdb_txn_commit(txn);
  if (rc != 0) return WriteError(rc, options_.path, map_mb_, options_.map_size_max_mb);
  // The incarnation must be on disk before any dot of it is handed out.
  rc = mdb_env_sync(env_, 1);
  if (rc != 0) return Status::IOError("fsync of " + options_.path + " failed: " + LmdbError(rc));
  return Status::Ok();
}

Status LmdbEngine::Impl::Open() {
  if (options_.clock == nullptr) return Status::InvalidArgument("LmdbEngineOptions.clock is required");
  if (options_.path.empty()) return Status::InvalidArgument("storage path is empty: set --data-dir");
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
    spdlog::warn("storage.durability_none path={} writes are NEVER fsynced: an OS crash loses "
                 "them; use only for benchmarks", options_.path);
  }
  writer_ = std::thread([this] { WriterLoop(); });
  if (options_.durability == Durability::kFlush) flusher_ = std::thread([this] { FlusherLoop(); });
  return Status::Ok();
}

void LmdbEngine::Impl::Shutdown() {
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
  if (env_ != nullptr) {
    MDB_txn* txn = nullptr;
    if (mdb_txn_begin(env_, nullptr, 0, &txn) == 0) {
      std::string one;
      PutU64Be(one, 1);
      MDB_val k = Val("clean_shutdown"), v = Val(one);
      // A clean stop keeps the incarnation, so dots handed out by a put
      // whose commit failed must be covered by a committed floor.
      int rc = 0;
      for (const auto& [actor, issued] : issued_floors_) {
        auto it = dot_floors_.find(actor);
        if (it != dot_floors_.end() && it->second >= issued) continue;
        if ((rc = PutFloor(txn, actor, issued)) != 0) break;
      }
      if (rc == 0 && mdb_put(txn, meta_, &k, &v, 0) == 0) {
        mdb_txn_commit(txn);
      } else {
        mdb_txn_abort(txn);
      }
    }
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

void LmdbEngine::Impl::Deliver(std::function<void()> fn) {
  if (options_.completion_executor) {
    options_.completion_executor(std::move(fn));
  } else {
    fn();
  }
}

std::function<void()> LmdbEngine::Impl::Completion(Op& op) {
  if (op.state_done) {
    Result<SiblingSet> r = op.status.ok() ? Result<SiblingSet>(std::move(op.result))
                                          : Result<SiblingSet>(op.status);
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

void LmdbEngine::Impl::SubmitSweep(uint64_t grace_ms, SweepCallback done) {
  std::lock_guard lk(mu_);
  sweeps_.push_back(SweepJob{grace_ms, std::move(done), {}, {}});
  cv_.notify_one();
}

void LmdbEngine::Impl::WriterLoop() {
  std::vector<Op> batch;
  for (;;) {
    std::optional<SweepJob> sweep;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] {
        return stopping_ || (!queue_.empty() && (corks_ == 0 || queue_.size() >= options_.batch_ops_max)) ||
               (queue_.empty() && !sweeps_.empty());
      });
      if (stopping_ && queue_.empty()) break;
      while (!queue_.empty() && batch.size() < options_.batch_ops_max) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      // A sweep runs one chunk at a time between batches, so it never holds
      // up writes for long.
      if (batch.empty() && !sweeps_.empty()) {
        sweep = std::move(sweeps_.front());
        sweeps_.pop_front();
      }
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
  std::lock_guard lk(mu_);
  for (SweepJob& job : sweeps_) {
    Deliver([cb = std::move(job.done)]() mutable {
      cb(Status::Unavailable("storage engine shut down before the sweep finished"));
    });
  }
  sweeps_.clear();
}

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

void LmdbEngine::Impl::RunBatch(std::vector<Op>& batch) {
  int rc = 0;
  // Above every dot handed out, committed or not. A retry (after a map
  // resize) starts from the same floors, so it issues the same dots as the
  // attempt whose states `decided` may already have handed out.
  std::map<ActorId, uint64_t> start_floors = dot_floors_;
  for (const auto& [actor, issued] : issued_floors_) {
    uint64_t& floor = start_floors[actor];
    floor = std::max(floor, issued);
  }
  for (;;) {
    MDB_txn* txn = nullptr;
    rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc != 0) break;
    std::map<ActorId, uint64_t> floors = start_floors;
    for (Op& op : batch) {
      op.status = Status::Ok();  // a retry after a map resize starts over
      rc = ApplyOp(txn, op, floors);
      if (rc != 0) break;
    }
    // In kSync the commit's fsync is the slow part: the puts' states go out
    // before it, so that replication overlaps it. Otherwise the commit is
    // quick and `decided` runs just before `done`, in the same wake-up.
    const bool decided_out = rc == 0 && options_.durability == Durability::kSync;
    if (decided_out) DeliverDecided(batch, floors);
    if (rc == 0) {
      // Persist the dot counter floors this batch raised.
      for (const auto& [actor, floor] : floors) {
        auto it = dot_floors_.find(actor);
        if (it != dot_floors_.end() && it->second == floor) continue;
        if ((rc = PutFloor(txn, actor, floor)) != 0) break;
      }
    }
    if (rc == 0) {
      rc = mdb_txn_commit(txn);  // in kSync this fsyncs, on this thread
    } else {
      mdb_txn_abort(txn);
    }
    if (rc == MDB_MAP_FULL && GrowMap() == 0) {
      if (decided_out) ++map_resizes_after_decided_;
      continue;
    }
    if (rc == 0) {
      dot_floors_ = std::move(floors);
      issued_floors_.clear();
      ++commits_;
      ops_committed_ += batch.size();
      if (options_.durability == Durability::kSync) ++fsyncs_;
      committed_seq_.fetch_add(1);
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

std::function<void()> LmdbEngine::Impl::TakeDecided(Op& op) {
  std::function<void()> fn = [cb = std::move(op.decided), state = op.result]() mutable {
    cb(std::move(state));
  };
  op.decided = nullptr;
  return fn;
}

int LmdbEngine::Impl::PutFloor(MDB_txn* txn, ActorId actor, uint64_t floor) {
  std::string name = "dot/", bytes;
  PutU64Be(name, actor);
  PutU64Be(bytes, floor);
  MDB_val k = Val(name), v = Val(bytes);
  return mdb_put(txn, meta_, &k, &v, 0);
}

void LmdbEngine::Impl::DeliverDecided(std::vector<Op>& batch,
                                      const std::map<ActorId, uint64_t>& floors) {
  std::vector<std::function<void()>> fns;
  for (Op& op : batch) {
    if (!op.decided || !op.status.ok()) continue;
    fns.push_back(TakeDecided(op));
    uint64_t& issued = issued_floors_[op.actor];
    issued = std::max(issued, floors.at(op.actor));
  }
  if (fns.empty()) return;
  Deliver([fns = std::move(fns)]() mutable {
    for (auto& fn : fns) fn();
  });
}

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

int LmdbEngine::Impl::WriteState(MDB_txn* txn, const std::string& raw_key, const SiblingSet& state) {
  const std::string bytes = EncodeSiblingSet(state);
  MDB_val k = Val(raw_key), v = Val(bytes);
  return mdb_put(txn, objects_, &k, &v, 0);
}

int LmdbEngine::Impl::ApplyOp(MDB_txn* txn, Op& op, std::map<ActorId, uint64_t>& floors) {
  const uint64_t now = NowMs();
  switch (op.kind) {
    case Op::Kind::kBarrier:
      return 0;
    case Op::Kind::kPut:
    case Op::Kind::kMerge:
    case Op::Kind::kExpire: {
      const std::string raw_key = EncodeObjectKey(op.key);
      SiblingSet state;
      Status decode;
      if (int rc = ReadState(txn, raw_key, &state, &decode); rc != 0) return rc;
      if (!decode.ok()) {
        if (op.kind == Op::Kind::kMerge) {
          // Another replica's state replaces what we cannot read: that is
          // how read repair and hints heal a damaged record.
          spdlog::error("storage.corrupt_record_replaced key={}/{} error={}", op.key.ns,
                        op.key.key, decode.message());
          state = SiblingSet();
        } else {
          op.status = Status::Corruption("stored state of " + op.key.ns + "/" + op.key.key +
                                         " does not decode (" + decode.message() +
                                         "); a merge from another replica will replace it");
          return 0;
        }
      }
      if (op.kind == Op::Kind::kExpire) {
        if (!state.FullyExpiredAt(now)) return 0;  // written again since the read
        MDB_val k = Val(raw_key);
        const int rc = mdb_del(txn, objects_, &k, nullptr);
        return rc == MDB_NOTFOUND ? 0 : rc;
      }
      state.DropExpiredAt(now);
      const size_t siblings_before = state.size();
      const size_t bytes_before = state.ValueBytes();
      if (op.kind == Op::Kind::kPut) {
        // `state` is this op's own copy: a refused write is simply not stored.
        uint64_t& floor = floors[op.actor];
        const Result<WriteOutcome> out =
            ApplyPut(state, op, floor, {options_.siblings_max, options_.object_bytes_max}, now);
        if (!out.ok()) {
          op.status = out.status();
          return 0;
        }
        floor = std::max(floor, out->dot.counter);
      } else {
        ApplyMerge(state, op.state, now);
      }
      // Warn when a threshold is crossed, not on every write above it.
      if (state.size() > options_.siblings_warn && siblings_before <= options_.siblings_warn) {
        spdlog::warn("storage.many_siblings key={}/{} siblings={} warn_at={} max={}", op.key.ns,
                     op.key.key, state.size(), options_.siblings_warn, options_.siblings_max);
      }
      if (state.ValueBytes() > options_.object_bytes_warn &&
          bytes_before <= options_.object_bytes_warn) {
        spdlog::warn("storage.large_object key={}/{} bytes={} warn_at={}", op.key.ns, op.key.key,
                     state.ValueBytes(), options_.object_bytes_warn);
      }
      if (int rc = WriteState(txn, raw_key, state); rc != 0) return rc;
      op.result = std::move(state);
      return 0;
    }
    case Op::Kind::kHintAdd:
    case Op::Kind::kHintRemoveDelivered:
    case Op::Kind::kHintDrop: {
      const std::string raw_key = HintKey(op.target, op.key);
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
      if (op.kind == Op::Kind::kHintRemoveDelivered && existing &&
          !op.state.Covers(existing->state)) {
        return 0;  // more was hinted after this delivery started
      }
      rc = mdb_del(txn, hints_, &k, nullptr);
      return rc == MDB_NOTFOUND ? 0 : rc;
    }
  }
  return 0;
}

void LmdbEngine::Impl::RunSweepChunk(SweepJob& job) {
  const uint64_t now = NowMs();
  const uint64_t cutoff = now > job.grace_ms ? now - job.grace_ms : 0;
  int rc = 0;
  for (;;) {
    MDB_txn* txn = nullptr;
    rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc != 0) break;
    MDB_cursor* cursor = nullptr;
    mdb_cursor_open(txn, objects_, &cursor);
    SweepReport chunk;
    std::string last = job.cursor;
    MDB_val k, v;
    std::string seek = job.cursor.empty() ? std::string() : job.cursor + '\0';
    k = Val(seek);
    rc = mdb_cursor_get(cursor, &k, &v, seek.empty() ? MDB_FIRST : MDB_SET_RANGE);
    bool finished = false;
    while (rc == 0 && chunk.keys_scanned < kSweepChunkKeys) {
      ++chunk.keys_scanned;
      last = std::string(View(k));
      auto state = DecodeSiblingSet(View(v));
      bool remove = false;
      if (state.ok()) {
        if (state->FullyExpiredAt(now)) {
          remove = true;
          ++chunk.expired_removed;
        } else if (state->OnlyTombstonesOlderThan(cutoff)) {
          remove = true;
          ++chunk.tombstones_purged;
        }
      }
      if (remove && (rc = mdb_cursor_del(cursor, 0)) != 0) break;
      rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND) {
      finished = true;
      rc = 0;
    }
    mdb_cursor_close(cursor);
    if (rc == 0) {
      rc = mdb_txn_commit(txn);
    } else {
      mdb_txn_abort(txn);
    }
    if (rc == MDB_MAP_FULL && GrowMap() == 0) continue;
    if (rc == 0) {
      committed_seq_.fetch_add(1);
      job.cursor = last;
      job.report.keys_scanned += chunk.keys_scanned;
      job.report.expired_removed += chunk.expired_removed;
      job.report.tombstones_purged += chunk.tombstones_purged;
      if (finished) {
        spdlog::info("storage.sweep_done path={} scanned={} expired_removed={} "
                     "tombstones_purged={}", options_.path, job.report.keys_scanned,
                     job.report.expired_removed, job.report.tombstones_purged);
        Deliver([cb = std::move(job.done), r = job.report]() mutable { cb(r); });
        job.done = nullptr;
      }
    }
    break;
  }
  if (rc != 0) {
    const Status failed = WriteError(rc, options_.path, map_mb_, options_.map_size_max_mb);
    Deliver([cb = std::move(job.done), failed]() mutable { cb(failed); });
    job.done = nullptr;
  }
}

void LmdbEngine::Impl::FlusherLoop() {
  std::unique_lock lk(flush_mu_);
  while (!flush_stop_) {
    // Sleep the whole interval: an fsync per interval, however many
    // commits, is what makes kFlush cheap. Only shutdown and a Sync()
    // waiting for an fsync (hint delivery: rare) wake it early.
    if (flush_cv_.wait_for(lk, std::chrono::milliseconds(options_.flush_interval_ms),
                           [&] { return flush_stop_ || !durable_waiters_.empty(); }) &&
        flush_stop_) {
      break;
    }
    const uint64_t committed = committed_seq_.load();
    Status synced_status;
    if (committed != synced_seq_.load()) {
      lk.unlock();
      const int rc = mdb_env_sync(env_, 1);
      lk.lock();
      if (rc == 0) {
        uint64_t synced = synced_seq_.load();  // SyncNow may have raised it meanwhile
        while (synced < committed && !synced_seq_.compare_exchange_weak(synced, committed)) {
        }
        ++fsyncs_;
      } else {
        spdlog::error("storage.flush_failed path={} error={}: recent writes are not on disk",
                      options_.path, LmdbError(rc));
        synced_status = Status::IOError("fsync of " + options_.path + " failed: " + LmdbError(rc));
      }
    }
    // On a failed fsync the waiters it was for fail (their caller retries
    // later); otherwise those now on disk are done.
    std::vector<Engine::DoneCallback> done =
        TakeDurableWaiters(synced_status.ok() ? synced_seq_.load() : committed);
    if (done.empty()) continue;
    lk.unlock();
    DeliverDurable(std::move(done), synced_status);
    lk.lock();
  }
}

void LmdbEngine::Impl::Sync(Engine::DoneCallback done) {
  if (options_.durability != Durability::kFlush) {
    // A write that has called back is on disk in kSync; kNone never fsyncs.
    Deliver([done = std::move(done)]() mutable { done(Status::Ok()); });
    return;
  }
  {
    std::lock_guard lk(flush_mu_);
    // Every write that has called back was committed by now (a commit
    // counts itself before its callbacks run).
    const uint64_t seq = committed_seq_.load();
    if (seq > synced_seq_.load()) {
      durable_waiters_.emplace(seq, std::move(done));
      flush_cv_.notify_all();
      return;
    }
  }
  Deliver([done = std::move(done)]() mutable { done(Status::Ok()); });
}

std::vector<Engine::DoneCallback> LmdbEngine::Impl::TakeDurableWaiters(uint64_t seq) {
  std::vector<Engine::DoneCallback> done;
  for (auto it = durable_waiters_.begin(); it != durable_waiters_.end() && it->first <= seq;) {
    done.push_back(std::move(it->second));
    it = durable_waiters_.erase(it);
  }
  return done;
}

void LmdbEngine::Impl::DeliverDurable(std::vector<Engine::DoneCallback> done, const Status& s) {
  if (done.empty()) return;
  Deliver([done = std::move(done), s]() mutable {
    for (auto& cb : done) cb(s);
  });
}

Status LmdbEngine::Impl::SyncNow() {
  std::promise<Status> barrier;
  auto committed = barrier.get_future();
  Op op;
  op.kind = Op::Kind::kBarrier;
  // Completed on the writer thread whatever the executor, so that SyncNow
  // cannot deadlock when called from the executor's own thread.
  op.complete_inline = true;
  op.done = [&barrier](Status s) { barrier.set_value(s); };
  Submit(std::move(op));
  if (Status s = committed.get(); !s.ok()) return s;
  const uint64_t seq = committed_seq_.load();
  const int rc = mdb_env_sync(env_, 1);
  if (rc != 0) return Status::IOError("fsync of " + options_.path + " failed: " + LmdbError(rc));
  uint64_t synced = synced_seq_.load();
  while (synced < seq && !synced_seq_.compare_exchange_weak(synced, seq)) {
  }
  ++fsyncs_;
  return Status::Ok();
}

Result<SiblingSet> LmdbEngine::Impl::Get(const ObjectKey& key) {
  if (Status s = ValidateObjectKey(key); !s.ok()) return s;
  const std::string raw_key = EncodeObjectKey(key);
  Result<SiblingSet> out = Status::NotFound(key.ns + "/" + key.key);
  bool expired = false;
  {
    ReadTxn txn(*this);
    if (Status s = txn.status(*this); !s.ok()) return s;
    MDB_val k = Val(raw_key), v;
    const int rc = mdb_get(txn.get(), objects_, &k, &v);
    if (rc == MDB_NOTFOUND) return out;
    if (rc != 0) return Status::IOError("read of " + key.ns + "/" + key.key + " failed: " + LmdbError(rc));
    auto decoded = DecodeSiblingSet(View(v));
    if (!decoded.ok()) {
      return Status::Corruption("stored state of " + key.ns + "/" + key.key +
                                " does not decode: " + decoded.status().message());
    }
    expired = decoded->FullyExpiredAt(NowMs());
    if (!expired) out = std::move(decoded).value();
  }
  if (expired) Submit(Op{EngineOp::Expire(key)});
  return out;
}

Result<ScanPage> LmdbEngine::Impl::Scan(uint64_t first_hash, uint64_t last_hash,
                                        const ObjectKey* resume_after, size_t limit) {
  ScanPage page;
  ReadTxn txn(*this);
  if (Status s = txn.status(*this); !s.ok()) return s;
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn.get(), objects_, &cursor);
  if (rc != 0) return Status::IOError("cannot scan " + options_.path + ": " + LmdbError(rc));
  std::string seek;
  if (resume_after != nullptr) {
    seek = EncodeObjectKey(*resume_after) + '\0';
  } else {
    PutU64Be(seek, first_hash);
  }
  MDB_val k = Val(seek), v;
  const uint64_t now = NowMs();
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    const std::string_view raw = View(k);
    if (raw.size() < 8) continue;
    const uint64_t hash = GetU64Be(reinterpret_cast<const unsigned char*>(raw.data()));
    if (hash < first_hash) continue;
    if (hash > last_hash) break;
    if (page.entries.size() >= limit) {
      page.more = true;
      break;
    }
    auto key = DecodeObjectKey(raw);
    auto state = DecodeSiblingSet(View(v));
    if (!key || !state.ok()) {
      spdlog::error("storage.undecodable_record path={} skipped during scan", options_.path);
      continue;
    }
    if (state->FullyExpiredAt(now)) continue;
    page.entries.push_back(KeyState{std::move(*key), std::move(state).value()});
  }
  mdb_cursor_close(cursor);
  if (rc != 0 && rc != MDB_NOTFOUND) return Status::IOError("scan failed: " + LmdbError(rc));
  return page;
}

Result<std::vector<Hint>> LmdbEngine::Impl::ListHints(std::string_view target, size_t limit) {
  std::vector<Hint> out;
  ReadTxn txn(*this);
  if (Status s = txn.status(*this); !s.ok()) return s;
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn.get(), hints_, &cursor);
  if (rc != 0) return Status::IOError("cannot read hints: " + LmdbError(rc));
  const std::string prefix = HintPrefix(target);
  MDB_val k = Val(prefix), v;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE); rc == 0 && out.size() < limit;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    if (!View(k).starts_with(prefix)) break;
    auto hint = DecodeHint(View(k), View(v));
    if (!hint.ok()) {
      spdlog::error("storage.undecodable_hint target={} error={}", target, hint.status().ToString());
      continue;
    }
    out.push_back(std::move(hint).value());
  }
  mdb_cursor_close(cursor);
  return out;
}

Result<std::vector<std::string>> LmdbEngine::Impl::HintTargets() {
  std::vector<std::string> out;
  ReadTxn txn(*this);
  if (Status s = txn.status(*this); !s.ok()) return s;
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn.get(), hints_, &cursor);
  if (rc != 0) return Status::IOError("cannot read hints: " + LmdbError(rc));
  MDB_val k, v;
  rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
  while (rc == 0) {
    const std::string_view raw = View(k);
    const size_t n = raw.empty() ? 0 : static_cast<unsigned char>(raw[0]);
    if (raw.size() < 1 + n) break;
    out.emplace_back(raw.substr(1, n));
    // Jump past every hint of this target.
    std::string next = PrefixSuccessor(HintPrefix(out.back()));
    if (next.empty()) break;
    k = Val(next);
    rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
  }
  mdb_cursor_close(cursor);
  return out;
}

Result<HintStats> LmdbEngine::Impl::HintStatsNow() {
  HintStats stats;
  ReadTxn txn(*this);
  if (Status s = txn.status(*this); !s.ok()) return s;
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn.get(), hints_, &cursor);
  if (rc != 0) return Status::IOError("cannot read hints: " + LmdbError(rc));
  MDB_val k, v;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    ++stats.count;
    if (v.mv_size >= 8) {
      uint64_t created = 0;
      const auto* p = static_cast<const unsigned char*>(v.mv_data);
      for (int i = 7; i >= 0; --i) created = (created << 8) | p[i];
      if (stats.oldest_created_ms == 0 || created < stats.oldest_created_ms) {
        stats.oldest_created_ms = created;
      }
    }
  }
  mdb_cursor_close(cursor);
  return stats;
}

// ---- LmdbEngine: thin forwarding to Impl ----

Result<std::unique_ptr<LmdbEngine>> LmdbEngine::Open(LmdbEngineOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  if (Status s = impl->Open(); !s.ok()) return s;
  return std::unique_ptr<LmdbEngine>(new LmdbEngine(std::move(impl)));
}

LmdbEngine::LmdbEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
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

void LmdbEngine::Sweep(uint64_t tombstone_grace_ms, SweepCallback done) {
  impl_->SubmitSweep(tombstone_grace_ms, std::move(done));
}

void LmdbEngine::Sync(std::string_view /*ns*/, DoneCallback done) { impl_->Sync(std::move(done)); }

uint64_t LmdbEngine::incarnation() const { return impl_->incarnation(); }
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
