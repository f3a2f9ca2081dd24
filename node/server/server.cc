#include "node/server/server.h"

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include <spdlog/spdlog.h>

#include "common/asio.h"
#include "common/clock.h"
#include "common/random.h"
#include "node/node.h"
#include "node/server/spdlog_logger.h"
#include "storage/lmdb/lmdb_engine.h"
#include "storage/namespace_router.h"
#include "wire/frame.h"
#include "wire/message_codec.h"

namespace trolley {
namespace {

using tcp = asio::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr auto kTickInterval = std::chrono::milliseconds(5);
constexpr auto kIdleCheckInterval = std::chrono::milliseconds(100);
constexpr auto kShutdownGrace = std::chrono::seconds(2);
constexpr uint64_t kRedialBackoffMinMs = 50;
constexpr uint64_t kRedialBackoffMaxMs = 1000;
constexpr size_t kReadChunkBytes = 64 * 1024;

SteadyTime Now() { return std::chrono::steady_clock::now(); }

// What a client (a connection whose Hello had no node id) may send.
bool ClientMayAsk(const Message& m) {
  return std::holds_alternative<ClientGet>(m) || std::holds_alternative<ClientPut>(m) ||
         std::holds_alternative<RingInfoRequest>(m) || std::holds_alternative<StatusRequest>(m) ||
         std::holds_alternative<Ping>(m) || std::holds_alternative<ReplicaGet>(m);
}

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

struct Server::Impl final : Transport {
  // A connection someone opened to this node: a client's, or a peer's link.
  struct Inbound : std::enable_shared_from_this<Inbound> {
    Inbound(Impl* s, uint64_t i, tcp::socket sock) : server(s), id(i), socket(std::move(sock)) {}
    Impl* server;
    uint64_t id;
    tcp::socket socket;
    FrameDecoder decoder;
    std::array<char, kReadChunkBytes> chunk{};
    std::string out, writing_buf;
    bool writing = false, flush_posted = false, closing = false, closed = false;
    bool hello_done = false;
    std::string peer;  // non-empty: a peer's link
    SteadyTime last_read = Now();
  };

  // This node's link to one peer.
  struct PeerLink : std::enable_shared_from_this<PeerLink> {
    PeerLink(Impl* s, std::string p, tcp::endpoint a)
        : server(s), peer(std::move(p)), address(a), socket(s->io) {}
    enum class State { kIdle, kConnecting, kUp };
    Impl* server;
    std::string peer;
    tcp::endpoint address;
    tcp::socket socket;
    State state = State::kIdle;
    uint64_t generation = 0;  // bumped per dial, so stale handlers do nothing
    FrameDecoder decoder;
    std::array<char, 16 * 1024> chunk{};
    std::string out, writing_buf;
    bool writing = false, flush_posted = false;
    SteadyTime retry_at{};
    uint64_t backoff_ms = kRedialBackoffMinMs;
    uint64_t dropped = 0;
  };

  explicit Impl(ServerConfig c) : config(std::move(c)), random(std::random_device{}()) {}

  // Transport
  void Send(const Endpoint& to, Message message) override {
    if (to.IsNode()) {
      auto it = peers.find(to.node);
      if (it != peers.end()) SendToPeer(*it->second, message);
      return;
    }
    auto it = inbound.find(to.connection);
    if (it != inbound.end()) SendInbound(*it->second, message);
  }

  Status Open();
  void StartAccept();
  void OnAccept(tcp::socket socket);
  void StartRead(const std::shared_ptr<Inbound>& c);
  void OnRead(const std::shared_ptr<Inbound>& c, size_t n);
  // False when the connection must stop reading (it is closing).
  bool HandleFrame(Inbound& c, std::string_view frame);
  void Refuse(Inbound& c, RequestId id, StatusCode code, const std::string& why);
  void SendInbound(Inbound& c, const Message& m);
  void ScheduleFlush(const std::shared_ptr<Inbound>& c);
  void StartWrite(const std::shared_ptr<Inbound>& c);
  void Close(Inbound& c);

  void SendToPeer(PeerLink& link, const Message& m);
  void Dial(const std::shared_ptr<PeerLink>& link);
  void PeerRead(const std::shared_ptr<PeerLink>& link, uint64_t gen);
  void PeerScheduleFlush(const std::shared_ptr<PeerLink>& link);
  void PeerWrite(const std::shared_ptr<PeerLink>& link);
  void PeerFailed(PeerLink& link, const std::string& why);

  void CorkTurn();
  void ArmTick();
  void ArmIdleCheck();
  void ArmSweep();
  void BeginShutdown();
  void DrainThenStop(SteadyTime deadline);
  void CloseEverything();

  ServerConfig config;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::steady_timer tick_timer{io}, idle_timer{io}, sweep_timer{io}, drain_timer{io};
  asio::signal_set signals{io};
  SystemClock clock;
  Random random;
  SpdlogLogger logger;
  std::vector<std::unique_ptr<LmdbEngine>> engines;
  std::unique_ptr<NamespaceRouter> router;
  std::unique_ptr<Node> node;
  std::map<uint64_t, std::shared_ptr<Inbound>> inbound;
  std::map<std::string, std::shared_ptr<PeerLink>> peers;
  uint64_t last_connection_id = 0;
  bool corked = false;
  bool stopping = false;
};

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

Status Server::Impl::Open() {
  if (Status s = CheckNamespaceLayout(config); !s.ok()) return s;
  // One engine per durability mode in use; the sync engine (if any) also
  // takes namespaces this node was not configured with (merges from peers).
  std::map<Durability, size_t> engine_of;
  std::vector<Engine*> children;
  std::map<std::string, size_t, std::less<>> routes;
  for (Durability d : {Durability::kSync, Durability::kFlush, Durability::kNone}) {
    bool used = false;
    for (const ServerNamespace& ns : config.namespaces) used = used || ns.durability == d;
    if (!used) continue;
    LmdbEngineOptions options;
    options.path = (std::filesystem::path(config.data_dir) / std::string(DurabilityName(d))).string();
    options.durability = d;
    options.flush_interval_ms = config.flush_interval_ms;
    options.map_size_mb = config.map_size_mb;
    options.map_size_max_mb = config.map_size_max_mb;
    options.siblings_max = config.siblings_max;
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
  }
  for (const ServerNamespace& ns : config.namespaces) routes[ns.options.name] = engine_of[ns.durability];
  router = std::make_unique<NamespaceRouter>(children, routes, size_t{0});

  std::vector<NodeId> members;
  for (const auto& [id, address] : config.members) members.push_back(NodeId{id});
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
  auto created = Node::Create(options, NodeEnv{this, &clock, router.get(), &random, &logger},
                              std::move(*ring));
  if (!created.ok()) return created.status();
  node = std::move(*created);

  for (size_t i = 0; i < config.members.size(); ++i) {
    const auto& [id, address] = config.members[i];
    if (id == config.node_id) continue;
    auto endpoint = Resolve(io, address, "members[" + std::to_string(i) + "].address");
    if (!endpoint.ok()) return endpoint.status();
    peers[id] = std::make_shared<PeerLink>(this, id, *endpoint);
  }

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
  spdlog::info("trolleyd.started node={} listen={} data_dir={} incarnation={} members={} "
               "partitions={} engines={}",
               config.node_id, config.ListenAddress(), config.data_dir,
               router->incarnation(), config.members.size(), config.partitions, engines.size());
  return Status::Ok();
}

// ---- inbound connections ----

void Server::Impl::StartAccept() {
  acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || stopping) return;
    if (ec) {
      // EMFILE and the like: wait a little instead of spinning.
      spdlog::warn("accept.failed error={}", ec.message());
      auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(100));
      timer->async_wait([this, timer](boost::system::error_code) {
        if (!stopping) StartAccept();
      });
      return;
    }
    OnAccept(std::move(socket));
    StartAccept();
  });
}

void Server::Impl::OnAccept(tcp::socket socket) {
  if (inbound.size() >= config.connections_max) {
    spdlog::warn("connection.refused reason=connections_max limit={}", config.connections_max);
    boost::system::error_code ignored;
    socket.close(ignored);
    return;
  }
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  auto c = std::make_shared<Inbound>(this, ++last_connection_id, std::move(socket));
  inbound[c->id] = c;
  StartRead(c);
}

void Server::Impl::StartRead(const std::shared_ptr<Inbound>& c) {
  c->socket.async_read_some(asio::buffer(c->chunk),
                            [this, c](boost::system::error_code ec, size_t n) {
                              if (c->closed) return;
                              if (ec) {
                                Close(*c);
                                return;
                              }
                              OnRead(c, n);
                            });
}

void Server::Impl::OnRead(const std::shared_ptr<Inbound>& c, size_t n) {
  c->last_read = Now();
  CorkTurn();
  const Status fed = c->decoder.Feed(c->chunk.data(), n);
  for (;;) {
    auto frame = c->decoder.Next();
    if (!frame.ok()) {
      Refuse(*c, RequestId{}, frame.status().code(), frame.status().message());
      return;
    }
    if (!*frame) break;
    if (!HandleFrame(*c, **frame)) return;
  }
  if (!fed.ok()) {
    Refuse(*c, RequestId{}, fed.code(), fed.message());
    return;
  }
  if (!c->closing) StartRead(c);
}

bool Server::Impl::HandleFrame(Inbound& c, std::string_view frame) {
  auto decoded = DecodeMessage(frame);
  if (!decoded.ok()) {
    Refuse(c, RequestId{}, decoded.status().code(), decoded.status().message());
    return false;
  }
  Message& m = *decoded;
  if (!c.hello_done) {
    const Hello* hello = std::get_if<Hello>(&m);
    if (hello == nullptr) {
      Refuse(c, RequestIdOf(m), StatusCode::kInvalidArgument,
             "the first message must be Hello, got " + std::string(MessageName(m)));
      return false;
    }
    if (hello->protocol_version != kProtocolVersion) {
      Refuse(c, RequestId{}, StatusCode::kFailedPrecondition,
             "protocol version " + std::to_string(hello->protocol_version) +
                 " is not supported; this node speaks " + std::to_string(kProtocolVersion) +
                 " (upgrade the older side)");
      return false;
    }
    if (!hello->node_id.empty()) {
      if (hello->node_id == config.node_id || peers.count(hello->node_id) == 0) {
        Refuse(c, RequestId{}, StatusCode::kFailedPrecondition,
               "node '" + hello->node_id + "' is not a member of this cluster as configured on " +
                   config.node_id);
        return false;
      }
      c.peer = hello->node_id;
    }
    c.hello_done = true;
    SendInbound(c, HelloReply{kProtocolVersion, config.node_id});
    return true;
  }
  if (std::holds_alternative<Hello>(m)) {
    Refuse(c, RequestId{}, StatusCode::kInvalidArgument, "Hello sent twice on one connection");
    return false;
  }
  if (c.peer.empty()) {
    if (!ClientMayAsk(m)) {
      Refuse(c, RequestIdOf(m), StatusCode::kInvalidArgument,
             std::string(MessageName(m)) + " is not a client request");
      return false;
    }
    node->OnMessage(Endpoint{"", c.id}, std::move(m));
  } else {
    node->OnMessage(Endpoint{c.peer, 0}, std::move(m));
  }
  return !c.closing && !c.closed;
}

void Server::Impl::Refuse(Inbound& c, RequestId id, StatusCode code, const std::string& why) {
  spdlog::warn("connection.refused id={} peer={} remote={} reason=\"{}\"", c.id,
               c.peer.empty() ? "-" : c.peer, [&] {
                 boost::system::error_code ec;
                 auto ep = c.socket.remote_endpoint(ec);
                 return ec ? std::string("?") : ep.address().to_string() + ":" +
                                                    std::to_string(ep.port());
               }(),
               why);
  SendInbound(c, ErrorReply{id, code, why.substr(0, kStatusMessageBytesMax)});
  c.closing = true;
  if (!c.writing && !c.flush_posted) Close(c);
}

void Server::Impl::SendInbound(Inbound& c, const Message& m) {
  if (c.closed) return;
  if (Status s = AppendMessageFrame(c.out, m, kFrameBytesMax); !s.ok()) {
    spdlog::error("reply.too_large connection={} type={} error=\"{}\"", c.id, MessageName(m),
                  s.message());
    (void)AppendMessageFrame(c.out, ErrorReply{RequestIdOf(m), s.code(), s.message()});
  }
  if (c.out.size() > config.output_bytes_max) {
    spdlog::warn("connection.closed id={} reason=\"{} bytes of replies unread (limit {})\"", c.id,
                 c.out.size(), config.output_bytes_max);
    Close(c);
    return;
  }
  ScheduleFlush(c.shared_from_this());
}

void Server::Impl::ScheduleFlush(const std::shared_ptr<Inbound>& c) {
  if (c->flush_posted || c->writing) return;
  c->flush_posted = true;
  asio::post(io, [this, c] {
    c->flush_posted = false;
    StartWrite(c);
  });
}

void Server::Impl::StartWrite(const std::shared_ptr<Inbound>& c) {
  if (c->closed || c->writing) return;
  if (c->out.empty()) {
    if (c->closing) Close(*c);
    return;
  }
  c->writing = true;
  std::swap(c->out, c->writing_buf);
  asio::async_write(c->socket, asio::buffer(c->writing_buf),
                    [this, c](boost::system::error_code ec, size_t) {
                      c->writing = false;
                      c->writing_buf.clear();
                      if (c->closed) return;
                      if (ec) {
                        Close(*c);
                        return;
                      }
                      StartWrite(c);
                    });
}

void Server::Impl::Close(Inbound& c) {
  if (c.closed) return;
  c.closed = true;
  boost::system::error_code ignored;
  c.socket.shutdown(tcp::socket::shutdown_both, ignored);
  c.socket.close(ignored);
  inbound.erase(c.id);  // pending handlers hold the last references
}

// ---- links to peers ----

void Server::Impl::SendToPeer(PeerLink& link, const Message& m) {
  if (stopping && link.state == PeerLink::State::kIdle) return;
  if (link.state == PeerLink::State::kIdle) {
    if (Now() < link.retry_at) return;  // recently failed: the node's timeouts take over
    Dial(link.shared_from_this());
  }
  if (link.out.size() > config.output_bytes_max) {
    if (link.dropped++ % 1000 == 0) {
      spdlog::warn("peer.queue_full node={} dropped={} limit_bytes={}", link.peer, link.dropped,
                   config.output_bytes_max);
    }
    return;
  }
  if (Status s = AppendMessageFrame(link.out, m, kFrameBytesMax); !s.ok()) {
    spdlog::error("peer.message_too_large node={} type={} error=\"{}\"", link.peer,
                  MessageName(m), s.message());
    return;
  }
  if (link.state == PeerLink::State::kUp) PeerScheduleFlush(link.shared_from_this());
}

void Server::Impl::Dial(const std::shared_ptr<PeerLink>& link) {
  link->state = PeerLink::State::kConnecting;
  const uint64_t gen = ++link->generation;
  link->decoder = FrameDecoder();
  link->out.clear();
  (void)AppendMessageFrame(link->out, Hello{kProtocolVersion, config.node_id});
  link->socket = tcp::socket(io);
  link->socket.async_connect(link->address, [this, link, gen](boost::system::error_code ec) {
    if (gen != link->generation) return;
    if (ec) {
      PeerFailed(*link, "connect: " + ec.message());
      return;
    }
    boost::system::error_code ignored;
    link->socket.set_option(tcp::no_delay(true), ignored);
    link->state = PeerLink::State::kUp;
    link->backoff_ms = kRedialBackoffMinMs;
    spdlog::info("peer.connected node={}", link->peer);
    PeerRead(link, gen);
    PeerWrite(link);
  });
}

void Server::Impl::PeerRead(const std::shared_ptr<PeerLink>& link, uint64_t gen) {
  link->socket.async_read_some(
      asio::buffer(link->chunk), [this, link, gen](boost::system::error_code ec, size_t n) {
        if (gen != link->generation) return;
        if (ec) {
          PeerFailed(*link, ec == asio::error::eof ? "closed by peer" : ec.message());
          return;
        }
        Status fed = link->decoder.Feed(link->chunk.data(), n);
        for (;;) {
          auto frame = link->decoder.Next();
          if (!frame.ok() || !*frame) break;
          auto m = DecodeMessage(**frame);
          if (!m.ok()) {
            fed = m.status();
            break;
          }
          if (const HelloReply* r = std::get_if<HelloReply>(&*m)) {
            if (r->protocol_version != kProtocolVersion || r->node_id != link->peer) {
              PeerFailed(*link, "peer answered as '" + r->node_id + "' speaking protocol " +
                                    std::to_string(r->protocol_version));
              return;
            }
            continue;
          }
          if (const ErrorReply* e = std::get_if<ErrorReply>(&*m)) {
            spdlog::error("peer.refused_us node={} reason=\"{}\"", link->peer, e->message);
            continue;
          }
          node->OnMessage(Endpoint{link->peer, 0}, std::move(*m));
          if (gen != link->generation) return;
        }
        if (!fed.ok()) {
          PeerFailed(*link, "bad input: " + fed.message());
          return;
        }
        PeerRead(link, gen);
      });
}

void Server::Impl::PeerScheduleFlush(const std::shared_ptr<PeerLink>& link) {
  if (link->flush_posted || link->writing) return;
  link->flush_posted = true;
  asio::post(io, [this, link] {
    link->flush_posted = false;
    PeerWrite(link);
  });
}

void Server::Impl::PeerWrite(const std::shared_ptr<PeerLink>& link) {
  if (link->state != PeerLink::State::kUp || link->writing || link->out.empty()) return;
  link->writing = true;
  std::swap(link->out, link->writing_buf);
  const uint64_t gen = link->generation;
  asio::async_write(link->socket, asio::buffer(link->writing_buf),
                    [this, link, gen](boost::system::error_code ec, size_t) {
                      if (gen != link->generation) return;
                      link->writing = false;
                      link->writing_buf.clear();
                      if (ec) {
                        PeerFailed(*link, "write: " + ec.message());
                        return;
                      }
                      PeerWrite(link);
                    });
}

void Server::Impl::PeerFailed(PeerLink& link, const std::string& why) {
  if (link.state == PeerLink::State::kIdle) return;
  const bool was_up = link.state == PeerLink::State::kUp;
  ++link.generation;
  link.state = PeerLink::State::kIdle;
  link.writing = false;
  link.out.clear();
  link.writing_buf.clear();
  boost::system::error_code ignored;
  link.socket.close(ignored);
  link.retry_at = Now() + std::chrono::milliseconds(link.backoff_ms);
  link.backoff_ms = std::min(link.backoff_ms * 2, kRedialBackoffMaxMs);
  if (was_up) spdlog::warn("peer.lost node={} reason=\"{}\"", link.peer, why);
  else spdlog::debug("peer.unreachable node={} reason=\"{}\"", link.peer, why);
  if (!stopping) node->OnPeerUnreachable(link.peer);
}

// ---- the loop ----

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

void Server::Impl::ArmIdleCheck() {
  idle_timer.expires_after(kIdleCheckInterval);
  idle_timer.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    const auto limit = std::chrono::milliseconds(config.idle_frame_timeout_ms);
    const SteadyTime now = Now();
    std::vector<std::shared_ptr<Inbound>> stale;
    for (auto& [id, c] : inbound) {
      const bool waiting = !c->hello_done || c->decoder.buffered_bytes() > 0;
      if (waiting && !c->closing && now - c->last_read > limit) stale.push_back(c);
    }
    for (auto& c : stale) {
      Refuse(*c, RequestId{}, StatusCode::kTimeout,
             c->hello_done ? "a partial frame saw no bytes for " +
                                 std::to_string(config.idle_frame_timeout_ms) + " ms"
                           : "no Hello within " + std::to_string(config.idle_frame_timeout_ms) +
                                 " ms");
    }
    ArmIdleCheck();
  });
}

void Server::Impl::ArmSweep() {
  sweep_timer.expires_after(std::chrono::milliseconds(config.sweep_interval_ms));
  sweep_timer.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    router->Sweep(config.tombstone_grace_ms, [](Result<SweepReport> r) {
      if (!r.ok()) {
        spdlog::error("sweep.failed error=\"{}\"", r.status().ToString());
      } else if (r->expired_removed + r->tombstones_purged > 0) {
        spdlog::info("sweep.done keys={} expired_removed={} tombstones_purged={}",
                     r->keys_scanned, r->expired_removed, r->tombstones_purged);
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
  DrainThenStop(Now() + kShutdownGrace);
}

void Server::Impl::DrainThenStop(SteadyTime deadline) {
  if (node->PendingRequests() == 0 || Now() >= deadline) {
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
  idle_timer.cancel();
  sweep_timer.cancel();
  drain_timer.cancel();
  signals.cancel(ignored);
  std::vector<std::shared_ptr<Inbound>> all;
  for (auto& [id, c] : inbound) all.push_back(c);
  for (auto& c : all) Close(*c);
  for (auto& [id, link] : peers) {
    ++link->generation;
    link->state = PeerLink::State::kIdle;
    link->socket.close(ignored);
  }
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
  s.ArmIdleCheck();
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
