// AntiEntropy: active anti-entropy between the replicas of each ring
// partition (docs/design.md, 'Active anti-entropy'): the exchanges, their
// schedule and budgets, repair, and the per-pair status and purge cutoff.
// Level 2 of the node core, beside the request roles: it asks the failure
// detector IsUp(), reads this node's side of each comparison from
// AaeLocalTree (node/aae_local_tree.h: the hash levels, the live listing
// and the re-hash of drifted keys, and the answers to peers' requests),
// and calls nothing above it.
//
// The exchange. One at a time per node. Every aae_interval_ms (jittered
// between half and one and a half times; a tick with an exchange still
// running starts none; one that found equal roots is followed on the next
// tick, up to kAaeEqualRootsPerInterval times) it takes the next
// (partition, peer) pair in turn, both primaries of the partition (N = the
// largest namespace N), the peer believed up, and compares the engines'
// hash trees (storage/aae_tree.h) top down over AaeHashRequest: the
// partition's root; if they differ, its groups of 64 segments; then the
// segments of the differing groups. At most
// aae_segments_per_exchange differing segments are then listed with
// AaeKeysRequest, kAaeKeysSegmentsPerRequest at a time (when more differ,
// each exchange of the pair takes the next ones, wrapping around), and compared with
// the local listing key by key (live versions, expired siblings left out;
// listing re-hashes drifted keys on both sides, see AaeLocalTree).
// Each key that differs is repaired by merge, never overwrite: a key live
// here goes to the peer as a ReplicaWrite (the replica write path, which
// merges); a key live there is read with ReplicaGet and merged into the
// local engine. Keys of a namespace whose N does not make both nodes
// primaries, or that this node does not serve, are left alone. States sent
// or merged have their expired siblings dropped first: repair never ships
// or accepts one.
//
// Throttling. Repairs and key lists spend two token buckets, refilled on
// every tick: aae_keys_per_second (keys repaired) and aae_bytes_per_second
// (key-list bytes and repaired value bytes); an exchange out of tokens
// waits for the next tick. An exchange silent or stalled past
// aae_exchange_timeout_ms is abandoned (not clean).
//
// Tombstone purge. An exchange that ends with every differing segment
// listed and every repair acknowledged is clean; its start time (wall ms)
// is recorded per (partition, peer). TombstoneCutoff() returns, per
// partition, the oldest such time over the partition's other primaries (0
// while one has never had a clean exchange): a sweep purges a tombstone
// only if it was written before then (storage/engine.h, TombstoneCutoff).
//
// Status. Per (partition, peer) pair the node keeps what `trolley aae`
// shows (AaePairStatus, wire/messages.h): bounded by the pairs of the ring,
// partitions x (N - 1). The engine's tree counters (rebuilds at open, keys
// read by them, index entries a verify sweep fixed) are copied into the
// counter registry on every tick, so they show with the other counters.
//
// Invariants (CheckInvariants):
//   1. at most one exchange runs; its requests in flight are the ids in
//      repair_gets_ / repair_writes_ plus at most one tree or key request;
//   2. the aae_exchanges_in_flight gauge is 1 while one runs, else 0;
//   3. the token buckets never exceed one second of budget.
// Not thread-safe; the engine's callbacks run on the node's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "node/aae_local_tree.h"
#include "node/failure_detector.h"
#include "node/node_context.h"
#include "storage/engine.h"

namespace trolley {

// Segments listed per AaeKeysRequest.
inline constexpr size_t kAaeKeysSegmentsPerRequest = 64;
// Exchanges that found equal roots (one small request each) may be followed
// at once, on the next tick, by the next pair, up to this many per
// aae_interval_ms: a cycle over every (partition, peer) pair then takes
// about pairs / kAaeEqualRootsPerInterval intervals while the replicas
// agree, instead of one interval per pair.
inline constexpr uint32_t kAaeEqualRootsPerInterval = 16;

class AntiEntropy {
 public:
  AntiEntropy(NodeContext& ctx, FailureDetector& detector, AaeLocalTree& local);

  void OnAaeHashReply(const Endpoint& from, const AaeHashReply& m);
  void OnAaeKeysReply(const Endpoint& from, const AaeKeysReply& m);
  // True if the reply answered one of this module's repairs (consumed).
  bool OnReplicaWriteReply(const Endpoint& from, const ReplicaWriteReply& m);
  bool OnReplicaGetReply(const Endpoint& from, const ReplicaGetReply& m);
  void OnPeerUnreachable(const std::string& node);
  void Tick(uint64_t now);

  // A copy, safe to call from any thread (the engine's sweep runs on its
  // writer thread): see 'Tombstone purge' above.
  TombstoneCutoff TombstoneCutoffSnapshot() const;
  // One entry per pair this node exchanges with, by partition;
  // empty with anti-entropy off.
  std::vector<AaePairStatus> PairStatus() const;
  bool Running() const { return exchange_.has_value(); }
  void CheckInvariants() const;

 private:
  enum class Phase { kRoot, kGroups, kSegments, kKeys, kRepair };
  // One differing key and what each side holds.
  struct Repair {
    ObjectKey key;
    bool push = false;  // live here: send it to the peer
    bool pull = false;  // live there: read it and merge it here
  };
  struct Exchange {
    uint64_t serial = 0;  // tells this exchange's engine callbacks from an earlier one's
    uint64_t id = 0;      // the id of the request in flight (tree or keys); 0 if none
    uint32_t partition = 0;
    std::string peer;
    Phase phase = Phase::kRoot;
    uint64_t started_ms = 0;
    uint64_t deadline_ns = 0;
    std::vector<uint32_t> segments;      // differing segments (within the partition) still to list
    std::vector<uint32_t> listed;        // the segments of the keys request in flight
    std::vector<Repair> repairs;         // still to send
    std::map<uint64_t, ObjectKey> gets;  // ReplicaGets in flight
    std::map<uint64_t, ObjectKey> writes;  // ReplicaWrites and local merges in flight
    uint64_t differing_segments = 0;
    uint64_t keys_repaired = 0;
    bool truncated = false;  // segments left out by aae_segments_per_exchange
    bool failed = false;
  };

  // The pairs this node exchanges with, in turn.
  std::vector<std::pair<uint32_t, std::string>> Pairs() const;
  void StartNext(uint64_t now);
  void SendHashRequest(AaeLevel level, std::vector<uint32_t> groups);
  void SendNextKeysRequest();
  void CompareKeys(const std::vector<AaeKeyEntry>& remote);
  // Whether both this node and the peer replicate `key` (its namespace's N).
  bool BothReplicate(const ObjectKey& key, const std::string& peer) const;
  void Refill(uint64_t now);
  // Adds what the engine's tree counters gained since the last call.
  void CopyTreeStats();
  // Sends repairs while tokens last; finishes when nothing is left.
  void Pump();
  void SendRepair(const Repair& r);
  void RepairDone(bool ok);
  void Finish(bool clean);

  NodeContext& ctx_;
  FailureDetector& detector_;
  AaeLocalTree& local_;
  std::optional<Exchange> exchange_;
  size_t next_pair_ = 0;
  uint32_t equal_roots_in_interval_ = 0;  // since the last scheduled start
  bool start_next_now_ = false;           // the last exchange found equal roots
  uint64_t serial_ = 0;
  uint64_t next_start_ns_ = 0;
  uint64_t last_refill_ns_ = 0;
  double key_tokens_ = 0;
  double byte_tokens_ = 0;
  std::map<std::pair<uint32_t, std::string>, AaePairStatus> status_;
  // Per (partition, peer): where the next truncated segment list starts.
  std::map<std::pair<uint32_t, std::string>, uint32_t> segment_cursor_;
  AaeTreeStats tree_stats_seen_;
};

}  // namespace trolley
