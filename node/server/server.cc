// Server: opening a trolleyd (storage, ring, node, listener), Run and Stop.
// The rest of Server::Impl is split by role (server_impl.h): inbound.cc,
// housekeeping.cc, and peer_link.h for the links to peers. See
// docs/design.md, 'The runtime: trolleyd'.
#include "node/server/server.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include "common/host_port.h"
#include "node/server/server_impl.h"

namespace trolley {
namespace {

using tcp = asio::ip::tcp;

Result<tcp::endpoint> Resolve(asio::io_context& io, const std::string& address,
                              const std::string& field) {
  auto hp = ParseHostPort(address, field);
  if (!hp.ok()) return hp.status();
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(hp->host, ec);
  if (!ec) return tcp::endpoint(ip, hp->port);
  tcp::resolver resolver(io);
  auto results = resolver.resolve(hp->host, std::to_string(hp->port), ec);
  if (ec || results.empty()) {
    return Status::InvalidArgument(field + ": cannot resolve '" + hp->host + "': " + ec.message());
  }
  return results.begin()->endpoint();
}

}  // namespace

Server::Impl::Impl(ServerConfig c) : config(std::move(c)), random(std::random_device{}()) {}

void Server::Impl::Send(const Endpoint& to, Message message) {
  if (to.IsNode()) {
    auto it = peers.find(to.node);
    if (it == peers.end()) return;
    // Shutting down: use the links that are up, dial none.
    if (stopping && it->second->idle()) return;
    it->second->Send(message);
    return;
  }
  auto it = inbound.find(to.connection);
  if (it != inbound.end()) (void)SendInbound(*it->second, message);
}

// data_dir/NAMESPACES records which engine (durability) holds each
// namespace. Moving a namespace to another engine would hide its keys and
// could reissue dots (each engine keeps its own counters), so a changed
// durability is refused until a migration exists; new namespaces are added.
static Status CheckNamespaceLayout(const ServerConfig& config) {
  const std::filesystem::path path = std::filesystem::path(config.data_dir) / "NAMESPACES";
  std::map<std::string, std::string> recorded;
  if (std::ifstream in(path); in) {
    std::string name, durability;
    while (in >> name >> durability) recorded[name] = durability;
  }
  bool changed = false;
  for (size_t i = 0; i < config.namespaces.size(); ++i) {
    const ServerNamespace& ns = config.namespaces[i];
    const std::string mode(DurabilityName(ns.durability));
    auto it = recorded.find(ns.options.name);
    if (it == recorded.end()) {
      recorded[ns.options.name] = mode;
      changed = true;
    } else if (it->second != mode) {
      return Status::FailedPrecondition(
          "namespaces[" + std::to_string(i) + "].durability: '" + ns.options.name +
          "' holds data written with durability " + it->second + " in " + config.data_dir +
          "; changing it to " + mode + " needs a data migration, which trolleyd does not do yet");
    }
  }
  if (!changed) return Status::Ok();
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& [name, mode] : recorded) out << name << " " << mode << "\n";
    out.flush();
    if (!out) return Status::IOError("cannot write " + tmp.string());
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::IOError("cannot write " + path.string() + ": " + ec.message());
  return Status::Ok();
}

Status Server::Impl::SetUpTls() {
  if (!config.tls()) {
    if (config.insecure) {
      spdlog::warn(
          "trolleyd.insecure tls=off listen={} INSECURE: insecure = true and no [tls]: anyone "
          "who reaches this port can act as a peer or a client and overwrite any cart; set "
          "[tls] ca_file, cert_file, key_file to authenticate connections",
          config.ListenAddress());
    }
    return Status::Ok();
  }
  auto context = MakeTlsContext(
      TlsFiles{config.tls_ca_file, config.tls_cert_file, config.tls_key_file}, TlsRole::kNode);
  if (!context.ok()) return context.status();
  auto identity = CertificateFileIdentity(config.tls_cert_file);
  if (!identity.ok()) return identity.status();
  if (identity->kind != PeerIdentity::Kind::kNode || identity->name != config.node_id) {
    return Status::InvalidArgument(
        "tls.cert_file: '" + config.tls_cert_file + "' is " + identity->Describe() +
        "'s certificate, not this node's (its subjectAltName must be URI:trolley:node:" +
        config.node_id + ")");
  }
  tls = std::move(*context);
  return Status::Ok();
}

Status Server::Impl::Open() {
  if (Status s = SetUpTls(); !s.ok()) return s;
  if (Status s = CheckNamespaceLayout(config); !s.ok()) return s;
  if (Status s = OpenEngines(); !s.ok()) return s;
  if (Status s = CreateNode(); !s.ok()) return s;
  if (Status s = Listen(); !s.ok()) return s;
  if (Status s = StartAdmin(); !s.ok()) return s;
  spdlog::info(
      "trolleyd.started node={} listen={} tls={} admin={} data_dir={} incarnation={} members={} "
      "partitions={} engines={}",
      config.node_id, config.ListenAddress(), tls != nullptr ? "on" : "off",
      admin ? config.AdminAddress() : "off", config.data_dir, router->incarnation(),
      config.members.size(), config.partitions, engines.size());
  return Status::Ok();
}

// One engine per durability mode in use; the sync engine (if any) also
// takes namespaces this node was not configured with (merges from peers).
Status Server::Impl::OpenEngines() {
  std::map<Durability, size_t> engine_of;
  std::vector<Engine*> children;
  std::map<std::string, size_t, std::less<>> routes;
  for (Durability d : {Durability::kSync, Durability::kFlush, Durability::kNone}) {
    bool used = false;
    for (const ServerNamespace& ns : config.namespaces) used = used || ns.durability == d;
    if (!used) continue;
    LmdbEngineOptions options;
    options.path =
        (std::filesystem::path(config.data_dir) / std::string(DurabilityName(d))).string();
    options.durability = d;
    options.flush_interval_ms = config.flush_interval_ms;
    options.map_size_mb = config.map_size_mb;
    options.map_size_max_mb = config.map_size_max_mb;
    options.siblings_warn = config.siblings_warn;
    options.siblings_max = config.siblings_max;
    options.object_bytes_warn = config.object_bytes_warn;
    options.object_bytes_max = config.object_bytes_max;
    options.max_readers = static_cast<unsigned>(config.max_readers);
    options.clock = &clock;
    options.completion_executor = [this](std::function<void()> fn) {
      asio::post(io, std::move(fn));
    };
    auto engine = LmdbEngine::Open(options);
    if (!engine.ok()) return engine.status();
    engine_of[d] = engines.size();
    children.push_back(engine->get());
    engines.push_back(std::move(*engine));
    engine_metrics.push_back(std::make_unique<EngineMetrics>(std::string(DurabilityName(d))));
  }
  for (const ServerNamespace& ns : config.namespaces)
    routes[ns.options.name] = engine_of[ns.durability];
  router = std::make_unique<NamespaceRouter>(children, routes, size_t{0});
  return Status::Ok();
}

// The ring, the node, the handshake policy and one link per peer.
Status Server::Impl::CreateNode() {
  std::vector<NodeId> members;
  std::vector<std::string> member_ids;
  for (const auto& [id, address] : config.members) {
    members.push_back(NodeId{id});
    member_ids.push_back(id);
  }
  auto ring = Ring::Build(members, config.partitions);
  if (!ring.ok()) return ring.status();

  NodeOptions options;
  options.node_id = config.node_id;
  for (const ServerNamespace& ns : config.namespaces) {
    options.namespaces.push_back(ns.options);
    options.namespaces.back().merge = std::string(MergeSemanticsName(ns.merge));
  }
  options.member_addresses = config.members;
  options.request_timeout_ms = config.request_timeout_ms;
  options.replica_timeout_ms = config.replica_timeout_ms;
  options.hints_max = config.hints_max;
  options.hint_age_max_ms = config.hint_age_max_ms;
  options.ping_interval_ms = config.ping_interval_ms;
  options.hint_delivery_interval_ms = config.hint_delivery_interval_ms;
  options.hint_backoff_max_ms = config.hint_backoff_max_ms;
  options.aae_enabled = config.aae_enabled != 0;
  options.aae_interval_ms = config.aae_interval_ms;
  options.aae_keys_per_second = config.aae_keys_per_second;
  options.aae_bytes_per_second = config.aae_bytes_per_second;
  options.aae_segments_per_exchange = config.aae_segments_per_exchange;
  options.aae_exchange_timeout_ms = config.aae_exchange_timeout_ms;
  options.slow_request_ms = config.slow_request_ms;
  auto created = Node::Create(options, NodeEnv{this, &clock, router.get(), &random, &logger},
                              std::move(*ring));
  if (!created.ok()) return created.status();
  node = std::move(*created);
  policy.emplace(config.node_id, member_ids, tls != nullptr);

  PeerLinkCallbacks callbacks;
  callbacks.on_message = [this](const std::string& peer, Message m) {
    node->OnMessage(Endpoint{peer, 0}, std::move(m));
  };
  callbacks.on_unreachable = [this](const std::string& peer) {
    if (!stopping) node->OnPeerUnreachable(peer);
  };
  for (size_t i = 0; i < config.members.size(); ++i) {
    const auto& [id, address] = config.members[i];
    if (id == config.node_id) continue;
    auto endpoint = Resolve(io, address, "members[" + std::to_string(i) + "].address");
    if (!endpoint.ok()) return endpoint.status();
    peers[id] = std::make_unique<PeerLink>(io, config.node_id, id, *endpoint,
                                           config.output_bytes_max, tls.get(), callbacks);
  }
  return Status::Ok();
}

Status Server::Impl::Listen() {
  auto listen = Resolve(io, config.ListenAddress(), "listen");
  if (!listen.ok()) return listen.status();
  boost::system::error_code ec;
  acceptor.open(listen->protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(*listen, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IOError("cannot listen on " + config.ListenAddress() + ": " + ec.message() +
                           " (is another trolleyd using it? set listen or the member address)");
  }
  return Status::Ok();
}

// ---- Server ----

Result<std::unique_ptr<Server>> Server::Create(ServerConfig config) {
  if (Status s = config.Validate(); !s.ok()) return s;
  auto impl = std::make_unique<Impl>(std::move(config));
  if (Status s = impl->Open(); !s.ok()) return s;
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  // The node goes before the engines it uses; the engines drain and sync
  // in their destructors (their last completions are never run).
  impl_->CloseEverything();
  impl_->JoinBackup();  // it reads the engines
  impl_->admin.reset();
  impl_->node.reset();
  impl_->router.reset();
  impl_->engines.clear();
  spdlog::info("trolleyd.stopped node={}", impl_->config.node_id);
}

void Server::Run(bool handle_signals) {
  Impl& s = *impl_;
  if (handle_signals) {
    s.signals.add(SIGTERM);
    s.signals.add(SIGINT);
    s.signals.async_wait([&s](boost::system::error_code ec, int signo) {
      if (ec) return;
      spdlog::info("trolleyd.signal signal={}", signo);
      s.BeginShutdown();
    });
  }
  s.StartAccept();
  s.ArmTick();
  s.ArmSweep();
  s.io.run();
  s.CloseEverything();
  // Let aborted handlers run so that connections are released.
  s.io.restart();
  s.io.poll();
}

void Server::Stop() {
  asio::post(impl_->io, [impl = impl_.get()] { impl->BeginShutdown(); });
}

uint16_t Server::port() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

}  // namespace trolley
