// The Cart API against real trolleyd processes: operations in both
// semantics, retried mutations applied once, guest carts (TTL, merge at
// login), and two devices adding to one cart while a node is killed and
// restarted.
#include "client/cart_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "tests/integration/cluster_harness.h"

namespace trolley {
namespace {

using integration::Cluster;
using integration::ClusterOptions;
using namespace std::chrono_literals;

ClusterOptions CartCluster() {
  ClusterOptions o;
  o.namespaces = {"carts:n=3,r=2,w=2,merge=union-max,durability=flush",
                  "orcarts:n=3,r=2,w=2,merge=or-set,durability=flush",
                  "guest:n=3,r=2,w=2,merge=or-set,durability=flush,ttl_ms=1500"};
  return o;
}

std::vector<CartNamespace> Namespaces() {
  return {CartNamespace{"carts", CartSemantics::kUnionMax, {}, 0},
          CartNamespace{"orcarts", CartSemantics::kOrSet, {}, 0},
          CartNamespace{"guest", CartSemantics::kOrSet, {}, 0}};
}

std::unique_ptr<BlockingCartClient> Device(const Cluster& cluster, uint64_t seed) {
  ClientOptions o;
  for (int i = 0; i < cluster.size(); ++i) o.seeds.push_back(cluster.address(i));
  o.timeout = 4000ms;
  o.attempts_max = 6;
  o.random_seed = seed;
  auto c = BlockingCartClient::Create(o, Namespaces());
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return std::move(*c);
}

std::map<std::string, uint32_t> Quantities(const CartView& v) {
  std::map<std::string, uint32_t> out;
  for (const CartLine& l : v.lines) out[l.sku] = l.quantity;
  return out;
}

// The view, or an empty one after recording the failure with `what`.
CartView Must(Result<CartView> r, const char* what) {
  EXPECT_TRUE(r.ok()) << what << ": " << r.status().ToString();
  return r.ok() ? std::move(*r) : CartView{};
}
#define ASSERT_VIEW(expr) Must((expr), #expr)

class CartClientTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(cluster_.Start().ok()); }
  Cluster cluster_{CartCluster()};
};

TEST_F(CartClientTest, OperationsInBothSemantics) {
  auto dev = Device(cluster_, 1);
  for (const char* ns : {"carts", "orcarts"}) {
    SCOPED_TRACE(ns);
    CartView v = ASSERT_VIEW(dev->Get(ns, "alice"));
    EXPECT_FALSE(v.found);
    v = ASSERT_VIEW(dev->Add(ns, "alice", "sku-1", 2, {{"size", "M"}}));
    v = ASSERT_VIEW(dev->Add(ns, "alice", "sku-2", 1));
    v = ASSERT_VIEW(dev->Add(ns, "alice", "sku-1", 1));
    EXPECT_EQ(Quantities(v), (std::map<std::string, uint32_t>{{"sku-1", 3}, {"sku-2", 1}}));
    EXPECT_EQ(v.lines[0].attributes.at("size"), "M");
    v = ASSERT_VIEW(dev->SetQuantity(ns, "alice", "sku-2", 5));
    v = ASSERT_VIEW(dev->Remove(ns, "alice", "sku-1"));
    EXPECT_EQ(Quantities(v), (std::map<std::string, uint32_t>{{"sku-2", 5}}));
    v = ASSERT_VIEW(dev->Get(ns, "alice"));
    EXPECT_EQ(Quantities(v), (std::map<std::string, uint32_t>{{"sku-2", 5}}));
    EXPECT_EQ(v.siblings_merged, 1u);
    v = ASSERT_VIEW(dev->Clear(ns, "alice"));
    EXPECT_TRUE(v.lines.empty());
    // Limits are errors a person can act on.
    auto too_many = dev->Add(ns, "alice", "sku-9", 5000);
    ASSERT_FALSE(too_many.ok());
    EXPECT_EQ(too_many.status().code(), StatusCode::kLimitExceeded);
    EXPECT_NE(too_many.status().message().find("quantity_max"), std::string::npos)
        << too_many.status().message();
  }
  auto unknown = dev->Get("nope", "alice");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("not a cart namespace"), std::string::npos);
}

TEST_F(CartClientTest, LearnsNamespacesAndSemanticsFromTheCluster) {
  ClientOptions o;
  o.seeds = {cluster_.address(1)};
  auto raw = BlockingClient::Create(o);
  ASSERT_TRUE(raw.ok());
  auto namespaces = (*raw)->Namespaces();
  ASSERT_TRUE(namespaces.ok()) << namespaces.status().ToString();
  std::map<std::string, std::string> merge;
  for (const NamespaceInfo& ns : *namespaces) merge[ns.name] = ns.merge;
  EXPECT_EQ(merge, (std::map<std::string, std::string>{
                       {"carts", "union-max"}, {"guest", "or-set"}, {"orcarts", "or-set"}}));
  auto carts = BlockingCartClient::Create(o);
  ASSERT_TRUE(carts.ok()) << carts.status().ToString();
  CartView v = ASSERT_VIEW((*carts)->Add("orcarts", "learned", "sku-1", 2));
  EXPECT_EQ(Quantities(v).at("sku-1"), 2u);
  // A cart written as OR-Set is refused, clearly, by a union-max reader.
  auto wrong =
      BlockingCartClient::Create(o, {CartNamespace{"orcarts", CartSemantics::kUnionMax, {}, 0}});
  ASSERT_TRUE(wrong.ok());
  auto refused = (*wrong)->Get("orcarts", "learned");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition)
      << refused.status().ToString();
}

TEST_F(CartClientTest, ARetriedMutationIsAppliedOnce) {
  auto dev = Device(cluster_, 2);
  for (const char* ns : {"carts", "orcarts"}) {
    SCOPED_TRACE(ns);
    CartView v = ASSERT_VIEW(dev->Add(ns, "bob", "sku-1", 1, {}, /*mutation_id=*/4242));
    v = ASSERT_VIEW(dev->Add(ns, "bob", "sku-1", 1, {}, 4242));  // the retry
    EXPECT_EQ(Quantities(v).at("sku-1"), 1u);
    // Across siblings: a second device writes blind (a concurrent version),
    // then the retry arrives again; the merge still counts it once.
    CartState other(std::string(ns) == "carts" ? CartSemantics::kUnionMax : CartSemantics::kOrSet);
    ASSERT_TRUE(other.Apply(Mutation::Add(77, "sku-2", 1, 1), CartLimits{}).ok());
    ClientOptions o;
    o.seeds = {cluster_.address(0)};
    auto raw = BlockingClient::Create(o);
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE((*raw)->Put(ns, "bob", other.Encode(), Context()).ok());
    v = ASSERT_VIEW(dev->Add(ns, "bob", "sku-1", 1, {}, 4242));
    EXPECT_EQ(Quantities(v), (std::map<std::string, uint32_t>{{"sku-1", 1}, {"sku-2", 1}}));
    v = ASSERT_VIEW(dev->Get(ns, "bob"));
    EXPECT_EQ(v.siblings_merged, 1u);  // the mutation's write resolved the siblings
  }
}

TEST_F(CartClientTest, GuestCartsExpireAndMergeIntoTheUserCartOnce) {
  auto dev = Device(cluster_, 3);
  CartView g = ASSERT_VIEW(dev->Add("guest", "g-1", "sku-1", 2));
  EXPECT_GT(g.expiry_ms, 0u);  // the namespace TTL, refreshed by every write
  g = ASSERT_VIEW(dev->Add("guest", "g-1", "sku-2", 3));
  ASSERT_VIEW(dev->Add("orcarts", "u-1", "sku-1", 1));

  CartView u =
      ASSERT_VIEW(dev->MergeGuest("guest", "g-1", "orcarts", "u-1", GuestMergeStrategy::kSum));
  EXPECT_EQ(Quantities(u), (std::map<std::string, uint32_t>{{"sku-1", 3}, {"sku-2", 3}}));
  u = ASSERT_VIEW(dev->MergeGuest("guest", "g-1", "orcarts", "u-1", GuestMergeStrategy::kSum));
  EXPECT_EQ(Quantities(u), (std::map<std::string, uint32_t>{{"sku-1", 3}, {"sku-2", 3}}));  // once
  g = ASSERT_VIEW(dev->Get("guest", "g-1"));
  ASSERT_TRUE(g.merged_into.has_value());
  EXPECT_EQ(*g.merged_into, "orcarts/u-1");
  EXPECT_EQ(g.lines.size(), 2u);  // marked, not lost

  // An untouched guest cart expires with its TTL (1.5 s here).
  ASSERT_VIEW(dev->Add("guest", "g-2", "sku-1", 1));
  std::this_thread::sleep_for(2s);
  g = ASSERT_VIEW(dev->Get("guest", "g-2"));
  EXPECT_FALSE(g.found);
  EXPECT_TRUE(g.lines.empty());
}

// A merge never reads the user cart: from the guest cart's id it is one
// read of the guest (r = 1) and two updates; from a view the caller holds,
// the two updates alone. A view without a usable token is refused.
TEST_F(CartClientTest, GuestMergeReadsOnlyTheGuestCartOrNothing) {
  auto dev = Device(cluster_, 4);
  ASSERT_VIEW(dev->Add("guest", "g-v", "sku-1", 7));
  CartView g = ASSERT_VIEW(dev->Add("guest", "g-v", "sku-2", 1));
  ASSERT_VIEW(dev->Add("orcarts", "u-v", "sku-1", 5));
  const Client::Stats& stats = dev->client().async().stats();

  uint64_t before = stats.requests;
  CartView u = ASSERT_VIEW(dev->MergeGuest(g, "orcarts", "u-v", GuestMergeStrategy::kMax));
  EXPECT_EQ(stats.requests - before, 2u) << "the merge and the mark; no read";
  EXPECT_EQ(Quantities(u), (std::map<std::string, uint32_t>{{"sku-1", 7}, {"sku-2", 1}}));
  EXPECT_EQ(ASSERT_VIEW(dev->Get("guest", "g-v")).merged_into, "orcarts/u-v");

  ASSERT_VIEW(dev->Add("guest", "g-w", "sku-3", 2));
  before = stats.requests;
  u = ASSERT_VIEW(dev->MergeGuest("guest", "g-w", "orcarts", "u-v", GuestMergeStrategy::kSum));
  EXPECT_EQ(stats.requests - before, 3u) << "one read of the guest cart, the merge, the mark";
  EXPECT_EQ(Quantities(u),
            (std::map<std::string, uint32_t>{{"sku-1", 7}, {"sku-2", 1}, {"sku-3", 2}}));

  CartView no_token = g;
  no_token.context.clear();
  auto refused = dev->MergeGuest(no_token, "orcarts", "u-v", GuestMergeStrategy::kSum);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("no context token"), std::string::npos)
      << refused.status().message();
  no_token.context = "not hex";
  EXPECT_EQ(dev->MergeGuest(no_token, "orcarts", "u-v", GuestMergeStrategy::kSum).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(CartClientTest, TwoDevicesKeepEveryAcknowledgedAddWhileANodeRestarts) {
  for (const char* ns : {"carts", "orcarts"}) {
    SCOPED_TRACE(ns);
    std::atomic<bool> stop{false};
    std::vector<std::set<std::string>> acked(2);
    std::vector<int> failed(2, 0);
    auto shopper = [&](int device) {
      auto dev = Device(cluster_, 100 + device);
      for (int i = 0; !stop && i < 400; ++i) {
        const std::string sku = "d" + std::to_string(device) + "-" + std::to_string(i);
        auto r = dev->Add(ns, "shared", sku, 1);
        if (r.ok())
          acked[device].insert(sku);
        else
          ++failed[device];
      }
    };
    std::thread a(shopper, 0), b(shopper, 1);
    std::this_thread::sleep_for(300ms);
    cluster_.Kill(2);
    std::this_thread::sleep_for(700ms);
    ASSERT_TRUE(cluster_.Restart(2).ok());
    a.join();
    b.join();
    stop = true;
    EXPECT_GT(acked[0].size() + acked[1].size(), 50u);
    auto dev = Device(cluster_, 9);
    CartView v = ASSERT_VIEW(dev->Get(ns, "shared"));
    const auto have = Quantities(v);
    size_t missing = 0;
    for (const auto& set : acked) {
      for (const std::string& sku : set) missing += have.count(sku) ? 0 : 1;
    }
    EXPECT_EQ(missing, 0u) << "acknowledged adds lost; failures: " << failed[0] << "+" << failed[1];
  }
}

}  // namespace
}  // namespace trolley
