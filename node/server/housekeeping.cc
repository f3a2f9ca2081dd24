// The server's timers and loop-level duties (docs/design.md, 'The runtime:
// trolleyd'): the node's tick, the engines' cork per loop turn, the
// tombstone sweep, and the shutdown sequence.
#include <spdlog/spdlog.h>

#include "node/server/server_impl.h"

namespace trolley {
namespace {

constexpr auto kTickInterval = std::chrono::milliseconds(5);
constexpr auto kShutdownGrace = std::chrono::seconds(2);

}  // namespace

void Server::Impl::CorkTurn() {
  if (corked) return;
  corked = true;
  router->Cork();
  // Runs after every handler already queued: the reads that completed in
  // this poll share the cork, and so one commit per engine.
  asio::post(io, [this] {
    corked = false;
    router->Uncork();
  });
}

void Server::Impl::ArmTick() {
  tick_timer.expires_after(kTickInterval);
  tick_timer.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    node->Tick();
    ArmTick();
  });
}

void Server::Impl::ArmSweep() {
  sweep_timer.expires_after(std::chrono::milliseconds(config.sweep_interval_ms));
  sweep_timer.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    // With anti-entropy on, a tombstone is purged only once every other
    // replica had a clean exchange since it was written (docs/design.md,
    // 'Active anti-entropy'); the cutoff is a copy, read on the writer thread.
    TombstoneCutoff cutoff =
        config.aae_enabled != 0 ? node->TombstoneCutoffSnapshot() : TombstoneCutoff();
    router->Sweep(config.tombstone_grace_ms, std::move(cutoff), [](Result<SweepReport> r) {
      if (!r.ok()) {
        spdlog::error("sweep.failed error=\"{}\"", r.status().ToString());
      } else if (r->expired_removed + r->tombstones_purged + r->tombstones_kept +
                     r->aae_index_fixed >
                 0) {
        spdlog::info(
            "sweep.done keys={} expired_removed={} tombstones_purged={} tombstones_kept={} "
            "aae_index_fixed={}",
            r->keys_scanned, r->expired_removed, r->tombstones_purged, r->tombstones_kept,
            r->aae_index_fixed);
      }
    });
    ArmSweep();
  });
}

void Server::Impl::BeginShutdown() {
  if (stopping) return;
  stopping = true;
  spdlog::info("trolleyd.stopping node={} pending_requests={}", config.node_id,
               node->PendingRequests());
  boost::system::error_code ignored;
  acceptor.close(ignored);
  DrainThenStop(std::chrono::steady_clock::now() + kShutdownGrace);
}

void Server::Impl::DrainThenStop(SteadyTime deadline) {
  if (node->PendingRequests() == 0 || std::chrono::steady_clock::now() >= deadline) {
    CloseEverything();
    io.stop();
    return;
  }
  drain_timer.expires_after(std::chrono::milliseconds(10));
  drain_timer.async_wait([this, deadline](boost::system::error_code) { DrainThenStop(deadline); });
}

void Server::Impl::CloseEverything() {
  stopping = true;
  boost::system::error_code ignored;
  acceptor.close(ignored);
  tick_timer.cancel();
  sweep_timer.cancel();
  drain_timer.cancel();
  signals.cancel(ignored);
  if (admin) admin->Close();
  for (auto& [id, c] : inbound) c->connection->Close();
  inbound.clear();
  for (auto& [id, link] : peers) link->Close();
}

}  // namespace trolley
