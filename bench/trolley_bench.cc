// trolley-bench: load generator for a running Trolley cluster.
//
// Targets (--target): trolley (a cluster, --nodes; the Cart API), redis
// (--redis, optionally WAIT) and postgres (--pg-conninfo), the last two for
// the flash-sale and browse workloads only, with --layout whole-cart (a
// read-modify-write of one value per cart) or per-line (one command or
// statement per line: bench/redis_target.h, bench/postgres_target.h).
//
// Workloads (--workload):
//   kv          raw puts then gets of fresh keys (kv_workload.h); the
//               default, so bench/cluster_bench.sh runs as before.
//   flash-sale  shoppers adding (60%), reading (30%) and changing or
//               removing (10%) cart lines through the Cart API, and
//               checking out (2.5 per 70 modifications), product
//               popularity Zipf-skewed (workload.h, load.h).
//   browse      the same shoppers, read-heavy (90% get).
//   cart-size   what a cart's size costs: every cart filled to --cart-lines
//               lines first (unmeasured), then each operation sets the
//               quantity of one of its lines from the last view, so the
//               cart stays at that size (workload.h); reports node CPU
//               per operation and a cart's stored bytes.
// Closed loop (--concurrency in flight) or open loop (--rate ops/s, latency
// from the scheduled start). --verify reads every cart back at the end and
// checks the acknowledged adds; --kill-node-at/--restart-node-at kill and
// restart one node during the run. Results: a Markdown table on stdout
// (and --markdown FILE), --json FILE, --series FILE (TSV per second, for
// bench/plot.sh), --intervals FILE (CSV of ok ops/s per 10 s, for
// bench/plot.sh --intervals; the Markdown gives the last 10 s / first 30 s). --summarize A.json
// B.json ... prints one table of runs;
// --compare T.json=P.json ... one table of Trolley-vs-peer pairs.
//
// bench/flash_sale.sh starts a cluster and runs the whole comparison;
// docs/benchmarks.md explains the figures.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "bench/kv_workload.h"
#include "bench/load.h"
#include "bench/postgres_target.h"
#include "bench/redis_target.h"
#include "bench/results.h"
#include "bench/trolley_target.h"

namespace {

using namespace trolley;
using namespace trolley::bench;

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> out;
  for (size_t start = 0; start <= text.size();) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) {
    std::fprintf(stderr, "trolley-bench: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

// The flags of the cart workloads (flash-sale, browse, cart-size).
void AddCartWorkloadOptions(CLI::App& app, LoadOptions& lo, std::string& mix_text) {
  app.add_option("--carts", lo.workload.carts, "shoppers, one cart each")->capture_default_str();
  app.add_option("--products", lo.workload.products, "products (Zipf ranks)")
      ->capture_default_str();
  app.add_option("--zipf", lo.workload.zipf_exponent, "Zipf exponent of product popularity")
      ->capture_default_str();
  app.add_option("--mix", mix_text,
                 "operation shares, e.g. add=60,get=30,set_remove=10 (default by workload)");
  app.add_option("--rate", lo.rate_per_s, "open loop: operations per second (0: closed loop)")
      ->capture_default_str();
  app.add_option("--in-flight-max", lo.in_flight_max, "open loop: cap on operations in flight")
      ->capture_default_str();
  app.add_option(
         "--drain-max-s", lo.drain_max_s,
         "open loop: how long after the window the backlog may still start (then what is in "
         "flight gets 15 s more)")
      ->capture_default_str();
  app.add_option("--threads", lo.threads, "load generator threads (one client each)")
      ->capture_default_str();
  app.add_option("--seed", lo.seed, "workload seed")->capture_default_str();
  app.add_option("--cart-lines", lo.workload.cart_lines,
                 "cart-size: lines every cart is filled to before the run and held at");
}

// Sets the workload from --workload, --mix and --cart-lines (cart-size:
// --carts defaults to 1000, since each cart is filled first); false after
// printing why not.
bool ChooseCartWorkload(const CLI::App& app, const std::string& workload,
                        const std::string& mix_text, LoadOptions& lo) {
  const bool cart_size = workload == "cart-size";
  if (cart_size != (lo.workload.cart_lines > 0)) {
    std::fprintf(stderr,
                 "trolley-bench: --workload cart-size needs --cart-lines >= 1, and "
                 "--cart-lines needs --workload cart-size\n");
    return false;
  }
  if (workload == "flash-sale") {
    lo.workload.mix = OpMix::FlashSale();
  } else if (workload == "browse") {
    lo.workload.mix = OpMix::Browse();
  } else if (cart_size) {
    lo.workload.mix = OpMix{0, 0, 100, 0};  // for the report: every operation is a set
    if (app.count("--carts") == 0) lo.workload.carts = 1000;
  } else {
    std::fprintf(stderr,
                 "trolley-bench: unknown workload '%s' (kv, flash-sale, browse, cart-size)\n",
                 workload.c_str());
    return false;
  }
  if (!mix_text.empty() && cart_size) {
    std::fprintf(stderr, "trolley-bench: --mix: cart-size's operations are all sets\n");
    return false;
  }
  if (!mix_text.empty()) {
    auto mix = OpMix::Parse(mix_text);
    if (!mix.ok()) {
      std::fprintf(stderr, "trolley-bench: %s\n", mix.status().ToString().c_str());
      return false;
    }
    lo.workload.mix = *mix;
  }
  return true;
}

// --summarize and --compare: prints the table and returns 0, or the error and 2.
int PrintTable(const Result<std::string>& table) {
  if (!table.ok()) {
    std::fprintf(stderr, "trolley-bench: %s\n", table.status().ToString().c_str());
    return 2;
  }
  std::printf("%s", table->c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"trolley-bench: load generator for a Trolley cluster (kv, flash-sale, browse)"};
  std::string workload = "kv", target = "trolley", nodes, ns, mix_text, progress = "auto";
  std::string json_out, markdown_out, series_out, intervals_out, label, target_detail,
      cpu_pid_files, layout_text = "whole-cart";
  std::vector<std::string> summarize, compare;
  KvOptions kv;
  LoadOptions lo;
  double duration_s = 0, warmup_s = 0;
  size_t concurrency = 48;
  TrolleyTargetOptions to;
  uint64_t timeout_ms = 2000;
  RedisTargetOptions redis;
  PostgresTargetOptions postgres;
  size_t pool_max = 64;

  app.add_option("--workload", workload, "kv | flash-sale | browse | cart-size")
      ->capture_default_str();
  app.add_option("--target", target, "trolley | redis | postgres")->capture_default_str();
  app.add_option("--nodes", nodes, "trolley: comma-separated host:port of the nodes");
  app.add_option("--tls-ca", to.client.tls.ca_file,
                 "trolley: the cluster CA (PEM), for nodes with TLS on");
  app.add_option("--tls-cert", to.client.tls.cert_file,
                 "trolley: a client certificate with write rights");
  app.add_option("--tls-key", to.client.tls.key_file, "trolley: its private key");
  app.add_option("--redis", redis.primary, "redis: host:port of the primary")
      ->capture_default_str();
  app.add_option("--redis-wait-replicas", redis.wait_replicas,
                 "redis: WAIT for this many replicas after each write (0: no WAIT)")
      ->capture_default_str();
  app.add_option("--redis-wait-timeout-ms", redis.wait_timeout_ms, "redis: WAIT's timeout")
      ->capture_default_str();
  app.add_option("--pg-conninfo", postgres.conninfo,
                 "postgres: libpq connection string (host=... port=... dbname=... user=...)");
  app.add_option("--layout", layout_text,
                 "redis, postgres: whole-cart (read-modify-write of one value per cart) or "
                 "per-line (one command or statement per line)")
      ->capture_default_str();
  app.add_option("--pool-max", pool_max,
                 "redis, postgres: connections per load thread at most (the pool is the "
                 "operations in flight per thread, capped at this)")
      ->capture_default_str();
  app.add_option("--ns", ns, "namespace (default: carts for kv, carts-orset otherwise)");
  app.add_option("--concurrency", concurrency, "requests in flight (closed loop)")
      ->capture_default_str();
  app.add_option("--duration-s", duration_s,
                 "measured seconds (per phase for kv; default kv 10, else 30)");
  app.add_option("--warmup-s", warmup_s, "unmeasured seconds first (default kv 1, else 2)");
  app.add_option("--json", json_out, "write the results to this JSON file");
  app.add_option("--label", label, "a name for this run in the output");
  // kv only.
  app.add_option("--connections", kv.connections, "kv: connections, spread over the nodes")
      ->capture_default_str();
  app.add_option("--value-bytes", kv.value_bytes, "kv: value size")->capture_default_str();
  app.add_option("--phases", kv.phases, "kv: comma-separated: put, get")->capture_default_str();
  // Cart workloads.
  AddCartWorkloadOptions(app, lo, mix_text);
  app.add_option("--timeout-ms", timeout_ms, "client deadline per request, all attempts")
      ->capture_default_str();
  app.add_option("--attempts", to.client.attempts_max, "client attempts per request")
      ->capture_default_str();
  app.add_option("--connections-per-node", to.client.connections_per_node,
                 "client connections per node")
      ->capture_default_str();
  app.add_flag("--verify", lo.verify, "read every cart back at the end; check acknowledged adds");
  app.add_option("--verify-concurrency", lo.verify_concurrency, "reads in flight per thread")
      ->capture_default_str();
  app.add_option("--kill-node-at", lo.fault.kill_at,
                 "fault: SIGKILL at this fraction of the measured window");
  app.add_option("--restart-node-at", lo.fault.restart_at,
                 "fault: restart at this fraction of the measured window")
      ->capture_default_str();
  app.add_option("--kill-pid-file", lo.fault.pid_file, "fault: file holding the node's pid");
  app.add_option("--restart-cmd", lo.fault.restart_command,
                 "fault: /bin/sh -c command that restarts the node and returns once it answers");
  app.add_option("--cpu-pid-files", cpu_pid_files,
                 "comma-separated pid files: report their CPU (with their child processes)");
  app.add_option("--target-detail", target_detail, "what to call the target's setup (e.g. sync)");
  app.add_option("--markdown", markdown_out, "also write the Markdown table to this file");
  app.add_option("--series", series_out, "write the per-second series (TSV) to this file");
  app.add_option("--intervals", intervals_out,
                 "write ok ops/s per 10 s of the window (CSV) to this file");
  app.add_option("--progress", progress, "auto | tty | plain | off")->capture_default_str();
  app.add_option("--summarize", summarize, "print one table of these result JSON files and exit");
  app.add_option("--compare", compare,
                 "TROLLEY.json=PEER.json ...: print a table of each pair and their ratios, exit");
  CLI11_PARSE(app, argc, argv);

  if (!compare.empty()) {
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const std::string& pair : compare) {
      const size_t eq = pair.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == pair.size()) {
        std::fprintf(stderr, "trolley-bench: --compare takes TROLLEY.json=PEER.json, not '%s'\n",
                     pair.c_str());
        return 2;
      }
      pairs.emplace_back(pair.substr(0, eq), pair.substr(eq + 1));
    }
    return PrintTable(CompareRuns(pairs));
  }
  if (!summarize.empty()) return PrintTable(SummarizeRuns(summarize));
  if (target != "trolley" && target != "redis" && target != "postgres") {
    std::fprintf(stderr, "trolley-bench: unknown target '%s' (trolley, redis, postgres)\n",
                 target.c_str());
    return 2;
  }
  const std::vector<std::string> node_list = SplitCommas(nodes);
  if (target == "trolley" && node_list.empty()) {
    std::fprintf(stderr, "trolley-bench: --nodes is required for --target trolley\n");
    return 2;
  }
  auto layout = ParseCartLayout(layout_text);
  if (!layout.ok()) {
    std::fprintf(stderr, "trolley-bench: %s\n", layout.status().ToString().c_str());
    return 2;
  }
  redis.layout = postgres.layout = *layout;
  if (target == "postgres" && postgres.conninfo.empty()) {
    std::fprintf(stderr, "trolley-bench: --pg-conninfo is required for --target postgres\n");
    return 2;
  }

  if (workload == "kv") {
    if (target != "trolley") {
      std::fprintf(stderr, "trolley-bench: --workload kv runs against trolley only\n");
      return 2;
    }
    kv.nodes = node_list;
    if (!ns.empty()) kv.ns = ns;
    kv.concurrency = concurrency;
    if (app.count("--duration-s") > 0) kv.duration_s = duration_s;
    if (app.count("--warmup-s") > 0) kv.warmup_s = warmup_s;
    kv.json_out = json_out;
    kv.label = label;
    kv.tls = to.client.tls;
    return RunKvWorkload(kv);
  }
  if (!ChooseCartWorkload(app, workload, mix_text, lo)) return 2;
  lo.workload_name = workload;
  lo.concurrency = concurrency;
  lo.open_loop = lo.rate_per_s > 0;
  lo.duration_s = app.count("--duration-s") > 0 ? duration_s : 30;
  lo.warmup_s = app.count("--warmup-s") > 0 ? warmup_s : 2;
  lo.fault.enabled = app.count("--kill-node-at") > 0;
  if (lo.fault.enabled) lo.verify = true;  // the point of the fault mode
  lo.cpu_pid_files = SplitCommas(cpu_pid_files);
  lo.label = label;
  if (progress == "auto") {
    lo.progress = ProgressStyle::kAuto;
  } else if (progress == "tty") {
    lo.progress = ProgressStyle::kTty;
  } else if (progress == "plain") {
    lo.progress = ProgressStyle::kPlain;
  } else if (progress == "off") {
    lo.progress = ProgressStyle::kOff;
  } else {
    std::fprintf(stderr, "trolley-bench: --progress: auto, tty, plain or off\n");
    return 2;
  }
  to.client.seeds = node_list;
  to.ns = ns.empty() ? "carts-orset" : ns;
  to.client.timeout = std::chrono::milliseconds(timeout_ms);
  to.client.random_seed = lo.seed;

  // A peer's pool: one connection per operation this thread can have in
  // flight (a transaction holds its connection), capped at --pool-max.
  const size_t threads = std::max<size_t>(lo.threads, 1);
  const size_t in_flight_per_thread = lo.open_loop ? (lo.in_flight_max + threads - 1) / threads
                                                   : (concurrency + threads - 1) / threads;
  const size_t pool = std::clamp<size_t>(in_flight_per_thread, 1, std::max<size_t>(pool_max, 1));
  redis.connections = pool;
  redis.timeout = std::chrono::milliseconds(timeout_ms);
  redis.quantity_max = lo.workload.quantity_max;
  postgres.connections = pool;
  postgres.timeout = std::chrono::milliseconds(timeout_ms);
  postgres.quantity_max = lo.workload.quantity_max;
  TargetFactory factory;
  if (target == "redis") {
    factory = [&redis](asio::io_context& io, size_t) -> Result<std::unique_ptr<Target>> {
      return std::unique_ptr<Target>(std::make_unique<RedisTarget>(io, redis));
    };
  } else if (target == "postgres") {
    factory = [&postgres](asio::io_context& io, size_t) -> Result<std::unique_ptr<Target>> {
      return std::unique_ptr<Target>(std::make_unique<PostgresTarget>(io, postgres));
    };
  } else {
    factory = [&to](asio::io_context& io, size_t worker) -> Result<std::unique_ptr<Target>> {
      TrolleyTargetOptions options = to;
      options.client.random_seed =
          to.client.random_seed * 1000 + worker + 1;  // the client's jitter, per worker
      return std::unique_ptr<Target>(std::make_unique<TrolleyTarget>(io, options));
    };
  }
  auto result = RunLoad(lo, factory);
  if (!result.ok()) {
    std::fprintf(stderr, "trolley-bench: %s\n", result.status().ToString().c_str());
    return 2;
  }
  result->target = target;
  if (target == "trolley") {
    result->target_detail = target_detail.empty() ? "3 nodes" : target_detail;
    result->ns = to.ns;
  } else {
    result->target_detail = target_detail;
    if (*layout == CartLayout::kPerLine) {
      result->ns = target == "redis" ? "hashes " + redis.key_prefix + "*"
                                     : postgres.table + " + " + postgres.items_table;
    } else {
      result->ns = target == "redis" ? redis.key_prefix + "*" : postgres.table;
    }
  }
  const std::string markdown = result->ToMarkdown();
  std::printf("%s", markdown.c_str());
  if (!result->first_error_message.empty()) {
    for (const auto& [kind, message] : result->first_error_message) {
      std::fprintf(stderr, "trolley-bench: first %s: %s\n", kind.c_str(), message.c_str());
    }
  }
  bool written = true;
  if (!json_out.empty()) written &= WriteFile(json_out, result->ToJson().dump(2) + "\n");
  if (!markdown_out.empty()) written &= WriteFile(markdown_out, markdown);
  if (!series_out.empty()) written &= WriteFile(series_out, result->SeriesTsv());
  if (!intervals_out.empty()) written &= WriteFile(intervals_out, result->IntervalsCsv());
  if (!written) return 2;
  if (result->verify.enabled && !result->verify.passed()) return 3;
  return 0;
}
