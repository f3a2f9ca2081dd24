// Goal: a backup taken with `trolley admin backup` while writes go on is a
// usable copy of a node: restored into that node's data dir it starts with
// a new actor epoch, holds what it held at the copy, rejoins the cluster,
// and no write acknowledged to a client (before, during or after the
// backup, while the node was down, after its restore) is lost.
// Method: 3 trolleyd processes (N=3 R=2 W=2, sync) with admin ports. First
// 30 keys are written with W=3 (so n1 has them before the backup). A
// writer thread then writes new keys through n2 without pause, recording
// each acknowledged one, while the test runs the trolley CLI to back n1 up
// into a new directory, SIGKILLs n1, replaces its data dir with the backup
// and restarts it. Afterwards: n1's epoch changed, n1's own copy holds the
// 30 first keys, every acknowledged key reads back (R=3 through n1) with
// its value, and a W=3 write through n1 succeeds.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "tests/integration/cluster_harness.h"

namespace trolley::integration {
namespace {

// Runs the trolley CLI; its exit status and what it printed.
int RunCli(const std::string& args, std::string* out) {
  CommandRun run = RunCommand(std::string(TROLLEY_CLI_PATH) + " " + args);
  *out += run.output;
  return run.exit_code;
}

Result<ClientPutReply> PutAll(NodeConnection& conn, const std::string& key,
                              const std::string& value) {
  auto reply =
      conn.Call(ClientPut{.ns = "carts", .key = key, .value = value, .w = 3}, kCallTimeout);
  if (!reply.ok()) return reply.status();
  auto* put = std::get_if<ClientPutReply>(&*reply);
  if (put == nullptr) return Status::Corruption("not a ClientPutReply");
  if (put->code != StatusCode::kOk) return Status(put->code, put->message);
  return *put;
}

Result<ClientGetReply> GetAll(NodeConnection& conn, const std::string& key) {
  auto reply = conn.Call(ClientGet{.ns = "carts", .key = key, .r = 3}, kCallTimeout);
  if (!reply.ok()) return reply.status();
  auto* get = std::get_if<ClientGetReply>(&*reply);
  if (get == nullptr) return Status::Corruption("not a ClientGetReply");
  if (get->code != StatusCode::kOk) return Status(get->code, get->message);
  return *get;
}

// Writes new keys through node `via` without pause, from a thread of its
// own, and keeps every key a client was told was written (W=2).
class AckedWriter {
 public:
  AckedWriter(Cluster& cluster, int via) : thread_([this, &cluster, via] { Run(cluster, via); }) {}
  ~AckedWriter() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  size_t count() const {
    std::lock_guard lk(mu_);
    return acked_.size();
  }
  // Waits until `more` further writes are acknowledged.
  bool WaitForMore(size_t more) {
    const size_t from = count();
    return WaitFor([&] { return count() >= from + more; }, 20s);
  }
  std::map<std::string, std::string> acked() const {  // key -> value
    std::lock_guard lk(mu_);
    return acked_;
  }
  int failed() const { return failed_; }

 private:
  void Run(Cluster& cluster, int via) {
    std::unique_ptr<NodeConnection> conn;
    for (int i = 0; !stop_; ++i) {
      if (!conn) {
        auto c = cluster.Connect(via);
        if (!c.ok()) continue;
        conn = std::move(*c);
      }
      const std::string key = "load-" + std::to_string(i);
      auto put = Put(*conn, key, key + "-value");
      if (put.ok()) {
        std::lock_guard lk(mu_);
        acked_[key] = key + "-value";
      } else {
        ++failed_;
        if (put.status().code() != StatusCode::kUnavailable) conn.reset();
      }
    }
  }

  mutable std::mutex mu_;
  std::map<std::string, std::string> acked_;  // under mu_
  std::atomic<bool> stop_{false};
  std::atomic<int> failed_{0};
  std::thread thread_;  // last: starts once the fields above exist
};

// `trolley admin backup` of node 0 into `backup`: it must succeed and write
// a full copy, and a second backup into the same directory is refused.
void BackupNode0WithCli(const Cluster& cluster, const std::filesystem::path& backup) {
  const std::string args = "admin backup " + backup.string() +
                           " --admin 127.0.0.1:" + std::to_string(cluster.admin_port(0));
  std::string cli_out;
  ASSERT_EQ(RunCli(args, &cli_out), 0) << cli_out;
  EXPECT_NE(cli_out.find("backup done: " + backup.string()), std::string::npos) << cli_out;
  EXPECT_TRUE(std::filesystem::exists(backup / "sync" / "data.mdb"));
  EXPECT_TRUE(std::filesystem::exists(backup / "NAMESPACES"));
  std::string again;
  EXPECT_EQ(RunCli(args, &again), 2) << again;
  EXPECT_NE(again.find("not empty"), std::string::npos) << again;
}

// Reads every key of `expected` with R=3 through `conn`; fails the test
// for each one missing or wrong.
void ExpectEveryAckedWriteReadable(NodeConnection& conn,
                                   const std::map<std::string, std::string>& expected,
                                   int failed_writes) {
  int lost = 0;
  for (const auto& [key, value] : expected) {
    auto got = GetAll(conn, key);
    if (!got.ok() || Values(got->state) != std::vector<std::string>{value}) {
      ++lost;
      ADD_FAILURE() << key << ": " << (got.ok() ? "wrong value" : got.status().ToString());
    }
  }
  EXPECT_EQ(lost, 0) << "of " << expected.size() << " acknowledged writes (" << failed_writes
                     << " writes failed and were not acknowledged)";
}

TEST(BackupTest, BackupUnderLoadRestoresIntoANodeThatRejoinsAndLosesNothing) {
  ClusterOptions options;
  options.admin = true;
  Cluster cluster(options);
  ASSERT_TRUE(cluster.Start().ok());
  auto n1 = cluster.Connect(0);
  ASSERT_TRUE(n1.ok());
  for (int i = 0; i < 30; ++i) {
    const std::string key = "base-" + std::to_string(i);
    ASSERT_TRUE(PutAll(**n1, key, key + "-value").ok()) << key;
  }
  auto status_before = GetStatus(**n1);
  ASSERT_TRUE(status_before.ok());

  AckedWriter writer(cluster, 1);
  ASSERT_TRUE(writer.WaitForMore(50));
  const std::filesystem::path backup = cluster.dir() / "backup-n1";
  BackupNode0WithCli(cluster, backup);
  if (HasFatalFailure()) return;

  ASSERT_TRUE(writer.WaitForMore(30));
  cluster.Kill(0);
  n1->reset();
  std::error_code ec;
  std::filesystem::remove_all(cluster.data_dir(0), ec);
  std::filesystem::copy(backup, cluster.data_dir(0), std::filesystem::copy_options::recursive, ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(writer.WaitForMore(20));  // while n1 is down
  ASSERT_TRUE(cluster.Restart(0).ok());
  ASSERT_TRUE(writer.WaitForMore(30));
  writer.Stop();

  n1 = cluster.Connect(0);
  ASSERT_TRUE(n1.ok());
  auto status_after = GetStatus(**n1);
  ASSERT_TRUE(status_after.ok());
  EXPECT_NE(status_after->incarnation, status_before->incarnation)
      << "the restored node must take a new actor epoch";
  EXPECT_NE(status_after->actor, status_before->actor);

  for (int i = 0; i < 30; ++i) {
    const std::string key = "base-" + std::to_string(i);
    auto own = ReadReplica(**n1, key);
    ASSERT_TRUE(own.ok()) << own.status().ToString();
    EXPECT_TRUE(own->found) << key << " is not in the restored copy";
    if (own->found) {
      EXPECT_EQ(Values(own->state), (std::vector<std::string>{key + "-value"}));
    }
  }
  ExpectEveryAckedWriteReadable(**n1, writer.acked(), writer.failed());
  EXPECT_TRUE(PutAll(**n1, "after-restore", "x").ok()) << "n1 takes W=3 writes again";
}

}  // namespace
}  // namespace trolley::integration
