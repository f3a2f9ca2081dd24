// Goal: the PutCoordinator's state machine answers each client put exactly
// once, with the right code, whatever the order of its inputs (local
// decide/commit, replica acks and failures, timeouts, unreachable peers),
// keeps its invariants after every input, and retires each put once
// nothing is outstanding. Method: table-style: each row is a sequence of
// inputs to one put coordinated by n1 of a 3-node ring (N=3, W=2, so n2
// and n3 are its remote targets), and the expected answer and whether the
// put is still in flight; CheckInvariants runs after every input.
#include "node/put_coordinator.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "node/hinted_handoff.h"
#include "node/request_plan.h"
#include "tests/node/fake_node_env.h"

namespace trolley {
namespace {

enum class In {
  kDecide,     // the local engine decided the new state
  kStoreOk,    // the local commit succeeded
  kStoreFail,  // the local commit failed
  kAckN2,      // n2 acknowledged
  kFailN2,     // n2 answered an error
  kAckN3,
  kFailN3,
  kDupAckN2,      // n2's ack delivered again
  kSilent,        // replica_timeout_ms passes (targets suspected, replaced)
  kDeadline,      // the request deadline passes
  kUnreachN3,     // the transport cannot reach n3
  kHintsDurable,  // hints stored here become durable
};

class PutHarness {
 public:
  PutHarness() : f_({"n1", "n2", "n3"}, "n1", Options()) {}

  static NodeOptions Options() {
    NodeOptions o;
    o.replica_timeout_ms = 100;
    return o;
  }

  void Start() {
    auto plan = PlanRequest(*f_.ctx, "carts", "cart-1", "w", 0, 1000);
    ASSERT_TRUE(plan.ok());
    puts_.Start(Endpoint{"", 9},
                PutWriteOf(ClientPut{.id = RequestId{5}, .ns = "carts", .key = "cart-1"},
                           NamespaceOptions{}, 0),
                std::move(plan).value());
    Check();
  }

  void Apply(In in) {
    switch (in) {
      case In::kDecide:
        f_.engine.Decide(0);
        CaptureReplicaId();
        break;
      case In::kStoreOk:
        f_.engine.Finish(0, Status::Ok());
        CaptureReplicaId();
        break;
      case In::kStoreFail:
        f_.engine.Finish(0, Status::IOError("disk"));
        break;
      case In::kAckN2:
      case In::kDupAckN2:
        Reply("n2", StatusCode::kOk);
        break;
      case In::kFailN2:
        Reply("n2", StatusCode::kIOError);
        break;
      case In::kAckN3:
        Reply("n3", StatusCode::kOk);
        break;
      case In::kFailN3:
        Reply("n3", StatusCode::kIOError);
        break;
      case In::kSilent:
        f_.clock.AdvanceMs(150);
        puts_.Tick(f_.ctx->Now());
        break;
      case In::kDeadline:
        f_.clock.AdvanceMs(2000);
        puts_.Tick(f_.ctx->Now());
        break;
      case In::kUnreachN3:
        fd_.Unreachable("n3");
        puts_.OnPeerUnreachable("n3");
        break;
      case In::kHintsDurable:
        f_.engine.hint_store.RunPending();
        break;
    }
    Check();
  }

  std::vector<ClientPutReply> Answers() {
    std::vector<ClientPutReply> out;
    for (auto& [to, m] : f_.transport.Take<ClientPutReply>()) {
      EXPECT_EQ(to, (Endpoint{"", 9}));
      EXPECT_EQ(m.id, RequestId{5});
      out.push_back(std::move(m));
    }
    return out;
  }
  size_t InFlight() const { return puts_.InFlight(); }
  size_t HintsHeld() const { return f_.engine.hint_store.hints.size(); }

 private:
  void CaptureReplicaId() {
    for (const Sent& s : f_.transport.sent) {
      if (auto* w = std::get_if<ReplicaWrite>(&s.message)) replica_id_ = w->id;
    }
  }
  void Reply(const std::string& node, StatusCode code) {
    puts_.OnReplicaWriteReply(Endpoint{node, 0}, ReplicaWriteReply{replica_id_, code, ""});
  }
  void Check() {
    puts_.CheckInvariants();
    handoff_.CheckInvariants();
    fd_.CheckInvariants();
  }
  using Sent = testing::Sent;

  testing::FakeNode f_;
  FailureDetector fd_{*f_.ctx};
  HintedHandoff handoff_{*f_.ctx, fd_};
  PutCoordinator puts_{*f_.ctx, fd_, handoff_};
  RequestId replica_id_{};
};

struct Row {
  const char* name;
  std::vector<In> inputs;
  std::optional<StatusCode> answer;  // nullopt: the client is still waiting
  bool in_flight;                    // still tracked after the inputs
  size_t hints_held = 0;
};

TEST(PutCoordinatorTest, AnswersOnceAndRetiresInEveryOrder) {
  using I = In;
  const Row rows[] = {
      {"local and one replica make W", {I::kDecide, I::kStoreOk, I::kAckN2}, StatusCode::kOk, true},
      {"then the last replica retires it",
       {I::kDecide, I::kStoreOk, I::kAckN2, I::kAckN3},
       StatusCode::kOk,
       false},
      {"two replicas before the local commit",
       {I::kDecide, I::kAckN2, I::kAckN3},
       StatusCode::kOk,
       true},
      {"commit after the answer retires it",
       {I::kDecide, I::kAckN2, I::kAckN3, I::kStoreOk},
       StatusCode::kOk,
       false},
      {"a duplicated ack counts once", {I::kDecide, I::kAckN2, I::kDupAckN2}, std::nullopt, true},
      {"both replicas fail: W out of reach",
       {I::kDecide, I::kFailN2, I::kFailN3},
       StatusCode::kUnavailable,
       true,
       2},
      {"local fails after deciding, replicas make W",
       {I::kDecide, I::kStoreFail, I::kAckN2, I::kAckN3},
       StatusCode::kOk,
       false},
      {"local fails before deciding", {I::kStoreFail}, StatusCode::kIOError, false},
      {"an engine that decides at commit", {I::kStoreOk, I::kAckN3}, StatusCode::kOk, true},
      {"storage stalls past the deadline, then the put completes",
       {I::kDeadline, I::kDecide, I::kStoreOk, I::kAckN2, I::kAckN3},
       StatusCode::kTimeout,
       false},
      {"silent replicas past the deadline are hinted",
       {I::kDecide, I::kStoreOk, I::kDeadline},
       StatusCode::kTimeout,
       false,
       2},
      {"silent replicas with no fallback are hinted, W out of reach",
       {I::kDecide, I::kStoreOk, I::kSilent},
       StatusCode::kUnavailable,
       false,
       2},
      {"an unreachable replica fails at once",
       {I::kDecide, I::kStoreOk, I::kUnreachN3, I::kAckN2},
       StatusCode::kOk,
       false,
       1},
      {"a replica's error is hinted, the other makes W",
       {I::kDecide, I::kFailN2, I::kStoreOk, I::kAckN3},
       StatusCode::kOk,
       false,
       1},
      {"hints becoming durable change nothing for a primary coordinator",
       {I::kDecide, I::kFailN2, I::kHintsDurable, I::kStoreOk, I::kAckN3},
       StatusCode::kOk,
       false,
       1},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    PutHarness h;
    h.Start();
    std::vector<ClientPutReply> answers;
    for (In in : row.inputs) {
      h.Apply(in);
      for (ClientPutReply& a : h.Answers()) answers.push_back(std::move(a));
    }
    if (row.answer) {
      ASSERT_EQ(answers.size(), 1u);  // exactly one answer, never two
      EXPECT_EQ(answers[0].code, *row.answer) << answers[0].message;
    } else {
      EXPECT_TRUE(answers.empty());
    }
    EXPECT_EQ(h.InFlight(), row.in_flight ? 1u : 0u);
    EXPECT_EQ(h.HintsHeld(), row.hints_held);
  }
}

}  // namespace
}  // namespace trolley
