// SimEngine: an in-memory Engine + HintStore for the simulator that models
// what LmdbEngine makes durable and what a crash loses.
//
// Why not LmdbEngine in a temp dir: the simulator runs thousands of seeds
// of thousands of operations each (the bar is 50,000 simulated client
// operations per wall-clock second on one core); a real LMDB commit costs a
// syscall and an fsync, and its writer thread would make the run depend on
// the OS scheduler. The model keeps every rule a node can observe:
//
//   - Writes are asynchronous and group-committed. Every write submitted in
//     one event (one "loop turn", like trolleyd's cork) joins the next
//     commit; a commit takes a simulated latency (an fsync in `sync`, a page
//     cache write in `flush`), and writes submitted meanwhile form the next
//     batch. A commit applies its writes in submission order, then runs
//     their callbacks in that order. Reads see committed state only.
//   - In `sync` a put's new state is decided when its commit starts (its
//     `decided` callback runs then, in an event of its own) and stored when
//     the commit completes, as LmdbEngine hands it out before its fsync;
//     the commit applies at its start time, so it stores exactly what was
//     decided (asserted). In `flush` and `none` `decided` runs just before
//     `done`.
//   - Put and Merge are LmdbEngine's own rules (storage/engine_op.h:
//     ApplyPut, ApplyMerge, the same EngineOp): expired siblings dropped
//     first, the per-actor dot counter floor passed to ApplyWrite and raised
//     by the dot it issued, siblings_max / object_bytes_max refusing a
//     coordinated write (not a deduplicated retry) with LimitExceeded, a
//     merge never refused. Hints merge into an existing hint for (target, key) keeping
//     the oldest created_ms; RemoveDelivered removes only a covered hint.
//   - Durability. `sync`: a commit is durable when its callbacks run.
//     `flush`: a commit is acknowledged at once and made durable by an
//     fsync every flush_interval (the simulator calls Fsync()). What the
//     node's disk holds lives in SimDisk, which outlives engines: a process
//     crash loses what was queued or in the commit in flight (the callbacks
//     never run) and keeps committed data (the OS page cache survives); a
//     power loss also reverts every object, hint and dot floor to its state
//     at the last fsync. Dot counter floors are committed with the batch
//     that raised them, as LmdbEngine does. Sync() covers the writes that
//     have called back: in `sync` and `none` (or with nothing unsynced) it
//     calls back in an event of its own at once; in `flush` it asks for an
//     fsync now (done after one commit latency, or when a stall ends) and
//     calls back after the first fsync (that one, or the periodic Fsync()),
//     as LmdbEngine's flusher does.
//   - Anti-entropy: the same tree code as LmdbEngine (storage/aae_tree.h),
//     moved by every object write, removal and sweep in the same step, and
//     rebuilt from the objects at every open (LmdbEngine's persisted index
//     always equals the objects' versions after a crash: same transaction).
//   - Actor epoch: every open, clean restart or not, of any disk (new,
//     emptied, or a copy of an older state of itself) takes a new random
//     epoch (Env::random_epoch) and drops the dot floors of earlier ones, as
//     LmdbEngine does; the node derives its ActorId from it (docs/design.md,
//     'Versions: dotted version vector sets', 'Actor epochs'). The epoch and
//     the dropped floors are durable before the first dot.
//
// Not thread-safe; the simulator drives it from its one thread. Time and
// scheduling come from SimEngine::Env; every callback runs from an event
// the simulator dispatches (never inside Put/Merge/Add).
#pragma once

#include <compare>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "simulation/planted_bug.h"
#include "storage/aae_tree.h"
#include "storage/engine.h"
#include "storage/engine_op.h"
#include "storage/key_layout.h"

namespace trolley::sim {

// Hints in LmdbEngine's key order (key_layout::CompareHintKeys): target
// length and target, then the object key's hash, ns length, ns and key.
struct HintKey {
  std::string target;
  uint64_t hash = 0;  // KeyHash of `key`
  ObjectKey key;
  friend bool operator==(const HintKey&, const HintKey&) = default;
  friend std::strong_ordering operator<=>(const HintKey& a, const HintKey& b) {
    return key_layout::CompareHintKeys(a.target, a.hash, a.key, b.target, b.hash, b.key);
  }
};

// The node's disk: survives crashes and restarts of engines.
struct SimDisk {
  uint64_t epoch = 0;  // the actor epoch of the last open (0: never opened)
  bool clean_shutdown = false;
  std::map<ObjectKey, SiblingSet> objects;  // committed (what LMDB holds)
  std::map<HintKey, Hint> hints;
  std::map<ActorId, uint64_t> floors;  // dot counter floors
  // Since the last fsync: the durable value of every object and hint
  // changed since (nullopt: absent), and the durable floors. A power loss
  // restores them; an fsync forgets them.
  std::map<ObjectKey, std::optional<SiblingSet>> undo_objects;
  std::map<HintKey, std::optional<Hint>> undo_hints;
  std::optional<std::map<ActorId, uint64_t>> undo_floors;

  bool Synced() const { return undo_objects.empty() && undo_hints.empty() && !undo_floors; }
  // Reverts to the last fsync.
  void PowerLoss();
};

struct SimEngineOptions {
  Durability durability = Durability::kSync;
  size_t batch_ops_max = 2048;
  size_t siblings_max = 100;
  size_t object_bytes_max = 5 << 20;
  PlantedBug bug = PlantedBug::kNone;
};

class SimEngine final : public Engine, public HintStore {
 public:
  using DoneCallback = Engine::DoneCallback;

  struct Env {
    Clock* clock = nullptr;  // the node's clock: expiry and hint ages
    // Runs `fn` at virtual time `at_ns` on the node's thread, unless the
    // engine has been destroyed (crash) by then.
    std::function<void(uint64_t at_ns, std::function<void()> fn)> schedule;
    std::function<uint64_t()> now_ns;
    // The latency of the next commit (fsync in sync, page cache in flush).
    std::function<uint64_t()> commit_latency_ns;
    // A random 64-bit value for the actor epoch (required): LmdbEngine reads
    // the OS's random source, the simulator's comes from the seed.
    std::function<uint64_t()> random_epoch;
    // Told of every commit (its operation count) and fsync; may be empty.
    std::function<void(size_t ops)> on_commit;
    std::function<void()> on_fsync;
  };

  // Opens `disk` (which must outlive the engine): takes a new actor epoch.
  SimEngine(SimDisk& disk, SimEngineOptions options, Env env);
  ~SimEngine() override = default;
  SimEngine(const SimEngine&) = delete;
  SimEngine& operator=(const SimEngine&) = delete;

  // Engine. Get of a key whose every sibling expired returns NotFound and
  // removes it in the next commit (if still expired then), as LmdbEngine.
  Result<SiblingSet> Get(const ObjectKey& key) override;
  using Engine::Put;
  void Put(ObjectKey key, WriteIntent intent, ActorId actor, StateCallback decided,
           StateCallback done) override;
  void Merge(ObjectKey key, SiblingSet remote, StateCallback done) override;
  Result<ScanPage> Scan(uint64_t first_hash, uint64_t last_hash, const ObjectKey* resume_after,
                        size_t limit) override;
  using Engine::Sweep;
  void Sweep(uint64_t tombstone_grace_ms, TombstoneCutoff cutoff, SweepCallback done) override;
  std::vector<uint64_t> AaeSegments(uint32_t first, uint32_t count) override;
  std::vector<uint64_t> AaeBranches(uint32_t first, uint32_t count) override;
  Result<std::vector<AaeKeyVersion>> AaeSegmentKeys(uint32_t segment) override;
  AaeTreeStats AaeStats() override { return aae_stats_; }
  // The tree (tests compare it with one rebuilt from the objects).
  const AaeTree& aae_tree() const { return tree_; }
  HintStore& hints() override { return *this; }
  void Sync(std::string_view ns, DoneCallback done) override;
  void Cork() override {}
  void Uncork() override {}
  uint64_t incarnation() const override { return disk_.epoch; }  // the actor epoch

  // HintStore
  void Add(Hint hint, DoneCallback done) override;
  Result<std::vector<Hint>> List(std::string_view target, size_t limit) override;
  Result<std::vector<std::string>> Targets() override;
  void RemoveDelivered(std::string target, ObjectKey key, SiblingSet delivered,
                       DoneCallback done) override;
  void Drop(std::string target, ObjectKey key, DoneCallback done) override;
  Result<HintStats> Stats() override;

  // Makes everything committed durable (the `flush` mode's background
  // fsync; a no-op when nothing changed since the last one), then calls
  // back every committed Sync() waiting for it.
  void Fsync();
  // A clean stop: applies every queued and in-flight write (their callbacks
  // never run: the node is gone), fsyncs and marks the disk clean.
  void Close();
  // Nothing queued, committing or waiting to start, no Sync() waiting.
  bool Idle() const { return queue_.empty() && !commit_pending_ && durable_waiters_.empty(); }

  // Merges submitted while set are repairs (planted bugs overwrite-repair, aae-overwrite).
  void set_repair_merges(bool on) { repair_merges_ = on; }
  // Cart updates submitted while set are max guest merges (planted merge-sets).
  void set_max_merges(bool on) { max_merges_ = on; }
  // Commits do not complete before this time (a stalled disk).
  void set_stall_until_ns(uint64_t t) { stall_until_ns_ = t; }

 private:
  struct Op : EngineOp {
    Op() = default;
    explicit Op(EngineOp op) : EngineOp(std::move(op)) {}
    bool overwrite = false;  // planted overwrite-repair
    // kPut in `sync`: what `decided` was given when the commit started.
    std::optional<SiblingSet> decided_state;
  };

  void Submit(Op op);
  void StartCommit();
  void CompleteCommit();
  // At the start of a commit, as LmdbEngine before its commit: works out
  // the puts' new states and hands them to their `decided` callbacks.
  void DecideInFlight();
  void ApplyOp(Op& op, uint64_t now_ms);
  void ApplyHintOp(Op& op);
  void SetObject(const ObjectKey& key, SiblingSet state);
  // Removes the object (keeping its durable value in the undo log) and its index entry.
  void EraseObject(const ObjectKey& key);
  // The anti-entropy index and tree, in step (LmdbEngine's SetIndexedVersion).
  void SetIndexed(const ObjectKey& key, uint64_t version);
  uint64_t IndexedVersion(const ObjectKey& key) const;
  void SetHint(const HintKey& key, std::optional<Hint> hint);
  void SetFloor(ActorId actor, uint64_t floor);
  // Forgets the undo log: what is committed is now durable.
  void SyncDisk();
  // Planted bugs.
  static void KeepNewestSibling(SiblingSet& state);
  static WriteOutcome PlainVcWrite(SiblingSet& state, WriteIntent intent, ActorId actor);
  // remove-forgets-context: `value`, computed by a cart update from
  // `current`, with the ids it removed dropped from its context.
  static std::string ForgetRemovedIds(const SiblingSet& current, std::string value);
  // merge-sets: `value`, a guest merge computed from `current`, redone with
  // a SetQuantity for every line the copy held that the merge added to.
  static std::string MergeAsSets(const SiblingSet& current, std::string value);

  SimDisk& disk_;
  SimEngineOptions options_;
  Env env_;
  std::vector<Op> queue_;
  std::vector<Op> in_flight_;
  bool commit_pending_ = false;    // a start or a completion is scheduled
  uint64_t in_flight_now_ms_ = 0;  // the wall time the in-flight commit applies at
  // `flush`: Sync() callbacks waiting for the next fsync, and whether an
  // early fsync for them is scheduled.
  std::vector<DoneCallback> durable_waiters_;
  bool fsync_pending_ = false;
  bool repair_merges_ = false;
  bool max_merges_ = false;
  uint64_t stall_until_ns_ = 0;
  // The anti-entropy index (key -> version) and tree of the committed
  // objects; rebuilt from them at every open (see the constructor).
  std::map<ObjectKey, uint64_t> index_;
  AaeTree tree_;
  AaeTreeStats aae_stats_;
};

// The key of one hint, as HintStore orders hints.
HintKey HintKeyOf(std::string target, ObjectKey key);

}  // namespace trolley::sim
