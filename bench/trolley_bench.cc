// trolley-bench: load generator for a running Trolley cluster.
//
// Workloads (--workload):
//   kv          raw puts then gets of fresh keys (kv_workload.h); the
//               default, so bench/cluster_bench.sh runs as before.
//   flash-sale  shoppers adding (60%), reading (30%) and changing or
//               removing (10%) cart lines through the Cart API, product
//               popularity Zipf-skewed (workload.h, load.h).
//   browse      the same shoppers, read-heavy (90% get).
// Closed loop (--concurrency in flight) or open loop (--rate ops/s, latency
// from the scheduled start). --verify reads every cart back at the end and
// checks the acknowledged adds; --kill-node-at/--restart-node-at kill and
// restart one node during the run. Results: a Markdown table on stdout
// (and --markdown FILE), --json FILE, --series FILE (TSV per second, for
// bench/plot.sh). --summarize A.json B.json ... prints one table of runs.
//
// bench/flash_sale.sh starts a cluster and runs the whole comparison;
// docs/benchmarks.md explains the figures.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "bench/kv_workload.h"
#include "bench/load.h"
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"trolley-bench: load generator for a Trolley cluster (kv, flash-sale, browse)"};
  std::string workload = "kv", target = "trolley", nodes, ns, mix_text, progress = "auto";
  std::string json_out, markdown_out, series_out, label, target_detail, cpu_pid_files;
  std::vector<std::string> summarize;
  KvOptions kv;
  LoadOptions lo;
  double duration_s = 0, warmup_s = 0;
  size_t concurrency = 48;
  TrolleyTargetOptions to;
  uint64_t timeout_ms = 2000;

  app.add_option("--workload", workload, "kv | flash-sale | browse")->capture_default_str();
  app.add_option("--target", target, "trolley (redis, postgres: not implemented yet)")
      ->capture_default_str();
  app.add_option("--nodes", nodes, "comma-separated host:port of the nodes");
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
  app.add_option("--timeout-ms", timeout_ms, "client deadline per request, all attempts")
      ->capture_default_str();
  app.add_option("--attempts", to.attempts_max, "client attempts per request")
      ->capture_default_str();
  app.add_option("--connections-per-node", to.connections_per_node, "client connections per node")
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
  app.add_option("--cpu-pid-files", cpu_pid_files, "comma-separated pid files: report their CPU");
  app.add_option("--target-detail", target_detail, "what to call the target's setup (e.g. sync)");
  app.add_option("--markdown", markdown_out, "also write the Markdown table to this file");
  app.add_option("--series", series_out, "write the per-second series (TSV) to this file");
  app.add_option("--progress", progress, "auto | tty | plain | off")->capture_default_str();
  app.add_option("--summarize", summarize, "print one table of these result JSON files and exit");
  CLI11_PARSE(app, argc, argv);

  if (!summarize.empty()) {
    auto table = SummarizeRuns(summarize);
    if (!table.ok()) {
      std::fprintf(stderr, "trolley-bench: %s\n", table.status().ToString().c_str());
      return 2;
    }
    std::printf("%s", table->c_str());
    return 0;
  }
  if (target != "trolley") {
    std::fprintf(stderr,
                 "trolley-bench: target '%s' is not implemented yet (issue 6, second half)\n",
                 target.c_str());
    return 2;
  }
  const std::vector<std::string> node_list = SplitCommas(nodes);
  if (node_list.empty()) {
    std::fprintf(stderr, "trolley-bench: --nodes is required\n");
    return 2;
  }

  if (workload == "kv") {
    kv.nodes = node_list;
    if (!ns.empty()) kv.ns = ns;
    kv.concurrency = concurrency;
    if (app.count("--duration-s") > 0) kv.duration_s = duration_s;
    if (app.count("--warmup-s") > 0) kv.warmup_s = warmup_s;
    kv.json_out = json_out;
    kv.label = label;
    return RunKvWorkload(kv);
  }
  if (workload == "flash-sale") {
    lo.workload.mix = OpMix::FlashSale();
  } else if (workload == "browse") {
    lo.workload.mix = OpMix::Browse();
  } else {
    std::fprintf(stderr, "trolley-bench: unknown workload '%s' (kv, flash-sale, browse)\n",
                 workload.c_str());
    return 2;
  }
  if (!mix_text.empty()) {
    auto mix = OpMix::Parse(mix_text);
    if (!mix.ok()) {
      std::fprintf(stderr, "trolley-bench: %s\n", mix.status().ToString().c_str());
      return 2;
    }
    lo.workload.mix = *mix;
  }
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
  to.nodes = node_list;
  to.ns = ns.empty() ? "carts-orset" : ns;
  to.timeout = std::chrono::milliseconds(timeout_ms);
  to.seed = lo.seed;

  const TargetFactory factory = [&to](asio::io_context& io,
                                      size_t worker) -> Result<std::unique_ptr<Target>> {
    TrolleyTargetOptions options = to;
    options.seed = to.seed * 1000 + worker + 1;  // the client's jitter, per worker
    return std::unique_ptr<Target>(std::make_unique<TrolleyTarget>(io, options));
  };
  auto result = RunLoad(lo, factory);
  if (!result.ok()) {
    std::fprintf(stderr, "trolley-bench: %s\n", result.status().ToString().c_str());
    return 2;
  }
  result->target = "trolley";
  result->target_detail = target_detail.empty() ? "3 nodes" : target_detail;
  result->ns = to.ns;
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
  if (!written) return 2;
  if (result->verify.enabled && !result->verify.passed()) return 3;
  return 0;
}
