#include "node/get_coordinator.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "node/op_table.h"
#include "node/request_log.h"

namespace trolley {

GetCoordinator::GetCoordinator(NodeContext& ctx, FailureDetector& detector)
    : ctx_(ctx), detector_(detector) {}

void GetCoordinator::Start(const Endpoint& client, const ClientGet& m, const RequestPlan& plan) {
  const uint32_t r = plan.quorum;
  std::vector<std::string> targets;
  for (const NodeId& p : plan.pref.primaries) {
    if (detector_.IsUp(p.name)) targets.push_back(p.name);
  }
  if (targets.size() < r) {
    ctx_.metrics().gets_failed.Increment();
    ctx_.metrics().get_latency_us.Record(0);
    ctx_.Send(client, ClientGetReply{m.id,
                                     StatusCode::kUnavailable,
                                     "only " + std::to_string(targets.size()) +
                                         " replicas reachable, r=" + std::to_string(r),
                                     {}});
    return;
  }
  const uint64_t op_id = ctx_.NextId().value;
  auto [it, inserted] = gets_.try_emplace(op_id);
  TROLLEY_ASSERT(inserted);
  ctx_.metrics().gets_in_flight.Increment();
  GetOp& op = it->second;
  op.client = client;
  op.client_id = m.id;
  op.key = ObjectKey{m.ns, m.key};
  op.deadline_ns = ctx_.Now() + plan.timeout_ms * kNsPerMs;
  op.quorum.emplace(r, targets);
  op.r = r;
  op.sent_ns = ctx_.Now();
  for (const std::string& t : targets) {
    if (t == ctx_.self()) {
      auto local = ctx_.env().engine->Get(op.key);
      if (local.ok()) {
        op.quorum->AddState(t, *local);
      } else if (local.status().IsNotFound()) {
        op.quorum->AddState(t, SiblingSet());
      } else {
        op.quorum->AddFailure(t);
      }
      op.local_read_ns = ctx_.Now() - op.sent_ns;
    } else {
      ctx_.SendToNode(t, ReplicaGet{RequestId{op_id}, m.ns, m.key});
    }
  }
  AnswerAndRetireIfDone(it);
}

void GetCoordinator::OnReplicaGetReply(const Endpoint& from, const ReplicaGetReply& m) {
  auto it = gets_.find(m.id.value);
  if (it == gets_.end()) return;
  GetOp& op = it->second;
  if (m.code == StatusCode::kOk || m.code == StatusCode::kNotFound) {
    op.quorum->AddState(from.node, m.found ? m.state : SiblingSet());
  } else {
    op.quorum->AddFailure(from.node);
  }
  AnswerAndRetireIfDone(it);
}

void GetCoordinator::OnPeerUnreachable(const std::string& node) {
  ForEachStillPresent(gets_, [&](OpMap::iterator it) {
    bool failed = false;
    for (const std::string& t : it->second.quorum->Unanswered()) {
      if (t != node) continue;
      it->second.quorum->AddFailure(t);
      failed = true;
    }
    if (failed) AnswerAndRetireIfDone(it);
  });
}

void GetCoordinator::Tick(uint64_t now) {
  ForEachStillPresent(gets_, [&](OpMap::iterator it) {
    GetOp& op = it->second;
    const bool silent = now >= op.sent_ns + ctx_.options().replica_timeout_ms * kNsPerMs;
    if (!silent && now < op.deadline_ns) return;
    for (const std::string& t : op.quorum->Unanswered()) {
      detector_.Suspect(t, "replica read timed out");
      op.quorum->AddFailure(t);
    }
    if (now >= op.deadline_ns && op.state == GetState::kWaiting) {
      Answer(op, StatusCode::kTimeout, "r replicas did not answer in time");
    }
    AnswerAndRetireIfDone(it);
  });
}

void GetCoordinator::AnswerAndRetireIfDone(OpMap::iterator it) {
  GetOp& op = it->second;
  if (op.state == GetState::kWaiting) {
    switch (op.quorum->Decision()) {
      case QuorumDecision::kSucceeded: {
        const size_t versions = op.quorum->merged().Visible(ctx_.WallMs()).size();
        ctx_.metrics().get_versions.Record(versions);
        Answer(op, versions == 0 ? StatusCode::kNotFound : StatusCode::kOk, "");
        ctx_.metrics().gets_ok.Increment();
        break;
      }
      case QuorumDecision::kFailed:
        Answer(op, StatusCode::kUnavailable, "fewer than r replicas answered");
        ctx_.metrics().gets_failed.Increment();
        break;
      case QuorumDecision::kPending:
        break;
    }
  }
  if (op.quorum->AllAnswered()) {
    ReadRepair(op);
    gets_.erase(it);
    ctx_.metrics().gets_in_flight.Decrement();
  }
}

void GetCoordinator::Answer(GetOp& op, StatusCode code, std::string message) {
  TROLLEY_ASSERT(op.state == GetState::kWaiting);  // one answer per request
  op.state = GetState::kAnswered;
  const uint64_t total_ns = ctx_.Now() - op.sent_ns;
  ctx_.metrics().get_latency_us.Record(total_ns / 1000);
  ReportRequestDone(
      ctx_, RequestSummary{"get",
                           &op.key,
                           code,
                           total_ns,
                           {{"local_read", op.local_read_ns}, {"replica_replies", total_ns}},
                           "r=" + std::to_string(op.r)});
  // The state goes back even when every sibling is a tombstone: its context
  // lets the client write over the delete.
  const bool failed = code == StatusCode::kUnavailable || code == StatusCode::kTimeout;
  ctx_.Send(op.client, ClientGetReply{op.client_id, code, std::move(message),
                                      failed ? SiblingSet() : op.quorum->merged()});
}

void GetCoordinator::ReadRepair(const GetOp& op) {
  for (const std::string& target : op.quorum->RepairTargets()) {
    ctx_.metrics().read_repairs.Increment();
    if (target == ctx_.self()) {
      ctx_.env().engine->Merge(op.key, op.quorum->merged(), [](Result<SiblingSet>) {});
    } else {
      ctx_.SendToNode(target,
                      ReplicaWrite{ctx_.NextId(), op.key.ns, op.key.key, op.quorum->merged(), ""});
    }
  }
}

void GetCoordinator::CheckInvariants() const {
  TROLLEY_ASSERT(ctx_.metrics().gets_in_flight.value() == gets_.size());
  for (const auto& [id, op] : gets_) {
    TROLLEY_ASSERT(op.quorum.has_value());
    if (op.state == GetState::kWaiting) {
      TROLLEY_ASSERT(op.quorum->Decision() == QuorumDecision::kPending);
    }
    TROLLEY_ASSERT(!op.quorum->AllAnswered());
    const std::vector<std::string>& targets = op.quorum->targets();
    for (auto t = targets.begin(); t != targets.end(); ++t) {
      TROLLEY_ASSERT_MSG(std::find(targets.begin(), t, *t) == t, *t);  // distinct (N is small)
    }
  }
}

}  // namespace trolley
