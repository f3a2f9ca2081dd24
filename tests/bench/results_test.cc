// Goal: the Recorder files each operation under its kind, its completion
// second and its fault phase (by intended start), and the renderings carry
// the figures the report promises. Method: hand-made operations with known
// times; a JSON written and summarised back.
#include "bench/results.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace trolley::bench {
namespace {

TEST(RecorderTest, KindsSecondsAndPhases) {
  Recorder r(10, 20, 30);  // node down during [10, 20) s of a 30 s window
  auto op = [&](OpKind kind, bool ok, const std::string& error, uint64_t latency_us,
                double intended_s, double completed_s) {
    r.Record(kind, ok, error, latency_us, intended_s, completed_s);
    r.CountCompletion(kind, ok, completed_s);
  };
  op(OpKind::kAdd, true, "", 1000, 1.0, 1.2);
  op(OpKind::kAdd, false, "Timeout", 2'000'000, 12.0, 14.0);
  op(OpKind::kAdd, true, "", 3000, 19.9, 20.5);
  op(OpKind::kGet, true, "", 500, 25.0, 25.001);
  op(OpKind::kSetOrRemove, false, "Unavailable", 10, 25.0, 25.0);
  r.CountCompletion(OpKind::kAdd, true, -0.5);              // a warm-up op: not counted
  r.Record(OpKind::kAdd, true, "", 9'000'000, 29.0, 38.0);  // measured, completed after the window
  r.CountCompletion(OpKind::kAdd, true, 38.0);

  EXPECT_EQ(r.kinds()[0].ok(), 3u);
  EXPECT_EQ(r.kinds()[0].failed(), 1u);
  EXPECT_EQ(r.ok_in_window()[0], 2u);  // the one completed at 38 s is outside
  EXPECT_EQ(r.ok_in_window()[1], 1u);
  EXPECT_EQ(r.errors_in_window(), 2u);
  EXPECT_EQ(r.kinds()[0].errors.at("Timeout"), 1u);
  EXPECT_EQ(r.kinds()[2].errors.at("Unavailable"), 1u);
  const KindStats all = r.Overall();
  EXPECT_EQ(all.ok(), 4u);
  EXPECT_EQ(all.failed(), 2u);

  ASSERT_EQ(r.seconds().size(), 39u);
  EXPECT_EQ(r.seconds()[38].ok[0], 1u);
  EXPECT_EQ(r.seconds()[1].ok[0], 1u);
  EXPECT_EQ(r.seconds()[14].errors, 1u);
  EXPECT_EQ(r.seconds()[20].ok[0], 1u);  // by completion
  EXPECT_EQ(r.seconds()[25].ok[1], 1u);
  EXPECT_EQ(r.seconds()[25].errors, 1u);

  const auto& p = r.phases();
  EXPECT_EQ(p[0].adds, 1u);
  EXPECT_EQ(p[1].adds, 2u);  // by intended start: 12.0 and 19.9
  EXPECT_EQ(p[1].adds_ok, 1u);
  EXPECT_EQ(p[1].add_latency.max(), 2'000'000u);  // failed adds count in the wait
  EXPECT_EQ(p[2].adds, 1u);
  EXPECT_EQ(p[2].ops, 3u);

  Recorder other(10, 20, 30);
  other.Record(OpKind::kAdd, true, "", 700, 29.0, 29.5);
  other.CountCompletion(OpKind::kAdd, true, 29.5);
  other.CountCompletion(OpKind::kAdd, true, 45.0);
  r.Merge(other);
  EXPECT_EQ(r.kinds()[0].ok(), 4u);
  EXPECT_EQ(r.ok_in_window()[0], 3u);
  EXPECT_EQ(r.seconds().size(), 46u);
  EXPECT_EQ(r.phases()[2].adds, 2u);
}

RunResult SampleRun() {
  RunResult run;
  run.label = "sync-closed";
  run.workload = "flash-sale";
  run.target = "trolley";
  run.target_detail = "sync";
  run.mode = "closed";
  run.concurrency = 8;
  run.duration_s = 2;
  run.recorder = Recorder(1, 1.5, 2);
  for (int i = 0; i < 100; ++i) {
    run.recorder.Record(OpKind::kAdd, true, "", 1000 + i, 0.5, 0.6);
    run.recorder.CountCompletion(OpKind::kAdd, true, 0.6);
  }
  run.recorder.Record(OpKind::kGet, false, "Timeout", 5, 1.2, 1.3);
  run.recorder.CountCompletion(OpKind::kGet, false, 1.3);
  run.cpu.push_back({"trolley-bench", 42});
  run.loadavg_before = "1.00 2.00 3.00";
  run.fault.enabled = true;
  run.verify.enabled = true;
  run.verify.carts = 3;
  run.verify.carts_read = 3;
  return run;
}

TEST(RunResultTest, JsonAndMarkdownCarryTheFigures) {
  const RunResult run = SampleRun();
  EXPECT_DOUBLE_EQ(run.Throughput(), 50.0);
  const nlohmann::json j = run.ToJson();
  EXPECT_EQ(j["kinds"]["add"]["ok"], 100);
  EXPECT_NEAR(j["kinds"]["add"]["latency"]["p50_ms"].get<double>(), 1.05, 0.01);
  EXPECT_EQ(j["overall"]["errors"]["Timeout"], 1);
  EXPECT_EQ(j["per_second"].size(), 2u);
  EXPECT_EQ(j["fault"]["phases"]["before"]["adds"], 100);
  EXPECT_EQ(j["verify"]["passed"], true);
  EXPECT_EQ(j["cpu_percent"]["trolley-bench"], 42);
  const std::string md = run.ToMarkdown();
  EXPECT_NE(md.find("| add | 50 |"), std::string::npos) << md;
  EXPECT_NE(md.find("Timeout 1"), std::string::npos) << md;
  EXPECT_NE(md.find("**passed**"), std::string::npos) << md;
  const std::string tsv = run.SeriesTsv();
  EXPECT_NE(tsv.find("0\t100\t0\t0\t100\t0\t"), std::string::npos) << tsv;
}

TEST(RunResultTest, CheckoutsAreTheirOwnRowAndColumn) {
  RunResult run = SampleRun();
  run.recorder.Record(OpKind::kCheckout, true, "", 4000, 0.2, 0.3);
  run.recorder.CountCompletion(OpKind::kCheckout, true, 0.3);
  EXPECT_DOUBLE_EQ(run.Throughput(), 50.5);
  EXPECT_EQ(run.ToJson()["kinds"]["checkout"]["ok"], 1);
  EXPECT_NE(run.ToMarkdown().find("| checkout | 0 | 4.00 |"), std::string::npos)
      << run.ToMarkdown();
  // The checkout column comes last, after the columns plot.sh reads.
  EXPECT_NE(run.SeriesTsv().find("0\t100\t0\t0\t101\t0\t"), std::string::npos) << run.SeriesTsv();
  EXPECT_NE(run.SeriesTsv().find("\t1\n"), std::string::npos) << run.SeriesTsv();
}

TEST(RunResultTest, NodeCpuPerOpAndTheFill) {
  RunResult run = SampleRun();  // 50 ok ops/s
  EXPECT_EQ(run.NodeCpuUsPerOp(), -1) << "no node measured";
  run.cpu.push_back({"n1", 40});
  run.cpu.push_back({"n2", 60});
  // A whole core of node CPU (100%) over 50 ops/s: 20,000 µs per op.
  EXPECT_DOUBLE_EQ(run.NodeCpuUsPerOp(), 20000);
  EXPECT_DOUBLE_EQ(run.ToJson()["node_cpu_us_per_op"].get<double>(), 20000);
  EXPECT_FALSE(run.ToJson().contains("fill"));
  run.fill = FillReport{100, 1000, 12.5, 3456};
  EXPECT_EQ(run.ToJson()["fill"]["cart_bytes"], 3456);
  const std::string md = run.ToMarkdown();
  EXPECT_NE(md.find("Node CPU per ok op: 20000.0 µs"), std::string::npos) << md;
  EXPECT_NE(md.find("1000 carts were filled to 100 lines"), std::string::npos) << md;
  EXPECT_NE(md.find("3456 bytes"), std::string::npos) << md;
  run.node_io = ProcessIo{1000, 2000, 4000};  // over 100 ok ops (50/s for 2 s)
  EXPECT_EQ(run.ToJson()["node_io"]["write_bytes"], 4000);
  EXPECT_NE(
      run.ToMarkdown().find("Node I/O per ok op: 40 bytes of pages newly dirtied (write_bytes), "
                            "20 bytes through write calls"),
      std::string::npos)
      << run.ToMarkdown();
  run.cpu.push_back({"n3", -1});  // restarted: unknown
  EXPECT_EQ(run.NodeCpuUsPerOp(), -1);
}

// A run whose throughput falls from 100/s to 70/s after 30 s.
RunResult SlowingRun(double duration_s) {
  RunResult run;
  run.duration_s = duration_s;
  run.recorder = Recorder(1e300, 1e300, duration_s);
  for (int second = 0; second < static_cast<int>(duration_s) + 2; ++second) {
    const int ops = second < 30 ? 100 : 70;
    for (int i = 0; i < ops; ++i) run.recorder.CountCompletion(OpKind::kAdd, true, second + 0.5);
  }
  return run;
}

TEST(RunResultTest, IntervalsAndTheStabilityRatio) {
  const RunResult run = SlowingRun(45);  // 4 whole intervals: the drain's seconds do not count
  EXPECT_EQ(run.IntervalThroughput(10), (std::vector<double>{100, 100, 100, 70}));
  const RunResult::Stability st = run.StabilityFigures();
  EXPECT_DOUBLE_EQ(st.reference_ops_per_s, 100);
  EXPECT_DOUBLE_EQ(st.last_interval_ops_per_s, 70);
  EXPECT_DOUBLE_EQ(st.ratio, 0.7);
  EXPECT_EQ(run.IntervalsCsv(),
            "interval_start_s,interval_end_s,ok_ops_per_s\n0,10,100.0\n10,20,100.0\n"
            "20,30,100.0\n30,40,70.0\n");
  EXPECT_NE(run.ToMarkdown().find("last 10 s / first 30 s: 0.70"), std::string::npos)
      << run.ToMarkdown();
  EXPECT_DOUBLE_EQ(run.ToJson()["stability"]["ratio"].get<double>(), 0.7);
  // Too short to say: no ratio.
  EXPECT_EQ(SlowingRun(30).StabilityFigures().ratio, -1);
  EXPECT_EQ(SlowingRun(30).IntervalThroughput(10).size(), 3u);
}

TEST(RunResultTest, SummarizeReadsResultFiles) {
  const std::string path = ::testing::TempDir() + "/results_test_run.json";
  {
    std::ofstream out(path);
    out << SampleRun().ToJson().dump();
  }
  auto table = SummarizeRuns({path});
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_NE(table->find("| sync-closed | trolley sync | closed 8 | 50 | 50 |"), std::string::npos)
      << *table;
  EXPECT_NE(table->find("passed, adds ok 100.000%"), std::string::npos) << *table;
  EXPECT_FALSE(SummarizeRuns({path + ".missing"}).ok());
  std::remove(path.c_str());
}

TEST(RunResultTest, CompareShowsBothRunsAndTheirRatio) {
  const std::string trolley_path = ::testing::TempDir() + "/results_test_trolley.json";
  const std::string peer_path = ::testing::TempDir() + "/results_test_peer.json";
  RunResult trolley = SampleRun();
  RunResult peer = SampleRun();
  peer.label = "postgres-closed";
  peer.target = "postgres";
  peer.target_detail = "synchronous_commit=on";
  peer.duration_s *= 2;  // the same operations over twice the time: half the throughput
  std::ofstream(trolley_path) << trolley.ToJson().dump();
  std::ofstream(peer_path) << peer.ToJson().dump();
  auto table = CompareRuns({{trolley_path, peer_path}});
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_NE(table->find("| sync-closed | postgres synchronous_commit=on | closed 8 | 50 | 25 | "
                        "**2.00x** |"),
            std::string::npos)
      << *table;
  EXPECT_FALSE(CompareRuns({{trolley_path, peer_path + ".missing"}}).ok());
  std::remove(trolley_path.c_str());
  std::remove(peer_path.c_str());
}

}  // namespace
}  // namespace trolley::bench
