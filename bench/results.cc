#include "bench/results.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/assert.h"

namespace trolley::bench {
namespace {

double Ms(uint64_t us) { return static_cast<double>(us) / 1000.0; }

nlohmann::json LatencyJson(const LatencyHistogram& h) {
  return {{"count", h.count()},
          {"mean_ms", h.Mean() / 1000.0},
          {"p50_ms", Ms(h.Percentile(50))},
          {"p90_ms", Ms(h.Percentile(90))},
          {"p99_ms", Ms(h.Percentile(99))},
          {"p999_ms", Ms(h.Percentile(99.9))},
          {"max_ms", Ms(h.max())}};
}

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string ErrorsText(const std::map<std::string, uint64_t>& errors) {
  std::string out;
  for (const auto& [kind, n] : errors) {
    out += (out.empty() ? "" : ", ") + kind + " " + std::to_string(n);
  }
  return out.empty() ? "0" : out;
}

}  // namespace

std::string_view PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kBefore:
      return "before";
    case Phase::kDuring:
      return "during";
    case Phase::kAfter:
      return "after";
  }
  return "?";
}

void KindStats::Merge(const KindStats& other) {
  ok_latency.Merge(other.ok_latency);
  error_latency.Merge(other.error_latency);
  for (const auto& [kind, n] : other.errors) errors[kind] += n;
}

void SecondStats::Merge(const SecondStats& other) {
  for (size_t i = 0; i < kOpKindCount; ++i) ok[i] += other.ok[i];
  errors += other.errors;
  all_ok.Merge(other.all_ok);
  add_ok.Merge(other.add_ok);
  get_ok.Merge(other.get_ok);
}

void PhaseStats::Merge(const PhaseStats& other) {
  adds += other.adds;
  adds_ok += other.adds_ok;
  add_latency.Merge(other.add_latency);
  all_ok_latency.Merge(other.all_ok_latency);
  ops += other.ops;
  ops_ok += other.ops_ok;
}

Recorder::Recorder(double kill_at_s, double restart_at_s, double window_s)
    : kill_at_s_(kill_at_s), restart_at_s_(restart_at_s), window_s_(window_s) {
  TROLLEY_ASSERT(kill_at_s <= restart_at_s);
  TROLLEY_ASSERT(window_s > 0);
}

void Recorder::CountCompletion(OpKind kind, bool ok, double completed_s) {
  if (completed_s < 0) return;  // warm-up
  if (completed_s < window_s_) {
    if (ok) {
      ++ok_in_window_[static_cast<size_t>(kind)];
    } else {
      ++errors_in_window_;
    }
  }
  const auto second = static_cast<size_t>(std::floor(completed_s));
  if (second >= seconds_.size()) seconds_.resize(second + 1);
  SecondStats& s = seconds_[second];
  if (ok) {
    ++s.ok[static_cast<size_t>(kind)];
  } else {
    ++s.errors;
  }
}

void Recorder::Record(OpKind kind, bool ok, const std::string& error_kind, uint64_t latency_us,
                      double intended_start_s, double completed_s) {
  KindStats& k = kinds_[static_cast<size_t>(kind)];
  if (ok) {
    k.ok_latency.Record(latency_us);
  } else {
    k.error_latency.Record(latency_us);
    ++k.errors[error_kind];
  }
  const auto second = static_cast<size_t>(std::max(0.0, std::floor(completed_s)));
  if (second >= seconds_.size()) seconds_.resize(second + 1);
  SecondStats& s = seconds_[second];
  if (ok) {
    s.all_ok.Record(latency_us);
    if (kind == OpKind::kAdd) s.add_ok.Record(latency_us);
    if (kind == OpKind::kGet) s.get_ok.Record(latency_us);
  }
  const Phase phase = intended_start_s < kill_at_s_      ? Phase::kBefore
                      : intended_start_s < restart_at_s_ ? Phase::kDuring
                                                         : Phase::kAfter;
  PhaseStats& p = phases_[static_cast<size_t>(phase)];
  ++p.ops;
  if (ok) {
    ++p.ops_ok;
    p.all_ok_latency.Record(latency_us);
  }
  if (kind == OpKind::kAdd) {
    ++p.adds;
    if (ok) ++p.adds_ok;
    p.add_latency.Record(latency_us);
  }
}

void Recorder::Merge(const Recorder& other) {
  for (size_t i = 0; i < kOpKindCount; ++i) kinds_[i].Merge(other.kinds_[i]);
  if (other.seconds_.size() > seconds_.size()) seconds_.resize(other.seconds_.size());
  for (size_t i = 0; i < other.seconds_.size(); ++i) seconds_[i].Merge(other.seconds_[i]);
  for (size_t i = 0; i < kPhaseCount; ++i) phases_[i].Merge(other.phases_[i]);
  for (size_t i = 0; i < kOpKindCount; ++i) ok_in_window_[i] += other.ok_in_window_[i];
  errors_in_window_ += other.errors_in_window_;
}

KindStats Recorder::Overall() const {
  KindStats all;
  for (const KindStats& k : kinds_) all.Merge(k);
  return all;
}

uint64_t RunResult::OkOps() const { return recorder.Overall().ok(); }

double RunResult::Throughput() const {
  uint64_t ok = 0;
  for (uint64_t n : recorder.ok_in_window()) ok += n;
  return duration_s > 0 ? static_cast<double>(ok) / duration_s : 0;
}

double RunResult::KindThroughput(OpKind kind) const {
  const uint64_t ok = recorder.ok_in_window()[static_cast<size_t>(kind)];
  return duration_s > 0 ? static_cast<double>(ok) / duration_s : 0;
}

double RunResult::NodeCpuUsPerOp() const {
  double percent = 0;
  bool any = false;
  for (const ProcessCpu& c : cpu) {
    if (c.name == "trolley-bench") continue;
    if (c.percent < 0) return -1;
    percent += c.percent;
    any = true;
  }
  const double ops_per_s = Throughput();
  if (!any || ops_per_s <= 0) return -1;
  return percent / 100 * 1e6 / ops_per_s;  // CPU-seconds per second over ops per second
}

nlohmann::json RunResult::ToJson() const {
  nlohmann::json j;
  j["label"] = label;
  j["workload"] = workload;
  j["target"] = target;
  j["target_detail"] = target_detail;
  j["namespace"] = ns;
  j["mode"] = mode;
  j["mix"] = mix;
  j["carts"] = carts;
  j["products"] = products;
  j["zipf_exponent"] = zipf_exponent;
  j["threads"] = threads;
  j["seed"] = seed;
  j["concurrency"] = concurrency;
  j["rate_per_s"] = rate_per_s;
  j["duration_s"] = duration_s;
  j["warmup_s"] = warmup_s;
  j["ops_per_s"] = Throughput();
  j["not_issued"] = not_issued;
  j["abandoned"] = abandoned;
  j["in_flight_max_seen"] = in_flight_max_seen;
  j["loadavg_before"] = loadavg_before;
  j["loadavg_after"] = loadavg_after;
  for (const ProcessCpu& c : cpu) j["cpu_percent"][c.name] = c.percent;
  j["node_cpu_us_per_op"] = NodeCpuUsPerOp();
  if (node_io) {
    j["node_io"] = {{"rchar", node_io->rchar},
                    {"wchar", node_io->wchar},
                    {"write_bytes", node_io->write_bytes}};
  }
  if (fill.lines > 0) {
    j["fill"] = {{"cart_lines", fill.lines},
                 {"carts", fill.carts},
                 {"seconds", fill.seconds},
                 {"cart_bytes", fill.cart_bytes}};
  }
  j["offered_per_s"] = mode == "open" ? rate_per_s : 0.0;
  auto kind_json = [&](const KindStats& k, double ops_per_s) {
    nlohmann::json o;
    o["ok"] = k.ok();  // measured: intended start in the window
    o["failed"] = k.failed();
    o["ops_per_s"] = ops_per_s;  // ok completions in the window per second
    o["latency"] = LatencyJson(k.ok_latency);
    o["error_latency"] = LatencyJson(k.error_latency);
    o["errors"] = k.errors;
    return o;
  };
  for (size_t i = 0; i < kOpKindCount; ++i) {
    j["kinds"][std::string(OpKindKey(static_cast<OpKind>(i)))] =
        kind_json(recorder.kinds()[i], KindThroughput(static_cast<OpKind>(i)));
  }
  j["overall"] = kind_json(recorder.Overall(), Throughput());
  j["first_error_message"] = first_error_message;
  nlohmann::json series = nlohmann::json::array();
  for (size_t s = 0; s < recorder.seconds().size(); ++s) {
    const SecondStats& b = recorder.seconds()[s];
    series.push_back({{"second", s},
                      {"in_window", static_cast<double>(s + 1) <= duration_s + 1e-9},
                      {"add", b.ok[0]},
                      {"get", b.ok[1]},
                      {"set_remove", b.ok[2]},
                      {"checkout", b.ok[3]},
                      {"errors", b.errors},
                      {"p50_ms", Ms(b.all_ok.Percentile(50))},
                      {"p99_ms", Ms(b.all_ok.Percentile(99))},
                      {"add_p99_ms", Ms(b.add_ok.Percentile(99))},
                      {"get_p99_ms", Ms(b.get_ok.Percentile(99))}});
  }
  j["per_second"] = series;
  j["interval_s"] = kStabilityIntervalS;
  j["interval_ops_per_s"] = IntervalThroughput(kStabilityIntervalS);
  const Stability st = StabilityFigures();
  j["stability"] = {{"reference_ops_per_s", st.reference_ops_per_s},
                    {"last_interval_ops_per_s", st.last_interval_ops_per_s},
                    {"ratio", st.ratio}};
  if (fault.enabled) {
    nlohmann::json f;
    f["pid_file"] = fault.pid_file;
    f["killed_pid"] = fault.killed_pid;
    f["kill_at_s"] = fault.kill_at_s;
    f["restart_at_s"] = fault.restart_at_s;
    f["killed_at_s"] = fault.killed_at_s;
    f["restarted_at_s"] = fault.restarted_at_s;
    f["ready_at_s"] = fault.ready_at_s;
    f["problems"] = fault.problems;
    for (size_t i = 0; i < kPhaseCount; ++i) {
      const PhaseStats& p = recorder.phases()[i];
      f["phases"][std::string(PhaseName(static_cast<Phase>(i)))] = {
          {"adds", p.adds},
          {"adds_ok", p.adds_ok},
          {"add_success_share",
           p.adds > 0 ? static_cast<double>(p.adds_ok) / static_cast<double>(p.adds) : 1.0},
          {"add_latency", LatencyJson(p.add_latency)},
          {"ops", p.ops},
          {"ops_ok", p.ops_ok},
          {"all_ok_latency", LatencyJson(p.all_ok_latency)}};
    }
    j["fault"] = f;
  }
  if (verify.enabled) {
    nlohmann::json v;
    v["passed"] = verify.passed();
    v["carts"] = verify.carts;
    v["carts_read"] = verify.carts_read;
    v["read_errors"] = verify.read_errors;
    v["first_read_error"] = verify.first_read_error;
    v["lines_checked"] = verify.lines_checked;
    v["acked_add_ops"] = verify.acked_add_ops;
    v["shortfalls"] = verify.shortfalls.size();
    nlohmann::json examples = nlohmann::json::array();
    for (size_t i = 0; i < verify.shortfalls.size() && i < 20; ++i) {
      const LineShortfall& s = verify.shortfalls[i];
      examples.push_back({{"cart", CartIdOf(s.cart)},
                          {"sku", s.sku},
                          {"expected_at_least", s.expected_at_least},
                          {"found", s.found}});
    }
    v["shortfall_examples"] = examples;
    j["verify"] = v;
  }
  return j;
}

std::string RunResult::ToMarkdown() const {
  std::ostringstream out;
  out << "### " << (label.empty() ? workload : label) << "\n\n";
  out << "Target " << target << " (" << target_detail << "), namespace " << ns << ", workload "
      << workload << " (" << mix << "), " << carts << " carts, " << products << " products, Zipf "
      << zipf_exponent << ", ";
  if (mode == "open") {
    out << "open loop at " << Fmt("%.0f", rate_per_s) << " ops/s";
  } else {
    out << "closed loop, " << concurrency << " in flight";
  }
  out << ", " << threads << " thread(s), " << Fmt("%.0f", duration_s) << " s measured after "
      << Fmt("%.0f", warmup_s) << " s warm-up.\n\n";
  out << "| op | ok ops/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors |\n";
  out << "|---|---:|---:|---:|---:|---:|---:|---|\n";
  auto row = [&](const std::string& name, const KindStats& k, double ops_per_s) {
    const LatencyHistogram& h = k.ok_latency;
    out << "| " << name << " | " << Fmt("%.0f", ops_per_s) << " | "
        << Fmt("%.2f", Ms(h.Percentile(50))) << " | " << Fmt("%.2f", Ms(h.Percentile(90))) << " | "
        << Fmt("%.2f", Ms(h.Percentile(99))) << " | " << Fmt("%.2f", Ms(h.Percentile(99.9)))
        << " | " << Fmt("%.2f", Ms(h.max())) << " | " << ErrorsText(k.errors) << " |\n";
  };
  for (size_t i = 0; i < kOpKindCount; ++i) {
    row(std::string(OpKindName(static_cast<OpKind>(i))), recorder.kinds()[i],
        KindThroughput(static_cast<OpKind>(i)));
  }
  row("**all**", recorder.Overall(), Throughput());
  out << "\n(ok ops/s: completed inside the window; latency: operations scheduled inside it, "
         "ok ones, from their intended start.)\n";
  out << "\nCPU (% of one core over the window):";
  for (const ProcessCpu& c : cpu) {
    out << " " << c.name << " " << (c.percent < 0 ? std::string("n/a") : Fmt("%.0f", c.percent));
  }
  out << ". Load average before: " << loadavg_before << "; after: " << loadavg_after << ".";
  if (const double us = NodeCpuUsPerOp(); us >= 0) {
    out << " Node CPU per ok op: " << Fmt("%.1f", us) << " µs.";
  }
  if (node_io && Throughput() > 0) {
    const double ops = Throughput() * duration_s;
    out << " Node I/O per ok op: " << Fmt("%.0f", static_cast<double>(node_io->write_bytes) / ops)
        << " bytes of pages newly dirtied (write_bytes), "
        << Fmt("%.0f", static_cast<double>(node_io->wchar) / ops)
        << " bytes through write calls (wchar: LMDB's page writes; socket sends are not "
           "counted).";
  }
  if (fill.lines > 0) {
    out << " Before the run, " << fill.carts << " carts were filled to " << fill.lines
        << " lines in " << Fmt("%.1f", fill.seconds) << " s (one stored cart: "
        << (fill.cart_bytes > 0 ? std::to_string(fill.cart_bytes) + " bytes" : "size unknown")
        << ").";
  }
  if (not_issued > 0) {
    out << " **" << not_issued
        << " scheduled operations were never started** (the backlog left at the drain limit; "
           "not in the figures above).";
  }
  if (abandoned > 0) {
    out << " **" << abandoned << " operations never answered** (not in the figures above).";
  }
  out << "\n";
  const std::vector<double> intervals = IntervalThroughput(kStabilityIntervalS);
  if (!intervals.empty()) {
    out << "\nThroughput per " << Fmt("%.0f", kStabilityIntervalS) << " s:";
    for (double x : intervals) out << " " << Fmt("%.0f", x);
    const Stability st = StabilityFigures();
    out << " ops/s; last " << Fmt("%.0f", kStabilityIntervalS) << " s / first 30 s: "
        << (st.ratio < 0 ? std::string("- (a run of 40 s or more)") : Fmt("%.2f", st.ratio))
        << ".\n";
  }
  if (fault.enabled) {
    out << "\nFault: SIGKILL of pid " << fault.killed_pid << " (" << fault.pid_file << ") at "
        << Fmt("%.1f", fault.killed_at_s) << " s, restart at " << Fmt("%.1f", fault.restarted_at_s)
        << " s, answering at " << Fmt("%.1f", fault.ready_at_s) << " s"
        << (fault.problems.empty() ? "" : "; problems: " + fault.problems) << ".\n\n";
    out << "| phase | adds | adds ok | add success | add p99 ms (all adds) | p99 ms (ok ops) |\n";
    out << "|---|---:|---:|---:|---:|---:|\n";
    for (size_t i = 0; i < kPhaseCount; ++i) {
      const PhaseStats& p = recorder.phases()[i];
      out << "| " << PhaseName(static_cast<Phase>(i)) << " | " << p.adds << " | " << p.adds_ok
          << " | "
          << Fmt("%.3f%%",
                 p.adds > 0 ? 100.0 * static_cast<double>(p.adds_ok) / static_cast<double>(p.adds)
                            : 100.0)
          << " | " << Fmt("%.2f", Ms(p.add_latency.Percentile(99))) << " | "
          << Fmt("%.2f", Ms(p.all_ok_latency.Percentile(99))) << " |\n";
    }
  }
  if (verify.enabled) {
    out << "\nCheck: " << (verify.passed() ? "**passed**" : "**FAILED**") << ": read back "
        << verify.carts_read << " of " << verify.carts << " carts (" << verify.read_errors
        << " read errors), " << verify.lines_checked << " lines with acknowledged adds, "
        << verify.acked_add_ops << " acknowledged adds; " << verify.shortfalls.size()
        << " lines below what was acknowledged.\n";
    for (size_t i = 0; i < verify.shortfalls.size() && i < 5; ++i) {
      const LineShortfall& s = verify.shortfalls[i];
      out << "  - " << CartIdOf(s.cart) << " " << s.sku << ": expected >= " << s.expected_at_least
          << ", found " << s.found << "\n";
    }
  }
  return out.str();
}

std::string RunResult::SeriesTsv() const {
  std::ostringstream out;
  if (fault.enabled) {
    out << "# fault killed_at_s=" << Fmt("%.1f", fault.killed_at_s)
        << " restarted_at_s=" << Fmt("%.1f", fault.restarted_at_s) << "\n";
  }
  out << "# second\tadd_ops\tget_ops\tset_remove_ops\tok_ops\terrors\tp50_ms\tp99_ms\tadd_p99_ms"
         "\tget_p99_ms\tcheckout_ops\n";
  for (size_t s = 0; s < recorder.seconds().size(); ++s) {
    const SecondStats& b = recorder.seconds()[s];
    // A second that is not wholly inside the window (the drain, or a
    // partial last second) would plot as a false dip: keep it, commented.
    if (static_cast<double>(s + 1) > duration_s + 1e-9) out << "# drain ";
    out << s << '\t' << b.ok[0] << '\t' << b.ok[1] << '\t' << b.ok[2] << '\t'
        << (b.ok[0] + b.ok[1] + b.ok[2] + b.ok[3]) << '\t' << b.errors << '\t'
        << Fmt("%.3f", Ms(b.all_ok.Percentile(50))) << '\t'
        << Fmt("%.3f", Ms(b.all_ok.Percentile(99))) << '\t'
        << Fmt("%.3f", Ms(b.add_ok.Percentile(99))) << '\t'
        << Fmt("%.3f", Ms(b.get_ok.Percentile(99))) << '\t' << b.ok[3] << '\n';
  }
  return out.str();
}

std::vector<double> RunResult::IntervalThroughput(double interval_s) const {
  TROLLEY_ASSERT(interval_s >= 1);
  const auto seconds_per_interval = static_cast<size_t>(interval_s);
  const auto window = static_cast<size_t>(std::floor(duration_s + 1e-9));
  std::vector<double> out;
  for (size_t start = 0; start + seconds_per_interval <= window; start += seconds_per_interval) {
    uint64_t ok = 0;
    for (size_t s = start; s < start + seconds_per_interval && s < recorder.seconds().size(); ++s) {
      for (uint64_t n : recorder.seconds()[s].ok) ok += n;
    }
    out.push_back(static_cast<double>(ok) / static_cast<double>(seconds_per_interval));
  }
  return out;
}

RunResult::Stability RunResult::StabilityFigures() const {
  Stability st;
  const std::vector<double> intervals = IntervalThroughput(kStabilityIntervalS);
  if (intervals.empty()) return st;
  const size_t reference_intervals =
      std::min(intervals.size(), static_cast<size_t>(30 / kStabilityIntervalS));
  double sum = 0;
  for (size_t i = 0; i < reference_intervals; ++i) sum += intervals[i];
  st.reference_ops_per_s = sum / static_cast<double>(reference_intervals);
  st.last_interval_ops_per_s = intervals.back();
  // Only a last interval that starts at or after the 30 s mark says
  // anything about how the throughput holds up.
  if (intervals.size() * kStabilityIntervalS >= 40 && st.reference_ops_per_s > 0) {
    st.ratio = st.last_interval_ops_per_s / st.reference_ops_per_s;
  }
  return st;
}

std::string RunResult::IntervalsCsv() const {
  std::ostringstream out;
  out << "interval_start_s,interval_end_s,ok_ops_per_s\n";
  const std::vector<double> intervals = IntervalThroughput(kStabilityIntervalS);
  for (size_t i = 0; i < intervals.size(); ++i) {
    out << Fmt("%.0f", static_cast<double>(i) * kStabilityIntervalS) << ','
        << Fmt("%.0f", static_cast<double>(i + 1) * kStabilityIntervalS) << ','
        << Fmt("%.1f", intervals[i]) << '\n';
  }
  return out.str();
}

namespace {

// "open 4000/s" or "closed 48", from a result JSON.
std::string ModeOf(const nlohmann::json& j) {
  return j.at("mode").get<std::string>() == "open"
             ? "open " + Fmt("%.0f/s", j.at("rate_per_s").get<double>())
             : "closed " + std::to_string(j.at("concurrency").get<uint64_t>());
}

// "0.97", or "-" for a run too short to say (or from before issue 15).
std::string StabilityText(const nlohmann::json& j) {
  if (!j.contains("stability")) return "-";
  const double ratio = j["stability"].at("ratio").get<double>();
  return ratio < 0 ? std::string("-") : Fmt("%.2f", ratio);
}

}  // namespace

Result<std::string> SummarizeRuns(const std::vector<std::string>& json_files) {
  std::ostringstream out;
  out << "| run | target | mode | ok ops/s | adds/s | add p50 ms | add p99 ms | get p99 ms | "
         "set/remove p99 ms | checkout p99 ms | all p99.9 ms | max ms | last 10 s / first 30 s | "
         "errors | check | loadgen CPU % | server CPU % | load avg before |\n";
  out << "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---|\n";
  for (const std::string& path : json_files) {
    std::ifstream in(path);
    if (!in) return Status::InvalidArgument("cannot read " + path);
    nlohmann::json j;
    try {
      in >> j;
      const auto& k = j.at("kinds");
      const auto& all = j.at("overall");
      const std::string mode = ModeOf(j);
      std::string errors;
      for (const auto& [kind, n] : all.at("errors").items()) {
        errors += (errors.empty() ? "" : ", ") + kind + " " + std::to_string(n.get<uint64_t>());
      }
      std::string check = "-";
      if (j.contains("verify")) check = j["verify"].at("passed").get<bool>() ? "passed" : "FAILED";
      if (j.contains("fault")) {
        const auto& phases = j["fault"].at("phases");
        uint64_t adds = 0, ok = 0;
        for (const auto& [name, p] : phases.items()) {
          adds += p.at("adds").get<uint64_t>();
          ok += p.at("adds_ok").get<uint64_t>();
        }
        check +=
            Fmt(", adds ok %.3f%%",
                adds > 0 ? 100.0 * static_cast<double>(ok) / static_cast<double>(adds) : 100.0);
        check +=
            ", add p99 before/during/after " +
            Fmt("%.1f", phases.at("before").at("add_latency").at("p99_ms").get<double>()) + "/" +
            Fmt("%.1f", phases.at("during").at("add_latency").at("p99_ms").get<double>()) + "/" +
            Fmt("%.1f", phases.at("after").at("add_latency").at("p99_ms").get<double>()) + " ms";
      }
      double loadgen_cpu = 0, nodes_cpu = 0;
      bool nodes_known = false;
      for (const auto& [name, percent] : j.at("cpu_percent").items()) {
        if (name == "trolley-bench") {
          loadgen_cpu = percent.get<double>();
        } else if (percent.get<double>() >= 0) {
          nodes_cpu += percent.get<double>();
          nodes_known = true;
        }
      }
      out << "| " << j.at("label").get<std::string>() << " | " << j.at("target").get<std::string>()
          << " " << j.at("target_detail").get<std::string>() << " | " << mode << " | "
          << Fmt("%.0f", j.at("ops_per_s").get<double>()) << " | "
          << Fmt("%.0f", k.at("add").at("ops_per_s").get<double>()) << " | "
          << Fmt("%.2f", k.at("add").at("latency").at("p50_ms").get<double>()) << " | "
          << Fmt("%.2f", k.at("add").at("latency").at("p99_ms").get<double>()) << " | "
          << Fmt("%.2f", k.at("get").at("latency").at("p99_ms").get<double>()) << " | "
          << Fmt("%.2f", k.at("set_remove").at("latency").at("p99_ms").get<double>()) << " | "
          << (k.contains("checkout")
                  ? Fmt("%.2f", k["checkout"].at("latency").at("p99_ms").get<double>())
                  : std::string("-"))
          << " | " << Fmt("%.2f", all.at("latency").at("p999_ms").get<double>()) << " | "
          << Fmt("%.1f", all.at("latency").at("max_ms").get<double>()) << " | " << StabilityText(j)
          << " | " << (errors.empty() ? "0" : errors)
          << (j.value("not_issued", 0) > 0
                  ? "; **" + std::to_string(j.value("not_issued", 0)) + " never started**"
                  : std::string())
          << (j.value("abandoned", 0) > 0
                  ? "; **" + std::to_string(j.value("abandoned", 0)) + " never answered**"
                  : std::string())
          << " | " << check << " | " << Fmt("%.0f", loadgen_cpu) << " | "
          << (nodes_known ? Fmt("%.0f", nodes_cpu) : std::string("n/a")) << " | "
          << j.at("loadavg_before").get<std::string>() << " |\n";
    } catch (const nlohmann::json::exception& e) {
      return Status::InvalidArgument(path + ": not a trolley-bench result: " + e.what());
    }
  }
  return out.str();
}

namespace {

struct RunFigures {
  std::string label, who, mode;
  double ops_per_s = 0, add_p99_ms = 0, get_p99_ms = 0;
  std::string check;
};

Result<RunFigures> ReadFigures(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("cannot read " + path);
  try {
    nlohmann::json j;
    in >> j;
    RunFigures f;
    f.label = j.at("label").get<std::string>();
    f.who = j.at("target").get<std::string>() + " " + j.at("target_detail").get<std::string>();
    f.mode = ModeOf(j);
    f.ops_per_s = j.at("ops_per_s").get<double>();
    f.add_p99_ms = j.at("kinds").at("add").at("latency").at("p99_ms").get<double>();
    f.get_p99_ms = j.at("kinds").at("get").at("latency").at("p99_ms").get<double>();
    uint64_t errors = 0;
    for (const auto& [kind, n] : j.at("overall").at("errors").items()) errors += n.get<uint64_t>();
    f.check = j.contains("verify") ? (j["verify"].at("passed").get<bool>() ? "ok" : "FAILED") : "-";
    if (errors > 0) f.check += Fmt(", %.0f errors", static_cast<double>(errors));
    return f;
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(path + ": not a trolley-bench result: " + e.what());
  }
}

std::string Ratio(double a, double b) { return b > 0 ? Fmt("%.2fx", a / b) : std::string("-"); }

}  // namespace

Result<std::string> CompareRuns(
    const std::vector<std::pair<std::string, std::string>>& trolley_and_peer) {
  std::ostringstream out;
  out << "| run | peer | mode | Trolley ops/s | peer ops/s | ops/s Trolley / peer | Trolley add "
         "p99 ms | peer add p99 ms | add p99 Trolley / peer | Trolley get p99 ms | peer get p99 ms "
         "| checks (Trolley; peer) |\n";
  out << "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
  for (const auto& [trolley_path, peer_path] : trolley_and_peer) {
    auto t = ReadFigures(trolley_path);
    if (!t.ok()) return t.status();
    auto p = ReadFigures(peer_path);
    if (!p.ok()) return p.status();
    out << "| " << t->label << " | " << p->who << " | " << t->mode
        << (p->mode == t->mode ? std::string() : " (peer: " + p->mode + ")") << " | "
        << Fmt("%.0f", t->ops_per_s) << " | " << Fmt("%.0f", p->ops_per_s) << " | **"
        << Ratio(t->ops_per_s, p->ops_per_s) << "** | " << Fmt("%.2f", t->add_p99_ms) << " | "
        << Fmt("%.2f", p->add_p99_ms) << " | " << Ratio(t->add_p99_ms, p->add_p99_ms) << " | "
        << Fmt("%.2f", t->get_p99_ms) << " | " << Fmt("%.2f", p->get_p99_ms) << " | " << t->check
        << "; " << p->check << " |\n";
  }
  return out.str();
}

}  // namespace trolley::bench
