// EngineOp: one queued write of an Engine implementation, and the rules
// every implementation applies to a stored object.
//
// LmdbEngine and the simulator's SimEngine both queue writes, apply them in
// batches and call back afterwards. They share this type so that a write
// is built the same way in both, and the functions below so that a put, a
// merge and the limits mean the same thing on disk and in simulation: the
// simulator then checks the real rules, not a copy of them.
//
// Not part of the Engine interface: node code never sees an EngineOp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "storage/engine.h"

namespace trolley {

struct EngineOp {
  enum class Kind { kPut, kMerge, kExpire, kHintAdd, kHintRemoveDelivered, kHintDrop, kBarrier };

  // Each factory validates its input into `status` (a write that fails
  // validation is completed with that error, never applied).
  static EngineOp Put(ObjectKey key, WriteIntent intent, ActorId actor,
                      Engine::StateCallback decided, Engine::StateCallback done);
  static EngineOp Merge(ObjectKey key, SiblingSet remote, Engine::StateCallback done);
  // Removes `key` if it is still fully expired when applied.
  static EngineOp Expire(ObjectKey key);
  static EngineOp HintAdd(Hint hint, Engine::DoneCallback done);
  static EngineOp HintRemoveDelivered(std::string target, ObjectKey key, SiblingSet delivered,
                                      Engine::DoneCallback done);
  static EngineOp HintDrop(std::string target, ObjectKey key, Engine::DoneCallback done);

  Kind kind = Kind::kBarrier;
  ObjectKey key;
  WriteIntent intent;       // kPut
  ActorId actor = 0;        // kPut
  SiblingSet state;         // kMerge: remote; kHintAdd: the hint's; kHintRemoveDelivered: delivered
  std::string target;       // hints
  uint64_t created_ms = 0;  // kHintAdd
  Engine::StateCallback decided;     // kPut: the new state, before it is stored
  Engine::StateCallback state_done;  // kPut, kMerge
  Engine::DoneCallback done;         // the others
  // Filled when applied (or by the factory when the input is invalid).
  Status status;
  SiblingSet result;
};

// Engine::Put's limits: a coordinated write may not leave more than
// siblings_max siblings (unless it was a deduplicated retry, which adds
// none) or more than object_bytes_max bytes of values.
struct ObjectLimits {
  size_t siblings_max = 100;
  size_t object_bytes_max = 5 << 20;
};

// OK if `state`, just written by put `out` of `key`, is within `limits`;
// LimitExceeded naming the limit and what to do otherwise.
Status CheckPutLimits(const ObjectKey& key, const SiblingSet& state, const WriteOutcome& out,
                      const ObjectLimits& limits);

// The intent put `op` writes into `state` (expired siblings already
// dropped): op.intent itself, or for a computed write (WriteIntent's
// `transform`) the intent with value = transform(state) and context =
// state's context; the transform's error otherwise.
Result<WriteIntent> ResolveIntent(const SiblingSet& state, const EngineOp& op);

// Applies put `op` to `state`, the key's stored state (empty if absent),
// at `now_ms`: drops expired siblings, then ResolveIntent, then
// SiblingSet::ApplyWrite with the actor's dot counter `floor`, then
// CheckPutLimits. Returns the write's outcome, or the transform's or the
// limit's error; `state` is then unspecified and must not be stored. `op`
// is left as it was (its intent is copied), so a batch retried after a map
// resize can apply it again.
Result<WriteOutcome> ApplyPut(SiblingSet& state, const EngineOp& op, uint64_t floor,
                              const ObjectLimits& limits, uint64_t now_ms);

// Joins `remote` into `state` (Engine::Merge: never refused), dropping
// siblings expired at `now_ms` before and after.
void ApplyMerge(SiblingSet& state, const SiblingSet& remote, uint64_t now_ms);

// Engine::Sweep's rule for one stored object at `now_ms`: kRemove if every
// sibling expired (counted in expired_removed), or if only tombstones
// remain, all written at or before `grace_cutoff_ms` and, when
// `exchange_cutoff` is given, at or before exchange_cutoff(key_hash)
// (tombstones_purged; those only the exchange cutoff holds back count in
// tombstones_kept). kKeep otherwise.
enum class SweepVerdict { kKeep, kRemove };
SweepVerdict JudgeForSweep(const SiblingSet& state, uint64_t key_hash, uint64_t now_ms,
                           uint64_t grace_cutoff_ms, const TombstoneCutoff& exchange_cutoff,
                           SweepReport* report);

}  // namespace trolley
