// Engine: the storage a node uses (docs/design.md, 'Versions: dotted version vector sets'
// and 'The LMDB engine').
//
// An Engine holds the sibling set of every key this node replicates, plus a
// HintStore of writes held for other nodes. Node code sees only this
// interface; LmdbEngine (storage/lmdb/) is the real one.
//
// Reads are synchronous and see every write whose callback has run.
// Writes are asynchronous: `done` runs exactly once, after the write is
// durable under the engine's Durability (or has failed), on the engine's
// completion executor (EngineOptions). Writes submitted from one thread
// are applied in submission order. Writes submitted in one burst share one
// storage commit (group commit). Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "storage/sibling_set.h"

namespace trolley {

// When a write counts as durable, i.e. when its callback runs.
enum class Durability {
  // After the fsync of the commit that holds it (group commit). Survives a
  // process crash and an OS crash or power loss.
  kSync,
  // After the commit reaches the OS page cache; a background thread fsyncs
  // at least every flush_interval_ms. Survives a process crash; an OS crash
  // can lose up to flush_interval_ms of acknowledged writes (Dynamo's
  // buffered writes).
  kFlush,
  // After the commit; never fsynced by Trolley. Benchmarks only.
  kNone,
};

std::string_view DurabilityName(Durability d);
// "sync" | "flush" | "none"; InvalidArgument naming the accepted values otherwise.
Result<Durability> ParseDurability(std::string_view name);

// The name of one object. Limits: ns 1..kNamespaceBytesMax, key 1..kKeyBytesMax.
struct ObjectKey {
  std::string ns;
  std::string key;
  friend auto operator<=>(const ObjectKey&, const ObjectKey&) = default;
};
inline constexpr size_t kNamespaceBytesMax = 64;
inline constexpr size_t kKeyBytesMax = 400;  // LMDB keys are at most 511 bytes
Status ValidateObjectKey(const ObjectKey& key);

struct KeyState {
  ObjectKey key;
  SiblingSet state;
};

// One page of a hash-range scan; resume with `resume_after` = last key.
struct ScanPage {
  std::vector<KeyState> entries;
  bool more = false;
};

struct SweepReport {
  uint64_t keys_scanned = 0;
  uint64_t expired_removed = 0;    // every sibling past its expiry
  uint64_t tombstones_purged = 0;  // only tombstones, older than the grace period
  uint64_t tombstones_kept = 0;    // old enough, but not yet seen by every replica's exchange
  uint64_t aae_index_fixed = 0;    // anti-entropy index entries that disagreed with the data
};

// Which tombstones a sweep may purge: those of a key whose hash is `key_hash`
// and whose newest tombstone was written at or before the cutoff returned
// (wall ms). Anti-entropy returns the start of the oldest clean exchange
// with every other replica of the key's partition (docs/design.md,
// 'Active anti-entropy'); empty = only the grace period counts.
using TombstoneCutoff = std::function<uint64_t(uint64_t key_hash)>;

// One key of an anti-entropy segment (docs/design.md, 'Active anti-entropy').
struct AaeKeyVersion {
  ObjectKey key;
  uint64_t version = 0;       // live now (VersionHash); never 0 in a listing
  uint64_t tree_version = 0;  // what the tree holds for the key; differs when it drifted
  friend bool operator==(const AaeKeyVersion&, const AaeKeyVersion&) = default;
};

// Anti-entropy tree counters of one engine (a router: the sum of its engines').
struct AaeTreeStats {
  uint64_t rebuilds = 0;      // trees rebuilt from the per-key index (one per open)
  uint64_t rebuilt_keys = 0;  // index entries those rebuilds read
  uint64_t verify_fixed = 0;  // index entries a sweep found wrong and fixed
};

// A write held for an unreachable owner (sloppy quorum). One hint per
// (target, key): adding a hint for a key that already has one merges the
// states, so a hint never holds more than the latest join.
struct Hint {
  std::string target;  // the node the write belongs to
  ObjectKey key;
  SiblingSet state;
  uint64_t created_ms = 0;  // when the first still-held write was hinted
};
// Ok, or InvalidArgument: the key's limits (ValidateObjectKey) and a
// target of 1 to 255 bytes.
Status ValidateHint(const Hint& hint);

struct HintStats {
  uint64_t count = 0;
  uint64_t oldest_created_ms = 0;  // 0 when empty
};

// RAII cork for Engine::Cork/Uncork.
class EngineCork;

class HintStore {
 public:
  using DoneCallback = std::function<void(Status)>;
  virtual ~HintStore() = default;

  // Durable like any write; merges into an existing hint for (target, key).
  virtual void Add(Hint hint, DoneCallback done) = 0;
  // Up to `limit` hints for `target`, in key order.
  virtual Result<std::vector<Hint>> List(std::string_view target, size_t limit) = 0;
  // Every target that has hints.
  virtual Result<std::vector<std::string>> Targets() = 0;
  // Removes the hint for (target, key) only if `delivered` covers it: a
  // write hinted after the delivery started stays for the next round.
  virtual void RemoveDelivered(std::string target, ObjectKey key, SiblingSet delivered,
                               DoneCallback done) = 0;
  // Removes a hint regardless (bounded store overflow, age limit).
  virtual void Drop(std::string target, ObjectKey key, DoneCallback done) = 0;
  virtual Result<HintStats> Stats() = 0;
};

class Engine {
 public:
  using StateCallback = std::function<void(Result<SiblingSet>)>;
  using DoneCallback = std::function<void(Status)>;
  using SweepCallback = std::function<void(Result<SweepReport>)>;
  virtual ~Engine() = default;

  // The key's state; NotFound if absent or every sibling has expired (an
  // expired key is then removed in the background). Tombstones are
  // returned: the caller needs their context.
  virtual Result<SiblingSet> Get(const ObjectKey& key) = 0;

  // A write coordinated by `actor` (a put, or a delete if intent.tombstone):
  // SiblingSet::ApplyWrite on the stored state. `done` gets the new state
  // once it is stored (durable as the engine's mode promises), or the
  // error. LimitExceeded if the write would make more than siblings_max
  // siblings or object_bytes_max bytes.
  //
  // A computed write (intent.transform, see WriteIntent) reads the key's
  // state and writes transform(state) with the state's context inside this
  // queued write: no other write to the key comes in between. The
  // transform's error fails the put with that Status; a transform with
  // intent.tombstone is InvalidArgument.
  //
  // `decided` (may be empty) gets the new state as soon as it is computed,
  // before it is stored, so that the coordinator can replicate it while its
  // own commit runs; it runs before `done` (the same state), and not at all
  // for a refused write. If `done` then fails, the state may live on other
  // replicas: its dot is never issued again (the actor's counter floor has
  // moved past it, or the next open takes a new epoch).
  virtual void Put(ObjectKey key, WriteIntent intent, ActorId actor, StateCallback decided,
                   StateCallback done) = 0;
  void Put(ObjectKey key, WriteIntent intent, ActorId actor, StateCallback done) {
    Put(std::move(key), std::move(intent), actor, nullptr, std::move(done));
  }

  // Joins another replica's state in (replication, read repair, hint
  // delivery, anti-entropy). `done` gets the merged state. Never refused
  // for limits: refusing a join would keep replicas apart forever.
  virtual void Merge(ObjectKey key, SiblingSet remote, StateCallback done) = 0;

  // Keys whose hash lies in [first_hash, last_hash], in hash order: one ring
  // partition is one such range (common/key.h). Starts after `resume_after`
  // when given (the last key of the previous page).
  virtual Result<ScanPage> Scan(uint64_t first_hash, uint64_t last_hash,
                                const ObjectKey* resume_after, size_t limit) = 0;

  // Removes expired keys and tombstone-only keys whose newest tombstone is
  // older than `tombstone_grace_ms` and, when `cutoff` is given, written at
  // or before cutoff(key hash), using the engine's clock. Also verifies the
  // anti-entropy index against the data and fixes what disagrees.
  virtual void Sweep(uint64_t tombstone_grace_ms, TombstoneCutoff cutoff, SweepCallback done) = 0;
  void Sweep(uint64_t tombstone_grace_ms, SweepCallback done) {
    Sweep(tombstone_grace_ms, nullptr, std::move(done));
  }

  // ---- anti-entropy (storage/aae_tree.h; docs/design.md, 'Active anti-entropy') ----
  // Hashes of the tree's segments [first, first + count) and branches, as
  // of the last committed write.
  virtual std::vector<uint64_t> AaeSegments(uint32_t first, uint32_t count) = 0;
  virtual std::vector<uint64_t> AaeBranches(uint32_t first, uint32_t count) = 0;
  // Every key of `segment` with a live version, in key order, read from
  // the data (expired siblings left out), with what the tree holds for it.
  virtual Result<std::vector<AaeKeyVersion>> AaeSegmentKeys(uint32_t segment) = 0;
  virtual AaeTreeStats AaeStats() = 0;

  virtual HintStore& hints() = 0;

  // Durability for what was acknowledged: `done` runs once every write to
  // the storage holding namespace `ns` whose callback has already run is
  // on disk (writes still queued are not covered). kSync: at once (they
  // are). kFlush: after an fsync, which this asks for now rather than at
  // the end of flush_interval_ms; at once if nothing is unsynced. kNone: at
  // once (never fsynced: that is what kNone means). An error if the fsync
  // fails. Hint delivery uses it (the holder deletes its hint on the
  // owner's reply); not for the hot path: in kFlush a call may cost an
  // fsync. `done` never runs inside the call when the engine has a
  // completion executor (the simulator's engine always defers it).
  virtual void Sync(std::string_view ns, DoneCallback done) = 0;

  // Group commit, made explicit: writes submitted between Cork() and the
  // matching Uncork() go into one commit (up to batch_ops_max), like
  // TCP_CORK. A network loop corks while it handles one read's frames.
  // Corks nest; without one, writes are committed as soon as the storage
  // is free, batching whatever queued meanwhile.
  virtual void Cork() = 0;
  virtual void Uncork() = 0;

  // The actor epoch of this life of the storage: random, nonzero, new at
  // every open (clean restart or not, new or emptied or restored data
  // dir), durable before the first dot. Nodes derive their ActorId from it,
  // so an actor never issues a dot after a life that may have lost state
  // (docs/design.md, 'Versions: dotted version vector sets', 'Actor epochs').
  virtual uint64_t incarnation() const = 0;
};

class EngineCork {
 public:
  explicit EngineCork(Engine& engine) : engine_(engine) { engine_.Cork(); }
  ~EngineCork() { engine_.Uncork(); }
  EngineCork(const EngineCork&) = delete;
  EngineCork& operator=(const EngineCork&) = delete;

 private:
  Engine& engine_;
};

}  // namespace trolley
