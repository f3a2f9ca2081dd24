// Client: what a service uses to talk to a Trolley cluster.
//
// It connects to seed nodes, learns the ring from them (RingInfo: the first
// seed that answers; a seed that is down is skipped) and keeps it fresh,
// and sends each request straight to the first node of the key's
// preference list (the coordinator, no extra hop), keeping a small pool of
// pipelined connections per node. A request that times out or finds its
// node unavailable is retried on the next node of the preference list,
// after an exponential backoff with full jitter, until it succeeds, fails
// for a reason a retry cannot fix (bad argument, limit, not found), runs
// out of attempts (attempts_max) or reaches its deadline (timeout, which
// covers every attempt). A retried put carries the same write_id, so the
// store and the cart layer can recognise it. The preference list is the
// namespace's (its N from the ring information). An error that comes from
// a node names that node's address.
//
// Values come back as siblings (every concurrent version) with a Context:
// an opaque causal token to pass back with the next write of the key, so
// that the write replaces what was read instead of adding a sibling.
//
// Two faces: Client is asynchronous on a Boost.Asio io_context that the
// caller runs (callbacks run on it; call Client only from that thread).
// BlockingClient owns its io_context and waits for each call: simple, one
// call at a time per BlockingClient.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/asio.h"
#include "common/status.h"
#include "storage/version_vector.h"
#include "wire/messages.h"
#include "wire/tls_files.h"

namespace trolley {

struct ClientOptions {
  std::vector<std::string> seeds;           // host:port of some nodes; at least one
  std::chrono::milliseconds timeout{2000};  // default deadline of a request, all attempts
  uint32_t attempts_max = 4;
  std::chrono::milliseconds backoff_initial{10};
  std::chrono::milliseconds backoff_max{200};
  size_t connections_per_node = 2;
  std::chrono::milliseconds ring_refresh{10'000};
  uint64_t random_seed = 0;  // jitter; 0 = from std::random_device
  // TLS to the nodes (docs/operations.md, 'TLS and authentication'): the
  // cluster CA and this client's certificate, whose role (read or write)
  // the nodes enforce. All empty: plain TCP, for nodes with TLS off.
  TlsFiles tls;
};

// Per-request settings; zero means the namespace's (R, W, TTL) or the
// client's (timeout) default.
struct RequestOptions {
  uint32_t r = 0;
  uint32_t w = 0;
  std::chrono::milliseconds timeout{0};
  uint64_t ttl_ms = 0;
};

// The causal context of a read. Opaque to callers; Token() is a printable
// form for passing through other systems (e.g. a web page), FromToken()
// checks it (untrusted input).
class Context {
 public:
  Context() = default;
  explicit Context(VersionVector vv) : vv_(std::move(vv)) {}
  bool empty() const { return vv_.empty(); }
  std::string Token() const;
  static Result<Context> FromToken(std::string_view token);
  const VersionVector& version() const { return vv_; }

 private:
  VersionVector vv_;
};

struct Value {
  std::string bytes;
  bool tombstone = false;  // a delete that is concurrent with other versions
  uint64_t timestamp_ms = 0;
  uint64_t expiry_ms = 0;  // 0 = never
  uint64_t write_id = 0;
};

struct ReadResult {
  bool found = false;
  std::vector<Value> siblings;  // unexpired; more than one = concurrent versions
  Context context;
  std::string coordinator;  // the node that answered
};

struct WriteResult {
  std::vector<Value> siblings;  // the key's state after the write
  Context context;              // for the next write
  std::string coordinator;
};

// Where a key lives, as the client routes it: the addresses of its
// preference list under its namespace's N (docs/design.md, 'Keys,
// partitions and the ring'): the primaries (its replicas, coordinator first), then
// every other member in ring-walk order.
struct KeyPlacement {
  std::vector<std::string> primaries;
  std::vector<std::string> fallbacks;
};

class Client {
 public:
  using ReadCallback = std::function<void(Result<ReadResult>)>;
  using WriteCallback = std::function<void(Result<WriteResult>)>;

  // Connects lazily: the first request fetches the ring from a seed.
  static Result<std::unique_ptr<Client>> Create(asio::io_context& io, ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void Get(std::string ns, std::string key, RequestOptions options, ReadCallback done);
  // write_id: the caller's id for this logical write (0: one is generated);
  // retries reuse it.
  void Put(std::string ns, std::string key, std::string value, const Context& context,
           RequestOptions options, uint64_t write_id, WriteCallback done);
  void Delete(std::string ns, std::string key, const Context& context, RequestOptions options,
              WriteCallback done);
  // A cart mutation coordinated on the node (docs/design.md, 'Cart updates
  // on the node'): routed and retried like a put, with the same mutation
  // id on every attempt (the cart applies it once). options.w and
  // options.ttl_ms apply; the result is the cart's state at the
  // coordinator after the write. CartClient builds the update.
  void Update(CartUpdate update, RequestOptions options, WriteCallback done);

  // The cluster's namespaces (N, R, W, TTL, merge semantics), from the ring
  // information; kUnavailable if no node answered.
  void Namespaces(std::function<void(Result<std::vector<NamespaceInfo>>)> done);
  // The key's placement from the ring information (fetched first if
  // needed); kUnavailable, naming each seed and why it failed, if no node
  // answered.
  void Placement(std::string ns, std::string key, std::function<void(Result<KeyPlacement>)> done);

  // Counters, for tests and metrics.
  struct Stats {
    uint64_t requests = 0, attempts = 0, retries = 0, ring_fetches = 0, connects = 0;
  };
  const Stats& stats() const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  // Sends `request` for key (ns, key), routed and retried as options and
  // the client's options say; `done` gets the reply or the last error.
  void StartRequest(Message request, std::string ns, std::string key, const RequestOptions& options,
                    std::function<void(Result<Message>)> done);
  // A put or a delete.
  void StartWrite(ClientPut put, const RequestOptions& options, WriteCallback done);
  std::shared_ptr<Impl> impl_;
};

class BlockingClient {
 public:
  static Result<std::unique_ptr<BlockingClient>> Create(ClientOptions options);
  ~BlockingClient();

  Result<ReadResult> Get(const std::string& ns, const std::string& key,
                         RequestOptions options = {});
  Result<WriteResult> Put(const std::string& ns, const std::string& key, const std::string& value,
                          const Context& context, RequestOptions options = {},
                          uint64_t write_id = 0);
  Result<WriteResult> Delete(const std::string& ns, const std::string& key, const Context& context,
                             RequestOptions options = {});
  Result<std::vector<NamespaceInfo>> Namespaces();
  Result<KeyPlacement> Placement(const std::string& ns, const std::string& key);
  Client& async() { return *client_; }
  asio::io_context& io() { return io_; }

 private:
  BlockingClient() = default;
  asio::io_context io_{1};
  std::unique_ptr<Client> client_;
};

}  // namespace trolley
