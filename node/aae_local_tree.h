// AaeLocalTree: this node's side of an anti-entropy comparison
// (docs/design.md, 'Active anti-entropy'): the hashes and the live key
// listing of one ring partition, read from the local engine's tree
// (storage/aae_tree.h) at the levels AaeHashRequest and AaeKeysRequest
// define, and the answers to those requests from peers. Level 1 of the
// node core: it calls no other module. AntiEntropy, which runs the
// exchanges, compares a peer's replies with what this returns; this module
// knows nothing of exchanges, schedules or budgets.
//
// Levels. A partition of C segments has groups of AaeGroupSize(C) =
// min(64, C) consecutive segments. kRoot is one hash, the XOR of the
// partition's segments; kGroups one hash per group (the engine's branches
// when a group is a whole branch; else the partition is one group, the
// XOR of its segments); kSegments the segments of the groups asked, group
// after group.
//
// Listing. ListAndRehash returns the keys of the segments asked that are
// live (version != 0). A key whose tree entry drifted from its live
// version (a sibling expired since it was written) is re-hashed by merging
// an empty state into it, so the trees converge instead of repairing the
// same keys forever; the peer does the same when it lists the key.
//
// Requests from a peer whose ring has another partition count are refused
// with kFailedPrecondition; a listing longer than one reply holds is cut
// at kAaeKeysPerReplyMax and answered kLimitExceeded (the asker's exchange
// is then not clean). Reads only, plus the re-hash merges; no state of its
// own. Not thread-safe; the engine's callbacks run on the node's thread.
#pragma once

#include <cstdint>
#include <vector>

#include "node/node_context.h"
#include "storage/engine.h"

namespace trolley {

// Segments per group of a partition of `segments` segments: min(64, C).
uint32_t AaeGroupSize(uint32_t segments);

class AaeLocalTree {
 public:
  explicit AaeLocalTree(NodeContext& ctx) : ctx_(ctx) {}

  // The hashes of `level` for `partition` of the current ring; `groups`
  // (indices within the partition) only for kSegments.
  std::vector<uint64_t> Hashes(uint32_t partition, AaeLevel level,
                               const std::vector<uint32_t>& groups) const;
  // The live keys of `segments` (indices within `partition`), in the
  // engine's order, re-hashing drifted keys; an unreadable segment is left
  // out (it differs again next time).
  std::vector<AaeKeyVersion> ListAndRehash(uint32_t partition,
                                           const std::vector<uint32_t>& segments);
  // log2 of the current ring's partition count.
  uint32_t Log2Partitions() const;

  void OnAaeHashRequest(const Endpoint& from, const AaeHashRequest& m);
  void OnAaeKeysRequest(const Endpoint& from, const AaeKeysRequest& m);

 private:
  // True if a request for a ring of 2^log2_partitions partitions matches
  // this node's ring; else answers it with a `Reply` of kFailedPrecondition.
  template <typename Reply>
  bool SameRingOrRefuse(const Endpoint& from, RequestId id, uint32_t log2_partitions);

  NodeContext& ctx_;
};

}  // namespace trolley
