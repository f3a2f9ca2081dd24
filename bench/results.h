// Recorder and RunResult: what one load-generator run measured, and its
// renderings (JSON, a Markdown table, a TSV time series for plots, and the
// one-table summary of several runs that bench/flash_sale.sh prints).
//
// Recorder: one per worker thread (no locking); the driver merges them at
// the end. An operation is measured when its intended start lies in the
// measured window [0, duration) (seconds from the end of the warm-up):
//  - its latency (completion - intended start; in closed loop the intended
//    start is the actual start) goes to its kind's histogram of successes
//    or of failures;
//  - the per-second latency series files it under the second it
//    completed (a stall shows as a late spike in p99), and the fault
//    phases (before / during / after the node was down) under the second
//    it was meant to start.
// Throughput is counted separately, by completion (CountCompletion, for
// every operation, warm-up ones too): the ok operations/s of a run are
// those that completed inside the window, divided by its length. (Counting
// the measured operations instead would credit an overloaded open-loop
// run with its whole schedule once the drain had worked off the backlog.)
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bench/workload.h"
#include "common/histogram.h"

namespace trolley::bench {

struct KindStats {
  LatencyHistogram ok_latency;             // successful operations
  LatencyHistogram error_latency;          // failed ones (time until the failure was reported)
  std::map<std::string, uint64_t> errors;  // by error kind
  uint64_t ok() const { return ok_latency.count(); }
  uint64_t failed() const { return error_latency.count(); }
  void Merge(const KindStats& other);
};

struct SecondStats {
  std::array<uint64_t, kOpKindCount> ok{};  // completions (CountCompletion)
  uint64_t errors = 0;
  LatencyHistogram all_ok;  // successful operations of every kind
  LatencyHistogram add_ok;
  LatencyHistogram get_ok;
  void Merge(const SecondStats& other);
};

// The fault mode's three phases: before the kill, while the node is down,
// after its restart.
enum class Phase : uint8_t { kBefore = 0, kDuring = 1, kAfter = 2 };
inline constexpr size_t kPhaseCount = 3;
std::string_view PhaseName(Phase phase);

struct PhaseStats {
  uint64_t adds = 0, adds_ok = 0;
  LatencyHistogram add_latency;     // every add, ok or not: what a shopper waited
  LatencyHistogram all_ok_latency;  // successful operations of every kind
  uint64_t ops = 0, ops_ok = 0;
  void Merge(const PhaseStats& other);
};

class Recorder {
 public:
  // Phase boundaries in seconds from the window start; with no fault both
  // are past the end and every operation is "before".
  // window_s: the window's length (for CountCompletion).
  Recorder(double kill_at_s, double restart_at_s, double window_s = 1e300);

  // A measured operation (intended start inside the window).
  void Record(OpKind kind, bool ok, const std::string& error_kind, uint64_t latency_us,
              double intended_start_s, double completed_s);
  // Every operation, when it completes (seconds from the window start; may
  // be negative during the warm-up).
  void CountCompletion(OpKind kind, bool ok, double completed_s);
  void Merge(const Recorder& other);

  const std::array<KindStats, kOpKindCount>& kinds() const { return kinds_; }
  KindStats Overall() const;
  const std::vector<SecondStats>& seconds() const { return seconds_; }
  const std::array<PhaseStats, kPhaseCount>& phases() const { return phases_; }
  // Ok operations that completed inside the window, by kind.
  const std::array<uint64_t, kOpKindCount>& ok_in_window() const { return ok_in_window_; }
  uint64_t errors_in_window() const { return errors_in_window_; }

 private:
  double kill_at_s_, restart_at_s_, window_s_;
  std::array<uint64_t, kOpKindCount> ok_in_window_{};
  uint64_t errors_in_window_ = 0;
  std::array<KindStats, kOpKindCount> kinds_;
  std::vector<SecondStats> seconds_;
  std::array<PhaseStats, kPhaseCount> phases_;
};

struct FaultReport {
  bool enabled = false;
  double kill_at_s = 0, restart_at_s = 0;                         // planned, from the window start
  double killed_at_s = -1, restarted_at_s = -1, ready_at_s = -1;  // what happened (-1: did not)
  int killed_pid = 0;
  std::string pid_file;
  std::string problems;  // anything that went wrong with the kill or restart
};

struct VerifyReport {
  bool enabled = false;
  uint64_t carts = 0, carts_read = 0, read_errors = 0;
  uint64_t lines_checked = 0, acked_add_ops = 0;
  std::vector<LineShortfall> shortfalls;  // acked adds missing: must be empty
  std::string first_read_error;
  bool passed() const { return read_errors == 0 && shortfalls.empty(); }
};

// The cart-size workload's fill (workload.h), before the measured run.
struct FillReport {
  uint32_t lines = 0;     // the lines every cart was filled to; 0: not the cart-size workload
  uint64_t carts = 0;     // carts filled and read back with exactly `lines` lines
  double seconds = 0;     // how long the fill took (the slowest worker)
  size_t cart_bytes = 0;  // one filled cart as stored (its encoded value); 0: unknown
};

struct ProcessCpu {
  std::string name;     // "trolley-bench", or a pid file's name without ".pid" (n1)
  double percent = -1;  // of one core over the window; -1 unknown (e.g. restarted)
};

// I/O counters of a process (proc(5), /proc/<pid>/io), or their difference
// over the window. rchar and wchar count read(2)/write(2)-family calls on
// files (a node's: LMDB's pwrites of whole pages, its log), not the
// sendmsg/recvmsg its sockets use; write_bytes counts pages newly dirtied
// for storage (a page written twice before writeback counts once).
struct ProcessIo {
  uint64_t rchar = 0, wchar = 0;
  uint64_t write_bytes = 0;
};

struct RunResult {
  // What ran.
  std::string label, workload, target, target_detail, ns, mode;  // mode: "closed" | "open"
  std::string mix;
  uint64_t carts = 0, products = 0, threads = 0, seed = 0;
  double zipf_exponent = 0;
  uint64_t concurrency = 0;
  double rate_per_s = 0;  // open loop's target
  double duration_s = 0, warmup_s = 0;
  // What it measured.
  Recorder recorder{1e300, 1e300};
  uint64_t not_issued = 0;  // open loop: scheduled ops never started (backlog at the drain limit)
  uint64_t abandoned = 0;   // started, never answered (still in flight at the drain limit)
  uint64_t in_flight_max_seen = 0;
  std::vector<ProcessCpu> cpu;                // the load generator first
  std::optional<ProcessIo> node_io;           // of --cpu-pid-files, summed over the window
  std::string loadavg_before, loadavg_after;  // /proc/loadavg
  FaultReport fault;
  VerifyReport verify;
  FillReport fill;
  std::map<std::string, std::string> first_error_message;  // by error kind

  uint64_t OkOps() const;     // measured ok operations (intended start in the window)
  double Throughput() const;  // ok operations completed in the window, per second
  double KindThroughput(OpKind kind) const;
  // CPU of the processes of --cpu-pid-files (the nodes) over the window,
  // in µs per ok operation completed in it; -1 if unknown (none given, or
  // one was restarted) or no operation completed.
  double NodeCpuUsPerOp() const;
  nlohmann::json ToJson() const;
  std::string ToMarkdown() const;
  // Columns: second, ok ops/s by kind and total, errors, p50/p99 ms of
  // all ok ops, p99 of adds and gets (0 for an empty second). A fault run
  // starts with "# fault killed_at_s=K restarted_at_s=R" (bench/plot.sh).
  // Seconds not wholly inside the window (the drain) are commented out
  // ("# drain ...") so that they do not plot as a dip.
  // Since issue 15 a last column, checkout_ops, follows (plot.sh reads
  // columns by number).
  std::string SeriesTsv() const;

  // Long-run stability. Ok operations/s per interval of the window, by
  // completion, whole intervals only (a 35 s window has three of 10 s).
  std::vector<double> IntervalThroughput(double interval_s) const;
  struct Stability {
    double reference_ops_per_s = 0;      // mean of the intervals in the first 30 s
    double last_interval_ops_per_s = 0;  // the last whole interval
    double ratio = -1;                   // last / reference; -1 for windows under 40 s
  };
  Stability StabilityFigures() const;  // over kStabilityIntervalS intervals
  // "interval_start_s,interval_end_s,ok_ops_per_s" rows (bench/plot.sh --intervals).
  std::string IntervalsCsv() const;
};

// The interval of the stability figures (issue 15: over a 300 s run the
// throughput stays within 15% of its 30 s figure).
inline constexpr double kStabilityIntervalS = 10;

// One Markdown table from several result JSON files (any mix of runs);
// the rows in file order. Used by bench/flash_sale.sh. Errors: unreadable
// or malformed files.
Result<std::string> SummarizeRuns(const std::vector<std::string>& json_files);

// One Markdown table comparing pairs of runs (Trolley's, then a peer's of
// the same workload and load): both throughputs and their ratio, add and
// get p99, both checks. Errors as SummarizeRuns.
Result<std::string> CompareRuns(
    const std::vector<std::pair<std::string, std::string>>& trolley_and_peer);

}  // namespace trolley::bench
