// LmdbEngine's durability waits: kFlush's flusher thread, Sync() and
// SyncNow() (lmdb_engine_impl.h).
#include <spdlog/spdlog.h>

#include <chrono>
#include <future>

#include "common/assert.h"
#include "storage/lmdb/lmdb_engine_impl.h"

namespace trolley {

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
    const Status synced_status = FlushOnce(lk, committed);
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

Status LmdbEngine::Impl::FlushOnce(std::unique_lock<std::mutex>& lk, uint64_t committed) {
  if (committed == synced_seq_.load()) return Status::Ok();
  lk.unlock();
  const uint64_t start_ns = options_.clock->NowMonotonicNs();
  const int rc = mdb_env_sync(env_, 1);
  if (rc == 0) RecordFsync(start_ns);
  lk.lock();
  if (rc != 0) {
    spdlog::error("storage.flush_failed path={} error={}: recent writes are not on disk",
                  options_.path, LmdbError(rc));
    return Status::IOError("fsync of " + options_.path + " failed: " + LmdbError(rc));
  }
  MarkSynced(committed);  // SyncNow may have raised it meanwhile
  ++fsyncs_;
  return Status::Ok();
}

void LmdbEngine::Impl::MarkSynced(uint64_t seq) {
  uint64_t synced = synced_seq_.load();
  while (synced < seq && !synced_seq_.compare_exchange_weak(synced, seq)) {
  }
  // Loaded in this order, a later commit can only make the check looser.
  const uint64_t synced_now = synced_seq_.load();
  TROLLEY_ASSERT(synced_now <= committed_seq_.load());
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
  const uint64_t start_ns = options_.clock->NowMonotonicNs();
  const int rc = mdb_env_sync(env_, 1);
  if (rc == 0) RecordFsync(start_ns);
  if (rc != 0) return Status::IOError("fsync of " + options_.path + " failed: " + LmdbError(rc));
  MarkSynced(seq);
  ++fsyncs_;
  return Status::Ok();
}

}  // namespace trolley
