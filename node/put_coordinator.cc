#include "node/put_coordinator.h"

#include <algorithm>
#include <utility>

#include "common/assert.h"
#include "node/op_table.h"
#include "node/request_log.h"

namespace trolley {

PutCoordinator::PutCoordinator(NodeContext& ctx, FailureDetector& detector, HintedHandoff& handoff)
    : ctx_(ctx), detector_(detector), handoff_(handoff) {}

void PutCoordinator::Start(const Endpoint& client, CoordinatedWrite write, RequestPlan plan) {
  const uint64_t op_id = ctx_.NextId().value;
  PutOp& op = puts_[op_id];
  ctx_.metrics().puts_in_flight.Increment();
  op.client = client;
  op.client_id = write.client_id;
  op.reply = write.reply;
  op.key = write.key;
  op.w = plan.quorum;
  op.pref = std::move(plan.pref);
  op.start_ns = ctx_.Now();
  op.deadline_ns = op.start_ns + plan.timeout_ms * kNsPerMs;
  WriteIntent intent = std::move(write.intent);
  // Replication starts once the new state is decided, in parallel with
  // the local commit (one commit latency on the write path, not two); this
  // node counts toward W only once its commit is done.
  ctx_.env().engine->Put(
      op.key, std::move(intent), ctx_.actor(),
      [this, op_id](Result<SiblingSet> r) { LocalPutDecided(op_id, std::move(r).value()); },
      [this, op_id](Result<SiblingSet> r) { LocalPutDone(op_id, std::move(r)); });
}

void PutCoordinator::LocalPutDecided(uint64_t op_id, SiblingSet state) {
  auto it = puts_.find(op_id);
  TROLLEY_ASSERT(it != puts_.end());  // ops live until their local write is done
  PutOp& op = it->second;
  op.phase = Decided(op.phase);  // asserts it was not decided before
  op.decided_ns = ctx_.Now();
  op.state = std::move(state);
  Replicate(op_id, op);
  AnswerIfQuorumDecided(op);  // a quorum may be impossible already; not stored yet, so not done
}

void PutCoordinator::LocalPutDone(uint64_t op_id, Result<SiblingSet> result) {
  auto it = puts_.find(op_id);
  TROLLEY_ASSERT(it != puts_.end());  // ops live until their local write is done
  PutOp& op = it->second;
  op.stored_ns = ctx_.Now();
  if (!result.ok() && !IsDecided(op.phase)) {
    if (!IsAnswered(op.phase)) {
      // A cart update refused by the cart's rules is the shopper's error,
      // not a failed write.
      const StatusCode code = result.status().code();
      const bool refused =
          op.reply == CoordinatedWrite::Reply::kCartUpdate &&
          (code == StatusCode::kInvalidArgument || code == StatusCode::kLimitExceeded ||
           code == StatusCode::kFailedPrecondition || code == StatusCode::kCorruption);
      Answer(
          op, result.status().code(),
          refused ? result.status().message() : "local write failed: " + result.status().message());
    }
    ctx_.metrics().puts_failed.Increment();
    Retire(it);
    return;
  }
  if (!IsDecided(op.phase)) {  // an engine that decides at commit
    op.phase = Decided(op.phase);
    op.decided_ns = op.stored_ns;
    op.state = result.value();
    Replicate(op_id, op);
  }
  op.phase = Stored(op.phase);
  if (op.local_role == LocalRole::kReplica) {
    // Replicated but not stored here: the other replicas may still make W.
    if (result.ok()) {
      op.quorum->AddAck(ctx_.self());
    } else {
      op.quorum->AddFailure(ctx_.self());
    }
  }
  AnswerIfQuorumDecided(op);
  RetireIfDone(it);
}

void PutCoordinator::Replicate(uint64_t op_id, PutOp& op) {
  ctx_.metrics().put_object_bytes.Record(op.state.ValueBytes());
  const std::string& self = ctx_.self();
  op.used.insert(self);
  // One slot per primary: the primary itself, a fallback for it, or (when
  // none is left) a hint kept here.
  std::vector<std::string> counted;
  std::vector<Target> remote;
  bool self_counted = ContainsNode(op.pref.primaries, self);
  if (self_counted) counted.push_back(self);
  const auto selected =
      SelectQuorumTargets(op.pref, [this](const NodeId& n) { return detector_.IsUp(n.name); });
  std::set<std::string> covered;
  std::string self_hint_for;  // this coordinator is itself the fallback for it
  for (const QuorumTarget& t : selected) {
    const std::string owner = t.hint_for ? t.hint_for->name : t.target.name;
    covered.insert(owner);
    if (t.target.name == self) {
      if (t.hint_for && !self_counted) {
        self_hint_for = owner;
        counted.push_back(self);
        self_counted = true;
      }
      continue;
    }
    remote.push_back(Target{t.target.name, t.hint_for ? owner : std::string(), 0, false});
    counted.push_back(t.target.name);
    op.used.insert(t.target.name);
  }
  for (const NodeId& primary : op.pref.primaries) {
    if (!covered.count(primary.name)) HintTarget(op, Target{primary.name, "", 0, false});
  }
  // With fewer slots than W the quorum has failed already, but every slot
  // still gets the write (and hints hold the rest).
  op.quorum.emplace(op.w, counted);
  op.local_role = !self_counted           ? LocalRole::kCopyOnly
                  : self_hint_for.empty() ? LocalRole::kReplica
                                          : LocalRole::kHintFallback;
  if (!self_hint_for.empty()) HintHereAsFallback(op_id, op, self_hint_for);
  for (Target& t : remote) SendToTarget(op_id, op, std::move(t));
}

void PutCoordinator::HintHereAsFallback(uint64_t op_id, PutOp& op, const std::string& owner) {
  // As a fallback this node's ack counts once its hint is durable, like a
  // remote fallback's: the object just written here is no replica, and a
  // crash before the hint's commit would leave the acknowledged write
  // nowhere the owner can get it from (found by the simulator, seed 37627).
  // The owner is a primary, never this node, so the continuation runs
  // later, from the engine, and never while Replicate is on the stack.
  TROLLEY_ASSERT(owner != ctx_.self());
  Status stored = handoff_.StoreHint(owner, op.key, op.state, [this, op_id](Status s) {
    auto pending = puts_.find(op_id);
    if (pending == puts_.end()) return;  // decided and done without this ack
    if (s.ok()) {
      pending->second.quorum->AddAck(ctx_.self());
    } else {
      pending->second.quorum->AddFailure(ctx_.self());
    }
    AnswerIfQuorumDecided(pending->second);
    RetireIfDone(pending);
  });
  // Refused (hints_max): this slot failed; the caller answers if that
  // decides the quorum.
  if (!stored.ok()) op.quorum->AddFailure(ctx_.self());
}

void PutCoordinator::SendToTarget(uint64_t op_id, PutOp& op, Target target) {
  target.sent_ns = ctx_.Now();
  ReplicaWrite write{RequestId{op_id}, op.key.ns, op.key.key, op.state, target.hint_for};
  if (!target.hint_for.empty()) ctx_.metrics().fallback_writes.Increment();
  ctx_.SendToNode(target.node, std::move(write));
  op.targets.push_back(std::move(target));
}

void PutCoordinator::HintTarget(const PutOp& op, const Target& target) {
  // A refusal (hints_max) is counted and logged by the handoff; the write
  // then lives on the replicas that took it, and read repair.
  static_cast<void>(handoff_.StoreHint(target.hint_for.empty() ? target.node : target.hint_for,
                                       op.key, op.state));
}

void PutCoordinator::ReplaceSilentTarget(uint64_t op_id, PutOp& op, const Target& silent) {
  op.quorum->AddFailure(silent.node);
  const std::string owner = silent.hint_for.empty() ? silent.node : silent.hint_for;
  for (const NodeId& fallback : op.pref.fallbacks) {
    if (op.used.count(fallback.name) || !detector_.IsUp(fallback.name)) continue;
    op.used.insert(fallback.name);
    op.quorum->AddTarget(fallback.name);
    SendToTarget(op_id, op, Target{fallback.name, owner, 0, false});
    return;
  }
  HintTarget(op, Target{owner, "", 0, false});  // no fallback left: keep it here
}

void PutCoordinator::OnReplicaWriteReply(const Endpoint& from, const ReplicaWriteReply& m) {
  auto it = puts_.find(m.id.value);
  if (it == puts_.end()) return;  // read repair ack, or a late reply
  PutOp& op = it->second;
  for (Target& t : op.targets) {
    if (t.node != from.node || t.answered) continue;
    t.answered = true;
    if (m.code == StatusCode::kOk) {
      op.quorum->AddAck(t.node);
    } else {
      op.quorum->AddFailure(t.node);
      HintTarget(op, t);
    }
    break;
  }
  AnswerIfQuorumDecided(op);
  RetireIfDone(it);
}

void PutCoordinator::OnPeerUnreachable(const std::string& node) {
  // Writes already sent to it will not be answered: act now, as a timeout
  // would after replica_timeout_ms (a refused or reset link is not a slow
  // peer). A write may still have landed, as with a timeout; the hint or
  // the fallback covers it either way.
  ForEachStillPresent(puts_, [&](OpMap::iterator it) {
    if (!IsDecided(it->second.phase)) return;
    PutOp& op = it->second;
    // Index loop: ReplaceSilentTarget appends to op.targets.
    for (size_t i = 0; i < op.targets.size(); ++i) {
      if (op.targets[i].answered || op.targets[i].node != node) continue;
      op.targets[i].answered = true;
      const Target silent = op.targets[i];
      ReplaceSilentTarget(it->first, op, silent);
    }
    AnswerIfQuorumDecided(op);
    RetireIfDone(it);
  });
}

void PutCoordinator::Tick(uint64_t now) {
  std::vector<uint64_t> retire;
  for (auto& [op_id, op] : puts_) TickOne(op_id, op, now, retire);
  for (uint64_t id : retire) Retire(puts_.find(id));
}

void PutCoordinator::TickOne(uint64_t op_id, PutOp& op, uint64_t now,
                             std::vector<uint64_t>& retire) {
  if (!IsDecided(op.phase)) {
    // A stalled disk must not hold the client past its deadline. The op
    // stays until the local write calls back, and then still replicates.
    if (now >= op.deadline_ns && !IsAnswered(op.phase)) {
      Answer(op, StatusCode::kTimeout,
             "the coordinator's local write did not complete in time (storage stalled?); "
             "the write may still appear");
    }
    return;
  }
  const uint64_t replica_timeout_ns = ctx_.options().replica_timeout_ms * kNsPerMs;
  // Index loop: ReplaceSilentTarget appends to op.targets.
  for (size_t i = 0; i < op.targets.size(); ++i) {
    if (op.targets[i].answered) continue;
    // sent_ns may be later than `now`: targets added during this tick.
    if (now < op.targets[i].sent_ns + replica_timeout_ns) continue;
    detector_.Suspect(op.targets[i].node, "replica write timed out");
    op.targets[i].answered = true;
    const Target silent = op.targets[i];
    ReplaceSilentTarget(op_id, op, silent);
  }
  if (now >= op.deadline_ns) {
    if (!IsAnswered(op.phase)) {
      Answer(op, StatusCode::kTimeout,
             "w=" + std::to_string(op.w) + " acknowledgements did not arrive in time (" +
                 std::to_string(op.quorum->acks()) + " did); the write may still appear");
    }
    HintUnansweredTargets(op);
  } else {
    AnswerIfQuorumDecided(op);
  }
  if (Done(op)) retire.push_back(op_id);  // else when its commit calls back
}

void PutCoordinator::HintUnansweredTargets(PutOp& op) {
  for (Target& t : op.targets) {
    if (t.answered) continue;
    t.answered = true;
    HintTarget(op, t);
  }
}

void PutCoordinator::AnswerIfQuorumDecided(PutOp& op) {
  if (!IsDecided(op.phase) || IsAnswered(op.phase)) return;
  switch (op.quorum->Decision()) {
    case QuorumDecision::kSucceeded:
      Answer(op, StatusCode::kOk, "");
      ctx_.metrics().puts_ok.Increment();
      break;
    case QuorumDecision::kFailed:
      Answer(op, StatusCode::kUnavailable,
             "only " + std::to_string(op.quorum->acks()) + " of w=" + std::to_string(op.w) +
                 " replicas acknowledged; the write is kept as hints and may still appear");
      ctx_.metrics().puts_failed.Increment();
      break;
    case QuorumDecision::kPending:
      break;
  }
}

void PutCoordinator::Answer(PutOp& op, StatusCode code, std::string message) {
  op.phase = Answered(op.phase);  // asserts the client was not answered before
  const uint64_t now = ctx_.Now();
  const bool cart_update = op.reply == CoordinatedWrite::Reply::kCartUpdate;
  LatencyHistogram& latency =
      cart_update ? ctx_.metrics().cart_update_latency_us : ctx_.metrics().put_latency_us;
  latency.Record((now - op.start_ns) / 1000);
  ReportAnswered(op, code, now);
  SiblingSet state = code == StatusCode::kOk ? op.state : SiblingSet();
  if (cart_update) {
    ctx_.Send(op.client, CartUpdateReply{op.client_id, code, std::move(message), std::move(state)});
  } else {
    ctx_.Send(op.client, ClientPutReply{op.client_id, code, std::move(message), std::move(state)});
  }
}

void PutCoordinator::ReportAnswered(const PutOp& op, StatusCode code, uint64_t now) {
  auto since_start = [&](std::optional<uint64_t> t) -> std::optional<uint64_t> {
    if (!t) return std::nullopt;
    return *t - op.start_ns;
  };
  std::optional<uint64_t> acks;
  if (op.decided_ns) acks = now - *op.decided_ns;
  const std::string detail =
      op.quorum ? "acks=" + std::to_string(op.quorum->acks()) + " w=" + std::to_string(op.w)
                : "w=" + std::to_string(op.w);
  const std::string_view name =
      op.reply == CoordinatedWrite::Reply::kCartUpdate ? "cart_update" : "put";
  ReportRequestDone(ctx_, RequestSummary{name,
                                         &op.key,
                                         code,
                                         now - op.start_ns,
                                         {{"queue", since_start(op.decided_ns)},
                                          {"local_commit", since_start(op.stored_ns)},
                                          {"replica_acks", acks}},
                                         detail});
}

bool PutCoordinator::Done(const PutOp& op) {
  return op.phase == PutPhase::kDraining && std::all_of(op.targets.begin(), op.targets.end(),
                                                        [](const Target& t) { return t.answered; });
}

void PutCoordinator::RetireIfDone(OpMap::iterator it) {
  if (Done(it->second)) Retire(it);
}

void PutCoordinator::Retire(OpMap::iterator it) {
  TROLLEY_ASSERT(it != puts_.end());
  puts_.erase(it);
  ctx_.metrics().puts_in_flight.Decrement();
}

void PutCoordinator::CheckInvariants() const {
  TROLLEY_ASSERT(ctx_.metrics().puts_in_flight.value() == puts_.size());
  for (const auto& [id, op] : puts_) {
    if (!IsDecided(op.phase)) {
      TROLLEY_ASSERT(!op.quorum.has_value());
      TROLLEY_ASSERT(op.targets.empty());
      TROLLEY_ASSERT(op.local_role == LocalRole::kUnknown);
      continue;
    }
    TROLLEY_ASSERT(op.quorum.has_value());
    TROLLEY_ASSERT(op.local_role != LocalRole::kUnknown);
    if (!IsAnswered(op.phase)) TROLLEY_ASSERT(op.quorum->Decision() == QuorumDecision::kPending);
    TROLLEY_ASSERT(!Done(op));
    for (const Target& t : op.targets) {
      if (t.answered) continue;
      TROLLEY_ASSERT_MSG(t.node != ctx_.self(), t.node);
      TROLLEY_ASSERT_MSG(op.quorum->IsWaitingFor(t.node), t.node);
      TROLLEY_ASSERT_MSG(op.used.count(t.node) == 1, t.node);
    }
    if (op.local_role == LocalRole::kReplica && !IsStored(op.phase)) {
      TROLLEY_ASSERT(op.quorum->IsWaitingFor(ctx_.self()));
    }
  }
}

}  // namespace trolley
