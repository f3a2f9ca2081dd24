// Goal: the slow-request log (node/request_log.h) writes one line per
// request answered at or after limits.slow_request_ms, with its phases, and
// counts it; faster requests, and any request when the threshold is 0, are
// neither logged nor counted. Method: the line's format on fixed values;
// then a PutCoordinator over the fake env (fake_node_env.h) with a
// ManualClock: the local commit takes 30 ms and the replica acks come 1.2 s
// after the decision, so the line must say queue 0, local_commit 30 and
// replica_acks 1200 ms; the same put without the delay logs nothing.
#include "node/request_log.h"

#include <gtest/gtest.h>

#include <string>

#include "node/cart_update.h"
#include "node/hinted_handoff.h"
#include "node/put_coordinator.h"
#include "node/request_plan.h"
#include "tests/node/fake_node_env.h"

namespace trolley {
namespace {

TEST(RequestLogTest, LineNamesOpKeyCodeTotalAndEachPhase) {
  const ObjectKey key{"carts", "alice"};
  const RequestSummary summary{"put",
                               &key,
                               StatusCode::kTimeout,
                               2'000'400'000,
                               {{"queue", 100'000}, {"local_commit", std::nullopt}},
                               "acks=1 w=2"};
  EXPECT_EQ(SlowRequestLine(summary),
            "request.slow op=put key=carts/alice code=Timeout total_ms=2000.4 queue_ms=0.1 "
            "local_commit_ms=pending detail=\"acks=1 w=2\"");
}

TEST(RequestLogTest, OnlyRequestsAtOrOverTheThresholdAreLoggedAndCounted) {
  NodeOptions options;
  options.slow_request_ms = 100;
  testing::FakeNode f({"n1", "n2", "n3"}, "n1", options);
  const ObjectKey key{"carts", "k"};
  auto summary = [&](uint64_t total_ms) {
    return RequestSummary{"get", &key, StatusCode::kOk, total_ms * kNsPerMs, {}, ""};
  };
  EXPECT_FALSE(ReportRequestDone(*f.ctx, summary(99)));
  EXPECT_TRUE(ReportRequestDone(*f.ctx, summary(100)));
  EXPECT_TRUE(ReportRequestDone(*f.ctx, summary(5000)));
  EXPECT_EQ(f.ctx->metrics().slow_requests.value(), 2u);
  ASSERT_EQ(f.log.lines.size(), 2u);
  EXPECT_EQ(f.log.lines[0].first, LogLevel::kWarn);

  options.slow_request_ms = 0;  // off
  testing::FakeNode off({"n1", "n2", "n3"}, "n1", options);
  EXPECT_FALSE(ReportRequestDone(*off.ctx, summary(1'000'000)));
  EXPECT_EQ(off.ctx->metrics().slow_requests.value(), 0u);
  EXPECT_TRUE(off.log.lines.empty());
}

// One put coordinated by n1 (N=3, W=2): local commit after `commit_ms`,
// then n2's ack after `acks_ms` more. Returns the lines logged.
std::vector<std::string> PutWithDelays(
    uint64_t commit_ms, uint64_t acks_ms, uint64_t* slow, uint64_t* object_samples,
    CoordinatedWrite::Reply reply = CoordinatedWrite::Reply::kPut) {
  NodeOptions options;
  options.slow_request_ms = 1000;
  options.replica_timeout_ms = 10'000;
  testing::FakeNode f({"n1", "n2", "n3"}, "n1", options);
  FailureDetector fd(*f.ctx);
  HintedHandoff handoff(*f.ctx, fd);
  PutCoordinator puts(*f.ctx, fd, handoff);
  auto plan = PlanRequest(*f.ctx, "carts", "cart-1", "w", 0, 5000);
  EXPECT_TRUE(plan.ok());
  CoordinatedWrite write = PutWriteOf(ClientPut{.id = RequestId{5}, .ns = "carts", .key = "cart-1"},
                                      NamespaceOptions{}, 0);
  write.reply = reply;
  puts.Start(Endpoint{"", 9}, std::move(write), std::move(plan).value());
  f.engine.Decide(0);
  f.clock.AdvanceMs(commit_ms);
  f.engine.Finish(0, Status::Ok());
  f.clock.AdvanceMs(acks_ms);
  RequestId id{};
  for (auto& [to, w] : f.transport.Take<ReplicaWrite>()) id = w.id;
  puts.OnReplicaWriteReply(Endpoint{"n2", 0}, ReplicaWriteReply{id, StatusCode::kOk, ""});
  if (reply == CoordinatedWrite::Reply::kPut) {
    EXPECT_EQ(f.transport.Take<ClientPutReply>().size(), 1u);
  } else {
    EXPECT_EQ(f.transport.Take<CartUpdateReply>().size(), 1u);
  }
  puts.CheckInvariants();
  *slow = f.ctx->metrics().slow_requests.value();
  *object_samples = f.ctx->metrics().put_object_bytes.count();
  std::vector<std::string> lines;
  for (const auto& [level, line] : f.log.lines) lines.push_back(line);
  return lines;
}

TEST(RequestLogTest, ASlowPutIsLoggedWithItsPhases) {
  uint64_t slow = 0, object_samples = 0;
  const auto lines = PutWithDelays(30, 1170, &slow, &object_samples);
  EXPECT_EQ(slow, 1u);
  EXPECT_EQ(object_samples, 1u);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0],
            "request.slow op=put key=carts/cart-1 code=OK total_ms=1200.0 queue_ms=0.0 "
            "local_commit_ms=30.0 replica_acks_ms=1200.0 detail=\"acks=2 w=2\"");

  const auto fast = PutWithDelays(5, 10, &slow, &object_samples);
  EXPECT_EQ(slow, 0u);
  EXPECT_TRUE(fast.empty());
}

// A cart update is coordinated like a put and logged the same way, under
// its own name.
TEST(RequestLogTest, ASlowCartUpdateIsLoggedUnderItsOwnName) {
  uint64_t slow = 0, object_samples = 0;
  const auto lines =
      PutWithDelays(30, 1170, &slow, &object_samples, CoordinatedWrite::Reply::kCartUpdate);
  EXPECT_EQ(slow, 1u);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("request.slow op=cart_update key=carts/cart-1 code=OK", 0), 0u)
      << lines[0];
}

}  // namespace
}  // namespace trolley
