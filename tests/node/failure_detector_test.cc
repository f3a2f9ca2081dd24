// Goal: the FailureDetector keeps one state per other member, suspects and
// revives peers with one event per change (kUnreachable every time the
// transport says so), pings suspected peers every ping_interval_ms, and
// never suspects itself or a stranger. Method: a FailureDetector over a
// fake env, driven by hand; CheckInvariants after every step.
#include "node/failure_detector.h"

#include <gtest/gtest.h>

#include "tests/node/fake_node_env.h"

namespace trolley {
namespace {

using testing::FakeNode;
using K = PeerEvent::Kind;

TEST(FailureDetectorTest, SuspectsAndRevivesWithOneEventPerChange) {
  FakeNode f({"n1", "n2", "n3"}, "n1");
  FailureDetector fd(*f.ctx);
  fd.CheckInvariants();
  EXPECT_TRUE(fd.IsUp("n1"));
  EXPECT_TRUE(fd.IsUp("n2"));
  EXPECT_FALSE(fd.IsUp("n9"));  // not a member
  EXPECT_FALSE(fd.HasEvents());

  fd.Suspect("n2", "test");
  fd.Suspect("n2", "again");  // no second event
  fd.Suspect("n1", "self");   // never
  fd.Suspect("n9", "stranger");
  fd.CheckInvariants();
  EXPECT_FALSE(fd.IsUp("n2"));
  EXPECT_TRUE(fd.IsUp("n1"));
  EXPECT_EQ(fd.TakeEvents(), (std::vector<PeerEvent>{{K::kSuspected, "n2"}}));

  fd.Heard("n3");  // was up: nothing
  fd.Heard("n2");
  fd.Heard("n2");
  fd.CheckInvariants();
  EXPECT_TRUE(fd.IsUp("n2"));
  EXPECT_EQ(fd.TakeEvents(), (std::vector<PeerEvent>{{K::kUp, "n2"}}));
  EXPECT_FALSE(fd.HasEvents());
}

TEST(FailureDetectorTest, UnreachableIsReportedEachTimeSuspectedOnce) {
  FakeNode f({"n1", "n2", "n3"}, "n1");
  FailureDetector fd(*f.ctx);
  fd.Unreachable("n3");
  fd.Unreachable("n3");
  fd.CheckInvariants();
  EXPECT_EQ(fd.TakeEvents(),
            (std::vector<PeerEvent>{
                {K::kSuspected, "n3"}, {K::kUnreachable, "n3"}, {K::kUnreachable, "n3"}}));
  EXPECT_FALSE(fd.IsUp("n3"));
}

TEST(FailureDetectorTest, PingsOnlySuspectedPeersEveryInterval) {
  NodeOptions options;
  options.ping_interval_ms = 100;
  FakeNode f({"n1", "n2", "n3"}, "n1", options);
  FailureDetector fd(*f.ctx);
  f.clock.AdvanceMs(1000);
  fd.Tick(f.ctx->Now());
  EXPECT_TRUE(f.transport.sent.empty());  // nobody suspected

  fd.Suspect("n2", "test");
  f.clock.AdvanceMs(50);
  fd.Tick(f.ctx->Now());
  EXPECT_TRUE(f.transport.Take<Ping>().empty());  // too soon after the suspicion
  f.clock.AdvanceMs(50);
  fd.Tick(f.ctx->Now());
  auto pings = f.transport.Take<Ping>();
  ASSERT_EQ(pings.size(), 1u);
  EXPECT_EQ(pings[0].first.node, "n2");
  fd.Tick(f.ctx->Now());
  EXPECT_TRUE(f.transport.Take<Ping>().empty());  // once per interval
  f.clock.AdvanceMs(100);
  fd.Tick(f.ctx->Now());
  EXPECT_EQ(f.transport.Take<Ping>().size(), 1u);
  fd.CheckInvariants();

  fd.Heard("n2");
  f.clock.AdvanceMs(1000);
  fd.Tick(f.ctx->Now());
  EXPECT_TRUE(f.transport.Take<Ping>().empty());
  fd.CheckInvariants();
}

}  // namespace
}  // namespace trolley
