#include "client/client.h"

#include <algorithm>
#include <deque>
#include <map>
#include <random>

#include "common/clock.h"
#include "common/hex.h"
#include "common/host_port.h"
#include "ring/preference_list.h"
#include "ring/ring.h"
#include "storage/record_codec.h"
#include "wire/asio/framed_connection.h"
#include "wire/asio/tls.h"
#include "wire/handshake.h"
#include "wire/message_codec.h"
#include "wire/messages.h"

namespace trolley {
namespace {

using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using ms = std::chrono::milliseconds;

constexpr auto kNodeDownFor = ms(1000);  // skip a node that failed, for this long

bool Retryable(StatusCode code) {
  return code == StatusCode::kUnavailable || code == StatusCode::kTimeout ||
         code == StatusCode::kBusy;
}

std::vector<Value> ValuesOf(const SiblingSet& state) {
  const uint64_t now = SystemClock().NowWallMs();
  std::vector<Value> out;
  for (const Sibling& s : state.siblings()) {
    if (s.ExpiredAt(now)) continue;
    out.push_back(Value{s.value, s.tombstone, s.timestamp_ms, s.expiry_ms, s.write_id});
  }
  return out;
}

}  // namespace

std::string Context::Token() const { return vv_.empty() ? "" : Hex(EncodeContext(vv_)); }

Result<Context> Context::FromToken(std::string_view token) {
  if (token.empty()) return Context();
  auto bytes = Unhex(token);
  if (!bytes.ok()) return Status::InvalidArgument("context token: " + bytes.status().message());
  auto vv = DecodeContext(*bytes);
  if (!vv.ok()) return Status::InvalidArgument("context token: " + vv.status().message());
  return Context(std::move(*vv));
}

// One pipelined connection to one node, on a FramedConnection
// (wire/asio/framed_connection.h): many requests in flight, matched to
// replies by request id; everything sent in one handler goes out in one
// write. A failure fails every request in flight with kUnavailable; the
// next call reconnects.
struct Connection : std::enable_shared_from_this<Connection> {
  using Callback = std::function<void(Result<Message>)>;
  struct Pending {
    Callback done;
    std::shared_ptr<asio::steady_timer> timer;
  };

  // `tls`: the client's context (wire/asio/tls.h), or null for plain TCP.
  Connection(asio::io_context& io_ctx, std::string addr, asio::ssl::context* tls_context)
      : io(io_ctx), address(std::move(addr)), tls(tls_context) {}
  ~Connection() { Close(); }

  void Call(Message request, SteadyClock::time_point deadline, Callback done) {
    if (framed == nullptr || !framed->is_sending()) Connect();
    const uint64_t id = ++last_id;
    std::visit(
        [&](auto& m) {
          if constexpr (requires { m.id; }) m.id = RequestId{id};
        },
        request);
    if (Status s = framed->SendMessage(request); !s.ok()) {
      done(s);
      return;
    }
    auto timer = std::make_shared<asio::steady_timer>(io, deadline);
    timer->async_wait([self = shared_from_this(), id](boost::system::error_code ec) {
      if (ec) return;
      self->Finish(id, Status::Timeout("no reply from " + self->address + " in time"));
    });
    pending.emplace(id, Pending{std::move(done), std::move(timer)});
  }

  void Close() {
    if (framed != nullptr) framed->Close();
    framed.reset();
  }

  asio::io_context& io;
  std::string address;
  asio::ssl::context* tls;
  std::shared_ptr<TcpOrTlsConnection> framed;  // null or closed: idle
  PeerIdentity node_identity;                  // what the node's certificate proved
  uint64_t last_id = 0;
  std::map<uint64_t, Pending> pending;
  std::function<void()> on_connect;  // counts connects

 private:
  void Connect() {
    FramedConnectionCallbacks callbacks;
    callbacks.on_frame = [this](std::string frame) { OnFrame(frame); };
    callbacks.on_bad_input = [this](const Status& why) {
      Fail("bad frame from " + address + ": " + why.message());
    };
    callbacks.on_close = [this](const Status& why) {
      Fail(address + " closed the connection: " + why.message());
    };
    framed = std::make_shared<TcpOrTlsConnection>(
        tls == nullptr ? TcpOrTlsStream(tcp::socket(io)) : TcpOrTlsStream(tcp::socket(io), *tls),
        FramedConnectionOptions{}, std::move(callbacks));
    (void)framed->SendMessage(Hello{kProtocolVersion, ""});
    auto hp = ParseHostPort(address, "node address");
    boost::system::error_code ec;
    asio::ip::address ip = hp.ok() ? asio::ip::make_address(hp->host, ec) : asio::ip::address();
    if (!hp.ok() || ec) {
      // Post: the caller has not registered its request yet.
      asio::post(io, [self = shared_from_this(), f = framed] {
        if (f == self->framed) self->Fail("cannot use address " + self->address);
      });
      return;
    }
    if (on_connect) on_connect();
    framed->Connect(tcp::endpoint(ip, hp->port), [this](Status connected) {
      if (connected.ok()) {
        // Before the Hello goes out: the other end proved to be a node.
        auto identity = DialledNodeIdentity(framed->stream().tls_handle(), "");
        if (identity.ok()) {
          node_identity = std::move(*identity);
          return;
        }
        connected = identity.status();
      }
      const std::string& why = connected.message();
      Fail(why.find(address) != std::string::npos ? why : address + ": " + why);
    });
  }

  void OnFrame(std::string_view frame) {
    auto m = DecodeMessage(frame);
    if (!m.ok()) return Fail("bad reply from " + address + ": " + m.status().message());
    if (const auto* hello = std::get_if<HelloReply>(&*m)) {
      if (Status s = CheckHelloReply(*hello, "", node_identity); !s.ok())
        return Fail(address + ": " + s.message());
      return;
    }
    if (const auto* e = std::get_if<ErrorReply>(&*m)) {
      if (e->id.value == 0) return Fail(address + " refused the connection: " + e->message);
      return Finish(e->id.value, Status(e->code, address + ": " + e->message));
    }
    const uint64_t id = RequestIdOf(*m).value;
    Finish(id, std::move(*m));
  }

  void Finish(uint64_t id, Result<Message> result) {
    auto it = pending.find(id);
    if (it == pending.end()) return;
    Pending p = std::move(it->second);
    pending.erase(it);
    p.timer->cancel();
    p.done(std::move(result));
  }

  void Fail(const std::string& why) {
    Close();
    auto failed = std::move(pending);
    pending.clear();
    for (auto& [id, p] : failed) {
      p.timer->cancel();
      p.done(Status::Unavailable(why));
    }
  }
};

struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
  struct Op {
    Message request;
    std::string ns, key;
    SteadyClock::time_point deadline;
    std::vector<std::string> route;
    size_t next = 0;
    uint32_t attempts = 0;
    Status last_error;
    std::function<void(Result<Message>)> done;
  };

  Impl(asio::io_context& io_ctx, ClientOptions o, std::unique_ptr<asio::ssl::context> tls_context)
      : io(io_ctx),
        options(std::move(o)),
        tls(std::move(tls_context)),
        rng(options.random_seed != 0 ? options.random_seed : std::random_device{}()) {}

  asio::io_context& io;
  ClientOptions options;
  std::unique_ptr<asio::ssl::context> tls;  // null: TLS off
  std::mt19937_64 rng;
  Stats stats;
  bool closed = false;
  // The ring as last learned; empty until the first RingInfo.
  std::optional<Ring> ring;
  std::map<std::string, std::string> address_of;  // node id -> host:port
  std::vector<NamespaceInfo> namespaces;
  SteadyClock::time_point ring_fetched{};
  bool ring_fetching = false;
  std::vector<std::string> ring_errors;  // why each source failed, in the last fetch
  std::vector<std::function<void()>> ring_waiters;
  std::map<std::string, std::vector<std::shared_ptr<Connection>>> pools;
  std::map<std::string, size_t> next_conn;
  std::map<std::string, SteadyClock::time_point> down_until;

  std::shared_ptr<Connection> ConnectionTo(const std::string& address) {
    auto& pool = pools[address];
    if (pool.size() < std::max<size_t>(1, options.connections_per_node)) {
      pool.push_back(std::make_shared<Connection>(io, address, tls.get()));
      pool.back()->on_connect = [this] { ++stats.connects; };
      return pool.back();
    }
    return pool[next_conn[address]++ % pool.size()];
  }

  void WithRing(std::function<void()> then) {
    const auto now = SteadyClock::now();
    const bool fresh = ring && now - ring_fetched < options.ring_refresh;
    if (fresh) return then();
    if (ring) {  // stale: use it, refresh in the background
      FetchRing(0);
      return then();
    }
    ring_waiters.push_back(std::move(then));
    FetchRing(0);
  }

  void FetchRing(size_t seed_index) {
    if (seed_index == 0) {
      if (ring_fetching) return;
      ring_fetching = true;
      ring_errors.clear();
      ++stats.ring_fetches;
    }
    // Known members first (they may have changed), then the seeds.
    std::vector<std::string> sources;
    for (const auto& [id, address] : address_of) sources.push_back(address);
    for (const std::string& s : options.seeds) sources.push_back(s);
    if (seed_index >= sources.size()) return RingDone();
    const std::string source = sources[seed_index];
    ConnectionTo(source)->Call(
        RingInfoRequest{}, SteadyClock::now() + std::min(options.timeout, ms(1000)),
        [self = shared_from_this(), seed_index, source](Result<Message> r) {
          const RingInfoReply* info = r.ok() ? std::get_if<RingInfoReply>(&*r) : nullptr;
          if (info == nullptr || info->owners.empty()) {
            self->ring_errors.push_back(!r.ok() ? r.status().message()
                                                : source + ": no ring in its answer");
            return self->FetchRing(seed_index + 1);
          }
          std::vector<NodeId> owners;
          for (const std::string& o : info->owners) owners.push_back(NodeId{o});
          auto built = Ring::FromOwners(std::move(owners));
          if (!built.ok()) {
            self->ring_errors.push_back(source + ": " + built.status().message());
            return self->FetchRing(seed_index + 1);
          }
          self->ring = std::move(*built);
          self->address_of.clear();
          for (const auto& [id, address] : info->members) self->address_of[id] = address;
          self->namespaces = info->namespaces;
          self->ring_fetched = SteadyClock::now();
          self->RingDone();
        });
  }

  void RingDone() {
    ring_fetching = false;
    auto waiters = std::move(ring_waiters);
    ring_waiters.clear();
    for (auto& w : waiters) w();
  }

  // The namespace's N as the cluster reports it; 3 (the default of a
  // namespace) for a namespace the ring information does not list, whose
  // requests the node refuses anyway.
  uint32_t ReplicasOf(const std::string& ns) const {
    for (const NamespaceInfo& info : namespaces) {
      if (info.name == ns && info.n > 0) return info.n;
    }
    return 3;
  }

  // The addresses of the key's preference list under the namespace's N:
  // the primaries (the replicas, coordinator first), then the fallbacks.
  // Both empty while the ring is unknown.
  KeyPlacement PreferenceAddresses(const std::string& ns, const std::string& key) const {
    KeyPlacement out;
    if (!ring) return out;
    const PreferenceList pref = PreferenceListForKey(*ring, ns, key, ReplicasOf(ns));
    for (const NodeId& n : pref.primaries) {
      if (auto it = address_of.find(n.name); it != address_of.end())
        out.primaries.push_back(it->second);
    }
    for (const NodeId& n : pref.fallbacks) {
      if (auto it = address_of.find(n.name); it != address_of.end())
        out.fallbacks.push_back(it->second);
    }
    return out;
  }

  // Preference-list order for the key (coordinator first), nodes believed
  // down moved to the back; the seeds when the ring is unknown.
  std::vector<std::string> Route(const std::string& ns, const std::string& key) {
    KeyPlacement placement = PreferenceAddresses(ns, key);
    std::vector<std::string> route = std::move(placement.primaries);
    route.insert(route.end(), placement.fallbacks.begin(), placement.fallbacks.end());
    if (route.empty()) route = options.seeds;
    const auto now = SteadyClock::now();
    std::stable_partition(route.begin(), route.end(), [&](const std::string& a) {
      auto it = down_until.find(a);
      return it == down_until.end() || it->second <= now;
    });
    return route;
  }

  void Start(std::shared_ptr<Op> op) {
    ++stats.requests;
    WithRing([self = shared_from_this(), op] {
      op->route = self->Route(op->ns, op->key);
      self->Attempt(op);
    });
  }

  void Attempt(const std::shared_ptr<Op>& op) {
    if (closed) return op->done(Status::Unavailable("client closed"));
    const auto now = SteadyClock::now();
    if (now >= op->deadline || op->route.empty()) {
      return op->done(Status::Timeout(
          "no answer in time after " + std::to_string(op->attempts) + " attempt(s)" +
          (op->last_error.ok() ? "" : "; last: " + op->last_error.ToString())));
    }
    ++stats.attempts;
    ++op->attempts;
    const std::string address = op->route[op->next % op->route.size()];
    // Ask the node to answer a little before our deadline, so that a slow
    // quorum comes back as the node's own, more precise, error.
    const auto left = std::chrono::duration_cast<ms>(op->deadline - now);
    const uint32_t node_timeout =
        static_cast<uint32_t>(std::max<int64_t>(1, left.count() * 9 / 10));
    std::visit(
        [&](auto& m) {
          if constexpr (requires { m.timeout_ms; }) m.timeout_ms = node_timeout;
        },
        op->request);
    ConnectionTo(address)->Call(op->request, op->deadline,
                                [self = shared_from_this(), op, address](Result<Message> r) {
                                  self->OnReply(op, address, std::move(r));
                                });
  }

  void OnReply(const std::shared_ptr<Op>& op, const std::string& address, Result<Message> r) {
    Status failure;
    if (!r.ok()) {
      failure = r.status();
      if (failure.code() == StatusCode::kUnavailable) {
        down_until[address] = SteadyClock::now() + kNodeDownFor;
      }
    } else {
      const Status replied = StatusOf(*r);
      if (Retryable(replied.code())) {
        failure = Status(replied.code(), address + ": " + replied.message());
      }
    }
    if (failure.ok() || !Retryable(failure.code())) return op->done(std::move(r));
    op->last_error = failure;
    if (op->attempts >= options.attempts_max || closed) return op->done(failure);
    ++stats.retries;
    ++op->next;
    // Full jitter: a random wait in [0, min(max, initial * 2^attempt)].
    const int64_t cap =
        std::min<int64_t>(options.backoff_max.count(), options.backoff_initial.count()
                                                           << std::min(op->attempts, 20u));
    const auto wait =
        ms(cap > 0 ? static_cast<int64_t>(rng() % static_cast<uint64_t>(cap + 1)) : 0);
    auto timer = std::make_shared<asio::steady_timer>(io, wait);
    timer->async_wait(
        [self = shared_from_this(), op, timer](boost::system::error_code) { self->Attempt(op); });
  }

  // Names every source asked and why each failed.
  Status NoRingError() const {
    std::string why;
    for (const std::string& e : ring_errors) why += (why.empty() ? "" : "; ") + e;
    std::string seeds;
    for (const std::string& s : options.seeds) seeds += (seeds.empty() ? "" : ",") + s;
    return Status::Unavailable("no node answered a ring request (seeds " + seeds + ")" +
                               (why.empty() ? "" : ": " + why));
  }

  void Close() {
    closed = true;
    for (auto& [address, pool] : pools) {
      for (auto& c : pool) c->Close();
    }
  }
};

Result<std::unique_ptr<Client>> Client::Create(asio::io_context& io, ClientOptions options) {
  if (options.seeds.empty())
    return Status::InvalidArgument("ClientOptions.seeds: give at least one node (host:port)");
  for (const std::string& s : options.seeds) {
    if (auto hp = ParseHostPort(s, "ClientOptions.seeds"); !hp.ok()) return hp.status();
  }
  if (options.attempts_max == 0)
    return Status::InvalidArgument("ClientOptions.attempts_max: must be >= 1");
  if (options.timeout.count() <= 0)
    return Status::InvalidArgument("ClientOptions.timeout: must be positive");
  std::unique_ptr<asio::ssl::context> tls;
  if (options.tls.enabled()) {
    auto context = MakeTlsContext(options.tls, TlsRole::kClient);
    if (!context.ok()) {
      return Status::InvalidArgument("ClientOptions.tls: " + context.status().message());
    }
    tls = std::move(*context);
  }
  return std::unique_ptr<Client>(
      new Client(std::make_unique<Impl>(io, std::move(options), std::move(tls))));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() { impl_->Close(); }
const Client::Stats& Client::stats() const { return impl_->stats; }

namespace {
std::chrono::milliseconds TimeoutOf(const RequestOptions& o, const ClientOptions& c) {
  return o.timeout.count() > 0 ? o.timeout : c.timeout;
}

// The completion of a write whose reply, a `Reply` (ClientPutReply or
// CartUpdateReply), carries the state the write made; `what` names the
// write in the error for a reply of another type.
template <typename Reply>
std::function<void(Result<Message>)> WriteDone(Client::WriteCallback done, const char* what) {
  return [done = std::move(done), what](Result<Message> r) {
    if (!r.ok()) return done(r.status());
    const auto* m = std::get_if<Reply>(&*r);
    if (m == nullptr) return done(Status::Corruption(std::string("unexpected reply to ") + what));
    if (m->code != StatusCode::kOk) return done(Status(m->code, m->message));
    return done(WriteResult{ValuesOf(m->state), Context(m->state.context()), ""});
  };
}
}  // namespace

void Client::Get(std::string ns, std::string key, RequestOptions options, ReadCallback done) {
  ClientGet get{.ns = ns, .key = key, .r = options.r};
  StartRequest(std::move(get), std::move(ns), std::move(key), options,
               [done = std::move(done)](Result<Message> r) {
                 if (!r.ok()) return done(r.status());
                 const auto* m = std::get_if<ClientGetReply>(&*r);
                 if (m == nullptr) return done(Status::Corruption("unexpected reply to a get"));
                 if (m->code == StatusCode::kNotFound) return done(ReadResult{});
                 if (m->code != StatusCode::kOk) return done(Status(m->code, m->message));
                 ReadResult out;
                 out.siblings = ValuesOf(m->state);
                 out.found = !out.siblings.empty();
                 out.context = Context(m->state.context());
                 return done(std::move(out));
               });
}

void Client::Put(std::string ns, std::string key, std::string value, const Context& context,
                 RequestOptions options, uint64_t write_id, WriteCallback done) {
  if (write_id == 0) write_id = impl_->rng() | 1;
  StartWrite(ClientPut{.ns = std::move(ns),
                       .key = std::move(key),
                       .context = context.version(),
                       .value = std::move(value),
                       .write_id = write_id,
                       .w = options.w,
                       .ttl_ms = options.ttl_ms},
             options, std::move(done));
}

void Client::Delete(std::string ns, std::string key, const Context& context, RequestOptions options,
                    WriteCallback done) {
  StartWrite(ClientPut{.ns = std::move(ns),
                       .key = std::move(key),
                       .context = context.version(),
                       .tombstone = true,
                       .write_id = impl_->rng() | 1,
                       .w = options.w},
             options, std::move(done));
}

void Client::Update(CartUpdate update, RequestOptions options, WriteCallback done) {
  update.w = options.w;
  update.ttl_ms = options.ttl_ms;
  std::string ns = update.ns;
  std::string key = update.cart_id;
  StartRequest(std::move(update), std::move(ns), std::move(key), options,
               WriteDone<CartUpdateReply>(std::move(done), "a cart update"));
}

void Client::StartWrite(ClientPut put, const RequestOptions& options, WriteCallback done) {
  std::string ns = put.ns;
  std::string key = put.key;
  StartRequest(std::move(put), std::move(ns), std::move(key), options,
               WriteDone<ClientPutReply>(std::move(done), "a write"));
}

void Client::StartRequest(Message request, std::string ns, std::string key,
                          const RequestOptions& options,
                          std::function<void(Result<Message>)> done) {
  auto op = std::make_shared<Impl::Op>();
  op->request = std::move(request);
  op->ns = std::move(ns);
  op->key = std::move(key);
  op->deadline = SteadyClock::now() + TimeoutOf(options, impl_->options);
  op->done = std::move(done);
  impl_->Start(std::move(op));
}

void Client::Namespaces(std::function<void(Result<std::vector<NamespaceInfo>>)> done) {
  impl_->WithRing([impl = impl_, done = std::move(done)] {
    if (!impl->ring) return done(impl->NoRingError());
    done(impl->namespaces);
  });
}

void Client::Placement(std::string ns, std::string key,
                       std::function<void(Result<KeyPlacement>)> done) {
  impl_->WithRing([impl = impl_, ns = std::move(ns), key = std::move(key), done = std::move(done)] {
    if (!impl->ring) return done(impl->NoRingError());
    done(impl->PreferenceAddresses(ns, key));
  });
}

// ---- BlockingClient ----

namespace {
template <typename T, typename Start>
Result<T> RunBlocking(asio::io_context& io, Start start) {
  std::optional<Result<T>> out;
  start([&](Result<T> r) { out.emplace(std::move(r)); });
  io.restart();
  while (!out) {
    if (io.run_one() == 0) {
      return Status::Unavailable("internal: the client's event loop ran out of work");
    }
  }
  return std::move(*out);
}
}  // namespace

Result<std::unique_ptr<BlockingClient>> BlockingClient::Create(ClientOptions options) {
  std::unique_ptr<BlockingClient> c(new BlockingClient());
  auto client = Client::Create(c->io_, std::move(options));
  if (!client.ok()) return client.status();
  c->client_ = std::move(*client);
  return c;
}

BlockingClient::~BlockingClient() {
  client_.reset();
  io_.restart();
  io_.poll();
}

Result<ReadResult> BlockingClient::Get(const std::string& ns, const std::string& key,
                                       RequestOptions options) {
  return RunBlocking<ReadResult>(io_, [&](auto done) { client_->Get(ns, key, options, done); });
}

Result<WriteResult> BlockingClient::Put(const std::string& ns, const std::string& key,
                                        const std::string& value, const Context& context,
                                        RequestOptions options, uint64_t write_id) {
  return RunBlocking<WriteResult>(
      io_, [&](auto done) { client_->Put(ns, key, value, context, options, write_id, done); });
}

Result<std::vector<NamespaceInfo>> BlockingClient::Namespaces() {
  return RunBlocking<std::vector<NamespaceInfo>>(io_,
                                                 [&](auto done) { client_->Namespaces(done); });
}

Result<KeyPlacement> BlockingClient::Placement(const std::string& ns, const std::string& key) {
  return RunBlocking<KeyPlacement>(io_, [&](auto done) { client_->Placement(ns, key, done); });
}

Result<WriteResult> BlockingClient::Delete(const std::string& ns, const std::string& key,
                                           const Context& context, RequestOptions options) {
  return RunBlocking<WriteResult>(
      io_, [&](auto done) { client_->Delete(ns, key, context, options, done); });
}

}  // namespace trolley
