// Goal: Membership holds the ring, the member addresses and an epoch as one
// value and refuses inconsistent ones. Method: build good and bad values.
#include "node/membership.h"

#include <gtest/gtest.h>

namespace trolley {
namespace {

Ring ThreeNodes() { return Ring::Build({NodeId{"a"}, NodeId{"b"}, NodeId{"c"}}, 16).value(); }

TEST(MembershipTest, HoldsRingAddressesAndEpoch) {
  auto m = Membership::Create(ThreeNodes(), {{"a", "h1:1"}, {"c", "h3:3"}});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->epoch(), Membership::kFirstEpoch);
  EXPECT_EQ(m->ring().PartitionCount(), 16u);
  EXPECT_EQ(m->addresses().size(), 2u);
  EXPECT_TRUE(m->Contains("b"));
  EXPECT_FALSE(m->Contains("d"));
  EXPECT_EQ(m->PeersOf("b"), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(m->PeersOf("z"), (std::vector<std::string>{"a", "b", "c"}));
  m->CheckInvariants();

  auto later = Membership::Create(ThreeNodes(), {}, 7);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->epoch(), 7u);
}

TEST(MembershipTest, RefusesInconsistentValues) {
  auto stranger = Membership::Create(ThreeNodes(), {{"d", "h4:4"}});
  ASSERT_FALSE(stranger.ok());
  EXPECT_EQ(stranger.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(stranger.status().message().find("'d'"), std::string::npos);

  auto twice = Membership::Create(ThreeNodes(), {{"a", "h1:1"}, {"a", "h1:2"}});
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("two addresses"), std::string::npos);

  auto epoch0 = Membership::Create(ThreeNodes(), {}, 0);
  ASSERT_FALSE(epoch0.ok());
  EXPECT_NE(epoch0.status().message().find("epoch 0"), std::string::npos);
}

}  // namespace
}  // namespace trolley
