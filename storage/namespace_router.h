// NamespaceRouter: one Engine (and HintStore) over several, routed by
// namespace.
//
// Why: a namespace names its Durability, and LmdbEngine has one Durability
// per environment (mixing MDB_NOSYNC commits into a kSync environment would
// give it NOSYNC's OS-crash risk). So trolleyd opens one engine per mode in
// use (data_dir/sync, data_dir/flush) and hands the node core this router.
//
// Routing. An object or hint with namespace `ns` lives in
// engines[engine_of_namespace[ns]]; a namespace not in the map goes to
// engines[default_engine]. The node validates client namespaces, but merges
// and hints from peers may name one this node was not configured with;
// those are stored, not refused (refusing a join would keep replicas apart
// forever), in the default engine.
//   Get, Put, Merge, Sync, hints().Add/RemoveDelivered/Drop: the routed
//     engine (Sync waits for that engine's writes only).
//   Scan, hints().List: every engine is asked for the same page; the pages
//     are merged in the engines' key order (key_layout::CompareObjectKeys,
//     storage/key_layout.h: the LMDB layout) and cut at `limit`, so the result is one
//     page with the usual `more` and `resume_after` semantics (children must
//     order keys of equal hash that way too, as LmdbEngine does). A key found
//     in two engines (only after a namespace was re-routed, see below) is
//     returned once, from the engine it routes to now (as Get sees it).
//   Sweep: runs on every engine; `done` runs once, after the last one, with
//     the summed reports, or with the error of the lowest-index engine that
//     failed. It runs on the completion thread of the last child to finish.
//   AaeSegments, AaeBranches: the XOR of the engines' (the tree of the
//     union of their keys); AaeSegmentKeys: the union in key order;
//     AaeStats: summed.
//   hints().Targets: the union. hints().Stats: counts summed, the smallest
//     nonzero oldest_created_ms.
//   Cork, Uncork: every engine.
//   incarnation(): the sum (mod 2^64) of the children's actor epochs.
//     Every child takes a new random epoch at every open, so the sum is new
//     at every start (a repeat has probability 2^-64). Independent of the
//     order of `engines`.
// With one engine every call is that engine's, unchanged.
//
// Re-routing a namespace to another engine (changing its durability) is a
// data migration the router does not do: the old engine's keys stay there,
// invisible to Get.
//
// Thread-safety: the router holds no mutable state after construction (each
// Sweep call has its own), so it is exactly as thread-safe as its children.
// It does not own them: they must outlive it.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "storage/engine.h"

namespace trolley {

class NamespaceRouter final : public Engine, public HintStore {
 public:
  using DoneCallback = Engine::DoneCallback;  // the same type in both bases

  // Asserts (a wiring bug, not input): engines non-empty, no null and no
  // engine twice; every index < engines.size(); namespaces valid names.
  NamespaceRouter(std::vector<Engine*> engines,
                  std::map<std::string, size_t, std::less<>> engine_of_namespace,
                  size_t default_engine);

  NamespaceRouter(const NamespaceRouter&) = delete;
  NamespaceRouter& operator=(const NamespaceRouter&) = delete;

  // The index into `engines` that holds namespace `ns`.
  size_t EngineIndexFor(std::string_view ns) const;

  // Engine
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
  AaeTreeStats AaeStats() override;
  HintStore& hints() override;
  void Sync(std::string_view ns, DoneCallback done) override;
  void Cork() override;
  void Uncork() override;
  uint64_t incarnation() const override;

  // HintStore
  void Add(Hint hint, DoneCallback done) override;
  Result<std::vector<Hint>> List(std::string_view target, size_t limit) override;
  Result<std::vector<std::string>> Targets() override;
  void RemoveDelivered(std::string target, ObjectKey key, SiblingSet delivered,
                       DoneCallback done) override;
  void Drop(std::string target, ObjectKey key, DoneCallback done) override;
  Result<HintStats> Stats() override;

 private:
  Engine& EngineFor(std::string_view ns) const { return *engines_[EngineIndexFor(ns)]; }
  bool single() const { return engines_.size() == 1; }

  const std::vector<Engine*> engines_;
  const std::map<std::string, size_t, std::less<>> engine_of_namespace_;
  const size_t default_engine_;
};

}  // namespace trolley
