// The client library against real trolleyd processes: routing to the
// coordinator, contexts and siblings, fail-over with retries when the
// coordinator dies, and clear errors when nothing answers.
#include "client/client.h"

#include <gtest/gtest.h>

#include "node/node_metrics.h"
#include "ring/preference_list.h"
#include "ring/ring.h"
#include "tests/integration/cluster_harness.h"

namespace trolley {
namespace {

using integration::Cluster;
using namespace std::chrono_literals;

std::vector<std::string> Strings(const std::vector<Value>& values) {
  std::vector<std::string> out;
  for (const Value& v : values) out.push_back(v.bytes);
  std::sort(out.begin(), out.end());
  return out;
}

std::unique_ptr<BlockingClient> MustClient(const Cluster& cluster, std::vector<int> seeds,
                                           std::chrono::milliseconds timeout = 3000ms) {
  ClientOptions o;
  for (int i : seeds) o.seeds.push_back(cluster.address(i));
  o.timeout = timeout;
  o.random_seed = 7;
  auto c = BlockingClient::Create(o);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return std::move(*c);
}

TEST(ClientTest, PutGetContextsAndSiblingsThroughOneSeed) {
  Cluster cluster;
  ASSERT_TRUE(cluster.Start().ok());
  auto client = MustClient(cluster, {0});
  auto missing = client->Get("carts", "nobody");
  ASSERT_TRUE(missing.ok()) << missing.status().ToString();
  EXPECT_FALSE(missing->found);

  auto a = client->Put("carts", "alice", "phone", Context());
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = client->Put("carts", "alice", "laptop", Context());  // blind: concurrent
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  auto read = client->Get("carts", "alice");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(Strings(read->siblings), (std::vector<std::string>{"laptop", "phone"}));

  auto token = Context::FromToken(read->context.Token());
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  auto merged = client->Put("carts", "alice", "both", *token);
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ(Strings(merged->siblings), std::vector<std::string>{"both"});
  EXPECT_EQ(client->async().stats().ring_fetches, 1u);
  EXPECT_EQ(client->async().stats().retries, 0u);

  EXPECT_FALSE(Context::FromToken("zz").ok());
  EXPECT_FALSE(Context::FromToken("00112233").ok());
}

TEST(ClientTest, SendsEachRequestToTheKeysCoordinator) {
  Cluster cluster;
  ASSERT_TRUE(cluster.Start().ok());
  auto client = MustClient(cluster, {0});
  for (int i = 0; i < 30; ++i) {
    auto put = client->Put("carts", "k" + std::to_string(i), "v", Context());
    ASSERT_TRUE(put.ok()) << put.status().ToString();
  }
  // No node forwarded anything: every request reached a preference-list node first.
  for (int i = 0; i < cluster.size(); ++i) {
    auto conn = cluster.Connect(i);
    ASSERT_TRUE(conn.ok());
    auto st = (*conn)->Call(StatusRequest{}, 2000ms);
    ASSERT_TRUE(st.ok());
    const std::vector<NamedValue>& counters = std::get<StatusReply>(*st).counters;
    ASSERT_FALSE(counters.empty()) << cluster.node_id(i);  // FindValue's 0 would prove nothing
    EXPECT_EQ(FindValue(counters, metric::kForwarded), 0u) << cluster.node_id(i);
  }
}

TEST(ClientTest, FailsOverWhenTheCoordinatorIsKilled) {
  integration::ClusterOptions options;
  options.nodes = 5;
  Cluster cluster(options);
  ASSERT_TRUE(cluster.Start().ok());
  auto client = MustClient(cluster, {0, 1});
  auto first = client->Put("carts", "bob", "v1", Context());
  ASSERT_TRUE(first.ok()) << first.status().ToString();

  std::vector<NodeId> members;
  for (const std::string& id : cluster.node_ids()) members.push_back(NodeId{id});
  const Ring ring = std::move(Ring::Build(members, 64)).value();
  const PreferenceList pref = PreferenceListForKey(ring, "carts", "bob", 3);
  cluster.Kill(cluster.IndexOf(pref.primaries[0].name));

  auto read = client->Get("carts", "bob");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(Strings(read->siblings), std::vector<std::string>{"v1"});
  EXPECT_GE(client->async().stats().retries, 1u);
  auto second = client->Put("carts", "bob", "v2", read->context);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(Strings(second->siblings), std::vector<std::string>{"v2"});
}

TEST(ClientTest, NothingAnsweringIsAClearErrorWithinTheDeadline) {
  ClientOptions o;
  o.seeds = {"127.0.0.1:1"};
  o.timeout = 300ms;
  auto client = BlockingClient::Create(o);
  ASSERT_TRUE(client.ok());
  const auto start = std::chrono::steady_clock::now();
  auto r = (*client)->Get("carts", "x");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().code() == StatusCode::kUnavailable ||
              r.status().code() == StatusCode::kTimeout)
      << r.status().ToString();
  EXPECT_NE(r.status().message().find("127.0.0.1:1"), std::string::npos) << r.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);

  EXPECT_FALSE(BlockingClient::Create(ClientOptions{}).ok());
  ClientOptions bad;
  bad.seeds = {"nohost"};
  EXPECT_FALSE(BlockingClient::Create(bad).ok());
}

}  // namespace
}  // namespace trolley
