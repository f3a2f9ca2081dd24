#include "storage/engine_op.h"

#include <utility>

namespace trolley {

EngineOp EngineOp::Put(ObjectKey key, WriteIntent intent, ActorId actor,
                       Engine::StateCallback decided, Engine::StateCallback done) {
  EngineOp op;
  op.kind = Kind::kPut;
  op.status = ValidateObjectKey(key);
  if (op.status.ok() && intent.transform && intent.tombstone) {
    op.status = Status::InvalidArgument("a computed write (transform) cannot be a delete");
  }
  op.key = std::move(key);
  op.intent = std::move(intent);
  op.actor = actor;
  op.decided = std::move(decided);
  op.state_done = std::move(done);
  return op;
}

EngineOp EngineOp::Merge(ObjectKey key, SiblingSet remote, Engine::StateCallback done) {
  EngineOp op;
  op.kind = Kind::kMerge;
  op.status = ValidateObjectKey(key);
  op.key = std::move(key);
  op.state = std::move(remote);
  op.state_done = std::move(done);
  return op;
}

EngineOp EngineOp::Expire(ObjectKey key) {
  EngineOp op;
  op.kind = Kind::kExpire;
  op.key = std::move(key);
  return op;
}

EngineOp EngineOp::HintAdd(Hint hint, Engine::DoneCallback done) {
  EngineOp op;
  op.kind = Kind::kHintAdd;
  op.status = ValidateHint(hint);
  op.target = std::move(hint.target);
  op.key = std::move(hint.key);
  op.state = std::move(hint.state);
  op.created_ms = hint.created_ms;
  op.done = std::move(done);
  return op;
}

EngineOp EngineOp::HintRemoveDelivered(std::string target, ObjectKey key, SiblingSet delivered,
                                       Engine::DoneCallback done) {
  EngineOp op;
  op.kind = Kind::kHintRemoveDelivered;
  op.target = std::move(target);
  op.key = std::move(key);
  op.state = std::move(delivered);
  op.done = std::move(done);
  return op;
}

EngineOp EngineOp::HintDrop(std::string target, ObjectKey key, Engine::DoneCallback done) {
  EngineOp op;
  op.kind = Kind::kHintDrop;
  op.target = std::move(target);
  op.key = std::move(key);
  op.done = std::move(done);
  return op;
}

Status CheckPutLimits(const ObjectKey& key, const SiblingSet& state, const WriteOutcome& out,
                      const ObjectLimits& limits) {
  const std::string name = key.ns + "/" + key.key;
  if (!out.deduplicated && state.size() > limits.siblings_max) {
    return Status::LimitExceeded(
        name + " would have " + std::to_string(state.size()) +
        " siblings (storage.siblings_max = " + std::to_string(limits.siblings_max) +
        "): read the key and write back one merged value with its context");
  }
  if (state.ValueBytes() > limits.object_bytes_max) {
    return Status::LimitExceeded(
        name + " would hold " + std::to_string(state.ValueBytes()) +
        " bytes (storage.object_bytes_max = " + std::to_string(limits.object_bytes_max) +
        "): write a smaller value or resolve siblings first");
  }
  return Status::Ok();
}

Result<WriteIntent> ResolveIntent(const SiblingSet& state, const EngineOp& op) {
  WriteIntent intent = op.intent;
  if (!intent.transform) return intent;
  Result<std::string> value = intent.transform(state);
  if (!value.ok()) return value.status();
  intent.transform = nullptr;
  intent.value = std::move(*value);
  intent.context = state.context();
  return intent;
}

Result<WriteOutcome> ApplyPut(SiblingSet& state, const EngineOp& op, uint64_t floor,
                              const ObjectLimits& limits, uint64_t now_ms) {
  state.DropExpiredAt(now_ms);
  Result<WriteIntent> intent = ResolveIntent(state, op);
  if (!intent.ok()) return intent.status();
  const WriteOutcome out = state.ApplyWrite(std::move(*intent), op.actor, floor);
  state.CheckInvariants();
  if (Status s = CheckPutLimits(op.key, state, out, limits); !s.ok()) return s;
  return out;
}

void ApplyMerge(SiblingSet& state, const SiblingSet& remote, uint64_t now_ms) {
  state.DropExpiredAt(now_ms);
  state.Merge(remote);
  state.DropExpiredAt(now_ms);
}

SweepVerdict JudgeForSweep(const SiblingSet& state, uint64_t key_hash, uint64_t now_ms,
                           uint64_t grace_cutoff_ms, const TombstoneCutoff& exchange_cutoff,
                           SweepReport* report) {
  if (state.FullyExpiredAt(now_ms)) {
    ++report->expired_removed;
    return SweepVerdict::kRemove;
  }
  if (!state.OnlyTombstonesOlderThan(grace_cutoff_ms)) return SweepVerdict::kKeep;
  if (exchange_cutoff && !state.OnlyTombstonesOlderThan(exchange_cutoff(key_hash))) {
    ++report->tombstones_kept;  // a replica may not have seen the delete yet
    return SweepVerdict::kKeep;
  }
  ++report->tombstones_purged;
  return SweepVerdict::kRemove;
}

}  // namespace trolley
