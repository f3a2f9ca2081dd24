// RunLoad: drives a cart workload (workload.h) against a Target
// (target.h) and measures it (results.h). The shared engine of
// trolley-bench's flash-sale and browse workloads, for Trolley now and for
// the Redis and PostgreSQL adapters later.
//
// Threads. --threads workers, each with its own io_context, Target,
// Workload and Ledger; worker t owns the carts with index % threads == t,
// so no cart is shared between threads and nothing is locked. The calling
// thread is the controller: it starts the workers together, prints the
// progress line, samples CPU, and runs the fault schedule.
//
// Time line (seconds from the start): [0, warmup) unmeasured warm-up,
// [warmup, warmup + duration) the measured window, then the drain: no new
// operations (except, in open loop, ones scheduled inside the window and
// not started yet), until every operation in flight has answered or
// drain_max_s passed.
//
// Closed loop: `concurrency` shoppers' worth of requests in flight; each
// completion starts the next operation at once. Latency is from the start.
//
// Open loop: operations are scheduled at a fixed rate (evenly spaced,
// rate / threads per worker, the workers' schedules interleaved), whatever
// the answers do. Latency is from the *scheduled* start, so when the
// target stalls, the operations that should have started meanwhile count
// their wait (no coordinated omission: Tene, "How NOT to measure latency").
// An operation starts late when in_flight_max operations are in flight or
// every shopper of the worker has one in flight; it still counts from its
// schedule.
//
// Fault mode: at kill_at of the window it SIGKILLs the pid in pid_file,
// at restart_at it runs restart_command with /bin/sh -c (which must start
// the node again, update the pid file, and return once the node answers).
//
// Check (verify): after the drain each worker reads back every cart it
// touched (verify_concurrency reads in flight) and compares it with its
// ledger (workload.h explains the bound checked).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/results.h"
#include "bench/target.h"
#include "bench/workload.h"

namespace trolley::bench {

struct FaultOptions {
  bool enabled = false;
  double kill_at = 1.0 / 3;     // fraction of the measured window
  double restart_at = 2.0 / 3;  // fraction of the measured window
  std::string pid_file;         // holds the pid of the node to kill
  std::string restart_command;  // /bin/sh -c; returns once the node answers
  double restart_timeout_s = 60;
};

enum class ProgressStyle { kAuto, kTty, kPlain, kOff };

struct LoadOptions {
  WorkloadOptions workload;
  std::string workload_name = "flash-sale";
  bool open_loop = false;
  size_t concurrency = 48;        // closed loop
  double rate_per_s = 0;          // open loop
  size_t in_flight_max = 10'000;  // open loop, over all threads
  double duration_s = 30;
  double warmup_s = 2;
  double drain_max_s = 30;
  size_t threads = 1;
  uint64_t seed = 1;
  bool verify = false;
  size_t verify_concurrency = 32;  // per thread
  FaultOptions fault;
  std::vector<std::string> cpu_pid_files;  // processes whose CPU to report (the nodes)
  ProgressStyle progress = ProgressStyle::kAuto;
  std::string label;
};

// Checks the options (positive rates and sizes, fractions in order, enough
// carts for the shoppers). InvalidArgument names the flag.
Status ValidateLoadOptions(const LoadOptions& options);

// Runs the load. Errors: a worker could not connect, or bad options. The
// result's target fields are left for the caller to fill.
Result<RunResult> RunLoad(const LoadOptions& options, const TargetFactory& factory);

}  // namespace trolley::bench
