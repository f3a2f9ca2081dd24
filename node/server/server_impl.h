// Server::Impl: the state of one trolleyd process, shared by the files that
// implement it by role (docs/design.md, 'The runtime: trolleyd'):
//   server.cc        opening (storage, ring, node, listener), Run and Stop
//   inbound.cc       accepting connections and serving them
//   housekeeping.cc  the tick, the engines' cork per loop turn, the
//                    tombstone sweep and the shutdown sequence
//   admin.cc         the admin listener's routes: /metrics, /healthz,
//                    /readyz, /admin/backup (node/server/admin_http.h)
// and peer_link.h, this node's links to its peers. Internal to trolley_server.
// Threading: everything here runs on the event-loop thread (server.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/asio.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/random.h"
#include "node/node.h"
#include "node/server/admin_http.h"
#include "node/server/config.h"
#include "node/server/peer_link.h"
#include "node/server/server.h"
#include "node/server/spdlog_logger.h"
#include "storage/lmdb/lmdb_engine.h"
#include "storage/namespace_router.h"
#include "wire/asio/framed_connection.h"
#include "wire/asio/tls.h"
#include "wire/handshake.h"

namespace trolley {

struct Server::Impl final : Transport {
  using SteadyTime = std::chrono::steady_clock::time_point;

  // A connection someone opened to this node: a client's, or a peer's
  // link (state.peer). Owned by `inbound`; erased when its connection closes.
  struct Inbound {
    uint64_t id = 0;
    InboundState state;
    std::shared_ptr<TcpOrTlsConnection> connection;
  };

  explicit Impl(ServerConfig c);

  // Transport: a node id goes to that peer's link, a connection id to that
  // inbound connection; anything else is dropped.
  void Send(const Endpoint& to, Message message) override;

  // server.cc
  Status Open();
  // The TLS context from config's [tls] (none when TLS is off), and the
  // loud warning of `insecure`.
  Status SetUpTls();
  Status OpenEngines();
  Status CreateNode();
  Status Listen();

  // inbound.cc
  void StartAccept();
  void OnAccept(asio::ip::tcp::socket socket);
  void OnInboundFrame(Inbound& c, std::string frame);
  // Before the first message: what the connection's certificate proved.
  Status IdentifyInbound(Inbound& c);
  // False when the connection was closed for holding too many unread
  // bytes (output_bytes_max): `c` is then gone.
  [[nodiscard]] bool SendInbound(Inbound& c, const Message& m);
  void LogRefusal(const Inbound& c, const Status& why);
  // Sends `reply` (an ErrorReply), then closes once it is written.
  void Refuse(Inbound& c, const Message& reply, const Status& why);
  void CloseInbound(Inbound& c);

  // housekeeping.cc
  void CorkTurn();
  void ArmTick();
  void ArmSweep();
  void BeginShutdown();
  void DrainThenStop(SteadyTime deadline);
  void CloseEverything();

  // admin.cc
  // One engine's metrics, refreshed from LmdbEngine::Snapshot at each scrape.
  struct EngineMetrics {
    explicit EngineMetrics(std::string mode);
    void Refresh(const LmdbEngine::MetricsSnapshot& s);
    std::string mode;  // the env label: sync, flush, none
    MetricRegistry registry;
    Gauge& map_bytes;
    Gauge& map_used_bytes;
    Counter& commits;
    Counter& ops_committed;
    Counter& fsyncs;
    Counter& map_resizes;
    LatencyHistogram& commit_batch_ops;
    LatencyHistogram& fsync_us;
  };
  Status StartAdmin();
  void OnAdminRequest(const AdminRequest& r, AdminHttp::Respond respond);
  std::string MetricsText();
  // Empty when ready to serve (docs/operations.md: /readyz); else why not.
  std::string NotReadyReason() const;
  void StartBackup(const std::string& dir, AdminHttp::Respond respond);
  // Joins the backup thread (after it finished, or waiting for it).
  void JoinBackup();

  ServerConfig config;
  asio::io_context io{1};
  std::unique_ptr<asio::ssl::context> tls;  // null: TLS off
  asio::ip::tcp::acceptor acceptor{io};
  asio::steady_timer tick_timer{io}, sweep_timer{io}, drain_timer{io};
  asio::signal_set signals{io};
  SystemClock clock;
  Random random;
  SpdlogLogger logger;
  std::vector<std::unique_ptr<LmdbEngine>> engines;
  std::unique_ptr<NamespaceRouter> router;
  std::unique_ptr<Node> node;
  std::optional<InboundPolicy> policy;
  std::map<uint64_t, std::unique_ptr<Inbound>> inbound;
  std::map<std::string, std::unique_ptr<PeerLink>> peers;
  uint64_t last_connection_id = 0;
  std::unique_ptr<AdminHttp> admin;
  std::vector<std::unique_ptr<EngineMetrics>> engine_metrics;  // as `engines`
  MetricRegistry runtime_registry;  // what the runtime knows and the node does not
  Gauge& hints_pending = runtime_registry.AddGauge(
      "hints_pending", "Hints stored here for owners that have not taken them yet.");
  Gauge& hints_oldest_age_ms = runtime_registry.AddGauge(
      "hints_oldest_age_ms", "Age of the oldest hint stored here, milliseconds (0: none).");
  Gauge& connections_open =
      runtime_registry.AddGauge("connections_open", "Inbound connections (clients and peers).");
  Gauge& ready = runtime_registry.AddGauge("ready", "1 while /readyz answers 200, else 0.");
  std::thread backup_thread;
  bool backup_running = false;
  bool corked = false;
  bool stopping = false;
};

}  // namespace trolley
