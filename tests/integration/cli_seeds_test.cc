// Goal: the trolley CLI keeps working when the first node of its seed list
// is down (--node a,b,c and the TROLLEY_NODES default), for the commands
// that talk to one node (ring, kv) and for those that route through the
// client library (cart), and its errors name the node that failed.
// Method: real trolleyd processes (cluster_harness.h); the CLI built by
// this tree is run through the shell, its exit status and output checked.
#include <gtest/gtest.h>

#include <string>

#include "tests/integration/cluster_harness.h"

namespace trolley::integration {
namespace {

// Runs `env_prefix TROLLEY_CLI_PATH args 2>&1`.
CommandRun RunCli(const std::string& args, const std::string& env_prefix = "") {
  return RunCommand(env_prefix + " '" TROLLEY_CLI_PATH "' " + args);
}

class CliSeedsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.Start().ok());
    cluster_.Kill(0);
    seeds_ = cluster_.address(0) + "," + cluster_.address(1) + "," + cluster_.address(2);
  }
  Cluster cluster_;
  std::string seeds_;  // the first one down
};

TEST_F(CliSeedsTest, OneNodeCommandsUseTheNextSeed) {
  CommandRun ring = RunCli("--node " + seeds_ + " ring");
  EXPECT_EQ(ring.exit_code, 0) << ring.output;
  EXPECT_NE(ring.output.find("3 members"), std::string::npos) << ring.output;

  CommandRun put = RunCli("--node " + seeds_ + " kv put carts alice v1");
  EXPECT_EQ(put.exit_code, 0) << put.output;
  CommandRun get = RunCli("--node " + seeds_ + " --json kv get carts alice");
  EXPECT_EQ(get.exit_code, 0) << get.output;
  EXPECT_NE(get.output.find("\"v1\""), std::string::npos) << get.output;
}

TEST_F(CliSeedsTest, CartCommandsUseTheNextSeed) {
  CommandRun get = RunCli("--node " + seeds_ + " --json cart get carts bob");
  EXPECT_EQ(get.exit_code, 0) << get.output;
  EXPECT_NE(get.output.find("\"ok\":true"), std::string::npos) << get.output;
}

TEST_F(CliSeedsTest, TheEnvironmentVariableIsTheDefault) {
  CommandRun ring = RunCli("ring", "TROLLEY_NODES=" + seeds_);
  EXPECT_EQ(ring.exit_code, 0) << ring.output;
  CommandRun cart = RunCli("cart get carts bob", "TROLLEY_NODES=" + seeds_);
  EXPECT_EQ(cart.exit_code, 0) << cart.output;
  // --node wins over the variable.
  CommandRun only_down =
      RunCli("--node " + cluster_.address(0) + " ring", "TROLLEY_NODES=" + seeds_);
  EXPECT_EQ(only_down.exit_code, 2) << only_down.output;
}

TEST_F(CliSeedsTest, FailuresNameTheNodeThatFailed) {
  // Only the dead node: the error and the hint name it, and no other node.
  for (const char* command : {"ring", "kv get carts alice", "cart get carts bob"}) {
    CommandRun run = RunCli("--node " + cluster_.address(0) + " " + std::string(command));
    EXPECT_EQ(run.exit_code, 2) << command << ": " << run.output;
    EXPECT_NE(run.output.find(cluster_.address(0)), std::string::npos) << run.output;
    EXPECT_EQ(run.output.find(cluster_.address(1)), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("hint: check that the node named above"), std::string::npos)
        << run.output;
  }
  CommandRun bad = RunCli("--node " + cluster_.address(1) + ",, ring");
  EXPECT_NE(bad.exit_code, 0) << bad.output;
  EXPECT_NE(bad.output.find("several separated by commas"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace trolley::integration
