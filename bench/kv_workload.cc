// trolley-bench's "kv" workload (the original trolley-bench, unchanged):
// a put phase, then a get phase, each for --duration-s seconds after
// --warmup-s. Every put writes a fresh key (no siblings
// pile up) with a --value-bytes value; every get reads a random key the
// put phase wrote. --concurrency requests are kept in flight in a closed
// loop, spread over --connections connections to the nodes round-robin.
// Latency is from sending a request to its reply.
//
// One event-loop thread. Each connection is a TcpOrTlsConnection
// (wire/asio/framed_connection.h; TLS with --tls-*), the same framing,
// write cork and TLS as the
// client library's, so requests sent in one turn go out in one write per
// connection. Reports ops/s and p50/p90/p99/p99.9/max per phase, errors
// by status code, and the CPU this process used (it shares the machine
// with the nodes). bench/cluster_bench.sh starts the cluster and runs it.
#include "bench/kv_workload.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "common/asio.h"
#include "common/host_port.h"
#include "wire/asio/framed_connection.h"
#include "wire/asio/tls.h"
#include "wire/message_codec.h"

namespace trolley::bench {
namespace {

using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using Options = KvOptions;

struct PhaseResult {
  std::string name;
  double seconds = 0;
  uint64_t ok = 0;
  std::map<std::string, uint64_t> errors;
  std::vector<uint32_t> latencies_us;  // of ok requests, measured window only
  double cpu_seconds = 0;

  double Quantile(double q) const {
    if (latencies_us.empty()) return 0;
    size_t i = static_cast<size_t>(q * static_cast<double>(latencies_us.size() - 1));
    return latencies_us[i] / 1000.0;
  }
};

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

class Load {
 public:
  Load(Options options) : o_(std::move(options)), rng_(12345) {
    value_.resize(o_.value_bytes);
    for (char& c : value_) c = static_cast<char>('a' + rng_() % 26);
  }

  ~Load() {
    for (auto& c : conns_) c->framed->Close();
  }

  // Dials every connection (TLS handshakes included) and queues its Hello;
  // returns once all are connected or one failed.
  Status Connect() {
    if (o_.tls.enabled()) {
      auto context = MakeTlsContext(o_.tls, TlsRole::kClient);
      if (!context.ok()) return context.status();
      tls_ = std::move(*context);
    }
    size_t connected = 0;
    Status failure;
    for (size_t i = 0; i < o_.connections; ++i) {
      const std::string& address = o_.nodes[i % o_.nodes.size()];
      auto hp = ParseHostPort(address, "--nodes");
      if (!hp.ok()) return hp.status();
      boost::system::error_code ec;
      const tcp::endpoint endpoint(asio::ip::make_address(hp->host, ec), hp->port);
      if (ec) return Status::InvalidArgument("--nodes: " + address + ": " + ec.message());
      conns_.push_back(std::make_unique<Conn>());
      Conn& c = *conns_.back();
      FramedConnectionCallbacks callbacks;
      callbacks.on_frame = [this, &c](std::string frame) { OnFrame(c, frame); };
      callbacks.on_bad_input = [this](const Status& why) { Broken(why.ToString()); };
      callbacks.on_close = [this](const Status& why) { Broken(why.ToString()); };
      c.framed = std::make_shared<TcpOrTlsConnection>(
          tls_ == nullptr ? TcpOrTlsStream(tcp::socket(io_))
                          : TcpOrTlsStream(tcp::socket(io_), *tls_),
          FramedConnectionOptions{}, std::move(callbacks));
      (void)c.framed->SendMessage(Hello{kProtocolVersion, ""});
      c.framed->Connect(endpoint, [&, address, framed = c.framed.get()](Status s) {
        if (s.ok()) s = DialledNodeIdentity(framed->stream().tls_handle(), "").status();
        if (!s.ok()) framed->Close();
        if (!s.ok() && failure.ok()) failure = Status(s.code(), address + ": " + s.message());
        ++connected;
      });
    }
    while (connected < conns_.size() && failure.ok() && !broken_) {
      if (io_.run_one_for(std::chrono::seconds(5)) == 0) {
        return Status::Timeout("no connection progress for 5 s");
      }
    }
    if (failure.ok() && broken_) return Status::Unavailable("a connection broke while connecting");
    return failure;
  }

  PhaseResult Run(const std::string& phase) {
    PhaseResult result;
    result.name = phase;
    phase_ = phase;
    running_ = true;
    measuring_ = false;
    current_ = &result;
    const auto warmup = std::chrono::duration<double>(o_.warmup_s);
    const auto duration = std::chrono::duration<double>(o_.duration_s);
    asio::steady_timer start_timer(io_), stop_timer(io_);
    double cpu0 = 0;
    SteadyClock::time_point t0;
    start_timer.expires_after(std::chrono::duration_cast<SteadyClock::duration>(warmup));
    start_timer.async_wait([&](boost::system::error_code) {
      measuring_ = true;
      cpu0 = CpuSeconds();
      t0 = SteadyClock::now();
    });
    stop_timer.expires_after(std::chrono::duration_cast<SteadyClock::duration>(warmup + duration));
    stop_timer.async_wait([&](boost::system::error_code) {
      result.seconds = std::chrono::duration<double>(SteadyClock::now() - t0).count();
      result.cpu_seconds = CpuSeconds() - cpu0;
      measuring_ = false;
      running_ = false;
    });
    for (size_t slot = 0; slot < o_.concurrency; ++slot) Issue(*conns_[slot % conns_.size()]);
    // Runs until the stop timer fired and every request in flight answered.
    while (running_ || in_flight_ > 0) {
      if (io_.run_one_for(std::chrono::seconds(5)) == 0) {
        std::fprintf(stderr, "trolley-bench: no progress for 5 s (%zu requests in flight)\n",
                     in_flight_);
        break;
      }
      if (broken_) break;
    }
    std::sort(result.latencies_us.begin(), result.latencies_us.end());
    return result;
  }

  bool broken() const { return broken_; }
  size_t keys_written() const { return written_.size(); }

 private:
  struct Pending {
    SteadyClock::time_point start;
    std::string key;
  };
  struct Conn {
    std::shared_ptr<TcpOrTlsConnection> framed;
    uint64_t last_id = 0;
    std::map<uint64_t, Pending> pending;
  };

  void Issue(Conn& c) {
    if (!running_) return;
    const RequestId id{++c.last_id};
    Pending p{SteadyClock::now(), {}};
    Status sent;
    if (phase_ == "put") {
      p.key = "bench-" + std::to_string(next_key_++);
      sent = c.framed->SendMessage(ClientPut{.id = id, .ns = o_.ns, .key = p.key, .value = value_});
    } else {
      const std::string& key =
          written_.empty() ? std::string("bench-0") : written_[rng_() % written_.size()];
      sent = c.framed->SendMessage(ClientGet{.id = id, .ns = o_.ns, .key = key});
    }
    // A request above the frame limit (a huge --value-bytes) is not sent.
    if (!sent.ok()) return Broken(sent.ToString());
    c.pending.emplace(id.value, std::move(p));
    ++in_flight_;
  }

  void OnFrame(Conn& c, std::string_view frame) {
    auto m = DecodeMessage(frame);
    if (!m.ok()) return Broken(m.status().ToString());
    OnReply(c, *m);
  }

  void OnReply(Conn& c, const Message& m) {
    RequestId id;
    StatusCode code = StatusCode::kOk;
    std::string message;
    if (auto* put = std::get_if<ClientPutReply>(&m)) {
      id = put->id, code = put->code, message = put->message;
    } else if (auto* get = std::get_if<ClientGetReply>(&m)) {
      id = get->id, code = get->code, message = get->message;
    } else if (auto* err = std::get_if<ErrorReply>(&m)) {
      return Broken("node refused: " + err->message);
    } else {
      return;  // HelloReply
    }
    auto it = c.pending.find(id.value);
    if (it == c.pending.end()) return;
    const auto latency = SteadyClock::now() - it->second.start;
    if (code == StatusCode::kOk && phase_ == "put") written_.push_back(std::move(it->second.key));
    c.pending.erase(it);
    --in_flight_;
    if (measuring_) {
      if (code == StatusCode::kOk) {
        ++current_->ok;
        current_->latencies_us.push_back(static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(latency).count()));
      } else {
        ++current_->errors[std::string(StatusCodeName(code))];
        if (current_->errors.size() == 1 && current_->errors.begin()->second == 1) {
          std::fprintf(stderr, "trolley-bench: first error: %s\n", message.c_str());
        }
      }
    }
    Issue(c);
  }

  void Broken(const std::string& why) {
    if (!broken_) std::fprintf(stderr, "trolley-bench: connection failed: %s\n", why.c_str());
    broken_ = true;
  }

  Options o_;
  std::unique_ptr<asio::ssl::context> tls_;  // null: plain TCP
  asio::io_context io_{1};
  std::vector<std::unique_ptr<Conn>> conns_;
  std::mt19937_64 rng_;
  std::string value_;
  std::string phase_;
  bool running_ = false, measuring_ = false, broken_ = false;
  size_t in_flight_ = 0;
  uint64_t next_key_ = 0;
  std::vector<std::string> written_;
  PhaseResult* current_ = nullptr;
};

}  // namespace

int RunKvWorkload(const KvOptions& o) {
  if (o.nodes.empty() || o.connections == 0 || o.concurrency == 0) {
    std::fprintf(stderr,
                 "trolley-bench: need --nodes, and positive --connections and --concurrency\n");
    return 2;
  }

  Load load(o);
  if (Status s = load.Connect(); !s.ok()) {
    std::fprintf(stderr, "trolley-bench: %s\n", s.ToString().c_str());
    return 2;
  }
  nlohmann::json out = nlohmann::json::array();
  std::printf("%-10s %-5s %10s %8s %8s %8s %8s %8s %8s %7s\n", "run", "phase", "ops/s", "p50 ms",
              "p90 ms", "p99 ms", "p99.9 ms", "max ms", "errors", "cpu %");
  for (size_t start = 0; start <= o.phases.size();) {
    size_t comma = o.phases.find(',', start);
    if (comma == std::string::npos) comma = o.phases.size();
    const std::string phase = o.phases.substr(start, comma - start);
    start = comma + 1;
    if (phase != "put" && phase != "get") {
      std::fprintf(stderr, "trolley-bench: unknown phase '%s' (put, get)\n", phase.c_str());
      return 2;
    }
    PhaseResult r = load.Run(phase);
    if (load.broken()) return 1;
    uint64_t errors = 0;
    for (const auto& [code, n] : r.errors) errors += n;
    const double rate = r.seconds > 0 ? static_cast<double>(r.ok) / r.seconds : 0;
    std::printf("%-10s %-5s %10.0f %8.2f %8.2f %8.2f %8.2f %8.2f %8llu %6.0f%%\n", o.label.c_str(),
                phase.c_str(), rate, r.Quantile(0.5), r.Quantile(0.9), r.Quantile(0.99),
                r.Quantile(0.999), r.Quantile(1.0), static_cast<unsigned long long>(errors),
                r.seconds > 0 ? 100 * r.cpu_seconds / r.seconds : 0);
    std::fflush(stdout);
    out.push_back({{"label", o.label},
                   {"phase", phase},
                   {"ops_per_s", rate},
                   {"p50_ms", r.Quantile(0.5)},
                   {"p90_ms", r.Quantile(0.9)},
                   {"p99_ms", r.Quantile(0.99)},
                   {"p999_ms", r.Quantile(0.999)},
                   {"max_ms", r.Quantile(1.0)},
                   {"ok", r.ok},
                   {"errors", r.errors},
                   {"loadgen_cpu_percent", r.seconds > 0 ? 100 * r.cpu_seconds / r.seconds : 0},
                   {"concurrency", o.concurrency},
                   {"connections", o.connections},
                   {"value_bytes", o.value_bytes}});
  }
  if (!o.json_out.empty()) {
    std::FILE* f = std::fopen(o.json_out.c_str(), "w");
    if (f == nullptr) {
      std::fprintf(stderr, "trolley-bench: cannot write %s\n", o.json_out.c_str());
      return 2;
    }
    std::fprintf(f, "%s\n", out.dump(2).c_str());
    std::fclose(f);
  }
  return 0;
}

}  // namespace trolley::bench
