#include "bench/load.h"

#include <dirent.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

extern char** environ;

namespace trolley::bench {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

double SecondsBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

Clock::duration Seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

uint64_t MicrosBetween(Clock::time_point from, Clock::time_point to) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(to - from).count();
  return us < 0 ? 0 : static_cast<uint64_t>(us);
}

double SelfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a.empty() ? "n/a" : a + " " + b + " " + c;
}

// The pid in a pid file; 0 if unreadable.
int ReadPid(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  in >> pid;
  return in && pid > 1 && pid < (1L << 30) ? static_cast<int>(pid) : 0;
}

// Fields of /proc/<pid>/stat after the ")" that ends the command name,
// numbered as proc(5) numbers them (state is field 3); empty if it is gone.
std::vector<std::string> StatFields(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (pid <= 0 || !std::getline(in, line)) return {};
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos || paren + 2 > line.size()) return {};
  std::vector<std::string> fields(3);  // fields 0..2 unused, so that indices match proc(5)
  std::istringstream rest(line.substr(paren + 2));
  for (std::string field; rest >> field;) fields.push_back(field);
  return fields;
}

// CPU seconds of a process and all its descendants: its utime + stime,
// its reaped children's (cutime + cstime), and its live children's, found
// by their ppid (a server that forks a process per connection, such as
// PostgreSQL, is measured whole). nullopt if the process is gone.
std::optional<double> ProcessCpuSeconds(int pid) {
  std::map<int, std::vector<int>> children;
  if (DIR* proc = opendir("/proc")) {
    while (dirent* entry = readdir(proc)) {
      const int child = std::atoi(entry->d_name);
      if (child <= 0) continue;
      const std::vector<std::string> f = StatFields(child);
      if (f.size() > 4) children[std::atoi(f[4].c_str())].push_back(child);
    }
    closedir(proc);
  }
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::optional<double> total;
  std::vector<int> todo{pid};
  std::set<int> seen;
  while (!todo.empty()) {
    const int p = todo.back();
    todo.pop_back();
    if (!seen.insert(p).second) continue;
    const std::vector<std::string> f = StatFields(p);
    if (f.size() <= 17) {
      if (p == pid) return std::nullopt;
      continue;  // exited meanwhile
    }
    double ticks = 0;
    for (int i : {14, 15, 16, 17}) ticks += std::strtod(f[static_cast<size_t>(i)].c_str(), nullptr);
    total = total.value_or(0) + ticks / tick;
    for (int c : children[p]) todo.push_back(c);
  }
  return total;
}

// What the controller and the progress line read from a worker.
struct Progress {
  std::atomic<uint64_t> ok{0}, failed{0}, in_flight{0}, backlog{0}, p99_us{0};
  std::atomic<uint64_t> verified{0};
  std::atomic<bool> finished{false};
};

class Worker {
 public:
  Worker(size_t index, const LoadOptions& o, const TargetFactory& factory)
      : index_(index),
        o_(o),
        factory_(factory),
        workload_(o.workload, o.seed * 0x9e3779b97f4a7c15ull + index + 1),
        recorder_(o.fault.enabled ? o.fault.kill_at * o.duration_s : 1e300,
                  o.fault.enabled ? o.fault.restart_at * o.duration_s : 1e300, o.duration_s),
        busy_(o.workload.carts, false) {
    const size_t threads = o.threads;
    slots_ = o.concurrency / threads + (index < o.concurrency % threads ? 1 : 0);
    in_flight_cap_ = std::max<size_t>(1, o.in_flight_max / threads);
    rate_per_s_ = o.rate_per_s / static_cast<double>(threads);
  }

  // The thread's body: connect, report, wait for the start, run, drain, check.
  void Main(std::promise<Status> connected, std::shared_future<Clock::time_point> start) {
    Status s = Connect();
    if (s.ok() && o_.workload.cart_lines > 0) s = FillCarts();
    const bool ok = s.ok();
    connected.set_value(std::move(s));
    const Clock::time_point t0 = start.get();
    if (!ok || t0 == Clock::time_point::min()) {
      progress_.finished = true;
      return;
    }
    t0_ = t0;
    t_window_ = t0 + Seconds(o_.warmup_s);
    t_end_ = t_window_ + Seconds(o_.duration_s);
    progress_mark_ = t0;
    RunLoad();
    if (o_.verify) Verify();
    target_.reset();  // before the io_context it uses
    progress_.finished = true;
  }

  Progress& progress() { return progress_; }
  const Recorder& recorder() const { return recorder_; }
  const VerifyReport& verify() const { return verify_; }
  uint64_t not_issued() const { return not_issued_; }
  uint64_t abandoned() const { return abandoned_; }
  uint64_t in_flight_max_seen() const { return in_flight_max_seen_; }
  const std::map<std::string, std::string>& first_errors() const { return first_errors_; }
  const FillReport& fill() const { return fill_; }

 private:
  Status Connect() {
    auto target = factory_(io_, index_);
    if (!target.ok()) return target.status();
    target_ = std::move(*target);
    std::optional<Status> result;
    target_->Connect([&](Status s) { result = std::move(s); });
    const auto deadline = Clock::now() + 15s;
    while (!result && Clock::now() < deadline) io_.run_one_for(100ms);
    if (!result)
      return Status::Timeout("worker " + std::to_string(index_) + ": connect took over 15 s");
    return *result;
  }

  // The cart-size workload's fill (workload.h), before the common start
  // and so unmeasured: this worker's carts, slots_ of them at a time, each
  // a chain of cart_lines adds with one in flight, then a read back that
  // must find exactly cart_lines lines, then (the first cart only) its
  // stored size. An add is tried kFillAttempts times (the client retries
  // inside each); then the fill fails, and so does the run.
  Status FillCarts() {
    const auto started = Clock::now();
    for (uint64_t cart = index_; cart < o_.workload.carts; cart += o_.threads) {
      fill_queue_.push_back(cart);
    }
    if (io_.stopped()) io_.restart();
    auto guard = asio::make_work_guard(io_);
    for (size_t i = 0; i < std::max<size_t>(slots_, 1); ++i) FillNextCart();
    const auto deadline = started + 900s;
    while (fill_chains_ > 0 && Clock::now() < deadline) io_.run_one_for(200ms);
    if (fill_chains_ > 0 && fill_status_.ok()) {
      fill_status_ = Status::Timeout("the fill took over 900 s");
    }
    fill_.seconds = SecondsBetween(started, Clock::now());
    return fill_status_;
  }

  void FillNextCart() {
    if (!fill_status_.ok() || fill_next_ >= fill_queue_.size()) return;
    ++fill_chains_;
    FillLine(fill_queue_[fill_next_++], 0, 1);
  }

  void FillChainDone(Status s) {
    if (!s.ok() && fill_status_.ok()) fill_status_ = std::move(s);
    --fill_chains_;
    FillNextCart();
  }

  void FillLine(uint64_t cart, uint32_t line, int attempt) {
    constexpr int kFillAttempts = 3;
    if (!fill_status_.ok()) return FillChainDone(Status::Ok());
    if (line == o_.workload.cart_lines) return CheckFilled(cart);
    target_->Execute(CartFillOp(cart, line), [this, cart, line, attempt](OpOutcome outcome) {
      asio::post(io_, [this, cart, line, attempt, outcome = std::move(outcome)] {
        if (outcome.ok) return FillLine(cart, line + 1, 1);
        if (attempt < kFillAttempts) return FillLine(cart, line, attempt + 1);
        FillChainDone(Status::Unavailable("fill: " + CartIdOf(cart) + " line " +
                                          std::to_string(line + 1) + ": " + outcome.error_kind +
                                          " " + outcome.error_message));
      });
    });
  }

  void CheckFilled(uint64_t cart) {
    target_->ReadCart(cart, [this, cart](Result<std::vector<CartLineView>> r) {
      asio::post(io_, [this, cart, r = std::move(r)] {
        if (!r.ok()) return FillChainDone(r.status());
        if (r->size() != o_.workload.cart_lines) {
          return FillChainDone(Status::Corruption("fill: " + CartIdOf(cart) + " holds " +
                                                  std::to_string(r->size()) + " lines, not " +
                                                  std::to_string(o_.workload.cart_lines)));
        }
        ++fill_.carts;
        if (cart != fill_queue_.front()) return FillChainDone(Status::Ok());
        target_->StoredCartBytes(cart, [this](Result<size_t> bytes) {
          asio::post(io_, [this, bytes = std::move(bytes)] {
            if (bytes.ok()) fill_.cart_bytes = *bytes;
            FillChainDone(Status::Ok());
          });
        });
      });
    });
  }

  void RunLoad() {
    if (io_.stopped()) io_.restart();  // see Verify
    auto guard = asio::make_work_guard(io_);
    if (o_.open_loop) {
      timer_.emplace(io_);
      asio::post(io_, [this] { Pump(); });
    } else {
      active_slots_ = slots_;
      if (slots_ == 0) issuing_done_ = true;
      // Start the shoppers at t0, not before.
      timer_.emplace(io_, t0_);
      timer_->async_wait([this](boost::system::error_code) {
        for (size_t i = 0; i < slots_; ++i) IssueClosed();
      });
    }
    // After the window: the backlog (open loop) may still start until
    // drain_max_s; then nothing new starts, and what is in flight gets
    // kInFlightGrace to answer (the client's own deadlines end it sooner).
    constexpr auto kInFlightGrace = 15s;
    const Clock::time_point backlog_deadline = t_end_ + Seconds(o_.drain_max_s);
    while (!(issuing_done_ && in_flight_ == 0)) {
      io_.run_one_for(200ms);
      const auto now = Clock::now();
      if (now > backlog_deadline && !issuing_done_) {
        uint64_t dropped = 0;
        if (o_.open_loop) {
          while (Intended(next_index_) < t_end_) ++next_index_, ++dropped;
        }
        not_issued_ += dropped;
        issuing_done_ = true;
        if (dropped > 0) {
          std::fprintf(stderr,
                       "\ntrolley-bench: worker %zu: %llu scheduled operations not started %.0f s "
                       "after the end; dropped\n",
                       index_, static_cast<unsigned long long>(dropped), o_.drain_max_s);
        }
      }
      if (now > backlog_deadline + kInFlightGrace) {
        abandoned_ = in_flight_;
        std::fprintf(stderr,
                     "\ntrolley-bench: worker %zu: %zu operations unanswered %.0f s after the end; "
                     "abandoned\n",
                     index_, in_flight_, o_.drain_max_s + 15);
        break;
      }
    }
    if (timer_) timer_->cancel();
    progress_.backlog = 0;
    load_over_ = true;  // late answers of abandoned operations start nothing new
  }

  Clock::time_point Intended(uint64_t i) const {
    const double offset = static_cast<double>(index_) / static_cast<double>(o_.threads);
    return t0_ + Seconds((static_cast<double>(i) + offset) / rate_per_s_);
  }

  // Closed loop: one shopper's next operation, unless the window is over.
  void IssueClosed() {
    if (load_over_) return;
    const auto now = Clock::now();
    if (now >= t_end_ || !StartOp(now)) {
      if (--active_slots_ == 0) issuing_done_ = true;
    }
  }

  // Open loop: start every operation whose time has come, as far as the
  // in-flight cap and the free shoppers allow; arm the timer for the next.
  void Pump() {
    if (issuing_done_ || load_over_) return;
    const auto now = Clock::now();
    for (;;) {
      const Clock::time_point intended = Intended(next_index_);
      if (intended >= t_end_) {
        issuing_done_ = true;
        break;
      }
      if (intended > now) {
        if (!timer_armed_) {
          timer_armed_ = true;
          timer_->expires_at(intended);
          timer_->async_wait([this](boost::system::error_code ec) {
            timer_armed_ = false;
            if (!ec) Pump();
          });
        }
        break;
      }
      if (in_flight_ >= in_flight_cap_ || !StartOp(intended)) break;  // a completion pumps again
      ++next_index_;
    }
    // Backlog: operations due and not started.
    uint64_t due = 0;
    if (!issuing_done_) {
      const Clock::time_point until = std::min(now, t_end_);
      if (until > Intended(next_index_)) {
        due = static_cast<uint64_t>(SecondsBetween(Intended(next_index_), until) * rate_per_s_) + 1;
      }
    }
    progress_.backlog = due;
  }

  // A free shopper among this worker's: a few random draws, then a scan.
  std::optional<uint64_t> FreeCart() {
    const uint64_t stride = o_.threads, offset = index_;
    for (int i = 0; i < 16; ++i) {
      const uint64_t cart = workload_.PickCart(stride, offset);
      if (!busy_[cart]) return cart;
    }
    const uint64_t first = workload_.PickCart(stride, offset);
    for (uint64_t cart = first; cart < o_.workload.carts; cart += stride) {
      if (!busy_[cart]) return cart;
    }
    for (uint64_t cart = offset; cart < first; cart += stride) {
      if (!busy_[cart]) return cart;
    }
    return std::nullopt;
  }

  bool StartOp(Clock::time_point intended) {
    const std::optional<uint64_t> cart = FreeCart();
    if (!cart) return false;
    CartOp op = workload_.Next(*cart, ledger_);
    busy_[*cart] = true;
    ledger_.OnStart(op);
    ++in_flight_;
    in_flight_max_seen_ = std::max<uint64_t>(in_flight_max_seen_, in_flight_);
    progress_.in_flight = in_flight_;
    target_->Execute(op, [this, op, intended](OpOutcome outcome) {
      // Never recurse into the next operation from inside Execute.
      asio::post(io_, [this, op, intended, outcome = std::move(outcome)]() mutable {
        OnDone(op, intended, std::move(outcome));
      });
    });
    return true;
  }

  void OnDone(const CartOp& op, Clock::time_point intended, OpOutcome outcome) {
    const auto now = Clock::now();
    TROLLEY_ASSERT(in_flight_ > 0);
    --in_flight_;
    progress_.in_flight = in_flight_;
    busy_[op.cart] = false;
    ledger_.OnDone(op, outcome.ok);
    const uint64_t latency_us = MicrosBetween(intended, now);
    recorder_.CountCompletion(op.kind(), outcome.ok, SecondsBetween(t_window_, now));
    if (intended >= t_window_ && intended < t_end_) {
      recorder_.Record(op.kind(), outcome.ok, outcome.error_kind, latency_us,
                       SecondsBetween(t_window_, intended), SecondsBetween(t_window_, now));
      if (!outcome.ok && first_errors_.count(outcome.error_kind) == 0) {
        first_errors_[outcome.error_kind] = outcome.error_message;
      }
    }
    if (outcome.ok) {
      ++progress_.ok;
      progress_hist_.Record(latency_us);
    } else {
      ++progress_.failed;
    }
    if (now - progress_mark_ >= 1s) {
      progress_.p99_us = progress_hist_.Percentile(99);
      progress_hist_.Reset();
      progress_mark_ = now;
    }
    if (o_.open_loop) {
      Pump();
    } else {
      IssueClosed();
    }
  }

  // Reads back every cart this worker touched and checks it against the ledger.
  void Verify() {
    verify_.enabled = true;
    verify_.acked_add_ops = ledger_.acked_add_ops();
    carts_to_check_ = ledger_.Carts();
    verify_.carts = carts_to_check_.size();
    next_check_ = 0;
    checks_in_flight_ = 0;
    // The io_context stops once it runs out of work (between the load and
    // this check, a target with nothing pending, e.g. its server gone);
    // a stopped one runs nothing until restarted.
    if (io_.stopped()) io_.restart();
    auto guard = asio::make_work_guard(io_);
    for (size_t i = 0; i < o_.verify_concurrency; ++i) CheckNext();
    const auto deadline = Clock::now() + 300s;
    while ((next_check_ < carts_to_check_.size() || checks_in_flight_ > 0) &&
           Clock::now() < deadline) {
      io_.run_one_for(200ms);
    }
    if (checks_in_flight_ > 0 || next_check_ < carts_to_check_.size()) {
      verify_.read_errors += carts_to_check_.size() - verify_.carts_read;
      if (verify_.first_read_error.empty())
        verify_.first_read_error = "check did not finish in 300 s";
    }
  }

  void CheckNext() {
    if (next_check_ >= carts_to_check_.size()) return;
    const uint64_t cart = carts_to_check_[next_check_++];
    ++checks_in_flight_;
    ReadForCheck(cart, 1);
  }

  void ReadForCheck(uint64_t cart, int attempt) {
    target_->ReadCart(cart, [this, cart, attempt](Result<std::vector<CartLineView>> r) {
      asio::post(io_, [this, cart, attempt, r = std::move(r)]() mutable {
        if (!r.ok() && attempt < 3) return ReadForCheck(cart, attempt + 1);
        --checks_in_flight_;
        if (!r.ok()) {
          ++verify_.read_errors;
          if (verify_.first_read_error.empty()) {
            verify_.first_read_error = CartIdOf(cart) + ": " + r.status().ToString();
          }
        } else {
          ++verify_.carts_read;
          std::map<std::string, uint32_t> lines;
          for (const CartLineView& line : *r) lines[line.sku] = line.quantity;
          verify_.lines_checked +=
              ledger_.Check(cart, lines, o_.workload.quantity_max, verify_.shortfalls);
        }
        ++progress_.verified;
        CheckNext();
      });
    });
  }

  const size_t index_;
  const LoadOptions& o_;
  const TargetFactory& factory_;
  asio::io_context io_{1};
  std::unique_ptr<Target> target_;
  std::optional<asio::steady_timer> timer_;
  bool timer_armed_ = false;

  Workload workload_;
  Ledger ledger_;
  Recorder recorder_;
  std::vector<bool> busy_;  // by cart index; only this worker's carts are used
  Progress progress_;
  LatencyHistogram progress_hist_;
  Clock::time_point progress_mark_;

  Clock::time_point t0_, t_window_, t_end_;
  size_t slots_ = 0, active_slots_ = 0, in_flight_cap_ = 0;
  double rate_per_s_ = 0;
  uint64_t next_index_ = 0;
  bool issuing_done_ = false, load_over_ = false;
  size_t in_flight_ = 0;
  uint64_t in_flight_max_seen_ = 0, not_issued_ = 0, abandoned_ = 0;
  std::map<std::string, std::string> first_errors_;

  FillReport fill_;
  std::vector<uint64_t> fill_queue_;  // this worker's carts, in fill order
  size_t fill_next_ = 0, fill_chains_ = 0;
  Status fill_status_;

  VerifyReport verify_;
  std::vector<uint64_t> carts_to_check_;
  size_t next_check_ = 0, checks_in_flight_ = 0;
};

// The kill and the restart of one node, run by the controller thread.
class FaultInjector {
 public:
  FaultInjector(const FaultOptions& o, FaultReport& report) : o_(o), report_(report) {
    report_.enabled = o.enabled;
    report_.pid_file = o.pid_file;
  }

  // Called often by the controller with the window's elapsed seconds.
  void Poll(double window_s, double duration_s) {
    if (!o_.enabled) return;
    if (!killed_ && window_s >= o_.kill_at * duration_s) Kill(window_s);
    // Restart only what was killed: a second node on the same data dir
    // would fail and could leave a wrong pid in the pid file.
    if (killed_ && report_.killed_pid != 0 && !restarted_ &&
        window_s >= o_.restart_at * duration_s) {
      Restart(window_s);
    }
    if (child_ > 0) {
      int status = 0;
      const pid_t r = waitpid(child_, &status, WNOHANG);
      if (r == child_) {
        child_ = 0;
        report_.ready_at_s = window_s;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
          Problem("restart command failed (status " + std::to_string(status) + ")");
        }
      } else if (window_s - report_.restarted_at_s > o_.restart_timeout_s) {
        Problem("restart command still running after " + std::to_string(o_.restart_timeout_s) +
                " s");
        child_ = 0;  // left running: it is a shell starting a node, not ours to judge
      }
    }
  }

  bool busy() const { return child_ > 0; }

 private:
  void Kill(double window_s) {
    killed_ = true;
    const int pid = ReadPid(o_.pid_file);
    if (pid == 0) return Problem("no pid in " + o_.pid_file);
    if (::kill(pid, SIGKILL) != 0) return Problem("kill " + std::to_string(pid) + " failed");
    report_.killed_pid = pid;
    report_.killed_at_s = window_s;
  }

  void Restart(double window_s) {
    restarted_ = true;
    report_.restarted_at_s = window_s;
    std::string sh = "/bin/sh", dash_c = "-c", command = o_.restart_command;
    char* argv[] = {sh.data(), dash_c.data(), command.data(), nullptr};
    // The node it starts must not inherit our client sockets (it would
    // keep them open after we exit, and the nodes would not see us go).
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, "/bin/sh", &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return Problem("cannot run the restart command");
    child_ = pid;
  }

  void Problem(const std::string& what) {
    std::fprintf(stderr, "\ntrolley-bench: fault: %s\n", what.c_str());
    report_.problems += (report_.problems.empty() ? "" : "; ") + what;
  }

  const FaultOptions& o_;
  FaultReport& report_;
  bool killed_ = false, restarted_ = false;
  pid_t child_ = 0;
};

// A process's I/O counters (results.h, ProcessIo); nullopt if unreadable.
std::optional<ProcessIo> ReadProcessIo(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/io");
  if (pid <= 0 || !in) return std::nullopt;
  ProcessIo io;
  int found = 0;
  for (std::string name; in >> name;) {
    uint64_t value = 0;
    if (!(in >> value)) break;
    if (name == "rchar:") io.rchar = value, ++found;
    if (name == "wchar:") io.wchar = value, ++found;
    if (name == "write_bytes:") io.write_bytes = value, ++found;
  }
  if (found != 3) return std::nullopt;
  return io;
}

struct CpuSample {
  double self_s = 0;
  std::vector<int> pids;
  std::vector<std::optional<double>> process_s;
  std::vector<std::optional<ProcessIo>> process_io;
};

CpuSample SampleCpu(const std::vector<std::string>& pid_files) {
  CpuSample s;
  s.self_s = SelfCpuSeconds();
  for (const std::string& f : pid_files) {
    const int pid = ReadPid(f);
    s.pids.push_back(pid);
    s.process_s.push_back(ProcessCpuSeconds(pid));
    s.process_io.push_back(ReadProcessIo(pid));
  }
  return s;
}

// CPU over the window, % of one core, of the load generator and of each
// process of pid_files; and the processes' I/O summed (unknown if one was
// restarted or unreadable).
void ReportProcesses(const LoadOptions& o, const CpuSample& cpu0, const CpuSample& cpu1,
                     RunResult& result) {
  const double window = o.duration_s;
  result.cpu.push_back({"trolley-bench", 100 * (cpu1.self_s - cpu0.self_s) / window});
  std::optional<ProcessIo> io_sum =
      o.cpu_pid_files.empty() ? std::nullopt : std::optional<ProcessIo>(ProcessIo{});
  for (size_t i = 0; i < o.cpu_pid_files.size(); ++i) {
    std::string name = o.cpu_pid_files[i];
    name = name.substr(name.find_last_of('/') + 1);
    if (name.size() > 4 && name.ends_with(".pid")) name.resize(name.size() - 4);
    ProcessCpu c{name, -1};
    const bool same = cpu0.pids[i] != 0 && cpu0.pids[i] == cpu1.pids[i];
    if (same && cpu0.process_s[i] && cpu1.process_s[i]) {
      c.percent = 100 * (*cpu1.process_s[i] - *cpu0.process_s[i]) / window;
    }
    result.cpu.push_back(c);
    if (!same || !cpu0.process_io[i] || !cpu1.process_io[i]) {
      io_sum.reset();
    } else if (io_sum) {
      io_sum->rchar += cpu1.process_io[i]->rchar - cpu0.process_io[i]->rchar;
      io_sum->wchar += cpu1.process_io[i]->wchar - cpu0.process_io[i]->wchar;
      io_sum->write_bytes += cpu1.process_io[i]->write_bytes - cpu0.process_io[i]->write_bytes;
    }
  }
  result.node_io = io_sum;
}

std::string Bar(double fraction, int width) {
  const int full = static_cast<int>(std::clamp(fraction, 0.0, 1.0) * width);
  return std::string(static_cast<size_t>(full), '#') +
         std::string(static_cast<size_t>(width - full), '.');
}

}  // namespace

Status ValidateLoadOptions(const LoadOptions& o) {
  const WorkloadOptions& w = o.workload;
  if (w.carts == 0) return Status::InvalidArgument("--carts: must be >= 1");
  if (w.products == 0) return Status::InvalidArgument("--products: must be >= 1");
  if (!(w.zipf_exponent >= 0) || !std::isfinite(w.zipf_exponent)) {
    return Status::InvalidArgument("--zipf: must be >= 0");
  }
  if (o.threads == 0 || o.threads > 64) return Status::InvalidArgument("--threads: 1..64");
  if (w.carts < o.threads) return Status::InvalidArgument("--carts: fewer carts than --threads");
  if (!(o.duration_s > 0)) return Status::InvalidArgument("--duration-s: must be > 0");
  if (!(o.warmup_s >= 0)) return Status::InvalidArgument("--warmup-s: must be >= 0");
  if (o.open_loop) {
    if (!(o.rate_per_s > 0)) return Status::InvalidArgument("--rate: must be > 0");
    if (o.in_flight_max == 0) return Status::InvalidArgument("--in-flight-max: must be >= 1");
  } else {
    if (o.concurrency == 0) return Status::InvalidArgument("--concurrency: must be >= 1");
    if (o.concurrency > w.carts) {
      return Status::InvalidArgument(
          "--concurrency: more requests in flight than shoppers (--carts)");
    }
  }
  if (o.verify_concurrency == 0)
    return Status::InvalidArgument("--verify-concurrency: must be >= 1");
  if (o.fault.enabled) {
    const FaultOptions& f = o.fault;
    if (!(f.kill_at >= 0 && f.kill_at < f.restart_at && f.restart_at <= 1)) {
      return Status::InvalidArgument(
          "--kill-node-at/--restart-node-at: need 0 <= kill < restart <= 1");
    }
    if (f.pid_file.empty())
      return Status::InvalidArgument("--kill-pid-file: needed with --kill-node-at");
    if (f.restart_command.empty()) {
      return Status::InvalidArgument("--restart-cmd: needed with --kill-node-at");
    }
  }
  return Status::Ok();
}

Result<RunResult> RunLoad(const LoadOptions& o, const TargetFactory& factory) {
  if (Status s = ValidateLoadOptions(o); !s.ok()) return s;
  RunResult result;
  result.label = o.label;
  result.workload = o.workload_name;
  result.mode = o.open_loop ? "open" : "closed";
  result.mix = o.workload.mix.ToString();
  result.carts = o.workload.carts;
  result.products = o.workload.products;
  result.zipf_exponent = o.workload.zipf_exponent;
  result.threads = o.threads;
  result.seed = o.seed;
  result.concurrency = o.open_loop ? 0 : o.concurrency;
  result.rate_per_s = o.open_loop ? o.rate_per_s : 0;
  result.duration_s = o.duration_s;
  result.warmup_s = o.warmup_s;
  result.recorder = Recorder(1e300, 1e300, o.duration_s);
  if (o.fault.enabled) {
    result.recorder =
        Recorder(o.fault.kill_at * o.duration_s, o.fault.restart_at * o.duration_s, o.duration_s);
    result.fault.kill_at_s = o.fault.kill_at * o.duration_s;
    result.fault.restart_at_s = o.fault.restart_at * o.duration_s;
  }

  // Start the workers; each connects, then waits for the common start.
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::future<Status>> connected;
  std::vector<std::thread> threads;
  std::promise<Clock::time_point> start;
  std::shared_future<Clock::time_point> start_future = start.get_future().share();
  for (size_t i = 0; i < o.threads; ++i) workers.push_back(std::make_unique<Worker>(i, o, factory));
  for (size_t i = 0; i < o.threads; ++i) {
    std::promise<Status> p;
    connected.push_back(p.get_future());
    threads.emplace_back([w = workers[i].get(), p = std::move(p), start_future]() mutable {
      w->Main(std::move(p), start_future);
    });
  }
  Status connect_status;
  for (auto& f : connected) {
    Status s = f.get();
    if (!s.ok() && connect_status.ok()) connect_status = s;
  }
  if (!connect_status.ok()) {
    start.set_value(Clock::time_point::min());
    for (auto& t : threads) t.join();
    return connect_status;
  }

  result.loadavg_before = LoadAverage();
  const Clock::time_point t0 = Clock::now() + 20ms;
  const Clock::time_point t_window = t0 + Seconds(o.warmup_s);
  const Clock::time_point t_end = t_window + Seconds(o.duration_s);
  start.set_value(t0);

  bool tty = false;
  switch (o.progress) {
    case ProgressStyle::kAuto:
      tty = isatty(STDERR_FILENO) != 0;
      break;
    case ProgressStyle::kTty:
      tty = true;
      break;
    default:
      break;
  }
  const bool show = o.progress != ProgressStyle::kOff;
  const auto progress_every = tty ? 250ms : 5000ms;

  FaultInjector fault(o.fault, result.fault);
  std::optional<CpuSample> cpu0, cpu1;
  Clock::time_point last_print = t0;
  uint64_t last_ok = 0;
  for (;;) {
    const auto now = Clock::now();
    if (!cpu0 && now >= t_window) cpu0 = SampleCpu(o.cpu_pid_files);
    if (!cpu1 && now >= t_end) cpu1 = SampleCpu(o.cpu_pid_files);
    if (now >= t_window) fault.Poll(SecondsBetween(t_window, now), o.duration_s);
    bool all_done = true;
    uint64_t ok = 0, failed = 0, in_flight = 0, backlog = 0, p99 = 0, verified = 0;
    for (auto& w : workers) {
      Progress& p = w->progress();
      all_done &= p.finished.load();
      ok += p.ok, failed += p.failed, in_flight += p.in_flight, backlog += p.backlog;
      p99 = std::max<uint64_t>(p99, p.p99_us);
      verified += p.verified;
    }
    if (all_done && cpu1 && !fault.busy()) break;
    if (show && now - last_print >= progress_every) {
      const double elapsed = SecondsBetween(t0, now), total = o.warmup_s + o.duration_s;
      const double rate = static_cast<double>(ok - last_ok) / SecondsBetween(last_print, now);
      const char* stage = now < t_window ? "warm-up"
                          : now < t_end  ? "run"
                          : verified > 0 ? "check"
                                         : "drain";
      char line[256];
      std::snprintf(
          line, sizeof line,
          "[%s] %5.1f/%.0f s %-7s %7.0f ops/s  p99 %6.2f ms  errors %llu  in flight %llu%s%s",
          Bar(elapsed / total, 20).c_str(), std::min(elapsed, total), total, stage, rate,
          static_cast<double>(p99) / 1000.0, static_cast<unsigned long long>(failed),
          static_cast<unsigned long long>(in_flight),
          backlog > 0 ? ("  backlog " + std::to_string(backlog)).c_str() : "",
          result.fault.killed_at_s >= 0 && result.fault.ready_at_s < 0 ? "  [node down]" : "");
      if (tty) {
        std::fprintf(stderr, "\r%s\033[K", line);
      } else {
        std::fprintf(stderr, "%s\n", line);
      }
      std::fflush(stderr);
      last_print = now;
      last_ok = ok;
    }
    std::this_thread::sleep_for(20ms);
  }
  if (show && tty) std::fprintf(stderr, "\n");
  for (auto& t : threads) t.join();
  result.loadavg_after = LoadAverage();

  result.fill.lines = o.workload.cart_lines;
  for (auto& w : workers) {
    result.fill.carts += w->fill().carts;
    result.fill.seconds = std::max(result.fill.seconds, w->fill().seconds);
    if (result.fill.cart_bytes == 0) result.fill.cart_bytes = w->fill().cart_bytes;
    result.recorder.Merge(w->recorder());
    result.not_issued += w->not_issued();
    result.abandoned += w->abandoned();
    result.in_flight_max_seen += w->in_flight_max_seen();
    for (const auto& [kind, message] : w->first_errors()) {
      result.first_error_message.try_emplace(kind, message);
    }
    if (o.verify) {
      const VerifyReport& v = w->verify();
      result.verify.enabled = true;
      result.verify.carts += v.carts;
      result.verify.carts_read += v.carts_read;
      result.verify.read_errors += v.read_errors;
      result.verify.lines_checked += v.lines_checked;
      result.verify.acked_add_ops += v.acked_add_ops;
      result.verify.shortfalls.insert(result.verify.shortfalls.end(), v.shortfalls.begin(),
                                      v.shortfalls.end());
      if (result.verify.first_read_error.empty())
        result.verify.first_read_error = v.first_read_error;
    }
  }
  ReportProcesses(o, *cpu0, *cpu1, result);
  return result;
}

}  // namespace trolley::bench
