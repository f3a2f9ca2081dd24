// The admin listener's routes (docs/operations.md, 'Metrics, health checks
// and backups'; docs/design.md, 'The runtime: trolleyd'):
//   GET  /metrics        Prometheus text: the node's registry, the runtime's
//                        gauges and one registry per LMDB environment
//   GET  /healthz        200 while the event loop answers
//   GET  /readyz         200 when ready to serve, else 503 and why
//   POST /admin/backup   body: an absolute directory; a compacted hot copy of
//                        every environment and the NAMESPACES file goes there
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>

#include "node/server/prometheus_text.h"
#include "node/server/server_impl.h"

namespace trolley {
namespace {

constexpr char kPrometheusType[] = "text/plain; version=0.0.4; charset=utf-8";

AdminResponse Text(unsigned status, std::string body) {
  return AdminResponse{status, "text/plain; charset=utf-8", std::move(body)};
}

uint64_t DirBytes(const std::filesystem::path& dir) {
  uint64_t bytes = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec)) bytes += entry.file_size(ec);
  }
  return bytes;
}

}  // namespace

Server::Impl::EngineMetrics::EngineMetrics(std::string m)
    : mode(std::move(m)),
      map_bytes(registry.AddGauge("lmdb_map_bytes", "The LMDB map's current size, bytes.")),
      map_used_bytes(registry.AddGauge("lmdb_map_used_bytes",
                                       "LMDB pages in use times the page size, bytes.")),
      commits(registry.AddCounter("lmdb_commits", "LMDB write transactions committed.")),
      ops_committed(registry.AddCounter(
          "lmdb_ops_committed",
          "Operations committed: writes, deletes, hint changes, sync barriers.")),
      fsyncs(registry.AddCounter("lmdb_fsyncs", "fsyncs of the environment.")),
      map_resizes(registry.AddCounter("lmdb_map_resizes", "Times the LMDB map doubled.")),
      commit_batch_ops(registry.AddHistogram("lmdb_commit_batch_ops",
                                             "Operations per committed batch (group commit).",
                                             HistogramUnit::kCount)),
      fsync_us(registry.AddHistogram(
          "lmdb_fsync_us", "Duration of each fsync (in sync mode: each commit), microseconds.")) {}

void Server::Impl::EngineMetrics::Refresh(const LmdbEngine::MetricsSnapshot& s) {
  map_bytes.Set(s.map_bytes);
  map_used_bytes.Set(s.map_used_bytes);
  // The engine's counters only go up: add what is new since the last scrape.
  commits.Add(s.counters.commits - commits.value());
  ops_committed.Add(s.counters.ops_committed - ops_committed.value());
  fsyncs.Add(s.counters.fsyncs - fsyncs.value());
  map_resizes.Add(s.counters.map_resizes - map_resizes.value());
  commit_batch_ops = s.commit_batch_ops;
  fsync_us = s.fsync_us;
}

Status Server::Impl::StartAdmin() {
  if (config.admin_port == 0) return Status::Ok();
  auto started = AdminHttp::Start(io, config.admin_host, static_cast<uint16_t>(config.admin_port),
                                  [this](const AdminRequest& r, AdminHttp::Respond respond) {
                                    OnAdminRequest(r, std::move(respond));
                                  });
  if (!started.ok()) return started.status();
  admin = std::move(*started);
  return Status::Ok();
}

void Server::Impl::OnAdminRequest(const AdminRequest& r, AdminHttp::Respond respond) {
  const std::string path = r.target.substr(0, r.target.find('?'));
  const bool get = r.method == "GET";
  if (path == "/metrics" && get) {
    respond(AdminResponse{200, kPrometheusType, MetricsText()});
  } else if (path == "/healthz" && get) {
    respond(Text(200, "ok\n"));
  } else if (path == "/readyz" && get) {
    const std::string why = NotReadyReason();
    respond(why.empty() ? Text(200, "ready\n") : Text(503, "not ready: " + why + "\n"));
  } else if (path == "/admin/backup" && r.method == "POST") {
    StartBackup(r.body, std::move(respond));
  } else if (path == "/metrics" || path == "/healthz" || path == "/readyz" ||
             path == "/admin/backup") {
    respond(Text(405, "method not allowed\n"));
  } else {
    respond(Text(404, "not found; routes: /metrics /healthz /readyz, POST /admin/backup\n"));
  }
}

std::string Server::Impl::MetricsText() {
  if (Result<HintStats> stats = router->hints().Stats(); stats.ok()) {
    hints_pending.Set(stats->count);
    const uint64_t now_ms = clock.NowWallMs();
    hints_oldest_age_ms.Set(stats->count == 0 || stats->oldest_created_ms > now_ms
                                ? 0
                                : now_ms - stats->oldest_created_ms);
  }
  connections_open.Set(inbound.size());
  ready.Set(NotReadyReason().empty() ? 1 : 0);
  PrometheusText text;
  text.Add(node->metrics());
  text.Add(runtime_registry);
  for (size_t i = 0; i < engines.size(); ++i) {
    engine_metrics[i]->Refresh(engines[i]->Snapshot());
    text.Add(engine_metrics[i]->registry, {{"env", engine_metrics[i]->mode}});
  }
  return text.Serialize();
}

// Ready: not shutting down, storage open (it is while the server exists),
// and for every namespace at least its W nodes up as this node sees them
// (itself included), so that a write it coordinates can meet W.
std::string Server::Impl::NotReadyReason() const {
  if (stopping) return "shutting down";
  uint32_t up = 0;
  std::string down;
  for (const auto& [id, address] : config.members) {
    if (id == config.node_id || node->IsUp(id)) {
      ++up;
    } else {
      down += (down.empty() ? "" : ", ") + id;
    }
  }
  for (const ServerNamespace& ns : config.namespaces) {
    if (up >= ns.options.w) continue;
    return "namespace " + ns.options.name + " needs w=" + std::to_string(ns.options.w) +
           " nodes up, this node sees " + std::to_string(up) + " (down: " + down + ")";
  }
  return "";
}

void Server::Impl::StartBackup(const std::string& dir_text, AdminHttp::Respond respond) {
  std::string dir = dir_text;
  while (!dir.empty() && (dir.back() == '\n' || dir.back() == '\r')) dir.pop_back();
  const std::filesystem::path target(dir);
  if (dir.empty() || !target.is_absolute()) {
    respond(Text(400, "the request body must be an absolute directory path, got '" + dir + "'\n"));
    return;
  }
  std::error_code ec;
  if (std::filesystem::exists(target, ec) && !std::filesystem::is_empty(target, ec)) {
    respond(Text(409, dir + " exists and is not empty; a backup goes into a new directory\n"));
    return;
  }
  if (backup_running) {
    respond(Text(409, "a backup is already running; try again when it is done\n"));
    return;
  }
  JoinBackup();  // the previous one, finished
  backup_running = true;
  spdlog::info("backup.started dir={}", dir);
  std::vector<std::pair<std::string, LmdbEngine*>> copies;
  for (size_t i = 0; i < engines.size(); ++i) {
    copies.emplace_back(engine_metrics[i]->mode, engines[i].get());
  }
  const std::filesystem::path layout = std::filesystem::path(config.data_dir) / "NAMESPACES";
  backup_thread = std::thread([this, target, copies, layout, respond = std::move(respond)] {
    const auto start = std::chrono::steady_clock::now();
    Status status = Status::Ok();
    for (const auto& [mode, engine] : copies) {
      status = engine->CopyCompacted((target / mode).string());
      if (!status.ok()) break;
    }
    std::error_code copy_ec;
    if (status.ok()) std::filesystem::copy_file(layout, target / "NAMESPACES", copy_ec);
    if (status.ok() && copy_ec) {
      status = Status::IOError("cannot copy " + layout.string() + ": " + copy_ec.message());
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    const uint64_t bytes = status.ok() ? DirBytes(target) : 0;
    asio::post(io, [this, status, target, ms, bytes, respond] {
      backup_running = false;
      if (!status.ok()) {
        spdlog::error("backup.failed dir={} error=\"{}\"", target.string(), status.ToString());
        respond(Text(500, "backup failed: " + status.ToString() + "\n"));
        return;
      }
      spdlog::info("backup.done dir={} bytes={} ms={}", target.string(), bytes, ms);
      respond(Text(200, "backup done: " + target.string() + " (" + std::to_string(bytes) +
                            " bytes, " + std::to_string(ms) + " ms)\n"));
    });
  });
}

void Server::Impl::JoinBackup() {
  if (backup_thread.joinable()) backup_thread.join();
}

}  // namespace trolley
